"""Atomic file writes: a reader sees the old file or the new one, never half of one."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Callable

__all__ = ["atomic_write"]


def atomic_write(path: str | os.PathLike, content: bytes | str | Callable[[str], object]) -> Path:
    """Write a file atomically, synced to disk, with the mode the umask gives new files.

    The data goes to a temporary file beside ``path`` (``.NAME.RANDOM.tmp``, created with mode
    ``0o666 & ~umask`` like any new file, not the 0600 of ``tempfile.mkstemp``), which is flushed
    (``fsync``), renamed over ``path`` (``os.replace``), and the folder is synced so that the rename
    survives a crash. On any error, the temporary file is removed and the old ``path`` is untouched.

    Parameters
    ----------
    path : str or os.PathLike
        The file to write; its folder is created if needed.
    content : bytes, str or callable
        The bytes (a str is encoded as UTF-8), or a function called with the temporary file's path
        (a str) that writes the file there, e.g. ``lambda tmp: np.save(open(tmp, "wb"), a)``.

    Returns
    -------
    pathlib.Path
        ``path``.

    Raises
    ------
    TypeError
        If ``content`` is neither bytes, str nor callable (nothing is written).
    OSError, or whatever the function raises
        After removing the temporary file; ``path`` keeps its old content.

    Examples
    --------
    >>> import tempfile
    >>> p = atomic_write(Path(tempfile.mkdtemp()) / "a.txt", "hello")
    >>> p.read_text()
    'hello'
    """
    if not (callable(content) or isinstance(content, (bytes, bytearray, memoryview, str))):
        raise TypeError(f"atomic_write: expected bytes, str or a function of the temporary path, got {type(content).__name__}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f".{path.name[:200]}.{secrets.token_hex(4)}.tmp"  # stays under NAME_MAX (255)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)  # the umask applies, as for open()
    try:
        if callable(content):
            mode = os.fstat(fd).st_mode & 0o777  # 0o666 & ~umask
            os.close(fd)
            fd = -1
            content(str(tmp))
            os.chmod(tmp, mode)  # writers that recreate the file (safetensors) make it 0600
            fd = os.open(tmp, os.O_RDONLY)
        else:
            view = memoryview(content.encode() if isinstance(content, str) else content).cast("B")
            while view:
                view = view[os.write(fd, view):]
        os.fsync(fd)
        os.close(fd)
        fd = -1
        os.replace(tmp, path)
    except BaseException:
        if fd >= 0:
            os.close(fd)
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    _fsync_dir(path.parent)
    return path


def _fsync_dir(path: Path) -> None:
    """Sync a folder's entries (a rename) to disk, where the file system allows it."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:  # some file systems cannot sync a directory
        pass
    finally:
        os.close(fd)
