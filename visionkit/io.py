"""Reading images: files, PIL images and arrays, converted under the package's dtype rule."""

from __future__ import annotations

import os
import re
import warnings
from pathlib import Path
from typing import Any, Literal

import numpy as np

from ._validate import VisionkitError, as_float_image, check_image_array, describe, to_gray

__all__ = ["load_image", "sample_image", "SAMPLE_IMAGES", "MAX_PIXELS"]

_PIL_RGB_MODES = {"RGB", "RGBA", "RGBX", "RGBa", "CMYK", "YCbCr", "LAB", "HSV"}

#: The photos shipped in ``images/`` (see ``images/PROVENANCE.md``) and their origin in ``skimage.data``.
SAMPLE_IMAGES = ("astronaut", "camera", "chelsea", "coffee", "brick", "checkerboard")

#: The most pixels (width x height) an image file may have: larger ones are refused from their
#: header, before anything is decoded (a 140 KB PNG can declare 12,000 x 12,000 pixels, 432 MB
#: decoded). The default is Pillow's own warning threshold (``PIL.Image.MAX_IMAGE_PIXELS``, about
#: 1/4 GB of RGB). Set this module attribute to change it for every call (``visionkit.io.MAX_PIXELS
#: = 300_000_000``), or pass ``max_pixels=`` to :func:`load_image` or
#: :func:`visionkit.data.load_image_folder`. Pillow also refuses, by itself, images over twice
#: ``PIL.Image.MAX_IMAGE_PIXELS``: raise that too to read more than 178,956,970 pixels.
MAX_PIXELS = 89_478_485


def _max_pixels(max_pixels: int | None) -> int:
    """Resolve ``max_pixels`` (``None``: the module default :data:`MAX_PIXELS`) and check it."""
    value = MAX_PIXELS if max_pixels is None else max_pixels
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise VisionkitError(f"max_pixels: expected a positive integer (a count of pixels), got {value!r}")
    return int(value)


def _too_many_pixels(origin: str, width: int | None, height: int | None, n: int, limit: int) -> VisionkitError:
    size = f"{width} x {height} = {n:,} pixels" if width is not None else f"{n:,} pixels"
    return VisionkitError(
        f"{origin}: expected an image of at most {limit:,} pixels, got {size}; refused before decoding "
        "(a possible decompression bomb); raise the limit with max_pixels= or visionkit.io.MAX_PIXELS "
        "if the file is trusted"
    )


def _open_image(path: Path, max_pixels: int):
    """``PIL.Image.open`` (lazy: the header only), refusing images of more than ``max_pixels`` pixels.

    Returns the open image, not yet decoded; the caller closes it.
    """
    from PIL import Image

    with warnings.catch_warnings():
        # Pillow warns from MAX_IMAGE_PIXELS on; the limit that applies here is ours, checked below
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            img = Image.open(path)
        except Image.DecompressionBombError as exc:  # over twice Pillow's limit: it refuses by itself
            found = re.search(r"\((\d+) pixels\)", str(exc))
            n = int(found.group(1)) if found else max_pixels + 1
            if n > max_pixels:
                raise _too_many_pixels(repr(str(path)), None, None, n, max_pixels) from None
            raise VisionkitError(
                f"{str(path)!r}: expected an image Pillow agrees to open, got {n:,} pixels, within max_pixels "
                f"({max_pixels:,}) but over Pillow's own limit (twice PIL.Image.MAX_IMAGE_PIXELS = "
                f"{2 * (Image.MAX_IMAGE_PIXELS or 0):,}); raise PIL.Image.MAX_IMAGE_PIXELS too to read it"
            ) from None
    width, height = img.size
    if width * height > max_pixels:
        img.close()
        raise _too_many_pixels(repr(str(path)), width, height, width * height, max_pixels)
    return img


def _png_bit_depth(path: Path) -> int | None:
    with open(path, "rb") as fh:
        head = fh.read(26)
    if len(head) >= 25 and head[:8] == b"\x89PNG\r\n\x1a\n" and head[12:16] == b"IHDR":
        return head[24]
    return None


def _is_16bit_colour(img: Any, path: Path) -> bool:
    """A 16-bit-per-channel RGB(A) PNG or TIFF, which Pillow would reduce to 8 bits."""
    if img.mode not in ("RGB", "RGBA"):
        return False
    if img.format == "PNG":
        return _png_bit_depth(path) == 16
    if img.format == "TIFF":
        bits = img.tag_v2.get(258)  # BitsPerSample, one per channel
        bits = bits if isinstance(bits, tuple) else (bits,)
        return len(bits) > 0 and all(b == 16 for b in bits)
    return False


def _exif_orientation(img: Any) -> int:
    """The EXIF orientation tag (1 to 8; 1, upright, when absent or invalid)."""
    try:
        value = img.getexif().get(0x0112, 1)
    except Exception:  # a damaged EXIF block does not make the pixels unreadable
        return 1
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


def _apply_exif_orientation(image: np.ndarray, orientation: int) -> np.ndarray:
    """Turn an image as stored into the upright image a camera's EXIF orientation tag describes.

    Parameters
    ----------
    image : ndarray, shape (H, W) or (H, W, C)
        The pixels in the order the file stores them.
    orientation : int
        The EXIF tag 0x0112: 1 upright, 2 mirrored, 3 rotated 180°, 4 flipped, 5 transposed,
        6 to be turned 90° clockwise (a phone held upright), 7 transversed, 8 to be turned 90°
        anticlockwise. Other values leave the image as it is.

    Returns
    -------
    ndarray
        Contiguous; shape (W, H, ...) for orientations 5 to 8. The same pixels as
        ``PIL.ImageOps.exif_transpose``.
    """
    ops = {
        2: lambda a: a[:, ::-1],
        3: lambda a: a[::-1, ::-1],
        4: lambda a: a[::-1],
        5: lambda a: a.swapaxes(0, 1),
        6: lambda a: np.rot90(a, -1),
        7: lambda a: np.rot90(a, 2).swapaxes(0, 1),
        8: lambda a: np.rot90(a, 1),
    }
    if orientation not in ops:
        return image
    return np.ascontiguousarray(ops[orientation](image))


def _decode_16bit_colour(path: Path) -> np.ndarray | None:
    """Decode a 16-bit colour PNG or TIFF at full depth (Pillow reduces those to 8 bits).

    ``IMREAD_UNCHANGED`` keeps the depth and ignores the EXIF orientation (applied by the caller).
    """
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


def _read_file(path: Path, max_pixels: int) -> np.ndarray:
    from PIL import UnidentifiedImageError

    if not path.exists():
        raise VisionkitError(f"expected an existing image file, got a path that does not exist: {str(path)!r}")
    if path.is_dir():
        raise VisionkitError(f"expected an image file, got a directory: {str(path)!r}")
    size = path.stat().st_size
    if size == 0:
        raise VisionkitError(f"expected an image file, got an empty file (0 bytes): {str(path)!r}")
    try:
        with _open_image(path, max_pixels) as img:
            img.load()  # decode now so that truncated data fails here
            orientation = _exif_orientation(img)  # after load(): a PNG may keep its EXIF after the pixels
            if _is_16bit_colour(img, path):
                deep = _decode_16bit_colour(path)
                if deep is not None:
                    return _apply_exif_orientation(deep, orientation)
            return _apply_exif_orientation(_pil_to_array(img, str(path)), orientation)
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


def load_image(src: Any, *, mode: Literal["gray", "rgb"] = "gray", max_pixels: int | None = None) -> np.ndarray:
    """Read an image from a path, a PIL image or an array, as float32 in [0, 1].

    Parameters
    ----------
    src : str, os.PathLike, PIL.Image.Image or array_like
        A file (PNG, JPEG, TIFF, BMP, GIF, WebP: whatever Pillow reads; 16-bit PNG and TIFF, grey or
        colour, kept at full depth; turned upright by its EXIF orientation tag, as a camera or phone
        means it to be shown), a PIL image (taken as it is), or an array of shape (H, W), (H, W, 1), (H, W, 3) or (H, W, 4) with
        dtype uint8, uint16, bool, float16, float32 or float64.
    mode : {"gray", "rgb"}
        ``"gray"`` returns (H, W), colour combined with the BT.709 weights of
        ``skimage.color.rgb2gray``; ``"rgb"`` returns (H, W, 3), grey repeated on three channels.
        Alpha is dropped in both (not composited).
    max_pixels : int, optional
        The most pixels (width x height) a file or PIL image may have; larger ones are refused
        from the header, before decoding. Default :data:`MAX_PIXELS` (89,478,485).

    Returns
    -------
    numpy.ndarray of float32, shape (H, W) or (H, W, 3)
        Values in [0, 1]: uint8 / 255, uint16 / 65535, bool as 0 / 1, floats as they are.

    Raises
    ------
    VisionkitError
        For a missing, empty, truncated or non-image file; an empty array or one with a zero-size
        axis; NaN or infinite values; floats outside [0, 1]; a rank other than 2 or 3; more than
        4 channels; complex, object, string or other integer dtypes; an unknown ``mode``; a file
        or PIL image of more than ``max_pixels`` pixels (the message names the file, its size and
        the limit).

    Examples
    --------
    >>> img = load_image(np.full((4, 4), 255, dtype=np.uint8))
    >>> img.dtype, float(img.max())
    (dtype('float32'), 1.0)
    """
    if mode not in ("gray", "rgb"):
        raise VisionkitError(f"mode: expected 'gray' or 'rgb', got {mode!r}")
    limit = _max_pixels(max_pixels)
    if isinstance(src, (str, os.PathLike)):
        if isinstance(src, str) and not src:
            raise VisionkitError("expected an image path, got an empty string")
        origin = str(src)
        arr = _read_file(Path(src), limit)
    elif type(src).__module__.startswith("PIL.") and hasattr(src, "mode"):
        origin = "PIL image"
        width, height = src.size
        if width * height > limit:  # an opened file is not decoded until load()
            raise _too_many_pixels(origin, width, height, width * height, limit)
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

