"""What a trained network sees: penultimate embeddings, named intermediate feature maps, first-layer filters.

The layers come from the model's registry entry (``ModelSpec.head`` and ``feature_layers``, an
early, a middle and a late one); outputs are captured with forward hooks, so every registered
model works, torchvision's included. Token outputs of transformers (B, R, D) are laid back on their
square grid and Swin's channels-last maps are moved to channels-first: every map comes out (B, C, h, w).
"""

from __future__ import annotations

import math
from typing import Sequence

import torch
from torch import nn

from .._validate import VisionkitError
from .models import first_conv, get_model_spec

__all__ = ["embeddings", "feature_maps", "first_conv_filters", "default_feature_layers"]


def _spec(model: nn.Module):
    cfg = getattr(model, "visionkit_config", None)
    if cfg is None:
        raise VisionkitError(f"model: expected a model from visionkit.deep.create_model (with visionkit_config), got {type(model).__name__}")
    return get_model_spec(cfg["name"])


def _module(model: nn.Module, name: str) -> nn.Module:
    modules = dict(model.named_modules())
    if name not in modules:
        near = [n for n in modules if n and n.split(".")[0] == name.split(".")[0]][:8]
        raise VisionkitError(f"layer {name!r} is not a module of {type(model).__name__}; e.g. {near or list(modules)[1:8]}")
    return modules[name]


def default_feature_layers(model: nn.Module) -> tuple[str, str, str]:
    """The early, middle and late layers registered for ``model``."""
    return _spec(model).feature_layers


def _capture_input(model: nn.Module, layer: nn.Module, inputs: torch.Tensor) -> torch.Tensor:
    """Run ``model`` on ``inputs`` and return what ``layer`` received (its first positional input)."""
    captured: list[torch.Tensor] = []
    handle = layer.register_forward_hook(lambda m, a, o: captured.append(a[0]))
    try:
        model(inputs)
    finally:
        handle.remove()
    return captured[0]


@torch.no_grad()
def embeddings(model: nn.Module, inputs: torch.Tensor) -> torch.Tensor:
    """The penultimate embedding: the input of the final linear layer, shape (B, D)."""
    return _capture_input(model, _module(model, _spec(model).head), inputs).flatten(1).float()


def _to_nchw(out: torch.Tensor, layout: str) -> torch.Tensor:
    if isinstance(out, (tuple, list)):
        out = out[0]
    if layout == "nhwc" and out.ndim == 4:
        return out.permute(0, 3, 1, 2)
    if layout == "tokens" and out.ndim == 3:
        b, r, d = out.shape
        side = math.isqrt(r)
        if side * side != r:  # a class token in front (torchvision's ViT)
            out, r = out[:, 1:], r - 1
            side = math.isqrt(r)
        if side * side == r:
            return out.transpose(1, 2).reshape(b, d, side, side)
    return out


@torch.no_grad()
def feature_maps(model: nn.Module, inputs: torch.Tensor, layers: Sequence[str] | None = None) -> dict[str, torch.Tensor]:
    """Outputs of named layers for ``inputs`` (B, C, H, W), as float (B, C', h, w) maps.

    Parameters
    ----------
    model : nn.Module
        From :func:`visionkit.deep.create_model`.
    inputs : Tensor, shape (B, C, H, W)
        Normalised images.
    layers : list of str, optional
        Module names (``dict(model.named_modules())``); default: the registered early, middle and late ones.

    Returns
    -------
    dict of str to Tensor
        In the order of ``layers``.
    """
    spec = _spec(model)
    layers = list(layers) if layers is not None else list(spec.feature_layers)
    captured: dict[str, torch.Tensor] = {}
    handles = [_module(model, name).register_forward_hook(lambda m, a, o, name=name: captured.__setitem__(name, o))
               for name in layers]
    try:
        model(inputs)
    finally:
        for h in handles:
            h.remove()
    return {name: _to_nchw(captured[name], spec.feature_layout).float() for name in layers}


def first_conv_filters(model: nn.Module) -> torch.Tensor:
    """A copy of the first convolution's filters, (out_channels, in_channels, kh, kw)."""
    return first_conv(model).weight.detach().float().cpu().clone()
