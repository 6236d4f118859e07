"""The ``visionkit`` command: bare call, --version, methods, and the compare knobs."""

import json

import pytest
import torch

from visionkit import __version__, registry
from visionkit.cli import main


class _Recorder:
    """A method recording what it was built with and how many torch threads it saw."""

    seen: list = []

    def __init__(self, device="auto", random_state=0, scale=1.0):
        self.device, self.random_state, self.scale = device, random_state, scale

    def fit(self, images, labels):
        _Recorder.seen.append({"device": self.device, "threads": torch.get_num_threads(), "scale": self.scale})
        self.label_ = labels[0]
        return self

    def predict(self, images):
        import numpy as np

        return np.full(len(images), self.label_)


@pytest.fixture
def recorder():
    if "test-recorder" not in registry.METHODS:
        registry.register("test-recorder", _Recorder, family="deep", description="records its settings (tests only)")
    _Recorder.seen = []
    return _Recorder.seen


def test_bare_command_prints_help_and_runs_nothing(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main([]) == 0
    out = capsys.readouterr().out
    assert "usage: visionkit" in out and "compare" in out
    assert list(tmp_path.iterdir()) == []  # no out/ folder: nothing ran


def test_version(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.strip() == f"visionkit {__version__}"


def test_methods_show_family_label_and_model(capsys):
    assert main(["methods"]) == 0
    out = capsys.readouterr().out
    assert "resnet -> resnet20" in out and "lenet -> lenet5" in out
    assert "deep (learned from this data):" in out and "classical (handcrafted):" in out
    assert "transfer (transferred from ImageNet):" in out
    assert main(["methods", "--family", "classical"]) == 0
    out = capsys.readouterr().out
    assert "hog-svm" in out and "resnet" not in out


def test_params_device_threads_reach_the_method(tmp_path, recorder):
    before = torch.get_num_threads()
    rc = main(["compare", "--methods", "test-recorder", "--per-class", "3", "--out", str(tmp_path / "o"),
               "--params", '{"test-recorder": {"scale": 2.5}}', "--device", "cpu", "--threads", "1"])
    assert rc == 0
    assert recorder == [{"device": "cpu", "threads": 1, "scale": 2.5}]
    assert torch.get_num_threads() == before  # restored afterwards
    rec = json.loads((tmp_path / "o" / "results.jsonl").read_text().splitlines()[0])
    assert rec["params"] == {"scale": 2.5}  # the device is not part of the run's identity


@pytest.mark.parametrize("argv, message", [
    (["--params", '{"test-recorder": {"scal": 2}}'], "unknown parameter 'scal'; expected some of: device, random_state, scale"),
    (["--params", '{"nope": {}}'], "unknown method 'nope'"),
    (["--params", "{bad json"], "--params: expected a JSON object"),
    (["--params", '{"test-recorder": 3}'], "--params: expected a JSON object"),
    (["--params", '{"lenet": {"epochs": 1}}'], "names methods that are not run (lenet)"),
    (["--threads", "0"], "--threads: expected a positive integer, got '0'"),
    (["--threads", "two"], "--threads: expected a positive integer"),
])
def test_bad_knobs_fail_before_any_work(tmp_path, capsys, recorder, argv, message):
    out = tmp_path / "o"
    assert main(["compare", "--methods", "test-recorder", "--per-class", "3", "--out", str(out), *argv]) == 2
    assert message in capsys.readouterr().err
    assert recorder == [] and not out.exists()


def test_bad_device_is_refused(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["compare", "--device", "tpu", "--out", str(tmp_path)])
    assert exc.value.code == 2
    assert "invalid choice: 'tpu'" in capsys.readouterr().err


def test_run_experiment_checks_params_from_python(tmp_path, recorder):
    from visionkit import VisionkitError
    from visionkit.bench import load_data, run_experiment

    split = load_data("digits")
    with pytest.raises(VisionkitError, match="unknown parameter.*'scal'.*scale"):
        run_experiment(split, ["test-recorder"], out=str(tmp_path), method_params={"test-recorder": {"scal": 1}}, progress=False)
    with pytest.raises(VisionkitError, match="device: expected 'cpu', 'cuda' or 'auto', got 'gpu'"):
        run_experiment(split, ["test-recorder"], out=str(tmp_path), device="gpu", progress=False)
    assert recorder == []


def test_cache_show_trim_clear(tmp_path, monkeypatch, capsys):
    cache = tmp_path / "cache"
    (cache / "features" / "lite0").mkdir(parents=True)
    (cache / "imagefolder-old.npz").write_bytes(b"x" * 3 * 2**20)
    (cache / "features" / "lite0" / "0.npz").write_bytes(b"y" * 2**20)
    import os

    os.utime(cache / "imagefolder-old.npz", (1_000_000, 1_000_000))
    monkeypatch.setenv("VISIONKIT_CACHE", str(cache))
    monkeypatch.setenv("VISIONKIT_CACHE_LIMIT", "20MB")
    assert main(["cache"]) == 0
    out = capsys.readouterr().out
    assert f"cache: {cache}" in out and "size: 4.0 MB in 2 entries; limit 20.0 MB" in out
    assert "imagefolder-old.npz" in out and "features" in out
    assert main(["cache", "trim", "--limit", "2MB"]) == 0  # the old decoded folder goes, the features stay
    assert "removed 1 least recently used entries, 3.0 MB" in capsys.readouterr().out
    assert not (cache / "imagefolder-old.npz").exists() and (cache / "features" / "lite0").is_dir()
    assert main(["cache", "clear"]) == 0
    assert "removed 1 entries, 1.0 MB" in capsys.readouterr().out
    assert not (cache / "features" / "lite0").exists()
    assert main(["cache", "trim", "--limit", "lots"]) == 2
    assert "cache size: expected a positive size" in capsys.readouterr().err
