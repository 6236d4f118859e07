"""The statistics (bench/summary.py): the crossover, spreads over seeds, per-class accuracy, the comparison as text."""

import numpy as np
import pytest

from visionkit.bench import crossover, most_confused, per_class_accuracy, summarise


def _summary(rows):
    return {("d", m, n): {"family": fam, "mean_class_accuracy": (acc, 0.0)} for m, fam, n, acc in rows}


def test_crossover_known_answers():
    from visionkit.bench.summary import _crossover_note

    # deep behind at 5, ahead from 15 on
    s = _summary([("hog", "classical", 5, 0.5), ("hog", "classical", 15, 0.6), ("hog", "classical", 30, 0.65),
                  ("cnn", "deep", 5, 0.3), ("cnn", "deep", 15, 0.62), ("cnn", "deep", 30, 0.8)])
    n, best = crossover(s, "d")
    assert n == 15 and best["deep"][30] == 0.8
    assert _crossover_note(n, best) == "deep overtakes classical from n/class = 15"
    # classical ahead everywhere (Caltech-101 from scratch)
    s = _summary([("hog", "classical", 5, 0.5), ("hog", "classical", 30, 0.7), ("cnn", "deep", 5, 0.1), ("cnn", "deep", 30, 0.2)])
    n, best = crossover(s, "d")
    assert n is None and _crossover_note(n, best) == "deep never overtakes classical: classical leads at every size measured, n/class = 5, 30"
    # deep ahead at 5 only: no crossover
    s = _summary([("hog", "classical", 5, 0.2), ("hog", "classical", 30, 0.7), ("cnn", "deep", 5, 0.3), ("cnn", "deep", 30, 0.6)])
    n, best = crossover(s, "d")
    assert n is None and _crossover_note(n, best) == "deep leads at n/class = 5 only, not at every larger size"
    # one family only
    n, best = crossover(_summary([("hog", "classical", 5, 0.5)]), "d")
    assert n is None and _crossover_note(n, best) == "one family only: no crossover to report"


def test_crossover_with_the_transfer_family():
    from visionkit.bench.summary import _crossover_note

    # Caltech-101 as measured: bag of words ahead of the from-scratch CNN, transfer ahead of both
    s = _summary([("bovw", "classical", 5, 0.45), ("bovw", "classical", 30, 0.66), ("cnn", "deep", 5, 0.1), ("cnn", "deep", 30, 0.14),
                  ("pfs", "transfer", 5, 0.87), ("pfs", "transfer", 30, 0.92)])
    n, best = crossover(s, "d")
    assert n is None and best["transfer"][30] == 0.92
    assert _crossover_note(n, best) == ("deep never overtakes classical: classical leads at every size measured, n/class = 5, 30; "
                                        "transferred features lead handcrafted ones at every size")
    s = _summary([("km", "classical", 10, 0.33), ("km", "classical", 500, 0.62), ("pfs", "transfer", 10, 0.5),
                  ("pfs", "transfer", 500, 0.6)])
    n, best = crossover(s, "d")
    assert _crossover_note(n, best) == "one family only: no crossover to report; transferred features lead handcrafted ones at n/class = 10"


def test_summary_spread_is_the_sample_std_over_seeds():
    recs = [{"method": "m", "family": "classical", "data": "d", "per_class": 5, "seed": s, "accuracy": a,
             "mean_class_accuracy": a, "perturbation": None, "n_train": 50, "confusion_matrix": [[1]]} for s, a in [(0, 0.5), (1, 0.6), (2, 0.7)]]
    s = summarise(recs)[("d", "m", 5)]
    assert s["accuracy"][0] == pytest.approx(0.6) and s["accuracy"][1] == pytest.approx(0.1)
    one = summarise(recs[:1])[("d", "m", 5)]
    assert one["accuracy"][0] == 0.5 and np.isnan(one["accuracy"][1])


def _rec(method, family, n, seed, acc, n_train=10):
    return {"method": method, "family": family, "data": "d", "per_class": n, "seed": seed, "accuracy": acc,
            "mean_class_accuracy": acc, "perturbation": None, "n_train": n_train, "n_test": 1234, "confusion_matrix": [[1]]}


def test_comparison_text_rows_in_the_asked_order_and_words():
    from visionkit.bench import comparison_text

    recs = [_rec("hog", "classical", n, 0, a) for n, a in [(5, 0.5), (20, 0.6), ("all", 0.7)]]
    recs += [_rec("cnn", "deep", n, 0, a) for n, a in [(5, 0.3), (20, 0.4), ("all", 0.6)]]
    recs += [_rec("old", "deep", 5, 0, 0.9)]  # an earlier run in the same store: left out
    text = comparison_text(recs, methods=["hog", "cnn"], per_class=[20, 5, "all"])
    lines = text.splitlines()
    assert lines[0] == "d: mean per-class accuracy % on 1,234 test images, one seed"
    assert lines[1].split() == ["n/class", "n_train", "hog", "cnn"]
    assert [ln.split()[0] for ln in lines[3:6]] == ["20", "5", "all"]  # the order asked for
    assert lines[3].split()[-2:] == ["60.0", "40.0"]
    assert "old" not in text and "never" in lines[6] and "from n/class" not in text
    assert lines[6] == "deep never overtakes classical: classical leads at every size measured, n/class = 5, 20, all."
    assert "±" not in text


def test_comparison_text_spread_only_with_two_seeds_and_crossover():
    from visionkit.bench import comparison_text

    recs = [_rec("hog", "classical", n, s, a) for n, a in [(5, 0.5), (30, 0.6)] for s in (0, 1)]
    recs += [_rec("cnn", "deep", 5, s, a) for s, a in [(0, 0.3), (1, 0.5)]] + [_rec("cnn", "deep", 30, s, 0.8) for s in (0, 1)]
    text = comparison_text(recs)
    assert "mean ± std over 2 seeds" in text
    assert "40.0 ± 14.1" in text  # cnn at 5: mean 0.4, sample std 0.141
    assert text.splitlines()[-1] == "deep overtakes classical from n/class = 30."
    assert comparison_text([]) == ""


def test_per_class_accuracy_and_most_confused_known_answers():
    cm = np.array([[8, 2, 0], [0, 5, 5], [0, 0, 0]])
    acc = per_class_accuracy(cm)
    assert acc[:2].tolist() == [0.8, 0.5] and np.isnan(acc[2])
    assert most_confused(cm) == [(1, 2, 5, 0.5), (0, 1, 2, 0.2)]
    assert most_confused(cm, n=1) == [(1, 2, 5, 0.5)]
    assert most_confused(np.eye(3, dtype=int)) == []
