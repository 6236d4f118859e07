"""Torch twins of the Sobel and Harris operators: batched, differentiable, CPU or CUDA.

They use the same kernels (:mod:`visionkit.classical._kernels`), the same reflect-101 border and
the same colour rule as the numpy functions and agree with them to float32 rounding. Input is
``(B, C, H, W)``; floating tensors are taken as they are, ``uint8`` is divided by 255 and ``bool``
becomes 0 / 1, as in the numpy dtype rule.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from .._validate import GRAY_WEIGHTS, VisionkitError, check_positive
from ._kernels import SOBEL_X, SOBEL_Y, gaussian_derivative_kernel1d, gaussian_kernel1d

__all__ = ["sobel_gradients_torch", "sobel_torch", "harris_response_torch", "Sobel", "SobelGradients", "HarrisResponse"]


def _check_input(input: torch.Tensor, *, min_size: int = 2) -> torch.Tensor:
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
    b, c, h, w = x.shape
    weight = torch.stack([_kernel(SOBEL_X, x), _kernel(SOBEL_Y, x)])[:, None]  # (2, 1, 3, 3)
    padded = F.pad(x.reshape(b * c, 1, h, w), (1, 1, 1, 1), mode="reflect")
    g = F.conv2d(padded, weight).reshape(b, c, 2, h, w)
    return g[:, :, 0], g[:, :, 1]


def sobel_torch(input: torch.Tensor, *, eps: float = 0.0) -> torch.Tensor:
    """Sobel magnitude ``sqrt(gx**2 + gy**2 + eps)`` of a batch, shape (B, C, H, W).

    ``eps > 0`` keeps the gradient finite where the image is flat (the square root's derivative is
    infinite at 0); with ``eps = 0`` the value equals :func:`visionkit.sobel`.
    """
    gx, gy = sobel_gradients_torch(input)
    return torch.sqrt(gx * gx + gy * gy + eps)


def _gray(x: torch.Tensor) -> torch.Tensor:
    c = x.shape[1]
    if c in (1, 2):
        return x[:, :1]
    if c in (3, 4):
        w = _kernel(GRAY_WEIGHTS, x).view(1, 3, 1, 1)
        return (x[:, :3] * w).sum(dim=1, keepdim=True)
    raise VisionkitError(f"input: expected 1 to 4 channels, got {c} (shape {tuple(x.shape)})")


def _sep_conv(x: torch.Tensor, kx: torch.Tensor, ky: torch.Tensor) -> torch.Tensor:
    """Depthwise separable correlation with a reflect-101 border."""
    c = x.shape[1]
    rx, ry = kx.numel() // 2, ky.numel() // 2
    x = F.pad(x, (rx, rx, ry, ry), mode="reflect")
    x = F.conv2d(x, kx.view(1, 1, 1, -1).expand(c, 1, 1, -1), groups=c)
    return F.conv2d(x, ky.view(1, 1, -1, 1).expand(c, 1, -1, 1), groups=c)


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
    check_positive(sigma, "sigma")
    check_positive(derivative_sigma, "derivative_sigma")
    if not 0 <= k < 0.25:
        raise VisionkitError(f"k: expected a number in [0, 0.25), got {k!r}")
    if gradient not in ("sobel", "gaussian"):
        raise VisionkitError(f"gradient: expected 'sobel' or 'gaussian', got {gradient!r}")
    g_win = gaussian_kernel1d(sigma)
    radius = len(g_win) // 2
    x = _gray(_check_input(input, min_size=radius + 1))
    if gradient == "sobel":
        ix, iy = sobel_gradients_torch(x)
    else:
        d = _kernel(gaussian_derivative_kernel1d(derivative_sigma), x)
        g = _kernel(gaussian_kernel1d(derivative_sigma), x)
        if x.shape[-1] <= g.numel() // 2 or x.shape[-2] <= g.numel() // 2:
            raise VisionkitError(f"input: expected H and W > {g.numel() // 2} for derivative_sigma={derivative_sigma}")
        ix, iy = _sep_conv(x, d, g), _sep_conv(x, g, d)
    products = torch.cat([ix * ix, iy * iy, ix * iy], dim=1)
    gw = _kernel(g_win, x)
    s = _sep_conv(products, gw, gw)
    sxx, syy, sxy = s[:, 0:1], s[:, 1:2], s[:, 2:3]
    trace = sxx + syy
    return sxx * syy - sxy * sxy - k * trace * trace


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
