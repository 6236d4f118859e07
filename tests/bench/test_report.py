"""The report (bench/report.py): matrices with names and values up to 20 classes, tables beyond; recipes, cost, test-set size."""

import json

import numpy as np
import pytest

from visionkit.bench import MAX_MATRIX_CLASSES, ResultStore, load_data, run_experiment, run_key, summarise, write_report


def _records(k, seeds=(0,), methods=(("hog", "classical"), ("cnn", "deep")), old=False):
    """Fake records at k classes: class i is recognised i/k of the time by 'hog', confused with class i+1."""
    names = [f"a-rather-long-class-name-{i:03d}" for i in range(k)]
    recs = []
    for m, fam in methods:
        for seed in seeds:
            cm = np.zeros((k, k), dtype=int)
            for i in range(k):
                right = 10 * (i + 1) // k if m == "hog" else 9
                cm[i, i] = right
                cm[i, (i + 1) % k] = 10 - right
            r = {"key": f"{m}{seed}", "method": m, "family": fam, "data": "fake", "per_class": "all", "seed": seed,
                 "perturbation": None, "n_train": 20 * k, "n_test": 10 * k, "accuracy": 0.5 + 0.1 * seed,
                 "mean_class_accuracy": 0.5 + 0.1 * seed, "macro_f1": 0.5, "confusion_matrix": cm.tolist(),
                 "fit_seconds": 2.0, "predict_seconds": 0.5, "predict_images_per_second": 100.0,
                 "peak_memory_mb": 0.004 if old else 812.0, "classes": names, "env": {},
                 "resolved_params": None if old else {"svm__C": 0.25, "hog__size": [32, 32]}}
            if not old:
                r["memory_increase_mb"] = 12.0
            recs.append(r)
    return recs


def _write(tmp_path, records):
    store = ResultStore(tmp_path)
    for r in records:
        store.add(r)
    md, html = write_report(tmp_path)
    return md.read_text(), html.read_text()


def test_ten_classes_matrices_with_names_no_class_tables(tmp_path):
    md, html = _write(tmp_path, _records(10))
    assert (tmp_path / "plots" / "fake_confusion_matrices.png").is_file()
    assert "Per-class accuracy" not in md and "most confused" not in md
    assert "Test set: 100 test images, 10 classes" in md
    # cost = fit + predict; one seed: no ±; the recipe with every parameter
    assert "| 2 | 0.5 | 2.5 |" in md and "±" not in md.split("**Recipes")[0].split("Notes")[0]
    # report.md escapes markdown in names and recipes (hog\_\_size), report.html shows them as they are
    assert "one seed" in md and r"hog\_\_size=\[32, 32\], svm\_\_C=0.25" in md
    assert "| 812 |" in md  # peak MB


def test_many_classes_tables_worst_first_instead_of_speckle(tmp_path):
    k = 30
    assert k > MAX_MATRIX_CLASSES
    md, _ = _write(tmp_path, _records(k))
    assert not (tmp_path / "plots" / "fake_confusion_matrices.png").exists()
    table = md.split("**Per-class accuracy % on fake (n/class = all), worst first**")[1].split("**")[0]
    rows = [ln.split(" | ") for ln in table.strip().splitlines()[2:]]
    assert len(rows) == k
    # hog recognises class i (i+1)/k of the time: class 0 is the worst; the mean column averages hog and cnn
    assert rows[0][0] == "| a-rather-long-class-name-000" and rows[0][2:5] == ["0.0", "90.0", "45.0 |"]
    assert rows[-1][0] == "| a-rather-long-class-name-029"
    pairs = md.split("most confused pairs")[1].split("**Recipes")[0]
    pair_rows = [ln for ln in pairs.splitlines() if ln.startswith("| hog |")]
    assert len(pair_rows) == 10
    assert pair_rows[0] == "| hog | a-rather-long-class-name-000 | a-rather-long-class-name-001 | 10 | 100.0 |"


def test_two_seeds_show_the_spread_and_old_records_hide_their_memory(tmp_path):
    md, _ = _write(tmp_path, _records(10, seeds=(0, 1)))
    assert "mean ± std over 2 seeds" in md and "55.0 ± 7.1" in md
    s = summarise(_records(10, old=True))[("fake", "hog", "all")]
    assert np.isnan(s["peak_memory_mb"][0])  # the old increase-only figure (0.004 MB) is not shown as a peak
    md, _ = _write(tmp_path / "old", _records(10, old=True))
    assert "not recorded" in md and "0.004" not in md


def test_run_records_resolved_recipe_and_keeps_the_key(tmp_path):
    split = load_data("digits")
    store = run_experiment(split, ["hog-svm", "lenet"], out=str(tmp_path), per_class=[5], seeds=[0], progress=False,
                           log=lambda *a: None, method_params={"lenet": {"epochs": 1, "min_steps": 10}})
    hog, lenet = store.records
    assert hog["params"] == {} and hog["resolved_params"]["svm__C"] == 1.0
    assert hog["resolved_params"]["hog__pixels_per_cell"] == [4, 4]
    # the key is what it was before resolved_params existed: old results are still found
    assert hog["key"] == run_key(method="hog-svm", params={}, data="digits", per_class=5, seed=0, perturbation=None)
    assert lenet["resolved_params"]["model"] == "lenet5"
    assert lenet["resolved_params"]["train_config"]["optimizer"] == "adamw"  # the recipe, not None
    assert lenet["resolved_params"]["train_config"]["epochs"] >= 1
    # LeNet's peak is the resident memory of the process (torch included), not a difference near zero
    assert lenet["peak_memory_mb"] > 100 and lenet["memory_increase_mb"] >= 0
    json.dumps(store.records)


@pytest.mark.parametrize("k", [12, 20])
def test_long_class_names_are_not_truncated_in_the_matrix(tmp_path, k, monkeypatch):
    import matplotlib.axes

    seen = []
    real = matplotlib.axes.Axes.set_xticks

    def spy(self, ticks, labels=None, **kw):
        if labels is not None:
            seen.append(list(labels))
        return real(self, ticks, labels, **kw)

    monkeypatch.setattr(matplotlib.axes.Axes, "set_xticks", spy)
    _write(tmp_path, _records(k))
    assert [f"a-rather-long-class-name-{i:03d}" for i in range(k)] in seen


def test_report_names_the_three_families(tmp_path):
    from visionkit.bench import write_report
    from visionkit.bench.store import ResultStore

    store = ResultStore(tmp_path)
    for i, (m, fam, acc) in enumerate([("hog", "classical", 0.5), ("cnn", "deep", 0.4), ("pfs", "transfer", 0.9)]):
        for n in (5, 30):
            store.add({"key": f"{i}-{n}", "method": m, "family": fam, "data": "d", "per_class": n, "seed": 0, "params": {},
                       "perturbation": None, "n_train": 2 * n, "n_test": 4, "accuracy": acc, "mean_class_accuracy": acc,
                       "macro_f1": acc, "fit_seconds": 1.0 + i, "predict_seconds": 0.1, "predict_images_per_second": 40.0,
                       "peak_memory_mb": 1.0, "confusion_matrix": [[2, 0], [0, 2]], "classes": ["a", "b"],
                       "pretrained": "imagenet-1k" if fam == "transfer" else None, "env": {}})
    md, html = write_report(tmp_path)
    text = md.read_text()
    for label in ("handcrafted", "learned from this data", "transferred from ImageNet"):
        assert label in text, label
    assert "transferred features lead handcrafted ones at every size" in text


def test_report_md_escapes_names_from_folders_and_classes(tmp_path, test_methods):
    """Folder (data) and class names are text in report.md, as they are in report.html: no tags, no extra cells."""
    from visionkit.bench.specs import DataSplit
    from visionkit.data import Dataset, load_digits

    d = load_digits()
    keep = np.flatnonzero(d.labels < 3)[:150]
    classes = ["<script>alert(1)</script>", "a|b", "*c*_$x$"]
    ds = Dataset(d.images[keep], d.labels[keep], classes)
    name = "<img src=x onerror=alert(1)>|[link](http://evil)"
    split = DataSplit(name, ds.subset(np.arange(0, 150, 2)), ds.subset(np.arange(1, 150, 2)))
    out = tmp_path / "run"
    run_experiment(split, ["test-centroid"], out=str(out), per_class=[5, "all"], progress=False, log=lambda *a: None)
    md, page = write_report(out)
    text = md.read_text()
    import re

    assert "<script" not in text and "<img" not in text and not re.search(r"(?<!\\)\]\(http", text)
    assert "&lt;img src=x onerror=alert(1)&gt;\\|\\[link\\](http://evil)" in text
    tables, block = [], []
    for line in text.splitlines() + [""]:
        if line.startswith("|"):
            block.append(len(line.replace("\\|", "").split("|")))  # cells, escaped pipes not counted
        elif block:
            tables.append(block)
            block = []
    assert tables and all(len(set(t)) == 1 for t in tables), tables  # every row as many cells as its header
    assert "<script" not in page.read_text()


def test_misclassified_examples_known_answer():
    from visionkit.bench.runner import misclassified_examples

    labels = np.array([0, 1, 2, 1, 0])
    pred = np.array([0, 2, 2, 0, 0])
    ex = misclassified_examples(labels, pred, ["cat", "dog", "frog"], random_state=0)
    assert ex == [{"index": 1, "true": "dog", "pred": "frog"}, {"index": 3, "true": "dog", "pred": "cat"}]
    assert misclassified_examples(labels, labels, ["cat", "dog", "frog"], random_state=0) == []
    many = misclassified_examples(np.zeros(50, int), np.ones(50, int), ["a", "b"], random_state=3, n=6)
    assert len(many) == 6 and many == misclassified_examples(np.zeros(50, int), np.ones(50, int), ["a", "b"], random_state=3)
    assert [e["index"] for e in many] == sorted(e["index"] for e in many)


def test_report_shows_misclassified_test_images_with_names(tmp_path, test_methods):
    split = load_data("digits")
    run_experiment(split, test_methods, out=str(tmp_path), per_class=[5], seeds=[0], progress=False, log=lambda *a: None)
    records = ResultStore(tmp_path).records
    for r in records:
        assert 1 <= len(r["misclassified"]) <= 6
        for ex in r["misclassified"]:
            assert ex["true"] in split.classes and ex["pred"] in split.classes and ex["true"] != ex["pred"]
            assert split.test.labels[ex["index"]] == split.classes.index(ex["true"])
            assert (tmp_path / "examples" / f"{r['key']}-{ex['index']}.png").is_file()
    md, html = write_report(tmp_path)
    assert (tmp_path / "plots" / "digits_misclassified.png").is_file()
    assert "digits_misclassified.png" in md.read_text() and 'alt="misclassified"' in html.read_text()
