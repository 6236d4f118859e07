"""Metrics of one run: accuracy, mean per-class accuracy, macro-F1, confusion matrix, peak memory."""

from __future__ import annotations

import os
import threading

import numpy as np
from sklearn.metrics import confusion_matrix, f1_score

__all__ = ["classification_metrics", "PeakMemory", "environment"]


def classification_metrics(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> dict:
    """Accuracy, mean per-class accuracy (balanced accuracy), macro-F1 and the confusion matrix.

    Classes absent from ``y_true`` are left out of the per-class mean.
    """
    y_true = np.asarray(y_true)
    y_pred = np.asarray(y_pred)
    labels = np.arange(n_classes)
    cm = confusion_matrix(y_true, y_pred, labels=labels)
    support = cm.sum(axis=1)
    per_class = np.divide(np.diag(cm), support, out=np.zeros(n_classes), where=support > 0)
    return {
        "accuracy": float((y_true == y_pred).mean()),
        "mean_class_accuracy": float(per_class[support > 0].mean()),
        "macro_f1": float(f1_score(y_true, y_pred, labels=labels[support > 0], average="macro", zero_division=0)),
        "confusion_matrix": cm.tolist(),
    }


_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def _descendants(pid: int) -> list[int]:
    """The process ids of ``pid``'s children, their children, and so on (Linux ``/proc``; [] elsewhere)."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        try:
            tasks = os.listdir(f"/proc/{p}/task")
        except OSError:
            continue
        for t in tasks:
            try:
                with open(f"/proc/{p}/task/{t}/children") as fh:
                    kids = [int(k) for k in fh.read().split()]
            except (OSError, ValueError):
                continue
            out += kids
            todo += kids
    return out


def _rss_of(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/statm") as fh:
            return int(fh.read().split()[1]) * _PAGE
    except (OSError, ValueError, IndexError):  # the process ended between listing and reading
        return 0


def _self_maxrss() -> int:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux


def _tree_rss() -> tuple[int, int]:
    """(resident bytes of this process, of this process plus all its descendants)."""
    me = os.getpid()
    own = _rss_of(me)
    if not own:  # no /proc (not Linux): the lifetime peak, the best there is
        own = _self_maxrss()
        return own, own
    return own, own + sum(_rss_of(p) for p in _descendants(me))


class PeakMemory:
    """Context manager measuring the peak resident memory (RSS) of this process and its workers.

    A background thread samples, every ``interval`` seconds, the RSS of this process plus that of every
    descendant process (joblib / loky workers, data-loader workers), read from ``/proc``. Pages shared
    between processes (libraries) are counted once per process, so with workers the figure is an upper
    bound. Between samples the kernel's own peak of this process (``getrusage`` ``ru_maxrss``) is used
    when it rose during the block, so a short spike in the main process is not missed; a short spike
    in a worker can be.

    Attributes
    ----------
    peak_mb : float
        The peak of the summed RSS during the block, in MiB: what the machine needed, including what
        was resident at the start (the interpreter, the libraries, the data).
    increase_mb : float
        ``peak_mb`` minus the summed RSS at the start: what the block added. Memory that the
        allocator reuses from earlier work in the same process does not show here.
    start_mb : float
        The summed RSS at the start.
    """

    def __init__(self, interval: float = 0.05) -> None:
        if not interval > 0:
            from .._validate import VisionkitError

            raise VisionkitError(f"interval: expected seconds > 0, got {interval!r}")
        self.interval = interval
        self.peak_mb = self.increase_mb = self.start_mb = 0.0
        self._stop = threading.Event()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self._peak = max(self._peak, _tree_rss()[1])

    def __enter__(self) -> "PeakMemory":
        self._maxrss0 = _self_maxrss()
        self._start = self._peak = _tree_rss()[1]
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        own, total = _tree_rss()
        self._peak = max(self._peak, total)
        maxrss = _self_maxrss()
        if maxrss > self._maxrss0:  # the main process reached a new lifetime peak inside the block
            self._peak = max(self._peak, maxrss + (total - own))
        self.start_mb = self._start / 2**20
        self.peak_mb = self._peak / 2**20
        self.increase_mb = max(0.0, (self._peak - self._start) / 2**20)


def environment() -> dict:
    """Versions and hardware, recorded with every run."""
    import platform

    import cv2
    import sklearn
    import torch

    from .. import __version__

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {
        "visionkit": __version__,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "opencv": cv2.__version__,
        "scikit-learn": sklearn.__version__,
        "torch": torch.__version__,
        "cpu": cpu,
        "cpu_count": os.cpu_count(),
        "gpu": torch.cuda.get_device_name() if torch.cuda.is_available() else None,
    }
