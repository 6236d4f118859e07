"""Reading images: files, PIL images and arrays, converted under the package's dtype rule."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

import numpy as np

from ._validate import VisionkitError, as_float_image, check_image_array, describe, to_gray

__all__ = ["load_image", "sample_image", "SAMPLE_IMAGES"]

_PIL_RGB_MODES = {"RGB", "RGBA", "RGBX", "RGBa", "CMYK", "YCbCr", "LAB", "HSV"}

#: The photos shipped in ``images/`` (see ``images/PROVENANCE.md``) and their origin in ``skimage.data``.
SAMPLE_IMAGES = ("astronaut", "camera", "chelsea", "coffee", "brick", "checkerboard")


def _png_bit_depth(path: Path) -> int | None:
    with open(path, "rb") as fh:
        head = fh.read(26)
    if len(head) >= 25 and head[:8] == b"\x89PNG\r\n\x1a\n" and head[12:16] == b"IHDR":
        return head[24]
    return None


def _decode_16bit_colour(path: Path) -> np.ndarray | None:
    """Decode a 16-bit colour PNG at full depth (Pillow reduces those to 8 bits)."""
    import cv2

    data = np.fromfile(path, dtype=np.uint8)
    arr = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
    if arr is None or arr.dtype != np.uint16 or arr.ndim != 3:
        return None
    return cv2.cvtColor(arr, cv2.COLOR_BGRA2RGBA if arr.shape[2] == 4 else cv2.COLOR_BGR2RGB)


def _pil_to_array(img: Any, origin: str) -> np.ndarray:
    """Convert a loaded PIL image to a numpy array of a dtype the rule knows."""
    mode = img.mode
    if mode == "P" or mode == "PA":
        img = img.convert("RGBA" if ("transparency" in img.info or mode == "PA") else "RGB")
        mode = img.mode
    if mode == "1":
        return np.array(img, dtype=bool)
    if mode in ("L", "LA", "RGB", "RGBA"):
        return np.array(img)
    if mode in _PIL_RGB_MODES:
        return np.array(img.convert("RGB"))
    if mode.startswith("I;16"):
        return np.array(img).astype(np.uint16)
    if mode == "I":
        arr = np.array(img)
        if arr.min() >= 0 and arr.max() <= 65535:
            return arr.astype(np.uint16)
        raise VisionkitError(
            f"{origin}: expected 8- or 16-bit image data, got 32-bit integers in [{arr.min()}, {arr.max()}]"
        )
    if mode == "F":
        return np.array(img, dtype=np.float32)
    raise VisionkitError(f"{origin}: unsupported PIL image mode {mode!r}; expected 1, L, LA, P, RGB, RGBA, I;16, I or F")


def _read_file(path: Path) -> np.ndarray:
    from PIL import Image, UnidentifiedImageError

    if not path.exists():
        raise VisionkitError(f"expected an existing image file, got a path that does not exist: {str(path)!r}")
    if path.is_dir():
        raise VisionkitError(f"expected an image file, got a directory: {str(path)!r}")
    size = path.stat().st_size
    if size == 0:
        raise VisionkitError(f"expected an image file, got an empty file (0 bytes): {str(path)!r}")
    try:
        with Image.open(path) as img:
            img.load()  # decode now so that truncated data fails here
            if img.format == "PNG" and img.mode in ("RGB", "RGBA") and _png_bit_depth(path) == 16:
                deep = _decode_16bit_colour(path)
                if deep is not None:
                    return deep
            return _pil_to_array(img, str(path))
    except UnidentifiedImageError:
        with open(path, "rb") as fh:
            head = fh.read(64)
        looks_text = all(32 <= b < 127 or b in (9, 10, 13) for b in head)
        what = "a text file" if looks_text else "data that is not a known image format"
        raise VisionkitError(
            f"expected an image file (PNG, JPEG, TIFF, BMP, GIF, WebP...), got {what} ({size} bytes): {str(path)!r}"
        ) from None
    except (OSError, SyntaxError, ValueError) as exc:
        if isinstance(exc, VisionkitError):
            raise
        raise VisionkitError(
            f"expected a complete, readable image file, got a damaged or truncated one ({size} bytes): "
            f"{str(path)!r} ({exc})"
        ) from None


def load_image(src: Any, *, mode: Literal["gray", "rgb"] = "gray") -> np.ndarray:
    """Read an image from a path, a PIL image or an array, as float32 in [0, 1].

    Parameters
    ----------
    src : str, os.PathLike, PIL.Image.Image or array_like
        A file (PNG, JPEG, TIFF, BMP, GIF, WebP: whatever Pillow reads; 16-bit PNG kept at full
        depth), a PIL image, or an array of shape (H, W), (H, W, 1), (H, W, 3) or (H, W, 4) with
        dtype uint8, uint16, bool, float16, float32 or float64.
    mode : {"gray", "rgb"}
        ``"gray"`` returns (H, W), colour combined with the BT.709 weights of
        ``skimage.color.rgb2gray``; ``"rgb"`` returns (H, W, 3), grey repeated on three channels.
        Alpha is dropped in both (not composited).

    Returns
    -------
    numpy.ndarray of float32, shape (H, W) or (H, W, 3)
        Values in [0, 1]: uint8 / 255, uint16 / 65535, bool as 0 / 1, floats as they are.

    Raises
    ------
    VisionkitError
        For a missing, empty, truncated or non-image file; an empty array or one with a zero-size
        axis; NaN or infinite values; floats outside [0, 1]; a rank other than 2 or 3; more than
        4 channels; complex, object, string or other integer dtypes; an unknown ``mode``.

    Examples
    --------
    >>> img = load_image(np.full((4, 4), 255, dtype=np.uint8))
    >>> img.dtype, float(img.max())
    (dtype('float32'), 1.0)
    """
    if mode not in ("gray", "rgb"):
        raise VisionkitError(f"mode: expected 'gray' or 'rgb', got {mode!r}")
    if isinstance(src, (str, os.PathLike)):
        if isinstance(src, str) and not src:
            raise VisionkitError("expected an image path, got an empty string")
        origin = str(src)
        arr = _read_file(Path(src))
    elif type(src).__module__.startswith("PIL.") and hasattr(src, "mode"):
        origin = "PIL image"
        try:
            src.load()
        except Exception as exc:
            raise VisionkitError(f"expected a readable PIL image, got one that fails to load ({exc})") from None
        arr = _pil_to_array(src, origin)
    elif isinstance(src, (np.ndarray, list, tuple)) or hasattr(src, "__array__"):
        origin = "array"
        if hasattr(src, "detach"):  # a torch tensor: accept it on the CPU
            src = src.detach().cpu().numpy()
        arr = check_image_array(src, name="image", check_finite=True)
    else:
        raise VisionkitError(f"expected a path, a PIL image or a numpy array, got {describe(src)}")

    image = as_float_image(arr, name=origin, check_finite=True)
    if arr.dtype.kind == "f":
        lo, hi = float(image.min()), float(image.max())
        if lo < 0.0 or hi > 1.0:
            raise VisionkitError(
                f"{origin}: expected floating-point values in [0, 1], got values in [{lo:.4g}, {hi:.4g}]; "
                "rescale first (e.g. (x - x.min()) / (x.max() - x.min()))"
            )
    if mode == "gray":
        return to_gray(image)
    if image.ndim == 2:
        return np.repeat(image[:, :, None], 3, axis=2)
    c = image.shape[2]
    if c in (1, 2):
        return np.repeat(image[:, :, :1], 3, axis=2)
    return np.ascontiguousarray(image[:, :, :3])


def sample_image(name: str = "astronaut", *, mode: Literal["gray", "rgb"] = "rgb") -> np.ndarray:
    """Load one of the bundled sample photos by name, as :func:`load_image` would.

    The photos come from ``skimage.data`` (public domain or CC0, see ``images/PROVENANCE.md``)
    and load offline; a copy of each also lies in the repository's ``images/`` folder.

    Parameters
    ----------
    name : str
        One of :data:`SAMPLE_IMAGES`.
    mode : {"gray", "rgb"}
        As in :func:`load_image`.
    """
    if name not in SAMPLE_IMAGES:
        raise VisionkitError(f"sample image: expected one of {', '.join(SAMPLE_IMAGES)}, got {name!r}")
    import skimage.data

    return load_image(getattr(skimage.data, name)(), mode=mode)

