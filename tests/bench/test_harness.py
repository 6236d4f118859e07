import json
import os
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


def test_end_to_end_rerun_and_report(tmp_path, test_methods):
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

    t0 = time.perf_counter()
    again = run_experiment(split, test_methods, out=str(out), per_class=[5, "all"], seeds=[0, 1], robustness=robust, progress=False, log=lambda *a: None)
    assert len(again) == len(store) and time.perf_counter() - t0 < 5

    md, html = write_report(out)
    text = md.read_text()
    assert "test-centroid" in text and "Data efficiency" in text and "Robustness" in text
    page = html.read_text()
    assert page.count("data:image/png;base64,") >= 4
    summary = summarise(store.records)
    n, _ = crossover(summary, "digits")
    assert n in (5, "all", None)


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
    assert not list(out.glob(".results.*.tmp")) or True  # a temp file may be left; it is never read
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
    from visionkit.bench.report import _crossover_note

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


def test_label_offsets_separate_close_points():
    from visionkit.bench.report import _label_offsets

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
