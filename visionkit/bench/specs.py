"""Data specifications for the harness: ``digits``, ``fashion-mnist[:ROOT]``, ``mnist[:ROOT]``,
``cifar10[:ROOT]`` and any ImageFolder tree.

Each spec resolves to a train and a test :class:`visionkit.data.Dataset` of uint8 (N, H, W, C) images.
Nothing is downloaded unless ``download=True`` is passed (``--download`` on the command line).
"""

from __future__ import annotations

import os
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .._validate import VisionkitError, describe
from ..data import Dataset, load_digits, load_idx_dataset, load_image_folder

__all__ = ["DataSplit", "load_data", "stratified_split", "KNOWN_SPECS"]

KNOWN_SPECS = ("digits", "fashion-mnist[:ROOT]", "mnist[:ROOT]", "cifar10[:ROOT]", "PATH (ImageFolder)")

FASHION_CLASSES = ["t-shirt/top", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag", "ankle boot"]


@dataclass
class DataSplit:
    """A named train / test pair.

    ``source`` is how :func:`load_data` made it (``{"spec", "size", "random_state"}``): a cluster's
    workers load the data from it themselves (:mod:`visionkit.bench.executors`) instead of receiving
    a copy; None for a split built in memory.
    """

    name: str
    train: Dataset
    test: Dataset
    source: dict[str, Any] | None = None

    @property
    def classes(self) -> list[str]:
        return self.train.classes


def _candidate_roots(folder: str) -> list[Path]:
    """Where a data set is looked for when the spec gives no root."""
    roots = []
    if os.environ.get("VISIONKIT_DATA"):
        roots.append(Path(os.environ["VISIONKIT_DATA"]) / folder)
    here = Path(__file__).resolve().parents[2]
    roots += [Path.cwd() / "../shared/datasets" / folder, here.parent / "shared" / "datasets" / folder,
              Path.home() / ".cache" / "visionkit" / "data" / folder]
    return roots


def stratified_split(labels: np.ndarray, *, test_fraction: float = 0.3, random_state: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Seeded stratified train / test indices (every class in both parts when it has >= 2 images)."""
    from sklearn.model_selection import train_test_split

    counts = np.bincount(labels)
    if (counts[counts > 0] < 2).any():
        lonely = np.flatnonzero((counts > 0) & (counts < 2)).tolist()
        raise VisionkitError(f"stratified split: expected >= 2 images per class, got 1 for class index {lonely}")
    idx = np.arange(len(labels))
    tr, te = train_test_split(idx, test_size=test_fraction, stratify=labels, random_state=random_state)
    return np.sort(tr), np.sort(te)


def _idx_spec(kind: str, root: str | None, download: bool) -> DataSplit:
    folder = "FashionMNIST" if kind == "fashion-mnist" else "MNIST"
    roots = [Path(root)] if root else _candidate_roots(folder)
    for r in roots:
        for cand in (r, r / folder):
            if (cand / "raw").is_dir() or any(cand.glob("train-images-idx3-ubyte*")):
                classes = FASHION_CLASSES if kind == "fashion-mnist" else None
                return DataSplit(kind, load_idx_dataset(cand, "train", classes=classes), load_idx_dataset(cand, "test", classes=classes))
    if download:
        import torchvision

        target = Path(root or Path.home() / ".cache" / "visionkit" / "data")
        cls = torchvision.datasets.FashionMNIST if kind == "fashion-mnist" else torchvision.datasets.MNIST
        try:
            cls(str(target), train=True, download=True)
            cls(str(target), train=False, download=True)
        except Exception as exc:
            raise VisionkitError(f"{kind}: download failed ({exc}); without network, copy the official IDX .gz files into a folder and pass {kind}:FOLDER") from None
        return _idx_spec(kind, str(target / folder), False)
    raise VisionkitError(
        f"{kind}: the official IDX files were not found (looked in {', '.join(str(r) for r in roots)}); "
        f"pass {kind}:FOLDER with train-images-idx3-ubyte.gz etc. (or torchvision's root), or add --download"
    )


def _cifar_spec(root: str | None, download: bool, stream: bool = False) -> DataSplit:
    roots = [Path(root)] if root else _candidate_roots("cifar10")
    for r in roots:
        if (r / "train").is_dir() and (r / "test").is_dir() and stream:  # streaming reads files: the ImageFolder copy
            return _folder_spec(str(r), name="cifar10", stream=True)
        for cand in (r, r.parent):
            if (cand / "cifar-10-batches-py").is_dir() and not stream:
                return _read_cifar_batches(cand)
        if (r / "train").is_dir() and (r / "test").is_dir():  # an ImageFolder copy (e.g. cifar10-jpeg)
            return _folder_spec(str(r), name="cifar10", stream=stream)
    jpeg = [r for r in _candidate_roots("cifar10-jpeg") if (r / "train").is_dir()]
    if not root and jpeg:
        return _folder_spec(str(jpeg[0]), name="cifar10-jpeg", stream=stream)
    if stream:
        raise VisionkitError("cifar10 with stream=True: expected an ImageFolder copy of image files (ROOT/train, ROOT/test), "
                             "found none; torchvision's python batches load in memory (150 MB), without stream")
    if download:
        import torchvision

        target = Path(root or Path.home() / ".cache" / "visionkit" / "data" / "cifar10")
        try:
            torchvision.datasets.CIFAR10(str(target), train=True, download=True)
        except Exception as exc:
            raise VisionkitError(f"cifar10: download failed ({exc}); without network pass cifar10:ROOT holding cifar-10-batches-py/") from None
        return _read_cifar_batches(target)
    raise VisionkitError(
        "cifar10: torchvision's python batches (ROOT/cifar-10-batches-py) were not found; pass cifar10:ROOT, "
        "an ImageFolder path, or add --download"
    )


_CIFAR_FILES = {True: [f"data_batch_{i}" for i in range(1, 6)], False: ["test_batch"]}
_CIFAR_MAX_BYTES = 64 * 2**20  # an official batch is 31 MB


def _numpy_globals() -> dict[tuple[str, str], Any]:
    reconstruct = np.ndarray.__reduce__(np.zeros(1))[0]  # numpy's _reconstruct, whichever module holds it
    frombuffer = np.zeros(1).__reduce_ex__(5)[0]
    import _codecs

    return {(mod, "_reconstruct"): reconstruct for mod in ("numpy.core.multiarray", "numpy._core.multiarray")} | {
        (mod, "_frombuffer"): frombuffer for mod in ("numpy.core.numeric", "numpy._core.numeric")} | {
        ("numpy", "ndarray"): np.ndarray, ("numpy", "dtype"): np.dtype, ("_codecs", "encode"): _codecs.encode}


class _ArraysOnlyUnpickler(pickle.Unpickler):
    """Unpickles dicts, lists, strings, numbers and numpy arrays; refuses every other global (code)."""

    def find_class(self, module: str, name: str) -> Any:
        allowed = _numpy_globals()
        if (module, name) not in allowed:
            raise pickle.UnpicklingError(f"refusing the global {module}.{name} (only numpy arrays are expected)")
        return allowed[(module, name)]


def _read_cifar_pickle(path: Path) -> Any:
    if not path.is_file():
        raise VisionkitError(f"cifar10: expected the batch file {str(path)!r}, it does not exist")
    size = path.stat().st_size
    if size > _CIFAR_MAX_BYTES:
        raise VisionkitError(f"cifar10: expected a batch file of at most {_CIFAR_MAX_BYTES:,} bytes, {str(path)!r} has {size:,}")
    try:
        with open(path, "rb") as fh:
            return _ArraysOnlyUnpickler(fh, encoding="bytes").load()
    except Exception as exc:  # UnpicklingError for code, EOFError for truncation, anything for junk
        msg = str(exc).splitlines()[0][:200] if str(exc) else ""
        raise VisionkitError(f"cifar10: {str(path)!r} is not a CIFAR-10 python batch ({type(exc).__name__}: {msg})") from None


def _read_cifar_batches(root: Path) -> DataSplit:
    """The official python batches, read with an unpickler that only builds numpy arrays, then checked.

    The format is a pickle (of a dict of a uint8 (N, 3072) array and N labels): torchvision's reader
    would run any code a tampered file holds, so visionkit reads it itself, refusing every global
    but numpy's array reconstruction, and checks shapes, dtypes and label ranges.
    """
    base = root / "cifar-10-batches-py"
    meta = _read_cifar_pickle(base / "batches.meta")
    names = meta.get(b"label_names") if isinstance(meta, dict) else None
    if not (isinstance(names, list) and 2 <= len(names) <= 1000 and all(isinstance(n, (bytes, str)) for n in names)):
        raise VisionkitError(f"cifar10: {str(base / 'batches.meta')!r}: expected a dict with label_names, a list of names")
    classes = [n.decode("latin1") if isinstance(n, bytes) else n for n in names]
    parts = []
    for train in (True, False):
        images, labels = [], []
        for fname in _CIFAR_FILES[train]:
            path = base / fname
            batch = _read_cifar_pickle(path)
            data = batch.get(b"data") if isinstance(batch, dict) else None
            labs = batch.get(b"labels") if isinstance(batch, dict) else None
            if not (isinstance(data, np.ndarray) and data.dtype == np.uint8 and data.ndim == 2 and data.shape[1] == 3072):
                raise VisionkitError(f"cifar10: {str(path)!r}: expected 'data' a uint8 array (N, 3072), got "
                                     f"{describe(data) if data is not None else 'none'}")
            if not (isinstance(labs, list) and len(labs) == len(data)
                    and all(type(v) is int and 0 <= v < len(classes) for v in labs)):
                raise VisionkitError(f"cifar10: {str(path)!r}: expected 'labels' a list of {len(data)} integers in 0..{len(classes) - 1}")
            images.append(data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))
            labels.extend(labs)
        parts.append(Dataset(np.ascontiguousarray(np.concatenate(images)), np.asarray(labels, dtype=np.int64), list(classes)))
    return DataSplit("cifar10", parts[0], parts[1])


def _folder_spec(path: str, *, name: str | None = None, size: tuple[int, int] | None = None,
                 random_state: int = 0, cache: bool = True, stream: bool = False) -> DataSplit:
    root = Path(path)
    if not root.is_dir():
        raise VisionkitError(f"data: expected a known name ({', '.join(KNOWN_SPECS)}) or a folder, got {path!r}")
    name = name or root.name
    if (root / "train").is_dir() and (root / "test").is_dir():
        train = load_image_folder(root / "train", size=size, cache=cache, progress=True, lazy=stream)
        test = load_image_folder(root / "test", size=size, cache=cache, progress=True, lazy=stream)
        if train.classes != test.classes:
            only_train = sorted(set(train.classes) - set(test.classes))
            only_test = sorted(set(test.classes) - set(train.classes))
            raise VisionkitError(
                f"{path}: train/ and test/ must hold the same class folders; only in train/: {only_train}, only in test/: {only_test}"
            )
        return DataSplit(name, train, test)
    full = load_image_folder(root, size=size, cache=cache, progress=True, lazy=stream)
    tr, te = stratified_split(full.labels, random_state=random_state)
    return DataSplit(name, full.subset(tr), full.subset(te))


def load_data(spec: str = "digits", *, download: bool = False, size: tuple[int, int] | None = None,
              random_state: int = 0, stream: bool = False) -> DataSplit:
    """Resolve a data spec to a train / test split.

    Parameters
    ----------
    spec : str
        ``digits`` (scikit-learn's bundled 8x8 digits, split 70/30 stratified by ``random_state``),
        ``fashion-mnist[:ROOT]``, ``mnist[:ROOT]``, ``cifar10[:ROOT]``, or a folder in ImageFolder
        layout (``train/`` and ``test/`` of class folders, or class folders split 70/30).
    download : bool
        Allow torchvision to download a missing data set.
    size : (H, W), optional
        Resize folder images on loading (they are otherwise kept as they are).
    random_state : int
        Seed of the split for data without an official one.
    stream : bool
        For data sets of image files (an ImageFolder path, or ``cifar10`` as an ImageFolder copy): list
        the files and decode them on demand (``images`` are :class:`~visionkit.data.ImageFolderSource`),
        so that memory is bounded by what a method keeps, not by the number of images. The same
        pixels as without it. Data that arrive as arrays (digits, the IDX files, CIFAR-10's python
        batches) are refused: they are in memory already.
    """
    if not isinstance(spec, str) or not spec:
        raise VisionkitError(f"data: expected a spec such as {', '.join(KNOWN_SPECS)}, got {spec!r}")
    split = _load_spec(spec, download=download, size=size, random_state=random_state, stream=bool(stream))
    split.source = dict(spec=spec, size=None if size is None else list(size), random_state=int(random_state))
    if stream:  # kept out of the dict otherwise: a worker loads what the driver loaded
        split.source["stream"] = True
    return split


def _load_spec(spec: str, *, download: bool, size: tuple[int, int] | None, random_state: int,
               stream: bool = False) -> DataSplit:
    kind, _, root = spec.partition(":")
    kind_l = kind.lower()
    if stream and (kind_l in ("digits", "fashion-mnist", "fashionmnist", "mnist") and not Path(spec).is_dir()):
        raise VisionkitError(f"stream: expected a data set of image files (an ImageFolder path, or cifar10 as one), "
                             f"got {spec!r}, whose images are arrays already in memory; run it without stream")
    if kind_l == "digits" and not root:
        full = load_digits()
        tr, te = stratified_split(full.labels, random_state=random_state)
        return DataSplit("digits", full.subset(tr), full.subset(te))
    if kind_l in ("fashion-mnist", "fashionmnist", "mnist"):
        return _idx_spec("mnist" if kind_l == "mnist" else "fashion-mnist", root or None, download)
    if kind_l in ("cifar10", "cifar-10"):
        return _cifar_spec(root or None, download, stream)
    return _folder_spec(spec, size=size, random_state=random_state, stream=stream)
