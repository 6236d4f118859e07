import json
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from visionkit import VisionkitError, registry
from visionkit.bench import (
    ResultStore,
    crossover,
    load_data,
    perturb,
    run_experiment,
    sample_per_class,
    summarise,
    write_report,
)
from visionkit.cli import main

ROOT = Path(__file__).resolve().parents[2]


def test_registry_errors(test_methods):
    with pytest.raises(VisionkitError, match="already registered"):
        registry.register("test-centroid", lambda: None, family="classical")
    with pytest.raises(VisionkitError, match="test-centroid"):
        registry.create("no-such-method")
    with pytest.raises(VisionkitError, match="family"):
        registry.register("x-y", lambda: None, family="quantum")
    assert "test-centroid" in registry.list_methods("classical")
    assert "test-mlp" in registry.list_methods("deep") and "test-mlp" not in registry.list_methods("classical")


def test_sample_per_class_is_seeded_and_shared():
    labels = np.repeat(np.arange(4), [10, 3, 8, 20])
    a = sample_per_class(labels, 5, random_state=1)
    assert np.array_equal(a, sample_per_class(labels, 5, random_state=1))
    assert not np.array_equal(a, sample_per_class(labels, 5, random_state=2))
    assert np.bincount(labels[a]).tolist() == [5, 3, 5, 5]
    assert len(sample_per_class(labels, "all", random_state=0)) == len(labels)
    with pytest.raises(VisionkitError, match="per_class"):
        sample_per_class(labels, 0, random_state=0)


def test_end_to_end_rerun_and_report(tmp_path, test_methods, monkeypatch):
    split = load_data("digits")
    robust = {"noise": [0.1], "rotation": [20]}
    out = tmp_path / "run"
    store = run_experiment(split, test_methods, out=str(out), per_class=[5, "all"], seeds=[0, 1], robustness=robust, progress=False, log=lambda *a: None)
    assert len(store) == 2 * 2 * 2 * 3  # methods x sizes x seeds x (clean + 2 perturbations)
    lines = (out / "results.jsonl").read_text().splitlines()
    assert len(lines) == len(store)
    rec = json.loads(lines[0])
    for field in ("method", "family", "data", "seed", "n_train", "n_test", "accuracy", "mean_class_accuracy",
                  "macro_f1", "confusion_matrix", "fit_seconds", "predict_images_per_second", "peak_memory_mb", "env", "key"):
        assert field in rec
    clean = [r for r in store.records if r["perturbation"] is None and r["per_class"] == "all"]
    assert all(r["accuracy"] > 0.85 for r in clean)
    assert {r["n_train"] for r in store.records if r["per_class"] == 5} == {50}
    assert len({r["key"] for r in store.records}) == len(store)
    # the same subsets for every method
    assert all("feature_dim" in r for r in clean)

    # a rerun finds every run finished: nothing is built or fitted again
    built = []
    real_create = registry.create
    monkeypatch.setattr(registry, "create", lambda *a, **k: built.append(a) or real_create(*a, **k))
    again = run_experiment(split, test_methods, out=str(out), per_class=[5, "all"], seeds=[0, 1], robustness=robust, progress=False, log=lambda *a: None)
    assert len(again) == len(store) and built == []

    md, html = write_report(out)
    text = md.read_text()
    assert "test-centroid" in text and "Data efficiency" in text and "Robustness" in text
    page = html.read_text()
    assert page.count("data:image/png;base64,") >= 4
    summary = summarise(store.records)
    n, best = crossover(summary, "digits")
    # the crossover is the first size from which deep leads at every larger size (None: there is none)
    deep_leads = [best["deep"][k] > best["classical"][k] for k in (5, "all")]
    expected = next((k for i, k in enumerate((5, "all")) if all(deep_leads[i:])), None)
    assert n == expected


def test_perturbations_change_images_and_are_seeded():
    imgs = np.random.default_rng(0).integers(0, 256, (4, 16, 16, 3), dtype=np.uint8)
    for kind, s in [("noise", 0.1), ("blur", 1.0), ("rotation", 30), ("brightness", 0.2), ("contrast", 0.5), ("jpeg", 10)]:
        out = perturb(imgs, kind, s, random_state=0)
        assert out.shape == imgs.shape and out.dtype == np.uint8 and not np.array_equal(out, imgs)
        assert np.array_equal(out, perturb(imgs, kind, s, random_state=0))
    with pytest.raises(VisionkitError, match="expected one of"):
        perturb(imgs, "fog", 1.0)


_KILL_SCRIPT = textwrap.dedent(
    """
    import sys, time
    sys.path.insert(0, {root!r}); sys.path.insert(0, {tests!r})
    from conftest import _register_test_methods, _Flatten
    from visionkit import registry
    from visionkit.bench import load_data, run_experiment
    _register_test_methods()
    class Slow(_Flatten):
        def fit(self, images, labels):
            time.sleep(0.3)
            return super().fit(images, labels)
    from sklearn.neighbors import NearestCentroid
    registry.register("test-slow", lambda **p: Slow(NearestCentroid()), family="classical")
    run_experiment(load_data("digits"), ["test-slow"], out={out!r}, per_class=[2, 3, 4, 5, 6, 7, 8, 9, 10, 11], seeds=[0], progress=False)
    """
)


def test_sigkill_loses_nothing_finished(tmp_path):
    out = tmp_path / "killed"
    script = tmp_path / "run.py"
    script.write_text(_KILL_SCRIPT.format(root=str(ROOT), tests=str(ROOT / "tests" / "bench"), out=str(out)))
    proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    results = out / "results.jsonl"
    deadline = time.time() + 60
    while time.time() < deadline:
        if results.is_file() and len(results.read_text().splitlines()) >= 3:
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    lines = results.read_text().splitlines()
    assert 3 <= len(lines) < 10
    parsed = [json.loads(line) for line in lines]  # no partial line
    assert not list(out.glob("*.tmp"))  # appends only: no temporary files
    done = {r["per_class"] for r in parsed}
    # rerun: finishes the rest, keeps the finished ones, no duplicate
    subprocess.run([sys.executable, str(script)], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=120)
    final = ResultStore(out).records
    assert len(final) == 10 and len({r["key"] for r in final}) == 10
    assert done <= {r["per_class"] for r in final}
    kept = {r["key"]: r["finished_at"] for r in parsed}
    assert all(kept[r["key"]] == r["finished_at"] for r in final if r["key"] in kept)


def _folder(root: Path, layout: dict):
    for split, classes in layout.items():
        for cls, n in classes.items():
            d = root / split / cls if split else root / cls
            d.mkdir(parents=True, exist_ok=True)
            for i in range(n):
                Image.fromarray(np.full((8, 8, 3), 20 * i, np.uint8)).save(d / f"{i}.png")


def test_bad_data_folders(tmp_path):
    _folder(tmp_path / "ok", {"train": {"a": 3, "b": 3}, "test": {"a": 2, "b": 2}})
    split = load_data(str(tmp_path / "ok"))
    assert len(split.train) == 6 and split.classes == ["a", "b"]

    _folder(tmp_path / "missing", {"train": {"a": 3, "b": 3}, "test": {"a": 2}})
    with pytest.raises(VisionkitError, match="only in train/: \\['b'\\]"):
        load_data(str(tmp_path / "missing"))

    _folder(tmp_path / "empty", {"train": {"a": 3}, "test": {"a": 2}})
    (tmp_path / "empty" / "train" / "b").mkdir()
    with pytest.raises(VisionkitError, match="no image files"):
        load_data(str(tmp_path / "empty"))

    (tmp_path / "noimg" / "a").mkdir(parents=True)
    (tmp_path / "noimg" / "a" / "notes.txt").write_text("x")
    with pytest.raises(VisionkitError, match="no image files"):
        load_data(str(tmp_path / "noimg"))

    (tmp_path / "nothing").mkdir()
    with pytest.raises(VisionkitError, match="found none"):
        load_data(str(tmp_path / "nothing"))

    with pytest.raises(VisionkitError, match="known name"):
        load_data(str(tmp_path / "does-not-exist"))

    _folder(tmp_path / "flat", {"": {"a": 5, "b": 5}})
    (tmp_path / "flat" / "a" / "broken.png").write_bytes(b"\x89PNG not really")
    with pytest.warns(UserWarning, match="broken.png"):
        split = load_data(str(tmp_path / "flat"))
    assert len(split.train) + len(split.test) == 10
    assert np.bincount(split.test.labels).tolist() == [2, 1] or np.bincount(split.test.labels).min() >= 1


def test_offline_specs_say_what_is_missing(tmp_path):
    with pytest.raises(VisionkitError, match="--download"):
        load_data(f"fashion-mnist:{tmp_path}")
    with pytest.raises(VisionkitError, match="cifar-10-batches-py"):
        load_data(f"cifar10:{tmp_path}")


def test_cli_compare_and_errors(tmp_path, capsys, test_methods):
    out = tmp_path / "cli"
    rc = main(["compare", "--methods", "test-centroid,test-mlp", "--per-class", "3,all", "--seeds", "0", "--out", str(out)])
    assert rc == 0
    assert (out / "report.html").is_file() and (out / "results.jsonl").is_file()
    printed = capsys.readouterr().out
    assert "mean per-class accuracy % on 540 test images" in printed and "test-centroid" in printed
    assert f"Report: {out / 'report.html'}" in printed
    assert main(["compare", "--methods", "nope", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "unknown method 'nope'" in err and "test-centroid" in err
    assert main(["compare", "--per-class", "0", "--methods", "test-centroid", "--out", str(out)]) == 2
    assert main(["methods"]) == 0


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


def test_label_offsets_separate_close_points():
    from visionkit.viz.report import _label_offsets

    # two methods at the same cost and accuracy, one far away
    off = _label_offsets([158.0, 159.0, 8.0], [0.538, 0.540, 0.29])
    assert off[1] == 0.0 and off[0] == -10.0 and off[2] == 0.0
    assert _label_offsets([], []) == []
    assert _label_offsets([1.0, 1.0, 1.0], [0.5, 0.5, 0.5]) == [0.0, -10.0, -20.0]


def test_summary_spread_is_the_sample_std_over_seeds():
    recs = [{"method": "m", "family": "classical", "data": "d", "per_class": 5, "seed": s, "accuracy": a,
             "mean_class_accuracy": a, "perturbation": None, "n_train": 50, "confusion_matrix": [[1]]} for s, a in [(0, 0.5), (1, 0.6), (2, 0.7)]]
    s = summarise(recs)[("d", "m", 5)]
    assert s["accuracy"][0] == pytest.approx(0.6) and s["accuracy"][1] == pytest.approx(0.1)
    one = summarise(recs[:1])[("d", "m", 5)]
    assert one["accuracy"][0] == 0.5 and np.isnan(one["accuracy"][1])


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


# ------------------------------------------------------------------ run_experiment from Python: checked before any work


@pytest.mark.parametrize("method_params, message", [
    ({"no-such-method": {}}, "unknown method 'no-such-method'.*hog-svm"),
    ({"hog-svm": {"sise": (32, 32)}}, r"method_params\['hog-svm'\]: unknown parameter\(s\) 'sise'; hog-svm accepts: C, cells_per_block"),
    ({"lenet": {"epoch": 3}}, r"method_params\['lenet'\]: unknown parameter\(s\) 'epoch'; lenet accepts: .*epochs"),
    ({"lenet": {"random_state": 3}}, "random_state is set from the seeds"),
    ({"lenet": [("epochs", 3)]}, "expected a dict of parameter names"),
    ([("lenet", {})], "expected a dict"),
])
def test_method_params_are_checked_before_any_work(tmp_path, test_methods, method_params, message):
    out = tmp_path / "run"
    with pytest.raises(VisionkitError, match=message):
        run_experiment(load_data("digits"), ["test-centroid", "lenet"], out=str(out), method_params=method_params,
                       progress=False, log=lambda *a: None)
    assert not (out / "results.jsonl").exists()


@pytest.mark.parametrize("seeds", [[-1], [2**32], [1e23], [True], ["0"], [0, 1.5]])
def test_seeds_are_checked_before_any_work(tmp_path, test_methods, seeds):
    with pytest.raises(VisionkitError, match=r"seeds: expected integers from 0 to 4294967295"):
        run_experiment(load_data("digits"), ["test-centroid"], out=str(tmp_path / "run"), seeds=seeds, progress=False)
    assert not (tmp_path / "run" / "results.jsonl").exists()


def test_a_240_character_folder_name_works(tmp_path, test_methods, monkeypatch, capsys):
    monkeypatch.setenv("VISIONKIT_CACHE", str(tmp_path / "cache"))
    root = tmp_path / ("d" * 240)
    for c in ("c" * 240, "e" * 240):
        (root / c).mkdir(parents=True)
        for i in range(6):
            Image.fromarray(np.full((8, 8, 3), 30 * i + (c[0] == "e") * 7, np.uint8)).save(root / c / f"{'i' * 240}{i}.png")
    assert main(["compare", "--data", str(root), "--methods", "test-centroid", "--per-class", "all",
                 "--out", str(tmp_path / "out")]) == 0
    assert "d" * 240 in (tmp_path / "out" / "report.md").read_text()
    assert all(len(f.name) < 100 for f in (tmp_path / "out" / "plots").iterdir())


# ------------------------------------------------------------------ cifar10:ROOT python batches, read without running code


def _cifar_root(tmp_path, n=4, *, batch=None, meta=None):
    import pickle

    base = tmp_path / "cifar-10-batches-py"
    base.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    names = ["data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4", "data_batch_5", "test_batch"]
    for i, name in enumerate(names):
        content = {b"batch_label": b"x", b"labels": [int(v) for v in rng.integers(0, 10, n)],
                   b"data": rng.integers(0, 256, (n, 3072)).astype(np.uint8), b"filenames": [b"f.png"] * n}
        (base / name).write_bytes(pickle.dumps(content, protocol=2) if batch is None or i else batch(content))
    meta_obj = {b"label_names": [b"airplane", b"automobile", b"bird", b"cat", b"deer", b"dog", b"frog", b"horse", b"ship", b"truck"],
                b"num_vis": 3072}
    (base / "batches.meta").write_bytes(meta(meta_obj) if meta else pickle.dumps(meta_obj, protocol=2))
    return tmp_path


def test_cifar_batches_load(tmp_path):
    import pickle

    split = load_data(f"cifar10:{_cifar_root(tmp_path)}")
    assert split.train.images.shape == (20, 32, 32, 3) and split.test.images.shape == (4, 32, 32, 3)
    assert split.classes[0] == "airplane" and split.train.labels.dtype == np.int64
    raw = pickle.loads((tmp_path / "cifar-10-batches-py" / "test_batch").read_bytes())
    np.testing.assert_array_equal(split.test.images[1, :, :, 0].ravel(), raw[b"data"][1, :1024])  # channel planes -> HWC
    # protocol 5 (numpy's _frombuffer) and the module name numpy 1 wrote also load
    _cifar_root(tmp_path / "p5", batch=lambda c: pickle.dumps(c, protocol=5))
    assert len(load_data(f"cifar10:{tmp_path / 'p5'}").train) == 20
    _cifar_root(tmp_path / "np1", batch=lambda c: pickle.dumps(c, protocol=2).replace(b"numpy._core.multiarray", b"numpy.core.multiarray"))
    assert len(load_data(f"cifar10:{tmp_path / 'np1'}").train) == 20


class _Boom:
    def __reduce__(self):
        import os

        return (os.system, ("touch PWNED",))


def _tamper(kind):
    import pickle

    def wrong_shape(c):
        return pickle.dumps({**c, b"data": c[b"data"][:, :100]}, protocol=2)

    def labels_out_of_range(c):
        return pickle.dumps({**c, b"labels": [10] * len(c[b"labels"])}, protocol=2)

    def short_labels(c):
        return pickle.dumps({**c, b"labels": c[b"labels"][:-1]}, protocol=2)

    def float_data(c):
        return pickle.dumps({**c, b"data": c[b"data"].astype(np.float64)}, protocol=2)

    def code(c):
        return pickle.dumps({**c, b"x": _Boom()}, protocol=2)

    def not_a_dict(c):
        return pickle.dumps([1, 2, 3], protocol=2)

    def truncated(c):
        return pickle.dumps(c, protocol=2)[:1000]

    def junk(c):
        return b"\x00" * 100

    return {f.__name__: f for f in (wrong_shape, labels_out_of_range, short_labels, float_data, code, not_a_dict, truncated, junk)}[kind]


@pytest.mark.parametrize("kind, message", [
    ("wrong_shape", r"expected 'data' a uint8 array \(N, 3072\)"), ("labels_out_of_range", r"integers in 0..9"),
    ("short_labels", "a list of 4 integers"), ("float_data", "uint8"), ("code", "refusing the global posix.system"),
    ("not_a_dict", "expected 'data'"), ("truncated", "not a CIFAR-10 python batch"), ("junk", "not a CIFAR-10 python batch"),
])
def test_tampered_cifar_batches_are_one_line(tmp_path, monkeypatch, kind, message):
    monkeypatch.chdir(tmp_path)
    root = _cifar_root(tmp_path / "root", batch=_tamper(kind))
    with pytest.raises(VisionkitError, match=message) as info:
        load_data(f"cifar10:{root}")
    assert "\n" not in str(info.value) and not (tmp_path / "PWNED").exists()
    assert main(["compare", "--data", f"cifar10:{root}", "--methods", "pixels-svm", "--out", str(tmp_path / "out")]) == 2


def test_cifar_meta_with_code_is_refused(tmp_path, monkeypatch):
    import pickle

    monkeypatch.chdir(tmp_path)
    root = _cifar_root(tmp_path / "root", meta=lambda m: pickle.dumps({**m, b"x": _Boom()}, protocol=2))
    with pytest.raises(VisionkitError, match="refusing the global"):
        load_data(f"cifar10:{root}")
    assert not (tmp_path / "PWNED").exists()


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
