"""Registered CNN and ViT classifiers, built offline (``weights=None`` unless a local file is given).

Short registered names over private builders (timm's habit); ``create_model(name, num_classes=,
in_chans=, img_size=)`` builds one, ``list_models()`` lists them. A duplicate name is an error and an
unknown name lists the valid ones (torchvision's habit).

Every model takes any number of classes, 1 or 3 input channels (any positive count in fact) and
any input size from its ``min_size`` up; below it a :class:`~visionkit.VisionkitError` says so.
Models with a learnt position embedding per token (torchvision's ViT) are fixed to the size they were
built for. The EfficientNet-Lite models come with ImageNet-1k weights (``pretrained=True``; see
:mod:`.pretrained`); their preprocessing is part of the weights.

Parameter counts (``num_classes=10``, ``in_chans=3``, computed by ``count_parameters`` and checked
by ``tests/deep/test_models.py``):

====================  ===========  ========  =================================================
name                   parameters  min size  what it is
====================  ===========  ========  =================================================
lenet5                     62,006        32  LeNet-5 as the course draws it (61,706 for 1 channel)
alexnet_bn              4,362,186        16  AlexNet-style, 3x3 convs for small images, batch norm
vgg11_bn                9,231,114        32  VGG-11 (config "A") with batch norm, 1x1 head
resnet20                  272,474         8  CIFAR ResNet-20 (He et al. 2016), 3x3 stem
resnet18                11,181,642        32  torchvision resnet18 (7x7 stem + max-pool), adapted
resnet18_cifar         11,173,962         8  torchvision resnet18 with a 3x3 stride-1 stem, no max-pool
airbench94              1,972,792        16  airbench94's net (K. Jordan): whitening conv, 3 conv groups
efficientnet_b0         4,020,358        32  torchvision EfficientNet-B0, adapted
convnext_atto_cifar     3,376,290        16  ConvNeXt (atto widths 40-320, depths 2-2-6-2), 2x2 stem
scatnet_cifar             814,922         8  scattering hybrid: fixed J=2 scattering + ResNet head 64-128
vit_cifar               1,793,866         8  ViT, 4x4 patches, dim 192, depth 6, fixed sin-cos positions
vit_b_16               85,806,346        32  torchvision ViT-B/16 at 224 (learnt positions: 85,658,890 at 32)
swin_t_cifar           27,507,028        16  torchvision Swin-T with 2x2 patches and 4x4 windows
efficientnet_lite0      3,383,818        32  EfficientNet-Lite0 (timm), ImageNet-1k weights, 224 px
efficientnet_lite1      4,148,490        32  EfficientNet-Lite1 (timm), ImageNet-1k weights, 240 px
efficientnet_lite2      4,823,882        32  EfficientNet-Lite2 (timm), ImageNet-1k weights, 260 px
====================  ===========  ========  =================================================
"""

from __future__ import annotations

from . import airbench, alexnet_vgg, convnext, efficientnet, lenet, pretrained, resnet, scatnet, swin, vit  # noqa: F401  (register)
from ._registry import (
    MODELS,
    SGD_RECIPE,
    ModelSpec,
    count_parameters,
    create_model,
    first_conv,
    get_model_spec,
    list_models,
    register_model,
)
from .airbench import AIRBENCH_RECIPE, AirbenchNet
from .alexnet_vgg import AlexNetBN
from .convnext import ConvNeXt
from .lenet import LeNet5
from .scatnet import ScatteringHybrid
from .pretrained import Backbone, PretrainedConfig, imagenet_classes, list_pretrained, load_backbone, resize_center_crop
from .vit import VisionTransformer

__all__ = [
    "MODELS", "ModelSpec", "register_model", "create_model", "list_models", "get_model_spec", "count_parameters", "first_conv",
    "SGD_RECIPE", "LeNet5", "AlexNetBN", "AirbenchNet", "AIRBENCH_RECIPE", "ConvNeXt", "VisionTransformer", "ScatteringHybrid",
    "Backbone", "PretrainedConfig", "imagenet_classes", "list_pretrained", "load_backbone", "resize_center_crop",
]
