"""Sobel filters as on the course's slide, on OpenCV primitives.

Border rule: every filter in visionkit extends the image by reflection without repeating the
edge pixel (OpenCV's ``BORDER_REFLECT_101``, numpy's ``"reflect"``, torch's ``"reflect"``:
``dcb|abcd|cba``), OpenCV's default, so results equal ``cv2.Sobel`` over the whole image.

Colour rule: (H, W, C) images are filtered channel by channel (as ``cv2.Sobel`` does) and the
results keep the shape (H, W, C).
"""

from __future__ import annotations

import cv2
import numpy as np

from .._validate import as_float_image
from ._kernels import SOBEL_DIFF, SOBEL_SMOOTH

__all__ = ["sobel_gradients", "sobel", "sobel_orientation", "BORDER"]

#: The border rule used by every visionkit filter (reflect-101).
BORDER = cv2.BORDER_REFLECT_101


def _sep(image: np.ndarray, kx: np.ndarray, ky: np.ndarray) -> np.ndarray:
    """Separable correlation with the reflect-101 border, keeping the input's shape."""
    out = cv2.sepFilter2D(image, cv2.CV_32F, kx, ky, borderType=BORDER)
    return out.reshape(image.shape)


def _gradients(image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    # cv2 handles at most 4 channels at once (our validation guarantees that).
    return _sep(image, SOBEL_DIFF, SOBEL_SMOOTH), _sep(image, SOBEL_SMOOTH, SOBEL_DIFF)


def sobel_gradients(image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Horizontal and vertical Sobel derivatives, with the slide's kernels.

    ``Gx = [[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]]`` and ``Gy = Gx.T``, applied by correlation (as
    OpenCV does): ``gx > 0`` where intensity rises with the column index, ``gy > 0`` where it rises
    with the row index. The kernels are not normalised (a unit step gives ``gx = 4`` on each side
    of it), unlike ``skimage.filters.sobel_h`` / ``sobel_v``.

    Parameters
    ----------
    image : ndarray, shape (H, W) or (H, W, C)
        Any dtype of the package's dtype rule (uint8 / 255, uint16 / 65535, bool, floats as they are).

    Returns
    -------
    gx, gy : ndarray of float32, same shape as ``image``
        Equal to ``cv2.Sobel(img, cv2.CV_32F, 1, 0, ksize=3)`` and ``(0, 1)`` on the float32 image,
        borders included (reflect-101 border).

    Examples
    --------
    >>> step = np.zeros((5, 6), dtype=np.float32); step[:, 3:] = 1
    >>> gx, gy = sobel_gradients(step)
    >>> gx[2].tolist(), float(np.abs(gy).max())
    ([0.0, 0.0, 4.0, 4.0, 0.0, 0.0], 0.0)
    """
    return _gradients(as_float_image(image))


def sobel(image: np.ndarray) -> np.ndarray:
    """Sobel gradient magnitude ``sqrt(gx**2 + gy**2)``.

    Parameters
    ----------
    image : ndarray, shape (H, W) or (H, W, C)

    Returns
    -------
    ndarray of float32, same shape as ``image``
        Unnormalised: a unit step edge has magnitude 4. ``skimage.filters.sobel`` equals this
        divided by ``4 * sqrt(2)``.
    """
    gx, gy = _gradients(as_float_image(image))
    return cv2.magnitude(gx, gy).reshape(gx.shape)


def sobel_orientation(image: np.ndarray) -> np.ndarray:
    """Gradient orientation ``arctan2(gy, gx)`` in radians, in ``[-pi, pi]``.

    0 points along +column (intensity rising to the right), ``pi / 2`` along +row (rising downwards).
    Where the gradient is zero the orientation is 0.

    Parameters
    ----------
    image : ndarray, shape (H, W) or (H, W, C)

    Returns
    -------
    ndarray of float32, same shape as ``image``
    """
    gx, gy = _gradients(as_float_image(image))
    return np.arctan2(gy, gx).astype(np.float32, copy=False)
