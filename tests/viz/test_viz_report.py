"""The benchmark report's figures (viz/report.py)."""

import numpy as np
from matplotlib.figure import Figure

from visionkit.bench import summarise
from visionkit.viz import report_figures


def _record(method, family, n, seed, k=12):
    cm = np.eye(k, dtype=int) * 5 + 1
    return {"data": "d", "method": method, "family": family, "per_class": n, "seed": seed, "n_train": 10 * k, "n_test": int(cm.sum()),
            "accuracy": 0.5, "mean_class_accuracy": 0.5 + 0.1 * seed, "macro_f1": 0.5, "fit_seconds": 1.0, "predict_seconds": 0.5,
            "predict_images_per_second": 100.0, "confusion_matrix": cm.tolist(), "classes": [f"c{i}" for i in range(k)],
            "perturbation": None}


def test_report_figures_by_what_the_results_hold():
    recs = [_record(m, f, n, s) for m, f in (("hog", "classical"), ("cnn", "deep")) for n in (5, 10) for s in (0, 1)]
    figs = report_figures(summarise(recs), recs, "d")
    assert list(figs) == ["accuracy_vs_cost", "data_efficiency", "confusion_matrices"]
    assert all(isinstance(f, Figure) for f in figs.values())
    one_size = [r for r in recs if r["per_class"] == 10]
    noisy = one_size + [{**r, "perturbation": {"kind": "noise", "strength": 0.1}} for r in one_size]
    assert list(report_figures(summarise(noisy), noisy, "d", max_matrix_classes=10)) == ["accuracy_vs_cost", "robustness"]


def test_label_offsets_separate_close_points():
    from visionkit.viz.report import _label_offsets

    # two methods at the same cost and accuracy, one far away
    off = _label_offsets([158.0, 159.0, 8.0], [0.538, 0.540, 0.29])
    assert off[1] == 0.0 and off[0] == -10.0 and off[2] == 0.0
    assert _label_offsets([], []) == []
    assert _label_offsets([1.0, 1.0, 1.0], [0.5, 0.5, 0.5]) == [0.0, -10.0, -20.0]
