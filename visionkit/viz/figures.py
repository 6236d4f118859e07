"""Figures of the classical operators: Sobel gradients and the Harris response with its corners."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg", force=False)  # headless unless the user chose a backend already
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib import colors  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from .._atomic import atomic_write  # noqa: E402
from .._validate import VisionkitError, as_float_image  # noqa: E402
from ..classical.corners import corner_peaks, harris_steps  # noqa: E402
from ..classical.filters import sobel_gradients  # noqa: E402

__all__ = ["sobel_harris_figure", "harris_steps_figure", "save_figure", "show_panel"]


def save_figure(fig: Figure, path: str | os.PathLike, *, dpi: int = 120) -> Path:
    """Save ``fig`` as PNG, SVG or PDF (by the suffix), atomically (:func:`visionkit._atomic.atomic_write`)."""
    path = Path(path)
    fmt = path.suffix.lower().lstrip(".")
    if fmt not in ("png", "svg", "pdf"):
        raise VisionkitError(f"figure path: expected a .png, .svg or .pdf file name, got {str(path)!r}")
    return atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=dpi, format=fmt, bbox_inches="tight"))


def _new_axes(fig, rows: int, cols: int, figsize: tuple[float, float]):
    """A new constrained-layout figure with a grid of axes, or the grid inside a given (sub)figure."""
    if fig is None:
        return plt.subplots(rows, cols, figsize=figsize, layout="constrained")
    return fig, fig.subplots(rows, cols, squeeze=False)


def show_panel(ax, data: np.ndarray, title: str, *, cmap: str = "gray", norm: Any = None, colorbar: bool = True, **kw):
    """Draw one image panel with a title and (optionally) a colour bar; returns the AxesImage."""
    im = ax.imshow(data, cmap=cmap, norm=norm, interpolation="antialiased", **kw)
    ax.set_title(title, fontsize=10)
    ax.set_xticks([])
    ax.set_yticks([])
    if colorbar:
        ax.figure.colorbar(im, ax=ax, fraction=0.046, pad=0.02)
    return im


def sobel_harris_figure(
    image: np.ndarray,
    *,
    sigma: float = 1.0,
    k: float = 0.05,
    min_distance: int = 5,
    threshold_rel: float = 0.01,
    max_corners: int | None = 200,
    title: str | None = None,
    fig: Figure | None = None,
) -> Figure:
    """One image, side by side: original, Gx, Gy, magnitude, orientation, Harris R with corners.

    Everything is computed at full resolution on the grey image; matplotlib only downsamples
    for display. Gx and Gy share one symmetric colour scale.

    Parameters
    ----------
    image : ndarray, shape (H, W) or (H, W, C)
        Any dtype of the dtype rule.
    sigma, k : float
        Harris settings (see :func:`visionkit.harris_response`).
    min_distance, threshold_rel, max_corners
        Corner picking (see :func:`visionkit.corner_peaks`).
    title : str, optional
        Figure title.
    fig : Figure or SubFigure, optional
        Draw into this (e.g. a panel of a larger figure) instead of a new figure.

    Returns
    -------
    matplotlib.figure.Figure
        Six panels (2 rows x 3 columns), each with a colour bar.
    """
    img = as_float_image(image)
    steps = harris_steps(img, sigma=sigma, k=k)
    gx, gy = steps.ix, steps.iy  # the Harris steps use the grey image's Sobel gradients
    mag = np.hypot(gx, gy)
    ori = np.ma.masked_where(mag < 0.05 * mag.max(), np.arctan2(gy, gx))
    corners = corner_peaks(steps.response, min_distance=min_distance, threshold_rel=threshold_rel, max_corners=max_corners)

    fig, axes = _new_axes(fig, 2, 3, (13, 8.2))
    a = axes.ravel()
    shown = img if img.ndim == 2 or img.shape[2] in (3, 4) else img[..., 0]
    show_panel(a[0], np.clip(shown, 0, 1), f"original {img.shape[1]}x{img.shape[0]}", vmin=0, vmax=1, colorbar=False)
    # robust colour limits: the 99.5th percentile, so a few very strong edges do not wash out the rest
    lim = float(max(np.percentile(np.abs(np.stack([gx, gy])), 99.5), 1e-12))
    show_panel(a[1], gx, "Gx (horizontal derivative, grey)", cmap="RdBu_r", vmin=-lim, vmax=lim)
    show_panel(a[2], gy, "Gy (vertical derivative, grey)", cmap="RdBu_r", vmin=-lim, vmax=lim)
    show_panel(a[3], mag, "magnitude sqrt(Gx² + Gy²)", cmap="magma", vmin=0, vmax=float(max(np.percentile(mag, 99.5), 1e-12)))
    cmap = plt.get_cmap("twilight").with_extremes(bad="black")
    im = show_panel(a[4], ori, "orientation atan2(Gy, Gx), rad", cmap=cmap, vmin=-np.pi, vmax=np.pi)
    im.colorbar.set_ticks([-np.pi, -np.pi / 2, 0, np.pi / 2, np.pi], labels=["-π", "-π/2", "0", "π/2", "π"])
    r = steps.response
    rmax = float(max(np.abs(r).max(), 1e-12))
    norm = colors.SymLogNorm(linthresh=rmax * 1e-3, vmin=-rmax, vmax=rmax)
    im = show_panel(a[5], r, f"Harris R (σ={sigma}, k={k}), {len(corners)} corners", cmap="PuOr_r", norm=norm)
    ticks = [-rmax, -rmax * 1e-2, 0.0, rmax * 1e-2, rmax]
    im.colorbar.set_ticks(ticks, labels=[f"{t:.2g}" for t in ticks])
    if len(corners):
        a[5].scatter(corners[:, 1], corners[:, 0], s=28, facecolors="none", edgecolors="lime", linewidths=1.2)
        a[0].scatter(corners[:, 1], corners[:, 0], s=28, facecolors="none", edgecolors="red", linewidths=1.2)
    if title:
        fig.suptitle(title)
    return fig


def harris_steps_figure(
    image: np.ndarray,
    *,
    sigma: float = 1.0,
    k: float = 0.05,
    min_distance: int = 5,
    threshold_rel: float = 0.01,
    max_corners: int | None = 200,
    title: str | None = None,
    fig: Figure | None = None,
) -> Figure:
    """The course's Harris steps for one image: Ix², Iy², IxIy (step 2), their window sums Sx², Sy²,
    Sxy (step 3), R (step 5) and the corners after threshold and non-maximum suppression (step 6).

    The products share one colour scale, and so do the window sums; everything is computed at full size.
    ``fig`` draws into an existing figure or subfigure.

    Returns
    -------
    matplotlib.figure.Figure
        Eight panels (2 rows x 4 columns).
    """
    img = as_float_image(image)
    s = harris_steps(img, sigma=sigma, k=k)
    corners = corner_peaks(s.response, min_distance=min_distance, threshold_rel=threshold_rel, max_corners=max_corners)
    fig, axes = _new_axes(fig, 2, 4, (17, 8.2))
    a = axes.ravel()
    lim_p = float(max(np.percentile(np.abs(np.stack([s.ixx, s.iyy, s.ixy])), 99.5), 1e-12))
    show_panel(a[0], s.ixx, "2. Ix² = Ix·Ix", cmap="magma", vmin=0, vmax=lim_p)
    show_panel(a[1], s.iyy, "2. Iy² = Iy·Iy", cmap="magma", vmin=0, vmax=lim_p)
    show_panel(a[2], s.ixy, "2. Ixy = Ix·Iy", cmap="RdBu_r", vmin=-lim_p, vmax=lim_p)
    shown = img if img.ndim == 2 or img.shape[2] in (3, 4) else img[..., 0]
    show_panel(a[3], np.clip(shown, 0, 1), f"6. threshold + NMS: {len(corners)} corners", vmin=0, vmax=1, colorbar=False)
    if len(corners):
        a[3].scatter(corners[:, 1], corners[:, 0], s=28, facecolors="none", edgecolors="red", linewidths=1.2)
    lim_s = float(max(np.percentile(np.abs(np.stack([s.sxx, s.syy, s.sxy])), 99.5), 1e-12))
    show_panel(a[4], s.sxx, f"3. Sx² = G_σ * Ix² (σ={sigma})", cmap="magma", vmin=0, vmax=lim_s)
    show_panel(a[5], s.syy, "3. Sy² = G_σ * Iy²", cmap="magma", vmin=0, vmax=lim_s)
    show_panel(a[6], s.sxy, "3. Sxy = G_σ * Ixy", cmap="RdBu_r", vmin=-lim_s, vmax=lim_s)
    r = s.response
    rmax = float(max(np.abs(r).max(), 1e-12))
    im = show_panel(a[7], r, f"5. R = det(H) − {k}·trace(H)²", cmap="PuOr_r",
                    norm=colors.SymLogNorm(linthresh=rmax * 1e-3, vmin=-rmax, vmax=rmax))
    ticks = [-rmax, -rmax * 1e-2, 0.0, rmax * 1e-2, rmax]
    im.colorbar.set_ticks(ticks, labels=[f"{t:.2g}" for t in ticks])
    fig.suptitle(title or "Harris, step by step (1. Ix, Iy: Sobel; 4. H = [[Sx², Sxy], [Sxy, Sy²]])")
    return fig
