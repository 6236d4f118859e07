"""scikit-learn estimators around the classical features: image preparation, pixels, HOG, SVMs.

* :class:`ImagePreprocessor`: harness images (uint8 (N, H, W, C) or a list of any sizes and channel
  counts) to one channel mode, upscaled when too small, downscaled when too large.
* :class:`PixelFeatures`, :class:`HOGFeatures`: one fixed-length vector per image.
* :class:`PowerNormalizer`: signed power law and L2 norm (the Hellinger map with ``alpha=0.5``).
* :class:`LinearSVM`: one-vs-rest linear SVM with the squared hinge (L2-SVM, as in Coates et al.
  2011), solved in the primal by L-BFGS on float32 matrix products (fast on dense features).
* :class:`Chi2SVC`: exact chi-squared-kernel SVM (libsvm on a precomputed kernel), for small sets.
* :class:`ChunkedStandardScaler`: scikit-learn's ``StandardScaler`` fitted chunk by chunk (its plain
  ``fit`` holds a float64 copy of the whole matrix: 5 GB for CIFAR-10's Coates features).
* :class:`MirrorAugmented`: any image classifier trained on the images and their left-right mirrors,
  both views averaged at test time.
"""

from __future__ import annotations

from typing import Any, Literal

import cv2
import numpy as np
from scipy import optimize
from threadpoolctl import threadpool_limits
from sklearn.base import BaseEstimator, ClassifierMixin, MetaEstimatorMixin, TransformerMixin, clone
from sklearn.metrics.pairwise import chi2_kernel
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, check_non_negative, validate_data

from .._validate import VisionkitError, check_positive, describe
from .descriptors import as_image_list, hog_batch

__all__ = ["ImagePreprocessor", "PixelFeatures", "HOGFeatures", "PowerNormalizer", "LinearSVM", "Chi2SVC", "MirrorAugmented",
           "ChunkedStandardScaler",
           "prepare_images", "mirror_images"]


def prepare_images(
    images: Any,
    *,
    channels: Literal["gray", "rgb", "keep"] = "gray",
    min_side: int | None = None,
    max_side: int | None = None,
    size: tuple[int, int] | None = None,
) -> list[np.ndarray] | np.ndarray:
    """Bring harness images to one form: uint8, (H, W) grey or (H, W, 3) colour, resized as asked.

    Parameters
    ----------
    images : ndarray (N, H, W[, C]) or list of (H, W[, C]) arrays
        uint8 (other dtypes of the dtype rule are converted to uint8).
    channels : {"gray", "rgb", "keep"}
        ``"gray"``: BT.709 luminance; ``"rgb"``: grey images repeated to 3 channels, alpha dropped;
        ``"keep"``: as they come.
    min_side : int or None
        Upscale (bilinear) so the shorter side is at least this (8 x 8 digits for a 16-pixel SIFT).
    max_side : int or None
        Downscale (area) so the longer side is at most this (as Lazebnik et al.'s 300 pixels).
    size : (H, W) or None
        Resize every image to exactly this (overrides min_side / max_side).

    Returns
    -------
    ndarray (N, H, W[, 3]) when all sizes agree, else a list of arrays.
    """
    from .._validate import as_float_image, to_gray

    imgs = as_image_list(images)
    out = []
    for im in imgs:
        if im.dtype != np.uint8:
            im = np.clip(np.rint(as_float_image(im) * 255.0), 0, 255).astype(np.uint8)
        if im.ndim == 3 and im.shape[2] == 1:
            im = im[..., 0]
        if im.ndim == 3 and im.shape[2] not in (3, 4):
            if im.shape[2] == 2:
                im = im[..., 0]
            else:
                raise VisionkitError(f"images: expected 1, 2, 3 or 4 channels, got shape {im.shape}")
        if channels == "gray" and im.ndim == 3:
            im = np.clip(np.rint(to_gray(im[..., :3].astype(np.float32))), 0, 255).astype(np.uint8)
        elif channels == "rgb":
            im = np.repeat(im[..., None], 3, axis=2) if im.ndim == 2 else im[..., :3]
        h, w = im.shape[:2]
        target = None
        if size is not None:
            target = (int(size[0]), int(size[1]))
        else:
            s = 1.0
            if min_side is not None and min(h, w) < min_side:
                s = min_side / min(h, w)
            if max_side is not None and max(h, w) * s > max_side:
                s = max_side / max(h, w)
            if s != 1.0:
                target = (max(1, round(h * s)), max(1, round(w * s)))
        if target is not None and target != (h, w):
            interp = cv2.INTER_AREA if target[0] * target[1] < h * w else cv2.INTER_LINEAR
            im = cv2.resize(np.ascontiguousarray(im), (target[1], target[0]), interpolation=interp)
        out.append(np.ascontiguousarray(im))
    if len({o.shape for o in out}) == 1:
        return np.stack(out)
    return out


class _ImageInput:
    """Mixin for estimators whose input is images (N, H, W[, C]) or a list of them, not a 2-D table."""

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.input_tags.three_d_array = True
        return tags


class ImagePreprocessor(_ImageInput, TransformerMixin, BaseEstimator):
    """:func:`prepare_images` as a stateless Pipeline step (images in, images out)."""

    def __init__(self, *, channels: str = "gray", min_side: int | None = None, max_side: int | None = None, size: tuple[int, int] | None = None):
        self.channels = channels
        self.min_side = min_side
        self.max_side = max_side
        self.size = size

    def fit(self, X, y=None):
        if self.channels not in ("gray", "rgb", "keep"):
            raise VisionkitError(f"channels: expected 'gray', 'rgb' or 'keep', got {self.channels!r}")
        as_image_list(X, name="X")
        self.fitted_ = True
        return self

    def transform(self, X):
        check_is_fitted(self)
        return prepare_images(X, channels=self.channels, min_side=self.min_side, max_side=self.max_side, size=self.size)


class PixelFeatures(_ImageInput, TransformerMixin, BaseEstimator):
    """Raw pixels as features: images resized to ``size``, on [0, 1], flattened.

    Parameters
    ----------
    size : (H, W)
    channels : {"auto", "gray", "rgb"}
        ``"auto"``: colour if any training image has 3 or more channels, else grey; test images
        are then converted to the same (a grey digit becomes 3 equal channels, and so on).

    Attributes
    ----------
    channels_ : str
    n_features_out_ : int
    """

    def __init__(self, *, size: tuple[int, int] = (32, 32), channels: str = "auto"):
        self.size = size
        self.channels = channels

    def fit(self, X, y=None):
        imgs = as_image_list(X, name="X")
        if self.channels not in ("auto", "gray", "rgb"):
            raise VisionkitError(f"channels: expected 'auto', 'gray' or 'rgb', got {self.channels!r}")
        colour = any(im.ndim == 3 and im.shape[2] >= 3 for im in imgs)
        self.channels_ = ("rgb" if colour else "gray") if self.channels == "auto" else self.channels
        self.n_features_out_ = int(np.prod(self.size)) * (3 if self.channels_ == "rgb" else 1)
        return self

    def transform(self, X):
        check_is_fitted(self, "n_features_out_")
        imgs = prepare_images(X, channels=self.channels_, size=self.size)
        return imgs.reshape(len(imgs), -1).astype(np.float32) / 255.0


class HOGFeatures(_ImageInput, TransformerMixin, BaseEstimator):
    """:func:`visionkit.classical.descriptors.hog` of each image, resized to ``size`` first.

    Parameters
    ----------
    size : (H, W)
        Every image is resized to this so the HOG vectors have one length.
    orientations, pixels_per_cell, cells_per_block, block_norm, gradient
        As in :func:`~visionkit.classical.descriptors.hog`.
    extra_cells : tuple of (int, int) pairs
        More cell sizes whose HOG vectors are concatenated (a multi-scale HOG).
    intensity_size : (int, int) or None
        Also append the grey image area-downscaled to this size, on [0, 1] (HOG is blind to
        brightness and to the filled-in shape of an object; Fashion-MNIST's shirts need both).
    channels : {"gray", "rgb"}
    n_jobs : int or None
    """

    def __init__(
        self,
        *,
        size: tuple[int, int] = (64, 64),
        orientations: int = 9,
        pixels_per_cell: tuple[int, int] = (8, 8),
        cells_per_block: tuple[int, int] = (3, 3),
        block_norm: str = "L2-Hys",
        gradient: str = "central",
        extra_cells: tuple = (),
        intensity_size: tuple[int, int] | None = None,
        channels: str = "gray",
        n_jobs: int | None = None,
    ):
        self.intensity_size = intensity_size
        self.size = size
        self.orientations = orientations
        self.pixels_per_cell = pixels_per_cell
        self.cells_per_block = cells_per_block
        self.block_norm = block_norm
        self.gradient = gradient
        self.extra_cells = extra_cells
        self.channels = channels
        self.n_jobs = n_jobs

    def _features(self, X) -> np.ndarray:
        imgs = prepare_images(X, channels=self.channels, size=self.size)
        feats = []
        for cell in (tuple(self.pixels_per_cell), *[tuple(c) for c in self.extra_cells]):
            feats.append(
                hog_batch(
                    imgs,
                    orientations=self.orientations,
                    pixels_per_cell=cell,
                    cells_per_block=self.cells_per_block,
                    block_norm=self.block_norm,
                    gradient=self.gradient,
                    n_jobs=self.n_jobs,
                )
            )
        if self.intensity_size is not None:
            small = prepare_images(imgs, channels="gray", size=tuple(self.intensity_size))
            feats.append(small.reshape(len(small), -1).astype(np.float32) / 255.0)
        return np.concatenate(feats, axis=1)

    def fit(self, X, y=None):
        self.n_features_out_ = self._features(as_image_list(X, name="X")[:1]).shape[1]
        return self

    def transform(self, X):
        check_is_fitted(self, "n_features_out_")
        return self._features(X)


class PowerNormalizer(TransformerMixin, BaseEstimator):
    """``sign(x) |x| ** alpha`` then, optionally, L2 normalisation of each row.

    With ``alpha=0.5`` on L1-normalised histograms this is the explicit Hellinger (Bhattacharyya)
    map: a linear SVM on its output is an SVM with the Hellinger kernel ``sum_k sqrt(x_k y_k)``.

    Parameters
    ----------
    alpha : float
        Exponent in (0, 1]; 1 leaves values as they are.
    l2 : bool
        L2-normalise each row afterwards.
    """

    def __init__(self, *, alpha: float = 0.5, l2: bool = True):
        self.alpha = alpha
        self.l2 = l2

    def fit(self, X, y=None):
        validate_data(self, X, dtype=[np.float64, np.float32])
        a = check_positive(self.alpha, "alpha")
        if a > 1:
            raise VisionkitError(f"alpha: expected a value in (0, 1], got {self.alpha}")
        return self

    def transform(self, X):
        check_is_fitted(self, "n_features_in_")
        X = validate_data(self, X, dtype=[np.float64, np.float32], reset=False)
        out = np.sign(X) * np.abs(X) ** X.dtype.type(self.alpha)
        if self.l2:
            out /= np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)
        return out

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.requires_fit = True
        return tags


class LinearSVM(ClassifierMixin, BaseEstimator):
    """One-vs-rest linear SVM with the squared hinge loss (L2-SVM), solved in the primal by L-BFGS.

    Minimises, for each class ``k`` with ``y_ik = +1`` for its samples and ``-1`` for the others,
    ``1/2 ||w_k||^2 + C sum_i max(0, 1 - y_ik (w_k . x_i + b_k))^2`` -- the objective of
    ``sklearn.svm.LinearSVC(loss="squared_hinge")`` except that the intercept is not penalised.
    All classes are solved together, so each L-BFGS step costs two float32 matrix products with
    ``X``; unlike liblinear it never copies ``X`` into a sparse format, which matters for 50 000 x
    6 400 dense Coates features.

    Parameters
    ----------
    C : float
        Inverse regularisation strength.
    max_iter : int
        L-BFGS iterations.
    tol : float
        Stop when the objective falls by less than ``tol`` (relative) in one L-BFGS step, or the
        largest gradient entry is below ``tol * n_samples * C``.
    fit_intercept : bool
    solver : {"auto", "primal", "kernel"}
        ``"primal"`` optimises ``W`` (n_features x n_classes); ``"kernel"`` writes ``W = X^T A`` and
        optimises ``A`` (n_samples x n_classes) against the linear kernel ``X X^T`` (Chapelle 2007,
        "Training a support vector machine in the primal"): the same objective and minimiser,
        far cheaper steps when features outnumber samples (Caltech-101: 3 030 images, 63 000
        pyramid features). ``"auto"``: kernel when ``n_features > 2 * n_samples``.
    n_threads : int or None
        BLAS threads during the L-BFGS iterations (threadpoolctl); ``None`` leaves BLAS as it is. The
        default 1 is deliberate: L-BFGS makes many small BLAS calls, and multi-threaded OpenBLAS
        spinning on a busy shared machine made a 1000 x 1024 fit 45 times slower (13.8 s against
        0.3 s). The kernel solver's two large products (``X X^T`` and the weights) use every thread.

    Attributes
    ----------
    classes_ : ndarray, shape (n_classes,)
    coef_ : ndarray, shape (1, n_features) for two classes, else (n_classes, n_features)
    intercept_ : ndarray, shape (1,) or (n_classes,)
    n_iter_ : int
    solver_ : str
    n_features_in_ : int
    """

    def __init__(
        self,
        *,
        C: float = 1.0,
        max_iter: int = 1000,
        tol: float = 1e-4,
        fit_intercept: bool = True,
        solver: str = "auto",
        n_threads: int | None = 1,
    ):
        self.C = C
        self.solver = solver
        self.max_iter = max_iter
        self.tol = tol
        self.fit_intercept = fit_intercept
        self.n_threads = n_threads

    def fit(self, X, y):
        if self.n_threads is not None:
            check_positive(self.n_threads, "n_threads", integer=True)
        return self._fit(X, y)

    def _limited_lbfgs(self, X: np.ndarray, Y: np.ndarray, C: float, max_iter: int):
        """:meth:`_lbfgs` under the ``n_threads`` BLAS limit (the kernel solver's few large products run outside it)."""
        if self.n_threads is None:
            return self._lbfgs(X, Y, C, max_iter)
        with threadpool_limits(limits=int(self.n_threads), user_api="blas"):
            return self._lbfgs(X, Y, C, max_iter)

    def _fit(self, X, y):
        X, y = validate_data(self, X, y, dtype=[np.float32, np.float64], order="C")
        check_classification_targets(y)
        C = check_positive(self.C, "C")
        max_iter = check_positive(self.max_iter, "max_iter", integer=True)
        if self.solver not in ("auto", "primal", "kernel"):
            raise VisionkitError(f"solver: expected 'auto', 'primal' or 'kernel', got {self.solver!r}")
        self.classes_, yi = np.unique(y, return_inverse=True)
        k = len(self.classes_)
        if k < 2:
            raise VisionkitError(f"y: expected at least 2 classes, got 1 class ({self.classes_.tolist()})")
        n, d = X.shape
        cols = 1 if k == 2 else k
        Y = -np.ones((n, cols), dtype=X.dtype)
        if k == 2:
            Y[yi == 1, 0] = 1
        else:
            Y[np.arange(n), yi] = 1
        solver = self.solver if self.solver != "auto" else ("kernel" if d > 2 * n else "primal")
        self.solver_ = solver
        if solver == "kernel":
            # Empirical kernel map: with K = X X^T = U S U^T, the rows of Z = U S^(1/2) have the
            # same inner products as those of X, and w = X^T U S^(-1/2) v turns a linear SVM v on
            # Z into the one on X with the same margins and norm: same objective, n instead of d unknowns.
            K = (X @ X.T).astype(np.float64)
            vals, vecs = np.linalg.eigh(K)
            keep = vals > max(float(vals[-1]), 1e-300) * 1e-10
            vals, vecs = vals[keep], vecs[:, keep]
            Z = (vecs * np.sqrt(vals)).astype(X.dtype)
            V, b, nit = self._limited_lbfgs(Z, Y, C, max_iter)
            # (n x r) @ (r x cols) first: X.T @ (n x r) would be a d x r temporary, as large as X itself
            self.coef_ = (X.T @ ((vecs / np.sqrt(vals)) @ V).astype(X.dtype)).T.astype(np.float64)
        else:
            W, b, nit = self._limited_lbfgs(X, Y, C, max_iter)
            self.coef_ = W.T.copy()
        self.intercept_ = b
        self.n_iter_ = nit
        return self

    def _lbfgs(self, X: np.ndarray, Y: np.ndarray, C: float, max_iter: int) -> tuple[np.ndarray, np.ndarray, int]:
        """Minimise the one-vs-rest squared-hinge objective over (W, b) by L-BFGS; W is (d, cols)."""
        n, d = X.shape
        cols = Y.shape[1]
        dt = X.dtype
        fi = bool(self.fit_intercept)

        def fun(theta: np.ndarray):
            W = theta[: d * cols].reshape(d, cols).astype(dt)
            b = theta[d * cols :].astype(dt) if fi else np.zeros(cols, dt)
            m = 1.0 - Y * (X @ W + b)
            np.maximum(m, 0, out=m)
            loss = 0.5 * float(np.dot(theta[: d * cols], theta[: d * cols])) + C * float(np.einsum("ij,ij->", m, m, dtype=np.float64))
            G = (-2.0 * C) * Y * m
            gW = theta[: d * cols].reshape(d, cols) + (X.T @ G).astype(np.float64)
            grad = [gW.ravel()]
            if fi:
                grad.append(G.sum(axis=0, dtype=np.float64))
            return loss, np.concatenate(grad)

        options = {"maxiter": max_iter, "gtol": float(self.tol) * max(n, 1) * C, "ftol": float(self.tol), "maxcor": 20}
        res = optimize.minimize(fun, np.zeros(d * cols + (cols if fi else 0)), jac=True, method="L-BFGS-B", options=options)
        W = res.x[: d * cols].reshape(d, cols)
        b = res.x[d * cols :].copy() if fi else np.zeros(cols)
        return W, b, int(res.nit)

    def decision_function(self, X):
        check_is_fitted(self, "coef_")
        X = validate_data(self, X, dtype=[np.float32, np.float64], reset=False)
        s = X @ self.coef_.T.astype(X.dtype) + self.intercept_.astype(X.dtype)
        return s.ravel() if s.shape[1] == 1 else s

    def predict(self, X):
        s = self.decision_function(X)
        if s.ndim == 1:
            return self.classes_[(s > 0).astype(int)]
        return self.classes_[s.argmax(axis=1)]


class Chi2SVC(ClassifierMixin, BaseEstimator):
    """SVM with the exact chi-squared kernel ``exp(-gamma sum_k (x_k - y_k)^2 / (x_k + y_k))``.

    libsvm (``sklearn.svm.SVC``) on the precomputed kernel: cost O(N^2 D) to fit and O(N N_train D)
    to predict, so for small sets (a few thousand images); for more use
    ``AdditiveChi2Sampler`` + :class:`LinearSVM`. Inputs must be non-negative (histograms).

    Parameters
    ----------
    C : float
    gamma : float or "mean"
        ``"mean"``: one over the mean chi-squared distance between training samples.

    Attributes
    ----------
    classes_, X_fit_, gamma_, svc_, n_features_in_
    """

    def __init__(self, *, C: float = 10.0, gamma: float | str = "mean"):
        self.C = C
        self.gamma = gamma

    def _gamma(self, X: np.ndarray) -> float:
        if self.gamma == "mean":
            # chi2 distance = -log(chi2_kernel(gamma=1))
            sub = X[: min(len(X), 500)]
            dist = -np.log(np.maximum(chi2_kernel(sub, sub, gamma=1.0), 1e-300))
            m = float(dist[np.triu_indices(len(sub), 1)].mean()) if len(sub) > 1 else 0.0
            return 1.0 / m if m > 0 else 1.0
        return check_positive(self.gamma, "gamma")

    def fit(self, X, y):
        X, y = validate_data(self, X, y, dtype=np.float64)
        check_non_negative(X, "Chi2SVC (the chi-squared kernel needs histograms)")
        check_classification_targets(y)
        X = np.array(X, copy=True)  # chi2_kernel needs writable buffers (read-only memmaps fail)
        self.gamma_ = self._gamma(X)
        self.svc_ = SVC(kernel="precomputed", C=check_positive(self.C, "C")).fit(chi2_kernel(X, X, gamma=self.gamma_), y)
        self.classes_ = self.svc_.classes_
        self.X_fit_ = np.array(X, dtype=np.float64, copy=True)  # chi2_kernel needs writable buffers
        return self

    def _kernel(self, X):
        check_is_fitted(self, "svc_")
        X = validate_data(self, X, dtype=np.float64, reset=False)
        check_non_negative(X, "Chi2SVC (the chi-squared kernel needs histograms)")
        ref = self.X_fit_ if self.X_fit_.flags.writeable else np.array(self.X_fit_, copy=True)
        return chi2_kernel(np.array(X, copy=True), ref, gamma=self.gamma_)

    def decision_function(self, X):
        k = self._kernel(X)
        return self.svc_.decision_function(k)

    def predict(self, X):
        k = self._kernel(X)
        return self.svc_.predict(k)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.positive_only = True
        return tags


class ChunkedStandardScaler(StandardScaler):
    """``sklearn.preprocessing.StandardScaler`` whose ``fit`` reads ``chunk_size`` rows at a time.

    The statistics are scikit-learn's own (``partial_fit`` over the chunks: float64 running mean and
    variance), equal to ``StandardScaler().fit`` to rounding; the difference is memory. The plain
    ``fit`` subtracts the mean from a float64 copy of the whole matrix, twice the size of float32
    features (5.1 GB for 100,000 x 6,400), where this holds one chunk's copy. ``transform`` is
    unchanged (in place with ``copy=False``).

    Parameters
    ----------
    copy, with_mean, with_std : bool
        As ``StandardScaler``.
    chunk_size : int
        Rows per ``partial_fit`` call. With ``sample_weight`` the plain one-pass ``fit`` is used.
    """

    def __init__(self, *, copy: bool = True, with_mean: bool = True, with_std: bool = True, chunk_size: int = 4096) -> None:
        super().__init__(copy=copy, with_mean=with_mean, with_std=with_std)
        self.chunk_size = chunk_size

    def fit(self, X: Any, y: Any = None, sample_weight: Any = None) -> "ChunkedStandardScaler":
        step = check_positive(self.chunk_size, "chunk_size", integer=True)
        X = validate_data(self, X, accept_sparse=("csr", "csc"), dtype=[np.float64, np.float32], ensure_all_finite="allow-nan",
                          reset=True, copy=False)
        if sample_weight is not None:  # weighted statistics: scikit-learn's one-pass fit (not chunked)
            return super().fit(X, sample_weight=_check_sample_weight(sample_weight, X, dtype=X.dtype))
        self._reset()
        for i in range(0, X.shape[0], step):
            self.partial_fit(X[i : i + step])
        return self


def mirror_images(images: Any) -> np.ndarray | list[np.ndarray]:
    """Left-right mirrors of images (the ``W`` axis reversed), in the form they came in.

    Parameters
    ----------
    images : ndarray (N, H, W[, C]) or list of (H, W[, C]) arrays

    Returns
    -------
    ndarray (N, H, W[, C]) (a contiguous copy) or list of arrays, as ``images``.
    """
    if isinstance(images, np.ndarray) and images.ndim in (3, 4) and images.dtype != object:
        return np.ascontiguousarray(images[:, :, ::-1])
    return [np.ascontiguousarray(im[:, ::-1]) for im in as_image_list(images, name="images")]


def _concat_images(a: Any, b: Any) -> np.ndarray | list[np.ndarray]:
    if isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and a.dtype != object:
        return np.concatenate([a, b])
    return [*as_image_list(a, name="images"), *as_image_list(b, name="images")]


class MirrorAugmented(_ImageInput, MetaEstimatorMixin, ClassifierMixin, BaseEstimator):
    """Train an image classifier on the images and their left-right mirrors; average both views at test time.

    The cheapest data augmentation, and the one classical pipelines can use: a mirrored photo is as
    likely as the photo (CIFAR-10, Caltech-101), but its local descriptors and pooling cells differ,
    so the features see twice the variety. Doubles the training cost (and the test cost with
    ``test_time=True``).

    Parameters
    ----------
    estimator : classifier
        Images in (``fit(images, labels)``), with ``decision_function`` or ``predict_proba``
        (e.g. :func:`visionkit.classical.methods.make_kmeans_svm`'s pipeline).
    test_time : bool
        Average the classifier's scores on each test image and on its mirror (test-time augmentation).

    Attributes
    ----------
    estimator_ : classifier
        The fitted clone of ``estimator`` (trained on 2N images).
    classes_ : ndarray

    Examples
    --------
    >>> from visionkit.classical.methods import make_hog_svm
    >>> clf = MirrorAugmented(make_hog_svm())  # doctest: +SKIP
    >>> clf.fit(train_images, train_labels).score(test_images, test_labels)  # doctest: +SKIP
    """

    def __init__(self, estimator: Any, *, test_time: bool = True) -> None:
        self.estimator = estimator
        self.test_time = test_time

    def fit(self, X: Any, y: Any) -> "MirrorAugmented":
        """Fit a clone of ``estimator`` on ``X`` followed by its mirrors (labels repeated)."""
        if not (hasattr(self.estimator, "decision_function") or hasattr(self.estimator, "predict_proba")):
            raise VisionkitError(
                f"estimator: expected a classifier with decision_function or predict_proba, got {describe(self.estimator)}"
            )
        y = np.asarray(y)
        n = len(X)
        if y.ndim != 1 or len(y) != n:
            raise VisionkitError(f"y: expected {n} labels (one per image), got shape {y.shape}")
        self.estimator_ = clone(self.estimator).fit(_concat_images(X, mirror_images(X)), np.concatenate([y, y]))
        self.classes_ = self.estimator_.classes_
        return self

    def _scores(self, X: Any) -> np.ndarray:
        check_is_fitted(self, "estimator_")
        method = "decision_function" if hasattr(self.estimator_, "decision_function") else "predict_proba"
        s = np.asarray(getattr(self.estimator_, method)(X), dtype=np.float64)
        if self.test_time:
            s = (s + np.asarray(getattr(self.estimator_, method)(mirror_images(X)), dtype=np.float64)) / 2
        return s

    def decision_function(self, X: Any) -> np.ndarray:
        """The classifier's scores (or probabilities), averaged over each image and its mirror."""
        return self._scores(X)

    def predict(self, X: Any) -> np.ndarray:
        s = self._scores(X)
        if s.ndim == 1:
            return self.classes_[(s > 0).astype(int)]
        return self.classes_[s.argmax(axis=1)]

    def transform(self, X: Any) -> np.ndarray:
        """The fitted classifier's features of ``X`` (as given, not mirrored), when it has ``transform``."""
        check_is_fitted(self, "estimator_")
        if not hasattr(self.estimator_, "transform"):
            raise VisionkitError(f"transform: the wrapped {type(self.estimator_).__name__} has no transform")
        return self.estimator_.transform(X)
