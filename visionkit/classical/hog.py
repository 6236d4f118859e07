"""Histograms of oriented gradients (Dalal & Triggs 2005) with ``skimage.feature.hog``'s settings.

* :func:`hog`: one image's HOG vector, on the ``[-1, 0, 1]`` central differences that skimage uses
  (default) or on visionkit's own Sobel gradients (see :func:`hog` for how the two match).
* :func:`hog_batch`: many images of one size, chunk by chunk, chunks in parallel.
* :class:`HOGFeatures`: the scikit-learn transformer (images in, one vector per image out).
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from .._validate import VisionkitError, as_float_image, check_positive
from ._parallel import map_chunks
from .filters import _sep, sobel_gradients
from .preprocessing import _ImageInput, _first_images, as_image_list, prepare_images, transform_in_chunks

__all__ = ["hog", "hog_batch", "HOGFeatures"]


def _central_gradients(gray: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """skimage.feature.hog's gradients: ``I[r, c+1] - I[r, c-1]`` (no 1/2), zero on the first/last column."""
    gx = _sep(gray, np.array([-1.0, 0.0, 1.0], np.float32), np.array([1.0], np.float32))
    gy = _sep(gray, np.array([1.0], np.float32), np.array([-1.0, 0.0, 1.0], np.float32))
    gx[:, [0, -1]] = 0.0
    gy[[0, -1], :] = 0.0
    return gx, gy


def _hog_gradients(image: np.ndarray, gradient: str) -> tuple[np.ndarray, np.ndarray]:
    """Per-pixel gradient; for colour, the channel with the largest magnitude (as skimage)."""
    if gradient == "sobel":
        gx, gy = sobel_gradients(image)
    else:
        gx, gy = _central_gradients(image)
    if gx.ndim == 3:
        mag = gx * gx + gy * gy
        idx = mag.argmax(axis=2)[..., None]
        gx = np.take_along_axis(gx, idx, axis=2)[..., 0]
        gy = np.take_along_axis(gy, idx, axis=2)[..., 0]
    return gx, gy


def _hog_from_gradients(
    gx: np.ndarray, gy: np.ndarray, orientations: int, cell: tuple[int, int], block: tuple[int, int], block_norm: str
) -> np.ndarray:
    """Cell histograms (hard orientation binning, magnitude averaged over the cell) then block norms.

    ``gx, gy`` are (B, H, W); returns (B, D).
    """
    b, h, w = gx.shape
    cr, cc = cell
    ncr, ncc = h // cr, w // cc
    br, bc = block
    if ncr < br or ncc < bc:
        raise VisionkitError(
            f"hog: an image of {h} x {w} pixels holds {ncr} x {ncc} cells of {cr} x {cc}, fewer than one block of "
            f"{br} x {bc} cells; use a bigger image or smaller pixels_per_cell / cells_per_block"
        )
    gx = gx[:, : ncr * cr, : ncc * cc]
    gy = gy[:, : ncr * cr, : ncc * cc]
    mag = np.hypot(gx, gy)
    # float64 angles, as skimage: with 8 orientations 45 / 90 / 135 degrees are bin edges, and
    # quantised images have many exact diagonals that float32 would put in the bin below
    ang = np.rad2deg(np.arctan2(gy.astype(np.float64), gx.astype(np.float64))) % 180.0
    # skimage's bin i holds angles in [i * 180 / n, (i + 1) * 180 / n)
    idx = np.minimum((ang * (orientations / 180.0)).astype(np.int64), orientations - 1)
    cell_idx = (np.arange(ncr * cr) // cr)[:, None] * ncc + (np.arange(ncc * cc) // cc)[None, :]
    flat = (np.arange(b)[:, None, None] * (ncr * ncc) + cell_idx[None]) * orientations + idx
    hist = np.bincount(flat.ravel(), weights=mag.ravel().astype(np.float64), minlength=b * ncr * ncc * orientations)
    hist = (hist / (cr * cc)).reshape(b, ncr, ncc, orientations)
    nbr, nbc = ncr - br + 1, ncc - bc + 1
    blocks = np.empty((b, nbr, nbc, br, bc, orientations), dtype=np.float64)
    for i in range(br):
        for j in range(bc):
            blocks[:, :, :, i, j, :] = hist[:, i : i + nbr, j : j + nbc, :]
    blocks = blocks.reshape(b, nbr, nbc, -1)
    eps = 1e-5
    if block_norm == "L1":
        blocks = blocks / (np.abs(blocks).sum(-1, keepdims=True) + eps)
    elif block_norm == "L1-sqrt":
        blocks = np.sqrt(blocks / (np.abs(blocks).sum(-1, keepdims=True) + eps))
    elif block_norm == "L2":
        blocks = blocks / np.sqrt((blocks**2).sum(-1, keepdims=True) + eps**2)
    else:  # L2-Hys
        blocks = blocks / np.sqrt((blocks**2).sum(-1, keepdims=True) + eps**2)
        blocks = np.minimum(blocks, 0.2)
        blocks = blocks / np.sqrt((blocks**2).sum(-1, keepdims=True) + eps**2)
    return blocks.reshape(b, -1).astype(np.float32)


_BLOCK_NORMS = ("L1", "L1-sqrt", "L2", "L2-Hys")


def _check_hog_options(orientations, pixels_per_cell, cells_per_block, block_norm, gradient):
    orientations = check_positive(orientations, "orientations", integer=True)
    try:
        cell = tuple(check_positive(v, "pixels_per_cell", integer=True) for v in pixels_per_cell)
        block = tuple(check_positive(v, "cells_per_block", integer=True) for v in cells_per_block)
    except TypeError:
        raise VisionkitError("pixels_per_cell, cells_per_block: expected pairs of ints such as (8, 8)") from None
    if len(cell) != 2 or len(block) != 2:
        raise VisionkitError(f"pixels_per_cell, cells_per_block: expected pairs, got {pixels_per_cell} and {cells_per_block}")
    if block_norm not in _BLOCK_NORMS:
        raise VisionkitError(f"block_norm: expected one of {_BLOCK_NORMS}, got {block_norm!r}")
    if gradient not in ("sobel", "central"):
        raise VisionkitError(f"gradient: expected 'sobel' or 'central', got {gradient!r}")
    return orientations, cell, block


def hog(
    image: np.ndarray,
    *,
    orientations: int = 9,
    pixels_per_cell: tuple[int, int] = (8, 8),
    cells_per_block: tuple[int, int] = (3, 3),
    block_norm: Literal["L1", "L1-sqrt", "L2", "L2-Hys"] = "L2-Hys",
    gradient: Literal["sobel", "central"] = "central",
) -> np.ndarray:
    """Histogram of oriented gradients (Dalal & Triggs 2005), with ``skimage.feature.hog``'s settings.

    The steps and defaults are skimage's: unsigned orientations in [0, 180) degrees, each pixel's
    gradient magnitude added to one orientation bin of its cell (no interpolation), cell histograms
    averaged over the cell's pixels, blocks of ``cells_per_block`` cells sliding one cell at a time,
    each normalised (``"L2-Hys"``: L2, clip at 0.2, L2 again, ``eps = 1e-5``), and the feature
    ordered ``(block_row, block_col, cell_row, cell_col, orientation)``. Colour images use, at each
    pixel, the channel with the largest gradient (skimage's ``channel_axis=-1``).

    How this matches skimage. skimage differentiates with ``[-1, 0, 1]`` (central differences,
    zero on the outer rows/columns). ``gradient="central"`` (the default) does exactly that, with
    the same reflect-101 separable-filter primitive that :func:`visionkit.sobel_gradients` is built
    on, and agrees with ``skimage.feature.hog`` up to float32 against float64 at bin edges
    (``tests/classical/test_hog.py`` compares them). ``gradient="sobel"`` uses :func:`visionkit.sobel_gradients` itself: the same
    ``[-1, 0, 1]`` difference smoothed by ``[1, 2, 1]`` across it. The factor 4 it adds vanishes in
    block normalisation, but the smoothing moves the orientation of weak, noisy gradients (flat sky,
    quantised ramps) to other bins, and block normalisation magnifies exactly those cells, so on
    photos it correlates with skimage's far less; binary images differ too (central differences
    see staircase edges at 0/45/90 degrees, Sobel smooths them), smooth images hardly. It is a
    valid HOG, not skimage's (the measured correlations: ``benchmarks/RESULTS_redesign.md``). At the image border both give zero gradient
    normal to the edge (reflect-101 makes Sobel's derivative vanish there too).

    Parameters
    ----------
    image : ndarray, shape (H, W) or (H, W, C)
        Any dtype of the dtype rule.
    orientations : int
    pixels_per_cell : (int, int)
    cells_per_block : (int, int)
    block_norm : {"L1", "L1-sqrt", "L2", "L2-Hys"}
    gradient : {"sobel", "central"}

    Returns
    -------
    ndarray of float32, shape (D,)
        ``D = n_blocks_row * n_blocks_col * cells_per_block[0] * cells_per_block[1] * orientations``
        with ``n_blocks = H // pixels_per_cell - cells_per_block + 1`` along each axis.

    Raises
    ------
    VisionkitError
        If the image holds fewer cells than one block.

    References
    ----------
    .. [1] N. Dalal and B. Triggs, "Histograms of oriented gradients for human detection", CVPR 2005.
    """
    orientations, cell, block = _check_hog_options(orientations, pixels_per_cell, cells_per_block, block_norm, gradient)
    img = as_float_image(image)
    gx, gy = _hog_gradients(img, gradient)
    return _hog_from_gradients(gx[None], gy[None], orientations, cell, block, block_norm)[0]


def hog_batch(
    images: Any,
    *,
    orientations: int = 9,
    pixels_per_cell: tuple[int, int] = (8, 8),
    cells_per_block: tuple[int, int] = (3, 3),
    block_norm: str = "L2-Hys",
    gradient: str = "central",
    n_jobs: int | None = None,
    chunk_size: int = 2048,
) -> np.ndarray:
    """:func:`hog` of many images of one size, chunk by chunk, chunks in parallel (joblib).

    Parameters
    ----------
    images : ndarray, shape (N, H, W) or (N, H, W, C), or a sequence of equal-size images
    n_jobs : int or None
        joblib workers (``None``: 1, ``-1``: all cores).
    chunk_size : int
        Images per task; memory stays at a few chunks' worth of gradients.

    Returns
    -------
    ndarray of float32, shape (N, D)
    """
    orientations, cell, block = _check_hog_options(orientations, pixels_per_cell, cells_per_block, block_norm, gradient)
    imgs = as_image_list(images)
    shapes = {im.shape[:2] for im in imgs}
    if len(shapes) != 1:
        raise VisionkitError(f"hog_batch: expected images of one size (HOG lengths depend on it), got sizes {sorted(shapes)[:5]}")

    def run(chunk: list[np.ndarray], _index: int) -> np.ndarray:
        grads = [_hog_gradients(as_float_image(im), gradient) for im in chunk]
        gx = np.stack([g[0] for g in grads])
        gy = np.stack([g[1] for g in grads])
        return _hog_from_gradients(gx, gy, orientations, cell, block, block_norm)

    return np.concatenate(map_chunks(run, imgs, chunk_size=chunk_size, n_jobs=n_jobs, desc="HOG"))


class HOGFeatures(_ImageInput, TransformerMixin, BaseEstimator):
    """:func:`hog` of each image, resized to ``size`` first.

    Parameters
    ----------
    size : (H, W)
        Every image is resized to this so the HOG vectors have one length.
    orientations, pixels_per_cell, cells_per_block, block_norm, gradient
        As in :func:`hog`.
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
        self.n_features_out_ = self._features(_first_images(X)).shape[1]
        return self

    def transform(self, X):
        """HOG vectors (N, D) float32; a lazily decoded folder is read chunk by chunk (:func:`transform_in_chunks`)."""
        check_is_fitted(self, "n_features_out_")
        return transform_in_chunks(self._features, X, desc="HOG (streamed)")
