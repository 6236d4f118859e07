"""Handcrafted features: Sobel filters, Harris corners (numpy on cv2, and torch twins)."""

from .corners import HarrisSteps, corner_peaks, harris_corners, harris_response, harris_steps
from .filters import sobel, sobel_gradients, sobel_orientation

_TORCH = {"sobel_gradients_torch", "sobel_torch", "harris_response_torch", "Sobel", "SobelGradients", "HarrisResponse"}

__all__ = [
    "sobel_gradients",
    "sobel",
    "sobel_orientation",
    "HarrisSteps",
    "harris_steps",
    "harris_response",
    "corner_peaks",
    "harris_corners",
    *sorted(_TORCH),
]


def __getattr__(name: str):
    # The torch twins import torch (about a second); load them on first use only.
    if name in _TORCH:
        from . import corners, filters

        return getattr(filters if hasattr(filters, name) else corners, name)
    raise AttributeError(f"module 'visionkit.classical' has no attribute {name!r}")
