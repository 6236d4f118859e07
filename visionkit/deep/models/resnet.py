"""ResNets: torchvision's resnet18 (two stems) and the CIFAR ResNet-20."""

from __future__ import annotations

import torch
from torch import nn

from ._registry import register_model, SGD_RECIPE, _replace_conv_in

__all__ = []


def _tv_resnet18(num_classes: int, in_chans: int, cifar_stem: bool) -> nn.Module:
    from torchvision.models import resnet18

    model = resnet18(weights=None, num_classes=num_classes)
    if cifar_stem:
        model.conv1 = nn.Conv2d(in_chans, 64, 3, 1, 1, bias=False)
        model.maxpool = nn.Identity()
    else:
        model.conv1 = _replace_conv_in(model.conv1, in_chans)
    return model


@register_model("resnet18", min_size=32, num_params=11_181_642, head="fc", feature_layers=("layer1", "layer2", "layer4"),
                description="torchvision resnet18 (7x7 stride-2 stem, max-pool), any classes/channels",
                recipe=SGD_RECIPE, timm_name="resnet18")
def _resnet18(*, num_classes: int, in_chans: int, img_size: int) -> nn.Module:
    return _tv_resnet18(num_classes, in_chans, cifar_stem=False)


@register_model("resnet18_cifar", min_size=8, num_params=11_173_962, head="fc", feature_layers=("layer1", "layer2", "layer4"),
                description="torchvision resnet18 with a 3x3 stride-1 stem and no max-pool (for 32x32)",
                recipe=SGD_RECIPE, timm_name="resnet18")
def _resnet18_cifar(*, num_classes: int, in_chans: int, img_size: int) -> nn.Module:
    return _tv_resnet18(num_classes, in_chans, cifar_stem=True)


def _basic_stage(cin: int, width: int, n: int, stride: int) -> nn.Sequential:
    """``n`` torchvision basic blocks from ``cin`` to ``width`` channels, the first with ``stride`` and a
    projection shortcut (option B) where the shape changes."""
    from torchvision.models.resnet import BasicBlock

    blocks = []
    for i in range(n):
        s = stride if i == 0 else 1
        down = None
        if s != 1 or cin != width:
            down = nn.Sequential(nn.Conv2d(cin, width, 1, s, bias=False), nn.BatchNorm2d(width))
        blocks.append(BasicBlock(cin, width, s, down))
        cin = width
    return nn.Sequential(*blocks)


class _CifarResNet(nn.Module):
    """He et al. (2016) CIFAR ResNet-(6n+2): 3x3 stem of 16, three stages 16-32-64 of n basic blocks."""

    def __init__(self, n: int, num_classes: int, in_chans: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_chans, 16, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        self.relu = nn.ReLU(inplace=True)
        self.layer1 = _basic_stage(16, 16, n, 1)
        self.layer2 = _basic_stage(16, 32, n, 2)
        self.layer3 = _basic_stage(32, 64, n, 2)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(64, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.layer3(self.layer2(self.layer1(x)))
        return self.fc(self.avgpool(x).flatten(1))


@register_model("resnet20", min_size=8, num_params=272_474, head="fc", feature_layers=("layer1", "layer2", "layer3"),
                description="CIFAR ResNet-20 (He et al. 2016), 3x3 stem, 16-32-64 widths", recipe=SGD_RECIPE)
def _resnet20(*, num_classes: int, in_chans: int, img_size: int) -> nn.Module:
    return _CifarResNet(3, num_classes, in_chans)
