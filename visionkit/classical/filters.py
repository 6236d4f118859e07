"""Sobel filters as on the course's slide, on OpenCV primitives, and their torch twins.

Border rule: every filter in visionkit extends the image by reflection without repeating the
edge pixel (OpenCV's ``BORDER_REFLECT_101``, numpy's ``"reflect"``, torch's ``"reflect"``:
``dcb|abcd|cba``), OpenCV's default, so results equal ``cv2.Sobel`` over the whole image.

Colour rule: (H, W, C) images are filtered channel by channel (as ``cv2.Sobel`` does) and the
results keep the shape (H, W, C).

Torch twins (:func:`sobel_gradients_torch`, :func:`sobel_torch` and their modules
:class:`SobelGradients`, :class:`Sobel`): batched ``(B, C, H, W)``, differentiable, CPU or CUDA,
with the same kernels, border and dtype rule (floating tensors as they are, ``uint8`` / 255,
``bool`` as 0 / 1); they agree with the numpy functions to float32 rounding. torch is imported on
their first use only: ``import visionkit`` takes about 0.4 s, ``import torch`` 1 to 6 s.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

import cv2
import numpy as np

from .._validate import VisionkitError, as_float_image
from ._kernels import SOBEL_DIFF, SOBEL_SMOOTH

if TYPE_CHECKING:
    import torch

__all__ = ["sobel_gradients", "sobel", "sobel_orientation", "BORDER", "sobel_gradients_torch", "sobel_torch", "SobelGradients", "Sobel"]

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


# ------------------------------------------------------------------------------------ torch twins

def _check_input(input: torch.Tensor, *, min_size: int = 2) -> torch.Tensor:
    """A (B, C, H, W) tensor checked and brought to floating point by the dtype rule."""
    import torch

    if not isinstance(input, torch.Tensor):
        raise VisionkitError(f"input: expected a torch.Tensor of shape (B, C, H, W), got {type(input).__name__}")
    if input.ndim != 4:
        raise VisionkitError(f"input: expected shape (B, C, H, W) (4-D), got {input.ndim}-D with shape {tuple(input.shape)}")
    if input.numel() == 0:
        raise VisionkitError(f"input: expected a non-empty tensor, got shape {tuple(input.shape)}")
    h, w = input.shape[-2:]
    if h < min_size or w < min_size:
        raise VisionkitError(
            f"input: expected H and W >= {min_size} for this filter's reflect border, got H={h}, W={w}"
        )
    if input.dtype == torch.uint8:
        return input.float() / 255.0
    if input.dtype == torch.bool:
        return input.float()
    if not input.is_floating_point():
        raise VisionkitError(f"input: expected a floating, uint8 or bool tensor, got dtype {input.dtype}")
    return input


def _kernel(array, like: torch.Tensor) -> torch.Tensor:
    import torch

    return torch.as_tensor(array, dtype=like.dtype, device=like.device)


def sobel_gradients_torch(input: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Sobel derivatives of a batch, channel by channel.

    Parameters
    ----------
    input : Tensor, shape (B, C, H, W)

    Returns
    -------
    gx, gy : Tensor, shape (B, C, H, W)
        As :func:`visionkit.sobel_gradients` on each image.
    """
    x = _check_input(input)
    return _sep_conv(x, SOBEL_DIFF, SOBEL_SMOOTH), _sep_conv(x, SOBEL_SMOOTH, SOBEL_DIFF)


def sobel_torch(input: torch.Tensor, *, eps: float = 0.0) -> torch.Tensor:
    """Sobel magnitude ``sqrt(gx**2 + gy**2 + eps)`` of a batch, shape (B, C, H, W).

    ``eps > 0`` keeps the gradient finite where the image is flat (the square root's derivative is
    infinite at 0); with ``eps = 0`` the value equals :func:`visionkit.sobel`.
    """
    import torch

    gx, gy = sobel_gradients_torch(input)
    return torch.sqrt(gx * gx + gy * gy + eps)


def _sep_conv(x: torch.Tensor, kx, ky) -> torch.Tensor:
    """Separable correlation of every channel with 1-D kernels ``kx`` (along W) and ``ky`` (along H).

    Written as weighted sums of shifted views of the reflect-101-padded input: on the CPU this is
    faster than a depthwise ``conv2d`` for these small kernels (``benchmarks/bench_operators.py``
    times the twins), and it is exact and differentiable on any device.
    """
    import torch.nn.functional as F

    kx, ky = [float(v) for v in kx], [float(v) for v in ky]
    rx, ry = len(kx) // 2, len(ky) // 2
    h, w = x.shape[-2:]
    p = F.pad(x, (rx, rx, ry, ry), mode="reflect")
    t = None
    for i, k in enumerate(kx):
        if k:
            view = p[..., :, i : i + w]
            t = view * k if t is None else t.add_(view, alpha=k)  # in place: no temporaries
    out = None
    for i, k in enumerate(ky):
        if k:
            view = t[..., i : i + h, :]
            out = view * k if out is None else out.add_(view, alpha=k)
    return out


@functools.cache
def _torch_modules() -> dict[str, type]:
    """The nn.Module forms, built on first use so that importing this module does not import torch."""
    import torch
    from torch import nn

    class SobelGradients(nn.Module):
        """Module form of :func:`sobel_gradients_torch`: returns ``(B, C, 2, H, W)`` with gx then gy."""

        def forward(self, input: torch.Tensor) -> torch.Tensor:
            gx, gy = sobel_gradients_torch(input)
            return torch.stack([gx, gy], dim=2)

    class Sobel(nn.Module):
        """Module form of :func:`sobel_torch` (the gradient magnitude)."""

        def __init__(self, *, eps: float = 0.0) -> None:
            super().__init__()
            self.eps = eps

        def forward(self, input: torch.Tensor) -> torch.Tensor:
            return sobel_torch(input, eps=self.eps)

        def extra_repr(self) -> str:
            return f"eps={self.eps}"

    return _as_module_attributes({"SobelGradients": SobelGradients, "Sobel": Sobel}, __name__)


def _as_module_attributes(classes: dict[str, type], module: str) -> dict[str, type]:
    """Give classes built inside a function the name they are reached by (pickle and repr use it)."""
    for name, cls in classes.items():
        cls.__module__, cls.__qualname__ = module, name
    return classes


def __getattr__(name: str):
    if name in ("SobelGradients", "Sobel"):
        return _torch_modules()[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
