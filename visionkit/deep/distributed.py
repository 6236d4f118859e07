"""Data-parallel training under ``torchrun``, and ``visionkit train``.

The same command runs in one process or in many::

    visionkit train --data digits --model lenet5 --out out/lenet5
    torchrun --standalone --nproc-per-node 2 -m visionkit train --data digits --model lenet5 --out out/lenet5
    torchrun --nnodes 4 --nproc-per-node 8 --rdzv-backend c10d --rdzv-endpoint HOST:29500 \\
        -m visionkit train --data cifar10 --model resnet20 --out /shared/out/resnet20

Under ``torchrun`` (``WORLD_SIZE`` > 1 in the environment) every process joins one process group
(:func:`init_distributed`: gloo on the CPU, NCCL on GPUs, one GPU per process) and trains the same
model with :func:`visionkit.deep.train.fit`, wrapped in ``DistributedDataParallel``:

* sampling: every rank draws the same permutation of the training set from the run's seeded
  generator (the same seed, the same draws on every rank) and keeps its own shard of it,
  :func:`shard_indices` (``DistributedSampler(drop_last=True)`` semantics); the union of the
  ranks' step-``i`` batches is exactly the single-process batch ``i`` of ``batch_size x world_size``
  images, so ``W`` processes with batch ``B`` compute the gradient of one process with batch ``W x B``;
* batch and learning rate: ``--batch-size`` is per rank, a step sees ``B x W`` images, and the
  learning rate follows the linear scaling rule (Goyal et al. 2017), ``lr = recipe lr x B x W /
  recipe batch`` (:func:`scaled_lr`), warm-up included in the recipe's schedule; ``--lr`` sets it;
* metrics: the epoch's loss sum, correct count and image count are summed over ranks before the
  record is made; the test set is evaluated in shards and its confusion matrix summed;
* files: only rank 0 writes the training state (every epoch, atomically), the log and the final
  :class:`~visionkit.deep.DeepClassifier` checkpoint; every rank resumes from the training state
  after a kill, so ``--out`` must be a folder every rank sees (one machine, or a shared file system).

Batch norm keeps per-rank batch statistics (buffers are broadcast from rank 0 at each forward, as
``DistributedDataParallel`` does by default); the augmentation draws are shared by the ranks (one
generator state resumes all of them), applied to different images.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections import deque
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch
from torch import nn

from .._atomic import atomic_write
from .._validate import VisionkitError, describe

__all__ = ["DistributedContext", "shard_indices", "init_distributed", "scaled_lr", "train", "TRAIN_FILES", "fit_torchrun"]

#: What ``visionkit train --out DIR`` writes: the classifier, the training state it resumes from, the
#: per-epoch log, a summary and the settings a resumed run must share.
TRAIN_FILES = dict(model="model", state="train-state", log="train.log", summary="summary.json", run="train-run.json")


def shard_indices(order: torch.Tensor, *, rank: int, world_size: int) -> torch.Tensor:
    """This rank's shard of an epoch's permutation: ``order[rank : W * (N // W) : W]``.

    ``DistributedSampler(drop_last=True)`` semantics: the tail of ``N mod W`` indices is dropped, so
    every rank gets ``N // W`` indices and takes as many steps; the shards are disjoint and, read
    batch by batch, rank ``r``'s batch ``i`` of ``B`` holds positions ``iWB + r + kW`` of ``order``:
    together the ranks' batch ``i`` is exactly ``order[iWB : (i + 1)WB]``.

    Parameters
    ----------
    order : Tensor (N,)
        The epoch's permutation (the same on every rank).
    rank, world_size : int
        ``0 <= rank < world_size``.

    Returns
    -------
    Tensor (N // world_size,)
    """
    if isinstance(world_size, bool) or not isinstance(world_size, int) or world_size < 1:
        raise VisionkitError(f"world_size: expected an integer >= 1, got {describe(world_size)}")
    if isinstance(rank, bool) or not isinstance(rank, int) or not 0 <= rank < world_size:
        raise VisionkitError(f"rank: expected an integer in 0..{world_size - 1}, got {describe(rank)}")
    if not isinstance(order, torch.Tensor) or order.ndim != 1:
        raise VisionkitError(f"order: expected a 1-D tensor of indices, got {describe(order)}")
    n = len(order) // world_size * world_size
    return order[rank:n:world_size]


@dataclass(frozen=True)
class DistributedContext:
    """This process's place in an initialised process group (:func:`init_distributed`).

    Attributes
    ----------
    rank, world_size, local_rank : int
        From torchrun's ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``.
    backend : {"gloo", "nccl"}
    device : torch.device
        Where this rank trains (``cuda:LOCAL_RANK`` with NCCL) and where its collectives run.
    """

    rank: int
    world_size: int
    local_rank: int
    backend: str
    device: torch.device

    @property
    def is_main(self) -> bool:
        """Rank 0: the one that writes files and logs."""
        return self.rank == 0

    def shard(self, order: torch.Tensor) -> torch.Tensor:
        """This rank's shard of ``order`` (:func:`shard_indices`)."""
        return shard_indices(order, rank=self.rank, world_size=self.world_size)

    def sum(self, values: Sequence[float]) -> tuple[float, ...]:
        """Each value summed over the ranks (float64)."""
        import torch.distributed as dist

        t = torch.tensor([float(v) for v in values], dtype=torch.float64, device=self.device)
        dist.all_reduce(t, op=dist.ReduceOp.SUM)
        return tuple(t.tolist())

    def sum_array(self, array: np.ndarray) -> np.ndarray:
        """An integer array (a confusion matrix) summed over the ranks."""
        import torch.distributed as dist

        t = torch.as_tensor(np.asarray(array, dtype=np.int64), device=self.device)
        dist.all_reduce(t, op=dist.ReduceOp.SUM)
        return t.cpu().numpy()

    def max(self, value: float) -> float:
        """The largest ``value`` over the ranks."""
        import torch.distributed as dist

        t = torch.tensor([float(value)], dtype=torch.float64, device=self.device)
        dist.all_reduce(t, op=dist.ReduceOp.MAX)
        return float(t.item())

    def barrier(self) -> None:
        import torch.distributed as dist

        if self.backend == "nccl":
            dist.barrier(device_ids=[self.local_rank])
        else:
            dist.barrier()

    def wrap(self, model: nn.Module, device: torch.device) -> nn.Module:
        """``model`` in ``DistributedDataParallel``: parameters broadcast from rank 0 now, gradients
        averaged over the ranks at every backward."""
        from torch.nn.parallel import DistributedDataParallel

        if device.type == "cuda":
            return DistributedDataParallel(model, device_ids=[device.index if device.index is not None else self.local_rank])
        return DistributedDataParallel(model)

    def close(self) -> None:
        """Leave the process group."""
        import torch.distributed as dist

        if dist.is_initialized():
            dist.destroy_process_group()


def _env_int(name: str, default: int | None = None) -> int | None:
    text = os.environ.get(name)
    if text is None:
        return default
    if not text.strip().isdigit():
        raise VisionkitError(f"${name}: expected a non-negative integer (torchrun sets it), got {text!r}")
    return int(text)


def init_distributed(*, device: str = "auto", timeout_s: float = 1800.0) -> DistributedContext | None:
    """Join the process group torchrun describes in the environment; ``None`` when there is none.

    Parameters
    ----------
    device : {"auto", "cpu", "cuda"}
        ``"auto"``: NCCL on GPUs when CUDA is available, else gloo on the CPU. With CUDA each
        process takes GPU ``LOCAL_RANK`` (``torch.cuda.set_device``).
    timeout_s : float
        How long a collective may wait for the other ranks (loading a large folder on rank 0 first).

    Returns
    -------
    DistributedContext or None
        None when ``WORLD_SIZE`` is unset or 1 (one process: nothing to set up).

    Raises
    ------
    VisionkitError
        Inconsistent ``RANK`` / ``WORLD_SIZE``, ``cuda`` asked without CUDA, or fewer GPUs than local ranks.
    """
    world = _env_int("WORLD_SIZE", 1)
    if world is None or world <= 1:
        return None
    rank, local_rank = _env_int("RANK"), _env_int("LOCAL_RANK", 0)
    if rank is None or not 0 <= rank < world:
        raise VisionkitError(f"$RANK: expected an integer in 0..{world - 1} with WORLD_SIZE={world} (run under torchrun), "
                             f"got {os.environ.get('RANK')!r}")
    if device not in ("auto", "cpu", "cuda"):
        raise VisionkitError(f"device: expected 'auto', 'cpu' or 'cuda', got {device!r}")
    use_cuda = device == "cuda" or (device == "auto" and torch.cuda.is_available())
    if use_cuda:
        if not torch.cuda.is_available():
            raise VisionkitError("device: 'cuda' asked, but torch sees no CUDA device; use --device cpu (gloo)")
        if local_rank >= torch.cuda.device_count():
            raise VisionkitError(f"torchrun: local rank {local_rank} needs GPU {local_rank}, this machine has "
                                 f"{torch.cuda.device_count()}; use --nproc-per-node {torch.cuda.device_count()} or fewer")
        torch.cuda.set_device(local_rank)
        backend, dev = "nccl", torch.device("cuda", local_rank)
    else:
        backend, dev = "gloo", torch.device("cpu")
    import torch.distributed as dist

    if not dist.is_initialized():
        kwargs = dict(device_id=dev) if backend == "nccl" else {}
        dist.init_process_group(backend, timeout=timedelta(seconds=timeout_s), **kwargs)
    return DistributedContext(rank=rank, world_size=world, local_rank=local_rank, backend=backend, device=dev)


def scaled_lr(recipe_lr: float, recipe_batch: int, batch_size: int, world_size: int) -> float:
    """The linear scaling rule (Goyal et al. 2017): ``recipe_lr * batch_size * world_size / recipe_batch``.

    A step of ``W`` ranks with ``B`` images each averages the gradient over ``B x W`` images; the
    recipe's learning rate was set for ``recipe_batch`` images per step.
    """
    return float(recipe_lr) * batch_size * world_size / recipe_batch


def _log_line(record: dict[str, Any], epochs: int) -> str:
    """One epoch as a log line: ``epoch 3/10  loss 0.4132  accuracy 0.8790  images/s 1520  lr 0.002  time 12.3 s``."""
    parts = [f"epoch {record['epoch']}/{epochs}", f"loss {record['train_loss']:.4f}", f"accuracy {record['train_acc']:.4f}",
             f"images/s {record['images_per_s']:.0f}", f"lr {record['lr']:.3g}", f"time {record['time_s']:.1f} s"]
    if "val_acc" in record:
        parts.insert(3, f"val_accuracy {record['val_acc']:.4f}")
    return "  ".join(parts)


def _evaluate_sharded(est: Any, images: np.ndarray, labels: np.ndarray, ctx: DistributedContext | None,
                      n_classes: int) -> np.ndarray:
    """The test set's confusion matrix (K, K), rows the true labels: each rank predicts every W-th image."""
    idx = np.arange(len(labels)) if ctx is None else np.arange(ctx.rank, len(labels), ctx.world_size)
    conf = np.zeros((n_classes, n_classes), dtype=np.int64)
    if len(idx):
        pred = np.asarray(est.predict(images[idx]))
        np.add.at(conf, (labels[idx], pred), 1)
    return conf if ctx is None else ctx.sum_array(conf)


def _check_run(path: Path, settings: dict[str, Any], state_exists: bool) -> None:
    """A training state in ``--out`` is resumed only by a run with the same data, model and world size."""
    if not state_exists or not path.is_file():
        return
    try:
        saved = json.loads(path.read_text())
    except (OSError, ValueError):
        return
    diff = {k: (saved.get(k), v) for k, v in settings.items() if saved.get(k) != v}
    if diff:
        raise VisionkitError(f"--out {str(path.parent)!r} holds the training state of another run ({', '.join(f'{k}: {a!r} then, {b!r} now' for k, (a, b) in diff.items())}); "
                             "use another --out, or the same settings to resume it")


def train(
    *,
    data: str,
    model: str,
    out: str | os.PathLike,
    epochs: int | None = None,
    time_budget_s: float | None = None,
    pretrained: bool = False,
    batch_size: int | None = None,
    lr: float | None = None,
    img_size: int | None = None,
    seed: int = 0,
    device: str = "auto",
    download: bool = False,
    stream: bool = False,
    progress: bool = True,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Train one registered network on one data spec and write its checkpoint: ``visionkit train``.

    Runs in one process, or data-parallel in every process of a ``torchrun`` launch (see the module's
    docstring); the call is the same. Resumes from ``OUT/train-state`` when it exists.

    Parameters
    ----------
    data : str
        A data spec (:func:`visionkit.bench.load_data`): ``digits``, ``cifar10[:ROOT]``, a folder, ...
    model : str
        A registered network (:func:`visionkit.deep.list_models`), e.g. ``lenet5``, ``resnet20``.
    out : path
        Folder for ``model.safetensors`` + ``model.json`` (a :class:`~visionkit.deep.DeepClassifier`
        checkpoint), ``train-state.*`` (resuming), ``train.log`` and ``summary.json``.
    epochs, img_size : int, optional
        Override the model's registered recipe.
    time_budget_s : float, optional
        Stop training after this many seconds (the schedule follows the clock).
    pretrained : bool
        Fine-tune from the model's installed pretrained weights.
    batch_size : int, optional
        Images per step on each rank (default the recipe's); a step sees ``batch_size x world_size``.
    lr : float, optional
        Peak learning rate; default the recipe's, scaled by :func:`scaled_lr`.
    seed : int
        Initial weights, batch order, augmentation (the same on every rank).
    device : {"auto", "cpu", "cuda"}
    download : bool
        Allow a missing data set to be downloaded (by rank 0 of each machine).
    stream : bool
        For image folders larger than memory: list the files and decode each batch on demand in
        DataLoader workers (:func:`visionkit.bench.load_data` with ``stream=True``), so no rank holds the
        data set; the same pixels, and the same network, as the in-memory path.
    progress : bool
        A progress bar (rank 0 only).
    log : callable
        Where rank 0's lines go.

    Returns
    -------
    dict
        The summary (also in ``OUT/summary.json``): data, model, world size, batch sizes, learning
        rate, epochs run, test accuracy, mean per-class test accuracy, images/s, training seconds.
    """
    from ..bench.metrics import classification_metrics
    from ..bench.specs import load_data
    from .estimator import DeepClassifier
    from .models import get_model_spec

    spec = get_model_spec(model)  # an unknown name lists the registered ones, closest first
    for name, v, low in (("epochs", epochs, 1), ("batch_size", batch_size, 1), ("img_size", img_size, 1), ("seed", seed, 0)):
        if v is not None and (isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < low):
            raise VisionkitError(f"{name}: expected an integer >= {low}, got {describe(v)}")
    for name, v in (("lr", lr), ("time_budget_s", time_budget_s)):
        if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float)) or not v > 0):
            raise VisionkitError(f"{name}: expected a number > 0, got {describe(v)}")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    files = {k: out / v for k, v in TRAIN_FILES.items()}

    ctx = init_distributed(device=device)
    try:
        world, is_main = (1, True) if ctx is None else (ctx.world_size, ctx.is_main)
        say = log if is_main else (lambda _: None)
        if ctx is not None and ctx.device.type == "cuda":
            device = "cuda"  # the current device: cuda:LOCAL_RANK
        # the first process of each machine decodes (and caches) the data before the others read it
        first_here = ctx is None or ctx.local_rank == 0
        if first_here:
            split = load_data(data, download=download, stream=stream)
        if ctx is not None:
            ctx.barrier()
        if not first_here:
            split = load_data(data, stream=stream)
        recipe_batch = int(spec.recipe.get("batch_size", 128))
        recipe_lr = float(spec.recipe.get("lr", 0.05))
        per_rank = int(batch_size or recipe_batch)
        peak_lr = float(lr) if lr is not None else scaled_lr(recipe_lr, recipe_batch, per_rank, world)
        settings = dict(data=data, model=model, world_size=world, batch_size=per_rank, lr=peak_lr, seed=int(seed),
                        pretrained=bool(pretrained))
        state_here = (files["state"].with_suffix(".json")).is_file()
        if ctx is not None:
            seen_by = int(ctx.sum([state_here])[0])
            if seen_by not in (0, world):
                raise VisionkitError(f"resume: {seen_by} of {world} ranks see the training state in {str(out)!r}; "
                                     "--out must be a folder every rank sees (a shared file system)")
        _check_run(files["run"], settings, state_here)
        if is_main:
            atomic_write(files["run"], lambda tmp: Path(tmp).write_text(json.dumps(settings, indent=2)))
        say(f"data {split.name}: {len(split.train)} train / {len(split.test)} test images, {len(split.classes)} classes"
            f"{', streamed from disk' if stream else ''}; "
            f"{model}, {world} process{'es' if world > 1 else ''} ({'gloo' if ctx is None or ctx.backend == 'gloo' else 'nccl'}"
            f"{'' if ctx is not None else ', none needed'}) x batch {per_rank} = {per_rank * world} images per step, "
            f"lr {peak_lr:.4g}" + ("" if lr is not None else f" (recipe {recipe_lr:g} at batch {recipe_batch}, scaled linearly)")
            + (f"; resuming from {files['state']}" if state_here else ""))

        def on_epoch(record: dict[str, Any]) -> None:
            if is_main:
                line = _log_line(record, est.train_config_["epochs"])
                with open(files["log"], "a") as fh:
                    fh.write(f"{time.strftime('%Y-%m-%dT%H:%M:%S')}  {line}\n")
                if not progress:
                    say(line)

        options = {"time_budget_s": float(time_budget_s)} if time_budget_s is not None else None
        est = DeepClassifier(model, img_size=img_size, epochs=epochs, batch_size=per_rank, lr=peak_lr, pretrained=pretrained,
                             train_options=options, device=device, random_state=int(seed), progress=progress and is_main)
        est.fit(split.train.images, split.train.labels, class_names=list(split.classes), checkpoint=files["state"],
                resume=True, callback=on_epoch, distributed=ctx)
        k = len(split.classes)
        conf = _evaluate_sharded(est, split.test.images, split.test.labels, ctx, k)
        metrics = classification_metrics(np.repeat(np.arange(k), conf.sum(1)),
                                          np.concatenate([np.repeat(np.arange(k), row) for row in conf]), k)
        hist = est.history_
        speeds = [h["images_per_s"] for h in hist if "images_per_s" in h]
        summary = dict(data=split.name, model=model, world_size=world, backend=None if ctx is None else ctx.backend,
                       batch_size_per_rank=per_rank, batch_size=per_rank * world, lr=peak_lr, epochs=len(hist),
                       test_accuracy=metrics["accuracy"], test_mean_class_accuracy=metrics["mean_class_accuracy"],
                       images_per_s=float(np.median(speeds)) if speeds else None, train_time_s=est.train_time_s_,
                       checkpoint=str(files["model"]))
        if is_main:
            est.save(files["model"])
            atomic_write(files["summary"], lambda tmp: Path(tmp).write_text(json.dumps(summary, indent=2)))
            say(f"test accuracy {metrics['accuracy']:.4f} (mean per class {metrics['mean_class_accuracy']:.4f}) after "
                f"{len(hist)} epochs, {est.train_time_s_:.1f} s, median {summary['images_per_s'] or 0:.0f} images/s; "
                f"checkpoint {files['model']}.safetensors + .json (visionkit show --model {files['model']})")
        if ctx is not None:
            ctx.barrier()  # nobody leaves before the checkpoint is written
        return summary
    finally:
        if ctx is not None:
            ctx.close()


# ------------------------------------------------------------------------------ fit_torchrun

#: Prefix of the lines the ranks of :func:`fit_torchrun` address to the user (rank 0's epoch lines).
_SAY = "visionkit-torchrun: "


def _write_images(folder: Path, images: Any) -> None:
    """Hand ``images`` to the ranks through ``folder``: an array as ``images.npy`` (each rank maps it, no
    copy per rank), photos of several sizes as one flat ``.npy`` and their shapes, a lazy folder as its paths."""
    from ..data import ImageFolderSource

    if isinstance(images, ImageFolderSource):
        desc = dict(paths=images.paths, size=images.size, channels=images.channels, max_pixels=images.max_pixels,
                    image_shape=list(images.image_shape))
        (folder / "source.json").write_text(json.dumps(desc))
    elif isinstance(images, (list, tuple)):
        arrays = [np.ascontiguousarray(im) for im in images]
        if not arrays or len({a.ndim for a in arrays}) != 1 or any(a.dtype != np.uint8 for a in arrays):
            raise VisionkitError(f"images: expected uint8 images of one number of dimensions, got {describe(images)}")
        np.save(folder / "images-flat.npy", np.concatenate([a.ravel() for a in arrays]))
        np.save(folder / "images-shapes.npy", np.array([a.shape for a in arrays], dtype=np.int64))
    else:
        np.save(folder / "images.npy", np.asarray(images))


def _read_images(folder: Path) -> Any:
    """What :func:`_write_images` wrote, read without copies (memory-mapped) and without pickles."""
    from ..data import ImageFolderSource

    if (folder / "source.json").is_file():
        d = json.loads((folder / "source.json").read_text())
        return ImageFolderSource(d["paths"], size=None if d["size"] is None else tuple(d["size"]), channels=d["channels"],
                                 max_pixels=d["max_pixels"], _image_shape=tuple(d["image_shape"]))
    if (folder / "images-flat.npy").is_file():
        flat = np.load(folder / "images-flat.npy", mmap_mode="r", allow_pickle=False)
        shapes = np.load(folder / "images-shapes.npy", allow_pickle=False)
        ends = np.cumsum(shapes.prod(axis=1))
        return [np.asarray(flat[end - shape.prod():end]).reshape(tuple(shape)) for shape, end in zip(shapes, ends)]
    return np.load(folder / "images.npy", mmap_mode="r", allow_pickle=False)


def _torchrun_env(nproc: int) -> dict[str, str]:
    env = dict(os.environ)
    for k in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "GROUP_RANK", "MASTER_ADDR", "MASTER_PORT",
              "TORCHELASTIC_RUN_ID"):
        env.pop(k, None)  # a fit_torchrun inside a torchrun process starts a group of its own
    package_parent = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = os.pathsep.join([package_parent, env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    # the machine's cores shared by the ranks (torchrun would set 1 thread and warn)
    env.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // nproc)))
    return env


def fit_torchrun(estimator: Any, images: Any, labels: Any, *, nproc: int, class_names: Sequence[str] | None = None,
                 workdir: str | os.PathLike | None = None, log: Callable[[str], None] = print) -> Any:
    """Fit a :class:`~visionkit.deep.DeepClassifier` data-parallel in ``nproc`` processes on this machine.

    What ``visionkit compare --nproc N`` does with each deep run: the training images go once to a
    private temporary folder (an array as a ``.npy`` that every rank memory-maps; a lazy folder as its
    file paths), ``torchrun --standalone --nproc-per-node N`` starts the ranks, which train with
    :func:`visionkit.deep.train.fit` in ``DistributedDataParallel`` (gloo on the CPU, NCCL with one GPU
    per rank, as ``visionkit train``), rank 0 writes the checkpoint, and ``estimator`` takes the trained
    weights and fitted attributes from it. The folder is removed afterwards.

    The recipe is the estimator's, unchanged: the global batch stays the recipe's ``B`` (each rank
    takes ``B // N`` images per step), so the learning rate and the schedule stay as they are and
    ``N`` processes compute the gradient of one process (batch norm apart: its statistics are each
    rank's, over ``B // N`` images). Epochs raised by ``min_steps`` are counted with the global batch.

    Parameters
    ----------
    estimator : DeepClassifier
        Unfitted or fitted; refitted in place. Its parameters must be JSON values (they are for every
        registered method).
    images : uint8 array (N, H, W, C), list of uint8 arrays, or ImageFolderSource
    labels : array (N,)
    nproc : int
        Processes (ranks); 1 fits in this process.
    class_names : sequence of str, optional
        As :meth:`DeepClassifier.fit`.
    workdir : path, optional
        Where the temporary folder goes (default the system's temporary folder). It holds a copy of the
        training images: as large as the array (CIFAR-10: 150 MB), a few MB for a lazy folder.
    log : callable
        Receives rank 0's line per epoch.

    Returns
    -------
    DeepClassifier
        ``estimator``, fitted; ``world_size_`` says how many processes trained it.

    Raises
    ------
    VisionkitError
        A bad argument, or the launch failed: the message holds the exit status and the ranks' last lines.
    """
    from .estimator import DeepClassifier

    if not isinstance(estimator, DeepClassifier):
        raise VisionkitError(f"estimator: expected a DeepClassifier (a deep method), got {describe(estimator)}")
    if isinstance(nproc, bool) or not isinstance(nproc, (int, np.integer)) or nproc < 1:
        raise VisionkitError(f"nproc: expected an integer >= 1, got {describe(nproc)}")
    if nproc == 1:
        estimator.fit(images, labels, class_names=class_names)
        estimator.world_size_ = 1
        return estimator
    y = np.asarray(labels)
    if y.ndim != 1 or len(y) != len(images):
        raise VisionkitError(f"labels: expected shape ({len(images)},), got {describe(y)}")
    params = estimator.get_params()
    try:
        job = json.dumps(dict(params=params, class_names=None if class_names is None else [str(c) for c in class_names]))
    except TypeError as err:
        raise VisionkitError(f"estimator: its parameters must be JSON values to reach the ranks, got {params!r:.300} ({err})") from None
    with tempfile.TemporaryDirectory(prefix="visionkit-torchrun-", dir=workdir) as tmp:
        folder = Path(tmp)
        _write_images(folder, images)
        np.save(folder / "labels.npy", y)
        (folder / "job.json").write_text(job)
        cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", str(int(nproc)),
               "-m", "visionkit.deep._torchrun_fit", str(folder)]
        tail: deque[str] = deque(maxlen=60)
        proc = subprocess.Popen(cmd, env=_torchrun_env(int(nproc)), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True, bufsize=1)
        try:
            for line in proc.stdout:
                line = line.rstrip("\n")
                if line.startswith(_SAY):
                    log(line[len(_SAY):])
                else:
                    tail.append(line)
            rc = proc.wait()
        finally:
            if proc.poll() is None:  # interrupted: stop the ranks with us
                proc.terminate()
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    proc.kill()
        if rc != 0 or not (folder / "fit.json").is_file():
            errors = sorted(folder.glob("error-rank*.txt"))
            why = errors[0].read_text().strip() if errors else "\n".join(list(tail)[-30:])
            raise VisionkitError(f"torchrun --nproc-per-node {nproc}: training failed (exit status {rc}): {why}")
        fitted = DeepClassifier.load(folder / "model", device=estimator.device)
        extra = json.loads((folder / "fit.json").read_text())
    for k, v in vars(fitted).items():
        if k.endswith("_") and not k.startswith("_"):
            setattr(estimator, k, v)
    for k, v in extra.items():
        setattr(estimator, k, v)
    return estimator
