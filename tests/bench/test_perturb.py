"""Perturbations (bench/perturb.py): each changes the images, seeded, unknown kinds named."""

import numpy as np
import pytest

from visionkit import VisionkitError
from visionkit.bench import perturb


def test_perturbations_change_images_and_are_seeded():
    imgs = np.random.default_rng(0).integers(0, 256, (4, 16, 16, 3), dtype=np.uint8)
    for kind, s in [("noise", 0.1), ("blur", 1.0), ("rotation", 30), ("brightness", 0.2), ("contrast", 0.5), ("jpeg", 10)]:
        out = perturb(imgs, kind, s, random_state=0)
        assert out.shape == imgs.shape and out.dtype == np.uint8 and not np.array_equal(out, imgs)
        assert np.array_equal(out, perturb(imgs, kind, s, random_state=0))
    with pytest.raises(VisionkitError, match="expected one of"):
        perturb(imgs, "fog", 1.0)
