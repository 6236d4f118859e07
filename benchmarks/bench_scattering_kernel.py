"""Linear against Gaussian-kernel (Nystroem) SVM on CIFAR-10's scattering coefficients, on a validation split.

    python benchmarks/bench_scattering_kernel.py [--train 20000] [--val 5000] [--split-seed 123]
        [--landmarks 4096] [--gammas 0.5,1,2,4] [--Cs 1] [--linear-Cs 0.0003,0.00012] [--pca 0]
        [--exact-lams ""] [--ridge-landmarks ""] [--ridge-lams 0.1] [--krr-landmarks ""] [--krr-lams 0.01,0.03]
        [--mirrors] [--J 2]
        [--features out/bench_scattering_kernel/features.npy] [--out out/bench_scattering_kernel.json]

Only CIFAR-10's *training* images are used (the test set stays untouched for the harness): ``--train``
of them to fit and ``--val`` others to score, drawn with ``--split-seed``. Every image goes through the
``scattering-svm`` preset's transform (:class:`~visionkit.classical.scattering.ScatteringFeatures`:
YUV, J=2, L=8, order 2, log; 15,552 values) once, kept in ``--features`` (a .npy memory map, reused by
later runs), then the coefficients are standardised on the fitting part, and each classifier is fitted
and scored. ``--J 2,3`` puts the coefficients of each scale side by side (``scattering-rbf``'s
multiscale representation: 15,552 + 10,416 values), the ``J=3`` ones cached beside ``--features``
with ``_J3`` in the name.

* :class:`~visionkit.classical.svm.LinearSVM` with each of ``--linear-Cs`` (for ``--train`` images:
  the SVM's loss is summed over images, so scale ``C`` with their number);
* :class:`~visionkit.classical.svm.RBFNystroem` (``--landmarks``, ``gamma`` = each of ``--gammas``
  over the mean squared distance between fitting rows) then :class:`LinearSVM` with each of ``--Cs``;
  with ``--pca K`` the standardised coefficients are first projected on their top ``K`` principal axes;
* with ``--exact-lams``: the exact Gaussian kernel machine, as kernel ridge regression of the one-vs-all
  +-1 targets (``(K + alpha I) W = Y`` on the kernel of all fitting rows, solved by Cholesky in float64
  with torch, each ``alpha`` of ``--exact-lams``; the class is the largest output; scikit-learn's
  ``KernelRidge`` solves the same system, but SciPy's bundled OpenBLAS crashed on the 20,000 x 20,000
  solve here), for each of ``--gammas``: the
  ceiling a Gaussian kernel reaches on these coefficients. Its kernel matrix holds ``--train``
  squared floats (1.6 GB in float32 for 20,000 images; 10 GB for CIFAR-10's 50,000);
* with ``--ridge-landmarks``: the same ridge on a Nystroem map with each number of landmarks
  (:class:`~visionkit.classical.svm.RBFNystroem`, then ridge regression of the same targets with each
  ``alpha`` of ``--ridge-lams``; with all fitting rows as landmarks it is the exact machine), at the
  first of ``--gammas``: how many landmarks the approximation needs;
* with ``--krr-landmarks``: the same ridge solved over each number of landmarks without storing the
  map (:func:`~visionkit.classical.svm.rbf_ridge_coefs`, the solver of ``scattering-rbf``'s
  :class:`~visionkit.classical.svm.RBFRidgeClassifier`; landmarks drawn from the fitting rows with
  seed 0), each ``alpha`` of ``--krr-lams``, at the first of ``--gammas``.

``--mirrors`` adds the left-right mirrors of the fitting images (their coefficients cached beside
``--features``, with ``_mirror`` in the name) to the fitting rows of every classifier, and the
``--krr-landmarks`` rows also report the validation accuracy with each image's and its mirror's
outputs averaged ("2 views"). ``--pca`` is fitted on every fourth fitting row.

Prints a table (validation accuracy, seconds) and writes it atomically to ``--out``.
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
from visionkit._progress import progress_bar  # noqa: E402
from visionkit.bench.metrics import environment  # noqa: E402


def features(path: Path, images: np.ndarray, J: int = 2) -> np.ndarray:
    """The preset's scattering coefficients of ``images`` at scale ``J``, computed once into ``path`` (float32 memmap)."""
    from visionkit.classical.scattering import ScatteringFeatures

    f = ScatteringFeatures(J=J).fit(images[:1])
    if path.exists():
        X = np.load(path, mmap_mode="r")
        if X.shape == (len(images), f.n_features_out_):
            return X
        print(f"{path}: shape {X.shape}, expected {(len(images), f.n_features_out_)}; recomputing", flush=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".partial.npy")
    X = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.float32, shape=(len(images), f.n_features_out_))
    for i in progress_bar(range(0, len(images), 2048), desc="scattering", unit="chunk", force=True):
        X[i : i + 2048] = f.transform(images[i : i + 2048])
    X.flush()
    del X
    tmp.replace(path)
    return np.load(path, mmap_mode="r")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--train", type=int, default=20000)
    ap.add_argument("--val", type=int, default=5000)
    ap.add_argument("--split-seed", type=int, default=123)
    ap.add_argument("--landmarks", type=int, default=4096)
    ap.add_argument("--gammas", default="0.5,1,2,4", help="multiples of 1 / (mean squared distance)")
    ap.add_argument("--Cs", default="1")
    ap.add_argument("--linear-Cs", default="0.0003,0.00012")
    ap.add_argument("--pca", type=int, default=0)
    ap.add_argument("--exact-lams", default="", help="ridge penalties of the exact kernel machine (empty: skip)")
    ap.add_argument("--ridge-landmarks", default="", help="Nystroem landmarks for the kernel ridge (empty: skip)")
    ap.add_argument("--ridge-lams", default="0.1")
    ap.add_argument("--krr-landmarks", default="", help="landmarks of the blockwise kernel ridge (empty: skip)")
    ap.add_argument("--krr-lams", default="0.01,0.03")
    ap.add_argument("--mirrors", action="store_true", help="fit on the images and their mirrors")
    ap.add_argument("--J", default="2", help="scattering scales, e.g. 2,3: their coefficients side by side")
    ap.add_argument("--features", default="out/bench_scattering_kernel/features.npy",
                    help="cache of the J=2 coefficients; other J add _J<J> to the name")
    ap.add_argument("--out", default="out/bench_scattering_kernel.json")
    args = ap.parse_args()

    import torch

    from visionkit.bench.specs import load_data
    from visionkit.classical.stacking import column_moments
    from visionkit.classical.svm import LinearSVM, RBFNystroem, rbf_kernel_f32, rbf_ridge_coefs

    torch.set_num_threads(2)
    train = load_data("cifar10").train
    scales = [int(j) for j in args.J.split(",")]
    feat = Path(args.features)

    def cached(images: np.ndarray, suffix: str = "") -> list[np.ndarray]:
        return [features(feat.with_name(feat.stem + ("" if J == 2 else f"_J{J}") + suffix + ".npy"), images, J)
                for J in scales]

    X_parts = cached(train.images)
    y_all = train.labels
    perm = np.random.default_rng(args.split_seed).permutation(len(y_all))
    if args.train + args.val > len(y_all):
        raise SystemExit(f"--train + --val: expected at most {len(y_all)}, got {args.train + args.val}")
    fit_i, val_i = np.sort(perm[: args.train]), np.sort(perm[len(perm) - args.val :])
    M_parts = cached(np.ascontiguousarray(train.images[:, :, ::-1]), "_mirror") if args.mirrors else []

    def gather(sources: list[list[np.ndarray]], idx: np.ndarray) -> np.ndarray:
        """Rows ``idx`` of each source (its scales side by side), the sources stacked, in one allocation."""
        widths = [P.shape[1] for P in sources[0]]
        out = np.empty((len(sources) * len(idx), sum(widths)), dtype=np.float32)
        for s, parts in enumerate(sources):
            for i in range(0, len(idx), 5000):
                rows = idx[i : i + 5000]
                out[s * len(idx) + i : s * len(idx) + i + len(rows)] = np.concatenate([P[rows] for P in parts], 1)
        return out

    Xf = gather([X_parts, M_parts] if args.mirrors else [X_parts], fit_i)
    Xv = gather([X_parts], val_i)
    yf, yv = (np.concatenate([y_all[fit_i]] * 2) if args.mirrors else y_all[fit_i]), y_all[val_i]
    Xv2 = gather([M_parts], val_i) if args.mirrors else None
    mu, var = column_moments(Xf)  # chunked: Xf.std(0) would copy the whole matrix
    mu, sd = mu.astype(np.float32), (np.sqrt(var) + 1e-6).astype(np.float32)
    for A in (Xf, Xv) if Xv2 is None else (Xf, Xv, Xv2):
        A -= mu
        A /= sd
    rows = []

    def score(name: str, A: np.ndarray, B: np.ndarray, C: float, t0: float, **extra) -> None:
        clf = LinearSVM(C=C, max_iter=500, n_threads=2).fit(A, yf)
        acc = float((clf.predict(B) == yv).mean())
        rows.append({"classifier": name, "C": C, "val_accuracy": acc, "seconds": time.perf_counter() - t0, **extra})
        print(f"\n{name:<8} C={C:<10g} {' '.join(f'{k}={v}' for k, v in extra.items()):<40} {100 * acc:6.2f} %  "
              f"{rows[-1]['seconds']:.0f} s", flush=True)

    for C in [float(c) for c in args.linear_Cs.split(",") if c]:
        score("linear", Xf, Xv, C, time.perf_counter())
    if args.pca:
        t0 = time.perf_counter()
        sub = Xf[::4]  # the axes are fitted on every fourth fitting row
        total = sum(float((np.asarray(B, dtype=np.float64) ** 2).sum()) for B in np.array_split(sub, 16))
        _, S, V = torch.svd_lowrank(torch.from_numpy(np.ascontiguousarray(sub)), q=args.pca, niter=3)
        Vt, kept = V.numpy(), float((S.double() ** 2).sum()) / total
        del sub, S, V  # sub is a view: it would keep the unreduced rows alive
        Xf, Xv = Xf @ Vt, Xv @ Vt
        Xv2 = None if Xv2 is None else Xv2 @ Vt
        print(f"PCA {args.pca}: {kept:.3f} of the variance kept, "
              f"in {time.perf_counter() - t0:.0f} s", flush=True)
    a, b = Xf[:1000], Xf[1000:2000]  # the mean squared distance between fitting rows
    d2 = float((a**2).sum(1).mean() + (b**2).sum(1).mean() - 2 * (a @ b.T).mean())
    Y = torch.from_numpy(np.where(yf[:, None] == np.arange(10), 1.0, -1.0))

    def ridge(G: torch.Tensor, R: torch.Tensor, lam: float) -> torch.Tensor:
        """Solve (G + lam I) W = R by Cholesky in float64 (torch's LAPACK)."""
        L = torch.linalg.cholesky(G + lam * torch.eye(len(G), dtype=torch.float64))
        return torch.cholesky_solve(R, L)

    if args.exact_lams:
        for g in map(float, args.gammas.split(",")):
            t0 = time.perf_counter()
            K = torch.from_numpy(rbf_kernel_f32(Xf, Xf, g / d2)).double()
            Kv = torch.from_numpy(rbf_kernel_f32(Xv, Xf, g / d2)).double()
            for lam in map(float, args.exact_lams.split(",")):
                t1 = time.perf_counter()
                acc = float(((Kv @ ridge(K, Y, lam)).argmax(1).numpy() == yv).mean())
                rows.append({"classifier": "exact-rbf-ridge", "alpha": lam, "gamma": f"{g}/d2", "val_accuracy": acc,
                             "seconds": time.perf_counter() - t1 + (t1 - t0) / len(args.exact_lams.split(","))})
                print(f"\nexact    gamma={g}/d2 alpha={lam:<8g} {100 * acc:6.2f} %  {rows[-1]['seconds']:.0f} s", flush=True)
            del K, Kv
    if args.ridge_landmarks:
        g = float(args.gammas.split(",")[0])
        for m in map(int, args.ridge_landmarks.split(",")):
            t0 = time.perf_counter()
            nys = RBFNystroem(n_components=m, gamma=g / d2, random_state=0, progress=True).fit(Xf)
            A, B = torch.from_numpy(nys.transform(Xf)).double(), torch.from_numpy(nys.transform(Xv)).double()
            G, R = A.T @ A, A.T @ Y
            for lam in map(float, args.ridge_lams.split(",")):
                acc = float(((B @ ridge(G, R, lam)).argmax(1).numpy() == yv).mean())
                rows.append({"classifier": "nystroem-rbf-ridge", "alpha": lam, "gamma": f"{g}/d2", "landmarks": m,
                             "val_accuracy": acc, "seconds": time.perf_counter() - t0})
                print(f"\nridge    gamma={g}/d2 landmarks={m} alpha={lam:<8g} {100 * acc:6.2f} %  "
                      f"{rows[-1]['seconds']:.0f} s", flush=True)
            del A, B, G
    if args.krr_landmarks:
        g = float(args.gammas.split(",")[0])
        lams = [float(v) for v in args.krr_lams.split(",")]
        for m in map(int, args.krr_landmarks.split(",")):
            t0 = time.perf_counter()
            lm = Xf[np.sort(np.random.default_rng(0).choice(len(Xf), m, replace=False))]
            coefs = rbf_ridge_coefs(Xf, Y.numpy().astype(np.float32), lm, g / d2, lams, progress=True)
            Kv = rbf_kernel_f32(np.ascontiguousarray(Xv, dtype=np.float32), lm, g / d2)
            Kv2 = None if Xv2 is None else rbf_kernel_f32(np.ascontiguousarray(Xv2, dtype=np.float32), lm, g / d2)
            for lam, coef in zip(lams, coefs):
                s1 = Kv @ coef
                acc = float((s1.argmax(1) == yv).mean())
                acc2 = None if Kv2 is None else float(((s1 + Kv2 @ coef).argmax(1) == yv).mean())
                rows.append({"classifier": "rbf-ridge-blockwise", "alpha": lam, "gamma": f"{g}/d2", "landmarks": m,
                             "fit_rows": len(Xf), "mirrors": bool(args.mirrors), "pca": args.pca, "val_accuracy": acc,
                             "val_accuracy_2views": acc2, "seconds": time.perf_counter() - t0})
                print(f"\nkrr      gamma={g}/d2 landmarks={m} rows={len(Xf)} alpha={lam:<8g} {100 * acc:6.2f} %"
                      + ("" if acc2 is None else f"  (image + mirror {100 * acc2:6.2f} %)")
                      + f"  {rows[-1]['seconds']:.0f} s", flush=True)
            del Kv, Kv2, coefs
    for g in map(float, args.gammas.split(",") if args.Cs else []):
        t0 = time.perf_counter()
        nys = RBFNystroem(n_components=args.landmarks, gamma=g / d2, random_state=0, progress=True).fit(Xf)
        A, B = nys.transform(Xf), nys.transform(Xv)
        for C in map(float, args.Cs.split(",")):
            score("rbf", A, B, C, t0, gamma=f"{g}/d2", landmarks=args.landmarks, pca=args.pca)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(out, json.dumps({"environment": environment(), "args": vars(args), "mean_sq_distance": d2,
                                  "rows": rows}, indent=1))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
