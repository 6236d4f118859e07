"""Swin-T from torchvision, with small patches and windows for small images."""

from __future__ import annotations

from torch import nn

from ._registry import register_model, _replace_conv_in

__all__ = []


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
