"""Coates et al.'s k-means features beside the scattering transform, alone and concatenated, on a validation split.

    python benchmarks/bench_cifar_combined.py [--train 20000] [--val 5000] [--split-seed 123] [--words 1600]
        [--weights 0.5,1] [--Cs 0.0025,0.005,0.01] [--coates-Cs 0.005] [--scattering-Cs 0.0003]
        [--scattering-pca K] [--coates-power P] [--coates-pyramid 1,2] [--test-shifts S] [--skip-alone]
        [--cache out/bench_cifar_combined] [--out out/bench_cifar_combined.json]

Does a linear SVM on both handcrafted representations at once beat the better one alone? Only CIFAR-10's
*training* images are used (the test set stays untouched for the harness): ``--train`` of them to fit
and ``--val`` others to score, drawn with ``--split-seed`` (the split of
``bench_scattering_kernel.py``). The representations:

* Coates: ``kmeans-svm``'s transform (``make_kmeans_svm(n_words=--words, kmeans="full")`` up to its
  k-means encoding; the vocabulary learnt on the fitting images only), 4 x words values;
* scattering: ``scattering-svm``'s transform (YUV, J=2, L=8, order 2, log), 15,552 values.

Each block is standardised on the fitting part; the concatenation scales the scattering block by
``w * sqrt(d_coates / d_scattering)``, so at ``w = 1`` both blocks weigh the same in the SVM's inner
products. Features are kept in ``--cache`` (.npy) for reruns. Prints a table and rewrites ``--out``
atomically after each row.

Measured (2026-12-06, an idle 2-core Xeon; defaults): Coates 69.26 % (C = 0.005), scattering 66.96 %
(C = 0.0003; 68.34 % at 0.00012 in ``bench_scattering_kernel.py``), both at ``w = 0.5``, C = 0.0025:
71.64 % (488 s for that SVM: 21,952 features); features 226 s (Coates) and 107 s (scattering).
With ``--scattering-pca 2048 --skip-alone --weights 0.5 --Cs 0.0025`` (96.4 % of the block's variance
kept, 75 s): 70.78 % in 128 s on 8,448 features.

The C of ``kmeans-scattering-svm`` (2026-12-06, same split, 2,048 axes; the first rows with torch's
unseeded ``svd_lowrank``, so +-0.2 between runs): w = 0.5: 71.70 % at C = 0.0001, **72.64 %** at 0.0002,
72.38 % at 0.0004, 71.8-72.0 % at 0.001, 70.78 % at 0.0025; w = 0.75: 72.06, 72.36, 72.36, 71.14 % at
0.0001, 0.0002, 0.0004, 0.001. Coates alone: 68.96, 69.52, 69.26 % at C = 0.001, 0.002, 0.005; the
scattering block alone (2,048 axes) 67.26 % at 0.0002. With 4,096 axes (98.7 % of the variance, 207 s
with ``principal_axes``): 72.56 % at C = 0.0002, no better than 2,048.
``python benchmarks/bench_cifar_combined.py --scattering-pca 2048 --weights 0.5,0.75 --Cs 0.0001,0.0002
--coates-Cs 0.001,0.002 --scattering-Cs 0.0002`` (about 9 minutes with the features cached).

An empty list (``--weights ""``, ``--scattering-Cs ""``) skips those rows.
``--coates-power 0.5`` square-roots the Coates features (non-negative pooled triangle codes) before they
are standardised, the power law of Fisher vectors (2026-12-06, same split): Coates alone 70.86 % at
C = 0.001 (69.94 % at 0.004; a power of 0.35: 70.60 %), +1.3 points over its best without
(``--coates-power 0.5 --coates-Cs 0.001,0.004 --scattering-Cs "" --weights ""``); both,
2,048 axes, w = 0.5: 72.46, 73.76, **73.96**, 73.46 % at C = 0.0001, 0.0002, 0.0004, 0.0008; w = 0.75:
73.06, 73.38 % at 0.0001, 0.0002; w = 0.35: 73.90 % at 0.0004. ``python benchmarks/bench_cifar_combined.py
--scattering-pca 2048 --skip-alone --weights 0.5 --Cs 0.0002,0.0004,0.0008 --coates-power 0.5``.

``--coates-pyramid 1,2`` pools the Coates codes over the whole image too (8,000 values at 1,600 words;
the cache gets its own files). Square-rooted, on the same split (2026-12-07): Coates alone 71.50 % at
C = 0.001 (70.86 % with the quadrants only), both (w = 0.5, 2,048 axes, C = 0.0004) 74.18 % (73.96 %):
+0.2 points for 1,600 more features, not carried to the full set. ``--coates-pyramid 1,2
--coates-power 0.5 --coates-Cs 0.001 --scattering-Cs "" --scattering-pca 2048 --weights 0.5 --Cs 0.0004``
(235 s for the new Coates features, then 4 minutes).

``--test-shifts S`` also scores each held-out image averaged over views, as ``MirrorAugmented``
(the SVM still trains on the fitting images alone, without mirrors): image + mirror, and the 10 views
of ``test_shifts=S`` (the image and its shifts by S pixels left, right, up and down, each with its
mirror). The views' features are cached too (about 34 s per view for 5,000 images). Square-rooted,
2,048 axes, w = 0.5, C = 0.0004 (2026-12-07): quadrants only 73.96 / 74.72 / 75.20 % (the image
alone / + mirror / 10 views at S = 2; 75.0 % at S = 1); with ``--coates-pyramid 1,2`` 74.18 / 75.32 /
**75.80 %**: the defaults of ``kmeans-scattering-svm`` since then. ``python
benchmarks/bench_cifar_combined.py --coates-pyramid 1,2 --coates-power 0.5 --scattering-pca 2048
--skip-alone --weights 0.5 --Cs 0.0004 --test-shifts 2`` (about 12 minutes for the views' features).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from visionkit._atomic import atomic_write  # noqa: E402
from visionkit.bench.metrics import environment  # noqa: E402


def cached(path: Path, make) -> np.ndarray:
    if path.exists():
        return np.load(path)
    arr = np.ascontiguousarray(make(), dtype=np.float32)
    path.parent.mkdir(parents=True, exist_ok=True)

    def write(tmp: str) -> None:
        with open(tmp, "wb") as fh:
            np.save(fh, arr)

    atomic_write(path, write)
    return arr


def _floats(text: str) -> list[float]:
    """``"0.1,0.2"`` -> ``[0.1, 0.2]``; an empty string (``--weights ""``) skips those rows."""
    return [float(t) for t in text.split(",") if t.strip()]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--train", type=int, default=20000)
    ap.add_argument("--val", type=int, default=5000)
    ap.add_argument("--split-seed", type=int, default=123)
    ap.add_argument("--words", type=int, default=1600)
    ap.add_argument("--weights", default="0.5,1")
    ap.add_argument("--Cs", default="0.0025,0.005,0.01")
    ap.add_argument("--coates-Cs", default="0.005")
    ap.add_argument("--scattering-Cs", default="0.0003")
    ap.add_argument("--scattering-pca", type=int, default=0,
                    help="project the standardised scattering block on its top K principal axes first (0: no)")
    ap.add_argument("--coates-power", type=float, default=1.0,
                    help="raise the (non-negative) Coates features to this power before standardising (1: as is)")
    ap.add_argument("--coates-pyramid", default="2",
                    help="the Coates block's pooling grids, e.g. 1,2 for the whole image and its quadrants (default 2)")
    ap.add_argument("--test-shifts", type=int, default=0,
                    help="also score over image + mirror and the 10 views of MirrorAugmented(test_shifts=S) (0: no)")
    ap.add_argument("--skip-alone", action="store_true", help="only the concatenations")
    ap.add_argument("--cache", default="out/bench_cifar_combined")
    ap.add_argument("--out", default="out/bench_cifar_combined.json")
    args = ap.parse_args()

    import torch
    from sklearn.pipeline import Pipeline

    from visionkit.bench.specs import load_data
    from visionkit.classical import make_kmeans_svm, make_scattering_svm, augmented_views
    from visionkit.classical.stacking import column_moments, principal_axes
    from visionkit.classical.svm import LinearSVM

    torch.set_num_threads(2)
    train = load_data("cifar10").train
    perm = np.random.default_rng(args.split_seed).permutation(len(train.labels))
    fit_i, val_i = np.sort(perm[: args.train]), np.sort(perm[len(perm) - args.val :])
    xf, xv = train.images[fit_i], train.images[val_i]
    yf, yv = train.labels[fit_i], train.labels[val_i]
    cache = Path(args.cache)
    tag = f"{args.train}-{args.val}-{args.split_seed}"
    times = {}

    t0 = time.perf_counter()
    # images -> bovw (a plain Pipeline: MethodPipeline.transform would stop before its last step)
    coates = Pipeline(make_kmeans_svm(n_words=args.words, kmeans="full", n_jobs=2, random_state=0).steps[:2])
    pyramid = tuple(int(g) for g in args.coates_pyramid.split(","))
    coates.set_params(bovw__pyramid=pyramid)
    name = f"coates{args.words}" + ("" if pyramid == (2,) else "-p" + "".join(map(str, pyramid)))
    # the held-out views: the image, its shifts by S pixels (MirrorAugmented's order), and their mirrors
    S = args.test_shifts
    if S < 0:
        raise SystemExit(f"--test-shifts: expected a non-negative number of pixels, got {S}")
    views = {f"{dx},{dy}" + ("m" if m else ""): v for (dx, dy, m), v in augmented_views(xv, shift=S, mirror=bool(S))}

    def view_file(kind: str, view: str) -> Path:  # the plain held-out set keeps its old cache name
        return cache / (f"{kind}-val-{tag}.npy" if view == "0,0" else f"{kind}-val-{tag}-view{view}.npy")

    if not all(p.exists() for p in [cache / f"{name}-fit-{tag}.npy"] + [view_file(name, k) for k in views]):
        coates.fit(xf)  # seeded: the same words as the cached features were computed with
    cf = cached(cache / f"{name}-fit-{tag}.npy", lambda: coates.transform(xf))
    cvs = {k: cached(view_file(name, k), lambda v=v: coates.transform(v)) for k, v in views.items()}
    cv = cvs["0,0"]
    times["coates_features_s"] = time.perf_counter() - t0
    print(f"coates: {cf.shape[1]} features in {times['coates_features_s']:.0f} s", flush=True)
    t0 = time.perf_counter()
    scat = Pipeline(make_scattering_svm().steps[:1]).fit(xf[:1])
    sf = cached(cache / f"scattering-fit-{tag}.npy", lambda: scat.transform(xf))
    svs = {k: cached(view_file("scattering", k), lambda v=v: scat.transform(v)) for k, v in views.items()}
    sv = svs["0,0"]
    times["scattering_features_s"] = time.perf_counter() - t0
    print(f"scattering: {sf.shape[1]} features in {times['scattering_features_s']:.0f} s", flush=True)

    if args.coates_power != 1.0:  # = make_kmeans_svm(power=...)'s features (tested), from the one cache
        cf = cf ** args.coates_power
        cvs = {k: v ** args.coates_power for k, v in cvs.items()}
    mu, sd = cf.mean(0), cf.std(0) + 1e-6  # standardised on the fitting part, applied to every view
    cf, cvs = (cf - mu) / sd, {k: (v - mu) / sd for k, v in cvs.items()}
    smu, ssd = sf.mean(0), sf.std(0) + 1e-6
    sf, svs = (sf - smu) / ssd, {k: (v - smu) / ssd for k, v in svs.items()}
    cv, sv = cvs["0,0"], svs["0,0"]
    rows = []
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)

    def save() -> None:  # after every row: an interrupted run keeps what it measured
        atomic_write(out, json.dumps({"environment": environment(), "args": vars(args), "times": times, "rows": rows},
                                     indent=1))

    def score(name: str, A: np.ndarray, B: np.ndarray | dict, C: float, **extra) -> None:
        """Fit on ``A``; score ``B`` (the held-out features) or, a dict of views, each view set too."""
        t0 = time.perf_counter()
        clf = LinearSVM(C=C, max_iter=500, n_threads=2).fit(A, yf)
        Bs = B if isinstance(B, dict) else {"0,0": B}
        D = {k: clf.decision_function(v) for k, v in Bs.items()}

        def accuracy(keys: list[str]) -> float:
            return float((clf.classes_[sum(D[k] for k in keys).argmax(1)] == yv).mean())

        acc = accuracy(["0,0"])
        if len(D) > 1:
            extra = {**extra, "val_accuracy_mirror": accuracy(["0,0", "0,0m"]), "val_accuracy_views": accuracy(list(D))}
        rows.append({"features": name, "C": C, "val_accuracy": acc, "seconds": time.perf_counter() - t0, **extra})
        shown = " ".join(f"{k}={100 * v:.2f}" if k.startswith("val_") else f"{k}={v}" for k, v in extra.items())
        print(f"{name:<12} C={C:<8g} {shown:<10} {100 * acc:6.2f} %  {rows[-1]['seconds']:.0f} s", flush=True)
        save()

    ratio = np.sqrt(cf.shape[1] / sf.shape[1])  # from the full width: a projection keeps the block's scale
    if args.scattering_pca:
        t0 = time.perf_counter()
        # the axes of kmeans-scattering-svm (visionkit.classical.stacking), seeded: same run, same axes
        V, var = principal_axes(sf, args.scattering_pca, random_state=0)
        kept = float(var.sum()) / float(column_moments(sf)[1].sum() * len(sf) / (len(sf) - 1))
        sf, svs = sf @ V.T, {k: v @ V.T for k, v in svs.items()}
        sv = svs["0,0"]
        times["scattering_pca_s"] = time.perf_counter() - t0
        print(f"scattering PCA to {args.scattering_pca}: {kept:.3f} of the variance kept, {times['scattering_pca_s']:.0f} s",
              flush=True)
    if not args.skip_alone:
        for C in _floats(args.coates_Cs):
            score("coates", cf, cvs, C)
        for C in _floats(args.scattering_Cs):
            score("scattering", sf, svs, C, pca=args.scattering_pca)
    for w in _floats(args.weights):
        A = np.hstack([cf, sf * (w * ratio)])
        B = {k: np.hstack([cvs[k], svs[k] * (w * ratio)]) for k in cvs}
        for C in _floats(args.Cs):
            score("both", A, B, C, w=w, pca=args.scattering_pca)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
