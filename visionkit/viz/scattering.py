"""The scattering transform's filters beside Sobel's kernels and a CNN's first layer.

Three kinds of first-layer filters, from designed to learned: Sobel's two 3 x 3 kernels (one
scale, two directions, hand-written), the scattering transform's Morlet wavelets (``J`` scales,
``L`` directions, designed but never trained) and a network's first convolution (learned from
ImageNet: EfficientNet-Lite0's 32 filters by default). The wavelets are drawn in space (the real
part, centred), their scale growing by 2 per row.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from matplotlib.figure import Figure

from .._validate import VisionkitError
from ..classical._kernels import SOBEL_X, SOBEL_Y
from ..classical.scattering import scattering_filter_bank
from .figures import _new_axes, show_panel
from .network import filter_grid

__all__ = ["wavelet_tiles", "scattering_filters_figure"]


def wavelet_tiles(*, J: int = 3, L: int = 8, crop: int | None = None, part: str = "real", pad: int = 1) -> np.ndarray:
    """The Morlet wavelets of :func:`~visionkit.classical.scattering.scattering_filter_bank` tiled in one image.

    Parameters
    ----------
    J, L : int
        Scales (rows) and orientations (columns).
    crop : int or None
        Side of the centred window shown per wavelet (default ``6 * 2^(J-1) + 1``, enough for the
        largest one).
    part : {"real", "imag", "modulus"}
    pad : int
        NaN pixels between tiles (drawn as background).

    Returns
    -------
    ndarray, shape (J * (crop + pad) + pad, L * (crop + pad) + pad), float32
        Each wavelet divided by its largest absolute value (so every scale is visible), in [-1, 1].
    """
    if part not in ("real", "imag", "modulus"):
        raise VisionkitError(f"part: expected 'real', 'imag' or 'modulus', got {part!r}")
    crop = int(crop) if crop is not None else 6 * 2 ** (J - 1) + 1
    if crop < 3:
        raise VisionkitError(f"crop: expected an int >= 3, got {crop}")
    size = max(2 * crop, 2**J)
    psi = scattering_filter_bank(size, size, J=J, L=L)["psi"]  # (J, L, Mp, Np), origin at (0, 0)
    psi = np.fft.fftshift(psi, axes=(-2, -1))
    Mp, Np = psi.shape[-2:]
    r0, c0 = Mp // 2 - crop // 2, Np // 2 - crop // 2
    win = psi[..., r0 : r0 + crop, c0 : c0 + crop]
    win = {"real": win.real, "imag": win.imag, "modulus": np.abs(win)}[part]
    out = np.full((J * (crop + pad) + pad, L * (crop + pad) + pad), np.nan, np.float32)
    for j in range(J):
        for t in range(L):
            w = win[j, t] / max(float(np.abs(win[j, t]).max()), 1e-12)
            r, c = pad + j * (crop + pad), pad + t * (crop + pad)
            out[r : r + crop, c : c + crop] = w
    return out


def _default_cnn_filters() -> tuple[np.ndarray, str]:
    from ..deep.features import first_conv_filters
    from ..deep.models import load_backbone

    bb = load_backbone("efficientnet_lite0")
    return first_conv_filters(bb.model).numpy(), "EfficientNet-Lite0 (ImageNet)"


def scattering_filters_figure(
    *,
    J: int = 3,
    L: int = 8,
    cnn_filters: Any = "efficientnet_lite0",
    cnn_name: str | None = None,
    title: str | None = None,
    fig: Figure | None = None,
) -> Figure:
    """Sobel's kernels, the scattering transform's Morlet wavelets (real and imaginary parts) and a CNN's first layer.

    Parameters
    ----------
    J, L : int
        The filter bank's scales and orientations.
    cnn_filters : "efficientnet_lite0", ndarray (out, in, k, k), Tensor, or None
        A network's first-layer filters; the default loads EfficientNet-Lite0's ImageNet weights
        (installed with visionkit); ``None`` leaves the panel out.
    cnn_name : str, optional
        Its name in the panel's title.
    title : str, optional
    fig : Figure or SubFigure, optional
        Draw into this instead of a new figure.

    Returns
    -------
    matplotlib.figure.Figure
    """
    if isinstance(cnn_filters, str):
        if cnn_filters != "efficientnet_lite0":
            raise VisionkitError(f"cnn_filters: expected 'efficientnet_lite0', an array (out, in, k, k) or None, got {cnn_filters!r}")
        filters, default_name = _default_cnn_filters()
        cnn_name = cnn_name or default_name
    elif cnn_filters is None:
        filters = None
    else:
        filters = np.asarray(cnn_filters.detach().cpu() if hasattr(cnn_filters, "detach") else cnn_filters, dtype=np.float32)
        if filters.ndim != 4:
            raise VisionkitError(f"cnn_filters: expected shape (out, in, kh, kw), got {filters.shape}")
    ncol = 4 if filters is not None else 3
    fig, axes = _new_axes(fig, 1, ncol, (4.6 * ncol, 4.4))
    a = axes.ravel()
    sob = np.full((3, 7), np.nan, np.float32)
    sob[:, :3], sob[:, 4:] = SOBEL_X / 2, SOBEL_Y / 2
    show_panel(a[0], sob, "Sobel Gx | Gy: 1 scale, 2 directions\n(3x3, written by hand)", cmap="RdBu_r", vmin=-1, vmax=1, colorbar=False)
    show_panel(a[1], wavelet_tiles(J=J, L=L, part="real"),
               f"Morlet wavelets, real part: {J} scales (rows) x {L} angles\n(designed, never trained)", cmap="RdBu_r", vmin=-1, vmax=1,
               colorbar=False)
    show_panel(a[2], wavelet_tiles(J=J, L=L, part="imag"), "imaginary part (the odd, edge-like half)", cmap="RdBu_r", vmin=-1, vmax=1)
    if filters is not None:
        grid = filter_grid(filters)
        show_panel(a[3], grid, f"{cnn_name or 'CNN'}: {filters.shape[0]} first-layer filters\n({filters.shape[2]}x{filters.shape[3]}, learned)",
                   cmap="RdBu_r" if grid.ndim == 2 else "gray", vmin=-1 if grid.ndim == 2 else 0, vmax=1, colorbar=grid.ndim == 2)
    if title:
        fig.suptitle(title)
    return fig
