"""HOG (hog.py): against skimage.feature.hog, the Sobel variant, hog_batch serial and parallel, bad inputs."""

import numpy as np
import pytest
import skimage.data
from skimage.feature import hog as sk_hog

from visionkit import VisionkitError
from visionkit.classical import hog, hog_batch


@pytest.fixture(scope="module")
def camera():
    return skimage.data.camera()[::2, ::2]  # 256 x 256 keeps the tests fast


# ------------------------------------------------------------------ HOG against skimage
@pytest.mark.parametrize("name", ["camera", "astronaut"])
def test_hog_central_matches_skimage(name):
    img = getattr(skimage.data, name)()[::2, ::2]
    ca = -1 if img.ndim == 3 else None
    ref = sk_hog(img, orientations=9, pixels_per_cell=(8, 8), cells_per_block=(3, 3), block_norm="L2-Hys", channel_axis=ca)
    ours = hog(img, gradient="central")
    assert ours.shape == ref.shape
    assert np.corrcoef(ours, ref)[0, 1] >= 0.99
    # other settings too
    ref2 = sk_hog(img, orientations=8, pixels_per_cell=(6, 6), cells_per_block=(2, 2), block_norm="L1", channel_axis=ca)
    ours2 = hog(img, orientations=8, pixels_per_cell=(6, 6), cells_per_block=(2, 2), block_norm="L1")
    assert np.corrcoef(ours2, ref2)[0, 1] >= 0.99


def test_hog_sobel_is_a_valid_but_different_hog(camera):
    """Sobel smoothing moves weak gradients to other bins: documented correlation ~0.8-0.9."""
    ref = sk_hog(camera)
    ours = hog(camera, gradient="sobel")
    r = np.corrcoef(ours, ref)[0, 1]
    assert 0.6 < r < 0.99
    # on a smooth image (a blurred disk: no staircase edges, no noise) the two agree closely
    import cv2

    yy, xx = np.mgrid[:64, :64]
    disk = cv2.GaussianBlur((((yy - 32) ** 2 + (xx - 32) ** 2) < 20**2).astype(np.float32), (0, 0), 2)
    kw = dict(pixels_per_cell=(8, 8), cells_per_block=(2, 2))
    assert np.corrcoef(hog(disk, gradient="sobel", **kw), sk_hog(disk, **kw))[0, 1] > 0.98


def test_hog_batch_equals_loop_and_parallel():
    imgs = np.random.default_rng(1).integers(0, 256, (9, 32, 32), dtype=np.uint8)
    one = np.stack([hog(im, pixels_per_cell=(4, 4), cells_per_block=(2, 2)) for im in imgs])
    batch = hog_batch(imgs, pixels_per_cell=(4, 4), cells_per_block=(2, 2), chunk_size=4)
    par = hog_batch(imgs, pixels_per_cell=(4, 4), cells_per_block=(2, 2), chunk_size=4, n_jobs=2)
    np.testing.assert_allclose(batch, one, atol=1e-6)
    np.testing.assert_allclose(par, one, atol=1e-6)


def test_hog_bad_inputs():
    with pytest.raises(VisionkitError, match="fewer than one block"):
        hog(np.zeros((10, 10)), pixels_per_cell=(8, 8), cells_per_block=(3, 3))
    with pytest.raises(VisionkitError, match="block_norm"):
        hog(np.zeros((32, 32)), block_norm="L3")
    with pytest.raises(VisionkitError, match="one size"):
        hog_batch([np.zeros((32, 32)), np.zeros((40, 32))])
