"""The one chunked-parallel runner of the classical side: a function over consecutive chunks of a list."""

from __future__ import annotations

from typing import Any, Callable, Sequence

from joblib import Parallel, delayed

from .._validate import check_positive


def map_chunks(
    fn: Callable[[Sequence, int], Any],
    items: Sequence,
    *,
    chunk_size: int,
    n_jobs: int | None = None,
    consume: Callable[[int, Any], None] | None = None,
    desc: str | None = None,
) -> list:
    """``fn(chunk, index)`` over consecutive chunks of ``items``, results in order, chunks in parallel.

    Parameters
    ----------
    fn : callable
        ``fn(chunk, chunk_index) -> result``. In parallel it runs in a joblib worker process.
    items : sequence
    chunk_size : int
        Items per chunk (the last one may be shorter).
    n_jobs : int or None
        joblib workers; ``None`` or 1, or a single chunk: in this process. In a worker OpenCV runs
        on one thread, since the workers already fill the cores.
    consume : callable or None
        ``consume(chunk_index, result)`` is called as each result arrives, and the result is not
        kept (the list returned is then empty): the caller can write it into a preallocated array.
        Only a few chunks' results are in flight at once (joblib's ``return_as="generator"``).
    desc : str, optional
        A progress bar over the items, labelled ``desc`` (drawn when :func:`visionkit.verbose` says so).

    Returns
    -------
    list
        ``fn``'s results, one per chunk, in order; empty with ``consume``.
    """
    chunk_size = check_positive(chunk_size, "chunk_size", integer=True)
    chunks = [items[i : i + chunk_size] for i in range(0, len(items), chunk_size)]
    if n_jobs in (None, 1) or len(chunks) <= 1:
        results = (fn(c, i) for i, c in enumerate(chunks))
    else:
        results = Parallel(n_jobs=n_jobs, return_as="generator")(delayed(_in_worker)(fn, c, i) for i, c in enumerate(chunks))
    if desc is not None:
        results = _counted(results, chunks, desc)
    if consume is None:
        return list(results)
    for i, r in enumerate(results):
        consume(i, r)
    return []


def _counted(results, chunks: list, desc: str):
    """``results`` as they arrive, advancing a bar by each chunk's length."""
    from .._progress import progress_bar

    with progress_bar(desc=desc, total=sum(len(c) for c in chunks), unit="image") as bar:
        for chunk, r in zip(chunks, results):
            bar.update(len(chunk))
            yield r


def _in_worker(fn: Callable[[Sequence, int], Any], chunk: Sequence, index: int) -> Any:
    import cv2

    cv2.setNumThreads(1)
    return fn(chunk, index)
