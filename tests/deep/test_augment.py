"""Batch augmentation (visionkit.deep.augment): known answers, seeds, bad options."""

import numpy as np
import pytest
import torch
from skimage import data

from visionkit._validate import VisionkitError
from visionkit.deep.augment import augment_batch, random_crop_flip, random_resized_crop
from visionkit.deep.train import TrainConfig


def _photo_batch(n: int = 4, size: int = 64) -> torch.Tensor:
    im = torch.from_numpy(data.chelsea()).permute(2, 0, 1).float()[None] / 255
    return torch.nn.functional.interpolate(im, size=(size, size), mode="area").repeat(n, 1, 1, 1)


def test_full_crop_without_flip_is_the_identity():
    x = _photo_batch()
    g = torch.Generator().manual_seed(0)
    out = random_resized_crop(x, generator=g, scale=(1.0, 1.0), ratio=(1.0, 1.0), flip=False)
    torch.testing.assert_close(out, x, atol=1e-5, rtol=0)


def test_quarter_area_crop_of_a_ramp_has_half_the_slope():
    # a horizontal ramp x -> x: a crop of 1/4 of the area and aspect 1 is half as wide, so resized back
    # to the full width its values rise by 1/2 per pixel (or fall, when flipped), and stay in range
    w = 64
    ramp = torch.arange(w, dtype=torch.float32).expand(8, 1, w, w).contiguous()
    g = torch.Generator().manual_seed(1)
    out = random_resized_crop(ramp, generator=g, scale=(0.25, 0.25), ratio=(1.0, 1.0))
    slopes = (out[:, 0, :, 1:] - out[:, 0, :, :-1])[:, :, 2:-2]
    torch.testing.assert_close(slopes.abs(), torch.full_like(slopes, 0.5), atol=1e-4, rtol=0)
    assert out.min() >= 0 and out.max() <= w - 1
    # rows are all alike (the crop moves along x only on a ramp in x)
    torch.testing.assert_close(out[:, :, 0], out[:, :, -1])
    signs = torch.sign(slopes.mean(dim=(1, 2)))
    assert set(signs.tolist()) == {-1.0, 1.0}  # 8 draws: both flips occur (seeded)


def test_same_seed_same_crops_other_seed_other_crops():
    x = _photo_batch()
    a = random_resized_crop(x, generator=torch.Generator().manual_seed(3))
    b = random_resized_crop(x, generator=torch.Generator().manual_seed(3))
    c = random_resized_crop(x, generator=torch.Generator().manual_seed(4))
    torch.testing.assert_close(a, b)
    assert not torch.allclose(a, c)
    # different images of one batch get different crops
    assert not torch.allclose(a[0], a[1])


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.bfloat16])
def test_dtype_and_shape_kept(dtype):
    x = _photo_batch(3, 48).to(dtype)
    out = random_resized_crop(x, generator=torch.Generator().manual_seed(0))
    assert out.shape == x.shape and out.dtype == dtype


@pytest.mark.parametrize("scale,ratio", [((0.0, 1.0), (0.75, 1.33)), ((0.5, 0.4), (0.75, 1.33)), ((0.3, 1.2), (1, 1)),
                                         ((0.3, 1.0), (0.0, 1.0)), ((0.3, 1.0), (2.0, 1.0))])
def test_bad_options_are_refused(scale, ratio):
    with pytest.raises(VisionkitError, match="expected 0 < scale"):
        random_resized_crop(_photo_batch(1, 16), generator=torch.Generator(), scale=scale, ratio=ratio)


def test_photo_augmentation_through_the_config():
    x = _photo_batch(4, 32)
    cfg = TrainConfig(augment="photo")
    out = augment_batch(x, cfg, torch.Generator().manual_seed(0))
    assert out.shape == x.shape and not torch.allclose(out, x)
    assert torch.equal(augment_batch(x, TrainConfig(augment="none"), torch.Generator()), x)
    with pytest.raises(VisionkitError, match="augment: expected one of"):
        TrainConfig(augment="photos")


def test_random_crop_flip_translates_by_at_most_pad():
    x = torch.zeros(16, 1, 9, 9)
    x[:, :, 4, 4] = 1.0
    out = random_crop_flip(x, pad=2, generator=torch.Generator().manual_seed(0), pad_mode="constant")
    for img in out[:, 0]:
        (r, c), = np.argwhere(img.numpy() == 1.0)
        assert abs(r - 4) <= 2 and abs(c - 4) <= 2



def test_random_crop_flip_is_a_translation_and_mirror():
    g = torch.Generator().manual_seed(0)
    x = torch.arange(2 * 1 * 6 * 6, dtype=torch.float32).reshape(2, 1, 6, 6)
    out = random_crop_flip(x, pad=2, generator=g, pad_mode="constant")
    assert out.shape == x.shape
    for b in range(2):
        found = False
        xp = torch.nn.functional.pad(x[b], (2, 2, 2, 2))
        for dy in range(5):
            for dx in range(5):
                crop = xp[:, dy:dy + 6, dx:dx + 6]
                found |= torch.equal(out[b], crop) or torch.equal(out[b], crop.flip(2))
        assert found
    # no padding, no flip: the identity
    assert torch.equal(random_crop_flip(x, pad=0, generator=g, flip=False), x)


def test_augment_same_generator_same_batch():
    x = torch.randn(8, 3, 16, 16)
    cfg = TrainConfig(augment="strong")
    a = augment_batch(x, cfg, torch.Generator().manual_seed(1))
    b = augment_batch(x, cfg, torch.Generator().manual_seed(1))
    assert torch.equal(a, b) and not torch.equal(a, x)


def test_augmentation_lives_in_augment_and_is_reexported_by_train():
    import visionkit.deep.augment as augment
    import visionkit.deep.train as train

    for name in ("augment_batch", "random_crop_flip", "_cutout"):
        assert getattr(train, name) is getattr(augment, name)
