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


def test_image_folder_skips_decompression_bombs_with_a_warning(tmp_path, monkeypatch):
    from PIL import ImageFile

    from tests.test_io import write_zero_png

    root = _folder(tmp_path / "d") if (tmp_path / "d").mkdir() is None else None
    write_zero_png(root / "b" / "huge.png", 12_000, 12_000)
    real_load = ImageFile.ImageFile.load

    def load(self, *a, **k):
        assert self.size != (12_000, 12_000), "the bomb was decoded"
        return real_load(self, *a, **k)

    monkeypatch.setattr(ImageFile.ImageFile, "load", load)
    with pytest.warns(UserWarning, match=r"huge.png.*at most 89,478,485 pixels, got 12000 x 12000"):
        ds = load_image_folder(root, cache=tmp_path / "cache")
    assert ds.images.shape == (4, 8, 8, 3) and ds.labels.tolist() == [0, 0, 1, 1]
    assert [p for p, _ in ds.skipped] == [str(root / "b" / "huge.png")]
    assert sum(f.stat().st_size for f in (tmp_path / "cache").iterdir()) < 100_000
    # the keyword sets the limit; a smaller one refuses the 8 x 8 images too
    with pytest.warns(UserWarning) as rec, pytest.raises(VisionkitError, match="no readable images"):
        load_image_folder(root, max_pixels=63)
    assert len(rec) == 5 and all("at most 63 pixels, got " in str(w.message) for w in rec)
    with pytest.raises(VisionkitError, match="max_pixels: expected a positive integer"):
        load_image_folder(root, max_pixels=0)


def test_image_folder_turns_phone_photos_upright(tmp_path):
    exif = Image.Exif()
    exif[0x0112] = 6  # to be turned 90 degrees clockwise
    stored = np.zeros((8, 16, 3), np.uint8)
    stored[:4] = 255  # white on top as stored: on the right once upright
    for c in "ab":
        (tmp_path / c).mkdir()
        Image.fromarray(stored).save(tmp_path / c / "0.jpg", quality=95, exif=exif)
    for kw in ({}, {"size": (16, 8)}, {"cache": tmp_path / "cache"}):
        ds = load_image_folder(tmp_path, **kw)
        assert ds.images.shape == (2, 16, 8, 3)
        assert ds.images[:, :, 5:].min() > 230 and ds.images[:, :, :3].max() < 25


def test_bad_folders(tmp_path):
    with pytest.raises(VisionkitError, match="not a folder"):
        load_image_folder(tmp_path / "missing")
    with pytest.raises(VisionkitError, match="found none"):
        load_image_folder(tmp_path)
    (tmp_path / "empty_class").mkdir()
    with pytest.raises(VisionkitError, match="no image files"):
        load_image_folder(tmp_path)



# ------------------------------------------------------------------ the decoded cache never breaks a load

import os
import time
import warnings

import visionkit.data as vdata


def _cache_files(folder):
    return sorted(folder.glob("imagefolder-*.npz"))


@pytest.mark.parametrize("how", ["cache path is a file", "read-only folder", "disk full"])
def test_cache_write_failure_falls_back_with_a_warning(tmp_path, monkeypatch, how):
    root = _folder(tmp_path / "d") if (tmp_path / "d").mkdir() is None else None
    cache = tmp_path / "cache"
    if how == "cache path is a file":
        cache.write_text("in the way")
    elif how == "read-only folder":
        if os.geteuid() == 0:
            pytest.skip("root writes into read-only folders")
        cache.mkdir()
        cache.chmod(0o500)
    else:
        def full(path, content):
            raise OSError(28, "No space left on device")

        monkeypatch.setattr(vdata, "atomic_write", full)
    with pytest.warns(UserWarning, match="cache: could not write.*running without the cache"):
        ds = load_image_folder(root, cache=cache)
    assert ds.images.shape == (4, 8, 8, 3) and ds.labels.tolist() == [0, 0, 1, 1]


def test_read_only_cache_folder_as_root_is_simulated(tmp_path, monkeypatch):
    """As root a chmod does not stop writes; a PermissionError from the write stands in for it."""
    root = _folder(tmp_path / "d") if (tmp_path / "d").mkdir() is None else None

    def read_only(path, content):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(vdata, "atomic_write", read_only)
    with pytest.warns(UserWarning, match="PermissionError.*running without the cache"):
        ds = load_image_folder(root, cache=tmp_path / "cache")
    assert len(ds) == 4


@pytest.mark.parametrize("damage", ["truncated", "garbage", "empty", "wrong arrays", "labels of another folder"])
def test_damaged_cache_is_rebuilt_not_raised(tmp_path, damage):
    root = _folder(tmp_path / "d") if (tmp_path / "d").mkdir() is None else None
    cache = tmp_path / "cache"
    first = load_image_folder(root, cache=cache)
    (f,) = _cache_files(cache)
    data = f.read_bytes()
    if damage == "truncated":
        f.write_bytes(data[: len(data) // 2])
    elif damage == "garbage":
        f.write_bytes(os.urandom(len(data)))
    elif damage == "empty":
        f.write_bytes(b"")
    elif damage == "wrong arrays":
        np.savez(open(f, "wb"), images=np.zeros(3))
    else:
        np.savez(open(f, "wb"), images=np.zeros((4, 8, 8, 3), np.uint8), labels=np.array([1, 1, 1, 1]),
                 keep=np.arange(4), skipped_index=np.zeros(0, np.int64), skipped_reason=np.zeros(0, str))
    with pytest.warns(UserWarning, match="is damaged.*rebuilding it"):
        again = load_image_folder(root, cache=cache)
    np.testing.assert_array_equal(again.images, first.images)
    assert again.labels.tolist() == [0, 0, 1, 1]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # rebuilt: a clean hit now
        np.testing.assert_array_equal(load_image_folder(root, cache=cache).images, first.images)


def test_file_changed_in_place_with_same_size_and_mtime_is_not_stale(tmp_path):
    root = _folder(tmp_path / "d") if (tmp_path / "d").mkdir() is None else None
    target = root / "a" / "z.bmp"  # uncompressed: other pixels, same size
    Image.fromarray(np.full((8, 8, 3), 0, np.uint8)).save(target)
    before = load_image_folder(root, cache=tmp_path / "cache")
    st = target.stat()
    Image.fromarray(np.full((8, 8, 3), 200, np.uint8)).save(tmp_path / "new.bmp")
    new = (tmp_path / "new.bmp").read_bytes()
    assert len(new) == st.st_size
    time.sleep(0.05)  # past the file system's timestamp granularity
    with open(target, "r+b") as fh:  # the same file (inode) rewritten in place
        fh.write(new)
    os.utime(target, ns=(st.st_atime_ns, st.st_mtime_ns))  # and its time set back, as rsync -t or a restore do
    assert target.stat().st_size == st.st_size and target.stat().st_mtime_ns == st.st_mtime_ns
    after = load_image_folder(root, cache=tmp_path / "cache")
    assert before.images[2].max() == 0 and after.images[2].min() == 200


def test_non_utf8_file_and_class_names(tmp_path):
    base = os.fsencode(tmp_path)
    for cls in (b"caf\xe9", b"plain"):
        os.mkdir(base + b"/" + cls)
        for name in (b"\xff\xfe.png", b"ok.png"):
            Image.fromarray(np.full((8, 8, 3), 7, np.uint8)).save(os.fsdecode(base + b"/" + cls + b"/" + name))
    open(base + b"/caf\xe9/broken\xe9.png", "wb").write(b"junk")
    for kw in ({}, {"cache": tmp_path.parent / (tmp_path.name + "-cache")}, {"cache": tmp_path.parent / (tmp_path.name + "-cache")}):
        with pytest.warns(UserWarning, match="broken"):
            ds = load_image_folder(tmp_path, **kw)
        assert ds.classes == [os.fsdecode(b"caf\xe9"), "plain"] and ds.labels.tolist() == [0, 0, 1, 1]
        assert os.fsencode(ds.paths[0]).endswith(b"/caf\xe9/ok.png") or os.fsencode(ds.paths[0]).endswith(b"\xff\xfe.png")
        assert os.fsencode(ds.skipped[0][0]).endswith(b"/broken\xe9.png")


def test_skipped_files_are_warned_about_again_on_a_cache_hit(tmp_path):
    root = _folder(tmp_path / "d") if (tmp_path / "d").mkdir() is None else None
    (root / "b" / "bad\tname.png").write_text("not an image")  # a tab: names are stored by index, not split
    for _ in range(2):
        with pytest.warns(UserWarning, match=r"bad\\tname.png") as rec:
            ds = load_image_folder(root, cache=tmp_path / "cache")
        assert len([w for w in rec if "skipped unreadable" in str(w.message)]) == 1
        assert ds.skipped[0][0] == str(root / "b" / "bad\tname.png") and "cannot identify" in ds.skipped[0][1]
    assert len(_cache_files(tmp_path / "cache")) == 1


def test_least_recently_used_cache_entries_are_evicted(tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    roots, entries = [], []
    for i in range(3):
        (tmp_path / f"d{i}").mkdir()
        roots.append(_folder(tmp_path / f"d{i}"))
    for i in (0, 1):
        before = set(_cache_files(cache)) if cache.exists() else set()
        load_image_folder(roots[i], cache=cache)
        (new,) = set(_cache_files(cache)) - before
        os.utime(new, ns=(10**9 * (i + 1), 10**9 * (i + 1)))  # entry 0 older than entry 1
        entries.append(new)
    monkeypatch.setenv("VISIONKIT_CACHE_LIMIT", str(2 * entries[0].stat().st_size))
    load_image_folder(roots[0], cache=cache)  # a hit makes entry 0 the most recently used
    load_image_folder(roots[2], cache=cache)  # a third entry: the least recently used one goes
    assert entries[0].exists() and not entries[1].exists() and len(_cache_files(cache)) == 2


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


# ------------------------------------------------------------------ lazy folders: decoded on demand, the same pixels


def _jpeg_folder(root, n=4, size=(12, 10), classes=("a", "b", "c"), seed=0):
    rng = np.random.default_rng(seed)
    for c in classes:
        (root / c).mkdir(parents=True)
        for i in range(n):
            Image.fromarray(rng.integers(0, 256, size + (3,), dtype=np.uint8)).save(root / c / f"{i}.jpg", quality=90)
    return root


def test_lazy_folder_gives_the_in_memory_pixels_labels_and_paths(tmp_path):
    from visionkit.data import ImageFolderSource

    root = _jpeg_folder(tmp_path / "d")
    for kw in ({}, {"size": (8, 9), "channels": 1}):
        eager = load_image_folder(root, **kw)
        lazy = load_image_folder(root, lazy=True, **kw)
        assert isinstance(lazy.images, ImageFolderSource) and lazy.images.shape == eager.images.shape
        np.testing.assert_array_equal(np.asarray(lazy.images), eager.images)
        np.testing.assert_array_equal(lazy.labels, eager.labels)
        assert lazy.classes == eager.classes and lazy.paths == eager.paths and lazy.skipped == []
        np.testing.assert_array_equal(lazy.images[5], eager.images[5])  # an int decodes one image (H, W, C)
        np.testing.assert_array_equal(lazy.images.read([7, 0, 7]), eager.images[[7, 0, 7]])
        np.testing.assert_array_equal(lazy.images.read(slice(2, 6)), eager.images[2:6])


def test_lazy_folder_stays_lazy_when_indexed_and_subset(tmp_path):
    from visionkit.data import ImageFolderSource

    root = _jpeg_folder(tmp_path / "d")
    eager, lazy = load_image_folder(root), load_image_folder(root, lazy=True)
    idx = np.array([11, 3, 4])
    sub = lazy.subset(idx)
    assert isinstance(sub.images, ImageFolderSource) and len(sub) == 3 and sub.labels.tolist() == [2, 0, 1]
    np.testing.assert_array_equal(np.asarray(sub.images), eager.subset(idx).images)
    assert isinstance(lazy.images[1:5], ImageFolderSource) and len(lazy.images[::2]) == 6
    np.testing.assert_array_equal(np.stack(list(lazy.images[idx])), eager.images[idx])  # iterating decodes one by one
    chunks = list(lazy.images.chunks(5))
    assert [s for s, _ in chunks] == [0, 5, 10] and [len(c) for _, c in chunks] == [5, 5, 2]
    with pytest.raises(VisionkitError, match=r"expected indices in \[0, 12\), got 0..12"):
        lazy.images[np.array([0, 12])]
    with pytest.raises(IndexError):
        lazy.images[12]
    with pytest.raises(VisionkitError, match="chunk_size: expected an integer >= 1"):
        next(lazy.images.chunks(0))


def test_lazy_folder_bad_inputs(tmp_path):
    with pytest.raises(VisionkitError, match="not a folder"):
        load_image_folder(tmp_path / "missing", lazy=True)
    (tmp_path / "e" / "empty_class").mkdir(parents=True)
    with pytest.raises(VisionkitError, match="no image files"):
        load_image_folder(tmp_path / "e", lazy=True)
    # a file that does not decode: skipped in memory, an error naming it when streamed (labels are bound to indices)
    root = _jpeg_folder(tmp_path / "d")
    (root / "b" / "9_broken.jpg").write_bytes(b"\xff\xd8 not a jpeg")
    with pytest.warns(UserWarning, match="9_broken.jpg"):
        assert len(load_image_folder(root)) == 12
    lazy = load_image_folder(root, lazy=True)
    assert len(lazy) == 13
    lazy.images.read(slice(0, 8))  # the files before it decode
    with pytest.raises(VisionkitError, match=r"9_broken.jpg.*expected an image file that decodes.*lazy=False"):
        lazy.images.read()
    # images of another size than the first: an error that says to give a size
    mixed = _folder(tmp_path / "m", sizes=((8, 8), (10, 6))) if (tmp_path / "m").mkdir() is None else None
    with pytest.raises(VisionkitError, match=r"expected an image of shape \(8, 8, 3\) like the folder's first, got \(10, 6, 3\); give size"):
        np.asarray(load_image_folder(mixed, lazy=True).images)
    assert load_image_folder(mixed, lazy=True, size=(8, 8)).images.read().shape == (4, 8, 8, 3)
