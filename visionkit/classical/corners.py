"""Harris corners as the course's six steps, standing on visionkit's own Sobel gradients.

1. derivatives ``Ix``, ``Iy`` (Sobel, or the slide's Gaussian derivatives ``G^x_sigma * I``);
2. products ``Ix2 = Ix*Ix``, ``Iy2 = Iy*Iy``, ``Ixy = Ix*Iy``;
3. their Gaussian-window sums ``Sx2 = G_sigma' * Ix2`` ...;
4. the matrix ``H = [[Sx2, Sxy], [Sxy, Sy2]]`` at each pixel;
5. the response ``R = det(H) - k trace(H)^2``;
6. a threshold on ``R`` and non-maximum suppression (:func:`corner_peaks`).

Steps 1 to 5 make a response map (:func:`harris_response`, or :func:`harris_steps` for every
intermediate image); step 6 picks points from it (:func:`corner_peaks`); :func:`harris_corners`
chains the two. Colour images are first reduced to grey (BT.709 weights, as
``skimage.color.rgb2gray``). Borders are extended by reflect-101, as everywhere in visionkit.

The torch twin :func:`harris_response_torch` (module :class:`HarrisResponse`) computes steps 1 to 5
on a ``(B, C, H, W)`` batch, differentiable, on CPU or CUDA; torch is imported on first use.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Literal, NamedTuple

import cv2
import numpy as np
from scipy import spatial

from .._validate import GRAY_WEIGHTS, VisionkitError, as_float_image, check_image_array, check_positive, describe, to_gray
from ._kernels import gaussian_derivative_kernel1d, gaussian_kernel1d
from .filters import _as_module_attributes, _check_input, _gradients, _kernel, _sep, _sep_conv, sobel_gradients_torch

if TYPE_CHECKING:
    import torch

__all__ = ["HarrisSteps", "harris_steps", "harris_response", "corner_peaks", "harris_corners", "harris_response_torch", "HarrisResponse"]

Gradient = Literal["sobel", "gaussian"]

_TRACE_DIFF = np.array([[1, 1, 0], [1, -1, 0], [0, 0, 1]], dtype=np.float32)


class HarrisSteps(NamedTuple):
    """Every intermediate image of the Harris detector, each (H, W) float32.

    Attributes
    ----------
    ix, iy : step 1, the derivatives.
    ixx, iyy, ixy : step 2, their products ``Ix*Ix``, ``Iy*Iy``, ``Ix*Iy``.
    sxx, syy, sxy : step 3, the Gaussian-window sums (the entries of ``H``, step 4).
    response : step 5, ``R = det(H) - k trace(H)^2``.
    """

    ix: np.ndarray
    iy: np.ndarray
    ixx: np.ndarray
    iyy: np.ndarray
    ixy: np.ndarray
    sxx: np.ndarray
    syy: np.ndarray
    sxy: np.ndarray
    response: np.ndarray


def _check_options(sigma: float, k: float, gradient: str, derivative_sigma: float) -> None:
    check_positive(sigma, "sigma")
    check_positive(derivative_sigma, "derivative_sigma")
    if isinstance(k, bool) or not isinstance(k, (int, float, np.floating)) or not 0 <= k < 0.25:
        raise VisionkitError(f"k: expected a number in [0, 0.25), got {describe(k)}")
    if gradient not in ("sobel", "gaussian"):
        raise VisionkitError(f"gradient: expected 'sobel' or 'gaussian', got {gradient!r}")


def _gray(image: np.ndarray) -> np.ndarray:
    return to_gray(as_float_image(image))


def _derivatives(gray: np.ndarray, gradient: str, derivative_sigma: float) -> tuple[np.ndarray, np.ndarray]:
    if gradient == "sobel":
        return _gradients(gray)
    d = gaussian_derivative_kernel1d(derivative_sigma)
    g = gaussian_kernel1d(derivative_sigma)
    return _sep(gray, d, g), _sep(gray, g, d)


def _window(products: np.ndarray, sigma: float) -> np.ndarray:
    g = gaussian_kernel1d(sigma)
    return _sep(products, g, g)


def harris_steps(
    image: np.ndarray,
    *,
    sigma: float = 1.0,
    k: float = 0.05,
    gradient: Gradient = "sobel",
    derivative_sigma: float = 1.0,
) -> HarrisSteps:
    """Run Harris steps 1 to 5 and return every intermediate image (for teaching figures).

    Parameters and the response are those of :func:`harris_response`; this version keeps the
    intermediate arrays and so uses more memory.

    Returns
    -------
    HarrisSteps
        ``ix, iy, ixx, iyy, ixy, sxx, syy, sxy, response``, each (H, W) float32.
    """
    _check_options(sigma, k, gradient, derivative_sigma)
    gray = _gray(image)
    ix, iy = _derivatives(gray, gradient, derivative_sigma)
    ixx, iyy, ixy = ix * ix, iy * iy, ix * iy
    s = _window(np.dstack([ixx, iyy, ixy]), sigma)
    sxx, syy, sxy = (np.ascontiguousarray(s[..., i]) for i in range(3))
    response = sxx * syy - sxy * sxy - np.float32(k) * (sxx + syy) ** 2
    return HarrisSteps(ix, iy, ixx, iyy, ixy, sxx, syy, sxy, response.astype(np.float32, copy=False))


def harris_response(
    image: np.ndarray,
    *,
    sigma: float = 1.0,
    k: float = 0.05,
    gradient: Gradient = "sobel",
    derivative_sigma: float = 1.0,
) -> np.ndarray:
    """Harris corner response ``R = det(H) - k trace(H)^2`` (steps 1 to 5 of the course).

    Parameters
    ----------
    image : ndarray, shape (H, W) or (H, W, C)
        Any dtype of the dtype rule; colour is reduced to grey first.
    sigma : float
        Standard deviation of the Gaussian window that sums the derivative products (step 3), as
        ``sigma`` in ``skimage.feature.corner_harris``. The window is truncated at
        ``int(4 * sigma + 0.5)`` pixels, like scipy's.
    k : float
        Harris' sensitivity constant, in [0, 0.25); 0.04 to 0.06 is usual.
    gradient : {"sobel", "gaussian"}
        ``"sobel"`` (default) uses :func:`visionkit.sobel_gradients`, as
        ``skimage.feature.corner_harris`` does; ``"gaussian"`` uses the slide's derivatives of a
        Gaussian of standard deviation ``derivative_sigma`` (normalised to a unit response to a
        unit ramp).
    derivative_sigma : float
        Only with ``gradient="gaussian"``.

    Returns
    -------
    ndarray of float32, shape (H, W)
        Positive at corners, negative along edges, near zero in flat regions. With the defaults it
        equals ``corner_harris(image, sigma=1, k=0.05)`` away from a border of ``4 * sigma + 1``
        pixels (the border rules differ: reflect-101 here, zero padding there).

    References
    ----------
    .. [1] C. Harris and M. Stephens, "A combined corner and edge detector", Alvey Vision
           Conference, 1988.

    Examples
    --------
    >>> img = np.zeros((20, 20), dtype=np.float32); img[5:15, 5:15] = 1
    >>> r = harris_response(img)
    >>> bool(r[5, 5] > 0 > r[10, 5])
    True
    """
    _check_options(sigma, k, gradient, derivative_sigma)
    gray = _gray(image)
    ix, iy = _derivatives(gray, gradient, derivative_sigma)
    products = np.empty(gray.shape + (3,), dtype=np.float32)
    np.multiply(ix, ix, out=products[..., 0])
    np.multiply(iy, iy, out=products[..., 1])
    np.multiply(ix, iy, out=products[..., 2])
    s = _window(products, sigma)  # (H, W, 3): Sxx, Syy, Sxy interleaved
    # R = Sxx Syy - Sxy^2 - k (Sxx + Syy)^2 = (1/4 - k) a^2 - d^2 / 4 - Sxy^2 with a = Sxx + Syy and
    # d = Sxx - Syy: two 3-channel passes and one reduction, each a single cv2 call on contiguous data.
    t = cv2.transform(s, _TRACE_DIFF)
    cv2.multiply(t, t, dst=t)
    weights = np.array([[0.25 - float(k), -0.25, -1.0]], dtype=np.float32)
    return cv2.transform(t, weights)


def corner_peaks(
    response: np.ndarray,
    *,
    min_distance: int = 1,
    threshold_abs: float | None = None,
    threshold_rel: float | None = 0.01,
    exclude_border: bool | int = True,
    max_corners: int | None = None,
) -> np.ndarray:
    """Pick corners from a response map: threshold, then non-maximum suppression (step 6).

    A pixel is kept when it is the maximum of its ``(2 * min_distance + 1)`` square neighbourhood,
    exceeds ``max(threshold_abs, threshold_rel * response.max())``, and lies at least
    ``exclude_border`` pixels from the edge. Points closer than ``min_distance`` (Chebyshev
    distance) to a stronger kept point, as on plateaus, are dropped, like
    ``skimage.feature.corner_peaks``.

    Parameters
    ----------
    response : ndarray, shape (H, W)
        A response map such as :func:`harris_response`'s.
    min_distance : int
        Minimum separation of corners, >= 1.
    threshold_abs, threshold_rel : float or None
        Absolute threshold, and threshold relative to the map's maximum (default 0.01, OpenCV's
        usual choice). ``None`` disables each; with both ``None`` every local maximum above the
        map's minimum is kept.
    exclude_border : bool or int
        ``True`` excludes ``min_distance`` pixels, an int that many, ``False`` none.
    max_corners : int or None
        Keep at most this many, the strongest.

    Returns
    -------
    ndarray of int64, shape (N, 2)
        ``(row, col)`` coordinates, strongest first (ties by row, then column).
    """
    response = check_image_array(response, name="response", ndims=(2,))
    if response.dtype.kind not in "fiub":
        raise VisionkitError(f"response: expected a real-valued map, got dtype {response.dtype}")
    r = np.ascontiguousarray(response, dtype=np.float32)
    min_distance = check_positive(min_distance, "min_distance", integer=True)
    if max_corners is not None:
        max_corners = check_positive(max_corners, "max_corners", integer=True)
    if isinstance(exclude_border, bool):
        border = min_distance if exclude_border else 0
    else:
        border = check_positive(exclude_border, "exclude_border", integer=True, allow_zero=True)

    threshold = float(threshold_abs) if threshold_abs is not None else float(r.min())
    if threshold_rel is not None:
        check_positive(threshold_rel, "threshold_rel", allow_zero=True)
        threshold = max(threshold, float(threshold_rel) * float(r.max()))

    size = 2 * min_distance + 1
    local_max = cv2.dilate(r, np.ones((size, size), np.uint8), borderType=cv2.BORDER_REFLECT_101)
    mask = (r == local_max) & (r > threshold)
    if border:
        mask[:border] = mask[-border:] = False
        mask[:, :border] = mask[:, -border:] = False
    coords = np.argwhere(mask)
    if len(coords) == 0:
        return np.zeros((0, 2), dtype=np.int64)
    strength = r[coords[:, 0], coords[:, 1]]
    order = np.lexsort((coords[:, 1], coords[:, 0], -strength))
    coords = coords[order]
    coords = _ensure_spacing(coords, min_distance)
    if max_corners is not None:
        coords = coords[:max_corners]
    return coords.astype(np.int64)


def _ensure_spacing(coords: np.ndarray, min_distance: int) -> np.ndarray:
    """Greedy suppression, in order: drop points within ``min_distance`` (Chebyshev) of a kept one."""
    if len(coords) < 2:
        return coords
    tree = spatial.cKDTree(coords)
    pairs = tree.query_pairs(r=min_distance, p=np.inf, output_type="ndarray")
    if len(pairs) == 0:
        return coords
    neighbours: dict[int, list[int]] = {}
    for a, b in pairs:
        neighbours.setdefault(int(a), []).append(int(b))
        neighbours.setdefault(int(b), []).append(int(a))
    removed = np.zeros(len(coords), dtype=bool)
    for i in sorted(neighbours):  # coords are sorted strongest first
        if removed[i]:
            continue
        for j in neighbours[i]:
            if j > i:
                removed[j] = True
    return coords[~removed]


def _refine_subpixel(response: np.ndarray, coords: np.ndarray) -> np.ndarray:
    """Fit a quadratic to the 3x3 neighbourhood of each peak; offsets clipped to +-0.5 pixel."""
    out = coords.astype(np.float64)
    h, w = response.shape
    r = response.astype(np.float64)
    for n, (y, x) in enumerate(coords):
        if not (0 < y < h - 1 and 0 < x < w - 1):
            continue
        p = r[y - 1 : y + 2, x - 1 : x + 2]
        dx = (p[1, 2] - p[1, 0]) / 2
        dy = (p[2, 1] - p[0, 1]) / 2
        dxx = p[1, 2] - 2 * p[1, 1] + p[1, 0]
        dyy = p[2, 1] - 2 * p[1, 1] + p[0, 1]
        dxy = (p[2, 2] - p[2, 0] - p[0, 2] + p[0, 0]) / 4
        det = dxx * dyy - dxy * dxy
        if det <= 0 or dxx >= 0:  # not a maximum of the fitted quadratic
            continue
        ox = -(dyy * dx - dxy * dy) / det
        oy = -(dxx * dy - dxy * dx) / det
        out[n] = (y + np.clip(oy, -0.5, 0.5), x + np.clip(ox, -0.5, 0.5))
    return out


def harris_corners(
    image: np.ndarray,
    *,
    sigma: float = 1.0,
    k: float = 0.05,
    gradient: Gradient = "sobel",
    derivative_sigma: float = 1.0,
    min_distance: int = 1,
    threshold_abs: float | None = None,
    threshold_rel: float | None = 0.01,
    exclude_border: bool | int = True,
    max_corners: int | None = None,
    subpixel: bool = False,
) -> np.ndarray:
    """Harris corners: :func:`harris_response` then :func:`corner_peaks`.

    Parameters
    ----------
    image : ndarray, shape (H, W) or (H, W, C)
    sigma, k, gradient, derivative_sigma
        As in :func:`harris_response`.
    min_distance, threshold_abs, threshold_rel, exclude_border, max_corners
        As in :func:`corner_peaks`.
    subpixel : bool
        Refine each corner by fitting a quadratic to the response around it.

    Returns
    -------
    ndarray, shape (N, 2)
        ``(row, col)`` of each corner, strongest first; int64, or float64 with ``subpixel=True``.

    Examples
    --------
    >>> img = np.zeros((32, 32), dtype=np.uint8); img[8:24, 8:24] = 255
    >>> harris_corners(img, min_distance=3).tolist()
    [[8, 8], [8, 23], [23, 8], [23, 23]]
    """
    response = harris_response(image, sigma=sigma, k=k, gradient=gradient, derivative_sigma=derivative_sigma)
    coords = corner_peaks(
        response,
        min_distance=min_distance,
        threshold_abs=threshold_abs,
        threshold_rel=threshold_rel,
        exclude_border=exclude_border,
        max_corners=max_corners,
    )
    if subpixel:
        return _refine_subpixel(response, coords)
    return coords


# ------------------------------------------------------------------------------------ torch twin

def _gray_torch(x: torch.Tensor) -> torch.Tensor:
    c = x.shape[1]
    if c in (1, 2):
        return x[:, :1]
    if c in (3, 4):
        w = _kernel(GRAY_WEIGHTS, x).view(1, 3, 1, 1)
        return (x[:, :3] * w).sum(dim=1, keepdim=True)
    raise VisionkitError(f"input: expected 1 to 4 channels, got {c} (shape {tuple(x.shape)})")


def harris_response_torch(
    input: torch.Tensor,
    *,
    sigma: float = 1.0,
    k: float = 0.05,
    gradient: Literal["sobel", "gaussian"] = "sobel",
    derivative_sigma: float = 1.0,
) -> torch.Tensor:
    """Harris response of a batch, as :func:`visionkit.harris_response` on each image.

    Parameters
    ----------
    input : Tensor, shape (B, C, H, W)
        C = 1, or 3 / 4 (reduced to grey with the BT.709 weights, alpha ignored).
    sigma, k, gradient, derivative_sigma
        As in :func:`visionkit.harris_response`.

    Returns
    -------
    Tensor, shape (B, 1, H, W)
    """
    import torch

    check_positive(sigma, "sigma")
    check_positive(derivative_sigma, "derivative_sigma")
    if not 0 <= k < 0.25:
        raise VisionkitError(f"k: expected a number in [0, 0.25), got {k!r}")
    if gradient not in ("sobel", "gaussian"):
        raise VisionkitError(f"gradient: expected 'sobel' or 'gaussian', got {gradient!r}")
    g_win = gaussian_kernel1d(sigma)
    radius = len(g_win) // 2
    x = _gray_torch(_check_input(input, min_size=radius + 1))
    if gradient == "sobel":
        ix, iy = sobel_gradients_torch(x)
    else:
        d = gaussian_derivative_kernel1d(derivative_sigma)
        g = gaussian_kernel1d(derivative_sigma)
        if min(x.shape[-2:]) <= len(g) // 2:
            raise VisionkitError(f"input: expected H and W > {len(g) // 2} for derivative_sigma={derivative_sigma}")
        ix, iy = _sep_conv(x, d, g), _sep_conv(x, g, d)
    products = torch.cat([ix * ix, iy * iy, ix * iy], dim=1)
    s = _sep_conv(products, g_win, g_win)
    sxx, syy, sxy = s[:, 0:1], s[:, 1:2], s[:, 2:3]
    trace = sxx + syy
    return sxx * syy - sxy * sxy - k * trace * trace


@functools.cache
def _torch_modules() -> dict[str, type]:
    """The nn.Module form, built on first use so that importing this module does not import torch."""
    from torch import nn

    class HarrisResponse(nn.Module):
        """Module form of :func:`harris_response_torch`; stores the settings only."""

        def __init__(
            self,
            *,
            sigma: float = 1.0,
            k: float = 0.05,
            gradient: Literal["sobel", "gaussian"] = "sobel",
            derivative_sigma: float = 1.0,
        ) -> None:
            super().__init__()
            self.sigma, self.k, self.gradient, self.derivative_sigma = sigma, k, gradient, derivative_sigma

        def forward(self, input: torch.Tensor) -> torch.Tensor:
            return harris_response_torch(
                input, sigma=self.sigma, k=self.k, gradient=self.gradient, derivative_sigma=self.derivative_sigma
            )

        def extra_repr(self) -> str:
            return f"sigma={self.sigma}, k={self.k}, gradient={self.gradient!r}"

    return _as_module_attributes({"HarrisResponse": HarrisResponse}, __name__)


def __getattr__(name: str):
    if name == "HarrisResponse":
        return _torch_modules()[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
