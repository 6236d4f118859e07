"""Progress inside long steps: one switch for the whole library, nested bars, quiet off a terminal.

Every step that may take more than a few seconds (decoding a folder, extracting descriptors, the
vocabulary's k-means, encoding, an SVM's fit, each training epoch, prediction) draws its bar through
:func:`progress_bar` or :func:`stage`. Whether bars are drawn is decided in one place:

* ``visionkit.verbose(True)`` (a context manager) or ``run_experiment(..., verbose=True)``: drawn;
* ``visionkit.verbose(False)``: never drawn;
* unset (the default from Python): not drawn; the ``visionkit`` command sets "auto", which draws them
  only when stderr is a terminal (so logs and CI output stay clean).

Bars opened while another is open nest under it (tqdm stacks them), and inner bars vanish when done
(``leave=False``), so a comparison shows the run bar with the current step beneath it.

>>> import visionkit
>>> with visionkit.verbose(False):
...     bar = progress_bar(range(3), desc="quiet")
>>> bar.disable
True
"""

from __future__ import annotations

import contextlib
import contextvars
import sys
import threading
import time
from typing import Any, Iterable, Iterator

from ._validate import VisionkitError

__all__ = ["verbose", "progress_bar", "stage", "is_verbose", "shows_progress"]

# True: draw; False: never; "auto": draw on a terminal; None (unset): do not draw
_VERBOSE: contextvars.ContextVar[bool | str | None] = contextvars.ContextVar("visionkit_verbose", default=None)


@contextlib.contextmanager
def verbose(enabled: bool | str = True) -> Iterator[None]:
    """Draw progress bars inside this block (``True``), never (``False``), or on a terminal only (``"auto"``).

    Examples
    --------
    >>> import visionkit
    >>> with visionkit.verbose():
    ...     pass  # fit, transform, run_experiment: each long step draws its bar
    """
    if enabled not in (True, False, "auto"):
        raise VisionkitError(f"verbose: expected True, False or 'auto', got {enabled!r}")
    token = _VERBOSE.set(enabled)
    try:
        yield
    finally:
        _VERBOSE.reset(token)


def is_verbose() -> bool | str | None:
    """The current setting: True, False, "auto" or None (unset)."""
    return _VERBOSE.get()


def _disable(force: bool | None) -> bool | None:
    """tqdm's ``disable`` for the current setting; ``force`` (an estimator's own ``progress=True``) wins."""
    if force:
        return False
    setting = _VERBOSE.get()
    if setting is True:
        return False
    if setting == "auto":
        return None  # tqdm: disabled when the stream is not a terminal
    return True


def shows_progress(force: bool | None = None) -> bool:
    """Whether a bar drawn now on stderr would show (the rule of :func:`progress_bar`), e.g. for log lines."""
    disable = _disable(force)
    return sys.stderr.isatty() if disable is None else not disable


def progress_bar(iterable: Iterable | None = None, *, desc: str, total: int | None = None, unit: str = "it",
                 leave: bool = False, force: bool | None = None, **kwargs: Any):
    """A tqdm bar that follows :func:`verbose` (nested under any open bar, gone when done).

    Parameters
    ----------
    iterable : iterable, optional
    desc : str
        What is being done ("descriptors", "epoch 3/20", ...).
    total : int, optional
    unit : str
    leave : bool
        Keep the bar on screen when it closes.
    force : bool, optional
        Draw whatever the setting (an estimator's own ``progress=True``).
    """
    from tqdm.auto import tqdm

    return tqdm(iterable, desc=desc, total=total, unit=unit, leave=leave, disable=_disable(force),
                dynamic_ncols=True, **kwargs)


@contextlib.contextmanager
def stage(desc: str, *, force: bool | None = None, interval: float = 0.5) -> Iterator[None]:
    """A bar with the elapsed time for a step that reports no progress of its own (an SVM's fit).

    A background thread refreshes it every ``interval`` seconds; nothing runs when bars are off.

    >>> with stage("fitting"):
    ...     pass
    """
    bar = progress_bar(desc=desc, total=None, unit="s", force=force, bar_format="{desc}: {elapsed}")
    if bar.disable:
        yield
        return
    done = threading.Event()

    def tick() -> None:
        while not done.wait(interval):
            bar.refresh()

    thread = threading.Thread(target=tick, daemon=True)
    thread.start()
    t0 = time.perf_counter()
    try:
        yield
    finally:
        done.set()
        thread.join()
        bar.set_description_str(f"{desc} ({time.perf_counter() - t0:.1f} s)")
        bar.close()
