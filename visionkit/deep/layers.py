"""The course's formulas as code: self-attention, multi-head attention and batch norm.

Each formula is a pure function on tensors; the ``nn.Module`` next to it only holds the weights
and calls the function (the Kornia habit).

Self-attention (course, "Transformer")
--------------------------------------
For ``H = h_1, ..., h_R``, R vectors of dimension D, and ``Q, K in R^{L x D}``::

    S(H) = softmax( (QH)(KH)^T / sqrt(L) ) (VH)

Here the R vectors are the rows of ``H`` (shape (R, D)), so "QH" is the row-wise product
``H @ Q.T`` of shape (R, L). The weights Q, K, V have shapes that do not involve R: *le nombre de
poids ne dépend pas de R* -- the same layer runs on 4 tokens or 4,096.

Batch norm (course, "Resnet")
-----------------------------
Per channel, over the batch (and, for images, the pixels)::

    BN(x) = (x - mean_b x) / ( sqrt(mean_b (x - mean_b x)^2) + 1e-7 )

Note where the slide puts epsilon: *outside* the square root (``nn.BatchNorm2d`` adds it inside:
``(x - mean) / sqrt(var + eps)``); with a non-degenerate batch the two agree to float precision.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .._validate import VisionkitError

__all__ = [
    "self_attention",
    "multi_head_self_attention",
    "batch_norm",
    "sincos_position_embedding_2d",
    "SelfAttention",
    "MultiHeadSelfAttention",
    "BatchNorm2d",
    "LayerNorm2d",
    "TransformerBlock",
    "PatchEmbed",
    "COURSE_BN_EPS",
]

#: The epsilon of the course's batch-norm slide, added to the standard deviation.
COURSE_BN_EPS = 1e-7


def _check_tokens(input: torch.Tensor, name: str = "input") -> None:
    if not isinstance(input, torch.Tensor):
        raise VisionkitError(f"{name}: expected a torch.Tensor of shape (..., R, D), got {type(input).__name__}")
    if input.ndim < 2:
        raise VisionkitError(f"{name}: expected a tensor of shape (..., R, D) (R tokens of dimension D), got shape {tuple(input.shape)}")


def self_attention(h: torch.Tensor, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """The course's self-attention ``S(H) = softmax((QH)(KH)^T / sqrt(L)) (VH)``, written out.

    Parameters
    ----------
    h : Tensor, shape (..., R, D)
        R token vectors of dimension D (any leading batch dimensions).
    q, k : Tensor, shape (L, D)
        Query and key projections.
    v : Tensor, shape (Lv, D)
        Value projection.

    Returns
    -------
    Tensor, shape (..., R, Lv)

    Notes
    -----
    Equal (to float rounding) to ``F.scaled_dot_product_attention(h @ q.T, h @ k.T, h @ v.T)``,
    which is what the tests check.
    """
    _check_tokens(h, "h")
    d = h.shape[-1]
    for name, w in (("q", q), ("k", k), ("v", v)):
        if w.ndim != 2 or w.shape[1] != d:
            raise VisionkitError(f"{name}: expected a matrix of shape (L, D={d}), got shape {tuple(w.shape)}")
    if q.shape[0] != k.shape[0]:
        raise VisionkitError(f"q and k: expected the same number of rows L, got {q.shape[0]} and {k.shape[0]}")
    qh = h @ q.transpose(0, 1)  # (..., R, L): Q applied to every h_r
    kh = h @ k.transpose(0, 1)
    vh = h @ v.transpose(0, 1)
    return scaled_attention(qh, kh, vh)


def scaled_attention(qh: torch.Tensor, kh: torch.Tensor, vh: torch.Tensor) -> torch.Tensor:
    """``softmax(qh kh^T / sqrt(L)) vh`` for already projected tokens, shapes (..., R, L), (..., R, L), (..., R, Lv)."""
    scores = qh @ kh.transpose(-2, -1) / math.sqrt(qh.shape[-1])  # (..., R, R)
    return torch.softmax(scores, dim=-1) @ vh


def multi_head_self_attention(
    h: torch.Tensor,
    w_qkv: torch.Tensor,
    w_out: torch.Tensor,
    *,
    num_heads: int,
    b_qkv: torch.Tensor | None = None,
    b_out: torch.Tensor | None = None,
) -> torch.Tensor:
    """Multi-head self-attention: ``num_heads`` course self-attentions side by side, then a projection.

    Head ``i`` has its own ``Q_i, K_i, V_i`` of shape (L, D) with ``L = D / num_heads``; the heads'
    outputs are concatenated (R, D) and mixed by ``w_out``.

    Parameters
    ----------
    h : Tensor, shape (B, R, D)
    w_qkv : Tensor, shape (3 D, D)
        ``[Q_1; ...; Q_n; K_1; ...; K_n; V_1; ...; V_n]`` stacked by rows (the layout of ``nn.Linear(D, 3D)``).
    w_out : Tensor, shape (D, D)
    num_heads : int
        Must divide D.
    b_qkv, b_out : Tensor, optional
        Biases of shapes (3 D,) and (D,).

    Returns
    -------
    Tensor, shape (B, R, D)
    """
    _check_tokens(h, "h")
    d = h.shape[-1]
    if num_heads < 1 or d % num_heads:
        raise VisionkitError(f"num_heads: expected a divisor of the token dimension D={d}, got {num_heads}")
    if tuple(w_qkv.shape) != (3 * d, d) or tuple(w_out.shape) != (d, d):
        raise VisionkitError(f"w_qkv, w_out: expected shapes (3D, D)=({3 * d}, {d}) and (D, D)=({d}, {d}), got {tuple(w_qkv.shape)} and {tuple(w_out.shape)}")
    L = d // num_heads
    # One matrix product gives every head's QH, KH and VH; the attention itself is the course's
    # formula, run on a (..., heads, R, L) batch.
    qkv = F.linear(h, w_qkv, b_qkv)  # (..., R, 3D)
    qkv = qkv.unflatten(-1, (3, num_heads, L)).movedim(-3, 0).transpose(-3, -2)  # (3, ..., heads, R, L)
    out = scaled_attention(qkv[0], qkv[1], qkv[2])  # (..., heads, R, L)
    out = out.transpose(-3, -2).flatten(-2)  # (..., R, D)
    return F.linear(out, w_out, b_out)


def batch_norm(input: torch.Tensor, *, eps: float = COURSE_BN_EPS) -> torch.Tensor:
    """The course's batch norm, ``(x - mean_b x) / (sqrt(mean_b (x - mean_b x)^2) + eps)``.

    Parameters
    ----------
    input : Tensor, shape (B, C, H, W) or (B, C)
        The statistics are per channel, over the batch and the pixels.
    eps : float
        Added to the standard deviation (outside the square root, as on the slide).

    Returns
    -------
    Tensor, same shape, each channel with mean 0 and standard deviation ~1 over (B, H, W).
    """
    if not isinstance(input, torch.Tensor) or input.ndim not in (2, 4):
        raise VisionkitError(f"input: expected a tensor of shape (B, C, H, W) or (B, C), got {getattr(input, 'shape', type(input).__name__)}")
    dims = (0,) if input.ndim == 2 else (0, 2, 3)
    mean = input.mean(dim=dims, keepdim=True)
    centred = input - mean
    std = centred.pow(2).mean(dim=dims, keepdim=True).sqrt()  # the biased (1/N) estimate, as written
    return centred / (std + eps)


def sincos_position_embedding_2d(height: int, width: int, dim: int, *, temperature: float = 10000.0) -> torch.Tensor:
    """Fixed 2-D sine-cosine position codes (MAE / "Simple ViT"), no learnt parameter.

    Returns
    -------
    Tensor, shape (height * width, dim), row-major over the (height, width) token grid.
    """
    if dim % 4:
        raise VisionkitError(f"dim: expected a multiple of 4 for 2-D sine-cosine codes, got {dim}")
    y, x = torch.meshgrid(torch.arange(height, dtype=torch.float32), torch.arange(width, dtype=torch.float32), indexing="ij")
    omega = 1.0 / temperature ** (torch.arange(dim // 4, dtype=torch.float32) / (dim // 4 - 1 if dim > 4 else 1))
    y = y.flatten()[:, None] * omega[None, :]
    x = x.flatten()[:, None] * omega[None, :]
    return torch.cat((x.sin(), x.cos(), y.sin(), y.cos()), dim=1)


# --------------------------------------------------------------------------- modules


class SelfAttention(nn.Module):
    """One course self-attention head: holds Q, K (L x D) and V (Lv x D); calls :func:`self_attention`."""

    def __init__(self, dim: int, attn_dim: int | None = None, value_dim: int | None = None) -> None:
        super().__init__()
        attn_dim = attn_dim or dim
        self.q = nn.Parameter(torch.empty(attn_dim, dim))
        self.k = nn.Parameter(torch.empty(attn_dim, dim))
        self.v = nn.Parameter(torch.empty(value_dim or dim, dim))
        for w in (self.q, self.k, self.v):
            nn.init.xavier_uniform_(w)

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        return self_attention(input, self.q, self.k, self.v)


class MultiHeadSelfAttention(nn.Module):
    """Multi-head self-attention built from the course formula (see :func:`multi_head_self_attention`)."""

    def __init__(self, dim: int, num_heads: int, *, qkv_bias: bool = True) -> None:
        super().__init__()
        if dim % num_heads:
            raise VisionkitError(f"num_heads: expected a divisor of dim={dim}, got {num_heads}")
        self.num_heads = num_heads
        self.qkv = nn.Linear(dim, 3 * dim, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim)

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        return multi_head_self_attention(
            input, self.qkv.weight, self.proj.weight, num_heads=self.num_heads, b_qkv=self.qkv.bias, b_out=self.proj.bias
        )


class BatchNorm2d(nn.Module):
    """The course's batch norm with a learnt scale and shift, and running statistics for evaluation.

    In training mode it normalises with :func:`batch_norm` (batch statistics, eps outside the square
    root) and updates ``running_mean`` / ``running_var`` like ``nn.BatchNorm2d`` (unbiased variance,
    ``momentum`` weight on the new batch); in evaluation mode it uses the running statistics.
    """

    def __init__(self, num_features: int, *, eps: float = COURSE_BN_EPS, momentum: float = 0.1, affine: bool = True) -> None:
        super().__init__()
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.weight = nn.Parameter(torch.ones(num_features)) if affine else None
        self.bias = nn.Parameter(torch.zeros(num_features)) if affine else None
        self.register_buffer("running_mean", torch.zeros(num_features))
        self.register_buffer("running_var", torch.ones(num_features))

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        if input.ndim != 4 or input.shape[1] != self.num_features:
            raise VisionkitError(f"input: expected (B, C={self.num_features}, H, W), got {tuple(input.shape)}")
        if self.training:
            out = batch_norm(input, eps=self.eps)
            with torch.no_grad():
                n = input.numel() / input.shape[1]
                var = input.var(dim=(0, 2, 3), unbiased=n > 1)
                self.running_mean.lerp_(input.mean(dim=(0, 2, 3)).to(self.running_mean.dtype), self.momentum)
                self.running_var.lerp_(var.to(self.running_var.dtype), self.momentum)
        else:
            out = (input - self.running_mean[:, None, None]) / (self.running_var[:, None, None].sqrt() + self.eps)
        if self.weight is not None:
            out = out * self.weight[:, None, None] + self.bias[:, None, None]
        return out


class LayerNorm2d(nn.LayerNorm):
    """LayerNorm over the channels of a (B, C, H, W) tensor (ConvNeXt's channels-first norm)."""

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        return super().forward(input.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)


class PatchEmbed(nn.Module):
    """Cut the image into non-overlapping ``patch x patch`` squares and project each to ``dim``.

    Input (B, C, H, W) -> (B, dim, H // patch, W // patch), the grid of patch embeddings; the caller
    flattens it to tokens (B, R, dim), ``R = (H // patch) * (W // patch)``, knowing the grid size.
    """

    def __init__(self, in_chans: int, dim: int, patch: int) -> None:
        super().__init__()
        self.patch = patch
        self.proj = nn.Conv2d(in_chans, dim, kernel_size=patch, stride=patch)

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        return self.proj(input)  # (B, dim, H/p, W/p); the caller flattens, keeping the grid size


class TransformerBlock(nn.Module):
    """Pre-norm transformer encoder block: ``x + MHSA(LN(x))`` then ``x + MLP(LN(x))``.

    None of its weights depend on the number of tokens R.
    """

    def __init__(self, dim: int, num_heads: int, mlp_ratio: float = 4.0, *, drop_path: float = 0.0) -> None:
        super().__init__()
        hidden = int(dim * mlp_ratio)
        self.norm1 = nn.LayerNorm(dim)
        self.attn = MultiHeadSelfAttention(dim, num_heads)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim))
        self.drop_path = drop_path

    def _drop(self, x: torch.Tensor) -> torch.Tensor:
        # stochastic depth (Huang et al. 2016): drop the whole residual branch of a sample
        from torchvision.ops import stochastic_depth

        return stochastic_depth(x, self.drop_path, "row", self.training)

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        x = input + self._drop(self.attn(self.norm1(input)))
        return x + self._drop(self.mlp(self.norm2(x)))
