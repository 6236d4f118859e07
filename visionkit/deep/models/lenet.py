"""LeNet-5 as the course draws it."""

from __future__ import annotations

import torch
from torch import nn

from ._registry import register_model

__all__ = ['LeNet5']


class LeNet5(nn.Module):
    """LeNet-5 (LeCun et al. 1998) as drawn in the course: C1 conv5 6, S2 pool, C3 conv5 16, S4 pool,
    C5 conv5 120, F6 84, output; tanh activations, average pooling.

    A global average pool after C5 lets larger inputs through (at 32x32 C5 is already 1x1, so the
    net is exactly LeNet-5 there).
    """

    def __init__(self, num_classes: int = 10, in_chans: int = 1) -> None:
        super().__init__()
        self.c1 = nn.Conv2d(in_chans, 6, 5)
        self.s2 = nn.AvgPool2d(2)
        self.c3 = nn.Conv2d(6, 16, 5)
        self.s4 = nn.AvgPool2d(2)
        self.c5 = nn.Conv2d(16, 120, 5)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.f6 = nn.Linear(120, 84)
        self.fc = nn.Linear(84, num_classes)
        self.act = nn.Tanh()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.s2(self.act(self.c1(x)))
        x = self.s4(self.act(self.c3(x)))
        x = self.pool(self.act(self.c5(x))).flatten(1)
        return self.fc(self.act(self.f6(x)))


@register_model("lenet5", min_size=32, num_params=62_006, head="fc", feature_layers=("c1", "c3", "c5"),
                description="LeNet-5 as the course draws it (tanh, average pooling)",
                recipe=dict(optimizer="adamw", lr=2e-3, weight_decay=1e-4, augment="none", batch_size=128, epochs=10))
def _lenet5(*, num_classes: int, in_chans: int, img_size: int) -> nn.Module:
    return LeNet5(num_classes, in_chans)
