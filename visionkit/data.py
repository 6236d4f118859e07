"""Labelled image data sets: IDX files (MNIST, Fashion-MNIST), ImageFolder trees, scikit-learn digits.

Everything returns a :class:`Dataset` whose ``images`` are uint8, channels last, the form that
crosses the harness boundary: an array (N, H, W, C) when every image has the same size (or a
``size`` is asked for), else a list of (H, W, C) arrays. A folder too large for memory is loaded
with ``load_image_folder(root, lazy=True)``: its ``images`` are then an :class:`ImageFolderSource`,
the files' paths, decoded on demand (an index, a slice or an array of indices) by the same
decoder, so the pixels are the same. Nothing here downloads.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import struct
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ._atomic import atomic_write
from ._validate import VisionkitError

__all__ = [
    "Dataset",
    "read_idx",
    "load_idx_dataset",
    "load_image_folder",
    "ImageFolderSource",
    "take_images",
    "load_digits",
    "IMAGE_EXTENSIONS",
    "default_cache_dir",
    "DEFAULT_CACHE_LIMIT",
    "cache_limit",
    "parse_size",
    "CacheEntry",
    "cache_entries",
    "evict_cache",
    "clear_cache",
]

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".gif", ".webp", ".ppm", ".pgm")


@dataclass
class Dataset:
    """Images and integer labels, with the class names and where each image came from.

    Attributes
    ----------
    images : ndarray of uint8, shape (N, H, W, C), list of (H, W, C) uint8 arrays, or ImageFolderSource
        (decoded on demand: ``load_image_folder(..., lazy=True)``)
    labels : ndarray of int64, shape (N,)
    classes : list of str, ``classes[label]`` is the name
    paths : list of str, one per image (empty for in-memory data)
    skipped : list of (path, reason) for files that could not be read
    """

    images: np.ndarray | list
    labels: np.ndarray
    classes: list[str]
    paths: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.labels)

    def subset(self, index: np.ndarray) -> "Dataset":
        """The images at ``index`` (an int array), same classes."""
        index = np.asarray(index)
        imgs = take_images(self.images, index)
        paths = [self.paths[i] for i in index] if self.paths else []
        return Dataset(imgs, self.labels[index], list(self.classes), paths, list(self.skipped))


def default_cache_dir() -> Path:
    """``$VISIONKIT_CACHE`` or ``~/.cache/visionkit``: where decoded data sets are kept."""
    return Path(os.environ.get("VISIONKIT_CACHE", Path.home() / ".cache" / "visionkit"))


# --------------------------------------------------------------------------- the cache: size, LRU eviction

#: The decoded-data cache is kept under this size by default (``$VISIONKIT_CACHE_LIMIT`` changes it):
#: after each write, least recently used entries are removed until the cache fits.
DEFAULT_CACHE_LIMIT = 10 * 2**30

_UNITS = {"": 1, "b": 1, "k": 2**10, "kb": 2**10, "m": 2**20, "mb": 2**20, "g": 2**30, "gb": 2**30, "t": 2**40, "tb": 2**40}


def parse_size(text: str | int) -> int | None:
    """Bytes from ``"500MB"``, ``"1.5G"``, ``"2GB"`` or a plain number of bytes (binary units: 1 GB = 2**30);
    ``"none"`` means no limit (None)."""
    if isinstance(text, (int, np.integer)) and not isinstance(text, bool) and text > 0:
        return int(text)
    t = str(text).strip().lower().replace(" ", "")
    if t in ("none", "off", "unlimited"):
        return None
    num = t.rstrip("kmgtb")
    unit = t[len(num):]
    try:
        value = float(num)
    except ValueError:
        value = -1.0
    if unit not in _UNITS or not value > 0:
        raise VisionkitError(f"cache size: expected a positive size such as 500MB, 2GB or 1.5G (or 'none'), got {text!r}")
    return int(value * _UNITS[unit])


def cache_limit() -> int | None:
    """The cache's size limit in bytes: ``$VISIONKIT_CACHE_LIMIT`` or :data:`DEFAULT_CACHE_LIMIT`; None: no limit."""
    env = os.environ.get("VISIONKIT_CACHE_LIMIT")
    return DEFAULT_CACHE_LIMIT if not env else parse_size(env)


@dataclass
class CacheEntry:
    """One entry of the decoded-data cache: a decoded ImageFolder (one ``.npz``) or a backbone's features (a folder)."""

    path: Path
    kind: str
    size: int
    last_used: float


def _tree_size_and_time(path: Path) -> tuple[int, float]:
    if path.is_file():
        st = path.stat()
        return st.st_size, st.st_mtime
    size, last = 0, path.stat().st_mtime
    for f in path.rglob("*"):
        if f.is_file():
            st = f.stat()
            size += st.st_size
            last = max(last, st.st_mtime)
    return size, last


def cache_entries(base: str | os.PathLike | None = None) -> list[CacheEntry]:
    """The cache's entries, least recently used first.

    Entries are decoded ImageFolder trees (``imagefolder-*.npz``) and pretrained backbones' features
    (``features/<backbone>/``), each marked used each time it is read or written. Data sets
    downloaded with ``--download`` (``data/``) are not entries: they are sources, never evicted.
    """
    base = Path(base) if base is not None else default_cache_dir()
    out = []
    candidates = [(p, "decoded images") for p in base.glob("imagefolder-*.npz")]
    if (base / "features").is_dir():
        candidates += [(p, "features") for p in (base / "features").iterdir() if p.is_dir()]
    for path, kind in candidates:
        try:
            size, last = _tree_size_and_time(path)
        except OSError:  # removed meanwhile by another process
            continue
        out.append(CacheEntry(path, kind, size, last))
    return sorted(out, key=lambda e: (e.last_used, str(e.path)))


def _remove(path: Path) -> None:
    import shutil

    try:
        shutil.rmtree(path) if path.is_dir() else path.unlink()
    except FileNotFoundError:  # another process evicted it first
        pass


def evict_cache(limit: int | None = None, *, base: str | os.PathLike | None = None,
                keep: Sequence[str | os.PathLike] = ()) -> list[CacheEntry]:
    """Remove least recently used entries until the cache holds at most ``limit`` bytes.

    Parameters
    ----------
    limit : int, optional
        Bytes; default :func:`cache_limit` (None there: nothing is removed).
    base : path, optional
        The cache folder; default :func:`default_cache_dir`.
    keep : paths
        Entries never removed (the one just written or read).

    Returns
    -------
    list of CacheEntry
        The removed entries, oldest first.
    """
    limit = cache_limit() if limit is None else limit
    if limit is None:
        return []
    entries = cache_entries(base)
    total = sum(e.size for e in entries)
    protected = {Path(k).resolve() for k in keep}
    removed = []
    for e in entries:
        if total <= limit:
            break
        if e.path.resolve() in protected:
            continue
        _remove(e.path)
        total -= e.size
        removed.append(e)
    return removed


def clear_cache(base: str | os.PathLike | None = None) -> list[CacheEntry]:
    """Remove every cache entry (decoded images and features; downloaded data sets stay); returns them."""
    entries = cache_entries(base)
    for e in entries:
        _remove(e.path)
    return entries


# --------------------------------------------------------------------------- IDX

_IDX_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read an IDX file (the MNIST format), gzipped or not.

    Returns
    -------
    ndarray
        Shaped as the file's header says, e.g. (60000, 28, 28) uint8 for images, (60000,) for labels.
    """
    path = Path(path)
    if not path.is_file():
        raise VisionkitError(f"expected an IDX file, got a path that does not exist: {str(path)!r}")
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as fh:
            data = fh.read()
    except (OSError, EOFError) as exc:
        raise VisionkitError(f"expected a readable IDX file, got {str(path)!r} ({exc})") from None
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in _IDX_DTYPES:
        raise VisionkitError(f"expected an IDX file (magic 0x0000TTDD), got other data in {str(path)!r}")
    ndim = data[3]
    dims = struct.unpack(">" + "I" * ndim, data[4 : 4 + 4 * ndim])
    dtype = np.dtype(_IDX_DTYPES[data[2]])
    expected = int(np.prod(dims)) * dtype.itemsize
    body = data[4 + 4 * ndim :]
    if len(body) != expected:
        raise VisionkitError(f"IDX file {str(path)!r}: header says {dims} ({expected} bytes), got {len(body)} bytes")
    return np.frombuffer(body, dtype=dtype).reshape(dims).astype(dtype.newbyteorder("="))


def _find_idx(root: Path, stem: str) -> Path:
    for cand in (root / stem, root / f"{stem}.gz", root / "raw" / stem, root / "raw" / f"{stem}.gz"):
        if cand.is_file():
            return cand
    raise VisionkitError(
        f"expected the IDX file {stem}[.gz] in {str(root)!r} or its raw/ folder, found none; "
        "download the official files (e.g. torchvision's FashionMNIST(root, download=True) on a machine "
        "with network access) and point to that folder"
    )


def load_idx_dataset(root: str | os.PathLike, split: str = "train", *, classes: Sequence[str] | None = None) -> Dataset:
    """Load MNIST or Fashion-MNIST from the official IDX files (``.gz`` or decompressed).

    Parameters
    ----------
    root : path
        A folder holding ``train-images-idx3-ubyte[.gz]`` etc., directly or in ``raw/`` (torchvision's layout).
    split : {"train", "test"}
    classes : list of str, optional
        Class names; defaults to "0" ... "9".

    Returns
    -------
    Dataset
        ``images`` of shape (N, 28, 28, 1) uint8.
    """
    if split not in ("train", "test"):
        raise VisionkitError(f"split: expected 'train' or 'test', got {split!r}")
    root = Path(root)
    prefix = "train" if split == "train" else "t10k"
    images = read_idx(_find_idx(root, f"{prefix}-images-idx3-ubyte"))
    labels = read_idx(_find_idx(root, f"{prefix}-labels-idx1-ubyte")).astype(np.int64)
    if images.ndim != 3 or len(images) != len(labels):
        raise VisionkitError(f"IDX data in {str(root)!r}: expected (N, H, W) images and N labels, got {images.shape} and {labels.shape}")
    names = list(classes) if classes is not None else [str(i) for i in range(int(labels.max()) + 1)]
    return Dataset(np.ascontiguousarray(images[..., None]), labels, names)


# --------------------------------------------------------------------------- ImageFolder


def _list_folder(root: Path) -> tuple[list[str], list[tuple[str, int]]]:
    if not root.is_dir():
        raise VisionkitError(f"expected a folder of class folders, got {str(root)!r}, which is not a folder")
    classes = sorted(d.name for d in root.iterdir() if d.is_dir() and not d.name.startswith("."))
    if not classes:
        raise VisionkitError(f"expected class folders inside {str(root)!r} (ImageFolder layout root/CLASS/IMAGE), found none")
    items: list[tuple[str, int]] = []
    for label, name in enumerate(classes):
        files = sorted(
            str(p) for p in (root / name).iterdir() if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS
        )
        if not files:
            raise VisionkitError(f"class folder {str(root / name)!r} holds no image files ({', '.join(IMAGE_EXTENSIONS)})")
        items.extend((f, label) for f in files)
    return classes, items


def _decode(path: str, size: tuple[int, int] | None, channels: int, max_pixels: int) -> np.ndarray | str:
    """Decode one file to uint8 (H, W, C); return the reason as a string when it cannot be read."""
    from PIL import Image, ImageOps

    from .io import _open_image

    try:
        with _open_image(Path(path), max_pixels) as img:  # too many pixels: refused before decoding
            img.load()
            img = ImageOps.exif_transpose(img)  # upright, as the camera means it to be shown
            img = img.convert("RGB" if channels == 3 else "L")
            if size is not None and img.size != (size[1], size[0]):
                img = img.resize((size[1], size[0]), Image.BILINEAR)
            arr = np.asarray(img, dtype=np.uint8)
    except VisionkitError as exc:  # the warning names the file already
        return str(exc).removeprefix(f"{path!r}: ")
    except Exception as exc:  # any decoder failure: reported by name, never a label shift
        return f"{type(exc).__name__}: {exc}"
    return arr[..., None] if arr.ndim == 2 else arr


def _cache_key(root: Path, items: list[tuple[str, int]], size, channels: int, max_pixels: int) -> str:
    # The inode and the status-change time join size and mtime: a file rewritten in place with its
    # size kept and its mtime set back (os.utime, rsync -t, a restored backup) still changes its
    # ctime, which no user call can set. Names are hashed as bytes (os.fsencode), so that names that
    # are not UTF-8 (bytes on Linux, surrogate-escaped in str) work.
    h = hashlib.sha256()
    h.update(os.fsencode(root.resolve()) + f"|{size}|{channels}|{max_pixels}|v4".encode())  # v4: skipped by index
    for path, label in items:
        st = os.stat(path)
        h.update(os.fsencode(path) + f"|{label}|{st.st_size}|{st.st_mtime_ns}|{st.st_ino}|{st.st_ctime_ns}".encode())
    return h.hexdigest()[:24]


def _atomic_save_npz(path: Path, **arrays) -> None:
    def write(tmp: str) -> None:
        with open(tmp, "wb") as fh:  # a file object: np.savez would add ".npz" to a name
            np.savez(fh, **arrays)

    atomic_write(path, write)


def _read_cache(cache_file: Path, items: list[tuple[str, int]]) -> tuple[np.ndarray | list, np.ndarray, list[int], list[tuple[str, str]]]:
    """Images, labels, kept indices and skipped files from a cache file, checked against ``items``.

    Raises
    ------
    Exception
        Anything np.load raises for a damaged file, or VisionkitError when the content does not
        fit the folder; the caller rebuilds the cache either way.
    """
    with np.load(cache_file, allow_pickle=False) as z:
        keep = z["keep"].astype(np.int64)
        labels = z["labels"]
        if keep.ndim != 1 or len(keep) and (keep.min() < 0 or keep.max() >= len(items)) or labels.shape != keep.shape:
            raise VisionkitError("the kept indices do not fit the folder")
        if labels.tolist() != [items[i][1] for i in keep]:
            raise VisionkitError("the labels do not fit the folder")
        skipped_index = z["skipped_index"].astype(np.int64)
        reasons = z["skipped_reason"].tolist()
        if len(skipped_index) != len(reasons) or len(skipped_index) and (skipped_index.min() < 0 or skipped_index.max() >= len(items)):
            raise VisionkitError("the skipped files do not fit the folder")
        skipped = [(items[i][0], str(r)) for i, r in zip(skipped_index, reasons)]
        if "shapes" in z:  # images of different sizes, stored as one flat buffer
            shapes = z["shapes"]
            flat = z["images"]
            if shapes.shape != (len(keep), 3) or shapes.min() < 1 or int(np.prod(shapes, axis=1).sum()) != flat.size:
                raise VisionkitError("the image shapes do not fit the stored pixels")
            ends = np.cumsum(np.prod(shapes, axis=1))
            images: np.ndarray | list = [flat[e - int(np.prod(sh)) : e].reshape(sh) for e, sh in zip(ends, shapes)]
        else:
            images = z["images"]
            if images.dtype != np.uint8 or images.ndim != 4 or len(images) != len(keep):
                raise VisionkitError("the stored images do not fit the folder")
    return images, labels.astype(np.int64), keep.tolist(), skipped


def _write_cache(cache_file: Path, images: list[np.ndarray], same: bool, arr, labels: np.ndarray, keep: list[int],
                 skipped_index: list[int], skipped: list[tuple[str, str]]) -> None:
    """Store a decoded folder; any failure (full disk, read-only folder, a file in the way) only warns."""
    extra = {} if same else {"shapes": np.array([im.shape for im in images], dtype=np.int64)}
    stored = arr if same else np.concatenate([im.ravel() for im in images])
    try:
        _atomic_save_npz(cache_file, images=stored, labels=labels, keep=np.asarray(keep, dtype=np.int64),
                         skipped_index=np.asarray(skipped_index, dtype=np.int64),
                         skipped_reason=np.asarray([r for _, r in skipped], dtype=str).reshape(-1), **extra)
    except OSError as exc:
        warnings.warn(f"cache: could not write {str(cache_file)!r} ({type(exc).__name__}: {exc.strerror or exc}); "
                      "running without the cache", stacklevel=3)
        return
    evict_cache(base=cache_file.parent, keep=[cache_file])


def take_images(images: "np.ndarray | list | ImageFolderSource", index: np.ndarray) -> "np.ndarray | list | ImageFolderSource":
    """The images at ``index`` (int array): an array or a lazy source is indexed (a source stays lazy,
    nothing decoded); a list is picked from."""
    return [images[i] for i in index] if isinstance(images, list) else images[index]


class ImageFolderSource:
    """The images of an ImageFolder tree, decoded on demand: paths in memory, pixels read when asked for.

    What :func:`load_image_folder` returns as ``Dataset.images`` with ``lazy=True``, for folders that
    do not fit in memory. Every image is decoded by the in-memory path's decoder (turned upright by
    its EXIF orientation, converted to ``channels``, resized to ``size``), so the pixels are the same,
    uint8 (H, W, C). All images must have one shape (give ``size`` for photos of several sizes): the
    shape of the first image, decoded on creation, unless ``size`` fixes it.

    Indexing never decodes a whole folder: ``source[i]`` decodes one image (H, W, C); ``source[slice]``
    and ``source[int array]`` give another lazy source over those files; :meth:`read` decodes a batch
    (n, H, W, C). ``np.asarray(source)`` decodes everything (what a method that cannot stream does).

    Parameters
    ----------
    paths : sequence of str
        Image files, in order.
    size : (H, W), optional
        Resize every image to this (bilinear); default: the first image's size, which every image must have.
    channels : {1, 3}
    max_pixels : int, optional
        Files with more pixels are refused from their header; default :data:`visionkit.io.MAX_PIXELS`.

    Attributes
    ----------
    shape : (N, H, W, C)
    dtype : numpy.uint8

    Raises
    ------
    VisionkitError
        When a file cannot be decoded, or has another shape than the first: a streamed folder cannot
        skip a file once its index is given out (labels would shift), so the error names the file
        and the reason. The in-memory path skips such files with a warning; remove the file, or
        give ``size``, and load again.
    """

    def __init__(self, paths: Sequence[str], *, size: tuple[int, int] | None = None, channels: int = 3,
                 max_pixels: int | None = None, _image_shape: tuple[int, int, int] | None = None) -> None:
        from .io import _max_pixels

        if channels not in (1, 3):
            raise VisionkitError(f"channels: expected 1 or 3, got {channels!r}")
        self.paths = list(paths)
        if not self.paths:
            raise VisionkitError("ImageFolderSource: expected at least one image file, got none")
        self.size = None if size is None else (int(size[0]), int(size[1]))
        self.channels = channels
        self.max_pixels = _max_pixels(max_pixels)
        if _image_shape is None:
            _image_shape = self._decode_one(0, check=False).shape
        self.image_shape = tuple(int(v) for v in _image_shape)

    @property
    def shape(self) -> tuple[int, int, int, int]:
        """(N, H, W, C), known without decoding."""
        return (len(self.paths), *self.image_shape)

    @property
    def dtype(self) -> np.dtype:
        return np.dtype(np.uint8)

    @property
    def ndim(self) -> int:
        return 4

    def __len__(self) -> int:
        return len(self.paths)

    def __repr__(self) -> str:
        return f"ImageFolderSource({len(self)} images of {self.image_shape}, decoded on demand)"

    def _decode_one(self, i: int, *, check: bool = True) -> np.ndarray:
        path = self.paths[i]
        res = _decode(path, self.size, self.channels, self.max_pixels)
        if isinstance(res, str):
            raise VisionkitError(f"{path!r}: expected an image file that decodes, got one that does not ({res}); a streamed "
                                 "folder cannot skip files (labels are bound to indices): remove it, or load the folder "
                                 "in memory (lazy=False), which skips it with a warning")
        if check and res.shape != self.image_shape:
            raise VisionkitError(f"{path!r}: expected an image of shape {self.image_shape} like the folder's first, got "
                                 f"{res.shape}; give size=(H, W) to resize every image")
        return res

    def _indices(self, key: Any) -> np.ndarray:
        if isinstance(key, slice):
            return np.arange(len(self.paths))[key]
        idx = np.asarray(key)
        if idx.dtype == bool:
            if idx.shape != (len(self.paths),):
                raise VisionkitError(f"index: expected a boolean mask of shape ({len(self.paths)},), got shape {idx.shape}")
            return np.flatnonzero(idx)
        if idx.ndim != 1 or not np.issubdtype(idx.dtype, np.integer) and idx.size:
            raise VisionkitError(f"index: expected an int, a slice or a 1-D array of ints, got {key!r:.80}")
        idx = idx.astype(np.int64)
        if idx.size and (idx.min() < -len(self.paths) or idx.max() >= len(self.paths)):
            raise VisionkitError(f"index: expected indices in [0, {len(self.paths)}), got {int(idx.min())}..{int(idx.max())}")
        return idx % len(self.paths) if idx.size else idx

    def __getitem__(self, key: Any) -> "np.ndarray | ImageFolderSource":
        if isinstance(key, (int, np.integer)) and not isinstance(key, bool):
            if not -len(self.paths) <= key < len(self.paths):
                raise IndexError(f"image index {key} out of range for {len(self.paths)} images")
            return self._decode_one(int(key) % len(self.paths))
        idx = self._indices(key)
        if idx.size == 0:
            raise VisionkitError("index: expected at least one image, got an empty selection")
        return ImageFolderSource([self.paths[i] for i in idx], size=self.size, channels=self.channels,
                                 max_pixels=self.max_pixels, _image_shape=self.image_shape)

    def __iter__(self):
        for i in range(len(self.paths)):
            yield self._decode_one(i)

    def read(self, index: Any = None) -> np.ndarray:
        """Decode images: all of them (``index=None``), or those at ``index`` (slice or int array).

        Returns
        -------
        ndarray of uint8, shape (n, H, W, C)
        """
        idx = np.arange(len(self.paths)) if index is None else self._indices(index)
        out = np.empty((len(idx), *self.image_shape), dtype=np.uint8)
        for j, i in enumerate(idx):
            out[j] = self._decode_one(int(i))
        return out

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        arr = self.read()
        return arr if dtype is None else arr.astype(dtype)

    def chunks(self, chunk_size: int, *, desc: str | None = None):
        """Yield ``(start, images)`` for consecutive decoded chunks of at most ``chunk_size`` images (n, H, W, C),
        with a progress bar over the images labelled ``desc`` (drawn when :func:`visionkit.verbose` says so)."""
        from ._progress import progress_bar

        chunk_size = int(chunk_size)
        if chunk_size < 1:
            raise VisionkitError(f"chunk_size: expected an integer >= 1, got {chunk_size!r}")
        with progress_bar(desc=desc or "decoding", total=len(self), unit="image") as bar:
            for start in range(0, len(self), chunk_size):
                batch = self.read(slice(start, start + chunk_size))
                yield start, batch
                bar.update(len(batch))


def load_image_folder(
    root: str | os.PathLike,
    *,
    size: tuple[int, int] | None = None,
    channels: int = 3,
    cache: bool | str | os.PathLike = False,
    n_jobs: int = 1,
    progress: bool = False,
    max_pixels: int | None = None,
    lazy: bool = False,
) -> Dataset:
    """Load a folder in ImageFolder layout (``root/CLASS/IMAGE``), labels from sorted class names.

    Parameters
    ----------
    root : path
    size : (H, W), optional
        Resize every image (bilinear, after turning it upright by its EXIF orientation) to this
        size; without it images keep their size and are returned as a list when sizes differ.
    channels : {1, 3}
        Grey or RGB.
    cache : bool or path
        Keep the decoded images in ``default_cache_dir()`` (``True``) or the given folder, keyed by
        the files' paths, sizes, inodes and modification and status-change times, so a second load
        skips decoding. The cache never breaks a load: when it cannot be written (full disk,
        read-only folder, a file in the way) the load goes on without it, with a warning; a damaged
        cache file is rebuilt. After a write, least recently used entries are evicted down to
        :func:`cache_limit`.
    n_jobs : int
        Decoding processes (joblib).
    progress : bool
        Show a progress bar.
    max_pixels : int, optional
        Files of more pixels (width x height) are skipped, from their header, before decoding.
        Default :data:`visionkit.io.MAX_PIXELS` (89,478,485).
    lazy : bool
        Decode nothing now: ``images`` is an :class:`ImageFolderSource` (the paths; pixels decoded on
        demand, the same pixels), for folders that do not fit in memory. Only the first image is
        decoded (its shape); ``cache``, ``n_jobs`` and ``progress`` do not apply, and a file that
        cannot be decoded is an error when it is read, not skipped.

    Returns
    -------
    Dataset
        Files that cannot be decoded (or have too many pixels) are left out, warned about and
        listed in ``skipped`` with the reason; labels of the other files are unaffected.
    """
    from .io import _max_pixels

    max_pixels = _max_pixels(max_pixels)  # resolved here: worker processes do not see a changed default
    if channels not in (1, 3):
        raise VisionkitError(f"channels: expected 1 or 3, got {channels!r}")
    if size is not None:
        if len(size) != 2 or min(size) < 1:
            raise VisionkitError(f"size: expected (H, W) with positive ints, got {size!r}")
        size = (int(size[0]), int(size[1]))
    root = Path(root)
    classes, items = _list_folder(root)
    if lazy:
        paths = [p for p, _ in items]
        source = ImageFolderSource(paths, size=size, channels=channels, max_pixels=max_pixels)
        return Dataset(source, np.asarray([label for _, label in items], dtype=np.int64), classes, paths)

    cache_file = None
    if cache:
        base = default_cache_dir() if cache is True else Path(cache)
        cache_file = base / f"imagefolder-{_cache_key(root, items, size, channels, max_pixels)}.npz"
        try:
            found = cache_file.is_file()
        except OSError:  # e.g. a folder we may not search: decoded without the cache
            found = False
        if found:
            try:
                images, labels_arr, keep, skipped = _read_cache(cache_file, items)
            except Exception as exc:  # a damaged or foreign file: decoded again and rewritten, never re-raised
                warnings.warn(f"cache: {str(cache_file)!r} is damaged ({type(exc).__name__}: {str(exc)[:200]}); rebuilding it",
                              stacklevel=2)
            else:
                try:
                    os.utime(cache_file)  # recently used: evicted last
                except OSError:
                    pass
                for path, reason in skipped:  # shown again on every load, as on the first
                    warnings.warn(f"skipped unreadable image {path!r}: {reason}", stacklevel=2)
                return Dataset(images, labels_arr, classes, [items[i][0] for i in keep], skipped)

    paths = [p for p, _ in items]
    if n_jobs == 1:
        from ._progress import progress_bar

        it = progress_bar(paths, desc=f"decoding {root.name}", force=progress, unit="image")
        decoded = [_decode(p, size, channels, max_pixels) for p in it]
    else:
        from joblib import Parallel, delayed

        from ._progress import progress_bar

        jobs = Parallel(n_jobs=n_jobs, batch_size=256, return_as="generator")(
            delayed(_decode)(p, size, channels, max_pixels) for p in paths)
        decoded = list(progress_bar(jobs, desc=f"decoding {root.name}", total=len(paths), force=progress, unit="image"))

    images, labels, keep, skipped, skipped_index = [], [], [], [], []
    for i, (res, (path, label)) in enumerate(zip(decoded, items)):
        if isinstance(res, str):
            skipped.append((path, res))
            skipped_index.append(i)
            continue
        images.append(res)
        labels.append(label)
        keep.append(i)
    for path, reason in skipped:
        warnings.warn(f"skipped unreadable image {path!r}: {reason}", stacklevel=2)
    if not images:
        raise VisionkitError(f"no readable images under {str(root)!r} ({len(skipped)} unreadable)")
    present = set(labels)
    missing = [c for i, c in enumerate(classes) if i not in present]
    if missing:
        raise VisionkitError(f"classes with no readable image under {str(root)!r}: {', '.join(missing)}")
    same = len({im.shape for im in images}) == 1
    arr: np.ndarray | list = np.stack(images) if same else images
    labels_arr = np.asarray(labels, dtype=np.int64)
    if cache_file is not None:
        _write_cache(cache_file, images, same, arr, labels_arr, keep, skipped_index, skipped)
    return Dataset(arr, labels_arr, classes, [items[i][0] for i in keep], skipped)


def load_digits() -> Dataset:
    """scikit-learn's bundled handwritten digits (1,797 images, 8x8, offline), as uint8 (N, 8, 8, 1).

    The 0..16 grey levels are scaled to 0..255.
    """
    from sklearn.datasets import load_digits as _sk_digits

    d = _sk_digits()
    images = np.round(d.images * (255.0 / 16.0)).astype(np.uint8)[..., None]
    return Dataset(images, d.target.astype(np.int64), [str(c) for c in d.target_names])
