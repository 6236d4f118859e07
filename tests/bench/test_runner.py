"""The runner (bench/runner.py), end to end and through `visionkit compare`: seeded subsets, resume, checks
before any work, long folder names."""

import json

import numpy as np
import pytest
from PIL import Image

from visionkit import VisionkitError, registry
from visionkit.bench import crossover, load_data, run_experiment, sample_per_class, summarise, write_report
from visionkit.cli import main

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


# ------------------------------------------------------------------ run_experiment from Python: checked before any work


@pytest.mark.parametrize("method_params, message", [
    ({"no-such-method": {}}, "unknown method 'no-such-method'.*hog-svm"),
    ({"hog-svm": {"sise": (32, 32)}}, r"method 'hog-svm': unknown parameter 'sise'; expected some of: C, cells_per_block.*Did you mean size"),
    ({"lenet": {"epoch": 3}}, r"method 'lenet': unknown parameter 'epoch'; expected some of: .*epochs"),
    ({"lenet": {"random_state": 3}}, "random_state is set from the seeds"),
    ({"lenet": [("epochs", 3)]}, r"expected a dict \{method: \{param: value\}\}"),
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


def test_streamed_folder_gives_the_in_memory_records(tmp_path):
    """hog-svm and pixels-svm on a folder decoded on demand: the same predictions, to the last digit, as in memory."""
    from visionkit.bench.runner import RunTask, run_one

    from tests.conftest import shaded_folder

    shaded_folder(tmp_path / "f", {"train": 12, "test": 5}, side=32, std=40, quality=80)
    eager = load_data(str(tmp_path / "f"))
    lazy = load_data(str(tmp_path / "f"), stream=True)
    for method in ("hog-svm", "pixels-svm"):
        base = {"method": method, "params": {}, "data": "f", "per_class": 8, "seed": 3}
        task = RunTask(base=base, create_params={}, keys=["k"], evals=[None])
        a, b = run_one(task, eager)[0], run_one(task, lazy)[0]
        assert (a["streamed"], b["streamed"]) == (False, True)
        for field in ("accuracy", "macro_f1", "confusion_matrix", "misclassified", "n_train", "feature_dim", "resolved_params"):
            assert a[field] == b[field], field


def test_cli_compare_stream(tmp_path, capsys):
    """``visionkit compare --stream``: the folder's images decoded on demand, the records say so; arrays are refused."""
    rng = np.random.default_rng(1)
    for split, n in (("train", 6), ("test", 3)):
        for c, shade in (("dark", 50), ("light", 200)):
            (tmp_path / "f" / split / c).mkdir(parents=True)
            for i in range(n):
                Image.fromarray(np.clip(rng.normal(shade, 30, (16, 16, 3)), 0, 255).astype(np.uint8)).save(
                    tmp_path / "f" / split / c / f"{i}.jpg")
    out = tmp_path / "out"
    assert main(["compare", "--data", str(tmp_path / "f"), "--stream", "--methods", "pixels-svm", "--per-class", "all",
                 "--out", str(out)]) == 0
    assert "12 train / 6 test images, 2 classes, streamed from disk" in capsys.readouterr().out
    rec = json.loads((out / "results.jsonl").read_text().splitlines()[0])
    assert rec["streamed"] is True and rec["accuracy"] == 1.0
    assert main(["compare", "--data", "digits", "--stream", "--methods", "pixels-svm", "--out", str(out)]) == 2
    assert "stream: expected a data set of image files" in capsys.readouterr().err
