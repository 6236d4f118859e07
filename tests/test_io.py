import gzip
import io

import numpy as np
import pytest
from PIL import Image

from visionkit import VisionkitError, load_image, sample_image
from visionkit._validate import as_float_image


# ---------------------------------------------------------------- the dtype rule
@pytest.mark.parametrize(
    "dtype, value, expected",
    [
        (np.uint8, 255, 1.0),
        (np.uint8, 51, 0.2),
        (np.uint16, 65535, 1.0),
        (np.uint16, 13107, 0.2),
        (np.bool_, True, 1.0),
        (np.float16, 0.5, 0.5),
        (np.float32, 0.25, 0.25),
        (np.float64, 0.75, 0.75),
    ],
)
def test_dtype_rule(dtype, value, expected):
    arr = np.full((3, 4), value, dtype=dtype)
    out = load_image(arr)
    assert out.dtype == np.float32 and out.shape == (3, 4)
    np.testing.assert_allclose(out, expected, rtol=1e-3)
    np.testing.assert_allclose(as_float_image(arr), expected, rtol=1e-3)


def test_float32_contiguous_is_not_copied():
    a = np.zeros((4, 4), np.float32)
    assert as_float_image(a) is a


@pytest.mark.parametrize("shape", [(5, 6), (5, 6, 1), (5, 6, 3), (5, 6, 4), (5, 6, 2)])
def test_shapes_and_modes(shape):
    rng = np.random.default_rng(0)
    arr = rng.integers(0, 256, size=shape, dtype=np.uint8)
    g = load_image(arr, mode="gray")
    c = load_image(arr, mode="rgb")
    assert g.shape == (5, 6) and c.shape == (5, 6, 3)
    if len(shape) == 3 and shape[2] >= 3:
        from skimage.color import rgb2gray

        np.testing.assert_allclose(g, rgb2gray(arr[..., :3]), atol=1e-5)
        np.testing.assert_array_equal(c, arr[..., :3] / np.float32(255))
    else:
        np.testing.assert_allclose(c[..., 1], g)


# ---------------------------------------------------------------- files
def _save(tmp_path, name, img, **kw):
    p = tmp_path / name
    img.save(p, **kw)
    return p


def test_reads_png_jpeg_tiff_bmp(tmp_path):
    rng = np.random.default_rng(1)
    arr = rng.integers(0, 256, size=(16, 20, 3), dtype=np.uint8)
    for name in ("a.png", "a.bmp", "a.tif"):
        out = load_image(_save(tmp_path, name, Image.fromarray(arr)), mode="rgb")
        np.testing.assert_array_equal(out, arr / np.float32(255))
    smooth = np.repeat(np.linspace(0, 255, 20, dtype=np.uint8)[None, :, None], 16, 0).repeat(3, 2)
    jpg = load_image(_save(tmp_path, "a.jpg", Image.fromarray(smooth), quality=95), mode="rgb")
    assert jpg.shape == (16, 20, 3) and np.abs(jpg - smooth / 255).max() < 0.03


def test_rgba_palette_and_16bit(tmp_path):
    rgba = np.zeros((8, 8, 4), np.uint8)
    rgba[..., 0] = 255
    rgba[..., 3] = 128
    out = load_image(_save(tmp_path, "rgba.png", Image.fromarray(rgba, "RGBA")), mode="rgb")
    np.testing.assert_array_equal(out[0, 0], [1, 0, 0])  # alpha dropped, not composited

    pal = Image.fromarray(np.arange(64, dtype=np.uint8).reshape(8, 8)).convert("P")
    out = load_image(_save(tmp_path, "pal.png", pal), mode="rgb")
    assert out.shape == (8, 8, 3)

    deep = (np.arange(64, dtype=np.uint16).reshape(8, 8) * 1000).astype(np.uint16)
    out = load_image(_save(tmp_path, "g16.png", Image.fromarray(deep)))
    np.testing.assert_allclose(out, deep / 65535.0, atol=1e-6)

    import cv2

    deep_rgb = np.zeros((6, 7, 3), np.uint16)
    deep_rgb[..., 0] = 65535
    deep_rgb[..., 2] = 257  # not representable in 8 bits as is
    cv2.imwrite(str(tmp_path / "c16.png"), deep_rgb[..., ::-1])
    out = load_image(tmp_path / "c16.png", mode="rgb")
    np.testing.assert_allclose(out[0, 0], [1.0, 0.0, 257 / 65535], atol=1e-7)

    one_bit = Image.fromarray(np.eye(5, dtype=bool))
    np.testing.assert_array_equal(load_image(_save(tmp_path, "b.png", one_bit)), np.eye(5))


def test_pil_image_input():
    arr = np.full((4, 5), 255, np.uint8)
    assert load_image(Image.fromarray(arr)).max() == 1.0


def test_sample_image():
    img = sample_image("camera", mode="gray")
    assert img.shape == (512, 512) and img.dtype == np.float32
    with pytest.raises(VisionkitError, match="expected one of"):
        sample_image("nope")


# ---------------------------------------------------------------- cameras: EXIF orientation, 16-bit TIFF
def _exif(orientation):
    exif = Image.Exif()
    exif[0x0112] = orientation
    return exif


def test_phone_photo_with_orientation_6_loads_upright(tmp_path):
    stored = np.zeros((20, 40, 3), np.uint8)  # as the sensor wrote it: wide, white on top
    stored[:10] = 255
    path = tmp_path / "phone.jpg"
    Image.fromarray(stored).save(path, quality=95, exif=_exif(6))
    img = load_image(path, mode="rgb")
    assert img.shape == (40, 20, 3)  # turned 90 degrees clockwise: tall, white on the right
    assert img[:, 12:].min() > 0.9 and img[:, :8].max() < 0.1
    from PIL import ImageOps

    upright = np.asarray(ImageOps.exif_transpose(Image.open(path)))
    np.testing.assert_array_equal(img, upright / np.float32(255))
    assert load_image(path).shape == (40, 20)


@pytest.mark.parametrize("orientation", range(1, 9))
def test_every_exif_orientation_agrees_with_pillow(tmp_path, orientation):
    from PIL import ImageOps

    from visionkit.io import _apply_exif_orientation

    arr = np.random.default_rng(orientation).integers(0, 256, (5, 7, 3), dtype=np.uint8)
    path = tmp_path / "o.png"
    Image.fromarray(arr).save(path, exif=_exif(orientation))
    expected = np.asarray(ImageOps.exif_transpose(Image.open(path)))
    np.testing.assert_array_equal(load_image(path, mode="rgb"), expected / np.float32(255))
    np.testing.assert_array_equal(_apply_exif_orientation(arr, orientation), expected)
    np.testing.assert_array_equal(_apply_exif_orientation(arr[..., 0], orientation), expected[..., 0])


def _rgb16(shape, seed=0):
    return np.random.default_rng(seed).integers(0, 65536, shape, dtype=np.uint16)


@pytest.mark.parametrize("channels", [3, 4])
def test_16bit_colour_tiff_keeps_16_bits(tmp_path, channels):
    import cv2

    rgb = _rgb16((16, 24, channels))
    path = tmp_path / "deep.tif"
    order = cv2.COLOR_RGB2BGR if channels == 3 else cv2.COLOR_RGBA2BGRA
    assert cv2.imwrite(str(path), cv2.cvtColor(rgb, order))
    out = load_image(path, mode="rgb")
    np.testing.assert_array_equal(out, rgb[..., :3] / np.float32(65535))  # uint16 / 65535, exactly
    assert (np.round(out * 65535) % 257 != 0).mean() > 0.9  # not 8 bits scaled up (v * 257)
    np.testing.assert_array_equal(load_image(path), load_image(rgb))


def test_16bit_colour_png_honours_exif_orientation(tmp_path):
    import struct
    import zlib

    import cv2

    rgb = _rgb16((4, 6, 3))
    ok, buf = cv2.imencode(".png", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    data = buf.tobytes()
    raw = _exif(6).tobytes()
    raw = raw[6:] if raw.startswith(b"Exif\x00\x00") else raw  # eXIf holds the bare TIFF block
    chunk = struct.pack(">I", len(raw)) + b"eXIf" + raw + struct.pack(">I", zlib.crc32(b"eXIf" + raw))
    at = data.index(b"IDAT") - 4
    path = tmp_path / "deep_phone.png"
    path.write_bytes(data[:at] + chunk + data[at:])
    out = load_image(path, mode="rgb")
    np.testing.assert_array_equal(out, np.rot90(rgb, -1) / np.float32(65535))


# ---------------------------------------------------------------- decompression bombs
def write_zero_png(path, width, height):
    """A grey PNG of zeros written row by row: a large image in a small file, without allocating it."""
    import struct
    import zlib

    def chunk(tag, data):
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))

    z = zlib.compressobj(9)
    row = b"\x00" * (width + 1)  # filter byte + one byte per pixel
    body = b"".join(z.compress(row) for _ in range(height)) + z.flush()
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", body) + chunk(b"IEND", b""))
    return path


def test_decompression_bomb_is_refused_from_the_header(tmp_path, monkeypatch):
    import time
    import tracemalloc

    from PIL import ImageFile

    bomb = write_zero_png(tmp_path / "huge.png", 12_000, 12_000)
    assert bomb.stat().st_size < 1_000_000

    def no_decoding(self, *a, **k):
        raise AssertionError("the image was decoded")

    monkeypatch.setattr(ImageFile.ImageFile, "load", no_decoding)
    tracemalloc.start()
    t0 = time.perf_counter()
    with pytest.raises(VisionkitError, match=r"huge.png.*at most 89,478,485 pixels, got 12000 x 12000 = 144,000,000 pixels"):
        load_image(bomb)
    elapsed = time.perf_counter() - t0
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 5_000_000 and elapsed < 2.0


def test_pixel_limit_is_settable(tmp_path, monkeypatch):
    import visionkit.io

    small = tmp_path / "s.png"
    Image.fromarray(np.zeros((10, 12), np.uint8)).save(small)
    assert load_image(small, max_pixels=120).shape == (10, 12)
    with pytest.raises(VisionkitError, match="at most 119 pixels, got 12 x 10 = 120 pixels"):
        load_image(small, max_pixels=119)
    with pytest.raises(VisionkitError, match="PIL image: expected an image of at most 100 pixels"):
        load_image(Image.open(small), max_pixels=100)
    monkeypatch.setattr(visionkit.io, "MAX_PIXELS", 50)
    with pytest.raises(VisionkitError, match="at most 50 pixels"):
        load_image(small)
    assert load_image(small, max_pixels=10**9).shape == (10, 12)  # the keyword wins
    assert load_image(np.zeros((10, 12), np.uint8)).shape == (10, 12)  # arrays are already in memory
    for bad in (0, -5, 2.5, "many", True):
        with pytest.raises(VisionkitError, match="max_pixels: expected a positive integer"):
            load_image(small, max_pixels=bad)


def test_pillows_own_refusal_is_one_visionkit_error(tmp_path):
    bomb = write_zero_png(tmp_path / "huger.png", 20_000, 10_000)  # over twice Pillow's limit
    with pytest.raises(VisionkitError, match=r"huger.png.*at most 89,478,485 pixels, got 200,000,000 pixels"):
        load_image(bomb)
    with pytest.raises(VisionkitError, match=r"huger.png.*200,000,000 pixels, within max_pixels.*PIL.Image.MAX_IMAGE_PIXELS"):
        load_image(bomb, max_pixels=10**9)


# ---------------------------------------------------------------- bad inputs
def _bad_files(tmp_path):
    (tmp_path / "empty.png").write_bytes(b"")
    (tmp_path / "text.png").write_text("this is not an image\n")
    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(buf, "JPEG")
    (tmp_path / "trunc.jpg").write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
    buf = io.BytesIO()
    Image.fromarray(np.zeros((64, 64), np.uint8)).save(buf, "PNG")
    (tmp_path / "trunc.png").write_bytes(buf.getvalue()[:60])
    (tmp_path / "binary.png").write_bytes(gzip.compress(b"\x00\x01" * 100))
    (tmp_path / "adir").mkdir()
    return tmp_path


BAD = [
    ("missing file", lambda d: d / "nope.png", "does not exist"),
    ("empty file", lambda d: d / "empty.png", "empty file"),
    ("text named .png", lambda d: d / "text.png", "text file"),
    ("truncated jpeg", lambda d: d / "trunc.jpg", "truncated"),
    ("truncated png", lambda d: d / "trunc.png", "truncated|image file"),
    ("binary junk", lambda d: d / "binary.png", "not a known image format"),
    ("directory", lambda d: d / "adir", "directory"),
    ("empty path", lambda d: "", "empty string"),
    ("empty array", lambda d: np.array([]), "1-D|non-empty"),
    ("zero-size axis", lambda d: np.zeros((0, 5), np.uint8), "zero-size"),
    ("zero-size channels", lambda d: np.zeros((4, 5, 0), np.uint8), "zero-size"),
    ("nan", lambda d: np.array([[0.1, np.nan]], np.float32), "NaN"),
    ("inf", lambda d: np.array([[0.1, np.inf]], np.float64), "infinite"),
    ("1-D", lambda d: np.zeros(5, np.uint8), "1-D"),
    ("4-D", lambda d: np.zeros((2, 3, 4, 3), np.uint8), "4-D"),
    ("complex", lambda d: np.zeros((3, 3), np.complex64), "complex"),
    ("object", lambda d: np.array([[None, 1]], dtype=object), "object"),
    ("strings", lambda d: np.array([["a", "b"]]), "string"),
    ("int64", lambda d: np.zeros((3, 3), np.int64), "int64"),
    ("too many channels", lambda d: np.zeros((3, 3, 7), np.uint8), "7 channels"),
    ("channels first", lambda d: np.zeros((3, 32, 32), np.uint8), "channels"),
    ("float out of range", lambda d: np.full((3, 3), 2.0), r"\[0, 1\]"),
    ("negative float", lambda d: np.full((3, 3), -0.5, np.float32), r"\[0, 1\]"),
    ("ragged list", lambda d: [[1, 2], [3]], "array"),
    ("a number", lambda d: 42, "path, a PIL image or a numpy array"),
    ("None", lambda d: None, "path, a PIL image or a numpy array"),
]


@pytest.mark.parametrize("case, make, message", BAD, ids=[b[0] for b in BAD])
def test_bad_inputs_raise_visionkit_error(tmp_path, case, make, message):
    src = make(_bad_files(tmp_path))
    with pytest.raises(VisionkitError, match=message) as info:
        load_image(src)
    assert isinstance(info.value, ValueError)
    assert "expected" in str(info.value)


def test_bad_mode():
    with pytest.raises(VisionkitError, match="'gray' or 'rgb'"):
        load_image(np.zeros((2, 2)), mode="bgr")


def test_input_array_is_not_modified():
    arr = np.full((4, 4), 200, np.uint8)
    before = arr.copy()
    load_image(arr)
    np.testing.assert_array_equal(arr, before)
