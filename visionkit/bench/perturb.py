"""Image perturbations for the robustness experiment, each at several strengths.

All take and return uint8 (N, H, W, C) arrays and are seeded through ``random_state``.
"""

from __future__ import annotations

import cv2
import numpy as np

from .._validate import VisionkitError

__all__ = ["PERTURBATIONS", "perturb", "DEFAULT_STRENGTHS"]


def _noise(images, sigma, rng):
    noisy = images.astype(np.float32) + rng.normal(0.0, sigma * 255.0, size=images.shape).astype(np.float32)
    return np.clip(np.rint(noisy), 0, 255).astype(np.uint8)


def _blur(images, sigma, rng):
    if sigma <= 0:
        return images.copy()
    out = np.empty_like(images)
    for i, im in enumerate(images):
        out[i] = cv2.GaussianBlur(im, (0, 0), sigma, borderType=cv2.BORDER_REFLECT_101).reshape(im.shape)
    return out


def _rotate(images, degrees, rng):
    out = np.empty_like(images)
    h, w = images.shape[1:3]
    m = cv2.getRotationMatrix2D(((w - 1) / 2, (h - 1) / 2), float(degrees), 1.0)
    for i, im in enumerate(images):
        out[i] = cv2.warpAffine(im, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101).reshape(im.shape)
    return out


def _brightness(images, delta, rng):
    return np.clip(images.astype(np.float32) + delta * 255.0, 0, 255).round().astype(np.uint8)


def _contrast(images, factor, rng):
    f = images.astype(np.float32)
    mean = f.mean(axis=(1, 2, 3), keepdims=True)
    return np.clip((f - mean) * factor + mean, 0, 255).round().astype(np.uint8)


def _jpeg(images, quality, rng):
    out = np.empty_like(images)
    for i, im in enumerate(images):
        ok, buf = cv2.imencode(".jpg", im[..., ::-1] if im.shape[2] == 3 else im, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
        dec = cv2.imdecode(buf, cv2.IMREAD_UNCHANGED)
        out[i] = (dec[..., ::-1] if dec.ndim == 3 else dec[..., None]).reshape(im.shape)
    return out


PERTURBATIONS = {
    "noise": _noise,  # Gaussian noise, sigma as a fraction of the range
    "blur": _blur,  # Gaussian blur, sigma in pixels
    "rotation": _rotate,  # degrees
    "brightness": _brightness,  # added fraction of the range
    "contrast": _contrast,  # factor around the image mean
    "jpeg": _jpeg,  # JPEG quality
}

DEFAULT_STRENGTHS = {
    "noise": [0.05, 0.1, 0.2],
    "blur": [0.5, 1.0, 2.0],
    "rotation": [10, 20, 45],
    "brightness": [0.1, 0.2, 0.4],
    "contrast": [0.7, 0.5, 0.3],
    "jpeg": [50, 20, 10],
}


def perturb(images: np.ndarray, kind: str, strength: float, *, random_state: int = 0) -> np.ndarray:
    """Apply perturbation ``kind`` at ``strength`` to uint8 (N, H, W, C) images."""
    if kind not in PERTURBATIONS:
        raise VisionkitError(f"perturbation: expected one of {', '.join(PERTURBATIONS)}, got {kind!r}")
    if not isinstance(images, np.ndarray) or images.dtype != np.uint8 or images.ndim != 4:
        raise VisionkitError(f"perturb: expected uint8 images of shape (N, H, W, C), got {getattr(images, 'shape', type(images))}")
    return PERTURBATIONS[kind](images, strength, np.random.default_rng(random_state))
