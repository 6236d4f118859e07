"""Speed of visionkit's Sobel and Harris against OpenCV and scikit-image, measured in the same run.

    python benchmarks/bench_operators.py [--size 2048] [--repeats 7] [--out out/bench_operators.json]

Prints a table of medians and ratios. Targets (issue 2): sobel <= 1.5x cv2 (dx + dy + magnitude);
harris_response <= 2x cv2.cornerHarris(img, 3, 3, 0.04) and >= 3x faster than skimage's
corner_harris; torch twins on 1,024 32x32 images reported against a cv2 loop (and on GPU if any).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import visionkit as vk  # noqa: E402
from visionkit._atomic import atomic_write  # noqa: E402


def median_time(fn, repeats: int, warmup: int = 1) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", type=int, default=2048)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--batch", type=int, default=1024)
    ap.add_argument("--out", default="out/bench_operators.json")
    args = ap.parse_args()

    import skimage
    import torch
    from skimage.feature import corner_harris

    img = cv2.resize(vk.sample_image("astronaut", mode="gray"), (args.size, args.size), interpolation=cv2.INTER_LINEAR)
    img = np.ascontiguousarray(img, dtype=np.float32)
    rows = []

    def cv2_sobel():
        gx = cv2.Sobel(img, cv2.CV_32F, 1, 0, ksize=3)
        gy = cv2.Sobel(img, cv2.CV_32F, 0, 1, ksize=3)
        return cv2.magnitude(gx, gy)

    t_ref = median_time(cv2_sobel, args.repeats)
    t_vk = median_time(lambda: vk.sobel(img), args.repeats)
    rows.append(("sobel magnitude", f"{args.size}^2 float32", t_vk, "cv2.Sobel dx+dy + cv2.magnitude", t_ref, "<= 1.5"))

    t_ref = median_time(lambda: cv2.cornerHarris(img, 3, 3, 0.04), args.repeats)
    t_vk = median_time(lambda: vk.harris_response(img), args.repeats)
    rows.append(("harris_response", f"{args.size}^2 float32", t_vk, "cv2.cornerHarris(img, 3, 3, 0.04)", t_ref, "<= 2"))
    t_sk = median_time(lambda: corner_harris(img, sigma=1, k=0.05), max(5, args.repeats // 2))
    rows.append(("harris_response", f"{args.size}^2 float32", t_vk, "skimage corner_harris(sigma=1)", t_sk, "<= 1/3"))

    # torch twins on a batch of small images, against a cv2 loop over the same images
    rng = np.random.default_rng(0)
    crops = np.stack([img[r : r + 32, c : c + 32] for r, c in rng.integers(0, args.size - 32, size=(args.batch, 2))])
    batch = torch.from_numpy(crops)[:, None]

    def cv2_loop_sobel():
        for im in crops:
            cv2.magnitude(cv2.Sobel(im, cv2.CV_32F, 1, 0, ksize=3), cv2.Sobel(im, cv2.CV_32F, 0, 1, ksize=3))

    def cv2_loop_harris():
        for im in crops:
            vk.harris_response(im)

    t_loop_s = median_time(cv2_loop_sobel, args.repeats)
    t_loop_h = median_time(cv2_loop_harris, args.repeats)
    with torch.inference_mode():
        t_ts = median_time(lambda: vk.sobel_torch(batch), args.repeats)
        t_th = median_time(lambda: vk.harris_response_torch(batch), args.repeats)
    desc = f"{args.batch} x 32^2, CPU torch"
    rows.append(("sobel_torch", desc, t_ts, "cv2 loop (Sobel dx+dy+magnitude)", t_loop_s, "report"))
    rows.append(("harris_response_torch", desc, t_th, "loop of visionkit.harris_response (cv2)", t_loop_h, "report"))
    gpu = None
    if torch.cuda.is_available():
        gpu = torch.cuda.get_device_name()
        gb = batch.cuda()

        def sync(fn):
            def run():
                fn()
                torch.cuda.synchronize()
            return run

        with torch.inference_mode():
            t_gs = median_time(sync(lambda: vk.sobel_torch(gb)), args.repeats, warmup=3)
            t_gh = median_time(sync(lambda: vk.harris_response_torch(gb)), args.repeats, warmup=3)
        rows.append(("sobel_torch", f"{args.batch} x 32^2, {gpu}", t_gs, "cv2 loop (CPU)", t_loop_s, "goal >= 15x faster"))
        rows.append(("harris_response_torch", f"{args.batch} x 32^2, {gpu}", t_gh, "cv2 loop (CPU)", t_loop_h, "goal >= 15x faster"))

    print(f"visionkit {vk.__version__} | numpy {np.__version__} | opencv {cv2.__version__} | scikit-image {skimage.__version__} "
          f"| torch {torch.__version__} | {platform.processor() or platform.machine()} x{os.cpu_count()} | cv2 threads {cv2.getNumThreads()} "
          f"| torch threads {torch.get_num_threads()} | GPU: {gpu or 'none'}")
    print(f"medians of {args.repeats} runs (ms)\n")
    head = f"{'operator':24s} {'input':30s} {'visionkit':>10s}  {'reference':42s} {'ref':>10s} {'ratio':>7s}  target"
    print(head)
    print("-" * len(head))
    results = []
    for name, inp, t, ref, tr, target in rows:
        ratio = t / tr
        print(f"{name:24s} {inp:30s} {t * 1e3:10.2f}  {ref:42s} {tr * 1e3:10.2f} {ratio:7.2f}  {target}")
        results.append({"operator": name, "input": inp, "visionkit_s": t, "reference": ref, "reference_s": tr, "ratio": ratio, "target": target})
    out = atomic_write(args.out, json.dumps({"rows": results, "gpu": gpu, "size": args.size}, indent=2))
    print(f"\nratio = visionkit time / reference time; wrote {out}")


if __name__ == "__main__":
    main()
