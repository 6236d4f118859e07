"""The model registry: :class:`ModelSpec`, :func:`register_model`, :func:`create_model`, :func:`list_models`.

Short registered names over private builders (timm's habit); a duplicate name is an error and an
unknown name lists the valid ones (torchvision's habit). Each model family lives in its own file
beside this one and registers itself on import.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import torch
from torch import nn

from ..._validate import VisionkitError, describe
from ...registry import Registry

__all__ = ["MODELS", "ModelSpec", "register_model", "create_model", "list_models", "get_model_spec", "count_parameters",
           "first_conv", "SGD_RECIPE"]


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
    pretrained : PretrainedConfig or None
        For models with pretrained weights: what they were learned on, where the file comes from,
        and the preprocessing that is part of the weights (see :mod:`.pretrained`).
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
    pretrained: Any = None


MODELS: Registry[ModelSpec] = Registry("model")


def register_model(name: str, *, min_size: int, default_img_size: int = 32, num_params: int, head: str,
                   feature_layers: tuple[str, str, str], description: str = "", feature_layout: str = "nchw",
                   fixed_size: bool = False, recipe: dict[str, Any] | None = None, timm_name: str | None = None,
                   pretrained: Any = None):
    """Decorator registering a builder under ``name``; a name used twice is an error."""

    def _do(builder: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        prev = MODELS._entries.get(name)
        MODELS.add(name, ModelSpec(name, builder, min_size, default_img_size, num_params, head, tuple(feature_layers),
                                  description, feature_layout, fixed_size, dict(recipe or {}), timm_name, pretrained),
                   owner=prev and prev.builder.__name__)
        return builder

    return _do


def list_models(pattern: str | None = None) -> list[str]:
    """Registered model names, sorted; ``pattern`` filters with shell wildcards (``"efficientnet_*"``)."""
    return MODELS.names(pattern)


def get_model_spec(name: str) -> ModelSpec:
    """The :class:`ModelSpec` of ``name``; an unknown name is an error listing the valid ones."""
    return MODELS.get(name)


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
    pretrained: bool = False,
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
    pretrained : bool
        Load the model's registered pretrained weights (``list_pretrained()``; from ``weights`` when
        given, else from the installed weights package). The classifier is kept when ``num_classes``
        matches the weights (1000 for ImageNet) and freshly initialised otherwise.
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
    if pretrained and spec.pretrained is None:
        from .pretrained import list_pretrained

        raise VisionkitError(f"pretrained: model {name!r} has no pretrained weights; models with weights: {', '.join(list_pretrained())}")
    if pretrained or (weights is not None and spec.pretrained is not None):
        from ..checkpoint import load_pretrained
        from .pretrained import _load_pretrained_state

        skipped = load_pretrained(model, _load_pretrained_state(name, model, weights))
        wrong = [k for k in skipped if not k.startswith(spec.head + ".")]
        if wrong:  # only a classifier for another number of classes may stay fresh
            raise VisionkitError(f"weights do not fit {name!r}: {len(wrong)} tensors have other shapes, e.g. {wrong[:3]} "
                                 "(weights for another variant?)")
        model.visionkit_config["pretrained"] = spec.pretrained.dataset
    elif weights is not None:
        from ..checkpoint import load_pretrained

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


# Training recipe shared by the SGD-trained CNNs (AlexNet, VGG, ResNets).
SGD_RECIPE = dict(optimizer="sgd", lr=0.05, momentum=0.9, weight_decay=5e-4, label_smoothing=0.1, augment="crop-flip",
            batch_size=128, epochs=10)
