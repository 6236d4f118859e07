"""visionkit train and data-parallel training (visionkit.deep.distributed)."""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from visionkit import VisionkitError
from visionkit.cli import main
from visionkit.deep import DeepClassifier
from visionkit.deep.distributed import scaled_lr, shard_indices, train

REPO = Path(__file__).resolve().parents[2]


def _env() -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env["OMP_NUM_THREADS"] = "1"
    for k in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(k, None)
    return env


def test_shards_are_disjoint_equal_and_interleave_into_the_big_batch():
    order = torch.randperm(103, generator=torch.Generator().manual_seed(0))
    w, b = 4, 5
    shards = [shard_indices(order, rank=r, world_size=w) for r in range(w)]
    assert all(len(s) == 103 // w for s in shards)
    assert sorted(torch.cat(shards).tolist()) == sorted(order[: 103 // w * w].tolist())
    for i in range(len(shards[0]) // b):  # the ranks' batch i together = the one-process batch i of w * b
        together = torch.cat([s[i * b:(i + 1) * b] for s in shards])
        assert sorted(together.tolist()) == sorted(order[i * w * b:(i + 1) * w * b].tolist())
    assert torch.equal(shard_indices(order, rank=0, world_size=1), order)


@pytest.mark.parametrize("kwargs, match", [(dict(rank=2, world_size=2), "rank: expected an integer in 0..1"),
                                           (dict(rank=0, world_size=0), "world_size: expected an integer >= 1"),
                                           (dict(rank=-1, world_size=2), "rank")])
def test_shard_refuses_bad_ranks(kwargs, match):
    with pytest.raises(VisionkitError, match=match):
        shard_indices(torch.arange(10), **kwargs)


def test_linear_scaling_rule():
    assert scaled_lr(0.1, 128, 128, 1) == pytest.approx(0.1)
    assert scaled_lr(0.1, 128, 64, 8) == pytest.approx(0.4)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow  # two processes start torch: ~13 s on 2 shared cores
def test_two_ranks_of_batch_b_give_the_gradient_of_one_of_batch_2b(tmp_path):
    from safetensors.torch import load_file

    from visionkit.data import load_digits
    from visionkit.deep.estimator import prepare_images
    from visionkit.deep.models import create_model
    from visionkit.deep.train import TrainConfig, fit

    b = 16
    env = _env() | {"WORLD_SIZE": "2", "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(_free_port())}
    procs = [subprocess.Popen([sys.executable, str(Path(__file__).with_name("_ddp_worker.py")), str(tmp_path), str(b)],
                              env=env | {"RANK": str(r), "LOCAL_RANK": str(r)}, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True) for r in range(2)]
    outs = [p.communicate(timeout=240)[0] for p in procs]
    assert all(p.returncode == 0 for p in procs), outs
    ranks = [load_file(str(tmp_path / f"rank{r}.safetensors")) for r in range(2)]

    d = load_digits()
    model = create_model("lenet5", num_classes=10, in_chans=1, img_size=32, seed=0)
    cfg = TrainConfig(epochs=1, batch_size=2 * b, optimizer="sgd", lr=0.1, augment="none", amp=False, seed=3)
    fit(model, prepare_images(d.images[:2 * b], 32), np.asarray(d.labels[:2 * b]), cfg)
    for k, p in model.named_parameters():
        assert p.grad.abs().max() > 0
        for r in ranks:  # DDP averages: every rank holds the gradient of the whole 2B batch
            torch.testing.assert_close(r[f"grad.{k}"], p.grad, rtol=1e-4, atol=1e-6)
            torch.testing.assert_close(r[f"weight.{k}"], p.detach(), rtol=1e-4, atol=1e-6)
    # and a shard is not the whole batch: one rank alone would have another gradient
    assert not torch.allclose(ranks[0]["grad.fc.weight"] * 2, model.fc.weight.grad, atol=1e-6)


def test_train_in_one_process_writes_a_checkpoint_that_loads(tmp_path):
    lines = []
    summary = train(data="digits", model="lenet5", out=tmp_path / "out", epochs=2, progress=False, log=lines.append)
    assert summary["world_size"] == 1 and summary["epochs"] == 2 and summary["batch_size"] == 128
    assert 0.3 < summary["test_accuracy"] <= 1
    clf = DeepClassifier.load(tmp_path / "out" / "model", device="cpu")
    assert clf.classes_.tolist() == list(range(10)) and len(clf.history_) == 2
    log = (tmp_path / "out" / "train.log").read_text().splitlines()
    assert len(log) == 2 and "epoch 2/2" in log[1] and "images/s" in log[1] and "accuracy" in log[1]
    assert json.loads((tmp_path / "out" / "summary.json").read_text())["test_accuracy"] == summary["test_accuracy"]
    assert any("test accuracy" in line for line in lines)


def test_train_resumes_after_a_kill_and_gives_the_uninterrupted_weights(tmp_path, monkeypatch):
    import visionkit.deep.distributed as D

    full = train(data="digits", model="lenet5", out=tmp_path / "full", epochs=2, progress=False, log=lambda _: None)

    class Killed(Exception):
        pass

    real = D._log_line

    def dies_at_epoch_2(record, epochs):
        if record["epoch"] == 2:  # before epoch 2's state is written: the folder holds epoch 1's
            raise Killed
        return real(record, epochs)

    monkeypatch.setattr(D, "_log_line", dies_at_epoch_2)
    with pytest.raises(Killed):
        train(data="digits", model="lenet5", out=tmp_path / "part", epochs=2, progress=False, log=lambda _: None)
    monkeypatch.setattr(D, "_log_line", real)
    assert not (tmp_path / "part" / "model.json").exists()
    lines = []
    resumed = train(data="digits", model="lenet5", out=tmp_path / "part", epochs=2, progress=False, log=lines.append)
    assert "resuming from" in lines[0]
    a = DeepClassifier.load(tmp_path / "full" / "model", device="cpu").model_.state_dict()
    b = DeepClassifier.load(tmp_path / "part" / "model", device="cpu").model_.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert resumed["test_accuracy"] == full["test_accuracy"]
    # another run in the same folder is refused, not silently mixed in
    with pytest.raises(VisionkitError, match="training state of another run"):
        train(data="digits", model="lenet5", out=tmp_path / "part", epochs=2, seed=1, progress=False, log=lambda _: None)


@pytest.mark.parametrize("argv, match", [
    (["--model", "lenet"], "unknown model 'lenet'.*Did you mean lenet5"),
    (["--model", "lenet5", "--data", "no-such-folder"], "data: expected a known name"),
    (["--model", "lenet5", "--epochs", "0"], "--epochs: expected a positive integer, got '0'"),
    (["--model", "lenet5", "--lr", "fast"], "--lr: expected a positive number, got 'fast'"),
    (["--model", "lenet5", "--seed", "1,2"], "--seed: expected one seed"),
])
def test_train_command_errors_are_one_line(tmp_path, capsys, argv, match):
    import re

    assert main(["train", "--out", str(tmp_path / "o"), *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and re.search(match, err), err


def test_train_command_refuses_a_file_as_out(tmp_path, capsys):
    (tmp_path / "f").write_text("x")
    assert main(["train", "--model", "lenet5", "--out", str(tmp_path / "f")]) == 2
    assert "expected a folder" in capsys.readouterr().err


@pytest.mark.slow
def test_torchrun_two_processes_on_cpu(tmp_path):
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2", "-m", "visionkit",
           "train", "--data", "digits", "--model", "lenet5", "--epochs", "2", "--device", "cpu", "--no-progress",
           "--out", str(out)]
    res = subprocess.run(cmd, env=_env(), capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-2000:]
    assert res.stdout.count("test accuracy") == 1  # rank 0 alone speaks
    summary = json.loads((out / "summary.json").read_text())
    assert summary["world_size"] == 2 and summary["backend"] == "gloo" and summary["batch_size"] == 256
    assert len((out / "train.log").read_text().splitlines()) == 2
    clf = DeepClassifier.load(out / "model", device="cpu")
    assert len(clf.history_) == 2
    assert main(["show", "chelsea", "--model", str(out / "model"), "--out", str(tmp_path / "fig.png")]) == 0
    assert (tmp_path / "fig.png").stat().st_size > 0


# ------------------------------------------------------------------------------ fit_torchrun (compare --nproc)

def _digits_subset(n_per_class=20):
    from visionkit.bench import load_data
    from visionkit.bench.runner import sample_per_class

    split = load_data("digits")
    idx = sample_per_class(split.train.labels, n_per_class, random_state=0)
    return split, split.train.images[idx], split.train.labels[idx]


@pytest.mark.slow  # torchrun starts two processes that import torch: ~10 s on 2 cores
def test_fit_torchrun_two_processes_train_the_one_process_recipe(monkeypatch):
    from visionkit.deep.distributed import fit_torchrun

    for k in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        monkeypatch.delenv(k, raising=False)
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    split, x, y = _digits_subset()
    one = DeepClassifier("lenet5", epochs=2, device="cpu", random_state=3).fit(x, y)
    lines = []
    two = fit_torchrun(DeepClassifier("lenet5", epochs=2, device="cpu", random_state=3), x, y, nproc=2,
                       class_names=split.classes, log=lines.append)
    assert two.world_size_ == 2 and two.train_config_["batch_size"] == one.train_config_["batch_size"] == 128
    assert two.train_steps_ == one.train_steps_ == 2 * (len(y) // 128)
    assert two.class_names_ == list(split.classes)
    # the same global batches and learning rate: the same losses, to float tolerance (gradients summed in another order)
    for a, b in zip(one.history_, two.history_):
        assert a["train_loss"] == pytest.approx(b["train_loss"], rel=1e-4)
    for (k, a), b in zip(one.model_.state_dict().items(), two.model_.state_dict().values()):
        # Adam divides by the gradient's running norm: where a gradient is ~0, float noise moves a weight by up
        # to one step (lr ~ 2e-3); everywhere else the weights agree far closer (measured: 3e-4 at most)
        torch.testing.assert_close(a, b, rtol=0, atol=1e-3, msg=k)
    assert [line.split("  ")[0] for line in lines] == ["rank 0 of 2: epoch 1/2", "rank 0 of 2: epoch 2/2"]
    assert (two.predict(split.test.images) == one.predict(split.test.images)).mean() > 0.98


@pytest.mark.slow  # one torchrun launch, ~10 s
def test_fit_torchrun_reports_the_ranks_reason_when_training_fails(monkeypatch):
    from visionkit.deep.distributed import fit_torchrun

    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    _, x, y = _digits_subset(5)
    # lenet5 refuses 8 x 8 images: every rank fails in fit, the message is theirs, not torchrun's
    est = DeepClassifier("lenet5", img_size=8, epochs=1, device="cpu")
    with pytest.raises(VisionkitError, match=r"torchrun --nproc-per-node 2: training failed \(exit status 1\): img_size"):
        fit_torchrun(est, x, y, nproc=2)
    assert not hasattr(est, "model_")


@pytest.mark.slow  # one compare with a torchrun launch, ~15 s
def test_compare_nproc_trains_the_networks_in_two_processes(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    out = tmp_path / "cmp"
    assert main(["compare", "--methods", "lenet,hog-svm", "--per-class", "20", "--nproc", "2", "--device", "cpu",
                 "--params", '{"lenet": {"epochs": 2, "min_steps": null}}', "--out", str(out)]) == 0
    assert "--nproc 2: lenet trains in 2 processes (torchrun)" in capsys.readouterr().out
    recs = {r["method"]: r for r in map(json.loads, (out / "results.jsonl").read_text().splitlines())}
    assert recs["lenet"]["world_size"] == 2 and recs["hog-svm"]["world_size"] == 1
    assert recs["lenet"]["accuracy"] > 0.3 and recs["lenet"]["resolved_params"]["epochs"] == 2


@pytest.mark.parametrize("est, nproc, match", [
    ("svm", 2, "expected a DeepClassifier"),
    ("net", 0, "nproc: expected an integer >= 1, got int 0"),
    ("net", True, "nproc: expected an integer >= 1"),
    ("net", 2.0, "nproc: expected an integer >= 1"),
])
def test_fit_torchrun_refuses_bad_arguments(est, nproc, match):
    from sklearn.svm import LinearSVC

    from visionkit.deep.distributed import fit_torchrun

    est = LinearSVC() if est == "svm" else DeepClassifier("lenet5")
    with pytest.raises(VisionkitError, match=match):
        fit_torchrun(est, np.zeros((4, 28, 28, 1), np.uint8), np.array([0, 1, 0, 1]), nproc=nproc)


def test_fit_torchrun_refuses_labels_of_another_length_and_parameters_that_are_not_json():
    from visionkit.deep.distributed import fit_torchrun

    x = np.zeros((4, 28, 28, 1), np.uint8)
    with pytest.raises(VisionkitError, match=r"labels: expected shape \(4,\)"):
        fit_torchrun(DeepClassifier("lenet5"), x, np.array([0, 1, 0]), nproc=2)
    with pytest.raises(VisionkitError, match="must be JSON values"):
        fit_torchrun(DeepClassifier("lenet5", train_options={"schedule": object()}), x, np.array([0, 1, 0, 1]), nproc=2)


def test_the_ranks_read_the_images_the_driver_wrote(tmp_path):
    from PIL import Image

    from visionkit.data import ImageFolderSource
    from visionkit.deep.distributed import _read_images, _write_images

    rng = np.random.default_rng(0)
    arr = rng.integers(0, 256, (5, 8, 9, 3), dtype=np.uint8)
    photos = [rng.integers(0, 256, (h, w, 3), dtype=np.uint8) for h, w in ((5, 7), (9, 4), (6, 6))]
    paths = []
    for i, im in enumerate(photos):
        paths.append(str(tmp_path / f"{i}.png"))
        Image.fromarray(im).resize((6, 6)).save(paths[-1])
    source = ImageFolderSource(paths)
    for i, images in enumerate((arr, photos, source)):
        folder = tmp_path / f"job{i}"
        folder.mkdir()
        _write_images(folder, images)
        back = _read_images(folder)
        if isinstance(images, ImageFolderSource):
            assert isinstance(back, ImageFolderSource) and back.paths == paths
            np.testing.assert_array_equal(back.read(), source.read())
        elif isinstance(images, list):
            assert len(back) == 3 and all(np.array_equal(a, b) for a, b in zip(back, photos))
        else:
            np.testing.assert_array_equal(back, arr)
    with pytest.raises(VisionkitError, match="uint8 images of one number of dimensions"):
        _write_images(tmp_path, [np.zeros((3, 3), np.uint8), np.zeros((3, 3, 3), np.uint8)])


@pytest.mark.parametrize("argv, match", [
    (["--nproc", "0"], "--nproc: expected a positive integer, got '0'"),
    (["--nproc", "two"], "--nproc: expected a positive integer"),
    (["--nproc", "2", "--methods", "hog-svm"], "none of --methods \\(hog-svm\\) is one; expected one of .*lenet"),
])
def test_compare_nproc_errors_are_one_line(tmp_path, capsys, argv, match):
    import re

    assert main(["compare", "--out", str(tmp_path / "o"), *argv]) == 2
    err = capsys.readouterr().err
    assert re.search(match, err) and len(err.strip().splitlines()) == 1


def test_run_experiment_refuses_a_bad_nproc(tmp_path):
    from visionkit.bench import load_data, run_experiment

    with pytest.raises(VisionkitError, match="nproc: expected an integer >= 1, got 0"):
        run_experiment(load_data("digits"), ["lenet"], out=str(tmp_path), nproc=0, progress=False)


def test_train_streams_a_folder_and_gives_the_in_memory_network(tmp_path, capsys):
    from tests.conftest import shaded_folder

    shaded_folder(tmp_path / "data", {"train": 10, "test": 4}, side=16, std=30, ext="png")
    runs = {}
    for stream in (False, True):
        out = tmp_path / f"out-{stream}"
        assert main(["train", "--data", str(tmp_path / "data"), "--model", "lenet5", "--epochs", "2", "--batch-size", "8",
                     "--device", "cpu", "--no-progress", "--out", str(out)] + (["--stream"] if stream else [])) == 0
        runs[stream] = (json.loads((out / "summary.json").read_text()), DeepClassifier.load(out / "model", device="cpu"))
        assert ("streamed from disk" in capsys.readouterr().out) == stream
    assert runs[True][0]["test_accuracy"] == runs[False][0]["test_accuracy"]
    for a, b in zip(runs[True][1].model_.state_dict().values(), runs[False][1].model_.state_dict().values()):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
