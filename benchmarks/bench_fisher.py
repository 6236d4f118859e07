"""Fisher vectors against scikit-image's on the same GMM: the same numbers, and the time of each.

One image's worth of descriptors (``--m`` rows of ``--d`` dimensions: 80 PCA-SIFT + (x, y)) under a
``--k``-mode diagonal GMM fitted by scikit-learn, encoded by ``skimage.feature.fisher_vector``
(float64, its GMM's ``predict_proba``) and by :func:`visionkit.classical.fisher.fisher_vector`
(float32 and float64), one BLAS thread each, medians of ``--repeat``. Also
:func:`~visionkit.classical.fisher.fisher_encode` with the 8-cell pyramid, which skimage has no
counterpart for, and :func:`~visionkit.classical.descriptors.dsift` against OpenCV's SIFT at the same
grid (:func:`~visionkit.classical.descriptors.dense_sift`) on a 300 x 200 photo.

    PYTHONPATH=. python benchmarks/bench_fisher.py

The accuracy benchmark is ``bench_bovw.py --dataset caltech101 --method fisher-svm``.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def _median_time(fn, repeat: int) -> float:
    fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--m", type=int, default=12_000, help="descriptors in the set (an image at step 4, four scales)")
    p.add_argument("--d", type=int, default=82)
    p.add_argument("--k", type=int, default=256)
    p.add_argument("--repeat", type=int, default=5)
    args = p.parse_args(argv)

    import cv2
    import skimage
    import skimage.data
    import sklearn
    from skimage.feature import fisher_vector as sk_fisher_vector
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.mixture import GaussianMixture
    from threadpoolctl import threadpool_limits

    from visionkit.classical.descriptors import dense_sift, dsift
    from visionkit.classical.fisher import fisher_encode, fisher_vector

    rng = np.random.default_rng(0)
    centres = rng.normal(0, 1, (args.k, args.d))
    x = (centres[rng.integers(0, args.k, args.m)] + rng.normal(0, 0.5, (args.m, args.d))).astype(np.float64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        gmm = GaussianMixture(args.k, covariance_type="diag", max_iter=20, random_state=0).fit(x)
    rel = rng.uniform(0, 1, (args.m, 2))
    x32 = x.astype(np.float32)
    res: dict = {"m": args.m, "d": args.d, "k": args.k}
    with threadpool_limits(1):
        ref = sk_fisher_vector(x, gmm)
        kd = args.k * args.d
        flip = np.r_[np.ones(args.k + kd), -np.ones(kd)]  # skimage's variance block is -G_sigma
        ours64 = fisher_vector(x, gmm, mixture_weights=True, power=None, l2=False)
        ours32 = fisher_vector(x32, gmm, mixture_weights=True, power=None, l2=False)
        res["max_abs_diff_float64"] = float(np.abs(ours64 - ref * flip).max())
        res["max_abs_diff_float32"] = float(np.abs(ours32 - ref * flip).max())
        res["max_abs_value"] = float(np.abs(ref).max())
        res["skimage_s"] = _median_time(lambda: sk_fisher_vector(x, gmm), args.repeat)
        res["visionkit_float64_s"] = _median_time(lambda: fisher_vector(x, gmm, mixture_weights=True), args.repeat)
        res["visionkit_float32_s"] = _median_time(lambda: fisher_vector(x32, gmm, mixture_weights=True), args.repeat)
        res["visionkit_pyramid_8_cells_float32_s"] = _median_time(lambda: fisher_encode(x32, rel, gmm), args.repeat)
        photo = cv2.resize(skimage.data.camera(), (300, 200), interpolation=cv2.INTER_AREA)
        cv2.setNumThreads(1)
        for step in (4, 3):
            kw = dict(step=step, patch_sizes=(16, 24, 32, 40))
            res[f"dense_sift_opencv_step{step}_s"] = _median_time(lambda: dense_sift(photo, **kw), args.repeat)
            res[f"dsift_step{step}_s"] = _median_time(lambda: dsift(photo, **kw), args.repeat)
            res[f"descriptors_step{step}"] = len(dsift(photo, **kw))
    res["ratio_skimage_over_float32"] = res["skimage_s"] / res["visionkit_float32_s"]
    res["ratio_skimage_over_float64"] = res["skimage_s"] / res["visionkit_float64_s"]
    res["versions"] = {"python": platform.python_version(), "numpy": np.__version__, "scikit-learn": sklearn.__version__,
                       "scikit-image": skimage.__version__, "opencv": cv2.__version__}
    print(json.dumps(res, indent=2))
    print(
        f"one set of {args.m} x {args.d} descriptors, K = {args.k}, 1 thread: skimage {res['skimage_s'] * 1e3:.0f} ms, "
        f"visionkit float64 {res['visionkit_float64_s'] * 1e3:.0f} ms ({res['ratio_skimage_over_float64']:.1f}x), "
        f"float32 {res['visionkit_float32_s'] * 1e3:.0f} ms ({res['ratio_skimage_over_float32']:.1f}x), "
        f"8-cell pyramid {res['visionkit_pyramid_8_cells_float32_s'] * 1e3:.0f} ms; max |difference| "
        f"{res['max_abs_diff_float64']:.1e} (float64), {res['max_abs_diff_float32']:.1e} (float32) on values up to {res['max_abs_value']:.2f}"
    )
    for step in (4, 3):
        o, v = res[f"dense_sift_opencv_step{step}_s"], res[f"dsift_step{step}_s"]
        print(f"dense SIFT, 300 x 200, step {step}, 4 scales ({res[f'descriptors_step{step}']} descriptors): "
              f"OpenCV {o * 1e3:.0f} ms, dsift {v * 1e3:.0f} ms ({o / v:.1f}x)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
