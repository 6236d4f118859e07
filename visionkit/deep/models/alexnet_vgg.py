"""AlexNet and VGG with batch norm, for small images."""

from __future__ import annotations

import torch
from torch import nn

from ._registry import register_model, SGD_RECIPE, _replace_conv_in

__all__ = ['AlexNetBN']


def _conv_bn_relu(cin: int, cout: int) -> list[nn.Module]:
    return [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]


class AlexNetBN(nn.Module):
    """AlexNet's five convolutions (64-192-384-256-256) and three pools, with 3x3 kernels for small
    images and batch norm after each conv; a 2x2 adaptive pool and a 1024-1024 classifier."""

    def __init__(self, num_classes: int = 10, in_chans: int = 3, dropout: float = 0.5) -> None:
        super().__init__()
        self.features = nn.Sequential(
            *_conv_bn_relu(in_chans, 64), nn.MaxPool2d(2),
            *_conv_bn_relu(64, 192), nn.MaxPool2d(2),
            *_conv_bn_relu(192, 384), *_conv_bn_relu(384, 256), *_conv_bn_relu(256, 256), nn.MaxPool2d(2),
        )
        self.avgpool = nn.AdaptiveAvgPool2d(2)
        self.classifier = nn.Sequential(
            nn.Dropout(dropout), nn.Linear(256 * 4, 1024), nn.ReLU(inplace=True),
            nn.Dropout(dropout), nn.Linear(1024, 1024), nn.ReLU(inplace=True),
            nn.Linear(1024, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.avgpool(self.features(x)).flatten(1))




@register_model("alexnet_bn", min_size=16, num_params=4_362_186, head="classifier.6",
                feature_layers=("features.2", "features.6", "features.16"),
                description="AlexNet-style with batch norm, 3x3 convs for small images", recipe=SGD_RECIPE)
def _alexnet_bn(*, num_classes: int, in_chans: int, img_size: int) -> nn.Module:
    return AlexNetBN(num_classes, in_chans)


class _VGG(nn.Module):
    def __init__(self, features: nn.Module, num_classes: int) -> None:
        super().__init__()
        self.features = features
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(512, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.avgpool(self.features(x)).flatten(1))


@register_model("vgg11_bn", min_size=32, num_params=9_231_114, head="classifier",
                feature_layers=("features.2", "features.13", "features.27"),
                description="VGG-11 with batch norm (torchvision's feature layers), global pool + linear head",
                recipe=SGD_RECIPE)
def _vgg11_bn(*, num_classes: int, in_chans: int, img_size: int) -> nn.Module:
    from torchvision.models.vgg import cfgs, make_layers

    features = make_layers(cfgs["A"], batch_norm=True)
    features[0] = _replace_conv_in(features[0], in_chans)
    return _VGG(features, num_classes)
