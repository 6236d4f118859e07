"""Fit ``kmeans-scattering-svm`` on all of CIFAR-10 and report its fit time and peak memory, without predicting.

    python benchmarks/bench_stack_memory.py [--seed 1] [--out out/bench_stack_memory.json]

The harness (``bench_compare.py``) measures the same fit, with the same ``PeakMemory`` (resident memory
of the process and its workers, what was resident before included), and then predicts the test set
over 10 views (12-14 minutes more); this script stops after the fit, to check a memory change in half
the time. Prints one line and rewrites ``--out`` atomically.

Why (2026-12-07, an idle 2-core Xeon): with the Coates block pooled 1 + 2x2 (10,048 features) the
harness's seed 1 peaked at 8,307 MiB, over the 8 GiB budget, most likely while ``FeatureStack``
fitted the scattering block's principal axes beside the finished Coates matrix. ``FeatureStack`` now
fits the later blocks first: with that order seed 1 peaks at 7,833 MiB, fit 1,640 s (2026-12-07;
``benchmarks/RESULTS_stacked.md``).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from visionkit._atomic import atomic_write  # noqa: E402
from visionkit.bench.metrics import PeakMemory, environment  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--method", default="kmeans-scattering-svm")
    ap.add_argument("--out", default="out/bench_stack_memory.json")
    args = ap.parse_args()

    from visionkit import registry
    from visionkit.bench.specs import load_data

    train = load_data("cifar10").train
    clf = registry.create(args.method, n_jobs=2, random_state=args.seed)
    with PeakMemory() as mem:
        t0 = time.perf_counter()
        clf.fit(train.images, train.labels)
        fit_s = time.perf_counter() - t0
    row = {"method": args.method, "seed": args.seed, "n_train": len(train.labels), "fit_seconds": fit_s,
           "peak_memory_mb": mem.peak_mb, "start_memory_mb": mem.start_mb, "environment": environment()}
    print(f"{args.method} seed={args.seed}: fit {fit_s:.0f} s, peak {mem.peak_mb:,.0f} MiB "
          f"({mem.peak_mb / 1024:.2f} GiB; {mem.start_mb:,.0f} MiB resident before)", flush=True)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(out, json.dumps(row, indent=1))


if __name__ == "__main__":
    main()
