"""SIFT (sift.py): dense keypoints, dense and Harris SIFT, known answers, flat patches, RootSIFT, bad inputs."""

import numpy as np
import pytest

import skimage.data

from visionkit import VisionkitError
from visionkit.classical import dense_keypoints, dense_sift, dsift, extract_patches, harris_sift, sift_at


@pytest.fixture(scope="module")
def camera():
    return skimage.data.camera()[::2, ::2]  # 256 x 256 keeps the tests fast


# ------------------------------------------------------------------ dense SIFT
def test_dense_keypoints_grid_inside_image():
    pos, siz = dense_keypoints((40, 56), step=8, patch_sizes=(16, 24))
    for p in (16, 24):
        sel = siz == p
        assert (pos[sel, 0] - p / 2 >= 0).all() and (pos[sel, 0] + p / 2 <= 40).all()
        assert (pos[sel, 1] - p / 2 >= 0).all() and (pos[sel, 1] + p / 2 <= 56).all()
    # 16-pixel patches every 8 pixels: (40-16)//8+1 = 4 rows, (56-16)//8+1 = 6 columns
    assert (siz == 16).sum() == 24


def test_dense_sift_shape_norm_and_determinism(camera):
    f = dense_sift(camera, step=16, patch_sizes=(16, 32))
    assert f.descriptors.shape[1] == 128 and f.descriptors.dtype == np.float32
    norms = np.linalg.norm(f.descriptors, axis=1)
    nonzero = norms > 0
    assert nonzero.mean() > 0.8
    np.testing.assert_allclose(norms[nonzero], 1.0, atol=0.02)
    g = dense_sift(camera, step=16, patch_sizes=(16, 32))
    np.testing.assert_array_equal(f.descriptors, g.descriptors)
    assert f.shape == camera.shape and len(f.positions) == len(f.sizes) == len(f)


def test_sift_orientation_known_answer():
    # a vertical step edge: dark left, bright right; the gradient points along +x (angle 0),
    # so the descriptor's energy is in the orientation-0 bins (every 8th entry of OpenCV's layout)
    img = np.zeros((48, 48), np.uint8)
    img[:, 24:] = 255
    d = sift_at(img, np.array([[24.0, 24.0]]), np.array([16.0]))[0].reshape(16, 8)
    assert d[:, 0].sum() > 0.8 * d.sum()


def test_dense_sift_rotated_edge_changes_descriptor():
    img = np.zeros((48, 48), np.uint8)
    img[:, 24:] = 255
    a = sift_at(img, np.array([[24.0, 24.0]]), np.array([16.0]))[0]
    b = sift_at(img.T.copy(), np.array([[24.0, 24.0]]), np.array([16.0]))[0]
    assert np.dot(a, b) < 0.5  # upright SIFT: a horizontal edge is a different word


def test_flat_patches_give_zero_descriptors():
    img = np.full((64, 64), 128, np.uint8)
    f = dense_sift(img, step=8, patch_sizes=16)
    assert np.all(f.descriptors == 0)
    g = dense_sift(img, step=8, patch_sizes=16, min_contrast=0)
    assert len(g) == len(f)


def test_root_sift_is_unit_norm(camera):
    f = dense_sift(camera, step=32, patch_sizes=16, root=True)
    n = np.linalg.norm(f.descriptors, axis=1)
    np.testing.assert_allclose(n[n > 0], 1.0, atol=1e-4)


def test_image_smaller_than_patch_is_an_error():
    with pytest.raises(VisionkitError, match="smaller than the smallest descriptor patch"):
        dense_sift(np.zeros((8, 8), np.uint8), patch_sizes=16)
    with pytest.raises(VisionkitError, match="smaller"):
        harris_sift(np.zeros((8, 8), np.uint8), patch_sizes=16)
    with pytest.raises(VisionkitError, match="smaller than one"):
        extract_patches(np.zeros((4, 4), np.uint8), patch_size=6)


def test_large_scales_skipped_when_only_small_ones_fit():
    f = dense_sift(np.random.default_rng(0).integers(0, 255, (20, 20), dtype=np.uint8), patch_sizes=(16, 32))
    assert set(np.unique(f.sizes)) == {16.0}


def test_bad_patch_sizes():
    with pytest.raises(VisionkitError, match="at least 4"):
        dense_sift(np.zeros((32, 32), np.uint8), patch_sizes=(2,))
    with pytest.raises(VisionkitError, match="empty"):
        dense_sift(np.zeros((32, 32), np.uint8), patch_sizes=())


# ------------------------------------------------------------------ Harris SIFT
def test_harris_sift_on_square_and_blank():
    img = np.zeros((64, 64), np.uint8)
    img[16:48, 16:48] = 255
    f = harris_sift(img, patch_sizes=(16,), min_distance=3)
    assert len(f) == 4
    assert sorted(map(tuple, f.positions.astype(int).tolist())) == [(16, 16), (16, 47), (47, 16), (47, 47)]
    blank = harris_sift(np.zeros((64, 64), np.uint8))
    assert blank.descriptors.shape == (0, 128) and blank.positions.shape == (0, 2)


# ------------------------------------------------------------------ dsift (all at once, by convolution)
def test_dsift_agrees_with_opencv_sift_on_a_photo(camera):
    kw = dict(step=8, patch_sizes=(16, 24, 32, 40))
    a, b = dense_sift(camera, **kw), dsift(camera, **kw)
    np.testing.assert_array_equal(a.positions, b.positions)  # the same grid
    np.testing.assert_array_equal(a.sizes, b.sizes)
    assert b.descriptors.shape == a.descriptors.shape and b.descriptors.dtype == np.float32
    both = (np.linalg.norm(a.descriptors, axis=1) > 0) & (np.linalg.norm(b.descriptors, axis=1) > 0)
    assert both.mean() > 0.8
    cosine = (a.descriptors[both] * b.descriptors[both]).sum(1)
    # the same layout (row bin, column bin, orientation): measured mean 0.95 on Caltech-101 photos
    assert cosine.mean() > 0.9, cosine.mean()
    np.testing.assert_allclose(np.linalg.norm(b.descriptors[both], axis=1), 1.0, atol=1e-5)


def test_dsift_orientation_known_answer():
    img = np.zeros((48, 48), np.uint8)
    img[:, 24:] = 255  # gradient along +x: OpenCV's orientation bin 0
    d = dsift(img, step=48, patch_sizes=(16,)).descriptors[0].reshape(16, 8)
    assert d[:, 0].sum() > 0.8 * d.sum()
    up = dsift(img.T.copy(), step=48, patch_sizes=(16,)).descriptors[0].reshape(16, 8)
    assert up[:, 6].sum() > 0.8 * up.sum()  # bright below: gradient down, 270 degrees with y up


def test_dsift_flat_patches_zero_and_root():
    f = dsift(np.full((40, 40), 128, np.uint8), step=8, patch_sizes=(16,))
    assert len(f) == 16 and not f.descriptors.any()
    r = dsift(skimage.data.camera()[:64, :64], step=8, patch_sizes=(16,), root=True).descriptors
    nz = r.any(axis=1)
    np.testing.assert_allclose(np.linalg.norm(r[nz], axis=1), 1.0, atol=1e-5)
