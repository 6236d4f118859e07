import os
from pathlib import Path

import numpy as np
import pytest

from visionkit._atomic import atomic_write


@pytest.fixture
def umask022():
    old = os.umask(0o022)
    yield
    os.umask(old)


def _mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


def test_writes_bytes_str_and_through_a_function(tmp_path):
    assert atomic_write(tmp_path / "a.bin", b"\x00\xff").read_bytes() == b"\x00\xff"
    assert atomic_write(tmp_path / "sub" / "b.txt", "héllo").read_text(encoding="utf-8") == "héllo"
    atomic_write(tmp_path / "c.npy", lambda tmp: np.save(open(tmp, "wb"), np.arange(3)))
    assert np.load(tmp_path / "c.npy").tolist() == [0, 1, 2]
    atomic_write(tmp_path / "a.bin", memoryview(np.arange(2, dtype=np.uint16)))  # replaces, any buffer
    assert (tmp_path / "a.bin").read_bytes() == b"\x00\x00\x01\x00"
    long = tmp_path / ("n" * 250)  # the temporary name must stay under the 255-byte limit too
    assert atomic_write(long, "x").read_text() == "x"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["a.bin", "sub", "c.npy", "n" * 250])


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_mode_follows_the_umask(tmp_path, umask, mode):
    old = os.umask(umask)
    try:
        a = atomic_write(tmp_path / "a", b"x")
        b = atomic_write(tmp_path / "b", lambda tmp: Path(tmp).write_bytes(b"y"))
    finally:
        os.umask(old)
    assert _mode(a) == mode and _mode(b) == mode


def test_a_failing_write_leaves_no_tmp_and_the_old_file(tmp_path):
    target = tmp_path / "keep.txt"
    target.write_text("old")

    def half_then_fail(tmp):
        Path(tmp).write_text("half")
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError, match="No space left"):
        atomic_write(target, half_then_fail)
    with pytest.raises(KeyboardInterrupt):
        atomic_write(target, lambda tmp: (_ for _ in ()).throw(KeyboardInterrupt()))
    with pytest.raises(TypeError, match="expected bytes, str or a function.*got int"):
        atomic_write(target, 5)
    with pytest.raises(OSError):  # the target is a folder: the rename fails
        atomic_write(tmp_path, b"x")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["keep.txt"]


def test_every_writer_respects_the_umask(tmp_path, umask022):
    import matplotlib.pyplot as plt
    import torch

    from visionkit.bench import write_report
    from visionkit.data import load_image_folder
    from visionkit.deep import save_checkpoint
    from visionkit.viz import save_figure

    fig = plt.figure()
    written = [save_figure(fig, tmp_path / "fig.png")]
    plt.close(fig)
    written += list(write_report(tmp_path / "report"))
    written += list(save_checkpoint(tmp_path / "ckpt", {"w": torch.zeros(2)}, {"a": 1}))
    from PIL import Image

    for c in "ab":
        (tmp_path / "imgs" / c).mkdir(parents=True)
        Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(tmp_path / "imgs" / c / "0.png")
    load_image_folder(tmp_path / "imgs", cache=tmp_path / "cache")
    written += list((tmp_path / "cache").iterdir())
    assert len(written) == 6
    assert {p.name: _mode(p) for p in written} == {p.name: 0o644 for p in written}
    assert not list(tmp_path.rglob("*.tmp*"))


def test_a_report_that_cannot_be_written_leaves_no_tmp(tmp_path):
    from visionkit.bench import write_report

    (tmp_path / "report.html").mkdir()  # os.replace onto a folder fails, as a full disk would
    with pytest.raises(OSError):
        write_report(tmp_path)
    assert not [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
