"""Several handcrafted representations side by side in one feature matrix, without holding any of them twice.

Two representations that see different things (Coates et al.'s k-means patch codes, and the
scattering transform's wavelet moduli) give a linear SVM more than either alone (README: +2.4 points
on a CIFAR-10 validation split). The obstacle is memory: on CIFAR-10 with mirrors the scattering block
alone is 100,000 x 15,552 float32, 6.2 GB. So a block can be *reduced*: standardised and projected on
its top principal axes, fitted on a subsample, and computed chunk by chunk so that its full-width matrix
never exists.

* :func:`principal_axes`: the top principal axes of a (centred) matrix, by randomised SVD (pure).
* :func:`column_moments`: per-column mean and variance without a float64 copy of the matrix (pure).
* :func:`block_factor`: the scale that gives a block a chosen share of the stack's energy (pure).
* :class:`ReducedFeatures`: any image transformer, standardised and projected, chunk by chunk.
* :class:`FeatureStack`: blocks of features from the same images, scaled and written into one
  float32 matrix.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin, clone
from sklearn.utils.extmath import randomized_svd
from sklearn.utils.validation import check_is_fitted

from .._progress import progress_bar
from .._validate import VisionkitError, check_positive, describe
from .preprocessing import ChunkedStandardScaler, _ImageInput, as_image_list

__all__ = ["principal_axes", "column_moments", "block_factor", "ReducedFeatures", "FeatureStack"]


def principal_axes(F: np.ndarray, n_components: int, *, n_iter: int = 4, random_state: Any = 0) -> tuple[np.ndarray, np.ndarray]:
    """The top principal axes of a centred matrix and the variance along each (randomised SVD).

    Parameters
    ----------
    F : ndarray, shape (n, d)
        Rows already centred (e.g. standardised), float32 or float64.
    n_components : int
        Axes kept, at most ``min(n, d)``.
    n_iter : int
        Power iterations of the randomised SVD (Halko et al. 2011; scikit-learn's ``randomized_svd``).
    random_state : int, Generator, RandomState or None
        The random test matrix: same seed, same axes.

    Returns
    -------
    components : ndarray, shape (n_components, d), dtype of ``F``
        Orthonormal rows, by decreasing variance.
    variance : ndarray, shape (n_components,), float64
        ``S**2 / (n - 1)``: the variance of the data along each axis.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> F = rng.normal(size=(200, 3)) * [3.0, 1.0, 0.1]
    >>> V, var = principal_axes(F - F.mean(0), 1)
    >>> np.abs(V.round(2)).tolist(), bool(8 < var[0] < 10)
    ([[1.0, 0.0, 0.0]], True)
    """
    F = np.asarray(F)
    if F.ndim != 2 or F.dtype.kind != "f":
        raise VisionkitError(f"F: expected a 2-D float array (n, d), got {describe(F)}")
    n, d = F.shape
    k = check_positive(n_components, "n_components", integer=True)
    if k > min(n, d):
        raise VisionkitError(f"n_components: expected at most min(n, d) = {min(n, d)} for F of shape {F.shape}, got {k}")
    _, S, Vt = randomized_svd(F, k, n_iter=n_iter, random_state=_legacy_seed(random_state))
    return Vt.astype(F.dtype, copy=False), S.astype(np.float64) ** 2 / max(n - 1, 1)


def column_moments(F: np.ndarray, *, chunk_size: int = 4096) -> tuple[np.ndarray, np.ndarray]:
    """Mean and variance (ddof 0) of each column, in float64, ``chunk_size`` rows at a time.

    ``F.var(axis=0, dtype=np.float64)`` makes a float64 copy of the whole matrix (5.1 GB for
    100,000 x 6,400 float32); this holds one chunk's (the statistics of
    :class:`~visionkit.classical.preprocessing.ChunkedStandardScaler`).

    >>> column_moments(np.array([[1.0, 2.0], [3.0, 2.0]], dtype=np.float32))
    (array([2., 2.]), array([1., 0.]))
    """
    F = np.asarray(F)
    if F.ndim != 2 or len(F) == 0:
        raise VisionkitError(f"F: expected a 2-D array with at least one row, got {describe(F)}")
    scaler = ChunkedStandardScaler(chunk_size=chunk_size).fit(F)  # scikit-learn's running statistics, per chunk
    return scaler.mean_, scaler.var_


def _legacy_seed(random_state: Any) -> Any:
    """scikit-learn's randomized_svd takes an int or RandomState; a numpy Generator gives it an int."""
    if isinstance(random_state, np.random.Generator):
        return int(random_state.integers(2**31 - 1))
    return random_state


def block_factor(total_variance: float, reference_variance: float, weight: float) -> float:
    """The factor that makes a block's total variance ``weight**2`` times the reference block's.

    ``sqrt(reference_variance / total_variance) * weight``: at ``weight = 1`` both blocks weigh the
    same in a linear model's inner products whatever their widths (a block of 15,552 standardised
    features would otherwise outweigh one of 6,400 by 2.4 to 1).

    >>> block_factor(400.0, 100.0, 1.0), block_factor(400.0, 100.0, 0.5)
    (0.5, 0.25)
    """
    if not np.isfinite(total_variance) or total_variance <= 0:
        raise VisionkitError(f"total_variance: expected a positive number (a block with some variance), got {total_variance!r}")
    check_positive(reference_variance, "reference_variance")
    check_positive(weight, "weight")
    return float(np.sqrt(reference_variance / total_variance) * weight)


def _images(X: Any) -> np.ndarray | list[np.ndarray]:
    """An array of images stays an array (cheap slices and fancy indexing); anything else becomes a list."""
    if isinstance(X, np.ndarray) and X.ndim in (3, 4) and X.dtype != object:
        if len(X) == 0:
            raise VisionkitError(f"X: expected at least one image, got an empty array of shape {X.shape}")
        return X
    return as_image_list(X, name="X")


def _take(images: np.ndarray | list, idx: np.ndarray) -> np.ndarray | list:
    return images[idx] if isinstance(images, np.ndarray) else [images[i] for i in idx]


def _spread_rows(flat: np.ndarray, n: int, width: int, new_width: int) -> None:
    """Move ``n`` rows of ``width`` values, packed at the start of ``flat``, to rows of ``new_width``, in place.

    The last row moves first: a row's new place starts at or after its old one and after every earlier
    row's old place, so nothing not yet moved is overwritten (an overlap within one row is buffered by numpy).
    """
    for i in range(n - 1, 0, -1):
        flat[i * new_width : i * new_width + width] = flat[i * width : (i + 1) * width]


def _check_2d(F: Any, name: str, n: int) -> np.ndarray:
    F = np.asarray(F)
    if F.ndim != 2 or F.shape[0] != n:
        raise VisionkitError(f"{name}: expected its transform to give a 2-D array with one row per image ({n}), got {describe(F)}")
    return F


def _features(est: Any, images: Any, name: str, width: int) -> np.ndarray:
    """``est.transform(images)``, checked: one row per image and ``width`` columns, as when fitted."""
    F = _check_2d(est.transform(images), name, len(images))
    if F.shape[1] != width:
        raise VisionkitError(f"{name}: expected {width} features per image (as when fitted), got {F.shape[1]}")
    return F


def _fill(out: np.ndarray, fn: Any, images: Any, *, step: int, cols: slice = slice(None), rows: np.ndarray | None = None,
          desc: str = "features", force: bool | None = None) -> None:
    """Write ``fn(chunk)`` for each chunk of ``step`` images into ``out[rows, cols]`` (rows: the chunk's, or ``rows[...]``)."""
    starts = range(0, len(images), step)
    for i in progress_bar(starts, desc=desc, total=len(starts), unit="chunk", force=force):
        F = fn(images[i:i + step])
        out[slice(i, i + len(F)) if rows is None else rows[i:i + len(F)], cols] = F


class ReducedFeatures(_ImageInput, TransformerMixin, BaseEstimator):
    """An image transformer's features, standardised and projected on their top principal axes, chunk by chunk.

    ``fit`` draws ``fit_size`` images with ``random_state``, fits a clone of ``transformer`` on them,
    standardises its features (mean and standard deviation of that sample) and keeps their top
    ``n_components`` principal axes (:func:`principal_axes`). ``transform`` then runs the transformer
    on ``chunk_size`` images at a time and keeps only their projection, so the transformer's full-width
    matrix never exists: on CIFAR-10 with mirrors, 100,000 x 15,552 scattering coefficients (6.2 GB)
    become 100,000 x 2,048 (0.8 GB), with 96 % of their variance.

    Parameters
    ----------
    transformer : transformer
        Images in, (n, d) features out; it must treat each image on its own (the scattering transform,
        HOG, ...), so that chunks give the same rows as the whole.
    n_components : int
        Principal axes kept: at most this many, and at most the sample's size and ``d``.
    fit_size : int
        Images the transformer, the standardisation and the axes are fitted on (all when fewer).
    chunk_size : int
        Images transformed at a time.
    random_state : int, Generator or None
        The fitting sample and the randomised SVD.
    progress : bool
        A bar over the chunks.

    Attributes
    ----------
    transformer_ : the fitted clone
    mean_, scale_ : ndarray, shape (d,)
    components_ : ndarray, shape (n_components_, d), float32
    explained_variance_ : ndarray, shape (n_components_,)
    variance_kept_ : float
        The fraction of the standardised features' total variance the axes keep (on the sample).
    n_components_, n_features_out_ : int

    Examples
    --------
    >>> from visionkit.classical.preprocessing import PixelFeatures
    >>> rng = np.random.default_rng(0)
    >>> images = rng.integers(0, 256, size=(50, 8, 8), dtype=np.uint8)
    >>> red = ReducedFeatures(PixelFeatures(size=(8, 8)), n_components=10, chunk_size=16).fit(images)
    >>> red.transform(images).shape
    (50, 10)
    """

    def __init__(self, transformer: Any, *, n_components: int = 2048, fit_size: int = 20000, chunk_size: int = 4096,
                 random_state: Any = 0, progress: bool = False) -> None:
        self.transformer = transformer
        self.n_components = n_components
        self.fit_size = fit_size
        self.chunk_size = chunk_size
        self.random_state = random_state
        self.progress = progress

    def _check_params(self) -> None:
        if not hasattr(self.transformer, "transform"):
            raise VisionkitError(f"transformer: expected a transformer with fit and transform, got {describe(self.transformer)}")
        check_positive(self.n_components, "n_components", integer=True)
        check_positive(self.fit_size, "fit_size", integer=True)
        check_positive(self.chunk_size, "chunk_size", integer=True)

    def _fit(self, images: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
        """Fit on a sample; return the sample's indices and its projected rows (fit_transform reuses them)."""
        self._check_params()
        n = len(images)
        rng = np.random.default_rng(self.random_state)
        idx = np.arange(n) if n <= self.fit_size else np.sort(rng.choice(n, self.fit_size, replace=False))
        sample = _take(images, idx)
        y_sample = None if y is None else np.asarray(y)[idx]
        self.transformer_ = clone(self.transformer).fit(sample, y_sample)
        F = _check_2d(self.transformer_.transform(sample), "transformer", len(idx)).astype(np.float32)
        self.mean_, var = column_moments(F)
        self.scale_ = np.sqrt(var)
        self.scale_[self.scale_ < 1e-12] = 1.0  # a constant feature stays 0 instead of dividing by 0
        F -= self.mean_.astype(np.float32)
        F /= self.scale_.astype(np.float32)
        k = min(int(self.n_components), *F.shape)
        seed = int(rng.integers(2**31 - 1))  # the same draw whatever random_state's kind
        self.components_, self.explained_variance_ = principal_axes(F, k, random_state=seed)
        # the standardised columns' variance is 1 each (0 for a constant one), on the ddof-1 scale of the axes
        total = float((var / self.scale_**2).sum()) * len(F) / max(len(F) - 1, 1)
        self.variance_kept_ = float(self.explained_variance_.sum() / total) if total > 0 else 1.0
        self.n_components_ = self.n_features_out_ = k
        self.n_features_in_ = F.shape[1]
        return idx, F @ self.components_.T

    def fit(self, X: Any, y: Any = None) -> "ReducedFeatures":
        """Fit the transformer, the standardisation and the axes on ``fit_size`` images of ``X``."""
        self._fit(_images(X), y)
        return self

    def fit_transform(self, X: Any, y: Any = None, **params: Any) -> np.ndarray:
        """``fit(X).transform(X)``, without transforming the fitting sample twice."""
        images = _images(X)
        idx, sample_rows = self._fit(images, y)
        out = np.empty((len(images), self.n_components_), dtype=np.float32)
        out[idx] = sample_rows
        rest = np.setdiff1d(np.arange(len(images)), idx, assume_unique=True)
        if len(rest):
            self._transform_into(_take(images, rest), out, rows=rest)
        return out

    def transform(self, X: Any) -> np.ndarray:
        """The projected features, shape (n, n_components_), float32."""
        check_is_fitted(self, "components_")
        images = _images(X)
        out = np.empty((len(images), self.n_components_), dtype=np.float32)
        self._transform_into(images, out)
        return out

    def _transform_into(self, images: Any, out: np.ndarray, rows: np.ndarray | None = None) -> None:
        mean, scale = self.mean_.astype(np.float32), self.scale_.astype(np.float32)

        def project(chunk: Any) -> np.ndarray:
            F = _features(self.transformer_, chunk, "transformer", len(mean)).astype(np.float32, copy=False)
            F -= mean
            F /= scale
            return F @ self.components_.T

        _fill(out, project, images, step=int(self.chunk_size), rows=rows, desc="reduced features", force=self.progress or None)


class FeatureStack(_ImageInput, TransformerMixin, BaseEstimator):
    """Feature blocks from the same images, each scaled to a share of the energy, in one float32 matrix.

    Like :class:`sklearn.pipeline.FeatureUnion`, but built for matrices near the memory's size: the
    first block is fitted with ``fit_transform`` (it may need all its rows to fit, as a standardised
    bag of words does); every later block is fitted before it (a :class:`ReducedFeatures` fits on a
    sample, and its fitting's memory is given back before the first block's matrix is made) and then
    transformed ``chunk_size`` images at a time straight into its columns of the stacked matrix. The first block's own buffer is grown into the stack (``ndarray.resize``: a realloc, which
    for large arrays remaps pages instead of copying them), so the peak is about the stack's size, not
    the first block's plus the stack's (on CIFAR-10 with mirrors: 3.4 GB, not 6 GB).

    Each block ``b`` after the first is multiplied by :func:`block_factor`, so that its total variance
    (on the training images) is ``weights[name_b] ** 2`` times the first block's: at 1 the blocks weigh
    the same in a linear SVM's inner products, at 0.5 the later one a quarter as much. The first block
    is left as it is (its scale sets the SVM's ``C``).

    Parameters
    ----------
    blocks : list of (name, transformer)
        Images in, (n, d_b) features out for each; at least two.
    weights : dict {name: float}, optional
        Relative weight of each block after the first (default 1).
    chunk_size : int
        Images per chunk for the blocks after the first.

    Attributes
    ----------
    blocks_ : list of (name, fitted transformer)
    factors_ : ndarray, shape (n_blocks,)
        The scale of each block (1 for the first).
    widths_ : list of int
    n_features_out_ : int

    Examples
    --------
    >>> from visionkit.classical.preprocessing import PixelFeatures
    >>> rng = np.random.default_rng(0)
    >>> images = rng.integers(0, 256, size=(20, 8, 8), dtype=np.uint8)
    >>> stack = FeatureStack([("a", PixelFeatures(size=(8, 8))), ("b", PixelFeatures(size=(4, 4)))],
    ...                      weights={"b": 0.5}).fit(images)
    >>> stack.transform(images).shape, stack.widths_
    ((20, 80), [64, 16])
    """

    def __init__(self, blocks: list, *, weights: dict | None = None, chunk_size: int = 4096) -> None:
        self.blocks = blocks
        self.weights = weights
        self.chunk_size = chunk_size

    def _check_params(self) -> dict:
        if not isinstance(self.blocks, (list, tuple)) or len(self.blocks) < 2 or not all(
            isinstance(b, (list, tuple)) and len(b) == 2 and isinstance(b[0], str) for b in self.blocks
        ):
            raise VisionkitError(f"blocks: expected a list of at least two (name, transformer) pairs, got {describe(self.blocks)}")
        names = [name for name, _ in self.blocks]
        if len(set(names)) != len(names):
            raise VisionkitError(f"blocks: expected distinct names, got {names}")
        for name, est in self.blocks:
            if not hasattr(est, "transform"):
                raise VisionkitError(f"blocks[{name!r}]: expected a transformer with fit and transform, got {describe(est)}")
        weights = dict(self.weights or {})
        unknown = set(weights) - set(names[1:])
        if unknown:
            raise VisionkitError(f"weights: expected names of the blocks after the first ({names[1:]}), got {sorted(unknown)}")
        for name, w in weights.items():
            check_positive(w, f"weights[{name!r}]")
        check_positive(self.chunk_size, "chunk_size", integer=True)
        return weights

    def fit(self, X: Any, y: Any = None) -> "FeatureStack":
        """Fit every block on ``X`` (what :meth:`fit_transform` does, without keeping the matrix)."""
        self.fit_transform(X, y)
        return self

    def fit_transform(self, X: Any, y: Any = None, **params: Any) -> np.ndarray:
        """Fit the blocks and return the stacked training features, shape (n, sum of widths), float32."""
        weights = self._check_params()
        images = _images(X)
        n = len(images)
        (name0, est0), rest = self.blocks[0], self.blocks[1:]
        # the later blocks are fitted before the first block's matrix exists, so their own fitting (a
        # ReducedFeatures' sample and its principal axes: ~3 GB on CIFAR-10) never adds to it at the peak
        later = [(name, clone(est).fit(images, y)) for name, est in rest]
        first_est = clone(est0)
        first = _check_2d(first_est.fit_transform(images, y), f"blocks[{name0!r}]", n)
        ref_var = float(column_moments(first, chunk_size=self.chunk_size)[1].sum())
        if ref_var <= 0:
            raise VisionkitError(f"blocks[{name0!r}]: expected features that vary over the training images, got constant ones")
        fitted = [(name0, first_est), *later]
        probe = [_check_2d(est.transform(_take(images, np.arange(1))), f"blocks[{name!r}]", 1) for name, est in fitted[1:]]
        widths = [first.shape[1], *(p.shape[1] for p in probe)]
        total = sum(widths)
        first = first.astype(np.float32, copy=False)
        grown = False
        if first.flags.owndata and first.flags.c_contiguous:
            try:  # grow the first block's buffer into the stack (realloc: no second copy of the block)
                first.resize(n * total, refcheck=True)
                grown = True
            except ValueError:  # something else holds a reference to it
                pass
        if grown:
            _spread_rows(first, n, widths[0], total)
            out = first.reshape(n, total)
        else:  # a view, or an array shared with someone: copy it
            out = np.empty((n, total), dtype=np.float32)
            out[:, : widths[0]] = first
        del first
        factors = [1.0]
        col = widths[0]
        for (name, est), w in zip(fitted[1:], widths[1:]):
            cols = slice(col, col + w)
            self._transform_block(est, images, out, cols, name)
            var = float(column_moments(out[:, cols], chunk_size=self.chunk_size)[1].sum())
            factors.append(block_factor(var, ref_var, float(weights.get(name, 1.0))))
            out[:, cols] *= np.float32(factors[-1])
            col += w
        self.blocks_, self.widths_, self.factors_ = fitted, widths, np.asarray(factors)
        self.n_features_out_ = int(sum(widths))
        return out

    def _transform_block(self, est: Any, images: Any, out: np.ndarray, cols: slice, name: str) -> None:
        _fill(out, lambda chunk: _features(est, chunk, f"blocks[{name!r}]", cols.stop - cols.start), images,
              step=int(self.chunk_size), cols=cols, desc=f"block {name}")

    def transform(self, X: Any) -> np.ndarray:
        """The stacked features of ``X``, each block scaled as when fitted; shape (n, n_features_out_), float32."""
        check_is_fitted(self, "blocks_")
        images = _images(X)
        out = np.empty((len(images), self.n_features_out_), dtype=np.float32)
        col = 0
        for (name, est), w, f in zip(self.blocks_, self.widths_, self.factors_):
            cols = slice(col, col + w)
            self._transform_block(est, images, out, cols, name)
            if f != 1.0:
                out[:, cols] *= np.float32(f)
            col += w
        return out
