"""Run registered methods on the same images, subsets and seeds, and record what each costs.

One run = one method fitted on one training subset (``per_class`` images of each class drawn with
one seed) and evaluated on the whole test set, clean and, with ``robustness=True``, under each
perturbation. Subsets depend only on the seed and the size, so every method sees the same images.
Finished runs are skipped on a rerun (by key); Ctrl-C stops between runs without losing anything.
"""

from __future__ import annotations

import time
from datetime import datetime, timezone
from typing import Any, Iterable, Sequence

import numpy as np

from .. import registry
from .._validate import VisionkitError
from .metrics import PeakMemory, classification_metrics, environment
from .perturb import DEFAULT_STRENGTHS, perturb
from .specs import DataSplit
from .store import ResultStore, run_key

__all__ = ["sample_per_class", "run_experiment", "count_size"]


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


def _take(images, index):
    return images[index] if isinstance(images, np.ndarray) else [images[i] for i in index]


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
    log=print,
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

    Returns
    -------
    ResultStore
    """
    from tqdm.auto import tqdm

    methods, method_params, per_class, seeds = _check_run(methods, method_params, per_class, seeds, device)
    strengths = DEFAULT_STRENGTHS if robustness is True else (robustness or {})
    store = ResultStore(out)
    env = environment()
    takes_device = {m for m in methods if device is not None and "device" in (registry.valid_params(m) or ())}
    test_labels = split.test.labels
    perturbed: dict[tuple, Any] = {}

    jobs = [(seed, n, m) for seed in seeds for n in per_class for m in methods]
    bar = tqdm(jobs, desc="runs", disable=not progress, leave=True)
    for seed, n, name in bar:
        spec = registry.get_spec(name)
        params = {**spec.defaults, **method_params.get(name, {})}
        base = {"method": name, "params": params, "data": split.name, "per_class": n, "seed": seed}
        evals = [None] + [(k, s) for k, ss in strengths.items() for s in ss]
        keys = [run_key(**base, perturbation=p) for p in evals]
        if all(k in store for k in keys):
            continue
        bar.set_postfix_str(f"{name} n={n} seed={seed}")
        idx = sample_per_class(split.train.labels, n, random_state=seed)
        x_train, y_train = _take(split.train.images, idx), split.train.labels[idx]
        if len(np.unique(y_train)) < 2:
            raise VisionkitError(f"{split.name}: expected >= 2 classes in the training subset, got {len(np.unique(y_train))}")
        extra = {"random_state": seed} if _accepts_seed(spec.factory) else {}
        if name in takes_device:
            extra["device"] = device
        method = registry.create(name, **{**extra, **method_params.get(name, {})})
        with PeakMemory() as mem:
            t0 = time.perf_counter()
            method.fit(x_train, y_train)
            fit_seconds = time.perf_counter() - t0
        size = count_size(method, _take(split.test.images, np.arange(min(2, len(test_labels)))))
        # every parameter the method used, defaults included; kept out of the key (base["params"] holds
        # only what was asked for) so that results stored before this field existed are still found
        resolved = registry.resolved_params(method)
        fitted = {"family": spec.family, "n_train": int(len(y_train)), "fit_seconds": fit_seconds, "resolved_params": resolved,
                  "peak_memory_mb": mem.peak_mb, "memory_increase_mb": mem.increase_mb, "size": size}
        for key, pert in zip(keys, evals):
            if key in store:
                continue
            if pert is None:
                x_test = split.test.images
            else:
                cache_key = (pert, seed)
                if cache_key not in perturbed:
                    perturbed[cache_key] = _perturb_any(split.test.images, pert[0], pert[1], seed)
                x_test = perturbed[cache_key]
            record = _evaluate(method, x_test, split, key=key, base=base, pert=pert, fitted=fitted, env=env)
            store.add(record)
            if pert is None:
                log(f"{name:18s} n/class={str(n):>4s} seed={seed} acc={record['accuracy']:.4f} "
                    f"fit={fit_seconds:.1f}s predict={record['predict_images_per_second']:.0f} img/s")
    return store


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


def _evaluate(method, x_test, split: DataSplit, *, key: str, base: dict, pert, fitted: dict, env: dict) -> dict:
    """Predict ``x_test`` with the fitted ``method``: the record of one evaluation (clean or perturbed)."""
    test_labels = split.test.labels
    t0 = time.perf_counter()
    pred = np.asarray(method.predict(x_test))
    predict_seconds = time.perf_counter() - t0
    return {
        "key": key,
        **base,
        "family": fitted["family"],
        # what the method's features were learned on before this data (None: nothing)
        "pretrained": getattr(method, "pretrained_on_", None),
        "perturbation": None if pert is None else {"kind": pert[0], "strength": pert[1]},
        "n_train": fitted["n_train"],
        "n_test": int(len(test_labels)),
        **classification_metrics(test_labels, pred, len(split.classes)),
        "fit_seconds": fitted["fit_seconds"],
        "predict_seconds": predict_seconds,
        "predict_images_per_second": len(test_labels) / max(predict_seconds, 1e-9),
        "resolved_params": fitted["resolved_params"],
        # resident memory of the process and its workers while fitting (see PeakMemory)
        "peak_memory_mb": fitted["peak_memory_mb"],
        "memory_increase_mb": fitted["memory_increase_mb"],
        **fitted["size"],
        "classes": split.classes,
        "env": env,
        "finished_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


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
    """``method_params`` checked: registered methods (ones not run are allowed: presets set several),
    parameter names each method accepts."""
    if method_params is None:
        return {}
    if not isinstance(method_params, dict):
        raise VisionkitError(f"method_params: expected a dict {{method: {{param: value}}}}, got {type(method_params).__name__}")
    for name, params in method_params.items():
        registry.get_spec(name)  # an unknown method lists the valid ones; a registered one not run is allowed
        if not isinstance(params, dict) or not all(isinstance(k, str) for k in params):
            raise VisionkitError(f"method_params[{name!r}]: expected a dict of parameter names to values, got {type(params).__name__}")
        if "random_state" in params:
            raise VisionkitError(f"method_params[{name!r}]: random_state is set from the seeds; pass seeds=[...] instead")
        listed = registry.valid_params(name)  # the registry's one reading of a method's parameters
        valid = set(listed) if listed is not None else None
        unknown = sorted(set(params) - valid) if valid is not None else []
        if unknown:
            raise VisionkitError(f"method_params[{name!r}]: unknown parameter(s) {', '.join(map(repr, unknown))}; "
                                 f"{name} accepts: {', '.join(sorted(valid - {'random_state'}))}")
    return method_params
