"""Fuzz: malformed images, folders, checkpoints and results files, from one seeded generator.

Whatever the input, only :class:`visionkit.VisionkitError` may escape (or ``TypeError`` for
objects that are not images at all), and the results store loses no finished record. Each test
collects every case that breaks the rule and reports them together, with the seed and the case
number, so that a failure can be replayed. A few hundred cases in all, in well under a minute.
"""

from __future__ import annotations

import io
import json
import struct
import warnings
import zlib

import numpy as np
import pytest
from PIL import Image

from visionkit import VisionkitError, load_image
from visionkit.data import load_image_folder

SEED = 20_260_412


def _rng(name: str) -> np.random.Generator:
    return np.random.default_rng([SEED, zlib.crc32(name.encode())])


def _check(failures: list[str], case: str, fn, allowed=(VisionkitError,)):
    """Run ``fn``; anything but a result or an allowed exception is recorded as a failure."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return fn()
    except allowed:
        return None
    except Exception as exc:  # the point of a fuzz test: report it, with the case, and carry on
        failures.append(f"{case}: {type(exc).__name__}: {str(exc).splitlines()[0][:160] if str(exc) else ''}")
        return None


def _report(failures: list[str], n: int) -> None:
    assert not failures, f"{len(failures)} of {n} cases let other exceptions escape (seed {SEED}):\n" + "\n".join(failures[:30])


# ------------------------------------------------------------------ images


def _encoded(rng: np.random.Generator, fmt: str) -> bytes:
    h, w = int(rng.integers(1, 24)), int(rng.integers(1, 24))
    mode = str(rng.choice(["L", "RGB", "RGBA", "I;16"] if fmt in ("PNG", "TIFF") else ["L", "RGB"]))
    if mode == "I;16":
        img = Image.fromarray(rng.integers(0, 65536, (h, w)).astype(np.uint16))
    else:
        c = {"L": 1, "RGB": 3, "RGBA": 4}[mode]
        arr = rng.integers(0, 256, (h, w, c) if c > 1 else (h, w)).astype(np.uint8)
        img = Image.fromarray(arr)
    buf = io.BytesIO()
    img.save(buf, format=fmt)
    return buf.getvalue()


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def _huge_header(rng: np.random.Generator, fmt: str, data: bytes) -> bytes:
    """The same file with a header that claims other (often enormous) dimensions."""
    w, h = (int(rng.choice([0, 1, 3000, 65_535, 100_000, 2**31 - 1])) for _ in range(2))
    b = bytearray(data)
    if fmt == "PNG":
        ihdr = bytes(b[16:29])
        new = struct.pack(">II", w, h) + ihdr[8:]
        return bytes(b[:8]) + _png_chunk(b"IHDR", new) + bytes(b[33:])
    if fmt == "BMP":
        b[18:26] = struct.pack("<ii", min(w, 2**31 - 1), min(h, 2**31 - 1))
        return bytes(b)
    if fmt == "GIF":
        b[6:10] = struct.pack("<HH", w & 0xFFFF, h & 0xFFFF)
        return bytes(b)
    if fmt == "JPEG":
        i = b.find(b"\xff\xc0")
        if i >= 0:
            b[i + 5:i + 9] = struct.pack(">HH", h & 0xFFFF, w & 0xFFFF)
        return bytes(b)
    return bytes(b)


def _mutated_image(rng: np.random.Generator) -> tuple[str, bytes]:
    fmt = str(rng.choice(["PNG", "JPEG", "BMP", "GIF", "TIFF"]))
    data = _encoded(rng, fmt)
    how = str(rng.choice(["intact", "truncate", "flip", "insert", "random", "huge", "empty-ish"]))
    if how == "truncate":
        data = data[: int(rng.integers(1, len(data)))]
    elif how == "flip":
        b = bytearray(data)
        for i in rng.integers(0, len(b), int(rng.integers(1, 8))):
            b[i] = int(rng.integers(0, 256))
        data = bytes(b)
    elif how == "insert":
        i = int(rng.integers(0, len(data)))
        data = data[:i] + rng.bytes(int(rng.integers(1, 64))) + data[i:]
    elif how == "random":
        data = rng.bytes(int(rng.integers(1, 400)))
    elif how == "huge":
        data = _huge_header(rng, fmt, data)
    elif how == "empty-ish":
        data = data[:8]
    return f"{fmt}/{how}", data


def test_fuzz_load_image_files(tmp_path):
    rng, failures, n = _rng("files"), [], 160
    for i in range(n):
        kind, data = _mutated_image(rng)
        path = tmp_path / f"case{i}{rng.choice(['.png', '.jpg', '.bmp', '.gif', '.tif', '.txt', ''])}"
        path.write_bytes(data)
        mode = str(rng.choice(["gray", "rgb"]))
        limit = int(rng.choice([10**6, 89_478_485]))
        out = _check(failures, f"case {i} ({kind})", lambda: load_image(path, mode=mode, max_pixels=limit))
        if out is not None and not (out.dtype == np.float32 and out.ndim == (2 if mode == "gray" else 3)
                                    and np.isfinite(out).all() and out.min() >= 0 and out.max() <= 1):
            failures.append(f"case {i} ({kind}): returned {out.dtype} {out.shape} outside the contract")
    _report(failures, n)


_DTYPES = [np.uint8, np.uint16, np.int8, np.int32, np.int64, np.float16, np.float32, np.float64, np.bool_,
           np.complex64, object, "U3", "S2", "datetime64[s]", [("a", np.uint8), ("b", np.float32)]]


def _random_array(rng: np.random.Generator):
    ndim = int(rng.integers(0, 6))
    shape = tuple(int(rng.choice([0, 1, 2, 3, 4, 5, 7, 16])) for _ in range(ndim))
    dtype = _DTYPES[int(rng.integers(0, len(_DTYPES)))]
    try:
        arr = np.zeros(shape, dtype=dtype)
    except (TypeError, ValueError):
        return np.zeros(shape)
    if arr.dtype.kind in "fc" and arr.size:
        flat = arr.reshape(-1)
        flat[:] = rng.choice([0.0, 0.5, 1.0, -1.0, 2.0, np.nan, np.inf, -np.inf], size=flat.size)
    elif arr.dtype.kind in "ui" and arr.size:
        info = np.iinfo(arr.dtype)
        arr.reshape(-1)[:] = rng.integers(info.min, info.max, size=arr.size, endpoint=True, dtype=np.int64 if info.min < 0 else np.uint64)
    return arr


_NOT_IMAGES = [None, 3, 2.5, {}, {"a": 1}, set(), b"\x89PNG", object(), [[1, 2], [3]], [[0.5, 0.2]], (), "", [],
               [[[1, 2, 3]]] * 2, range(4)]


def test_fuzz_load_image_arrays_and_other_objects():
    rng, failures, n = _rng("arrays"), [], 150
    for i in range(n):
        src = _random_array(rng) if i % 5 else _NOT_IMAGES[(i // 5) % len(_NOT_IMAGES)]
        if i % 7 == 3 and isinstance(src, np.ndarray):
            src = src.tolist()
        mode = str(rng.choice(["gray", "rgb", "RGB"]))
        what = f"case {i} ({type(src).__name__} {getattr(src, 'dtype', '')} {getattr(src, 'shape', '')}, mode={mode})"
        out = _check(failures, what, lambda: load_image(src, mode=mode), allowed=(VisionkitError, TypeError))
        if out is not None and not (out.dtype == np.float32 and np.isfinite(out).all() and 0 <= out.min() and out.max() <= 1):
            failures.append(f"{what}: returned {out.dtype} {out.shape} outside the contract")
    _report(failures, n)


# ------------------------------------------------------------------ folders


def test_fuzz_load_image_folder(tmp_path):
    rng, failures, n = _rng("folders"), [], 40
    for i in range(n):
        root = tmp_path / f"root{i}"
        root.mkdir()
        for c in range(int(rng.integers(0, 4))):
            cls = root / str(rng.choice([f"class{c}", f".hidden{c}", f"caf\u00e9{c}", f"a b{c}"]))
            cls.mkdir(exist_ok=True)
            for j in range(int(rng.integers(0, 4))):
                what = rng.choice(["good", "mutated", "junk", "dir", "noext"])
                if what == "dir":
                    (cls / f"sub{j}.png").mkdir()
                    continue
                ext = ".png" if what != "noext" else ""
                data = (_encoded(rng, "PNG") if what == "good" else _mutated_image(rng)[1] if what == "mutated"
                        else b"junk " * int(rng.integers(0, 20)))
                (cls / f"f{j}{ext}").write_bytes(data)
        if rng.random() < 0.2:
            (root / "stray.png").write_bytes(b"not in a class")
        kwargs = dict(size=None if rng.random() < 0.5 else (8, 8), channels=int(rng.choice([1, 3])),
                      cache=False if rng.random() < 0.5 else tmp_path / "cache")
        for attempt in range(1 + (kwargs["cache"] is not False)):  # with a cache: a miss, then a hit
            ds = _check(failures, f"folder {i} try {attempt} {kwargs}", lambda: load_image_folder(root, **kwargs))
            if ds is not None:
                ok = (len(ds.images) == len(ds.labels) == len(ds.paths) and ds.labels.min() >= 0
                      and ds.labels.max() < len(ds.classes) and set(ds.labels.tolist()) == set(range(len(ds.classes))))
                if not ok:
                    failures.append(f"folder {i}: inconsistent Dataset")
    _report(failures, n)


# ------------------------------------------------------------------ checkpoints


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    from visionkit.deep import DeepClassifier, create_model

    est = DeepClassifier("lenet5", random_state=1)
    est.model_ = create_model("lenet5", num_classes=3, in_chans=1, img_size=32, seed=0).eval()
    est.classes_ = np.array(["a", "b", "c"])
    est.mean_, est.std_, est.img_size_, est.in_chans_, est.tta_ = [0.5], [0.25], 32, 1, 0
    est.history_ = [{"epoch": 1, "train_loss": 1.0, "val_acc": 0.5}]
    stem = tmp_path_factory.mktemp("ckpt") / "clf"
    est.save(stem)
    return stem.with_suffix(".json").read_bytes(), stem.with_suffix(".safetensors").read_bytes()


def _random_json_value(rng: np.random.Generator, depth: int = 0):
    kind = int(rng.integers(0, 13 if depth < 3 else 9))
    return [None, True, 0, -1, 3, 10**7, 10**30, 1e308, "x", "../../etc/passwd", float("nan"), ][kind] if kind < 11 else (
        [_random_json_value(rng, depth + 1) for _ in range(int(rng.integers(0, 4)))] if kind == 11
        else {str(rng.choice(["name", "dim", "weights", "k"])): _random_json_value(rng, depth + 1)})


def _paths(obj, prefix=()):
    yield prefix
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from _paths(v, prefix + (k,))
    elif isinstance(obj, list):
        for i, v in enumerate(obj[:4]):
            yield from _paths(v, prefix + (i,))


def _mutate_json(rng: np.random.Generator, text: bytes) -> bytes:
    how = rng.random()
    if how < 0.1:
        return text[: int(rng.integers(0, len(text)))]
    if how < 0.15:
        return b"[" * int(rng.integers(30, 5000)) + b"]" * int(rng.integers(0, 5000))
    if how < 0.2:
        b = bytearray(text)
        b[int(rng.integers(0, len(b)))] = int(rng.integers(0, 256))
        return bytes(b)
    config = json.loads(text)
    for _ in range(int(rng.integers(1, 4))):
        paths = [p for p in _paths(config) if p]
        path = paths[int(rng.integers(0, len(paths)))]
        parent = config
        for key in path[:-1]:
            parent = parent[key]
        r = rng.random()
        if r < 0.25 and isinstance(parent, dict):
            del parent[path[-1]]
        elif r < 0.35 and isinstance(parent, dict):
            parent[str(rng.choice(["weights", "depth", "extra", "dim"]))] = _random_json_value(rng)
        else:
            parent[path[-1]] = _random_json_value(rng)
    return json.dumps(config).encode()


def _mutate_safetensors(rng: np.random.Generator, data: bytes) -> bytes:
    how = rng.random()
    (n,) = struct.unpack("<Q", data[:8])
    if how < 0.4:
        return data[: int(rng.integers(0, len(data)))]
    if how < 0.6:  # a byte of the header
        b = bytearray(data)
        b[8 + int(rng.integers(0, n))] = int(rng.choice([ord("9"), ord("["), ord("}"), 0, 255]))
        return bytes(b)
    if how < 0.7:
        return struct.pack("<Q", [0, 1, n + 1, 2**63, 2**64 - 1][int(rng.integers(0, 5))]) + data[8:]
    if how < 0.8:
        return data + rng.bytes(int(rng.integers(1, 100)))
    b = bytearray(data)  # a byte of the tensors: still a valid file
    b[8 + n + int(rng.integers(0, len(data) - 8 - n))] ^= 0xFF
    return bytes(b)


def test_fuzz_checkpoints(tmp_path, checkpoint):
    from visionkit.deep import DeepClassifier

    text, tensors = checkpoint
    rng, failures, n = _rng("checkpoints"), [], 150
    loaded = 0
    for i in range(n):
        stem = tmp_path / f"c{i}"
        which = rng.random()
        stem.with_suffix(".json").write_bytes(_mutate_json(rng, text) if which < 0.7 else text)
        stem.with_suffix(".safetensors").write_bytes(_mutate_safetensors(rng, tensors) if which >= 0.6 else tensors)
        est = _check(failures, f"checkpoint {i}", lambda: DeepClassifier.load(stem, device="cpu"))
        if est is not None:
            loaded += 1
            _check(failures, f"checkpoint {i} predict", lambda: est.predict(np.zeros((2, 32, 32, 1), np.uint8)))
    _report(failures, n)
    assert loaded < n  # the mutations do reach the checks


# ------------------------------------------------------------------ results files


def _random_line(rng: np.random.Generator, i: int) -> tuple[bytes, str | None]:
    """A line for results.jsonl and, for a valid record, its key."""
    kind = int(rng.integers(0, 12))
    if kind == 0:
        key = f"direct-{i}"
        return json.dumps({"key": key, "accuracy": float(rng.random())}).encode() + b"\n", key
    return [b"[1,2]\n", b"null\n", b'{"accuracy": 1}\n', b'{"key": 5}\n', b"\xff\xfe\n", rng.bytes(30).replace(b"\n", b"") + b"\n",
            b"[" * 10_000 + b"\n", b'{"key": ' + b"9" * 5000 + b"}\n", b'{"key": "trunc', b"   \n",
            b'{"key": "x", "a": ' + b"[" * 3000 + b"]" * 3000 + b"}\n"][kind - 1], None


def test_fuzz_results_store_loses_no_finished_record(tmp_path):
    from visionkit.bench import ResultStore

    rng, failures, n = _rng("results"), [], 300
    out = tmp_path / "run"
    store = _check(failures, "open", lambda: ResultStore(out))
    finished: list[str] = []
    for i in range(n):
        if rng.random() < 0.4:
            key = f"added-{i}"
            if _check(failures, f"add {i}", lambda: store.add({"key": key, "i": i})):
                finished.append(key)
        else:
            line, key = _random_line(rng, i)
            out.mkdir(exist_ok=True)
            with open(out / "results.jsonl", "ab") as fh:
                fh.write(line)
            if key is not None:
                tail = (out / "results.jsonl").read_bytes()[: -len(line)]
                if not tail or tail.endswith(b"\n"):  # after a fragment, the line is part of that fragment
                    finished.append(key)
        if rng.random() < 0.1:
            _check(failures, f"look {i}", lambda: (len(store), f"added-{i}" in store))
    fresh = _check(failures, "reopen", lambda: ResultStore(out).records)
    _report(failures, n)
    keys = {r["key"] for r in fresh}
    lost = [k for k in finished if k not in keys]
    assert not lost, f"finished records lost: {lost[:10]}"
    assert len(keys) == len(fresh)
