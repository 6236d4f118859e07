"""The results store: one JSON line per run in ``OUT/results.jsonl``, written atomically.

Every write rewrites the file into a temporary file, flushes it to disk and renames it over the old
one (``os.replace``), so a process killed at any moment (even by SIGKILL) leaves either the old file
or the new one, never a partial line; finished runs are never lost.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

__all__ = ["ResultStore", "run_key"]


def run_key(**fields: Any) -> str:
    """A stable hash of what defines a run (method, parameters, data, subset, seed, perturbation)."""
    text = json.dumps(fields, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


class ResultStore:
    """Append-only (by atomic rewrite) JSON-lines store keyed by ``record["key"]``."""

    def __init__(self, out_dir: str | os.PathLike) -> None:
        self.dir = Path(out_dir)
        self.path = self.dir / "results.jsonl"
        self.records: list[dict] = []
        if self.path.is_file():
            for line in self.path.read_text().splitlines():
                line = line.strip()
                if not line:
                    continue
                try:
                    self.records.append(json.loads(line))
                except json.JSONDecodeError:  # cannot happen with atomic writes; tolerate hand edits
                    continue
        self._keys = {r.get("key") for r in self.records}

    def __contains__(self, key: str) -> bool:
        return key in self._keys

    def __len__(self) -> int:
        return len(self.records)

    def add(self, record: dict) -> None:
        """Add one record and persist the whole store atomically."""
        if "key" not in record:
            raise KeyError("record needs a 'key'")
        self.records.append(record)
        self._keys.add(record["key"])
        self.dir.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.dir, prefix=".results.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w") as fh:
                for r in self.records:
                    fh.write(json.dumps(r, sort_keys=True) + "\n")
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
