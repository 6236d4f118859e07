"""Classifiers for the classical features, and the explicit kernel map that feeds them.

* :class:`PowerNormalizer`: signed power law and L2 norm (the explicit Hellinger map with
  ``alpha=0.5``: a linear SVM on its output is a Hellinger-kernel SVM).
* :class:`LinearSVM`: one-vs-rest linear SVM with the squared hinge (L2-SVM, as in Coates et al.
  2011), solved in the primal by L-BFGS on float32 matrix products (fast on dense features).
* :class:`Chi2SVC`: exact chi-squared-kernel SVM (libsvm on a precomputed kernel), for small sets.
* :class:`ChunkedAdditiveChi2Sampler`: scikit-learn's explicit chi-squared map, a chunk of rows at a
  time (the same numbers, a fraction of the temporary memory).
* :class:`RBFNystroem`: the Nystroem approximation of the Gaussian (RBF) kernel's feature map
  (Williams & Seeger 2001), so that :class:`LinearSVM` on its output approximates a Gaussian-kernel
  SVM on tens of thousands of images (pure functions :func:`rbf_kernel_f32`,
  :func:`nystroem_normalization`, :func:`nystroem_map`).
* :class:`RBFRidgeClassifier`: a Gaussian-kernel machine with the squared loss (kernel ridge on
  one-vs-rest +-1 targets, the least-squares SVM) on a Nystroem subset of regressors, solved exactly
  and in blocks of rows, so that tens of thousands of landmarks fit in a few GiB (pure function
  :func:`rbf_ridge_coefs`).
"""

from __future__ import annotations

import warnings
from contextlib import nullcontext
from typing import Any

import numpy as np
from scipy import optimize
from sklearn.base import BaseEstimator, ClassifierMixin, TransformerMixin
from sklearn.kernel_approximation import AdditiveChi2Sampler
from sklearn.metrics.pairwise import chi2_kernel
from sklearn.svm import SVC
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, check_non_negative, validate_data
from threadpoolctl import threadpool_limits

from .._validate import VisionkitError, check_positive

__all__ = ["PowerNormalizer", "ChunkedAdditiveChi2Sampler", "LinearSVM", "Chi2SVC", "RBFNystroem", "rbf_kernel_f32",
           "nystroem_normalization", "nystroem_map", "RBFRidgeClassifier", "rbf_ridge_coefs"]


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


class ChunkedAdditiveChi2Sampler(AdditiveChi2Sampler):
    """``sklearn.kernel_approximation.AdditiveChi2Sampler`` whose ``transform`` maps ``chunk_size`` rows at a time.

    The map is scikit-learn's, row by row, so the numbers are the same to the last bit; the difference is
    memory. scikit-learn's dense ``transform`` builds its ``2 * sample_steps - 1`` blocks as separate
    arrays of the input's size, plus masks and logarithms, and then stacks them: about 3.5 times the
    output at once (HOG of 200,000 images, 2,088 float32 each: an output of 5.0 GB, a peak of ~17 GB).
    Here the output is allocated once and filled a chunk at a time.

    Parameters
    ----------
    sample_steps, sample_interval
        As ``AdditiveChi2Sampler``.
    chunk_size : int
        Rows mapped at a time (sparse input is mapped whole, as scikit-learn does).
    """

    def __init__(self, *, sample_steps: int = 2, sample_interval: float | None = None, chunk_size: int = 8192) -> None:
        super().__init__(sample_steps=sample_steps, sample_interval=sample_interval)
        self.chunk_size = chunk_size

    def transform(self, X):
        """The explicit feature map of ``X`` (n_samples, n_features): (n_samples, n_features * (2 * sample_steps - 1))."""
        step = check_positive(self.chunk_size, "chunk_size", integer=True)
        if not isinstance(X, np.ndarray) or X.ndim != 2 or X.shape[0] <= step:
            return super().transform(X)
        out = None
        for i in range(0, X.shape[0], step):
            part = super().transform(X[i:i + step])
            if out is None:
                out = np.empty((X.shape[0], part.shape[1]), dtype=part.dtype)
            out[i:i + len(part)] = part
        return out


def _one_vs_rest_targets(est: BaseEstimator, y: np.ndarray, dtype: Any) -> np.ndarray:
    """Set ``est.classes_`` and return the one-vs-rest targets: +1 for the class, -1 for the others.

    One column for two classes (the second class is +1, as scikit-learn's linear classifiers), else
    one per class. Fewer than two classes is an error.
    """
    est.classes_, yi = np.unique(y, return_inverse=True)
    k = len(est.classes_)
    if k < 2:
        raise VisionkitError(f"y: expected at least 2 classes, got 1 class ({est.classes_.tolist()})")
    Y = -np.ones((len(yi), 1 if k == 2 else k), dtype=dtype)
    if k == 2:
        Y[yi == 1, 0] = 1
    else:
        Y[np.arange(len(yi)), yi] = 1
    return Y


class _OneVsRestPredict:
    """``predict`` from a ``decision_function`` whose columns are :func:`_one_vs_rest_targets`'s."""

    def predict(self, X):
        s = self.decision_function(X)
        if s.ndim == 1:
            return self.classes_[(s > 0).astype(int)]
        return self.classes_[s.argmax(axis=1)]


class LinearSVM(_OneVsRestPredict, ClassifierMixin, BaseEstimator):
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
        spinning on a busy shared machine made small fits many times slower
        (``benchmarks/RESULTS_redesign.md``). The limit covers the whole fit, the kernel solver's two
        large products (``X X^T`` and the weights) included: OpenBLAS's float32 products round
        differently with 1 and 2 threads (3e-4 on a 200 x 200 Gram matrix of values ~750), which moved
        the SVM enough to flip predictions, so a Dask worker (one thread) and a local run (all of
        them) disagreed; under one fixed thread count the fit is the same everywhere.

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
        from .._progress import stage

        shape = getattr(X, "shape", None)
        if self.n_threads is not None:
            check_positive(self.n_threads, "n_threads", integer=True)
        limit = threadpool_limits(limits=int(self.n_threads), user_api="blas") if self.n_threads is not None else nullcontext()
        with stage(f"linear SVM fit ({shape[0]:,} x {shape[1]:,})" if shape is not None and len(shape) == 2 else "linear SVM fit"), limit:
            return self._fit(X, y)

    def _fit(self, X, y):
        X, y = validate_data(self, X, y, dtype=[np.float32, np.float64], order="C")
        check_classification_targets(y)
        C = check_positive(self.C, "C")
        max_iter = check_positive(self.max_iter, "max_iter", integer=True)
        if self.solver not in ("auto", "primal", "kernel"):
            raise VisionkitError(f"solver: expected 'auto', 'primal' or 'kernel', got {self.solver!r}")
        Y = _one_vs_rest_targets(self, y, X.dtype)
        n, d = X.shape
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
            V, b, nit = self._lbfgs(Z, Y, C, max_iter)
            # (n x r) @ (r x cols) first: X.T @ (n x r) would be a d x r temporary, as large as X itself
            self.coef_ = (X.T @ ((vecs / np.sqrt(vals)) @ V).astype(X.dtype)).T.astype(np.float64)
        else:
            W, b, nit = self._lbfgs(X, Y, C, max_iter)
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
        from .._progress import stage

        with stage(f"chi2 kernel SVM fit ({X.shape[0]:,} x {X.shape[0]:,} kernel)"):
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


def rbf_kernel_f32(X: np.ndarray, Y: np.ndarray, gamma: float) -> np.ndarray:
    """Gaussian kernel ``exp(-gamma ||x - y||^2)`` between the rows of ``X`` (n, d) and ``Y`` (m, d).

    Computed as ``||x||^2 + ||y||^2 - 2 x . y`` with one matrix product in the inputs' float dtype
    (float32 stays float32: ``sklearn.metrics.pairwise.rbf_kernel`` upcasts float32 blocks to float64,
    several times slower on 50 000 x 15 552 features); squared distances are clipped at 0.

    Returns
    -------
    ndarray (n, m), the dtype of ``X``
    """
    d2 = X @ Y.T
    d2 *= -2
    d2 += np.einsum("ij,ij->i", X, X)[:, None]
    d2 += np.einsum("ij,ij->i", Y, Y)[None, :]
    np.maximum(d2, 0, out=d2)
    d2 *= -gamma
    return np.exp(d2, out=d2)


def nystroem_normalization(K: np.ndarray) -> np.ndarray:
    """``K^(-1/2)`` of the landmarks' kernel matrix ``K`` (m, m), eigenvalues below ``1e-12 max`` dropped.

    ``rbf(X, landmarks) @ K^(-1/2)`` are features whose inner products approximate the kernel
    (the same symmetric normalisation as ``sklearn.kernel_approximation.Nystroem``, float64 inside).
    """
    w, V = np.linalg.eigh(np.asarray(K, dtype=np.float64))
    keep = w > max(float(w[-1]), 1e-300) * 1e-12
    V, w = V[:, keep], w[keep]
    return (V / np.sqrt(w)) @ V.T


def nystroem_map(X: np.ndarray, landmarks: np.ndarray, normalization: np.ndarray, gamma: float, *,
                 batch_size: int = 4096, progress: bool = False) -> np.ndarray:
    """The Nystroem features ``rbf(X, landmarks) @ normalization`` in batches of ``batch_size`` rows.

    Parameters
    ----------
    X : ndarray (n, d), float32 or float64
    landmarks : ndarray (m, d)
    normalization : ndarray (m, m), :func:`nystroem_normalization` of the landmarks' kernel
    gamma : float
    batch_size : int
        Rows per batch: the peak temporary is ``batch_size x m`` values.

    Returns
    -------
    ndarray (n, m), the dtype of ``X``
    """
    from .._progress import progress_bar

    L = landmarks.astype(X.dtype, copy=False)
    P = normalization.astype(X.dtype, copy=False)
    out = np.empty((len(X), len(L)), dtype=X.dtype)
    for i in progress_bar(range(0, len(X), batch_size), desc="Nystroem map", unit="batch", force=progress):
        out[i : i + batch_size] = rbf_kernel_f32(np.asarray(X[i : i + batch_size]), L, gamma) @ P
    return out


class RBFNystroem(TransformerMixin, BaseEstimator):
    """Approximate feature map of the Gaussian kernel ``exp(-gamma ||x - y||^2)`` (Nystroem method).

    ``n_components`` training rows drawn with ``random_state`` are the landmarks ``L``; a row ``x``
    maps to ``k(x, L) K_LL^(-1/2)``, so that a linear classifier on the output approximates the
    kernel machine (exactly, on the span of the landmarks). Same landmarks and same features as
    ``sklearn.kernel_approximation.Nystroem(kernel="rbf")`` for the same ``random_state``, computed
    in float32 batches (see :func:`rbf_kernel_f32`).

    Parameters
    ----------
    n_components : int
        Landmarks: the output's width. With fewer training rows, every row is a landmark (the exact
        kernel, a narrower output) and a ``UserWarning`` says so, as scikit-learn's ``Nystroem``.
    gamma : float or "scale"
        ``"scale"``: ``1 / (n_features * X.var())``, scikit-learn ``SVC``'s default (``1 / d`` on
        standardised features, whose mean squared distance is ``2 d``).
    batch_size : int
        Rows per batch in :meth:`transform`.
    random_state : int, RandomState or None
    progress : bool
        A progress bar over batches.

    Attributes
    ----------
    landmarks_ : ndarray (n_components, n_features)
    normalization_ : ndarray (n_components, n_components)
    gamma_ : float
    n_features_in_ : int

    Examples
    --------
    >>> import numpy as np
    >>> X = np.random.default_rng(0).normal(size=(200, 5)).astype(np.float32)
    >>> Z = RBFNystroem(n_components=50, random_state=0).fit_transform(X)
    >>> Z.shape, Z.dtype
    ((200, 50), dtype('float32'))
    """

    def __init__(self, *, n_components: int = 4096, gamma: float | str = "scale", batch_size: int = 4096,
                 random_state: Any = None, progress: bool = False):
        self.n_components = n_components
        self.gamma = gamma
        self.batch_size = batch_size
        self.random_state = random_state
        self.progress = progress

    def fit(self, X, y=None):
        from .._progress import stage

        X = validate_data(self, X, dtype=[np.float32, np.float64])
        m = check_positive(self.n_components, "n_components", integer=True)
        check_positive(self.batch_size, "batch_size", integer=True)
        n = len(X)
        if m > n:  # as scikit-learn's Nystroem: every row a landmark, the exact kernel
            warnings.warn(f"n_components={m} is more than the {n} training rows: all {n} are landmarks, "
                          f"so the map is the exact kernel's and {n} wide", UserWarning, stacklevel=2)
            m = n
        if isinstance(self.gamma, str):
            if self.gamma != "scale":
                raise VisionkitError(f"gamma: expected a positive float or 'scale', got {self.gamma!r}")
            var = float(X.var(dtype=np.float64))
            self.gamma_ = 1.0 / (X.shape[1] * var) if var > 0 else 1.0
        else:
            self.gamma_ = float(check_positive(self.gamma, "gamma"))
        inds = check_random_state(self.random_state).permutation(n)[:m]  # sklearn Nystroem's draw
        self.landmarks_ = np.array(X[inds], copy=True)
        with stage(f"Nystroem landmarks ({m:,} x {m:,} kernel)"):
            self.normalization_ = nystroem_normalization(rbf_kernel_f32(self.landmarks_, self.landmarks_, self.gamma_))
        self.component_indices_ = inds
        return self

    def transform(self, X):
        check_is_fitted(self, "normalization_")
        X = validate_data(self, X, dtype=[np.float32, np.float64], reset=False)
        return nystroem_map(X, self.landmarks_, self.normalization_, self.gamma_, batch_size=int(self.batch_size),
                            progress=bool(self.progress))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.requires_fit = True
        return tags


def _rbf_torch(X: "torch.Tensor", L: "torch.Tensor", sq_L: "torch.Tensor", gamma: float) -> "torch.Tensor":
    """``exp(-gamma ||x - l||^2)`` between the rows of ``X`` (b, d) and ``L`` (m, d), in ``X``'s dtype, in place."""
    K = X @ L.T
    K.mul_(-2).add_((X * X).sum(1)[:, None]).add_(sq_L[None]).clamp_(min=0).mul_(-gamma).exp_()
    return K


def rbf_ridge_coefs(X: np.ndarray, Y: np.ndarray, landmarks: np.ndarray, gamma: float, alphas: list[float], *,
                    jitter: float = 1e-4, batch_size: int = 4096, progress: bool = False) -> list[np.ndarray]:
    """Coefficients of the Gaussian-kernel ridge regression of ``Y`` on ``X`` over ``landmarks`` (subset of regressors).

    With ``K_XL`` the Gaussian kernel between the rows and the ``m`` landmarks and ``C C^T = K_LL + jitter I``
    (Cholesky), the rows' Nystroem features are ``Z = K_XL C^(-T)`` and the ridge solution on them is
    ``(Z^T Z + alpha I)^(-1) Z^T Y``; the returned ``coef = C^(-T) (Z^T Z + alpha I)^(-1) Z^T Y`` gives
    the predictions ``K_TL coef`` for new rows ``T`` directly. With every row a landmark this is the
    exact kernel ridge ``(K + alpha I)^(-1) Y`` (up to ``jitter``).

    ``Z`` is never stored: the lower triangle of ``Z^T Z`` (float64, held as row blocks) and ``Z^T Y``
    are summed over blocks of ``batch_size`` rows (float32 products). The factor ``C`` is factorised
    in float64 and kept in float32; it waits in a temporary file (``tempfile``'s directory) while
    ``Z^T Z`` is factorised, so that the two never share memory. The peak is about ``8 m^2`` bytes
    besides ``X`` whatever the number of rows (2.1 GB for 16,384 landmarks, 4.6 GB for 24,000), plus
    about ``8 batch_size m + 12,288 m`` bytes of block temporaries and ``8 m^2`` for each ``alpha``
    after the first; where the temporary directory is a RAM disk (``tmpfs``) the factor's ``4 m^2``
    bytes stay in memory there. (The first version held ``Z^T Z`` whole and the factor throughout:
    ``12 m^2``.)

    Parameters
    ----------
    X : ndarray (n, d), float32 or float64
    Y : ndarray (n, k)
        Targets (e.g. +-1 one-vs-rest).
    landmarks : ndarray (m, d)
    gamma : float
    alphas : list of float
        Ridge penalties; one coefficient matrix each, for the price of one pass over ``X``.
    jitter : float
        Added to the diagonal of ``K_LL`` (whose diagonal is 1) so that its Cholesky factor exists
        when landmarks (nearly) coincide.
    batch_size : int
    progress : bool

    Returns
    -------
    list of ndarray (m, k), float64, one per alpha
    """
    import tempfile

    import torch

    from .._progress import progress_bar

    m, k = len(landmarks), Y.shape[1]
    step = 1024  # rows of Z^T Z per block: its lower triangle is held as ceil(m / step) row blocks
    with tempfile.TemporaryFile(prefix="visionkit-landmark-factor-") as spill:
        C = _landmark_factor(landmarks, gamma, jitter, spill)
        L = torch.from_numpy(np.ascontiguousarray(landmarks, dtype=np.float32))
        sq_L = (L * L).sum(1)
        blocks = [torch.zeros(min(step, m - r), min(r + step, m), dtype=torch.float64) for r in range(0, m, step)]
        R = torch.zeros(m, k, dtype=torch.float64)
        Yt = torch.from_numpy(np.ascontiguousarray(Y, dtype=np.float32))
        for i in progress_bar(range(0, len(X), batch_size), desc="kernel ridge", unit="batch", force=progress):
            Xb = torch.from_numpy(np.ascontiguousarray(X[i : i + batch_size], dtype=np.float32))
            Zt = torch.linalg.solve_triangular(C, _rbf_torch(Xb, L, sq_L, gamma).T, upper=False)  # (m, b)
            for b, r in enumerate(range(0, m, step)):
                blocks[b] += Zt[r : r + step] @ Zt[: r + step].T
            R += (Zt @ Yt[i : i + batch_size]).double()
            del Zt
        del C, L  # the factor waits in the file
        G = _lower_from_blocks(blocks, m)
        coefs = []
        for j, alpha in enumerate(alphas):
            H = G if j == len(alphas) - 1 else G.clone()  # each extra alpha holds a copy of G
            H.diagonal().add_(float(alpha))
            _cholesky_in_place(H)
            coefs.append(torch.linalg.solve_triangular(H.mT, torch.linalg.solve_triangular(H, R, upper=False), upper=True))
            del H
        del G
        C64 = _read_factor(spill, m, torch.float64)
    return [torch.linalg.solve_triangular(C64.mT, s, upper=True).numpy() for s in coefs]


def _landmark_factor(landmarks: np.ndarray, gamma: float, jitter: float, spill: Any) -> "torch.Tensor":
    """The lower Cholesky factor of ``K_LL + jitter I`` (computed in float64), as float32, also written to ``spill``.

    The float64 matrix is written to ``spill`` in float32 row chunks and freed before the float32
    factor is read back, so the two never share memory (``8 m^2`` bytes at the peak, not ``12 m^2``).
    """
    import torch

    L64 = torch.from_numpy(np.asarray(landmarks, dtype=np.float64))
    Kmm = _rbf_torch(L64, L64, (L64 * L64).sum(1), gamma)  # float64: float32 rounding breaks definiteness
    del L64
    Kmm.diagonal().add_(float(jitter))
    try:
        _cholesky_in_place(Kmm)
    except RuntimeError as e:  # torch.linalg.LinAlgError subclasses RuntimeError
        raise VisionkitError(f"jitter: the landmarks' kernel matrix plus jitter={jitter:g} I is not positive definite "
                             f"in float64 ({e}); expected a larger jitter") from None
    spill.seek(0)
    for a in range(0, len(Kmm), 1024):
        spill.write(Kmm[a : a + 1024].float().numpy())  # the array's buffer: no bytes copy
    spill.flush()
    m = len(Kmm)
    del Kmm
    return _read_factor(spill, m, torch.float32)


def _read_factor(spill: Any, m: int, dtype: "torch.dtype") -> "torch.Tensor":
    """The ``m x m`` float32 matrix written to ``spill`` by :func:`_landmark_factor`, as ``dtype``, read in row chunks."""
    import torch

    out = torch.empty(m, m, dtype=dtype)
    spill.seek(0)
    rows = 1024
    buf = np.empty((rows, m), dtype=np.float32)
    for a in range(0, m, rows):
        chunk = buf[: min(rows, m - a)]
        if spill.readinto(memoryview(chunk).cast("B")) != chunk.nbytes:
            raise OSError("the temporary file of the landmarks' factor was cut short")
        out[a : a + len(chunk)] = torch.from_numpy(chunk)
    return out


def _lower_from_blocks(blocks: list["torch.Tensor"], m: int) -> "torch.Tensor":
    """An ``m x m`` float64 matrix whose lower triangle is read from the row blocks, freed one by one.

    Rows are written (upper part zeroed) block by block into an uninitialised matrix while each block is
    released, so the memory never holds the full matrix and all the blocks at once.
    """
    import torch

    G = torch.empty(m, m, dtype=torch.float64)
    r = 0
    while blocks:
        block = blocks.pop(0)
        b, w = block.shape
        G[r : r + b, :w] = block
        G[r : r + b, w:] = 0
        r += b
        del block
    return G


def _cholesky_in_place(A: "torch.Tensor") -> "torch.Tensor":
    """Overwrite the symmetric float64 ``A`` (only its lower triangle is read) with its lower Cholesky factor.

    ``torch.linalg.cholesky(A, out=A)`` copies ``A`` into LAPACK's column-major order first (a second
    ``m x m`` matrix: 2.1 GB at 16,384); the transposed view already is column-major, so this does not.
    """
    import torch

    torch.linalg.cholesky(A.mT, upper=True, out=A.mT)
    return A.tril_()


class RBFRidgeClassifier(_OneVsRestPredict, ClassifierMixin, BaseEstimator):
    """Gaussian-kernel ridge classifier (least-squares SVM), on ``n_components`` landmarks, solved exactly.

    Regresses the one-vs-rest targets (+1 for the class, -1 for the others; one column for two
    classes, as ``sklearn.linear_model.RidgeClassifier``) on the Gaussian kernel
    ``exp(-gamma ||x - y||^2)`` restricted to ``n_components`` training rows drawn with
    ``random_state`` (the Nystroem subset of regressors, :func:`rbf_ridge_coefs`), and predicts the
    class with the largest output. With every training row a landmark it is exact kernel ridge
    regression (``sklearn.kernel_ridge.KernelRidge(kernel="rbf")`` on the same targets), the
    square-loss version of a Gaussian SVM. Unlike :class:`RBFNystroem` followed by :class:`LinearSVM`,
    the ``n x m`` map is never stored, so the landmarks can be many: on CIFAR-10's scattering
    coefficients, the machine needs most training rows as landmarks to come near the exact kernel
    (``benchmarks/bench_scattering_kernel.py``).

    Parameters
    ----------
    alpha : float
        Ridge penalty (``KernelRidge``'s ``alpha``).
    n_components : int
        Landmarks. Memory peaks at about ``8 n_components^2`` bytes (2.1 GB for 16,384) besides the
        features, and time grows as ``n_samples n_components^2``. With fewer training rows, every
        row is a landmark and a ``UserWarning`` says so.
    gamma : float, "mean" or "scale"
        ``"mean"``: the inverse of the mean squared distance between training rows,
        ``1 / (2 sum_j var(x_j))`` (``1 / 2d`` on standardised features); ``"scale"``: ``1 / (d X.var())``,
        ``sklearn.svm.SVC``'s default.
    jitter : float
        Added to the diagonal of the landmarks' kernel before its Cholesky factorisation.
    batch_size : int
        Rows per block (the temporary is ``batch_size x n_components`` floats).
    random_state : int, RandomState or None
        The landmarks' draw (``sklearn.kernel_approximation.Nystroem``'s).
    progress : bool

    Attributes
    ----------
    classes_ : ndarray (n_classes,)
    landmarks_ : ndarray (m, n_features), float32
    dual_coef_ : ndarray (m, 1) for two classes, else (m, n_classes)
    gamma_ : float
    component_indices_ : ndarray (m,)
    n_features_in_ : int

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(300, 2)).astype(np.float32)
    >>> y = (np.hypot(X[:, 0], X[:, 1]) > 1.2).astype(int)  # a disc: no linear classifier separates it
    >>> clf = RBFRidgeClassifier(alpha=0.1, n_components=100, random_state=0).fit(X, y)
    >>> clf.score(X, y) > 0.95
    True
    """

    def __init__(self, *, alpha: float = 0.01, n_components: int = 16384, gamma: float | str = "mean",
                 jitter: float = 1e-4, batch_size: int = 4096, random_state: Any = None, progress: bool = False):
        self.alpha = alpha
        self.n_components = n_components
        self.gamma = gamma
        self.jitter = jitter
        self.batch_size = batch_size
        self.random_state = random_state
        self.progress = progress

    def _gamma(self, X: np.ndarray) -> float:
        if isinstance(self.gamma, str):
            if self.gamma not in ("mean", "scale"):
                raise VisionkitError(f"gamma: expected a positive float, 'mean' or 'scale', got {self.gamma!r}")
            from .stacking import column_moments

            mean, var = column_moments(X)  # without a float64 copy of X
            if self.gamma == "mean":
                total = 2.0 * float(var.sum())
                return 1.0 / total if total > 0 else 1.0
            v = float(var.mean() + ((mean - mean.mean()) ** 2).mean())  # X.var() over all entries
            return 1.0 / (X.shape[1] * v) if v > 0 else 1.0
        return float(check_positive(self.gamma, "gamma"))

    def fit(self, X, y):
        from .._progress import stage

        X, y = validate_data(self, X, y, dtype=[np.float32, np.float64], order="C")
        check_classification_targets(y)
        alpha = check_positive(self.alpha, "alpha")
        m = check_positive(self.n_components, "n_components", integer=True)
        check_positive(self.batch_size, "batch_size", integer=True)
        jitter = check_positive(self.jitter, "jitter")
        Y = _one_vs_rest_targets(self, y, np.float32)
        n = len(X)
        if m > n:
            warnings.warn(f"n_components={m} is more than the {n} training rows: all {n} are landmarks "
                          f"(exact kernel ridge)", UserWarning, stacklevel=2)
            m = n
        self.gamma_ = self._gamma(X)
        inds = check_random_state(self.random_state).permutation(n)[:m]
        self.component_indices_ = inds
        self.landmarks_ = np.array(X[inds], dtype=np.float32)
        with stage(f"Gaussian kernel ridge fit ({n:,} rows, {m:,} landmarks)"):
            self.dual_coef_ = rbf_ridge_coefs(X, Y, self.landmarks_, self.gamma_, [alpha], jitter=jitter,
                                              batch_size=int(self.batch_size), progress=bool(self.progress))[0]
        return self

    def decision_function(self, X):
        """The ``n_classes`` ridge outputs (one column, raveled, for two classes), float64.

        Computed in the dtype of ``X`` (the fit computes in float32 whatever the input's dtype).
        """
        import torch

        check_is_fitted(self, "dual_coef_")
        X = validate_data(self, X, dtype=[np.float32, np.float64], reset=False)
        # in X's dtype: float64 rows get float64 kernels (a row's output then does not depend on the batch)
        L = torch.from_numpy(self.landmarks_.astype(X.dtype))
        sq_L = (L * L).sum(1)
        coef = torch.from_numpy(self.dual_coef_.astype(X.dtype))
        step = int(check_positive(self.batch_size, "batch_size", integer=True))
        out = np.empty((len(X), coef.shape[1]), dtype=np.float64)
        for i in range(0, len(X), step):
            Xb = torch.from_numpy(np.ascontiguousarray(X[i : i + step]))
            out[i : i + step] = (_rbf_torch(Xb, L, sq_L, self.gamma_) @ coef).numpy()
        return out.ravel() if out.shape[1] == 1 else out
