"""Where the comparison's runs run: here, one after the other, or on a Dask cluster's workers.

:func:`~visionkit.bench.runner.run_experiment` builds one :class:`~visionkit.bench.runner.RunTask` per
(method, per-class size, seed) not yet in the store and hands them to an executor, whose
``map_runs(fn, tasks, split)`` yields each run's records as it finishes; the driver alone writes
the results store, so its correctness does not depend on the workers' file systems.

* :class:`LocalExecutor`: in this process, in order (``visionkit compare``'s default).
* :class:`DaskExecutor`: each run one Dask task (``distributed``), on a local cluster of ``workers``
  single-threaded processes, or on an existing scheduler (``address``: ``dask scheduler`` and
  ``dask worker`` on the machines). A task carries the data's *spec* (``DataSplit.source``: a name,
  a path), never the images: each worker process loads the split once, through the decoded-image
  cache for folders (:mod:`visionkit.data`), and keeps it for the next tasks. Every worker must
  therefore see the data at the same path (a shared file system, or the same copy on each machine);
  a worker whose data differ from the driver's (sizes, classes) refuses the task.
"""

from __future__ import annotations

import json
import re
from collections import OrderedDict
from typing import Any, Callable, Iterable, Iterator

from .._validate import VisionkitError

__all__ = ["LocalExecutor", "DaskExecutor", "make_executor", "check_executor_options", "EXECUTORS", "load_split_on_worker"]

EXECUTORS = ("local", "dask")


class LocalExecutor:
    """Runs the tasks in this process, one after the other, on the driver's split (nothing is copied)."""

    name = "local"

    def map_runs(self, fn: Callable, tasks: Iterable[Any], split: Any) -> Iterator[list[dict]]:
        """``fn(task, split, perturbed)`` for each task, in order; yields each result."""
        perturbed: dict = {}
        for task in tasks:
            yield fn(task, split, perturbed)

    def close(self) -> None:
        pass

    def __enter__(self) -> "LocalExecutor":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


# ------------------------------------------------------------------------------------- on a worker

#: Splits loaded by this (worker) process, by source, with their perturbed test sets; the two most recent.
_SPLITS: "OrderedDict[str, tuple[Any, dict]]" = OrderedDict()
_MAX_SPLITS = 2


def load_split_on_worker(source: dict[str, Any], expected: dict[str, Any]) -> tuple[Any, dict]:
    """The split ``source`` describes, loaded once per process (then kept), checked against the driver's.

    Parameters
    ----------
    source : dict
        ``DataSplit.source``: ``{"spec", "size", "random_state"}``, and ``"stream": True`` for a streamed folder.
    expected : dict
        The driver's ``{"n_train", "n_test", "classes"}``.

    Returns
    -------
    (DataSplit, dict)
        The split and this process's cache of its perturbed test sets.

    Raises
    ------
    VisionkitError
        When the worker's data differ from the driver's (another copy of the folder).
    """
    from .specs import load_data

    key = json.dumps(source, sort_keys=True)
    if key not in _SPLITS:
        size = source.get("size")
        split = load_data(source["spec"], size=None if size is None else tuple(size), random_state=source["random_state"],
                          stream=bool(source.get("stream", False)))
        _SPLITS[key] = (split, {})
        while len(_SPLITS) > _MAX_SPLITS:
            _SPLITS.popitem(last=False)
    _SPLITS.move_to_end(key)
    split = _SPLITS[key][0]
    got = dict(n_train=len(split.train), n_test=len(split.test), classes=list(split.classes))
    if got != expected:
        import socket

        diff = {k: (expected[k], got[k]) for k in expected if expected[k] != got[k]}
        raise VisionkitError(f"worker {socket.gethostname()}: the data {source['spec']!r} differ from the driver's "
                             f"({', '.join(f'{k}: {str(a)[:60]} there, {str(b)[:60]} here' for k, (a, b) in diff.items())}); "
                             "every worker must see the same data at the same path")
    return _SPLITS[key]


def _run_on_worker(fn: Callable, task: Any, source: dict[str, Any], expected: dict[str, Any]) -> list[dict]:
    split, perturbed = load_split_on_worker(source, expected)
    return fn(task, split, perturbed)


# ------------------------------------------------------------------------------------------ Dask

_ADDRESS = re.compile(r"^(tcp://|tls://|ucx://)?\[?[A-Za-z0-9._:-]+\]?:\d{1,5}$")


def _check_address(address: str) -> str:
    if not isinstance(address, str) or not _ADDRESS.match(address):
        raise VisionkitError(f"--address: expected HOST:PORT of a Dask scheduler (e.g. 10.0.0.1:8786 or "
                             f"tcp://head:8786), got {address!r}")
    return address if "://" in address else f"tcp://{address}"


def _import_distributed():
    try:
        import distributed  # noqa: F401
    except ImportError:
        raise VisionkitError("--executor dask needs Dask's 'distributed' package, which is not installed; "
                             "install it with: pip install -c constraints.txt \".[cluster]\"") from None
    return distributed


class DaskExecutor:
    """Each run one task on a Dask cluster; records come back to the driver as the runs finish.

    Parameters
    ----------
    workers : int, optional
        Start a local cluster (``LocalCluster(processes=True, threads_per_worker=1)``) of this many
        worker processes; default the machine's CPU count. Not with ``address``.
    address : str, optional
        ``HOST:PORT`` of a running scheduler (``dask scheduler``), whose workers (``dask worker
        HOST:PORT --nthreads 1``) run the tasks.

    Notes
    -----
    Workers started with ``--resources GPU=1`` (one per GPU, ``CUDA_VISIBLE_DEVICES`` set) get the
    networks' runs (deep and transfer methods); the classical runs go to any worker.
    Dask's nanny starts each worker with ``OMP_NUM_THREADS=1`` (and MKL / OpenBLAS alike): one run per
    core, no oversubscription. A task failing on a worker (an exception in a method) stops the
    comparison with that error; the runs that had finished are already stored.
    """

    name = "dask"

    def __init__(self, *, workers: int | None = None, address: str | None = None) -> None:
        distributed = _import_distributed()
        if workers is not None and address is not None:
            raise VisionkitError(f"--workers: the scheduler at --address {address} has its own workers; give one of "
                                 f"--workers (a local cluster) or --address, got both")
        if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 1):
            raise VisionkitError(f"--workers: expected an integer >= 1, got {workers!r}")
        self.address = _check_address(address) if address is not None else None
        self.cluster = None
        if self.address is None:
            import os

            self.cluster = distributed.LocalCluster(n_workers=workers or os.cpu_count() or 1, threads_per_worker=1,
                                                    processes=True, dashboard_address=None)
            self.client = distributed.Client(self.cluster)
        else:
            try:
                self.client = distributed.Client(self.address, timeout="20s")
            except (OSError, TimeoutError) as exc:
                raise VisionkitError(f"--address: no Dask scheduler answers at {self.address} ({exc}); start one with "
                                     "'dask scheduler' and workers with 'dask worker HOST:8786 --nthreads 1'") from None

    @property
    def n_workers(self) -> int:
        return len(self.client.scheduler_info().get("workers", {}))

    def map_runs(self, fn: Callable, tasks: Iterable[Any], split: Any) -> Iterator[list[dict]]:
        """Submit every task (with ``split.source``, never the images); yield each result as it finishes."""
        from distributed import as_completed

        tasks = list(tasks)
        if not tasks:
            return
        if split.source is None:
            raise VisionkitError("--executor dask: the workers load the data themselves from its spec, and this split "
                                 "was built in memory; load it with visionkit.bench.load_data(spec)")
        expected = dict(n_train=len(split.train), n_test=len(split.test), classes=list(split.classes))
        futures = [self.client.submit(_run_on_worker, fn, t, split.source, expected, pure=False, resources=self._resources(t))
                   for t in tasks]
        try:
            for fut in as_completed(futures):
                yield fut.result()
        finally:  # an error, Ctrl-C or the caller stopping: nothing left running for nobody
            self.client.cancel([f for f in futures if not f.done()])

    def _resources(self, task: Any) -> dict[str, int] | None:
        """``{"GPU": 1}`` for a network's run when some workers say they hold a GPU (``dask worker
        --resources GPU=1``): the networks then go to those, the classical runs to any worker. A run
        trained by ``nproc`` processes (``--nproc``) asks for ``nproc`` GPUs: a worker that says it holds
        8 (``--resources GPU=8``) runs one such run at a time."""
        from .. import registry

        if not hasattr(self, "_has_gpu_workers"):
            workers = self.client.scheduler_info().get("workers", {}).values()
            self._has_gpu_workers = any((w.get("resources") or {}).get("GPU") for w in workers)
        if self._has_gpu_workers and registry.get_spec(task.base["method"]).family != "classical":
            return {"GPU": max(1, task.nproc)}
        return None

    def close(self) -> None:
        self.client.close()
        if self.cluster is not None:
            self.cluster.close()

    def __enter__(self) -> "DaskExecutor":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def check_executor_options(kind: str, *, workers: int | None = None, address: str | None = None) -> None:
    """Refuse an unknown executor, options it does not take, a malformed address or a missing Dask,
    before anything starts (``visionkit compare`` calls it before loading the data)."""
    if kind not in EXECUTORS:
        raise VisionkitError(f"--executor: expected one of {', '.join(EXECUTORS)}, got {kind!r}")
    if kind == "local":
        if workers is not None or address is not None:
            raise VisionkitError(f"--{'workers' if workers is not None else 'address'}: only with --executor dask "
                                 "(the local executor runs the runs in this process)")
        return
    _import_distributed()
    if workers is not None and address is not None:
        raise VisionkitError(f"--workers: the scheduler at --address {address} has its own workers; give one of "
                             f"--workers (a local cluster) or --address, got both")
    if address is not None:
        _check_address(address)


def make_executor(kind: str = "local", *, workers: int | None = None, address: str | None = None):
    """An executor by name (``visionkit compare --executor``): ``"local"`` or ``"dask"``.

    Raises
    ------
    VisionkitError
        An unknown kind, ``workers`` / ``address`` with ``local``, or Dask not installed.
    """
    check_executor_options(kind, workers=workers, address=address)
    if kind == "local":
        return LocalExecutor()
    return DaskExecutor(workers=workers, address=address)
