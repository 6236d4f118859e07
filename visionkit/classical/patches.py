"""The normalised, whitened raw patches of Coates, Lee & Ng (2011).

:func:`extract_patches` takes every small patch of an image, :func:`normalize_patches` normalises
each one's brightness and contrast, :class:`ZCAWhitening` whitens them before k-means;
:func:`normalized_patches` chains the first two (the ``"patches"`` descriptor of the bag of
visual words).
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted, validate_data

from .._validate import VisionkitError, as_float_image, check_positive
from .sift import LocalFeatures

__all__ = ["extract_patches", "normalize_patches", "normalized_patches", "ZCAWhitening"]


def extract_patches(image: np.ndarray, *, patch_size: int = 6, stride: int = 1) -> LocalFeatures:
    """Every ``patch_size`` x ``patch_size`` patch, ``stride`` apart, flattened (raw pixels, all channels).

    Parameters
    ----------
    image : ndarray, shape (H, W) or (H, W, C)
        Any dtype of the dtype rule (values then on [0, 1]).
    patch_size, stride : int

    Returns
    -------
    LocalFeatures
        ``descriptors`` (M, patch_size * patch_size * C) float32, raw (see :func:`normalize_patches`),
        ordered row-major over the patch grid; positions are the patch centres.

    Raises
    ------
    VisionkitError
        If the image is smaller than one patch.
    """
    img = as_float_image(image)
    p = check_positive(patch_size, "patch_size", integer=True)
    s = check_positive(stride, "stride", integer=True)
    if img.ndim == 2:
        img = img[..., None]
    h, w, c = img.shape
    if p > min(h, w):
        raise VisionkitError(f"image of shape {(h, w)} is smaller than one {p} x {p} patch; upscale it or pass a smaller patch_size")
    win = np.lib.stride_tricks.sliding_window_view(img, (p, p), axis=(0, 1))[::s, ::s]  # (ny, nx, C, p, p)
    ny, nx = win.shape[:2]
    desc = np.ascontiguousarray(win.transpose(0, 1, 3, 4, 2)).reshape(ny * nx, p * p * c)
    rows = np.arange(ny) * s + (p - 1) / 2.0
    cols = np.arange(nx) * s + (p - 1) / 2.0
    rr, cc = np.meshgrid(rows, cols, indexing="ij")
    pos = np.stack([rr.ravel(), cc.ravel()], 1).astype(np.float32)
    return LocalFeatures(desc.astype(np.float32), pos, np.full(len(pos), p, np.float32), (h, w))


def normalize_patches(patches: np.ndarray, *, eps: float = 10.0 / 255.0**2) -> np.ndarray:
    """Brightness and contrast normalisation of each patch (Coates et al. 2011).

    ``(x - mean(x)) / sqrt(var(x) + eps)`` per row. Coates' ``eps = 10`` is for pixels on [0, 255];
    the default is the same on visionkit's [0, 1] scale.

    Parameters
    ----------
    patches : ndarray, shape (M, D)

    Returns
    -------
    ndarray of float32, shape (M, D)
    """
    x = np.asarray(patches, dtype=np.float32)
    if x.ndim != 2:
        raise VisionkitError(f"patches: expected a 2-D array (M, D), got shape {x.shape}")
    eps = check_positive(eps, "eps")
    mean = x.mean(axis=1, keepdims=True)
    var = x.var(axis=1, keepdims=True, ddof=1) if x.shape[1] > 1 else np.zeros_like(mean)
    return ((x - mean) / np.sqrt(var + np.float32(eps))).astype(np.float32, copy=False)


class ZCAWhitening(TransformerMixin, BaseEstimator):
    """ZCA whitening: ``(x - mean_) @ components_``, with ``components_ = V diag(1 / sqrt(l + eps)) V^T``.

    ``V, l`` are the eigenvectors and eigenvalues of the data's covariance. Unlike PCA whitening
    the result stays in the input's coordinates (a whitened patch still looks like a patch), which
    is why Coates et al. (2011) use it before k-means.

    Parameters
    ----------
    eps : float
        Regulariser added to the eigenvalues; Coates et al. use 0.1 on normalised patches.

    Attributes
    ----------
    mean_ : ndarray, shape (D,)
    components_ : ndarray, shape (D, D)
    n_features_in_ : int
    """

    def __init__(self, *, eps: float = 0.1):
        self.eps = eps

    def fit(self, X, y=None):
        X = validate_data(self, X, dtype=[np.float64, np.float32], ensure_min_samples=2)
        eps = check_positive(self.eps, "eps", allow_zero=False)
        x = X.astype(np.float64)
        self.mean_ = x.mean(axis=0)
        cov = np.cov(x - self.mean_, rowvar=False).reshape(x.shape[1], x.shape[1])
        vals, vecs = np.linalg.eigh(cov)
        vals = np.maximum(vals, 0.0)
        self.components_ = (vecs * (1.0 / np.sqrt(vals + eps))) @ vecs.T
        return self

    def transform(self, X):
        check_is_fitted(self)
        X = validate_data(self, X, dtype=[np.float64, np.float32], reset=False)
        return ((X - self.mean_.astype(X.dtype)) @ self.components_.astype(X.dtype)).astype(X.dtype, copy=False)


def normalized_patches(image: np.ndarray, *, patch_size: int = 6, stride: int = 1, eps: float = 10.0 / 255.0**2) -> LocalFeatures:
    """:func:`extract_patches` then :func:`normalize_patches` on their descriptors."""
    f = extract_patches(image, patch_size=patch_size, stride=stride)
    f.descriptors = normalize_patches(f.descriptors, eps=eps)
    return f
