"""Figure of a bag of visual words: where the words fall on an image, its histogram, what the words look like.

:func:`bovw_figure` draws, for one image and fitted :class:`~visionkit.classical.bovw.BagOfVisualWords`
models (dense SIFT, and optionally Harris SIFT):

1. the image with its dense keypoints, each dot coloured by its visual word;
2. the same image with its Harris keypoints coloured by word;
3. the image's histogram of words (the whole-image level of the pyramid), the most frequent bars
   coloured as in panel 1;
4. for those most frequent words, example patches (from ``example_images``) that fell on each word.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from .._validate import VisionkitError  # noqa: E402
from ..classical.bovw import BagOfVisualWords, assign_words  # noqa: E402
from ..classical.bovw import _descriptor_fn  # noqa: E402
from ..classical.sift import LocalFeatures, _gray_uint8  # noqa: E402

__all__ = ["bovw_figure", "word_assignments"]


def word_assignments(image: np.ndarray, model: BagOfVisualWords) -> tuple[LocalFeatures, np.ndarray]:
    """The local features of ``image`` under ``model``'s descriptor, and the word of each.

    Parameters
    ----------
    image : ndarray, shape (H, W) or (H, W, C)
    model : BagOfVisualWords, fitted

    Returns
    -------
    features : LocalFeatures
    words : ndarray of int64, shape (M,)
    """
    if not hasattr(model, "vocabulary_"):
        raise VisionkitError("model: expected a fitted BagOfVisualWords (call fit first)")
    feats = _descriptor_fn(model.descriptor)(image, **dict(model.descriptor_params or {}))
    desc = feats.descriptors
    if model.whitener_ is not None and len(desc):
        desc = model.whitener_.transform(desc)
    return feats, assign_words(desc, model.vocabulary_)


def _crop(gray: np.ndarray, centre: np.ndarray, size: float, out: int = 32) -> np.ndarray:
    import cv2

    h, w = gray.shape
    half = size / 2.0
    r0, r1 = int(round(centre[0] - half)), int(round(centre[0] + half))
    c0, c1 = int(round(centre[1] - half)), int(round(centre[1] + half))
    pad = max(0, -r0, -c0, r1 - h, c1 - w)
    g = np.pad(gray, pad, mode="reflect") if pad else gray
    patch = g[r0 + pad : r1 + pad, c0 + pad : c1 + pad]
    return cv2.resize(patch, (out, out), interpolation=cv2.INTER_AREA if patch.shape[0] > out else cv2.INTER_LINEAR)


def bovw_figure(
    image: np.ndarray,
    dense_model: BagOfVisualWords,
    harris_model: BagOfVisualWords | None = None,
    *,
    example_images: Sequence[np.ndarray] | None = None,
    n_top_words: int = 6,
    patches_per_word: int = 6,
    scale: float | None = None,
    path: str | Path | None = None,
    title: str | None = None,
) -> Figure:
    """Keypoints coloured by visual word, the word histogram, and example patches of the top words.

    Parameters
    ----------
    image : ndarray, shape (H, W) or (H, W, C)
        uint8 (or any dtype of the dtype rule).
    dense_model : BagOfVisualWords
        Fitted, with a keypoint descriptor (``"dense-sift"`` or ``"harris-sift"``).
    harris_model : BagOfVisualWords or None
        Fitted on ``"harris-sift"``; adds panel 2.
    example_images : sequence of images or None
        Where the example patches of panel 4 come from (default: ``image`` alone).
    n_top_words : int
        How many of the image's most frequent words to colour and illustrate.
    patches_per_word : int
    scale : float or None
        Patch size (pixels) whose keypoints panel 1 shows; default the smallest, to keep it legible.
    path : str or Path or None
        Save a PNG there (dpi 120) as well.
    title : str or None

    Returns
    -------
    matplotlib.figure.Figure
    """
    if dense_model.descriptor not in ("dense-sift", "harris-sift"):
        raise VisionkitError(f"dense_model: expected a keypoint descriptor ('dense-sift' or 'harris-sift'), got {dense_model.descriptor!r}")
    gray = _gray_uint8(image)
    show = image if (image.ndim == 3 and image.shape[2] == 3) else gray
    feats, words = word_assignments(image, dense_model)
    k = len(dense_model.vocabulary_)
    counts = np.bincount(words, minlength=k)
    top = np.argsort(-counts, kind="stable")[:n_top_words]
    cmap = plt.get_cmap("tab10")
    colour_of = {int(w): cmap(i % 10) for i, w in enumerate(top)}
    grey_dot = (0.75, 0.75, 0.75, 0.6)

    n_rows_patches = len(top)
    fig = plt.figure(figsize=(13, 3.2 + 0.9 * n_rows_patches), constrained_layout=True)
    gs = fig.add_gridspec(2, 3, height_ratios=[3.2, 0.9 * n_rows_patches])
    ax1 = fig.add_subplot(gs[0, 0])
    ax2 = fig.add_subplot(gs[0, 1])
    ax3 = fig.add_subplot(gs[0, 2])
    axp = fig.add_subplot(gs[1, :])

    sizes = feats.sizes
    s0 = float(sizes.min()) if scale is None and len(sizes) else scale
    sel = sizes == s0 if len(sizes) else np.zeros(0, bool)
    ax1.imshow(show, cmap="gray")
    cols = [colour_of.get(int(w), grey_dot) for w in words[sel]]
    ax1.scatter(feats.positions[sel, 1], feats.positions[sel, 0], c=cols, s=10, linewidths=0)
    ax1.set_title(f"dense SIFT ({int(sel.sum())} points of {int(s0)} px, step {dense_model.descriptor_params.get('step', 8) if dense_model.descriptor_params else 8})\ncoloured: the {len(top)} most frequent words", fontsize=9)
    ax1.axis("off")

    ax2.imshow(show, cmap="gray")
    if harris_model is not None:
        hf, hw = word_assignments(image, harris_model)
        hk = len(harris_model.vocabulary_)
        hcounts = np.bincount(hw, minlength=hk)
        htop = np.argsort(-hcounts, kind="stable")[:n_top_words]
        hcol = {int(w): cmap(i % 10) for i, w in enumerate(htop)}
        one = hf.sizes == (hf.sizes.min() if len(hf) else 0)
        ax2.scatter(hf.positions[one, 1], hf.positions[one, 0], c=[hcol.get(int(w), grey_dot) for w in hw[one]], s=40, marker="+", linewidths=1.5)
        ax2.set_title(f"Harris corners ({int(one.sum())}), SIFT words\n(own vocabulary of {hk}; colours: its top words)", fontsize=9)
    else:
        ax2.set_title("Harris corners: no model given", fontsize=9)
    ax2.axis("off")

    bar_cols = [colour_of.get(int(w), (0.6, 0.6, 0.6, 1.0)) for w in range(k)]
    ax3.bar(np.arange(k), counts / max(counts.sum(), 1), color=bar_cols, width=1.0)
    ax3.set_xlabel(f"visual word (vocabulary of {k})")
    ax3.set_ylabel("fraction of the image's descriptors")
    ax3.set_title("bag of words (whole-image histogram)", fontsize=9)
    ax3.set_xlim(-0.5, k - 0.5)

    # panel 4: example patches of the top words
    sources = list(example_images) if example_images is not None else [image]
    rng = np.random.default_rng(0)
    tiles = {int(w): [] for w in top}
    for src in sources:
        f, w = word_assignments(src, dense_model)
        g = _gray_uint8(src)
        for word in tiles:
            idx = np.flatnonzero(w == word)
            if len(idx) == 0:
                continue
            for i in rng.permutation(idx)[:patches_per_word]:
                tiles[word].append(_crop(g, f.positions[i], float(f.sizes[i])))
    tile = 32
    canvas = np.full((len(top) * (tile + 4), patches_per_word * (tile + 4)), 255, np.uint8)
    for r, word in enumerate(tiles):
        pick = tiles[word]
        if len(pick) > patches_per_word:
            pick = [pick[i] for i in rng.choice(len(pick), patches_per_word, replace=False)]
        for c, t in enumerate(pick):
            canvas[r * (tile + 4) : r * (tile + 4) + tile, c * (tile + 4) : c * (tile + 4) + tile] = t
    axp.imshow(canvas, cmap="gray", vmin=0, vmax=255, aspect="equal")
    axp.set_yticks([r * (tile + 4) + tile / 2 for r in range(len(top))])
    axp.set_yticklabels([f"word {w}" for w in tiles], fontsize=8)
    for lab, w in zip(axp.get_yticklabels(), tiles):
        lab.set_color(colour_of[w])
    axp.set_xticks([])
    axp.set_title(f"example patches per word (from {len(sources)} image(s))", fontsize=9)
    for side in ("top", "right", "bottom", "left"):
        axp.spines[side].set_visible(False)
    if title:
        fig.suptitle(title)
    if path is not None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=120)
    return fig
