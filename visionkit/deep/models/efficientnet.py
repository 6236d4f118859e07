"""EfficientNet-B0 from torchvision, trained from scratch."""

from __future__ import annotations

from torch import nn

from ._registry import register_model, _replace_conv_in

__all__ = []


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
