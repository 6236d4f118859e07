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
