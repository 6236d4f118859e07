"""Harness images to the form a classical method needs, and the estimators that only prepare data.

* :func:`as_image_list`: the one check of the image input (an (N, H, W[, C]) array or a list).
* :func:`transform_in_chunks`: a feature function over a lazily decoded folder
  (:class:`~visionkit.data.ImageFolderSource`), chunk by chunk, so that only one chunk of images is
  decoded at a time (the features, N x D, are kept).
* :func:`prepare_images` / :class:`ImagePreprocessor`: harness images (uint8 (N, H, W, C) or a list
  of any sizes and channel counts) to one channel mode, upscaled when too small, downscaled when
  too large.
* :class:`PixelFeatures`: raw pixels as one fixed-length vector per image.
* :class:`ChunkedStandardScaler`: scikit-learn's ``StandardScaler`` fitted chunk by chunk (its plain
  ``fit`` holds a float64 copy of the whole matrix, twice the size of float32 features).
* :func:`mirror_images` / :class:`MirrorAugmented`: any image classifier trained on the images and
  their left-right mirrors, both views averaged at test time.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Literal

import cv2
import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, MetaEstimatorMixin, TransformerMixin, clone
from sklearn.preprocessing import StandardScaler
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data

from .._validate import VisionkitError, as_float_image, check_positive, describe, to_gray
from ..data import ImageFolderSource

__all__ = ["as_image_list", "transform_in_chunks", "STREAM_CHUNK", "prepare_images", "ImagePreprocessor", "PixelFeatures", "ChunkedStandardScaler", "mirror_images", "shift_images", "augmented_views",
           "MirrorAugmented"]


#: Images decoded at a time when a transformer streams an :class:`~visionkit.data.ImageFolderSource`
#: (4,096 images of 32 x 32 x 3: 12 MB; of 224 x 224 x 3: 617 MB).
STREAM_CHUNK = 4096


def as_image_list(images: Any, *, name: str = "images") -> list[np.ndarray]:
    """A list of 2-D or 3-D images from an (N, H, W[, C]) array or a sequence of images (sizes may differ).

    An :class:`~visionkit.data.ImageFolderSource` is decoded whole (with a progress bar): what a
    transformer that does not stream does with a folder (:func:`transform_in_chunks` streams).
    """
    if isinstance(images, ImageFolderSource):
        return [im for _, chunk in images.chunks(STREAM_CHUNK, desc="decoding") for im in chunk]
    if isinstance(images, np.ndarray):
        if images.ndim not in (3, 4) or images.dtype == object:
            if images.dtype == object:
                return as_image_list(list(images), name=name)
            raise VisionkitError(f"{name}: expected an array (N, H, W) or (N, H, W, C), or a list of images, got {describe(images)}")
        if len(images) == 0:
            raise VisionkitError(f"{name}: expected at least one image, got an empty array of shape {images.shape}")
        return list(images)
    if isinstance(images, (list, tuple)):
        if len(images) == 0:
            raise VisionkitError(f"{name}: expected at least one image, got an empty {type(images).__name__}")
        out = []
        for i, im in enumerate(images):
            im = np.asarray(im)
            if im.ndim not in (2, 3):
                raise VisionkitError(f"{name}[{i}]: expected an image (H, W) or (H, W, C), got {describe(im)}")
            out.append(im)
        return out
    raise VisionkitError(f"{name}: expected an array (N, H, W[, C]) or a list of images, got {describe(images)}")


def transform_in_chunks(fn: Any, images: Any, *, chunk_size: int | None = None, desc: str | None = None) -> np.ndarray:
    """``fn(images)`` -> features (n, D), computed chunk by chunk when ``images`` are decoded on demand.

    Parameters
    ----------
    fn : callable
        Images (an (n, H, W, C) uint8 array) to features (n, D); it must treat each image on its own,
        so that chunks give the rows ``fn`` gives on all images at once.
    images : ndarray, list or ImageFolderSource
        In memory: ``fn(images)``. A lazy source: decoded ``chunk_size`` images at a time, each
        chunk's features written into one array, so memory holds one chunk of images and the features.
    chunk_size : int, optional
        Images decoded at a time; default :data:`STREAM_CHUNK` (read when called).
    desc : str, optional
        The progress bar's label (drawn when :func:`visionkit.verbose` says so).

    Returns
    -------
    ndarray, shape (N, D), of ``fn``'s dtype
    """
    if not isinstance(images, ImageFolderSource):
        return fn(images)
    chunk_size = STREAM_CHUNK if chunk_size is None else check_positive(chunk_size, "chunk_size", integer=True)
    out = None
    for start, chunk in images.chunks(chunk_size, desc=desc):
        feats = np.asarray(fn(chunk))
        if out is None:
            out = np.empty((len(images), *feats.shape[1:]), dtype=feats.dtype)
        out[start:start + len(feats)] = feats
    return out


def _first_images(images: Any, n: int = 1) -> list[np.ndarray]:
    """The first ``n`` images as a list, decoding only those of a lazy source (what ``fit`` needs to size its features)."""
    if isinstance(images, ImageFolderSource):
        return list(images.read(slice(0, n)))
    return as_image_list(images, name="X")[:n]


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
        if self.channels not in ("auto", "gray", "rgb"):
            raise VisionkitError(f"channels: expected 'auto', 'gray' or 'rgb', got {self.channels!r}")
        if isinstance(X, ImageFolderSource):  # one shape for all: its channels are known without decoding
            colour = X.shape[-1] >= 3
        else:
            colour = any(im.ndim == 3 and im.shape[2] >= 3 for im in as_image_list(X, name="X"))
        self.channels_ = ("rgb" if colour else "gray") if self.channels == "auto" else self.channels
        self.n_features_out_ = int(np.prod(self.size)) * (3 if self.channels_ == "rgb" else 1)
        return self

    def transform(self, X):
        check_is_fitted(self, "n_features_out_")
        return transform_in_chunks(self._pixels, X, desc="pixels (streamed)")

    def _pixels(self, X) -> np.ndarray:
        imgs = prepare_images(X, channels=self.channels_, size=self.size)
        return imgs.reshape(len(imgs), -1).astype(np.float32) / 255.0


class ChunkedStandardScaler(StandardScaler):
    """``sklearn.preprocessing.StandardScaler`` whose ``fit`` reads ``chunk_size`` rows at a time.

    The statistics are scikit-learn's own (``partial_fit`` over the chunks: float64 running mean and
    variance), equal to ``StandardScaler().fit`` to rounding; the difference is memory. The plain
    ``fit`` subtracts the mean from a float64 copy of the whole matrix, twice the size of float32
    features (8 bytes a value: 5.1 GB for 100,000 x 6,400), where this holds one chunk's copy. ``transform`` is
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


def shift_images(images: Any, dx: int, dy: int) -> np.ndarray | list[np.ndarray]:
    """Images translated by ``dx`` pixels right and ``dy`` pixels down, the edges replicated, in the form they came in.

    The content moves, the size stays: column ``j`` of the result is column ``j - dx`` of the image
    (clipped to the first or last column), row ``i`` is row ``i - dy``; the uncovered border repeats
    the nearest edge pixel, as ``np.pad(mode="edge")`` (OpenCV's ``BORDER_REPLICATE``).

    Parameters
    ----------
    images : ndarray (N, H, W[, C]) or list of (H, W[, C]) arrays
    dx, dy : int
        Shifts in pixels, each smaller than the images' width (``dx``) and height (``dy``) in size.

    Returns
    -------
    ndarray (N, H, W[, C]) (a contiguous copy) or list of arrays, as ``images``.

    Examples
    --------
    >>> shift_images(np.arange(4).reshape(1, 1, 4), 1, 0)[0]
    array([[0, 0, 1, 2]])
    """
    for name, v in (("dx", dx), ("dy", dy)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
            raise VisionkitError(f"{name}: expected an integer number of pixels, got {describe(v)}")

    def one(x: np.ndarray, first: int) -> np.ndarray:  # first: the H axis (0 for one image, 1 for a stack)
        h, w = x.shape[first], x.shape[first + 1]
        if abs(dx) >= w or abs(dy) >= h:
            raise VisionkitError(f"shift_images: expected |dx| < width {w} and |dy| < height {h}, got dx={dx}, dy={dy}")
        rows = np.clip(np.arange(h) - dy, 0, h - 1)
        cols = np.clip(np.arange(w) - dx, 0, w - 1)
        return np.ascontiguousarray(x.take(rows, axis=first).take(cols, axis=first + 1))

    if isinstance(images, np.ndarray) and images.ndim in (3, 4) and images.dtype != object:
        return one(images, 1)
    return [one(im, 0) for im in as_image_list(images, name="images")]


def augmented_views(images: Any, *, shift: int = 0, mirror: bool = True) -> Iterator[tuple[tuple[int, int, bool], Any]]:
    """The views of test-time augmentation, one at a time: the images, their shifts, and the mirrors of each.

    Yields ``((dx, dy, mirrored), views)``: first ``(0, 0)``, then, with ``shift > 0``, the shifts by
    ``shift`` pixels right, left, down and up (:func:`shift_images`); with ``mirror``, each followed by
    its left-right mirror (:func:`mirror_images`). 1, 2, 5 or 10 views, in that order.
    :class:`MirrorAugmented` averages its classifier's scores over them.
    """
    shifts = [(0, 0)] + ([(shift, 0), (-shift, 0), (0, shift), (0, -shift)] if shift else [])
    for dx, dy in shifts:
        v = images if (dx, dy) == (0, 0) else shift_images(images, dx, dy)
        yield (dx, dy, False), v
        if mirror:
            yield (dx, dy, True), mirror_images(v)


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
    test_shifts : int
        Also average over the test image translated by this many pixels left, right, up and down
        (:func:`shift_images`, edges replicated), each with its mirror when ``test_time``: 10 views
        instead of 2, so predicting costs 5 times as much; the fit is unchanged. 0 (default): no shifts.
        On CIFAR-10 (``kmeans-scattering-svm`` on a validation split of the training images, trained
        without mirrors) 2 pixels took 74.72 % (image + mirror) to 75.20 %
        (``benchmarks/bench_cifar_combined.py --test-shifts 2``).

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

    def __init__(self, estimator: Any, *, test_time: bool = True, test_shifts: int = 0) -> None:
        self.estimator = estimator
        self.test_time = test_time
        self.test_shifts = test_shifts

    def fit(self, X: Any, y: Any) -> "MirrorAugmented":
        """Fit a clone of ``estimator`` on ``X`` followed by its mirrors (labels repeated)."""
        if not (hasattr(self.estimator, "decision_function") or hasattr(self.estimator, "predict_proba")):
            raise VisionkitError(
                f"estimator: expected a classifier with decision_function or predict_proba, got {describe(self.estimator)}"
            )
        self._check_shifts()
        y = np.asarray(y)
        n = len(X)
        if y.ndim != 1 or len(y) != n:
            raise VisionkitError(f"y: expected {n} labels (one per image), got shape {y.shape}")
        self.estimator_ = clone(self.estimator).fit(_concat_images(X, mirror_images(X)), np.concatenate([y, y]))
        self.classes_ = self.estimator_.classes_
        return self

    def _check_shifts(self) -> int:
        k = self.test_shifts
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 0:
            raise VisionkitError(f"test_shifts: expected a non-negative integer number of pixels, got {describe(k)}")
        return int(k)

    def _views(self, X: Any) -> Iterator[Any]:
        """The test views whose scores are averaged, one at a time (:func:`augmented_views`)."""
        for _, v in augmented_views(X, shift=self._check_shifts(), mirror=self.test_time):
            yield v

    def _scores(self, X: Any) -> np.ndarray:
        check_is_fitted(self, "estimator_")
        method = getattr(self.estimator_, "decision_function" if hasattr(self.estimator_, "decision_function") else "predict_proba")
        total, n = None, 0
        for v in self._views(X):  # one view at a time: memory holds one view's features
            s = np.asarray(method(v), dtype=np.float64)
            total, n = (s if total is None else total + s), n + 1
        return total / n

    def decision_function(self, X: Any) -> np.ndarray:
        """The classifier's scores (or probabilities), averaged over each image's views (itself, its mirror, its shifts)."""
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
