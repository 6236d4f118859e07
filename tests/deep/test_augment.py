"""Batch augmentation (deep/augment.py): crops and flips, seeded, re-exported by train."""

import torch

from visionkit.deep import TrainConfig, augment_batch, random_crop_flip


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
