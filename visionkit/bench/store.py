"""The results store: one JSON line per run in ``OUT/results.jsonl``, safe for concurrent writers.

Every record is appended as one line, in one ``write`` call, under an exclusive ``fcntl.flock`` on
``OUT/results.jsonl.lock``, then flushed to disk (``fsync``). Any number of processes on one file
system may add to the same folder at once: nothing is rewritten, so nothing another process added
can be lost. A process killed mid-write (even by SIGKILL) leaves at worst a partial last line; the
next append starts on a new line, so the fragment never merges into a record, and readers skip it.

Readers re-read the file (only what was appended since their last look, under a shared lock) before
answering ``key in store``, ``len(store)`` or ``store.records``, so they see records other
processes added. Lines that are not a JSON object with a string ``"key"`` are skipped with a warning
naming the file and the line; a repeated key keeps its first record.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import warnings
from pathlib import Path
from typing import Any

from .._atomic import _fsync_dir
from .._validate import VisionkitError

__all__ = ["ResultStore", "run_key"]


def run_key(**fields: Any) -> str:
    """A stable hash of what defines a run (method, parameters, data, subset, seed, perturbation)."""
    text = json.dumps(fields, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


class _Lock:
    """``fcntl.flock`` on a lock file beside the results (never on the results file itself)."""

    def __init__(self, path: Path, exclusive: bool) -> None:
        self.path = path
        self.exclusive = exclusive
        self.fd: int | None = None

    def __enter__(self) -> "_Lock":
        try:
            self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
        except OSError:
            if self.exclusive:
                raise
            # a read-only folder: no writer can be appending, and readers only take whole lines anyway
            return self
        fcntl.flock(self.fd, fcntl.LOCK_EX if self.exclusive else fcntl.LOCK_SH)
        return self

    def __exit__(self, *exc) -> None:
        if self.fd is not None:
            os.close(self.fd)  # closing releases the lock
            self.fd = None


class ResultStore:
    """Append-only JSON-lines store of run records keyed by ``record["key"]``.

    Parameters
    ----------
    out_dir : str or os.PathLike
        The output folder; records live in ``out_dir/results.jsonl`` (created on the first
        :meth:`add`), the lock in ``out_dir/results.jsonl.lock``.

    Notes
    -----
    Safe for any number of processes adding to one folder at once on one file system (``flock``
    is advisory and not reliable over some network file systems).
    """

    def __init__(self, out_dir: str | os.PathLike) -> None:
        self.dir = Path(out_dir)
        self.path = self.dir / "results.jsonl"
        self.lock_path = self.dir / "results.jsonl.lock"
        self._records: list[dict] = []
        self._keys: set[str] = set()
        self._offset = 0  # bytes of the file already parsed (always just after a "\n")
        self._line = 0  # lines already parsed
        self._inode: int | None = None
        self.refresh()

    # ------------------------------------------------------------------ reading

    def refresh(self) -> None:
        """Read the records appended since the last look (all of them if the file was replaced)."""
        if not self.path.is_file():
            return
        with _Lock(self.lock_path, exclusive=False):
            self._read_new()

    def _read_new(self) -> None:
        try:
            fh = open(self.path, "rb")
        except FileNotFoundError:
            return
        with fh:
            st = os.fstat(fh.fileno())
            if st.st_ino != self._inode or st.st_size < self._offset:  # replaced or truncated: start over
                self._records, self._keys, self._offset, self._line = [], set(), 0, 0
                self._inode = st.st_ino
            fh.seek(self._offset)
            data = fh.read()
        end = data.rfind(b"\n") + 1  # a partial last line is left for later (or for ever)
        for raw in data[:end].split(b"\n")[:-1]:
            self._line += 1
            self._parse(raw)
        self._offset += end

    def _parse(self, raw: bytes) -> None:
        if not raw.strip():
            return
        problem = None
        try:
            rec = json.loads(raw)
        except RecursionError:  # JSON nested deeper than the parser's recursion limit
            problem = "not valid JSON (nested too deeply)"
        except ValueError as exc:  # JSONDecodeError, bad UTF-8, an integer of more than 4300 digits
            problem = f"not valid JSON ({exc.__class__.__name__}: {str(exc)[:200]})"
        else:
            if not isinstance(rec, dict):
                problem = f"expected a JSON object, got {type(rec).__name__} {raw[:60].decode(errors='replace')!r}"
            elif not isinstance(rec.get("key"), str):
                problem = f"expected a record with a string 'key', got {'no key' if 'key' not in rec else repr(rec['key'])}"
        if problem is not None:
            warnings.warn(f"{self.path}: line {self._line} skipped: {problem}", stacklevel=4)
            return
        if rec["key"] in self._keys:  # two processes finished the same run: the first record stands
            return
        self._keys.add(rec["key"])
        self._records.append(rec)

    @property
    def records(self) -> list[dict]:
        """Every valid record in the file, in the order written (re-read first)."""
        self.refresh()
        return list(self._records)

    def __contains__(self, key: str) -> bool:
        if key in self._keys:  # records are never removed: no need to look again
            return True
        self.refresh()
        return key in self._keys

    def __len__(self) -> int:
        self.refresh()
        return len(self._records)

    # ------------------------------------------------------------------ writing

    def add(self, record: dict) -> bool:
        """Append one record, under the exclusive lock, flushed to disk.

        Parameters
        ----------
        record : dict
            JSON-serialisable, with a string ``"key"``.

        Returns
        -------
        bool
            ``True`` if written; ``False`` if a record with that key was already in the file
            (another process finished the same run first).

        Raises
        ------
        VisionkitError
            If ``record`` is not a dict with a string ``"key"``.
        """
        if not isinstance(record, dict) or not isinstance(record.get("key"), str):
            raise VisionkitError(f"ResultStore.add: expected a dict with a string 'key', got {type(record).__name__}"
                                 + (f" with keys {sorted(record)[:8]}" if isinstance(record, dict) else ""))
        line = (json.dumps(record, sort_keys=True) + "\n").encode()
        self.dir.mkdir(parents=True, exist_ok=True)
        with _Lock(self.lock_path, exclusive=True):
            self._read_new()
            if record["key"] in self._keys:
                return False
            created = not self.path.exists()
            fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o666)
            try:
                size = os.fstat(fd).st_size
                if size and os.pread(fd, 1, size - 1) != b"\n":
                    line = b"\n" + line  # a killed writer's fragment stays on its own (skipped) line
                view = memoryview(line)
                while view:
                    view = view[os.write(fd, view):]
                os.fsync(fd)
            finally:
                os.close(fd)
            if created:
                _fsync_dir(self.dir)
            self._read_new()  # take our own line (and any fragment before it) into the index
        return True

