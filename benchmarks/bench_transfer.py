"""Feature extraction speed of the pretrained backbone, against timm's EfficientNet-Lite0 in the same run.

    python benchmarks/bench_transfer.py [--sizes 224,128] [--n 256] [--repeats 3]

For each input size: images/s of ``Backbone.features`` (uint8 photos in, pooled 1280-d features out,
preprocessing included) in float32 and in bfloat16 autocast, and of timm's ``efficientnet_lite0`` and
``tf_efficientnet_lite0`` (``forward_features`` + global pool on an already-normalised float tensor, fp32,
timm's defaults: no preprocessing counted). Ratio = visionkit / timm's efficientnet_lite0. Medians of
``--repeats`` runs after a warm-up. The accuracy cost of a smaller size is measured by
``bench_compare.py --params '{"pretrained-features-svm": {"img_size": 128}}'``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import torch  # noqa: E402


def _rate(fn, n: int, repeats: int) -> float:
    fn()  # warm-up (oneDNN builds its kernels for the shape)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return n / statistics.median(times)


def main() -> None:
    import timm

    from visionkit.bench.metrics import environment
    from visionkit.deep import load_backbone

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="224,128")
    ap.add_argument("--n", type=int, default=256, help="images per timed run")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    print("command:", " ".join(sys.argv))
    print("environment:", environment())
    rng = np.random.default_rng(0)
    photos = rng.integers(0, 256, (args.n, 240, 300, 3), dtype=np.uint8)  # Caltech-101's median photo size
    timm_models = {name: timm.create_model(name, pretrained=False, num_classes=0).eval()
                   for name in ("efficientnet_lite0", "tf_efficientnet_lite0")}
    print(f"{'size':>5s} {'visionkit fp32':>15s} {'visionkit bf16':>15s} {'timm lite0':>11s} {'timm tf_lite0':>14s} "
          f"{'ratio fp32':>11s} {'ratio bf16':>11s}   (images/s)")
    for size in [int(s) for s in args.sizes.split(",")]:
        bb = load_backbone("efficientnet_lite0", img_size=size)
        ours = _rate(lambda: bb.features(photos, batch_size=64), args.n, args.repeats)
        ours_bf16 = _rate(lambda: bb.features(photos, batch_size=64, amp=True), args.n, args.repeats)
        x = torch.randn(args.n, 3, size, size)
        rates = {}
        for name, m in timm_models.items():
            def run(m=m):
                with torch.no_grad():
                    for i in range(0, args.n, 64):
                        m(x[i:i + 64])
            rates[name] = _rate(run, args.n, args.repeats)
        ref = rates["efficientnet_lite0"]
        print(f"{size:5d} {ours:15.1f} {ours_bf16:15.1f} {ref:11.1f} {rates['tf_efficientnet_lite0']:14.1f} "
              f"{ours / ref:11.2f} {ours_bf16 / ref:11.2f}", flush=True)


if __name__ == "__main__":
    main()
