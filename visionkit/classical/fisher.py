"""Fisher vectors and VLAD: each image's local descriptors described by how they deviate from a vocabulary.

A bag of visual words keeps, per word, a count. The Fisher vector (Perronnin & Dance 2007; the
"improved" one of Perronnin, Sanchez & Mensink 2010) keeps, per Gaussian of a diagonal mixture
``p(x) = sum_k w_k N(x; mu_k, diag(sigma_k^2))`` learnt on descriptors, the first and second moments
of the descriptors around it, weighted by the posteriors ``gamma_ik = p(k | x_i)``:

``G_mu_k    = 1 / (N sqrt(w_k))   sum_i gamma_ik (x_i - mu_k) / sigma_k``
``G_sigma_k = 1 / (N sqrt(2 w_k)) sum_i gamma_ik [(x_i - mu_k)^2 / sigma_k^2 - 1]``

(``2 K D`` numbers; optionally the ``K`` mixture-weight terms ``(sum_i gamma_ik / N - w_k) / sqrt(w_k)``
first), then the signed square root and an L2 normalisation (the "improved" FV). VLAD (Jegou et al.
2010) is its hard-assignment, first-order cousin: per k-means word, the sum of the residuals
``x_i - c_k`` of the descriptors nearest to it (:func:`visionkit.classical.bovw.encode`).

The pipeline of Chatfield et al. (BMVC 2011), which :class:`FisherVectors` follows: dense SIFT at
several scales (:func:`~visionkit.classical.descriptors.dsift`), reduced by PCA (128 -> 80), the
descriptor's ``(y, x)`` position in the image appended (centred on the image, in [-0.5, 0.5]:
Sanchez et al. 2012), a 256-mode diagonal GMM, and one Fisher vector for each cell of a spatial pyramid
(whole image, 2 x 2 quadrants, 3 horizontal bands: 8 cells). Each cell's FV is that of its own
descriptors (:func:`fisher_vector` of them), power- and L2-normalised on its own, then divided by
``sqrt(n_cells)`` so the whole vector has unit norm. A linear SVM then does the rest.

Against ``skimage.feature.fisher_vector``: the same numbers for the same GMM to float tolerance
(tested), with ``mixture_weights=True`` and the variance block's sign flipped: skimage's
``d_sigma`` is ``-G_sigma`` above (the formula of Sanchez et al. 2013 IJCV, eq. 18-19, has
``+``). The sign does not change what a linear SVM can learn. What skimage lacks for this pipeline:
spatial pyramids (one FV per set of descriptors), float32 (its posteriors go through scikit-learn's
float64 ``predict_proba``: 194 ms for 12,000 x 82 descriptors and 256 modes on one thread, against
51 ms here in float32 and 139 ms in float64, ``benchmarks/bench_fisher.py``), and a GMM it can fit
in time (``learn_gmm`` is scikit-learn's ``GaussianMixture``, whose k-means start alone ran over ten
minutes on 250,000 descriptors here; :class:`DiagonalGMM` fits in about 90 s).

Dtype rule: float64 descriptors are encoded in float64; any other dtype in float32.
"""

from __future__ import annotations

import math
import time
from functools import partial
from typing import Any, Literal, Sequence

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.cluster import MiniBatchKMeans
from sklearn.decomposition import PCA
from sklearn.utils.validation import check_is_fitted, validate_data

from .._validate import VisionkitError, check_positive, describe
from .._progress import stage
from .bovw import _descriptor_fn, _encode_images, _run_chunks, check_pyramid, encode, pyramid_cells
from .preprocessing import _ImageInput, as_image_list
from .sift import LocalFeatures

__all__ = ["DiagonalGMM", "gmm_posteriors", "fisher_vector", "fisher_encode", "FisherVectors"]

ENCODINGS = ("fisher", "vlad")


def _float(x: Any) -> np.ndarray:
    """The dtype rule: float64 stays float64, everything else becomes float32."""
    a = np.asarray(x)
    return a if a.dtype == np.float64 else a.astype(np.float32)


def _gmm_arrays(gmm: Any, dtype: np.dtype) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(weights (K,), means (K, D), variances (K, D))`` of a diagonal GMM, in ``dtype``."""
    try:
        w, mu, var = (np.asarray(getattr(gmm, a), dtype=np.float64) for a in ("weights_", "means_", "covariances_"))
    except AttributeError:
        raise VisionkitError(
            f"gmm: expected a fitted diagonal Gaussian mixture (weights_, means_, covariances_, e.g. "
            f"GaussianMixture(covariance_type='diag')), got {describe(gmm)}"
        ) from None
    if mu.ndim != 2 or var.shape != mu.shape or w.shape != (mu.shape[0],):
        raise VisionkitError(
            f"gmm: expected weights (K,), means (K, D) and diagonal covariances (K, D), got shapes "
            f"{w.shape}, {mu.shape}, {var.shape} (covariance_type must be 'diag')"
        )
    if (var <= 0).any() or (w <= 0).any():
        raise VisionkitError("gmm: expected positive weights and variances")
    return w.astype(dtype), mu.astype(dtype), var.astype(dtype)


def _check_descriptors(descriptors: Any, d: int) -> np.ndarray:
    x = _float(descriptors)
    if x.ndim != 2 or x.shape[1] != d:
        raise VisionkitError(f"descriptors: expected shape (M, {d}) to match the GMM, got {describe(descriptors)}")
    if not np.isfinite(x).all():
        raise VisionkitError(f"descriptors: expected finite values, got {int((~np.isfinite(x)).sum())} NaN or infinite")
    return x


def _posteriors(x: np.ndarray, w: np.ndarray, mu: np.ndarray, var: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Posteriors (M, K) and each row's log-likelihood (M,), from one matrix product."""
    prec = 1 / var
    const = np.log(w) - 0.5 * (np.log(var).sum(1) + (mu * mu * prec).sum(1) + mu.shape[1] * np.log(2 * np.pi)).astype(x.dtype)
    lp = np.concatenate([x * x, x], axis=1) @ np.concatenate([-0.5 * prec, mu * prec], axis=1).T
    lp += const
    top = lp.max(axis=1, keepdims=True)
    lp -= top
    np.exp(lp, out=lp)
    total = lp.sum(axis=1, keepdims=True)
    lp /= total
    return lp, (top + np.log(total)).ravel()


def gmm_posteriors(descriptors: np.ndarray, gmm: Any) -> np.ndarray:
    """Posterior ``p(k | x_i)`` of each mode of a diagonal GMM for each descriptor.

    The log-likelihoods come from one matrix product, ``[x^2, x] @ [-1 / (2 sigma^2), mu / sigma^2]^T``
    plus a constant per mode, then a log-sum-exp.

    Parameters
    ----------
    descriptors : ndarray, shape (M, D)
    gmm : DiagonalGMM, GaussianMixture(covariance_type="diag"), or any object with ``weights_``
        (K,), ``means_`` (K, D) and ``covariances_`` (K, D)

    Returns
    -------
    ndarray, shape (M, K)
        Rows sum to 1; float64 for float64 descriptors, else float32.
    """
    x = _float(descriptors)
    w, mu, var = _gmm_arrays(gmm, x.dtype)
    return _posteriors(_check_descriptors(x, mu.shape[1]), w, mu, var)[0]


class DiagonalGMM(BaseEstimator):
    """A Gaussian mixture with diagonal covariances, fitted by EM in float32: the Fisher vector's vocabulary.

    scikit-learn's ``GaussianMixture`` (which ``skimage.feature.learn_gmm`` wraps) initialises with a
    full Lloyd k-means and runs EM in float64; on 250,000 x 82 descriptors and 256 modes its k-means
    alone ran for over ten minutes on two shared cores. Here: mini-batch k-means for the start, then
    at most ``max_iter`` EM steps, each one matrix product for the posteriors (:func:`gmm_posteriors`)
    and one for the moments, stopping when the mean log-likelihood gains less than ``tol``. Each
    variance is kept above ``var_floor`` times that dimension's variance over all the data (VLFeat's
    ``vl_gmm`` bounds them likewise), so no mode collapses onto a few identical descriptors (the
    zero descriptors of flat patches).

    Parameters
    ----------
    n_modes : int
    max_iter : int
    tol : float
    var_floor : float
    random_state : int, RandomState or None

    Attributes
    ----------
    weights_ : ndarray (K,)
    means_ : ndarray (K, D)
    covariances_ : ndarray (K, D)
        The diagonal variances (scikit-learn's name and shape for ``covariance_type="diag"``).
    lower_bound_ : float
        Mean log-likelihood of the data at the last step.
    n_iter_ : int
    converged_ : bool
    """

    def __init__(self, *, n_modes: int = 256, max_iter: int = 30, tol: float = 1e-3, var_floor: float = 1e-3, random_state: Any = None):
        self.n_modes = n_modes
        self.max_iter = max_iter
        self.tol = tol
        self.var_floor = var_floor
        self.random_state = random_state

    def fit(self, X: Any, y: Any = None) -> "DiagonalGMM":
        x = validate_data(self, X, dtype=np.float32, order="C", ensure_min_samples=2)
        k = check_positive(self.n_modes, "n_modes", integer=True)
        if len(x) < k:
            raise VisionkitError(f"X: expected at least n_modes={k} rows, got n_samples={len(x)}")
        floor = np.float32(check_positive(self.var_floor, "var_floor")) * np.maximum(x.var(axis=0), np.float32(1e-12))
        km = MiniBatchKMeans(n_clusters=k, batch_size=4096, n_init=1, max_iter=20, random_state=self.random_state).fit(x)
        labels = km.labels_
        counts = np.bincount(labels, minlength=k).astype(np.float32)
        mu = km.cluster_centers_.astype(np.float32)
        sq = np.zeros((k, x.shape[1]), np.float32)
        np.add.at(sq, labels, (x - mu[labels]) ** 2)
        var = np.maximum(sq / np.maximum(counts, 1)[:, None], floor)
        w = np.maximum(counts, 1) / np.float32(max(counts.sum(), 1))
        w /= w.sum()
        prev, self.converged_, it = -np.inf, False, 0
        for it in range(1, check_positive(self.max_iter, "max_iter", integer=True) + 1):
            g, ll = _posteriors(x, w, mu, var)
            bound = float(ll.mean(dtype=np.float64))
            nk = g.sum(0) + np.float32(10 * np.finfo(np.float32).eps)
            mu = (g.T @ x) / nk[:, None]
            var = np.maximum((g.T @ (x * x)) / nk[:, None] - mu * mu, floor)
            w = nk / nk.sum()
            if bound - prev < self.tol:
                self.converged_ = True
                break
            prev = bound
        self.weights_, self.means_, self.covariances_ = w.astype(np.float32), mu.astype(np.float32), var.astype(np.float32)
        self.lower_bound_, self.n_iter_ = bound, it
        return self

    def predict_proba(self, X: Any) -> np.ndarray:
        """:func:`gmm_posteriors` of ``X``."""
        check_is_fitted(self, "means_")
        x = validate_data(self, X, dtype=[np.float64, np.float32], reset=False)
        return gmm_posteriors(x, self)


def _fisher_from_stats(s0: np.ndarray, s1: np.ndarray, s2: np.ndarray, n: np.ndarray, gmm: tuple, mixture_weights: bool) -> np.ndarray:
    """Unnormalised FVs of ``C`` sets from their sums ``s0`` (C, K), ``s1``, ``s2`` (C, K, D) and sizes ``n`` (C,)."""
    w, mu, var = gmm
    sd = np.sqrt(var)
    inv_n = (1 / np.maximum(n, 1)).astype(s0.dtype)[:, None, None]
    s0e = s0[:, :, None]
    g_mu = (s1 - s0e * mu) / (np.sqrt(w)[:, None] * sd) * inv_n
    # sum_i gamma (x - mu)^2 = s2 - 2 mu s1 + mu^2 s0
    g_var = ((s2 - 2 * mu * s1 + s0e * (mu * mu - var)) / var) / (np.sqrt(2 * w)[:, None]) * inv_n
    parts = [g_mu.reshape(len(n), -1), g_var.reshape(len(n), -1)]
    if mixture_weights:
        parts.insert(0, (s0 * inv_n[:, :, 0] - w) / np.sqrt(w))
    out = np.concatenate(parts, axis=1)
    out[n == 0] = 0.0  # an empty cell says nothing
    return out


def _normalise(v: np.ndarray, power: float | None, l2: bool) -> np.ndarray:
    """Signed power law then L2 normalisation of each row (in place)."""
    if power is not None:
        np.copysign(np.abs(v) ** v.dtype.type(power), v, out=v)
    if l2:
        v /= np.maximum(np.linalg.norm(v, axis=1, keepdims=True), v.dtype.type(1e-12))
    return v


def fisher_vector(
    descriptors: np.ndarray, gmm: Any, *, mixture_weights: bool = False, power: float | None = 0.5, l2: bool = True
) -> np.ndarray:
    """The (improved) Fisher vector of one set of descriptors under a diagonal GMM.

    Parameters
    ----------
    descriptors : ndarray, shape (M, D)
    gmm : GaussianMixture(covariance_type="diag") or an object with ``weights_``, ``means_``, ``covariances_``
    mixture_weights : bool
        Prepend the ``K`` mixture-weight gradients (skimage does; Chatfield et al. and VLFeat do not:
        they carry little).
    power : float or None
        Signed power law ``sign(v) |v| ** power`` (0.5: the "improved" FV); ``None``: none.
    l2 : bool
        L2-normalise the result.

    Returns
    -------
    ndarray, shape (2 K D,) or (K + 2 K D,)
        ``[G_w,] G_mu (K x D, row-major), G_sigma (K x D)``; all zeros for an empty set.

    References
    ----------
    .. [1] F. Perronnin, J. Sanchez, T. Mensink, "Improving the Fisher kernel for large-scale image
           classification", ECCV 2010.
    .. [2] J. Sanchez, F. Perronnin, T. Mensink, J. Verbeek, "Image classification with the Fisher
           vector: theory and practice", IJCV 2013.

    Examples
    --------
    >>> from sklearn.mixture import GaussianMixture
    >>> x = np.random.default_rng(0).normal(size=(500, 2))
    >>> gmm = GaussianMixture(4, covariance_type="diag", random_state=0).fit(x)
    >>> fisher_vector(x[:50], gmm).shape
    (16,)
    """
    x = _float(descriptors)
    arrays = _gmm_arrays(gmm, x.dtype)
    x = _check_descriptors(x, arrays[1].shape[1])
    g = gmm_posteriors(x, gmm) if len(x) else np.zeros((0, len(arrays[0])), x.dtype)
    s0 = g.sum(0)[None]
    s1 = (g.T @ x)[None]
    s2 = (g.T @ (x * x))[None]
    v = _fisher_from_stats(s0, s1, s2, np.array([len(x)]), arrays, mixture_weights)
    return _normalise(v, power, l2)[0]


def fisher_encode(
    descriptors: np.ndarray,
    relative_positions: np.ndarray,
    gmm: Any,
    *,
    pyramid: Sequence[int | tuple[int, int]] = (1, 2, (3, 1)),
    mixture_weights: bool = False,
    power: float | None = 0.5,
    l2: bool = True,
) -> np.ndarray:
    """One image's Fisher vector over a spatial pyramid: one FV per cell, each normalised on its own.

    The posteriors are computed once; the sums of each cell come from those of the "atoms" (the
    regions no level's border crosses: 8 for the default 1 + 2 x 2 + 3 x 1 pyramid), so the cost is
    one pass over the descriptors whatever the number of levels.

    Parameters
    ----------
    descriptors : ndarray, shape (M, D)
    relative_positions : ndarray, shape (M, 2)
        ``(row, col) / (H, W)`` of each descriptor, in [0, 1).
    gmm : as :func:`fisher_vector`
    pyramid : sequence of int or (rows, cols)
        Levels (:func:`visionkit.classical.bovw.pyramid_cells`).
    mixture_weights, power
        As :func:`fisher_vector`, per cell.
    l2 : bool
        L2-normalise each cell's FV, and divide all by ``sqrt(n_cells)`` (unit norm overall when no
        cell is empty).

    Returns
    -------
    ndarray, shape (n_cells * F,)
        ``F = 2 K D`` (``+ K`` with ``mixture_weights``); the cells in level order, each level's
        row-major. An empty image or cell gives zeros.
    """
    x = _float(descriptors)
    arrays = _gmm_arrays(gmm, x.dtype)
    k, d = arrays[1].shape
    x = _check_descriptors(x, d)
    levels = check_pyramid(pyramid)
    n_cells = sum(r * c for r, c in levels)
    width = 2 * k * d + (k if mixture_weights else 0)
    if len(x) == 0:
        return np.zeros(n_cells * width, dtype=x.dtype)
    rel = np.asarray(relative_positions)
    if rel.shape != (len(x), 2):
        raise VisionkitError(f"relative_positions: expected shape ({len(x)}, 2), got {rel.shape}")
    cells = [pyramid_cells(rel, L) for L in levels]
    key = np.zeros(len(x), dtype=np.int64)
    for c, (r, cc) in zip(cells, levels):
        key = key * (r * cc) + c
    _, first, inv = np.unique(key, return_index=True, return_inverse=True)
    order = np.argsort(inv, kind="stable")
    counts = np.bincount(inv)
    xx = np.concatenate([x, x * x], axis=1)[order]  # sorted by atom: each atom's rows are one slice
    gamma = gmm_posteriors(xx[:, :d], gmm)
    a0 = np.empty((len(first), k), dtype=x.dtype)
    a12 = np.empty((len(first), k, 2 * d), dtype=x.dtype)
    for a, (lo, hi) in enumerate(zip(np.r_[0, np.cumsum(counts)[:-1]], np.cumsum(counts))):
        g = gamma[lo:hi]
        a0[a] = g.sum(0)
        a12[a] = g.T @ xx[lo:hi]
    parts = []
    for c, (r, cc) in zip(cells, levels):
        member = np.zeros((r * cc, len(first)), dtype=x.dtype)  # which cell of this level each atom lies in
        member[c[first], np.arange(len(first))] = 1
        s0 = member @ a0
        s12 = (member @ a12.reshape(len(first), -1)).reshape(r * cc, k, 2 * d)
        parts.append(_fisher_from_stats(s0, s12[..., :d], s12[..., d:], member @ counts.astype(x.dtype), arrays, mixture_weights))
    v = _normalise(np.concatenate(parts), power, l2)
    if l2:
        v /= x.dtype.type(math.sqrt(n_cells))
    return v.ravel()


# ---------------------------------------------------------------------------------- estimator
def _project(f: LocalFeatures, pca_mean: np.ndarray | None, pca_components: np.ndarray | None, append_xy: bool) -> np.ndarray:
    """Descriptors PCA-projected, with ``relative position - 0.5`` appended: (M, d [+ 2]) float32."""
    x = np.asarray(f.descriptors, dtype=np.float32)
    if pca_components is not None and len(x):
        if x.shape[1] != pca_components.shape[1]:
            raise VisionkitError(
                f"descriptors: expected length {pca_components.shape[1]} as in fit, got {x.shape[1]}; "
                "images with other channel counts give other patch lengths: convert them all to grey or RGB"
            )
        x = (x - pca_mean) @ pca_components.T
    if append_xy:
        x = np.concatenate([x, (f.relative_positions - 0.5).astype(np.float32)], axis=1)
    return np.ascontiguousarray(x, dtype=np.float32)


def _sample_chunk(feats: list[LocalFeatures], chunk: int, *, per_image: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A seeded sample of at most ``per_image`` descriptors of each image, with their relative positions."""
    rng = np.random.default_rng([seed, chunk])
    xs, ps = [], []
    for f in feats:
        pick = rng.choice(len(f), per_image, replace=False) if len(f) > per_image else np.arange(len(f))
        xs.append(np.asarray(f.descriptors, np.float32)[pick])
        ps.append(f.relative_positions[pick].astype(np.float32))
    if not xs:
        return np.zeros((0, 0), np.float32), np.zeros((0, 2), np.float32)
    return np.concatenate(xs), np.concatenate(ps)


def _encode_chunk(feats: list[LocalFeatures], _chunk: int, *, encoding, pca_mean, pca_components, append_xy, model, pyramid,
                  mixture_weights, power, l2) -> np.ndarray:
    out = []
    for f in feats:
        z = _project(f, pca_mean, pca_components, append_xy)
        if encoding == "fisher":
            out.append(fisher_encode(z, f.relative_positions, model, pyramid=pyramid, mixture_weights=mixture_weights, power=power, l2=l2))
        else:
            out.append(encode(LocalFeatures(z, f.positions, f.sizes, f.shape), model, encoding="vlad", pyramid=pyramid, power=power, l2=l2))
    return np.stack(out)


class FisherVectors(_ImageInput, TransformerMixin, BaseEstimator):
    """Images in, one Fisher vector (or VLAD) per image out: a scikit-learn transformer.

    ``fit`` extracts local descriptors from (a seeded subset of) the images, samples at most
    ``max_descriptors`` of them evenly over the images, learns a PCA to ``pca_dim`` dimensions,
    appends the positions, and learns ``n_modes`` diagonal Gaussians (``encoding="fisher"``,
    :class:`DiagonalGMM`) or k-means words (``"vlad"``).
    ``transform`` encodes every image, chunk by chunk in ``n_jobs`` processes, into a preallocated
    float32 matrix: :func:`fisher_encode` or VLAD (:func:`visionkit.classical.bovw.encode`, each
    word's residual sum L2-normalised, then the power law and L2).

    Parameters
    ----------
    descriptor : {"dsift", "dense-sift", "harris-sift", "patches"} or callable
        Local descriptor (:data:`visionkit.classical.descriptors.DESCRIPTORS`).
    descriptor_params : dict or None
        Its options, e.g. ``{"step": 3, "patch_sizes": (16, 24, 32, 40)}``.
    pca_dim : int or None
        PCA dimensions kept (``None``: no PCA). A diagonal GMM wants decorrelated dimensions.
    append_xy : bool
        Append each descriptor's ``(row / H - 0.5, col / W - 0.5)``.
    n_modes : int
        Gaussians (Fisher) or words (VLAD), ``K``.
    encoding : {"fisher", "vlad"}
    mixture_weights : bool
        Fisher only: include the ``K`` mixture-weight gradients per cell.
    pyramid : tuple of int or (rows, cols)
        Spatial-pyramid levels; the default ``(1, 2, (3, 1))`` is Chatfield et al.'s 8 cells.
    power : float or None
        Signed power law (0.5: signed square root).
    l2 : bool
        L2 normalisation (per cell for Fisher, of the whole vector for VLAD).
    max_descriptors : int
        Size of the sample PCA and the GMM / k-means are learnt on.
    max_fit_images : int or None
        Learn them from a seeded subset of at most this many images (``None``: all).
    gmm_max_iter : int
        EM iterations at most (:class:`DiagonalGMM`); k-means iterations for VLAD.
    random_state : int, RandomState or None
    n_jobs : int or None
        joblib processes for descriptors and encoding.
    chunk_size : int
        Images per joblib task.

    Attributes
    ----------
    pca_ : PCA or None
    gmm_ : DiagonalGMM or None
        The diagonal GMM (``encoding="fisher"``).
    kmeans_ : MiniBatchKMeans or None
        The words (``encoding="vlad"``); ``vocabulary_`` holds their centres.
    n_descriptors_fit_ : int
    n_features_out_ : int
    timings_ : dict
        Seconds in fit: descriptors (CPU, summed over workers), PCA, GMM or k-means (wall).
    last_transform_timings_ : dict
        Seconds of the last ``transform`` summed over workers: descriptors and encoding.

    Notes
    -----
    Inputs are images, not the 2-D tables scikit-learn's conformance checks feed, so the estimator
    declares image input in its tags as :class:`~visionkit.classical.bovw.BagOfVisualWords` does;
    ``tests/classical/test_fisher.py`` checks the contract by hand.

    Examples
    --------
    >>> fv = FisherVectors(n_modes=256, random_state=0)         # doctest: +SKIP
    >>> X = fv.fit_transform(images)   # (N, 8 * 2 * 256 * 82)  # doctest: +SKIP
    """

    def __init__(
        self,
        *,
        descriptor: Any = "dsift",
        descriptor_params: dict | None = None,
        pca_dim: int | None = 80,
        append_xy: bool = True,
        n_modes: int = 256,
        encoding: Literal["fisher", "vlad"] = "fisher",
        mixture_weights: bool = False,
        pyramid: tuple = (1, 2, (3, 1)),
        power: float | None = 0.5,
        l2: bool = True,
        max_descriptors: int = 250_000,
        max_fit_images: int | None = None,
        gmm_max_iter: int = 30,
        random_state: Any = None,
        n_jobs: int | None = None,
        chunk_size: int = 16,
    ):
        self.descriptor = descriptor
        self.descriptor_params = descriptor_params
        self.pca_dim = pca_dim
        self.append_xy = append_xy
        self.n_modes = n_modes
        self.encoding = encoding
        self.mixture_weights = mixture_weights
        self.pyramid = pyramid
        self.power = power
        self.l2 = l2
        self.max_descriptors = max_descriptors
        self.max_fit_images = max_fit_images
        self.gmm_max_iter = gmm_max_iter
        self.random_state = random_state
        self.n_jobs = n_jobs
        self.chunk_size = chunk_size

    def _check_params(self) -> tuple[int, tuple[tuple[int, int], ...]]:
        _descriptor_fn(self.descriptor)
        k = check_positive(self.n_modes, "n_modes", integer=True)
        if self.encoding not in ENCODINGS:
            raise VisionkitError(f"encoding: expected one of {ENCODINGS}, got {self.encoding!r}")
        if self.pca_dim is not None:
            check_positive(self.pca_dim, "pca_dim", integer=True)
        if self.power is not None:
            check_positive(self.power, "power")
        for name in ("max_descriptors", "gmm_max_iter", "chunk_size"):
            check_positive(getattr(self, name), name, integer=True)
        return k, check_pyramid(self.pyramid)

    def _seed(self) -> int:
        rs = self.random_state
        return int(rs) if isinstance(rs, (int, np.integer)) else int(np.random.RandomState(rs).randint(2**31 - 1))

    def fit(self, X: Any, y: Any = None) -> "FisherVectors":
        """Learn the PCA and the GMM (or k-means words) from the descriptors of ``X``.

        Raises
        ------
        VisionkitError
            If the images give no descriptors, or fewer than ``n_modes`` (or ``pca_dim``).
        """
        k, pyramid = self._check_params()
        imgs = as_image_list(X, name="X")
        seed = self._seed()
        if self.max_fit_images is not None and len(imgs) > check_positive(self.max_fit_images, "max_fit_images", integer=True):
            pick = np.sort(np.random.default_rng([seed, 2]).choice(len(imgs), int(self.max_fit_images), replace=False))
            imgs = [imgs[i] for i in pick]
        per_image = max(1, math.ceil(self.max_descriptors / len(imgs)))
        t_fit: dict = {}
        parts = _run_chunks(_descriptor_fn(self.descriptor), imgs, dict(self.descriptor_params or {}),
                            partial(_sample_chunk, per_image=per_image, seed=seed), self.n_jobs, self.chunk_size, t_fit,
                            desc="descriptors for the vocabulary")
        parts = [p for p in parts if p[0].size]
        if not parts:
            raise VisionkitError(f"the {len(imgs)} training image(s) gave no descriptors; Fisher vectors need some")
        x = np.concatenate([p[0] for p in parts])
        rel = np.concatenate([p[1] for p in parts])
        if len(x) > self.max_descriptors:
            keep = np.random.default_rng([seed, 1]).choice(len(x), self.max_descriptors, replace=False)
            x, rel = x[keep], rel[keep]
        if len(x) < max(k, self.pca_dim or 0):
            raise VisionkitError(
                f"n_modes={k} (and pca_dim={self.pca_dim}) need at least as many descriptors; {len(imgs)} image(s) gave "
                f"{len(x)}: use fewer modes, more images or a denser grid"
            )
        t0 = time.perf_counter()
        self.pca_ = None
        if self.pca_dim is not None:
            if self.pca_dim > x.shape[1]:
                raise VisionkitError(f"pca_dim: expected at most the descriptor length {x.shape[1]}, got {self.pca_dim}")
            self.pca_ = PCA(n_components=int(self.pca_dim), random_state=seed).fit(x)
        t1 = time.perf_counter()
        f = LocalFeatures(x, rel, np.zeros(len(x), np.float32), (1, 1))  # relative positions stand as positions in a 1 x 1 image
        z = _project(f, *self._pca_arrays(), self.append_xy)
        self.gmm_, self.kmeans_ = None, None
        if self.encoding == "fisher":
            with stage(f"GMM: {k} modes from {len(z):,} descriptors"):
                self.gmm_ = DiagonalGMM(n_modes=k, max_iter=int(self.gmm_max_iter), random_state=seed).fit(z)
            width = 2 * k * z.shape[1] + (k if self.mixture_weights else 0)
        else:
            with stage(f"k-means: {k} words from {len(z):,} descriptors"):
                self.kmeans_ = MiniBatchKMeans(n_clusters=k, batch_size=4096, max_iter=int(self.gmm_max_iter),
                                               random_state=seed).fit(z)
            self.vocabulary_ = self.kmeans_.cluster_centers_.astype(np.float32)
            width = k * z.shape[1]
        self.timings_ = {"fit_descriptors_cpu_s": t_fit["descriptors"], "pca_s": t1 - t0, "model_s": time.perf_counter() - t1}
        self.n_descriptors_fit_ = int(len(x))
        self.n_features_out_ = sum(r * c for r, c in pyramid) * width
        return self

    def _pca_arrays(self) -> tuple[np.ndarray | None, np.ndarray | None]:
        if self.pca_ is None:
            return None, None
        return self.pca_.mean_.astype(np.float32), self.pca_.components_.astype(np.float32)

    def transform(self, X: Any) -> np.ndarray:
        """Encode each image of ``X``.

        Returns
        -------
        ndarray of float32, shape (N, n_features_out_)
        """
        check_is_fitted(self, "n_features_out_")
        _, pyramid = self._check_params()
        imgs = as_image_list(X, name="X")
        model = self.gmm_ if self.encoding == "fisher" else self.vocabulary_
        post = partial(_encode_chunk, encoding=self.encoding, pca_mean=self._pca_arrays()[0], pca_components=self._pca_arrays()[1],
                       append_xy=self.append_xy, model=model, pyramid=pyramid, mixture_weights=self.mixture_weights,
                       power=self.power, l2=self.l2)
        out, self.last_transform_timings_ = _encode_images(
            _descriptor_fn(self.descriptor), imgs, dict(self.descriptor_params or {}), post, n_features=self.n_features_out_,
            n_jobs=self.n_jobs, chunk_size=self.chunk_size, desc=f"descriptors + {self.encoding} encoding")
        return out

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        check_is_fitted(self, "n_features_out_")
        return np.asarray([f"{self.encoding}{i}" for i in range(self.n_features_out_)], dtype=object)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()  # images in (_ImageInput)
        tags.requires_fit = True
        tags.non_deterministic = False
        return tags
