"""ConvNeXt at a small scale (Liu et al. 2022)."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torchvision.ops import stochastic_depth

from ..layers import LayerNorm2d
from ._registry import register_model

__all__ = ['ConvNeXt']


class _ConvNeXtBlock(nn.Module):
    """Depthwise 7x7 conv -> LayerNorm -> 4x MLP (GELU) -> layer scale -> residual (Liu et al. 2022)."""

    def __init__(self, dim: int, drop_path: float = 0.0, layer_scale: float = 1e-6) -> None:
        super().__init__()
        self.dwconv = nn.Conv2d(dim, dim, 7, padding=3, groups=dim)
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.pwconv1 = nn.Linear(dim, 4 * dim)
        self.act = nn.GELU()
        self.pwconv2 = nn.Linear(4 * dim, dim)
        self.gamma = nn.Parameter(torch.full((dim,), layer_scale))
        self.drop_path = drop_path

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.dwconv(x).permute(0, 2, 3, 1)
        y = (self.pwconv2(self.act(self.pwconv1(self.norm(y)))) * self.gamma).permute(0, 3, 1, 2)
        y = stochastic_depth(y, self.drop_path, "row", self.training)
        return x + y


class ConvNeXt(nn.Module):
    """ConvNeXt at a small scale: a ``stem x stem`` patchify stem, four stages, 2x2 downsampling."""

    def __init__(self, num_classes: int = 10, in_chans: int = 3, dims: tuple[int, ...] = (40, 80, 160, 320),
                 depths: tuple[int, ...] = (2, 2, 6, 2), stem: int = 2, drop_path: float = 0.1) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(in_chans, dims[0], stem, stride=stem), LayerNorm2d(dims[0], eps=1e-6))
        # on the CPU even under `with torch.device("meta")`, where checkpoints are checked: .tolist() needs data
        rates = torch.linspace(0, drop_path, sum(depths), device="cpu").tolist()
        stages, k = [], 0
        for i, (dim, depth) in enumerate(zip(dims, depths)):
            down = [] if i == 0 else [LayerNorm2d(dims[i - 1], eps=1e-6), nn.Conv2d(dims[i - 1], dim, 2, stride=2)]
            stages.append(nn.Sequential(*down, *[_ConvNeXtBlock(dim, rates[k + j]) for j in range(depth)]))
            k += depth
        self.stages = nn.Sequential(*stages)
        self.norm = nn.LayerNorm(dims[-1], eps=1e-6)
        self.head = nn.Linear(dims[-1], num_classes)
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.trunc_normal_(m.weight, std=0.02)
                nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stages(self.stem(x))
        return self.head(self.norm(x.mean(dim=(2, 3))))


_ADAMW = dict(optimizer="adamw", lr=2e-3, weight_decay=0.05, label_smoothing=0.1, augment="crop-flip", batch_size=128, epochs=10)


@register_model("convnext_atto_cifar", min_size=16, num_params=3_376_290, head="head",
                feature_layers=("stages.0", "stages.1", "stages.3"),
                description="ConvNeXt with atto widths (40-320) and depths (2-2-6-2), 2x2 stem for small images",
                recipe=_ADAMW, timm_name="convnext_atto")
def _convnext_atto_cifar(*, num_classes: int, in_chans: int, img_size: int, **kwargs: Any) -> nn.Module:
    return ConvNeXt(num_classes, in_chans, **kwargs)
