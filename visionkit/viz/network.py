"""What a trained network sees in one image, next to what Sobel sees.

Panels: the image as the network receives it; the Sobel kernels next to the network's first-layer
filters; feature maps from an early, a middle and a late layer; Grad-CAM for the predicted class;
and, for a transformer, the attention rollout over the image.
"""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from .._validate import GRAY_WEIGHTS, VisionkitError
from ..classical._kernels import SOBEL_X, SOBEL_Y
from .deep import attention_maps, attention_rollout, grad_cam
from .figures import _new_axes, show_panel

__all__ = ["network_figure", "filter_grid"]


def filter_grid(filters: np.ndarray, *, pad: int = 1) -> np.ndarray:
    """Tile (out, in, k, k) filters into one image: RGB when in = 3 (each filter scaled to [0, 1]),
    else the first input channel, signed."""
    f = np.asarray(filters, dtype=np.float32)
    if f.ndim != 4:
        raise VisionkitError(f"filters: expected shape (out, in, kh, kw), got {f.shape}")
    n, c, kh, kw = f.shape
    cols = int(np.ceil(np.sqrt(n)))
    rows = int(np.ceil(n / cols))
    rgb = c == 3
    tile = np.full((rows * (kh + pad) + pad, cols * (kw + pad) + pad, 3 if rgb else 1), np.nan if not rgb else 1.0, np.float32)
    for i in range(n):
        r, q = divmod(i, cols)
        w = f[i].transpose(1, 2, 0) if rgb else f[i, :1].transpose(1, 2, 0)
        if rgb:
            w = (w - w.min()) / max(float(w.max() - w.min()), 1e-12)
        else:
            w = w / max(float(np.abs(w).max()), 1e-12)
        tile[pad + r * (kh + pad): pad + r * (kh + pad) + kh, pad + q * (kw + pad): pad + q * (kw + pad) + kw] = w
    return tile if rgb else tile[..., 0]


def network_figure(classifier, image: np.ndarray, *, layers=None, class_names=None, title: str | None = None,
                   fig: Figure | None = None) -> Figure:
    """Side by side: Sobel kernels vs first-layer filters, early / middle / late feature maps,
    Grad-CAM for the predicted class and, for a ViT, the attention rollout.

    Parameters
    ----------
    classifier : visionkit.deep.DeepClassifier
        A fitted classifier (``DeepClassifier.load(path)`` reads a saved one).
    image : ndarray of uint8, shape (H, W, C)
        One image in the harness's form; it is resized as the classifier does.
    layers : list of str, optional
        Feature-map layers; default the model's registered early, middle and late layers.
    class_names : list of str, optional
        Names of the classes, indexed by label.
    fig : Figure or SubFigure, optional
        Draw into this instead of a new figure.

    Returns
    -------
    matplotlib.figure.Figure
    """
    if not hasattr(classifier, "model_"):
        raise VisionkitError("classifier: expected a fitted DeepClassifier (call fit, or DeepClassifier.load(path))")
    img = np.asarray(image)
    if img.ndim == 2:
        img = img[..., None]
    if img.dtype != np.uint8 or img.ndim != 3:
        raise VisionkitError(f"image: expected a uint8 (H, W, C) image, got shape {img.shape} and dtype {img.dtype}")
    if img.shape[2] != classifier.in_chans_:
        img = np.repeat(img[..., :1], classifier.in_chans_, axis=2) if classifier.in_chans_ == 3 else \
            np.round(img[..., :3] @ GRAY_WEIGHTS).astype(np.uint8)[..., None]
    model = classifier.model_
    device = next(model.parameters()).device
    inputs = classifier._inputs(img[None])  # uint8 (1, C, S, S): what the network sees, resized once
    x = classifier._normalised(inputs, device).float()
    shown = inputs[0].permute(1, 2, 0).numpy()
    proba = classifier.predict_proba(img[None])[0]
    pred = int(np.argmax(proba))
    name = model.visionkit_config["name"]

    def label(i: int) -> str:
        c = classifier.classes_[i]
        return str(class_names[int(c)]) if class_names is not None else str(c)

    maps = classifier.feature_maps(img[None], layers)
    if layers is None and any(m.shape[2] * m.shape[3] == 1 for m in maps.values()):
        # a late layer that is already 1x1 (LeNet's c5) shows nothing: spread the picks over the leaf
        # layers whose output still has spatial extent
        leaves = [n for n, m in model.named_modules() if n and not list(m.children())]
        found = classifier.feature_maps(img[None], leaves)
        spatial = [n for n, m in found.items() if m.ndim == 4 and m.shape[2] * m.shape[3] > 1]
        picks = list(dict.fromkeys(spatial[i] for i in np.linspace(0, len(spatial) - 1, 3).round().astype(int)))
        maps = {n: found[n] for n in picks}
    filters = classifier.first_conv_filters()
    has_attention = any(hasattr(m, "qkv") and hasattr(m, "num_heads") for m in model.modules())
    ncol = 4
    fig, axes = _new_axes(fig, 2, ncol, (4.2 * ncol, 8.4))
    a = axes.ravel()
    show_panel(a[0], shown[..., 0] if shown.shape[2] == 1 else shown,
               f"input to {name} ({shown.shape[1]}x{shown.shape[0]})\npredicted {label(pred)} ({proba[pred]:.0%})",
               colorbar=False, vmin=0, vmax=255)
    sob = np.full((3, 7), np.nan, np.float32)
    sob[:, :3], sob[:, 4:] = SOBEL_X / 2, SOBEL_Y / 2
    show_panel(a[1], sob, "Sobel kernels Gx | Gy (the slide)", cmap="RdBu_r", vmin=-1, vmax=1)
    scattering = getattr(model, "scattering", None)
    if scattering is not None and hasattr(scattering, "J") and hasattr(scattering, "L"):
        # a scattering hybrid: its first layer is the fixed Morlet wavelets, not the head's first conv
        from .scattering import wavelet_tiles

        grid = wavelet_tiles(J=scattering.J, L=scattering.L)
        show_panel(a[2], grid, f"{name}: fixed first layer (not learned)\nMorlet wavelets, {scattering.J} scales x "
                   f"{scattering.L} orientations", cmap="RdBu_r", vmin=-1, vmax=1)
    else:
        grid = filter_grid(filters)
        show_panel(a[2], grid, f"{name}: {filters.shape[0]} first-layer filters ({filters.shape[2]}x{filters.shape[3]})",
                   cmap="RdBu_r" if grid.ndim == 2 else "gray", vmin=-1 if grid.ndim == 2 else 0, vmax=1, colorbar=grid.ndim == 2)

    cam = grad_cam(model, x, layer=dict(model.named_modules())[list(maps)[-1]], target=pred)[0]
    show_panel(a[3], shown[..., 0] if shown.shape[2] == 1 else shown, f"Grad-CAM for '{label(pred)}' ({list(maps)[-1]})",
               colorbar=False, vmin=0, vmax=255)
    im = a[3].imshow(cam, cmap="jet", alpha=0.45, vmin=0, vmax=1)
    fig.colorbar(im, ax=a[3], fraction=0.046, pad=0.02)

    for ax, (layer, fmap), when in zip(a[4:7], maps.items(), ("early", "middle", "late")):
        m = np.abs(fmap[0]).mean(axis=0)
        show_panel(ax, m, f"{when} layer '{layer}': mean |activation|\n{fmap.shape[1]} channels, {fmap.shape[3]}x{fmap.shape[2]}", cmap="viridis")
    if has_attention:
        att = attention_maps(model, x)
        r = att[0].shape[-1]
        side = int(np.sqrt(r - 1)) if int(np.sqrt(r - 1)) ** 2 == r - 1 else int(np.sqrt(r))
        roll = attention_rollout(att, grid=(side, side))[0]
        show_panel(a[7], shown[..., 0] if shown.shape[2] == 1 else shown, f"attention rollout ({len(att)} layers)", colorbar=False, vmin=0, vmax=255)
        h, w = shown.shape[:2]
        im = a[7].imshow(roll, cmap="jet", alpha=0.45, vmin=0, vmax=1, extent=(-0.5, w - 0.5, h - 0.5, -0.5))
        fig.colorbar(im, ax=a[7], fraction=0.046, pad=0.02)
    else:
        order = np.argsort(proba)[::-1][:5]
        a[7].barh(range(len(order))[::-1], proba[order], color="tab:red")
        a[7].set_yticks(range(len(order))[::-1], [label(i) for i in order])
        a[7].set_xlim(0, 1)
        a[7].set_title("top-5 class probabilities", fontsize=10)
    fig.suptitle(title or f"what {name} looks at")
    return fig

