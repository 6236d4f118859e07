"""Coates patches (patches.py): layout, brightness/contrast normalisation, ZCA whitening."""

import numpy as np

from visionkit.classical import ZCAWhitening, extract_patches, normalize_patches


# ------------------------------------------------------------------ Coates patches and ZCA
def test_extract_patches_layout():
    img = np.arange(8 * 9 * 3, dtype=np.float32).reshape(8, 9, 3) / 1000
    f = extract_patches(img, patch_size=3, stride=2)
    assert f.descriptors.shape == (3 * 4, 27)
    np.testing.assert_array_equal(f.descriptors[1], img[0:3, 2:5].ravel())
    np.testing.assert_array_equal(f.positions[1], [1, 3])


def test_normalize_patches_zero_mean_unit_var():
    x = np.random.default_rng(0).random((100, 36)).astype(np.float32)
    z = normalize_patches(x)
    np.testing.assert_allclose(z.mean(1), 0, atol=1e-5)
    assert np.all(z.std(1) < 1.0) and np.all(z.std(1) > 0.9)


def test_zca_whitens():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(4000, 5)) @ rng.normal(size=(5, 5))
    w = ZCAWhitening(eps=1e-6).fit(a)
    z = w.transform(a)
    np.testing.assert_allclose(np.cov(z, rowvar=False), np.eye(5), atol=1e-3)
    np.testing.assert_allclose(w.components_, w.components_.T)  # symmetric: ZCA, not PCA
