import numpy as np
import pytest
import torch
from torch import nn

from visionkit import VisionkitError
from visionkit.viz import attention_maps, attention_rollout, grad_cam


def _toy(n, generator):
    """Noise images; class 1 has a bright 6x6 square somewhere in the top-left 16x16 quadrant."""
    x = torch.rand(n, 1, 32, 32, generator=generator) * 0.3
    y = torch.arange(n) % 2
    for i in range(n):
        if y[i] == 1:
            r, c = torch.randint(0, 10, (2,), generator=generator).tolist()
            x[i, 0, r : r + 6, c : c + 6] += 0.7
    return x, y


def _cnn():
    return nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 8, 3, padding=1), nn.ReLU(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 2),
    )


def test_grad_cam_finds_the_discriminative_region():
    g = torch.Generator().manual_seed(0)
    torch.manual_seed(0)
    model = _cnn()
    x, y = _toy(128, g)
    opt = torch.optim.Adam(model.parameters(), lr=2e-2)
    for _ in range(50):
        opt.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
    xt, yt = _toy(64, g)
    assert (model(xt).argmax(1) == yt).float().mean() > 0.95
    pos = xt[yt == 1]
    cam = grad_cam(model, pos, layer=model[2], target=1)
    assert cam.shape == (len(pos), 32, 32) and cam.min() >= 0 and cam.max() <= 1
    inside = cam[:, :16, :16].sum() / cam.sum()
    assert inside > 0.6  # a quarter of the image holds well over half the mass (chance: 0.25)


class _TinyViT(nn.Module):
    def __init__(self):
        super().__init__()
        from types import SimpleNamespace

        self.embed = nn.Conv2d(1, 8, 4, stride=4)
        self.att = nn.Module()
        self.att.qkv = nn.Linear(8, 24)
        self.att.num_heads = 2
        self.att.forward = lambda h: h
        self.blocks = nn.ModuleList([self.att])
        self.head = nn.Linear(8, 2)
        _ = SimpleNamespace

    def forward(self, x):
        h = self.embed(x).flatten(2).transpose(1, 2)
        for b in self.blocks:
            h = b(h)
        return self.head(h.mean(1))


def test_attention_maps_and_rollout():
    torch.manual_seed(0)
    model = _TinyViT()
    x = torch.rand(2, 1, 16, 16)
    maps = attention_maps(model, x)
    assert len(maps) == 1 and maps[0].shape == (2, 2, 16, 16)
    torch.testing.assert_close(maps[0].sum(-1), torch.ones(2, 2, 16))
    roll = attention_rollout(maps, grid=(4, 4))
    assert roll.shape == (2, 4, 4) and roll.max() == pytest.approx(1.0)
    # identity attention: rollout is uniform before scaling
    eye = torch.eye(17).expand(1, 2, 17, 17)
    flat = attention_rollout([eye], grid=(4, 4))
    assert np.allclose(flat, 0)
    with pytest.raises(VisionkitError, match="tokens"):
        attention_rollout(maps, grid=(3, 3))
    with pytest.raises(VisionkitError, match="self-attention"):
        attention_maps(_cnn(), x)
