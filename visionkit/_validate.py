"""Input checks, the dtype rule and the error type shared by the whole package.

The dtype rule
--------------
Every visionkit operator works on ``float32`` images. Arrays are converted once, where they
enter, by :func:`as_float_image`:

==============  ==========================================================
input dtype     conversion
==============  ==========================================================
``bool``        ``False -> 0.0``, ``True -> 1.0``
``uint8``       divided by 255 (so ``[0, 255] -> [0, 1]``)
``uint16``      divided by 65535 (so ``[0, 65535] -> [0, 1]``)
``float16``     cast to float32, values kept as they are
``float32``     kept (no copy unless needed)
``float64``     cast to float32, values kept as they are
anything else   :class:`VisionkitError` (other integer types have no agreed
                white level: divide by your own maximum first)
==============  ==========================================================

Floating-point images are taken to be on the ``[0, 1]`` scale already; operators accept any finite
float values (a gradient image can be filtered again), while :func:`visionkit.load_image`, which
promises ``[0, 1]``, rejects floats outside that range. Shapes are ``(H, W)`` for grey images and
``(H, W, C)`` with channels last for colour ones; torch entry points take ``(B, C, H, W)``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = [
    "VisionkitError",
    "as_float_image",
    "check_image_array",
    "check_positive",
    "describe",
    "to_gray",
]

#: Luminance weights (ITU-R BT.709, the ones ``skimage.color.rgb2gray`` uses).
GRAY_WEIGHTS = np.array([0.2125, 0.7154, 0.0721], dtype=np.float32)

_SCALE = {np.dtype(np.uint8): 255.0, np.dtype(np.uint16): 65535.0}
_FLOATS = (np.dtype(np.float16), np.dtype(np.float32), np.dtype(np.float64))


class VisionkitError(ValueError):
    """Raised for any input visionkit cannot use; the message says what was expected and what arrived."""


def describe(obj: Any) -> str:
    """A short description of ``obj`` for error messages (type, shape and dtype where it has them)."""
    if isinstance(obj, np.ndarray):
        return f"an array of shape {obj.shape} and dtype {obj.dtype}"
    shape = getattr(obj, "shape", None)
    dtype = getattr(obj, "dtype", None)
    if shape is not None and dtype is not None:
        return f"a {type(obj).__name__} of shape {tuple(shape)} and dtype {dtype}"
    text = repr(obj)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{type(obj).__name__} {text}"


def check_image_array(
    image: Any,
    *,
    name: str = "image",
    ndims: tuple[int, ...] = (2, 3),
    max_channels: int = 4,
    check_finite: bool = False,
) -> np.ndarray:
    """Check that ``image`` is a non-empty numeric array of an allowed rank and dtype.

    Parameters
    ----------
    image : array_like
        The candidate image.
    name : str
        The argument's name, used in error messages.
    ndims : tuple of int
        Allowed numbers of dimensions.
    max_channels : int
        The largest channel count accepted for 3-D arrays (channels last).
    check_finite : bool
        Also reject NaN and infinite values (costs one pass over the data).

    Returns
    -------
    numpy.ndarray
        ``image`` as an array (not converted).

    Raises
    ------
    VisionkitError
        With a message naming what was expected and what arrived.
    """
    if not isinstance(image, np.ndarray):
        if hasattr(image, "detach") and hasattr(image, "numpy"):
            raise VisionkitError(
                f"{name}: expected a numpy array, got {describe(image)}; "
                "use the torch functions (e.g. visionkit.sobel_gradients_torch) for tensors, "
                "or pass tensor.cpu().numpy()"
            )
        try:
            image = np.asarray(image)
        except Exception as exc:  # ragged lists and the like
            raise VisionkitError(f"{name}: expected an array-like image, got {describe(image)} ({exc})") from None
    if image.dtype.kind in "OUSVMm" or image.dtype.kind == "c":
        kind = {"O": "object", "c": "complex", "U": "string", "S": "bytes", "V": "structured", "M": "datetime", "m": "timedelta"}[image.dtype.kind]
        raise VisionkitError(
            f"{name}: expected a real numeric array (uint8, uint16, bool or float), got a {kind} array of dtype {image.dtype}"
        )
    if image.ndim not in ndims:
        want = " or ".join(f"{n}-D" for n in ndims)
        raise VisionkitError(f"{name}: expected a {want} array ((H, W) or (H, W, C)), got {image.ndim}-D with shape {image.shape}")
    if image.size == 0:
        raise VisionkitError(f"{name}: expected a non-empty image, got shape {image.shape} with a zero-size axis")
    if image.ndim == 3 and not 1 <= image.shape[2] <= max_channels:
        raise VisionkitError(
            f"{name}: expected channels last with 1 to {max_channels} channels, got shape {image.shape} "
            f"({image.shape[2]} channels); a (C, H, W) array needs np.moveaxis(image, 0, -1)"
        )
    if check_finite and image.dtype.kind == "f" and not np.isfinite(image).all():
        n_nan = int(np.isnan(image).sum())
        n_inf = int(np.isinf(image).sum())
        raise VisionkitError(f"{name}: expected finite values, got {n_nan} NaN and {n_inf} infinite value(s)")
    return image


def as_float_image(image: Any, *, name: str = "image", ndims: tuple[int, ...] = (2, 3), check_finite: bool = False) -> np.ndarray:
    """Convert an image to ``float32`` under the package's dtype rule (see the module docstring).

    Parameters
    ----------
    image : array_like, shape (H, W) or (H, W, C)
        uint8, uint16, bool or floating-point image.
    name : str
        Argument name for error messages.
    ndims : tuple of int
        Allowed ranks.
    check_finite : bool
        Reject NaN and infinite values.

    Returns
    -------
    numpy.ndarray of float32, same shape
        A C-contiguous array; the input itself when it is already contiguous float32.

    Examples
    --------
    >>> as_float_image(np.array([[0, 255]], dtype=np.uint8))
    array([[0., 1.]], dtype=float32)
    """
    image = check_image_array(image, name=name, ndims=ndims, check_finite=check_finite)
    dtype = image.dtype
    if dtype == np.bool_:
        out = image.astype(np.float32)
    elif dtype in _SCALE:
        out = image.astype(np.float32)
        out /= np.float32(_SCALE[dtype])
    elif dtype in _FLOATS:
        out = image.astype(np.float32, copy=False)
    else:
        raise VisionkitError(
            f"{name}: expected dtype uint8, uint16, bool, float16, float32 or float64, got {dtype}; "
            f"convert it yourself, e.g. image.astype(np.float32) / image.max()"
        )
    return np.ascontiguousarray(out)


def to_gray(image: np.ndarray) -> np.ndarray:
    """Reduce a float ``(H, W, C)`` image to ``(H, W)``; ``(H, W)`` passes through.

    One channel is squeezed; 3 or 4 channels (RGB, RGBA: alpha ignored) are combined with the
    BT.709 luminance weights :data:`GRAY_WEIGHTS`; 2 channels (grey + alpha) keep the first.
    """
    if image.ndim == 2:
        return image
    c = image.shape[2]
    if c in (1, 2):
        return np.ascontiguousarray(image[..., 0])
    rgb = image[..., :3]
    return np.ascontiguousarray(rgb @ GRAY_WEIGHTS.astype(rgb.dtype))


def check_positive(value: Any, name: str, *, integer: bool = False, allow_zero: bool = False) -> float | int:
    """Check a scalar option is a positive (or non-negative) number and return it."""
    ok_types = (int, np.integer) if integer else (int, float, np.integer, np.floating)
    if isinstance(value, bool) or not isinstance(value, ok_types) or not np.isfinite(value):
        kind = "an integer" if integer else "a finite number"
        raise VisionkitError(f"{name}: expected {kind}, got {describe(value)}")
    if value < 0 or (value == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise VisionkitError(f"{name}: expected a value {bound}, got {value}")
    return int(value) if integer else float(value)
