"""Metrics of one run: accuracy, mean per-class accuracy, macro-F1, confusion matrix, peak memory."""

from __future__ import annotations

import threading
import time

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


def _rss_bytes() -> int:
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * 4096
    except OSError:  # not Linux: fall back to the process's lifetime peak
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


class PeakMemory:
    """Context manager sampling the process's resident memory; ``peak_mb`` is the peak above the start.

    Samples every ``interval`` seconds in a background thread (so short spikes can be missed).
    """

    def __init__(self, interval: float = 0.05) -> None:
        self.interval = interval
        self.peak_mb = 0.0
        self._stop = threading.Event()

    def _run(self) -> None:
        while not self._stop.is_set():
            self._peak = max(self._peak, _rss_bytes())
            time.sleep(self.interval)

    def __enter__(self) -> "PeakMemory":
        self._start = self._peak = _rss_bytes()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self._peak = max(self._peak, _rss_bytes())
        self.peak_mb = (self._peak - self._start) / 2**20


def environment() -> dict:
    """Versions and hardware, recorded with every run."""
    import os
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
