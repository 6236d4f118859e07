"""The scattering hybrid (Oyallon et al. 2017): a fixed scattering front end, a small learned ResNet head.

The first layers of a CNN learn oriented band-pass filters, moduli and pooling. The hybrid keeps
the head of a CNN and replaces those layers by the 2-D scattering transform
(:func:`visionkit.classical.scattering.scattering2d`): Morlet wavelets nobody learned, so only the
head learns from the data at hand. It sits between the two sides of this toolkit: the
``scattering-svm`` pipeline puts a linear SVM on the same coefficients, the from-scratch CNNs learn
their first layers too.

Architecture (``J = 2``, ``L = 8`` on 32 x 32 RGB): the scattering maps of each channel, ``(B, 3,
81, 8, 8)``, stacked as 243 channels at 8 x 8; batch norm without affine parameters (as Oyallon et
al.); a 3 x 3 conv to ``widths[0]`` channels; ``depth`` basic residual blocks at 8 x 8 and ``depth``
at 4 x 4 with ``widths[1]`` channels; global average pool; linear classifier.

References
----------
E. Oyallon, E. Belilovsky and S. Zagoruyko, "Scaling the scattering transform: deep hybrid
networks", ICCV 2017.
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from ..._validate import VisionkitError, describe
from ...classical.scattering import Scattering2D, scattering_channels
from ._registry import SGD_RECIPE, register_model
from .resnet import _basic_stage

__all__ = ["ScatteringHybrid"]


class ScatteringHybrid(nn.Module):
    """Scattering front end (fixed Morlet wavelets) + a residual CNN head that learns.

    Parameters
    ----------
    num_classes : int
    in_chans : int
        Each input channel is scattered on its own: ``in_chans * K`` maps enter the head, ``K =
        scattering_channels(J, L)`` (81 at ``J = 2``, ``L = 8``).
    J, L : int
        The scattering's scales and orientations (order 2): the head works at ``H / 2^J``.
    widths : (int, int)
        Channels of the head's two stages (the second at half the resolution).
    depth : int
        Residual blocks per stage.

    Notes
    -----
    The scattering has no parameters: ``state_dict`` holds the head only, and the front end builds
    its filters for each input size on first use. It runs in float32 whatever the autocast (its
    FFTs have no bf16 kernels on the CPU), and records a graph only when the input needs a gradient
    (saliency maps), since nothing in it learns.

    Examples
    --------
    >>> net = ScatteringHybrid(num_classes=10, widths=(32, 64), depth=1)
    >>> net(torch.rand(2, 3, 32, 32)).shape
    torch.Size([2, 10])
    """

    def __init__(self, num_classes: int = 10, in_chans: int = 3, *, J: int = 2, L: int = 8,
                 widths: Sequence[int] = (64, 128), depth: int = 2) -> None:
        super().__init__()
        self.scattering = Scattering2D(J=J, L=L, max_order=2)
        k = in_chans * scattering_channels(J, L, 2)
        if (not isinstance(widths, (tuple, list)) or len(widths) != 2
                or not all(isinstance(w, int) and not isinstance(w, bool) and w >= 1 for w in widths)):
            raise VisionkitError(f"widths: expected two positive integers (stage 1, stage 2), got {describe(widths)}")
        if isinstance(depth, bool) or not isinstance(depth, int) or depth < 1:
            raise VisionkitError(f"depth: expected an integer >= 1, got {describe(depth)}")
        w0, w1 = widths
        self.norm = nn.BatchNorm2d(k, affine=False)
        self.stem = nn.Sequential(nn.Conv2d(k, w0, 3, padding=1, bias=False), nn.BatchNorm2d(w0), nn.ReLU(inplace=True))
        self.layer1 = _basic_stage(w0, w0, depth, 1)
        self.layer2 = _basic_stage(w0, w1, depth, 2)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(w1, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def scatter(self, x: torch.Tensor) -> torch.Tensor:
        """The front end: (B, C, H, W) -> (B, C * K, H / 2^J, W / 2^J), float32."""
        with torch.autocast(x.device.type, enabled=False), torch.set_grad_enabled(torch.is_grad_enabled() and x.requires_grad):
            s = self.scattering(x.float().contiguous())
        return s.flatten(1, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(self.norm(self.scatter(x)))
        x = self.layer2(self.layer1(x))
        return self.fc(self.avgpool(x).flatten(1))


@register_model("scatnet_cifar", min_size=8, num_params=814_922, head="fc", feature_layers=("stem", "layer1", "layer2"),
                description="Scattering hybrid (Oyallon et al. 2017): fixed J=2, L=8 scattering + a ResNet head 64-128",
                recipe=dict(SGD_RECIPE, epochs=10))
def _scatnet_cifar(*, num_classes: int, in_chans: int, img_size: int, **kwargs) -> nn.Module:
    return ScatteringHybrid(num_classes, in_chans, **kwargs)
