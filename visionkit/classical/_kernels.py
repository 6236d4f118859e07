"""The one definition of the filter kernels, shared by the numpy (cv2) and torch paths."""

from __future__ import annotations

import numpy as np

#: Sobel's smoothing and difference factors: the slide's Gx = outer(SMOOTH, DIFF), Gy = Gx.T.
SOBEL_SMOOTH = np.array([1.0, 2.0, 1.0], dtype=np.float32)
SOBEL_DIFF = np.array([-1.0, 0.0, 1.0], dtype=np.float32)

#: Gx = [[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]] and Gy its transpose, as on the course's slide.
SOBEL_X = np.outer(SOBEL_SMOOTH, SOBEL_DIFF)
SOBEL_Y = SOBEL_X.T.copy()


def gaussian_radius(sigma: float, truncate: float = 4.0) -> int:
    """Kernel radius used for a Gaussian of standard deviation ``sigma`` (as scipy / skimage: ``int(truncate*sigma + 0.5)``)."""
    return max(1, int(truncate * float(sigma) + 0.5))


def gaussian_kernel1d(sigma: float, truncate: float = 4.0) -> np.ndarray:
    """Normalised 1-D Gaussian of length ``2 * radius + 1``, float32.

    The same weights as ``scipy.ndimage.gaussian_filter`` (and so ``skimage.filters.gaussian``).
    """
    r = gaussian_radius(sigma, truncate)
    x = np.arange(-r, r + 1, dtype=np.float64)
    k = np.exp(-0.5 * (x / float(sigma)) ** 2)
    return (k / k.sum()).astype(np.float32)


def gaussian_derivative_kernel1d(sigma: float, truncate: float = 4.0) -> np.ndarray:
    """First derivative of :func:`gaussian_kernel1d`, laid out for correlation.

    Correlating a ramp ``I(x) = x`` with it gives 1, so ``I_x = G^x_sigma * I`` estimates dI/dx
    with the same sign convention as the Sobel kernels (positive where intensity rises).
    """
    r = gaussian_radius(sigma, truncate)
    x = np.arange(-r, r + 1, dtype=np.float64)
    g = np.exp(-0.5 * (x / float(sigma)) ** 2)
    g /= g.sum()
    d = x * g / float(sigma) ** 2  # -dG/dx, flipped for correlation
    d /= (d * x).sum()  # unit response to a unit ramp
    return d.astype(np.float32)

