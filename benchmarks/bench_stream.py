"""Data larger than memory: ``visionkit compare --stream`` against the in-memory path, on >= 200,000 JPEGs.

1. Writes CIFAR-10's training JPEGs out ``--copies`` times (hard links, or copies where the file system
   refuses them) into ``ROOT/cifar10xK/train/CLASS/{k}-NNNN.jpg`` (4 x 50,000 = 200,000 images; reused when
   present); ``test/`` is a link to the original 10,000 test images.
2. Runs ``visionkit compare --data ROOT/cifar10xK --methods M --per-class all`` once per method and path
   (``--stream`` or not), each in a fresh process with a fresh decoded-data cache (so the in-memory path
   pays its decoding, as on a first run), measuring the peak resident memory of the process
   (``ru_maxrss`` from ``wait4``) and of its whole tree (its DataLoader workers included: the sum of
   proportional set sizes, so that pages shared after a fork count once; psutil, polled every second),
   the wall time, the time until the data were loaded, and from the run's record the fit and
   prediction images/s and the accuracy.
3. Prints a table and writes every figure, the commands and the versions to ``--json`` (atomically).

    python benchmarks/bench_stream.py                                    # 200,000 images, hog-svm and resnet
    python benchmarks/bench_stream.py --copies 1 --methods hog-svm       # 50,000 images, one method

The budgets keep the whole benchmark under ~40 minutes on 2 cores: the SVM runs ``--svm-max-iter``
L-BFGS iterations (registered default 500) and the network trains for ``--resnet-budget`` seconds, or
``--resnet-epochs`` epochs (the same steps on the same batches in both paths).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from visionkit._atomic import atomic_write  # noqa: E402


def build_folder(source: Path, root: Path, copies: int) -> Path:
    """``root/cifar10x{copies}``: ``train/`` holds every training JPEG of ``source`` ``copies`` times; ``test/`` links to ``source/test``."""
    dst = root / f"cifar10x{copies}"
    if not (source / "train").is_dir() or not (source / "test").is_dir():
        sys.exit(f"expected an ImageFolder copy of CIFAR-10 with train/ and test/ in {source}")
    for cls in sorted(p.name for p in (source / "train").iterdir() if p.is_dir()):
        out = dst / "train" / cls
        out.mkdir(parents=True, exist_ok=True)
        for f in sorted((source / "train" / cls).iterdir()):
            for k in range(copies):
                target = out / f"{k}-{f.name}"
                if target.exists():
                    continue
                try:
                    os.link(f, target)
                except OSError:  # another file system, or no hard links: a copy
                    shutil.copyfile(f, target)
    if not (dst / "test").exists():
        (dst / "test").symlink_to(source / "test")
    return dst


def _default_source() -> str:
    env = os.environ.get("VISIONKIT_DATA")
    if env and (Path(env) / "cifar10-jpeg" / "train").is_dir():
        return str(Path(env) / "cifar10-jpeg")
    return str(REPO.parent / "shared" / "datasets" / "cifar10-jpeg")


def _tree_pss(proc) -> int:
    import psutil

    try:
        procs = [proc, *proc.children(recursive=True)]
    except psutil.Error:
        return 0
    total = 0
    for p in procs:
        try:
            total += p.memory_full_info().pss  # proportional: pages a DataLoader worker shares with its parent count once
        except psutil.Error:
            pass
    return total


def run_measured(cmd: list[str], env: dict) -> dict:
    """Run ``cmd``; its peak RSS (process, and tree), wall time, output, and when each output line arrived."""
    import psutil

    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    ps = psutil.Process(proc.pid)
    peak = [0]
    done = threading.Event()

    def poll() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], _tree_pss(ps))
            done.wait(1.0)  # reading smaps (PSS) of a process of many GB costs CPU: once a second

    poller = threading.Thread(target=poll, daemon=True)
    poller.start()
    lines = []
    for line in proc.stdout:
        lines.append((time.perf_counter() - t0, line.rstrip("\n")))
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - t0
    done.set()
    poller.join()
    return dict(returncode=proc.returncode, wall_s=wall, peak_rss_mb=usage.ru_maxrss / 1024, peak_tree_pss_mb=peak[0] / 2**20,
                lines=lines)


def bench(args: argparse.Namespace) -> dict:
    data = build_folder(Path(args.source), Path(args.root), args.copies)
    n_files = sum(1 for _ in (data / "train").rglob("*.jpg"))
    print(f"data: {data} ({n_files:,} training JPEGs, test/ -> {Path(args.source) / 'test'})", flush=True)
    # a fixed number of epochs makes both paths train the same steps on the same batches (same seed, same
    # network); a time budget stops them wherever the clock says, which differs between runs
    resnet = {"epochs": args.resnet_epochs} if args.resnet_epochs else {"train_options": {"time_budget_s": args.resnet_budget}}
    params = {"hog-svm": {"max_iter": args.svm_max_iter}, "resnet": {**resnet, "num_workers": args.workers}}
    rows = []
    for method in args.methods.split(","):
        for mode in args.modes.split(","):
            with tempfile.TemporaryDirectory(prefix="bench-stream-", dir=args.root) as tmp:
                out = Path(tmp) / "out"
                cmd = [sys.executable, "-m", "visionkit", "compare", "--data", str(data), "--methods", method, "--per-class", "all",
                       "--seeds", "0", "--threads", str(args.threads), "--out", str(out),
                       "--params", json.dumps({method: params[method]} if method in params else {})]
                if mode == "stream":
                    cmd.append("--stream")
                env = dict(os.environ, PYTHONPATH=str(REPO), VISIONKIT_CACHE=str(Path(tmp) / "cache"),
                           OMP_NUM_THREADS=str(args.threads))
                shown = " ".join(c if c.startswith(("-", "/")) or c.isalnum() else f"'{c}'" for c in cmd[1:])
                print(f"\n[{method}, {mode}] python {shown}", flush=True)
                res = run_measured(cmd, env)
                if res["returncode"] != 0:
                    tail = "\n".join(line for _, line in res["lines"][-40:])
                    print(f"FAILED (exit {res['returncode']}):\n{tail}", flush=True)
                    rows.append(dict(method=method, mode=mode, command=shown, failed=True, returncode=res["returncode"],
                                     wall_s=res["wall_s"], peak_rss_mb=res["peak_rss_mb"], peak_tree_pss_mb=res["peak_tree_pss_mb"],
                                     output_tail=tail[-4000:]))
                    continue
                loaded = next((t for t, line in res["lines"] if line.startswith("data ")), None)
                records = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines() if line.strip()]
                rec = next(r for r in records if r["perturbation"] is None)
                row = dict(method=method, mode=mode, command=shown, n_train=rec["n_train"], n_test=rec["n_test"],
                           accuracy=rec["accuracy"], streamed=rec.get("streamed"), wall_s=res["wall_s"], load_s=loaded,
                           fit_s=rec["fit_seconds"], fit_images_per_s=rec["n_train"] / rec["fit_seconds"],
                           predict_images_per_s=rec["predict_images_per_second"], peak_rss_mb=res["peak_rss_mb"],
                           peak_tree_pss_mb=res["peak_tree_pss_mb"], record_peak_memory_mb=rec.get("peak_memory_mb"))
                rp = rec.get("resolved_params") or {}
                cfg = rp.get("train_config") or {}
                if rp.get("train_steps") and cfg.get("batch_size"):
                    row["train_images"] = rp["train_steps"] * cfg["batch_size"]
                    row["train_images_per_s"] = row["train_images"] / rec["fit_seconds"]
                rows.append(row)
                print(f"  accuracy {row['accuracy']:.4f}, wall {row['wall_s']:.0f} s (data loaded at {loaded or 0:.0f} s), "
                      f"fit {row['fit_s']:.0f} s, peak RSS {row['peak_rss_mb']:.0f} MB (tree PSS {row['peak_tree_pss_mb']:.0f} MB)",
                      flush=True)
    return dict(data=str(data), n_train_files=n_files, params=params, threads=args.threads, rows=rows)


def versions() -> dict:
    import numpy
    import sklearn
    import torch

    return dict(python=platform.python_version(), numpy=numpy.__version__, sklearn=sklearn.__version__, torch=torch.__version__,
                machine=f"{os.cpu_count()} cores, {platform.machine()}", load_average=os.getloadavg())


def print_table(result: dict) -> None:
    print(f"\n{'method':8s} {'path':9s} {'n_train':>8s} {'acc':>7s} {'peak RSS MB':>11s} {'tree PSS':>8s} {'load s':>7s} "
          f"{'fit s':>7s} {'fit img/s':>9s} {'train img/s':>11s} {'pred img/s':>10s} {'wall s':>7s}")
    for r in result["rows"]:
        if r.get("failed"):
            print(f"{r['method']:8s} {r['mode']:9s} FAILED (exit {r['returncode']}) after {r['wall_s']:.0f} s, "
                  f"peak RSS {r['peak_rss_mb']:.0f} MB")
            continue
        tr = f"{r['train_images_per_s']:.0f}" if "train_images_per_s" in r else "-"
        print(f"{r['method']:8s} {r['mode']:9s} {r['n_train']:>8,d} {100 * r['accuracy']:>6.2f}% {r['peak_rss_mb']:>11.0f} "
              f"{r['peak_tree_pss_mb']:>8.0f} {r['load_s'] or 0:>7.0f} {r['fit_s']:>7.0f} {r['fit_images_per_s']:>9.0f} {tr:>11s} "
              f"{r['predict_images_per_s']:>10.0f} {r['wall_s']:>7.0f}")


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--source", default=_default_source(), help="CIFAR-10 as an ImageFolder of JPEGs (train/, test/); default "
                   "$VISIONKIT_DATA/cifar10-jpeg or ../shared/datasets/cifar10-jpeg beside the repository")
    p.add_argument("--root", default="/tmp/visionkit-stream", help="where the enlarged folder and the runs go (outside the repo)")
    p.add_argument("--copies", type=int, default=4, help="times each training JPEG is written out (4: 200,000 images)")
    p.add_argument("--methods", default="hog-svm,resnet")
    p.add_argument("--modes", default="stream,memory", help="stream, memory or both, in this order")
    p.add_argument("--svm-max-iter", type=int, default=50, help="hog-svm's L-BFGS iterations (registered default 500)")
    p.add_argument("--resnet-budget", type=float, default=240.0, help="resnet's training time budget, seconds")
    p.add_argument("--resnet-epochs", type=int, default=None,
                   help="train resnet for this many epochs instead of --resnet-budget (1 epoch of 200,000: ~260 s here)")
    p.add_argument("--workers", type=int, default=1, help="resnet's DataLoader workers when streaming")
    p.add_argument("--threads", type=int, default=2, help="--threads of each compare")
    p.add_argument("--json", default=str(REPO / "out" / "bench_stream" / "results.json"))
    args = p.parse_args(argv)
    Path(args.root).mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    result = bench(args)
    result.update(versions=versions(), total_s=time.perf_counter() - t0, argv=sys.argv[1:])
    print_table(result)
    atomic_write(Path(args.json), json.dumps(result, indent=1).encode())
    print(f"\n{result['total_s']:.0f} s in all; figures in {args.json}; {result['versions']}")


if __name__ == "__main__":
    main()
