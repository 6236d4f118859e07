"""One image, everything side by side: Sobel, the Harris steps, the visual-word map, and (with a
trained network) what the network looks at. This is the figure of ``visionkit show``."""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from matplotlib import colors
from matplotlib.figure import Figure

from .._validate import VisionkitError, as_float_image
from ..classical.bovw import BagOfVisualWords
from .bovw import word_assignments
from .figures import _new_axes, harris_steps_figure, plt, show_panel, sobel_harris_figure

__all__ = ["default_word_model", "word_map_figure", "overview_figure"]

_WORD_PARAMS = {"step": 8, "patch_sizes": (16,)}


@lru_cache(maxsize=2)
def default_word_model(n_words: int = 20, random_state: int = 0) -> BagOfVisualWords:
    """A dense-SIFT vocabulary learnt (seeded) from the bundled sample photos (16-pixel patches, step 8)."""
    from ..io import SAMPLE_IMAGES, sample_image

    photos = [(sample_image(n, mode="gray") * 255).round().astype(np.uint8) for n in SAMPLE_IMAGES]
    return BagOfVisualWords(descriptor="dense-sift", descriptor_params=_WORD_PARAMS, n_words=n_words, pyramid=(1,),
                            random_state=random_state).fit(photos)


def _to_uint8(image: np.ndarray) -> np.ndarray:
    img = as_float_image(image)
    return (np.clip(img, 0, 1) * 255).round().astype(np.uint8)


def word_map_figure(image: np.ndarray, model: BagOfVisualWords | None = None, *, fig: Figure | None = None) -> Figure:
    """The visual-word map: every dense-SIFT patch of the image coloured by its word, and the word histogram.

    Parameters
    ----------
    image : ndarray, shape (H, W) or (H, W, C)
    model : BagOfVisualWords, optional
        Fitted on ``"dense-sift"``; default :func:`default_word_model`.
    fig : Figure or SubFigure, optional
    """
    model = model if model is not None else default_word_model()
    if model.descriptor != "dense-sift":
        raise VisionkitError(f"model: expected a dense-sift BagOfVisualWords, got descriptor {model.descriptor!r}")
    img8 = _to_uint8(image)
    feats, words = word_assignments(img8, model)
    k = len(model.vocabulary_)
    params = dict(model.descriptor_params or {})
    step = int(params.get("step", 8))
    sizes = params.get("patch_sizes", (16,))
    smallest = int(np.min(sizes))
    keep = feats.sizes == smallest
    pos, w = feats.positions[keep], words[keep]
    h, wd = img8.shape[:2]
    grid = np.full((int(np.ceil(h / step)), int(np.ceil(wd / step))), np.nan)
    grid[(pos[:, 0] // step).astype(int), (pos[:, 1] // step).astype(int)] = w

    fig, axes = _new_axes(fig, 1, 3, (15, 4.8))
    a = axes.ravel()
    shown = img8 if img8.ndim == 2 or img8.shape[2] == 3 else img8[..., 0]
    show_panel(a[0], shown, f"image ({wd}x{h})", cmap="gray", colorbar=False)
    cmap = plt.get_cmap("tab20", k).with_extremes(bad=(0, 0, 0, 0))
    show_panel(a[1], shown, f"visual-word map: {smallest}-px SIFT every {step} px,\n{k} words (blank: flat patches)",
               cmap="gray", colorbar=False)
    im = a[1].imshow(np.ma.masked_invalid(grid), cmap=cmap, norm=colors.BoundaryNorm(np.arange(k + 1) - 0.5, k),
                     alpha=0.6, interpolation="nearest", extent=(-0.5, grid.shape[1] * step - 0.5, grid.shape[0] * step - 0.5, -0.5))
    a[1].set_xlim(-0.5, wd - 0.5)
    a[1].set_ylim(h - 0.5, -0.5)
    a[1].figure.colorbar(im, ax=a[1], fraction=0.046, pad=0.02, label="word", ticks=np.arange(0, k, max(1, k // 10)))
    counts = np.bincount(words, minlength=k)
    a[2].bar(np.arange(k), counts / max(counts.sum(), 1), color=[cmap(i) for i in range(k)])
    a[2].set_xlabel("visual word")
    a[2].set_ylabel("fraction of descriptors")
    a[2].set_title(f"bag of words: the image's histogram ({len(words)} descriptors)", fontsize=10)
    return fig


def overview_figure(image: np.ndarray, *, classifier=None, class_names=None, title: str | None = None) -> Figure:
    """Sobel and Harris, the Harris steps, the visual-word map and, given a fitted
    :class:`~visionkit.deep.DeepClassifier`, its filters, feature maps, Grad-CAM and attention.

    Everything is computed at the image's full size; a network sees it resized as it was trained.
    """
    rows = [("sobel", 8.2), ("steps", 8.2), ("words", 4.8)] + ([("network", 8.4)] if classifier is not None else [])
    fig = plt.figure(figsize=(18, sum(r[1] for r in rows)), layout="constrained")
    subs = fig.subfigures(len(rows), 1, height_ratios=[r[1] for r in rows])
    sobel_harris_figure(image, fig=subs[0], title="Sobel gradients and Harris corners")
    harris_steps_figure(image, fig=subs[1], title="Harris, the course's six steps")
    word_map_figure(image, fig=subs[2])
    subs[2].suptitle("bag of visual words")
    if classifier is not None:
        from .network import network_figure

        img8 = _to_uint8(image)
        network_figure(classifier, img8 if img8.ndim == 3 else img8[..., None], class_names=class_names, fig=subs[3])
    if title:
        fig.suptitle(title, fontsize=16)
    return fig
