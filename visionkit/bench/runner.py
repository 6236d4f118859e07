"""Run registered methods on the same images, subsets and seeds, and record what each costs.

One run = one method fitted on one training subset (``per_class`` images of each class drawn with
one seed) and evaluated on the whole test set, clean and, with ``robustness=True``, under each
perturbation. Subsets depend only on the seed and the size, so every method sees the same images.
Finished runs are skipped on a rerun (by key); Ctrl-C stops between runs without losing anything.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

from .. import registry
from .._progress import stage
from .._validate import VisionkitError
from ..data import take_images
from .metrics import PeakMemory, classification_metrics, environment
from .perturb import DEFAULT_STRENGTHS, perturb
from .specs import DataSplit
from .store import ResultStore, run_key

__all__ = ["sample_per_class", "run_experiment", "count_size", "RunTask", "run_one"]


def sample_per_class(labels: np.ndarray, n: int | str, *, random_state: int) -> np.ndarray:
    """Indices of ``n`` images of each class (all of a class if it has fewer), drawn with ``random_state``.

    ``n="all"`` returns every index. The draw depends only on ``labels``, ``n`` and the seed.
    """
    labels = np.asarray(labels)
    if n == "all":
        return np.arange(len(labels))
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise VisionkitError(f"per_class: expected a positive int or 'all', got {n!r}")
    rng = np.random.default_rng([int(random_state), int(n)])
    picked = []
    for c in np.unique(labels):
        idx = np.flatnonzero(labels == c)
        picked.append(rng.choice(idx, size=min(int(n), len(idx)), replace=False))
    return np.sort(np.concatenate(picked))


def count_size(method: Any, sample: np.ndarray | list) -> dict:
    """Parameter count (deep) or feature dimension (classical) of a fitted method, where it tells."""
    import torch

    for attr in ("model_", "module_", "net_"):
        m = getattr(method, attr, None)
        if isinstance(m, torch.nn.Module):
            return {"n_parameters": int(sum(p.numel() for p in m.parameters()))}
    for attr in ("n_parameters_", "n_params_"):
        if hasattr(method, attr):
            return {"n_parameters": int(getattr(method, attr))}
    if hasattr(method, "transform"):
        try:
            feats = method.transform(sample)
            return {"feature_dim": int(np.asarray(feats).reshape(len(feats), -1).shape[1])}
        except Exception:  # a method whose transform needs more than a sample: size unknown
            return {}
    return {}


def _is_network(method: Any) -> bool:
    """Whether ``nproc`` processes can train ``method`` (``fit_torchrun``): a :class:`~visionkit.deep.DeepClassifier`."""
    from ..deep.estimator import DeepClassifier

    return isinstance(method, DeepClassifier)


def network_methods() -> list[str]:
    """The registered methods that ``visionkit compare --nproc`` trains data-parallel (the networks)."""
    return [m for m in registry.list_methods() if _is_network(registry.create(m))]


def _world_size(method: Any, nproc: int) -> int:
    """How many processes train ``method``: ``nproc`` for a network, 1 for anything else."""
    return int(nproc) if nproc > 1 and _is_network(method) else 1


def _perturb_any(images, kind, strength, seed):
    if isinstance(images, np.ndarray):
        return perturb(images, kind, strength, random_state=seed)
    return [perturb(im[None], kind, strength, random_state=seed + i)[0] for i, im in enumerate(images)]


def run_experiment(
    split: DataSplit,
    methods: Sequence[str],
    *,
    out: str,
    per_class: Iterable[int | str] = ("all",),
    seeds: Iterable[int] = (0,),
    robustness: bool | dict[str, list[float]] = False,
    method_params: dict[str, dict] | None = None,
    device: str | None = None,
    progress: bool = True,
    verbose: bool | str | None = None,
    log=print,
    executor: Any = None,
    nproc: int = 1,
) -> ResultStore:
    """Run every method on every (per-class size, seed) and store one record per evaluation.

    Parameters
    ----------
    split : DataSplit
        Train and test data (uint8 (N, H, W, C) images).
    methods : list of str
        Registered method names (``visionkit.registry.list_methods()``).
    out : str
        Output folder; results go to ``out/results.jsonl``.
    per_class : iterable of int or "all"
        Training images per class (the data-efficiency experiment).
    seeds : iterable of int
        One run per seed, integers from 0 to ``2**32 - 1``: the subset draw and the method's
        ``random_state`` both use it.
    robustness : bool or dict
        Also evaluate under perturbations (``True``: :data:`DEFAULT_STRENGTHS`; a dict picks kinds and strengths).
    method_params : dict, optional
        ``{method: {param: value}}`` passed to ``registry.create``; checked before any work (an unknown
        method or parameter is a :class:`~visionkit.VisionkitError` listing the valid ones).
    device : {"cpu", "cuda", "auto"}, optional
        Passed to every method that takes a ``device`` (the networks), unless ``method_params`` sets
        it. Not part of the run key: a run on the GPU finds the CPU run of the same recipe.
    progress : bool
        The bar that counts runs.
    verbose : bool or "auto", optional
        Bars inside each run (decoding, descriptors, vocabulary, encoding, the SVM's fit, each
        training epoch with loss, accuracy and images/s, prediction), nested under the run bar:
        ``True`` always, ``"auto"`` on a terminal only (the ``visionkit`` command), ``None`` keeps the
        caller's :func:`visionkit.verbose` setting (off by default).
    executor : Executor, optional
        Runs the runs and hands back their records as they finish (:mod:`visionkit.bench.executors`:
        ``LocalExecutor``, the default, in this process one after the other; ``DaskExecutor`` on a
        cluster's workers). This process alone writes the store, so a rerun skips what finished.
    nproc : int
        Train each network (the methods that are a :class:`~visionkit.deep.DeepClassifier`) data-parallel
        in ``nproc`` processes, ``torchrun --standalone`` on the machine that runs the run
        (:func:`~visionkit.deep.distributed.fit_torchrun`: the recipe's global batch and learning rate,
        gloo on the CPU, one GPU per process with ``device="cuda"``). Not part of the run key, like
        ``device``; each record says its ``world_size``. Other methods run in one process.

    Returns
    -------
    ResultStore
    """
    import contextlib

    from tqdm.auto import tqdm

    from .._progress import verbose as verbose_ctx

    methods, method_params, per_class, seeds = _check_run(methods, method_params, per_class, seeds, device)
    if isinstance(nproc, bool) or not isinstance(nproc, (int, np.integer)) or nproc < 1:
        raise VisionkitError(f"nproc: expected an integer >= 1, got {nproc!r}")
    strengths = DEFAULT_STRENGTHS if robustness is True else (robustness or {})
    store = ResultStore(out)
    takes_device = {m for m in methods if device is not None and "device" in (registry.valid_params(m) or ())}

    tasks = []
    for seed, n, name in [(seed, n, m) for seed in seeds for n in per_class for m in methods]:
        spec = registry.get_spec(name)
        params = {**spec.defaults, **method_params.get(name, {})}
        base = {"method": name, "params": params, "data": split.name, "per_class": n, "seed": seed}
        evals = [None] + [(k, s) for k, ss in strengths.items() for s in ss]
        keys = [run_key(**base, perturbation=p) for p in evals]
        todo = [(k, p) for k, p in zip(keys, evals) if k not in store]
        if not todo:
            continue
        extra = {"random_state": seed} if _accepts_seed(spec.factory) else {}
        if name in takes_device:
            extra["device"] = device
        tasks.append(RunTask(base=base, create_params={**extra, **method_params.get(name, {})},
                             keys=[k for k, _ in todo], evals=[p for _, p in todo], nproc=int(nproc)))

    from .executors import LocalExecutor

    executor = executor if executor is not None else LocalExecutor()
    bar = tqdm(total=len(tasks), desc="runs", disable=not progress, leave=True)

    def still_to_do():
        # read lazily: the local executor takes a task just before running it, so runs that another process
        # sharing this folder finished meanwhile are skipped (a cluster takes them all at once)
        for task in tasks:
            if all(k in store for k in task.keys):
                bar.update(1)
                continue
            yield task

    try:
        # the executor runs the tasks (here, or on a cluster's workers) and hands back each run's records as it
        # finishes; only this process writes the store. Bars inside the runs: in this process only
        with contextlib.nullcontext() if verbose is None else verbose_ctx(verbose):
            _store_records(executor.map_runs(run_one, still_to_do(), split), store, bar, log, split=split)
    finally:
        bar.close()
    return store


def _store_records(results, store: ResultStore, bar, log, *, split: DataSplit) -> None:
    """Store each run's records as they come back (this process alone writes), log the clean one, and
    keep thumbnails of its misclassified examples for the report (:func:`save_examples`)."""
    for records in results:
        for record in records:
            if record.get("misclassified"):
                save_examples(store.dir, record, split.test.images)
            store.add(record)
            if record["perturbation"] is None:
                log(f"{record['method']:18s} n/class={str(record['per_class']):>4s} seed={record['seed']} "
                    f"acc={record['accuracy']:.4f} fit={record['fit_seconds']:.1f}s "
                    f"predict={record['predict_images_per_second']:.0f} img/s")
        if records:
            bar.set_postfix_str(f"{records[0]['method']} n={records[0]['per_class']} seed={records[0]['seed']}")
        bar.update(1)


@dataclass(frozen=True)
class RunTask:
    """One run for an executor: a method fitted on one subset, evaluated clean and under perturbations.

    Attributes
    ----------
    base : dict
        ``method``, ``params`` (as asked: part of the key), ``data``, ``per_class``, ``seed``.
    create_params : dict
        What ``registry.create`` gets (the asked parameters, ``random_state``, ``device``).
    keys : list of str
        The store keys of the evaluations still to do, one per entry of ``evals``.
    evals : list
        ``None`` (the clean test set) or ``(kind, strength)`` of a perturbation.
    nproc : int
        Processes that train a deep method data-parallel (:func:`~visionkit.deep.distributed.fit_torchrun`);
        1: in the calling process. Methods other than a :class:`~visionkit.deep.DeepClassifier` use one.
    """

    base: dict
    create_params: dict
    keys: list
    evals: list
    nproc: int = 1


def run_one(task: RunTask, split: DataSplit, perturbed: dict | None = None) -> list[dict]:
    """Fit ``task``'s method on its subset of ``split`` and evaluate it: one record per evaluation.

    A pure function of the task and the data (and the machine's clock): it runs in the driver
    (:class:`~visionkit.bench.executors.LocalExecutor`) or on a cluster's worker alike, and writes nothing.
    ``perturbed`` caches perturbed test sets between the runs of one process.
    """
    perturbed = {} if perturbed is None else perturbed
    base, name, n, seed = task.base, task.base["method"], task.base["per_class"], task.base["seed"]
    spec = registry.get_spec(name)
    test_labels = split.test.labels
    idx = sample_per_class(split.train.labels, n, random_state=seed)
    x_train, y_train = take_images(split.train.images, idx), split.train.labels[idx]
    if len(np.unique(y_train)) < 2:
        raise VisionkitError(f"{split.name}: expected >= 2 classes in the training subset, got {len(np.unique(y_train))}")
    method = registry.create(name, **task.create_params)
    world = _world_size(method, task.nproc)
    with PeakMemory() as mem:
        t0 = time.perf_counter()
        if world > 1:
            from tqdm.auto import tqdm

            from ..deep.distributed import fit_torchrun

            fit_torchrun(method, x_train, y_train, nproc=world, class_names=split.classes, log=tqdm.write)
        else:
            method.fit(x_train, y_train)
        fit_seconds = time.perf_counter() - t0
    size = count_size(method, take_images(split.test.images, np.arange(min(2, len(test_labels)))))
    # every parameter the method used, defaults included; kept out of the key (base["params"] holds
    # only what was asked for) so that results stored before this field existed are still found
    resolved = registry.resolved_params(method)
    env = environment()
    records = []
    for key, pert in zip(task.keys, task.evals):
        if pert is None:
            x_test = split.test.images
        else:
            cache_key = (tuple(pert), seed)
            if cache_key not in perturbed:
                perturbed[cache_key] = _perturb_any(split.test.images, pert[0], pert[1], seed)
            x_test = perturbed[cache_key]
        t0 = time.perf_counter()
        with stage(f"predicting {len(test_labels)} images" + ("" if pert is None else f" ({pert[0]} {pert[1]})")):
            pred = np.asarray(method.predict(x_test))
        predict_seconds = time.perf_counter() - t0
        records.append({
            "key": key,
            **base,
            "family": spec.family,
            # what the method's features were learned on before this data (None: nothing)
            "pretrained": getattr(method, "pretrained_on_", None),
            "perturbation": None if pert is None else {"kind": pert[0], "strength": pert[1]},
            # the images were decoded on demand from their files (load_data(..., stream=True)), not held in memory
            "streamed": not isinstance(split.train.images, (np.ndarray, list)),
            "n_train": int(len(y_train)),
            # processes that trained it (torchrun, visionkit compare --nproc); 1: this one
            "world_size": world,
            "n_test": int(len(test_labels)),
            **classification_metrics(test_labels, pred, len(split.classes)),
            "fit_seconds": fit_seconds,
            "predict_seconds": predict_seconds,
            "predict_images_per_second": len(test_labels) / max(predict_seconds, 1e-9),
            "resolved_params": resolved,
            # resident memory of the process and its workers while fitting (see PeakMemory)
            "peak_memory_mb": mem.peak_mb,
            "memory_increase_mb": mem.increase_mb,
            **size,
            "classes": split.classes,
            "env": env,
            "finished_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        })
        if pert is None:
            records[-1]["misclassified"] = misclassified_examples(test_labels, pred, split.classes, random_state=seed)
    return records


#: How many misclassified test images a run keeps for the report.
N_EXAMPLES = 6
#: Their thumbnails' longest side (pixels).
EXAMPLE_SIDE = 96


def misclassified_examples(labels: np.ndarray, pred: np.ndarray, classes: Sequence[str], *, random_state: int,
                           n: int = N_EXAMPLES) -> list[dict]:
    """Up to ``n`` misclassified test images, drawn with ``random_state``, in test-set order:
    ``[{"index": i, "true": name, "pred": name}]`` (labels are indices into ``classes``)."""
    wrong = np.flatnonzero(np.asarray(pred) != np.asarray(labels))
    if len(wrong) == 0:
        return []
    pick = np.sort(np.random.default_rng([int(random_state), 7]).choice(wrong, size=min(n, len(wrong)), replace=False))

    def name(label: Any) -> str:
        i = int(label) if isinstance(label, (int, np.integer)) else None
        return classes[i] if i is not None and 0 <= i < len(classes) else str(label)

    return [{"index": int(i), "true": name(labels[i]), "pred": name(pred[i])} for i in pick]


def example_path(out: str | Path, key: str, index: int) -> Path:
    """Where the thumbnail of test image ``index`` of run ``key`` is kept (``out/examples/``)."""
    return Path(out) / "examples" / f"{key}-{index}.png"


def save_examples(out: str | Path, record: dict, test_images: Any) -> None:
    """Write the thumbnails of ``record["misclassified"]`` (PNG, longest side :data:`EXAMPLE_SIDE`), atomically."""
    import cv2

    from .._atomic import atomic_write

    for ex in record["misclassified"]:
        im = np.asarray(test_images[ex["index"]])
        h, w = im.shape[:2]
        scale = EXAMPLE_SIDE / max(h, w)
        if scale < 1:
            im = cv2.resize(im, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
        elif scale > 2:  # digits and thumbnails: enlarged, pixels kept sharp
            f = int(scale)
            im = np.repeat(np.repeat(im, f, axis=0), f, axis=1)
        bgr = im[..., ::-1] if im.ndim == 3 and im.shape[2] == 3 else im
        ok, png = cv2.imencode(".png", np.ascontiguousarray(bgr))
        if ok:
            atomic_write(example_path(out, record["key"], ex["index"]), png.tobytes())


def _check_run(methods, method_params, per_class, seeds, device) -> tuple[list, dict, list, list]:
    """Everything the runs depend on, checked before any work: methods, their parameters, sizes, seeds."""
    if isinstance(methods, str):
        raise VisionkitError(f"methods: expected a list of method names, got the string {methods!r}; use [{methods!r}]")
    methods = list(methods)
    for m in methods:
        registry.get_spec(m)  # unknown names fail before any work
    method_params = _check_method_params(methods, method_params)  # types, random_state, unknown keys
    if device is not None and device not in ("cpu", "cuda", "auto"):
        raise VisionkitError(f"device: expected 'cpu', 'cuda' or 'auto', got {device!r}")
    per_class = list(per_class)
    seeds = [_check_seed(s) for s in seeds]
    if not per_class or not seeds or not methods:
        raise VisionkitError("run_experiment: expected at least one method, one per-class size and one seed")
    for n in per_class:
        if n != "all" and (isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1):
            raise VisionkitError(f"per_class: expected positive integers or 'all', got {n!r}")
    return methods, method_params, per_class, seeds


def _accepts_seed(factory) -> bool:
    import inspect

    try:
        sig = inspect.signature(factory)
    except (TypeError, ValueError):
        return False
    return "random_state" in sig.parameters or any(p.kind == p.VAR_KEYWORD for p in sig.parameters.values())



#: Seeds go to numpy's legacy generators and scikit-learn, which take ``random_state`` in [0, 2**32).
MAX_SEED = 2**32 - 1


def _check_seed(seed: Any) -> int:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= seed <= MAX_SEED:
        raise VisionkitError(f"seeds: expected integers from 0 to {MAX_SEED}, got {seed!r}")
    return int(seed)


def _check_method_params(methods: list[str], method_params: Any) -> dict[str, dict]:
    """``method_params`` checked by the registry's one reading of each method's parameters
    (:func:`visionkit.registry.check_params`; methods not run are allowed: presets set several), and
    without ``random_state``, which the seeds set."""
    method_params = registry.check_params(method_params)
    for name, params in method_params.items():
        if "random_state" in params:
            raise VisionkitError(f"method params[{name!r}]: random_state is set from the seeds; pass seeds=[...] instead")
    return method_params
