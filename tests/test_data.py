import gzip
import struct

import numpy as np
import pytest
from PIL import Image

from tests.conftest import DATASETS, needs_dataset
from visionkit import VisionkitError
from visionkit.data import load_digits, load_idx_dataset, load_image_folder, read_idx


def _write_idx(path, arr):
    header = struct.pack(">BBBB", 0, 0, 0x08, arr.ndim) + struct.pack(">" + "I" * arr.ndim, *arr.shape)
    with gzip.open(path, "wb") as fh:
        fh.write(header + arr.astype(np.uint8).tobytes())


def test_idx_round_trip(tmp_path):
    imgs = np.random.default_rng(0).integers(0, 256, (5, 28, 28)).astype(np.uint8)
    _write_idx(tmp_path / "t10k-images-idx3-ubyte.gz", imgs)
    _write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", np.arange(5))
    ds = load_idx_dataset(tmp_path, "test")
    np.testing.assert_array_equal(ds.images[..., 0], imgs)
    np.testing.assert_array_equal(ds.labels, np.arange(5))
    with pytest.raises(VisionkitError, match="train-images"):
        load_idx_dataset(tmp_path, "train")
    (tmp_path / "bad.gz").write_bytes(gzip.compress(b"\x00\x00\x08\x01\x00\x00\x00\x09abc"))
    with pytest.raises(VisionkitError, match="header says"):
        read_idx(tmp_path / "bad.gz")


@needs_dataset("FashionMNIST")
def test_fashion_mnist_test_split():
    ds = load_idx_dataset(DATASETS / "FashionMNIST", "test")
    assert ds.images.shape == (10000, 28, 28, 1) and np.bincount(ds.labels).tolist() == [1000] * 10


def test_digits():
    ds = load_digits()
    assert ds.images.shape == (1797, 8, 8, 1) and ds.images.dtype == np.uint8 and ds.images.max() == 255


def _folder(tmp_path, sizes=((8, 8), (8, 8)), classes=("a", "b")):
    for c in classes:
        (tmp_path / c).mkdir()
        for i, s in enumerate(sizes):
            Image.fromarray(np.full(s + (3,), 10 * i, np.uint8)).save(tmp_path / c / f"{i}.png")
    return tmp_path


def test_image_folder_and_unreadable_file_is_skipped_by_name(tmp_path):
    root = _folder(tmp_path)
    (root / "a" / "zz_broken.png").write_text("not an image")
    with pytest.warns(UserWarning, match="zz_broken.png"):
        ds = load_image_folder(root)
    assert ds.images.shape == (4, 8, 8, 3)
    assert ds.labels.tolist() == [0, 0, 1, 1] and ds.classes == ["a", "b"]
    assert len(ds.skipped) == 1 and ds.skipped[0][0].endswith("zz_broken.png")


def test_image_folder_mixed_sizes_and_cache(tmp_path):
    root = _folder(tmp_path / "d", sizes=((8, 8), (10, 6))) if (tmp_path / "d").mkdir() is None else None
    ds = load_image_folder(root)
    assert isinstance(ds.images, list) and ds.images[1].shape == (10, 6, 3)
    cached = load_image_folder(root, cache=tmp_path / "c1")
    again = load_image_folder(root, cache=tmp_path / "c1")
    for a, b, c in zip(ds.images, cached.images, again.images):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(a, c)
    ds2 = load_image_folder(root, size=(12, 12), channels=1, cache=tmp_path / "cache")
    assert ds2.images.shape == (4, 12, 12, 1)
    assert list((tmp_path / "cache").glob("*.npz"))
    ds3 = load_image_folder(root, size=(12, 12), channels=1, cache=tmp_path / "cache")
    np.testing.assert_array_equal(ds2.images, ds3.images)


def test_bad_folders(tmp_path):
    with pytest.raises(VisionkitError, match="not a folder"):
        load_image_folder(tmp_path / "missing")
    with pytest.raises(VisionkitError, match="found none"):
        load_image_folder(tmp_path)
    (tmp_path / "empty_class").mkdir()
    with pytest.raises(VisionkitError, match="no image files"):
        load_image_folder(tmp_path)


@needs_dataset("cifar10-jpeg")
def test_cifar_folder_decodes():
    ds = load_image_folder(DATASETS / "cifar10-jpeg" / "test")
    assert ds.images.shape == (10000, 32, 32, 3) and len(ds.classes) == 10


def test_parse_size_and_cache_limit(monkeypatch):
    from visionkit.data import DEFAULT_CACHE_LIMIT, cache_limit, parse_size

    assert parse_size("500MB") == 500 * 2**20 and parse_size("1.5G") == int(1.5 * 2**30)
    assert parse_size("2 gb") == 2 * 2**30 and parse_size(4096) == 4096 and parse_size("none") is None
    for bad in ("0", "-1GB", "2XB", "", "lots"):
        with pytest.raises(VisionkitError, match="cache size: expected a positive size"):
            parse_size(bad)
    monkeypatch.delenv("VISIONKIT_CACHE_LIMIT", raising=False)
    assert cache_limit() == DEFAULT_CACHE_LIMIT == 10 * 2**30
    monkeypatch.setenv("VISIONKIT_CACHE_LIMIT", "3MB")
    assert cache_limit() == 3 * 2**20


def test_cache_evicts_the_least_recently_used(tmp_path, monkeypatch):
    import os

    from visionkit.data import cache_entries, clear_cache

    roots = {}
    for name in ("a", "b", "c"):
        (tmp_path / name).mkdir()
        roots[name] = _folder(tmp_path / name, sizes=((16, 16),) * 3)
    cache = tmp_path / "cache"
    monkeypatch.setenv("VISIONKIT_CACHE_LIMIT", "none")
    load_image_folder(roots["a"], cache=cache)
    load_image_folder(roots["b"], cache=cache)
    entries = cache_entries(cache)
    assert len(entries) == 2 and all(e.kind == "decoded images" for e in entries)
    for e in entries:  # both long unused
        os.utime(e.path, (1_000_000, 1_000_000))
    load_image_folder(roots["a"], cache=cache)  # a hit marks a's file used now
    fresh = [e.path for e in cache_entries(cache) if e.last_used > 1_000_000]
    assert len(fresh) == 1
    fa = fresh[0]
    fb = next(e.path for e in entries if e.path != fa)
    assert cache_entries(cache)[0].path == fb  # least recently used first
    # room for two entries: writing c evicts b (least recently used), keeps a (just read) and c
    one = max(e.size for e in entries)
    monkeypatch.setenv("VISIONKIT_CACHE_LIMIT", str(2 * one + one // 2))
    load_image_folder(roots["c"], cache=cache)
    left = {e.path for e in cache_entries(cache)}
    assert fa in left and fb not in left and len(left) == 2
    # clear removes every entry and leaves downloads alone
    (cache / "data").mkdir()
    (cache / "data" / "keep.gz").write_bytes(b"x")
    assert len(clear_cache(cache)) == 2
    assert cache_entries(cache) == [] and (cache / "data" / "keep.gz").is_file()
