"""airbench94's network and training recipe (Keller Jordan, 2024)."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ._registry import register_model

__all__ = ['AirbenchNet', 'AIRBENCH_RECIPE']


class _ConvGroup(nn.Module):
    """conv3x3 -> max-pool 2 -> BN -> GELU -> conv3x3 -> BN -> GELU (airbench94's block)."""

    def __init__(self, cin: int, cout: int, bn_momentum: float) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1, bias=False)
        self.pool = nn.MaxPool2d(2)
        self.norm1 = nn.BatchNorm2d(cout, eps=1e-12, momentum=1 - bn_momentum)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1, bias=False)
        self.norm2 = nn.BatchNorm2d(cout, eps=1e-12, momentum=1 - bn_momentum)
        self.act = nn.GELU()
        for norm in (self.norm1, self.norm2):
            norm.weight.requires_grad_(False)  # airbench trains only the BN shifts
        for conv in (self.conv1, self.conv2):  # identity (Dirac) init of the first channels, as airbench
            nn.init.dirac_(conv.weight.data[: conv.in_channels])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.act(self.norm1(self.pool(self.conv1(x))))
        return self.act(self.norm2(self.conv2(x)))


class AirbenchNet(nn.Module):
    """The network of airbench94 (Keller Jordan, 2024), a fast small net for 32x32 images.

    A frozen 2x2 "whitening" conv (its filters are the patch covariance's eigenvectors scaled by
    1/sqrt(eigenvalue), set by :meth:`prepare_training` from the training images, with their
    negatives), GELU, three conv groups (64, 256, 256 wide), a global max-pool, a bias-free linear
    head scaled by 1/9. Unlike a ResNet it has no skip connections: at this depth they do not help.

    Its training recipe (``ModelSpec.recipe``) is airbench94's: Nesterov SGD at batch 1024, a
    triangular schedule, label smoothing 0.2, 64x learning rate on BN shifts, lookahead, and
    flip + translate test-time augmentation.
    """

    def __init__(self, num_classes: int = 10, in_chans: int = 3, widths: tuple[int, int, int] = (64, 256, 256),
                 bn_momentum: float = 0.6, scaling_factor: float = 1 / 9, whiten_bias_epochs: int = 3) -> None:
        super().__init__()
        k = 2
        self.whiten = nn.Conv2d(in_chans, 2 * in_chans * k * k, k, padding=0, bias=True)
        self.whiten.weight.requires_grad_(False)
        self.act = nn.GELU()
        self.group1 = _ConvGroup(self.whiten.out_channels, widths[0], bn_momentum)
        self.group2 = _ConvGroup(widths[0], widths[1], bn_momentum)
        self.group3 = _ConvGroup(widths[1], widths[2], bn_momentum)
        self.pool = nn.AdaptiveMaxPool2d(1)
        self.head = nn.Linear(widths[2], num_classes, bias=False)
        self.scaling_factor = scaling_factor
        self.whiten_bias_epochs = whiten_bias_epochs

    @torch.no_grad()
    def prepare_training(self, inputs: torch.Tensor, *, eps: float = 5e-4) -> None:
        """Set the whitening filters from normalised training images (B, C, H, W), e.g. 5,000 of them."""
        c, (h, w) = inputs.shape[1], self.whiten.kernel_size
        patches = inputs.float().unfold(2, h, 1).unfold(3, w, 1).transpose(1, 3).reshape(-1, c * h * w)
        cov = patches.T @ patches / len(patches)
        eigenvalues, eigenvectors = torch.linalg.eigh(cov)
        eigenvalues, eigenvectors = eigenvalues.flip(0), eigenvectors.T.flip(0)
        filters = (eigenvectors / torch.sqrt(eigenvalues.clamp_min(0) + eps)[:, None]).reshape(c * h * w, c, h, w)
        self.whiten.weight.copy_(torch.cat((filters, -filters)).to(self.whiten.weight))

    def on_train_epoch(self, epoch: int) -> None:
        """Train the whitening bias for the first ``whiten_bias_epochs`` epochs only (as airbench)."""
        self.whiten.bias.requires_grad_(epoch < self.whiten_bias_epochs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.act(self.whiten(x))
        x = self.group3(self.group2(self.group1(x)))
        return self.head(self.pool(x).flatten(1)) * self.scaling_factor


AIRBENCH_RECIPE = dict(
    optimizer="sgd", lr=11.5 / (1 + 1 / (1 - 0.85)), momentum=0.85, nesterov=True,
    # airbench94's decay per step (0.0153 * 1024 / (1024 * (1 + 1 / 0.15))) expressed for PyTorch's
    # coupled SGD weight decay at this learning rate
    weight_decay=0.0153 / (1 + 1 / (1 - 0.85)) / (11.5 / (1 + 1 / (1 - 0.85))),
    bias_lr_scale=64.0, bias_weight_decay=True, label_smoothing=0.2, schedule="triangle",
    warmup=0.23, start_factor=0.2, end_factor=0.07, augment="crop-flip", pad=2, pad_mode="reflect",
    batch_size=1024, epochs=10, lookahead=True, tta=2,
)


@register_model("airbench94", min_size=16, num_params=1_972_792, head="head", feature_layers=("group1", "group2", "group3"),
                description="airbench94's fast net for 32x32 (whitening conv + 3 conv groups)", recipe=AIRBENCH_RECIPE)
def _airbench94(*, num_classes: int, in_chans: int, img_size: int, **kwargs: Any) -> nn.Module:
    return AirbenchNet(num_classes, in_chans, **kwargs)
