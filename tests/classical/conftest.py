"""Fixtures shared by the classical tests."""

import numpy as np
import pytest

from visionkit.data import load_digits


def _textures(n_per_class=6, size=40, seed=0):
    """Two classes of images that bags of words separate: stripes (vertical or horizontal) plus noise."""
    rng = np.random.default_rng(seed)
    imgs, labels = [], []
    yy, xx = np.mgrid[:size, :size]
    for label in (0, 1):
        for _ in range(n_per_class):
            period = rng.uniform(5, 8)
            phase = rng.uniform(0, 6.3)
            coord = xx if label == 0 else yy
            img = 128 + 100 * np.sin(2 * np.pi * coord / period + phase) + rng.normal(0, 10, (size, size))
            imgs.append(np.clip(img, 0, 255).astype(np.uint8)[..., None])
            labels.append(label)
    return np.stack(imgs), np.array(labels)


@pytest.fixture(scope="module")
def textures():
    return _textures()


@pytest.fixture(scope="session")
def astronaut_batch(astronaut):
    """Three seeded 64 x 64 colour crops of the astronaut, float32 (B, H, W, 3): the torch twins' input."""
    rng = np.random.default_rng(0)
    crops = []
    for _ in range(3):
        r, c = rng.integers(0, 512 - 64, size=2)
        crops.append(astronaut[r : r + 64, c : c + 64])
    return np.stack(crops)


@pytest.fixture(scope="module")
def digits():
    d = load_digits()
    rng = np.random.default_rng(0)
    idx = rng.permutation(len(d.labels))
    return d.images[idx[:300]], d.labels[idx[:300]], d.images[idx[300:400]], d.labels[idx[300:400]]
