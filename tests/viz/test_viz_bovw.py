"""The bag-of-visual-words figure: it draws, saves a PNG, and rejects unfitted or patch models."""

import pytest
import skimage.data
from matplotlib.figure import Figure

from visionkit import VisionkitError
from visionkit.classical import BagOfVisualWords
from visionkit.viz import bovw_figure, word_assignments


@pytest.fixture(scope="module")
def models():
    imgs = [skimage.data.astronaut()[::4, ::4], skimage.data.camera()[::4, ::4]]
    dense = BagOfVisualWords(descriptor_params={"step": 8, "patch_sizes": (16,)}, n_words=12, random_state=0).fit(imgs)
    harris = BagOfVisualWords(descriptor="harris-sift", descriptor_params={"patch_sizes": (16,)}, n_words=8, random_state=0).fit(imgs)
    return imgs, dense, harris


def test_figure_draws_and_saves(models, tmp_path):
    imgs, dense, harris = models
    path = tmp_path / "bovw.png"
    fig = bovw_figure(imgs[0], dense, harris, example_images=imgs, n_top_words=4, patches_per_word=3, path=path)
    assert isinstance(fig, Figure) and len(fig.axes) == 4
    assert path.stat().st_size > 10_000
    # the histogram panel shows the image's word frequencies, summing to 1
    heights = [p.get_height() for p in fig.axes[2].patches]
    assert len(heights) == 12 and abs(sum(heights) - 1) < 1e-6


def test_word_assignments_match_vocabulary(models):
    imgs, dense, _ = models
    feats, words = word_assignments(imgs[0], dense)
    assert len(words) == len(feats) and words.max() < 12


def test_figure_bad_models(models):
    imgs, _, _ = models
    with pytest.raises(VisionkitError, match="fitted"):
        word_assignments(imgs[0], BagOfVisualWords())
    patches = BagOfVisualWords(descriptor="patches", n_words=4, random_state=0).fit([imgs[1]])
    with pytest.raises(VisionkitError, match="keypoint descriptor"):
        bovw_figure(imgs[1], patches)
