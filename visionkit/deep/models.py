"""Registered CNN and ViT classifiers, built offline (``weights=None`` unless a local file is given).

Short registered names over private builders (timm's habit); ``create_model(name, num_classes=,
in_chans=, img_size=)`` builds one, ``list_models()`` lists them. A duplicate name is an error and an
unknown name lists the valid ones (torchvision's habit).

Every model takes any number of classes, 1 or 3 input channels (any positive count in fact) and
any input size from its ``min_size`` up; below it a :class:`~visionkit.VisionkitError` says so.
Models with a learnt position embedding per token (torchvision's ViT) are fixed to the size they were
built for.

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
vit_cifar               1,793,866         8  ViT, 4x4 patches, dim 192, depth 6, fixed sin-cos positions
vit_b_16               85,806,346        32  torchvision ViT-B/16 at 224 (learnt positions: 85,658,890 at 32)
swin_t_cifar           27,507,028        16  torchvision Swin-T with 2x2 patches and 4x4 windows
====================  ===========  ========  =================================================
"""

from __future__ import annotations

import difflib
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import torch
from torch import nn

from .._validate import VisionkitError, describe
from .layers import LayerNorm2d, PatchEmbed, TransformerBlock, sincos_position_embedding_2d

__all__ = [
    "ModelSpec",
    "register_model",
    "create_model",
    "list_models",
    "get_model_spec",
    "count_parameters",
    "first_conv",
    "LeNet5",
    "AlexNetBN",
    "AirbenchNet",
    "ConvNeXt",
    "VisionTransformer",
]


@dataclass(frozen=True)
class ModelSpec:
    """A registered model.

    Attributes
    ----------
    name : str
    builder : callable(num_classes, in_chans, img_size, **kwargs) -> nn.Module
    min_size : int
        The smallest input height and width the model runs on.
    default_img_size : int
    num_params : int
        Documented parameter count at ``num_classes=10, in_chans=3`` and the default size.
    head : str
        Module path of the final linear layer; its input is the penultimate embedding.
    feature_layers : tuple of str
        An early, a middle and a late module whose outputs make figures.
    feature_layout : {"nchw", "nhwc", "tokens"}
        How those outputs are laid out (tokens are (B, R, D) on a square grid).
    fixed_size : bool
        The model runs only at the size it was built for.
    recipe : dict
        Training defaults (see :class:`visionkit.deep.train.TrainConfig`) that suit this model.
    timm_name : str or None
        The closest timm model, for the throughput comparison.
    """

    name: str
    builder: Callable[..., nn.Module]
    min_size: int
    default_img_size: int
    num_params: int
    head: str
    feature_layers: tuple[str, str, str]
    description: str = ""
    feature_layout: str = "nchw"
    fixed_size: bool = False
    recipe: dict[str, Any] = field(default_factory=dict)
    timm_name: str | None = None


_MODELS: dict[str, ModelSpec] = {}


def register_model(name: str, *, min_size: int, default_img_size: int = 32, num_params: int, head: str,
                   feature_layers: tuple[str, str, str], description: str = "", feature_layout: str = "nchw",
                   fixed_size: bool = False, recipe: dict[str, Any] | None = None, timm_name: str | None = None):
    """Decorator registering a builder under ``name``; a name used twice is an error."""

    def _do(builder: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        if name in _MODELS:
            raise VisionkitError(f"model {name!r} is already registered (by {_MODELS[name].builder.__name__})")
        _MODELS[name] = ModelSpec(name, builder, min_size, default_img_size, num_params, head, tuple(feature_layers),
                                  description, feature_layout, fixed_size, dict(recipe or {}), timm_name)
        return builder

    return _do


def list_models() -> list[str]:
    """Registered model names, sorted."""
    return sorted(_MODELS)


def get_model_spec(name: str) -> ModelSpec:
    """The :class:`ModelSpec` of ``name``; an unknown name is an error listing the valid ones."""
    if not isinstance(name, str) or name not in _MODELS:
        close = difflib.get_close_matches(str(name), list(_MODELS), n=3)
        hint = f" Did you mean {', '.join(close)}?" if close else ""
        raise VisionkitError(f"unknown model {name!r}; expected one of: {', '.join(list_models())}.{hint}")
    return _MODELS[name]


def count_parameters(model: nn.Module, *, trainable_only: bool = False) -> int:
    """Number of parameters (scalars) of ``model``."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


def first_conv(model: nn.Module) -> nn.Conv2d:
    """The first ``nn.Conv2d`` of ``model`` (in registration order), e.g. to look at its filters."""
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            return m
    raise VisionkitError(f"model {type(model).__name__} has no nn.Conv2d layer")


def _check_int(value: Any, name: str, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int,)) or value < low:
        raise VisionkitError(f"{name}: expected an integer >= {low}, got {describe(value)}")
    return int(value)


def create_model(
    name: str,
    *,
    num_classes: int = 10,
    in_chans: int = 3,
    img_size: int | None = None,
    weights: str | Path | None = None,
    seed: int | None = None,
    **kwargs: Any,
) -> nn.Module:
    """Build the registered model ``name``.

    Parameters
    ----------
    name : str
        One of :func:`list_models`.
    num_classes : int
        Outputs of the classifier (>= 1).
    in_chans : int
        Input channels (1 for grey, 3 for colour).
    img_size : int, optional
        The input size the model is meant for (default: the model's); must be >= its ``min_size``.
        Only fixed-size models (torchvision's ViT) depend on it.
    weights : path, optional
        A local state dict (``.safetensors``, or ``.pth``/``.pt`` read with ``torch.load(weights_only=True)``)
        from torchvision or timm; a first conv with other channels is adapted (summed or repeated) and
        a classifier with another number of classes is left freshly initialised. Nothing is downloaded.
    seed : int, optional
        Seed for the initial weights (torch's global generator is forked and restored: no side effect).
    **kwargs
        Passed to the builder (e.g. ``depth=`` for ``vit_cifar``).

    Returns
    -------
    nn.Module
        Maps (B, in_chans, H, W) float tensors to (B, num_classes) logits. ``model.visionkit_config``
        holds the arguments, and a check refuses inputs of the wrong channels or below ``min_size``.
    """
    spec = get_model_spec(name)
    num_classes = _check_int(num_classes, "num_classes", 1)
    in_chans = _check_int(in_chans, "in_chans", 1)
    img_size = spec.default_img_size if img_size is None else _check_int(img_size, "img_size", 1)
    if img_size < spec.min_size:
        raise VisionkitError(f"img_size: model {name!r} needs inputs of at least {spec.min_size}x{spec.min_size}, got {img_size}; "
                             f"resize the images up (e.g. DeepClassifier(img_size={spec.min_size}))")
    if seed is not None:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            model = spec.builder(num_classes=num_classes, in_chans=in_chans, img_size=img_size, **kwargs)
    else:
        model = spec.builder(num_classes=num_classes, in_chans=in_chans, img_size=img_size, **kwargs)
    model.visionkit_config = dict(name=name, num_classes=num_classes, in_chans=in_chans, img_size=img_size, **kwargs)
    model.register_forward_pre_hook(_input_check(spec, in_chans, img_size))
    if weights is not None:
        from .checkpoint import load_pretrained

        load_pretrained(model, weights)
    return model


def _input_check(spec: ModelSpec, in_chans: int, img_size: int):
    def hook(module: nn.Module, args: tuple) -> None:
        x = args[0] if args else None
        if not isinstance(x, torch.Tensor) or x.ndim != 4 or x.shape[1] != in_chans:
            raise VisionkitError(f"{spec.name}: expected a float tensor (B, C={in_chans}, H, W), got {describe(x)}")
        h, w = x.shape[-2:]
        if spec.fixed_size and (h, w) != (img_size, img_size):
            raise VisionkitError(f"{spec.name}: built for {img_size}x{img_size} inputs (learnt position embedding per token), got {h}x{w}; "
                                 f"build it with img_size={h} or resize the images")
        if min(h, w) < spec.min_size:
            raise VisionkitError(f"{spec.name}: expected inputs of at least {spec.min_size}x{spec.min_size}, got {h}x{w}; resize them up")

    return hook


def _replace_conv_in(conv: nn.Conv2d, in_chans: int) -> nn.Conv2d:
    """The same conv with ``in_chans`` inputs (fresh weights); the conv itself when it already fits."""
    if conv.in_channels == in_chans:
        return conv
    return nn.Conv2d(in_chans, conv.out_channels, conv.kernel_size, conv.stride, conv.padding,
                     conv.dilation, conv.groups, conv.bias is not None)


# ------------------------------------------------------------------------------------------ LeNet


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


# ---------------------------------------------------------------------------------- AlexNet / VGG


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


_SGD = dict(optimizer="sgd", lr=0.05, momentum=0.9, weight_decay=5e-4, label_smoothing=0.1, augment="crop-flip",
            batch_size=128, epochs=10)


@register_model("alexnet_bn", min_size=16, num_params=4_362_186, head="classifier.6",
                feature_layers=("features.2", "features.6", "features.16"),
                description="AlexNet-style with batch norm, 3x3 convs for small images", recipe=_SGD)
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
                recipe=_SGD)
def _vgg11_bn(*, num_classes: int, in_chans: int, img_size: int) -> nn.Module:
    from torchvision.models.vgg import cfgs, make_layers

    features = make_layers(cfgs["A"], batch_norm=True)
    features[0] = _replace_conv_in(features[0], in_chans)
    return _VGG(features, num_classes)


# ------------------------------------------------------------------------------------------ ResNet


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
                recipe=_SGD, timm_name="resnet18")
def _resnet18(*, num_classes: int, in_chans: int, img_size: int) -> nn.Module:
    return _tv_resnet18(num_classes, in_chans, cifar_stem=False)


@register_model("resnet18_cifar", min_size=8, num_params=11_173_962, head="fc", feature_layers=("layer1", "layer2", "layer4"),
                description="torchvision resnet18 with a 3x3 stride-1 stem and no max-pool (for 32x32)",
                recipe=_SGD, timm_name="resnet18")
def _resnet18_cifar(*, num_classes: int, in_chans: int, img_size: int) -> nn.Module:
    return _tv_resnet18(num_classes, in_chans, cifar_stem=True)


class _CifarResNet(nn.Module):
    """He et al. (2016) CIFAR ResNet-(6n+2): 3x3 stem of 16, three stages 16-32-64 of n basic blocks."""

    def __init__(self, n: int, num_classes: int, in_chans: int) -> None:
        from torchvision.models.resnet import BasicBlock

        super().__init__()
        self.conv1 = nn.Conv2d(in_chans, 16, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        self.relu = nn.ReLU(inplace=True)
        layers, cin = [], 16
        for width, stride in ((16, 1), (32, 2), (64, 2)):
            blocks = []
            for i in range(n):
                s = stride if i == 0 else 1
                down = None
                if s != 1 or cin != width:  # projection shortcut (option B)
                    down = nn.Sequential(nn.Conv2d(cin, width, 1, s, bias=False), nn.BatchNorm2d(width))
                blocks.append(BasicBlock(cin, width, s, down))
                cin = width
            layers.append(nn.Sequential(*blocks))
        self.layer1, self.layer2, self.layer3 = layers
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
                description="CIFAR ResNet-20 (He et al. 2016), 3x3 stem, 16-32-64 widths", recipe=_SGD)
def _resnet20(*, num_classes: int, in_chans: int, img_size: int) -> nn.Module:
    return _CifarResNet(3, num_classes, in_chans)


# --------------------------------------------------------------------------------------- airbench


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


# ---------------------------------------------------------------------------------- EfficientNet


@register_model("efficientnet_b0", min_size=32, num_params=4_020_358, head="classifier.1",
                feature_layers=("features.2", "features.4", "features.8"),
                description="torchvision EfficientNet-B0 (weights=None), first conv adapted to in_chans",
                recipe=dict(optimizer="adamw", lr=2e-3, weight_decay=0.05, label_smoothing=0.1, augment="crop-flip",
                            batch_size=128, epochs=10),
                timm_name="efficientnet_b0")
def _efficientnet_b0(*, num_classes: int, in_chans: int, img_size: int) -> nn.Module:
    from torchvision.models import efficientnet_b0

    model = efficientnet_b0(weights=None, num_classes=num_classes)
    model.features[0][0] = _replace_conv_in(model.features[0][0], in_chans)
    return model


# -------------------------------------------------------------------------------------- ConvNeXt


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
        if self.training and self.drop_path > 0:
            keep = 1 - self.drop_path
            y = y * y.new_empty(y.shape[0], 1, 1, 1).bernoulli_(keep) / keep
        return x + y


class ConvNeXt(nn.Module):
    """ConvNeXt at a small scale: a ``stem x stem`` patchify stem, four stages, 2x2 downsampling."""

    def __init__(self, num_classes: int = 10, in_chans: int = 3, dims: tuple[int, ...] = (40, 80, 160, 320),
                 depths: tuple[int, ...] = (2, 2, 6, 2), stem: int = 2, drop_path: float = 0.1) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(in_chans, dims[0], stem, stride=stem), LayerNorm2d(dims[0], eps=1e-6))
        rates = torch.linspace(0, drop_path, sum(depths)).tolist()
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


# ------------------------------------------------------------------------------------------- ViT


class VisionTransformer(nn.Module):
    """ViT with the course's attention (:class:`~visionkit.deep.layers.MultiHeadSelfAttention`).

    Patches of ``patch x patch`` pixels become R tokens of dimension ``dim``; fixed 2-D sine-cosine
    position codes (no parameter) are added, ``depth`` pre-norm transformer blocks follow, and the
    tokens are averaged (no class token) before the head. Hence no weight depends on R: the same
    model runs on any image size, and its parameter count is the same for every R (tested).
    """

    def __init__(self, num_classes: int = 10, in_chans: int = 3, patch: int = 4, dim: int = 192, depth: int = 6,
                 num_heads: int = 3, mlp_ratio: float = 2.0, drop_path: float = 0.0) -> None:
        super().__init__()
        self.patch_embed = PatchEmbed(in_chans, dim, patch)
        self.blocks = nn.Sequential(*[TransformerBlock(dim, num_heads, mlp_ratio, drop_path=drop_path * i / max(depth - 1, 1))
                                      for i in range(depth)])
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, num_classes)
        self._pos_cache: dict[tuple[int, int], torch.Tensor] = {}
        self.apply(self._init)

    @staticmethod
    def _init(m: nn.Module) -> None:
        if isinstance(m, nn.Linear):
            nn.init.xavier_uniform_(m.weight)
            if m.bias is not None:
                nn.init.zeros_(m.bias)

    def position_codes(self, h: int, w: int, device: torch.device) -> torch.Tensor:
        key = (h, w)
        if key not in self._pos_cache:
            self._pos_cache[key] = sincos_position_embedding_2d(h, w, self.head.in_features)
        return self._pos_cache[key].to(device)

    def tokens(self, x: torch.Tensor) -> torch.Tensor:
        """Patch tokens with positions, (B, R, dim)."""
        x = self.patch_embed(x)  # (B, D, h, w)
        h, w = x.shape[-2:]
        self.grid_size = (h, w)
        return x.flatten(2).transpose(1, 2) + self.position_codes(h, w, x.device).to(x.dtype)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.blocks(self.tokens(x))
        return self.head(self.norm(x).mean(dim=1))


@register_model("vit_cifar", min_size=8, num_params=1_793_866, head="head", feature_layers=("blocks.0", "blocks.2", "blocks.5"),
                feature_layout="tokens",
                description="ViT, 4x4 patches, dim 192, depth 6, 3 heads, fixed sin-cos positions, mean pooling",
                recipe=dict(optimizer="adamw", lr=2e-3, weight_decay=0.05, label_smoothing=0.1, augment="strong",
                            batch_size=128, epochs=10, warmup=0.1, schedule="cosine"))
def _vit_cifar(*, num_classes: int, in_chans: int, img_size: int, **kwargs: Any) -> nn.Module:
    return VisionTransformer(num_classes, in_chans, **kwargs)


@register_model("vit_b_16", min_size=32, default_img_size=224, num_params=85_806_346, head="heads.head",
                feature_layers=("encoder.layers.encoder_layer_0", "encoder.layers.encoder_layer_5", "encoder.layers.encoder_layer_11"),
                feature_layout="tokens", fixed_size=True,
                description="torchvision ViT-B/16 (learnt position embedding: built for one size, 224 by default)",
                recipe=dict(optimizer="adamw", lr=1e-3, weight_decay=0.05, label_smoothing=0.1, augment="strong",
                            batch_size=64, epochs=10, warmup=0.1, schedule="cosine"),
                timm_name="vit_base_patch16_224")
def _vit_b_16(*, num_classes: int, in_chans: int, img_size: int) -> nn.Module:
    from torchvision.models.vision_transformer import VisionTransformer as TVViT

    if img_size % 16:
        raise VisionkitError(f"img_size: vit_b_16 needs a multiple of its 16-pixel patches, got {img_size}")
    model = TVViT(image_size=img_size, patch_size=16, num_layers=12, num_heads=12, hidden_dim=768, mlp_dim=3072,
                  num_classes=num_classes)
    model.conv_proj = _replace_conv_in(model.conv_proj, in_chans)
    return model


@register_model("swin_t_cifar", min_size=16, num_params=27_507_028, head="head",
                feature_layers=("features.1", "features.3", "features.7"), feature_layout="nhwc",
                description="torchvision Swin-T (depths 2-2-6-2) with 2x2 patches and 4x4 windows for small images",
                recipe=dict(optimizer="adamw", lr=1e-3, weight_decay=0.05, label_smoothing=0.1, augment="strong",
                            batch_size=128, epochs=10, warmup=0.1, schedule="cosine"),
                timm_name="swin_tiny_patch4_window7_224")
def _swin_t_cifar(*, num_classes: int, in_chans: int, img_size: int) -> nn.Module:
    from torchvision.models.swin_transformer import SwinTransformer

    model = SwinTransformer(patch_size=[2, 2], embed_dim=96, depths=[2, 2, 6, 2], num_heads=[3, 6, 12, 24],
                            window_size=[4, 4], stochastic_depth_prob=0.2, num_classes=num_classes)
    model.features[0][0] = _replace_conv_in(model.features[0][0], in_chans)
    return model
