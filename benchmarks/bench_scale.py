"""The single-machine figures behind the README's "Outgrowing one machine": data-parallel training and the grid.

1. ``visionkit train`` in one process, then under ``torchrun --nproc-per-node N`` (gloo on the CPU,
   NCCL on GPUs), on the same data and model, each process with ``OMP_NUM_THREADS`` threads: training
   images/s (median over epochs, all ranks together), training seconds, test accuracy.
2. ``visionkit compare`` on a grid of classical runs with ``--executor local`` and ``--executor dask
   --workers N``: wall time (cluster start included), and the runs' own seconds (fit + predict).

    python benchmarks/bench_scale.py                                   # digits, lenet5; the grid on digits
    python benchmarks/bench_scale.py --model resnet20 --img-size 32 --epochs 2 --configs 1x1,2x1 --skip-grid
    python benchmarks/bench_scale.py --train-data cifar10 --model resnet20 --epochs 1 --time-budget 60 --skip-grid

Each configuration runs in fresh processes, in a temporary folder; the figures are printed with the versions.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _env(threads: int) -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env["OMP_NUM_THREADS"] = str(threads)
    return env


def _run(cmd: list[str], env: dict) -> float:
    t0 = time.perf_counter()
    res = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if res.returncode != 0:
        sys.exit(f"failed: {' '.join(cmd)}\n{res.stdout[-3000:]}\n{res.stderr[-3000:]}")
    return time.perf_counter() - t0


def bench_train(args: argparse.Namespace, tmp: Path) -> None:
    cores = os.cpu_count() or 1
    print(f"\nvisionkit train --data {args.train_data} --model {args.model} --epochs {args.epochs}"
          + (f" --time-budget {args.time_budget}" if args.time_budget else "")
          + (f" --img-size {args.img_size}" if args.img_size else "") + f" --device {args.device}")
    print(f"{'processes':>9s} {'threads/proc':>12s} {'batch/step':>10s} {'images/s':>9s} {'train s':>8s} {'wall s':>7s} {'test acc':>8s}")
    for nproc, threads in args.configs or [(n, max(1, cores // n)) for n in (1, 2)]:
        out = tmp / f"train-{nproc}x{threads}"
        tail = ["train", "--data", args.train_data, "--model", args.model, "--epochs", str(args.epochs), "--device", args.device,
                "--no-progress", "--out", str(out)] + (["--time-budget", str(args.time_budget)] if args.time_budget else []) \
            + (["--img-size", str(args.img_size)] if args.img_size else [])
        if nproc == 1:
            cmd = [sys.executable, "-m", "visionkit", *tail]
        else:
            cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", str(nproc), "-m", "visionkit", *tail]
        wall = _run(cmd, _env(threads))
        s = json.loads((out / "summary.json").read_text())
        print(f"{nproc:9d} {threads:12d} {s['batch_size']:10d} {s['images_per_s']:9.0f} {s['train_time_s']:8.1f} {wall:7.1f} "
              f"{s['test_accuracy']:8.4f}")


def bench_grid(args: argparse.Namespace, tmp: Path) -> None:
    print(f"\nvisionkit compare --data {args.grid_data} --methods {args.methods} --per-class {args.per_class} --seeds {args.seeds}")
    print(f"{'executor':>16s} {'runs':>5s} {'wall s':>7s} {'run s (sum)':>11s} {'s per run (wall)':>16s}")
    accuracies = {}
    for executor in ["local"] + [f"dask:{w}" for w in args.workers]:
        out = tmp / f"grid-{executor.replace(':', '-')}"
        extra = ["--executor", "local"] if executor == "local" else ["--executor", "dask", "--workers", executor.split(":")[1]]
        cmd = [sys.executable, "-m", "visionkit", "compare", "--data", args.grid_data, "--methods", args.methods,
               "--per-class", args.per_class, "--seeds", args.seeds, "--out", str(out), *extra]
        wall = _run(cmd, _env(os.cpu_count() or 1))
        recs = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
        busy = sum(r["fit_seconds"] + r["predict_seconds"] for r in recs)
        accuracies[executor] = {r["key"]: r["accuracy"] for r in recs}
        name = executor if executor == "local" else f"dask, {executor.split(':')[1]} workers"
        print(f"{name:>16s} {len(recs):5d} {wall:7.1f} {busy:11.1f} {wall / len(recs):16.2f}")
    same = all(a == accuracies["local"] for a in accuracies.values())
    print(f"same accuracies, to the last digit, with every executor: {same}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--train-data", default="digits")
    p.add_argument("--model", default="lenet5")
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--time-budget", type=float, default=None)
    p.add_argument("--img-size", type=int, default=None)
    p.add_argument("--device", default="cpu")
    p.add_argument("--configs", default="1x1,1x2,2x1", metavar="PxT,...",
                   type=lambda s: [tuple(int(v) for v in c.split("x")) for c in s.split(",")],
                   help="processes x threads per process (OMP_NUM_THREADS) to run, default 1x1,1x2,2x1")
    p.add_argument("--grid-data", default="digits")
    p.add_argument("--methods", default="pixels-svm,hog-svm")
    p.add_argument("--per-class", default="5,20,all")
    p.add_argument("--seeds", default="0,1")
    p.add_argument("--workers", default="2", type=lambda s: [int(x) for x in s.split(",")])
    p.add_argument("--skip-train", action="store_true")
    p.add_argument("--skip-grid", action="store_true")
    args = p.parse_args()

    import platform

    import torch

    print(f"python {platform.python_version()}, torch {torch.__version__}, {os.cpu_count()} CPUs "
          f"({platform.processor() or platform.machine()}), GPUs: {torch.cuda.device_count()}")
    with tempfile.TemporaryDirectory() as tmp:
        if not args.skip_train:
            bench_train(args, Path(tmp))
        if not args.skip_grid:
            bench_grid(args, Path(tmp))


if __name__ == "__main__":
    main()
