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
    if consume is None:
        return list(results)
    for i, r in enumerate(results):
        consume(i, r)
    return []


def _in_worker(fn: Callable[[Sequence, int], Any], chunk: Sequence, index: int) -> Any:
    import cv2

    cv2.setNumThreads(1)
    return fn(chunk, index)
