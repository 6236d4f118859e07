"""What a network looks at: Grad-CAM and attention rollout.

The functions work on any ``torch.nn.Module`` and a preprocessed input tensor (B, C, H, W); named
feature maps and first-layer filters come from :mod:`visionkit.deep.features`.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .._validate import VisionkitError

__all__ = ["grad_cam", "attention_maps", "attention_rollout"]


def _check_input(input: torch.Tensor) -> None:
    if not isinstance(input, torch.Tensor) or input.ndim != 4:
        raise VisionkitError(f"input: expected a tensor of shape (B, C, H, W), got {getattr(input, 'shape', type(input).__name__)}")


def _as_grid(t: torch.Tensor) -> torch.Tensor:
    """(B, C, h, w) maps pass; (B, R, D) tokens of a square grid (plus an optional class token) become (B, D, s, s)."""
    if t.ndim == 4:
        return t
    b, r, d = t.shape
    side = int(round(r**0.5))
    if side * side != r:
        t, r = t[:, 1:], r - 1
        side = int(round(r**0.5))
    if side * side != r:
        raise VisionkitError(f"grad_cam layer: expected tokens on a square grid, got {r} tokens")
    return t.transpose(1, 2).reshape(b, d, side, side)


def grad_cam(model: nn.Module, input: torch.Tensor, *, layer: nn.Module, target: int | Sequence[int] | None = None) -> np.ndarray:
    """Grad-CAM heat maps (Selvaraju et al., 2017) for ``target`` classes (default: the predicted ones).

    ``cam = relu(sum_c alpha_c A_c)`` with ``alpha_c`` the spatial mean of d score / d A_c, ``A`` the
    activations of ``layer`` (a conv layer or block with (B, C, h, w) output, or a transformer block
    whose (B, R, D) tokens lie on a square grid), upsampled bilinearly to the input size and scaled to
    [0, 1] per image.

    Returns
    -------
    ndarray of float32, shape (B, H, W)
    """
    _check_input(input)
    store: dict[str, torch.Tensor] = {}

    def hook(_m, _i, out):
        if isinstance(out, (tuple, list)):
            out = out[0]
        if not isinstance(out, torch.Tensor) or out.ndim not in (3, 4):
            raise VisionkitError(f"grad_cam layer: expected a (B, C, h, w) map or (B, R, D) tokens, got {getattr(out, 'shape', type(out).__name__)}")
        out.retain_grad()
        store["a"] = out

    handle = layer.register_forward_hook(hook)
    was_training = model.training
    model.eval()
    try:
        with torch.enable_grad():
            x = input.detach().requires_grad_(True)
            scores = model(x)
            if target is None:
                idx = scores.argmax(dim=1)
            else:
                idx = torch.as_tensor(np.broadcast_to(np.asarray(target), (len(x),)).copy(), device=scores.device)
            model.zero_grad(set_to_none=True)
            scores.gather(1, idx.view(-1, 1)).sum().backward()
    finally:
        handle.remove()
        model.train(was_training)
    a, grad = _as_grid(store["a"]), _as_grid(store["a"].grad)
    weights = grad.mean(dim=(2, 3), keepdim=True)
    cam = F.relu((weights * a).sum(dim=1, keepdim=True)).detach()
    cam = F.interpolate(cam, size=input.shape[-2:], mode="bilinear", align_corners=False)[:, 0]
    cam = cam - cam.amin(dim=(1, 2), keepdim=True)
    cam = cam / cam.amax(dim=(1, 2), keepdim=True).clamp_min(1e-12)
    return cam.cpu().numpy().astype(np.float32)


def attention_maps(model: nn.Module, input: torch.Tensor) -> list[torch.Tensor]:
    """The softmax attention matrices of every self-attention layer, in order, each (B, heads, R, R).

    Works for modules that hold a ``qkv`` linear layer (D -> 3D) and ``num_heads`` (visionkit's
    :class:`~visionkit.deep.layers.MultiHeadSelfAttention`, timm's ``Attention``): their input tokens
    are captured and ``softmax((QH)(KH)^T / sqrt(L))`` recomputed from the layer's own weights.
    """
    _check_input(input)
    layers = [m for m in model.modules() if isinstance(getattr(m, "qkv", None), nn.Linear) and hasattr(m, "num_heads")]
    if not layers:
        raise VisionkitError(f"attention_maps: expected a model with self-attention layers (a qkv projection), found none in {type(model).__name__}")
    maps: list[torch.Tensor] = []

    def hook(m, args):
        h = args[0]
        b, r, d = h.shape
        heads = m.num_heads
        qkv = m.qkv(h).unflatten(-1, (3, heads, d // heads)).permute(2, 0, 3, 1, 4)  # (3, B, heads, R, L)
        scores = qkv[0] @ qkv[1].transpose(-2, -1) / (d // heads) ** 0.5
        maps.append(torch.softmax(scores, dim=-1).detach())

    handles = [m.register_forward_pre_hook(hook) for m in layers]
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            model(input)
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    return maps


def attention_rollout(maps: Sequence[torch.Tensor], *, grid: tuple[int, int], residual: float = 0.5) -> np.ndarray:
    """Attention rollout (Abnar & Zuidema, 2020): how much each patch feeds the output.

    Each layer's head-averaged attention is mixed with the identity (the residual path),
    ``A' = residual * I + (1 - residual) * A``, rows renormalised, and the layers multiplied. With a
    class token (R = h*w + 1) its row is read; without one (global average pooling) the rows are averaged.

    Returns
    -------
    ndarray of float32, shape (B, h, w), scaled to [0, 1] per image
    """
    if not maps:
        raise VisionkitError("attention_rollout: expected at least one attention matrix")
    h, w = grid
    joint = None
    for a in maps:
        a = a.mean(dim=1)  # (B, R, R)
        eye = torch.eye(a.shape[-1], device=a.device).expand_as(a)
        a = residual * eye + (1 - residual) * a
        a = a / a.sum(dim=-1, keepdim=True)
        joint = a if joint is None else a @ joint
    r = joint.shape[-1]
    if r == h * w + 1:
        flow = joint[:, 0, 1:]
    elif r == h * w:
        flow = joint.mean(dim=1)
    else:
        raise VisionkitError(f"attention_rollout: expected {h * w} or {h * w + 1} tokens for a {h}x{w} grid, got {r}")
    flow = flow.reshape(-1, h, w)
    flow = flow - flow.amin(dim=(1, 2), keepdim=True)
    flow = flow / flow.amax(dim=(1, 2), keepdim=True).clamp_min(1e-12)
    return flow.cpu().numpy().astype(np.float32)
