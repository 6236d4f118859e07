"""visionkit: classical computer vision and deep learning side by side.

The dtype rule for images is written once, in :mod:`visionkit._validate`: uint8 / 255,
uint16 / 65535, bool as 0 / 1, floats as they are, all computed in float32; shapes (H, W) or
(H, W, C) channels last for numpy, (B, C, H, W) for torch.
"""

from __future__ import annotations

from ._progress import verbose
from ._validate import VisionkitError, as_float_image
from .classical.corners import HarrisSteps, corner_peaks, harris_corners, harris_response, harris_steps
from .classical.filters import sobel, sobel_gradients, sobel_orientation
from .io import load_image, sample_image

__version__ = "0.1.0"

_LAZY = {
    # torch twins: importing torch takes about a second, so only on first use
    "sobel_gradients_torch": "visionkit.classical.filters",
    "sobel_torch": "visionkit.classical.filters",
    "harris_response_torch": "visionkit.classical.corners",
    "Sobel": "visionkit.classical.filters",
    "SobelGradients": "visionkit.classical.filters",
    "HarrisResponse": "visionkit.classical.corners",
}

__all__ = [
    "VisionkitError",
    "as_float_image",
    "verbose",
    "load_image",
    "sample_image",
    "sobel_gradients",
    "sobel",
    "sobel_orientation",
    "HarrisSteps",
    "harris_steps",
    "harris_response",
    "corner_peaks",
    "harris_corners",
    *_LAZY,
]


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'visionkit' has no attribute {name!r}")
