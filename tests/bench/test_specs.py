"""Data specs (bench/specs.py): image folders and their errors, offline specs, CIFAR-10 batches read without running code."""

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from visionkit import VisionkitError
from visionkit.bench import load_data
from visionkit.cli import main


def _folder(root: Path, layout: dict):
    for split, classes in layout.items():
        for cls, n in classes.items():
            d = root / split / cls if split else root / cls
            d.mkdir(parents=True, exist_ok=True)
            for i in range(n):
                Image.fromarray(np.full((8, 8, 3), 20 * i, np.uint8)).save(d / f"{i}.png")


def test_bad_data_folders(tmp_path):
    _folder(tmp_path / "ok", {"train": {"a": 3, "b": 3}, "test": {"a": 2, "b": 2}})
    split = load_data(str(tmp_path / "ok"))
    assert len(split.train) == 6 and split.classes == ["a", "b"]

    _folder(tmp_path / "missing", {"train": {"a": 3, "b": 3}, "test": {"a": 2}})
    with pytest.raises(VisionkitError, match="only in train/: \\['b'\\]"):
        load_data(str(tmp_path / "missing"))

    _folder(tmp_path / "empty", {"train": {"a": 3}, "test": {"a": 2}})
    (tmp_path / "empty" / "train" / "b").mkdir()
    with pytest.raises(VisionkitError, match="no image files"):
        load_data(str(tmp_path / "empty"))

    (tmp_path / "noimg" / "a").mkdir(parents=True)
    (tmp_path / "noimg" / "a" / "notes.txt").write_text("x")
    with pytest.raises(VisionkitError, match="no image files"):
        load_data(str(tmp_path / "noimg"))

    (tmp_path / "nothing").mkdir()
    with pytest.raises(VisionkitError, match="found none"):
        load_data(str(tmp_path / "nothing"))

    with pytest.raises(VisionkitError, match="known name"):
        load_data(str(tmp_path / "does-not-exist"))

    _folder(tmp_path / "flat", {"": {"a": 5, "b": 5}})
    (tmp_path / "flat" / "a" / "broken.png").write_bytes(b"\x89PNG not really")
    with pytest.warns(UserWarning, match="broken.png"):
        split = load_data(str(tmp_path / "flat"))
    assert len(split.train) + len(split.test) == 10
    assert np.bincount(split.test.labels).tolist() == [2, 1] or np.bincount(split.test.labels).min() >= 1


def test_offline_specs_say_what_is_missing(tmp_path):
    with pytest.raises(VisionkitError, match="--download"):
        load_data(f"fashion-mnist:{tmp_path}")
    with pytest.raises(VisionkitError, match="cifar-10-batches-py"):
        load_data(f"cifar10:{tmp_path}")


# ------------------------------------------------------------------ cifar10:ROOT python batches, read without running code
def _cifar_root(tmp_path, n=4, *, batch=None, meta=None):
    import pickle

    base = tmp_path / "cifar-10-batches-py"
    base.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    names = ["data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4", "data_batch_5", "test_batch"]
    for i, name in enumerate(names):
        content = {b"batch_label": b"x", b"labels": [int(v) for v in rng.integers(0, 10, n)],
                   b"data": rng.integers(0, 256, (n, 3072)).astype(np.uint8), b"filenames": [b"f.png"] * n}
        (base / name).write_bytes(pickle.dumps(content, protocol=2) if batch is None or i else batch(content))
    meta_obj = {b"label_names": [b"airplane", b"automobile", b"bird", b"cat", b"deer", b"dog", b"frog", b"horse", b"ship", b"truck"],
                b"num_vis": 3072}
    (base / "batches.meta").write_bytes(meta(meta_obj) if meta else pickle.dumps(meta_obj, protocol=2))
    return tmp_path


def test_cifar_batches_load(tmp_path):
    import pickle

    split = load_data(f"cifar10:{_cifar_root(tmp_path)}")
    assert split.train.images.shape == (20, 32, 32, 3) and split.test.images.shape == (4, 32, 32, 3)
    assert split.classes[0] == "airplane" and split.train.labels.dtype == np.int64
    raw = pickle.loads((tmp_path / "cifar-10-batches-py" / "test_batch").read_bytes())
    np.testing.assert_array_equal(split.test.images[1, :, :, 0].ravel(), raw[b"data"][1, :1024])  # channel planes -> HWC
    # protocol 5 (numpy's _frombuffer) and the module name numpy 1 wrote also load
    _cifar_root(tmp_path / "p5", batch=lambda c: pickle.dumps(c, protocol=5))
    assert len(load_data(f"cifar10:{tmp_path / 'p5'}").train) == 20
    _cifar_root(tmp_path / "np1", batch=lambda c: pickle.dumps(c, protocol=2).replace(b"numpy._core.multiarray", b"numpy.core.multiarray"))
    assert len(load_data(f"cifar10:{tmp_path / 'np1'}").train) == 20


class _Boom:
    def __reduce__(self):
        import os

        return (os.system, ("touch PWNED",))


def _tamper(kind):
    import pickle

    def wrong_shape(c):
        return pickle.dumps({**c, b"data": c[b"data"][:, :100]}, protocol=2)

    def labels_out_of_range(c):
        return pickle.dumps({**c, b"labels": [10] * len(c[b"labels"])}, protocol=2)

    def short_labels(c):
        return pickle.dumps({**c, b"labels": c[b"labels"][:-1]}, protocol=2)

    def float_data(c):
        return pickle.dumps({**c, b"data": c[b"data"].astype(np.float64)}, protocol=2)

    def code(c):
        return pickle.dumps({**c, b"x": _Boom()}, protocol=2)

    def not_a_dict(c):
        return pickle.dumps([1, 2, 3], protocol=2)

    def truncated(c):
        return pickle.dumps(c, protocol=2)[:1000]

    def junk(c):
        return b"\x00" * 100

    return {f.__name__: f for f in (wrong_shape, labels_out_of_range, short_labels, float_data, code, not_a_dict, truncated, junk)}[kind]


@pytest.mark.parametrize("kind, message", [
    ("wrong_shape", r"expected 'data' a uint8 array \(N, 3072\)"), ("labels_out_of_range", r"integers in 0..9"),
    ("short_labels", "a list of 4 integers"), ("float_data", "uint8"), ("code", "refusing the global posix.system"),
    ("not_a_dict", "expected 'data'"), ("truncated", "not a CIFAR-10 python batch"), ("junk", "not a CIFAR-10 python batch"),
])
def test_tampered_cifar_batches_are_one_line(tmp_path, monkeypatch, kind, message):
    monkeypatch.chdir(tmp_path)
    root = _cifar_root(tmp_path / "root", batch=_tamper(kind))
    with pytest.raises(VisionkitError, match=message) as info:
        load_data(f"cifar10:{root}")
    assert "\n" not in str(info.value) and not (tmp_path / "PWNED").exists()
    assert main(["compare", "--data", f"cifar10:{root}", "--methods", "pixels-svm", "--out", str(tmp_path / "out")]) == 2


def test_cifar_meta_with_code_is_refused(tmp_path, monkeypatch):
    import pickle

    monkeypatch.chdir(tmp_path)
    root = _cifar_root(tmp_path / "root", meta=lambda m: pickle.dumps({**m, b"x": _Boom()}, protocol=2))
    with pytest.raises(VisionkitError, match="refusing the global"):
        load_data(f"cifar10:{root}")
    assert not (tmp_path / "PWNED").exists()


def test_stream_lists_image_folders_and_refuses_arrays(tmp_path):
    from visionkit.data import ImageFolderSource

    _folder(tmp_path / "ok", {"train": {"a": 3, "b": 3}, "test": {"a": 2, "b": 2}})
    _folder(tmp_path / "flat", {"": {"a": 5, "b": 5}})
    for name in ("ok", "flat"):
        eager, lazy = load_data(str(tmp_path / name)), load_data(str(tmp_path / name), stream=True)
        assert isinstance(lazy.train.images, ImageFolderSource) and isinstance(lazy.test.images, ImageFolderSource)
        for a, b in ((eager.train, lazy.train), (eager.test, lazy.test)):
            np.testing.assert_array_equal(a.images, np.asarray(b.images))
            np.testing.assert_array_equal(a.labels, b.labels)
        assert lazy.source == {**eager.source, "stream": True}  # a cluster's workers stream too
    for spec in ("digits", f"fashion-mnist:{tmp_path}"):
        with pytest.raises(VisionkitError, match="stream: expected a data set of image files"):
            load_data(spec, stream=True)
    with pytest.raises(VisionkitError, match="cifar10 with stream=True: expected an ImageFolder copy"):
        load_data(f"cifar10:{tmp_path / 'nothing-here'}", stream=True)
