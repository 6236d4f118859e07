"""Vision transformers: the course's ViT and torchvision's ViT-B/16."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ..._validate import VisionkitError
from ..layers import PatchEmbed, TransformerBlock, sincos_position_embedding_2d
from ._registry import register_model, _replace_conv_in

__all__ = ['VisionTransformer']


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
