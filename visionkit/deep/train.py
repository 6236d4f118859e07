"""The training loop, :func:`fit` (prepare, train an epoch, end it), all hyper-parameters in one dataclass.

Data stay in memory as uint8 tensors (N, C, H, W), or are streamed from disk (:class:`StreamedImages`:
a lazily decoded folder, batches decoded by ``torch.utils.data.DataLoader`` workers in the order of the
same seeded permutation, so memory holds a few batches); each batch is converted, normalised and augmented
as a whole tensor on the training device (random crop with padding and flips, plus cutout and
colour jitter for ``augment="strong"``: :mod:`visionkit.deep.augment`), never image by image through PIL.

* optimisers: SGD with Nesterov momentum, or AdamW; biases and norm parameters can get their own
  learning-rate scale (airbench's 64x on BN shifts) and no weight decay;
* schedules (per step): ``"triangle"`` (one-cycle: linear warm-up from ``start_factor`` to 1, then
  linear decay to ``end_factor``) or ``"cosine"`` (linear warm-up, cosine to 0); with a time budget
  the schedule runs on elapsed time instead of steps;
* label smoothing, lookahead (airbench's EMA every 5 steps), test-time flip/translate augmentation;
* bf16 autocast on the CPU, mixed precision and channels-last on CUDA (float16 with a gradient scaler
  where the GPU has no bf16);
* seeding through ``seed`` only: torch's global generator is forked and restored;
* a tqdm bar with loss and accuracy, evaluation each epoch, early stopping, checkpoints every epoch
  and resuming from one (the :class:`~visionkit.deep.checkpoint.TrainState`);
* data-parallel training under ``torchrun`` (``distributed=``, :mod:`visionkit.deep.distributed`): each
  rank a distinct shard of every epoch's permutation, gradients averaged by DistributedDataParallel,
  the epoch's metrics summed over ranks, only rank 0 writing the checkpoint.
"""

from __future__ import annotations

import functools

import copy
import math
import sys
import time
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .._validate import VisionkitError, describe
from .augment import _cutout, augment_batch, random_crop_flip  # noqa: F401  (re-exported)
from .checkpoint import TrainState, checkpoint_exists, load_train_state, save_train_state

if TYPE_CHECKING:
    from .distributed import DistributedContext

__all__ = [
    "TrainConfig",
    "TrainResult",
    "fit",
    "evaluate",
    "predict_logits",
    "augment_batch",
    "random_crop_flip",
    "lr_factor",
    "normalize",
    "channel_stats",
    "to_tensor_images",
    "resolve_device",
    "default_amp",
    "StreamedImages",
]


@dataclass
class TrainConfig:
    """Every training hyper-parameter, in one place.

    Attributes
    ----------
    epochs : int
    batch_size : int
    optimizer : {"sgd", "adamw"}
        SGD uses (Nesterov) momentum ``momentum``; AdamW betas (0.9, 0.999).
    lr : float
        Peak learning rate (for the mean loss over a batch).
    momentum : float
    nesterov : bool
    weight_decay : float
        PyTorch's (coupled for SGD, decoupled for AdamW) weight decay of the weight matrices/filters.
    bias_lr_scale : float
        Learning-rate multiplier of biases and norm parameters (1-D tensors).
    bias_weight_decay : bool
        Decay those too, at the same per-step rate as the weights (airbench); else no decay.
    freeze_norm : bool
        Batch-norm layers keep their running statistics during training (eval mode; their scale and
        shift still learn): fine-tuning a pretrained network on small batches of a small data set
        then keeps the statistics it was pretrained with.
    backbone_lr_scale : float
        Learning-rate multiplier of every parameter outside the classifier head (the registered
        ``ModelSpec.head``): fine-tuning a pretrained network trains its pretrained layers slower
        (e.g. 0.1) than the fresh head.
    schedule : {"triangle", "cosine", "constant"}
    warmup : float
        Fraction of training spent warming up.
    start_factor, end_factor : float
        Learning-rate factors at the start of warm-up and at the end ("triangle").
    label_smoothing : float
    augment : {"none", "crop-flip", "strong", "photo"}
        Batch augmentation (:mod:`visionkit.deep.augment`): "crop-flip" pads, crops and flips (CIFAR);
        "strong" adds colour jitter and cutout; "photo" is a random resized crop (35-100 % of the
        area), a flip and colour jitter, for small sets of photos.
    pad : int
        Padding of the random crop (pixels).
    pad_mode : {"reflect", "constant"}
    lookahead : bool
        airbench's lookahead: every 5 steps the weights move to an EMA of themselves, whose rate
        rises to 1 at the end.
    tta : {0, 1, 2}
        Test-time augmentation for evaluation: 0 none, 1 flip, 2 flip and 1-pixel translations.
    amp : bool or None
        bf16 autocast on CPU / mixed precision on CUDA; None: :func:`default_amp` (on for CUDA, and
        on a CPU only where bf16 runs natively: emulated on an AVX2-only CPU, it made ResNet-20's
        training ~10x slower than float32).
    channels_last : bool or None
        None: on for CUDA, and for the CPU when ``amp`` is on.
    device : str
        "auto" (CUDA when available), "cpu", "cuda", ...
    seed : int
        Seeds initial batch order, augmentation and dropout (forked generator, no global effect).
    patience : int or None
        Early stopping: stop after this many epochs without a better validation accuracy, and keep
        the best weights.
    time_budget_s : float or None
        Stop training after this many seconds (evaluation not counted); the schedule then follows
        ``max(step / total steps, elapsed / budget)``, so the learning rate reaches its end value
        when the budget or the epochs run out, whichever comes first (not bit-reproducible).
    eval_batch_size : int
    progress : bool
        A tqdm bar per epoch.
    """

    epochs: int = 10
    batch_size: int = 128
    optimizer: str = "sgd"
    lr: float = 0.05
    momentum: float = 0.9
    nesterov: bool = True
    weight_decay: float = 5e-4
    bias_lr_scale: float = 1.0
    bias_weight_decay: bool = False
    backbone_lr_scale: float = 1.0
    freeze_norm: bool = False
    schedule: str = "triangle"
    warmup: float = 0.2
    start_factor: float = 0.1
    end_factor: float = 0.0
    label_smoothing: float = 0.0
    augment: str = "crop-flip"
    pad: int = 4
    pad_mode: str = "reflect"
    lookahead: bool = False
    tta: int = 0
    amp: bool | None = None
    channels_last: bool | None = None
    device: str = "auto"
    seed: int = 0
    patience: int | None = None
    time_budget_s: float | None = None
    eval_batch_size: int = 1000
    progress: bool = False

    def __post_init__(self) -> None:
        choices = dict(optimizer=("sgd", "adamw"), schedule=("triangle", "cosine", "constant"),
                       augment=("none", "crop-flip", "strong", "photo"), pad_mode=("reflect", "constant"))
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                raise VisionkitError(f"{name}: expected one of {allowed}, got {getattr(self, name)!r}")
        for name in ("epochs", "batch_size", "eval_batch_size"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
                raise VisionkitError(f"{name}: expected an integer >= 1, got {describe(v)}")
        if isinstance(self.backbone_lr_scale, bool) or not isinstance(self.backbone_lr_scale, (int, float)) \
                or not 0 <= self.backbone_lr_scale <= 1:
            raise VisionkitError(f"backbone_lr_scale: expected a number in [0, 1], got {describe(self.backbone_lr_scale)}")
        if not (0 <= self.warmup < 1) or self.lr <= 0 or not (0 <= self.label_smoothing < 1) or self.tta not in (0, 1, 2):
            raise VisionkitError(f"expected 0 <= warmup < 1, lr > 0, 0 <= label_smoothing < 1 and tta in (0, 1, 2), "
                                 f"got warmup={self.warmup}, lr={self.lr}, label_smoothing={self.label_smoothing}, tta={self.tta}")

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "TrainConfig":
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise VisionkitError(f"unknown training option(s) {unknown}; expected some of: {', '.join(sorted(known))}")
        return cls(**d)


@dataclass
class TrainResult:
    """What :func:`fit` returns: per-epoch history, the normalisation, timings."""

    history: list[dict[str, float]] = field(default_factory=list)
    mean: list[float] = field(default_factory=list)
    std: list[float] = field(default_factory=list)
    train_time_s: float = 0.0
    epochs_run: int = 0
    best_epoch: int | None = None
    stopped_early: bool = False


# ------------------------------------------------------------------------------------ data helpers


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """``"auto"`` is CUDA when available, else the CPU."""
    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def to_tensor_images(images: Any, *, name: str = "images") -> torch.Tensor:
    """uint8 images (N, H, W, C) (numpy) -> a uint8 tensor (N, C, H, W); a uint8 (N, C, H, W) tensor passes."""
    if isinstance(images, torch.Tensor):
        if images.dtype != torch.uint8 or images.ndim != 4:
            raise VisionkitError(f"{name}: expected a uint8 tensor (N, C, H, W), got {describe(images)}")
        return images
    arr = np.asarray(images) if not isinstance(images, np.ndarray) else images
    if arr.dtype != np.uint8 or arr.ndim != 4 or arr.shape[-1] not in (1, 3) or len(arr) == 0:
        raise VisionkitError(f"{name}: expected uint8 images of shape (N, H, W, C) with C = 1 or 3, got {describe(arr)}")
    return torch.from_numpy(np.ascontiguousarray(arr)).permute(0, 3, 1, 2).contiguous()


class StreamedImages:
    """Images decoded batch by batch from a lazy source: what :func:`fit` and :func:`predict_logits` stream.

    Parameters
    ----------
    source : ImageFolderSource
        Decoded on demand (:meth:`visionkit.data.ImageFolderSource.read`: uint8 (n, H, W, C)).
    prepare : callable
        A decoded batch (n, H, W, C) uint8 -> a uint8 tensor (n, C, h, w) (resizing, channels); it must
        treat each image on its own, so that a batch gives the rows the whole set would.
    num_workers : int
        ``DataLoader`` worker processes that decode and prepare batches ahead of the training step
        (0: in this process). Each holds one batch at a time, plus the loader's prefetch.

    Indexing with an int tensor, array or slice decodes those images (a uint8 tensor (n, C, h, w) on
    the CPU); :meth:`subset` gives another lazy view; :meth:`batches` streams index batches through
    a ``DataLoader``.
    """

    def __init__(self, source: Any, prepare: Callable[[np.ndarray], torch.Tensor], *, num_workers: int = 0) -> None:
        if isinstance(num_workers, bool) or not isinstance(num_workers, (int, np.integer)) or num_workers < 0:
            raise VisionkitError(f"num_workers: expected an integer >= 0, got {describe(num_workers)}")
        self.source = source
        self.prepare = prepare
        self.num_workers = int(num_workers)
        self._shape: tuple[int, ...] | None = None

    def __len__(self) -> int:
        return len(self.source)

    @property
    def shape(self) -> tuple[int, int, int, int]:
        """(N, C, h, w) after ``prepare`` (one image is decoded to learn it)."""
        if self._shape is None:
            self._shape = (len(self.source), *self.prepare(self.source.read(slice(0, 1))).shape[1:])
        return self._shape

    def __getitem__(self, index: Any) -> torch.Tensor:
        if isinstance(index, torch.Tensor):
            index = index.cpu().numpy()
        return self.prepare(self.source.read(index))

    def subset(self, index: Any) -> "StreamedImages":
        """The images at ``index`` (int array), still lazy."""
        return StreamedImages(self.source[np.asarray(index)], self.prepare, num_workers=self.num_workers)

    def batches(self, index_batches: list) -> Any:
        """Yield a uint8 tensor (n, C, h, w) for each entry of ``index_batches`` (int arrays or tensors), in
        order, decoded by ``num_workers`` DataLoader workers (up to 2 batches ahead each)."""
        from torch.utils.data import DataLoader

        batches = [b.cpu().numpy() if isinstance(b, torch.Tensor) else np.asarray(b) for b in index_batches]
        if self.num_workers == 0 or len(batches) <= 1:
            for b in batches:
                yield self[b]
            return
        loader = DataLoader(_BatchReader(self), batch_size=None, sampler=batches, num_workers=self.num_workers,
                            worker_init_fn=_one_thread, prefetch_factor=2)
        yield from loader


class _BatchReader(torch.utils.data.Dataset):
    """``DataLoader``'s view of :class:`StreamedImages`: an item is a whole batch (an index array)."""

    def __init__(self, images: StreamedImages) -> None:
        self.images = images

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: np.ndarray) -> torch.Tensor:
        return self.images[index]


def _one_thread(_worker_id: int) -> None:
    # the workers decode; the training step's threads keep the cores
    torch.set_num_threads(1)


def _batches(images: Any, batch_size: int) -> Any:
    """Consecutive batches of ``batch_size`` images as uint8 tensors: slices in memory, streamed from a lazy source."""
    if isinstance(images, StreamedImages):
        return images.batches([np.arange(i, min(i + batch_size, len(images))) for i in range(0, len(images), batch_size)])
    return (images[i:i + batch_size] for i in range(0, len(images), batch_size))


def channel_stats(images: "torch.Tensor | StreamedImages") -> tuple[list[float], list[float]]:
    """Per-channel mean and standard deviation of uint8 images (N, C, H, W), on the [0, 1] scale, over the first
    20,000 images; streamed images are read 1,000 at a time (float64 sums: equal to the in-memory figures
    to float32 rounding)."""
    if isinstance(images, StreamedImages):
        n, total, total_sq = 0, 0.0, 0.0
        for batch in _batches(images.subset(np.arange(min(len(images), 20000))), 1000):
            x = batch.double().div_(255)
            total = total + x.sum(dim=(0, 2, 3))
            total_sq = total_sq + x.square().sum(dim=(0, 2, 3))
            n += x.numel() // x.shape[1]
        mean = total / n
        std = ((total_sq - n * mean.square()) / max(n - 1, 1)).clamp_min(0).sqrt().clamp_min(1e-3)
        return mean.float().tolist(), std.float().tolist()
    x = images[: 20000].float().div_(255)
    mean = x.mean(dim=(0, 2, 3))
    std = x.std(dim=(0, 2, 3)).clamp_min(1e-3)
    return mean.tolist(), std.tolist()


def normalize(images: torch.Tensor, mean: list[float], std: list[float]) -> torch.Tensor:
    """uint8 (N, C, H, W) -> float32 ``(x / 255 - mean) / std`` per channel."""
    m = torch.tensor(mean, device=images.device).view(1, -1, 1, 1)
    s = torch.tensor(std, device=images.device).view(1, -1, 1, 1)
    return (images.float() / 255 - m) / s


def lr_factor(progress: float, config: TrainConfig) -> float:
    """The learning-rate multiplier at ``progress`` in [0, 1] of training."""
    p = min(max(progress, 0.0), 1.0)
    if config.schedule == "constant":
        return 1.0
    if config.warmup > 0 and p < config.warmup:
        f = p / config.warmup
        return config.start_factor * (1 - f) + f
    f = (p - config.warmup) / (1 - config.warmup)
    if config.schedule == "triangle":
        return (1 - f) + config.end_factor * f
    return config.end_factor + (1 - config.end_factor) * 0.5 * (1 + math.cos(math.pi * f))


# ---------------------------------------------------------------------------------- optimisation


def _head_parameter_ids(model: nn.Module) -> set[int]:
    cfg = getattr(model, "visionkit_config", None)
    if cfg is None:
        raise VisionkitError("backbone_lr_scale: expected a model from visionkit.deep.create_model (its head is registered), "
                             f"got {type(model).__name__}")
    from .models import get_model_spec

    head = dict(model.named_modules())[get_model_spec(cfg["name"]).head]
    return {id(p) for p in head.parameters()}


def _param_groups(model: nn.Module, config: TrainConfig) -> list[dict[str, Any]]:
    head = _head_parameter_ids(model) if config.backbone_lr_scale != 1 else None
    # (weights, head) first: with backbone_lr_scale = 1 exactly the two groups of before (weights, other)
    groups: dict[tuple[bool, bool], list] = {(True, True): [], (False, True): [], (True, False): [], (False, False): []}
    for p in model.parameters():
        groups[(p.ndim > 1, head is None or id(p) in head)].append(p)
    out = []
    for (is_weight, in_head), params in groups.items():
        if not in_head and not params:
            continue
        scale = 1.0 if in_head else config.backbone_lr_scale
        if is_weight:
            lr, wd = config.lr * scale, config.weight_decay
        else:
            lr = config.lr * config.bias_lr_scale * scale
            wd = config.weight_decay / config.bias_lr_scale if config.bias_weight_decay else 0.0
            if config.optimizer == "adamw" and config.bias_weight_decay:
                wd = config.weight_decay  # decoupled: lr * wd per step, scaled with lr like the weights
        out.append(dict(params=params, lr=lr, weight_decay=wd, base_lr=lr))
    return out


def _make_optimizer(model: nn.Module, config: TrainConfig) -> torch.optim.Optimizer:
    groups = _param_groups(model, config)
    if config.optimizer == "sgd":
        return torch.optim.SGD(groups, lr=config.lr, momentum=config.momentum, nesterov=config.nesterov and config.momentum > 0)
    return torch.optim.AdamW(groups, lr=config.lr, betas=(0.9, 0.999))


class _Lookahead:
    """airbench's lookahead: an EMA of the whole state (weights and BN statistics), pulled in every 5 steps."""

    def __init__(self, model: nn.Module) -> None:
        self.ema = {k: v.detach().clone() for k, v in model.state_dict().items() if v.dtype.is_floating_point}

    @torch.no_grad()
    def update(self, model: nn.Module, decay: float) -> None:
        state = model.state_dict()
        for k, e in self.ema.items():
            e.lerp_(state[k], 1 - decay)
            state[k].copy_(e)


@functools.lru_cache(maxsize=None)
def _cpu_has_fast_bf16() -> bool:
    """Whether oneDNN runs bf16 natively on this CPU (AVX-512 BW/VL/DQ, AVX512-BF16 or AMX)."""
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):  # a torch without the probe: read the flags where Linux shows them
        try:
            with open("/proc/cpuinfo") as fh:
                flags = set(fh.read().split())
        except OSError:
            return False
        return bool(flags & {"avx512_bf16", "amx_bf16"}) or {"avx512bw", "avx512vl", "avx512dq"} <= flags


def default_amp(device: str | torch.device) -> bool:
    """What ``amp=None`` means on ``device``: mixed precision on CUDA; bf16 autocast on a CPU only if it
    runs bf16 natively.

    Measured on a 2-core AVX2-only AMD EPYC (no AVX-512): ResNet-20 trains at 39 images/s in float32
    and 4 in bf16 autocast (oneDNN emulates bf16 there); on an AVX-512 machine bf16 was ~2.3x faster
    than float32 for airbench94.

    Parameters
    ----------
    device : str or torch.device

    Returns
    -------
    bool
    """
    device = torch.device(device) if not isinstance(device, torch.device) else device
    if device.type == "cuda":
        return True
    return device.type == "cpu" and _cpu_has_fast_bf16()


def _autocast_dtype(device: torch.device, amp: bool) -> torch.dtype | None:
    """The dtype autocast computes in: bf16, or float16 on CUDA without bf16; None without ``amp``."""
    if not amp:
        return None
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.bfloat16


def _autocast(device: torch.device, amp: bool):
    dtype = _autocast_dtype(device, amp)
    if dtype is None:
        return torch.autocast(device.type, enabled=False)
    return torch.autocast(device.type, dtype=dtype)


def _grad_scaler(device: torch.device, amp: bool) -> torch.amp.GradScaler | None:
    """A gradient scaler where autocast falls back to float16, whose small gradients underflow to 0 (bf16 has
    float32's range and needs none): None on the CPU, with bf16 and without ``amp``."""
    if _autocast_dtype(device, amp) is torch.float16:
        return torch.amp.GradScaler(device.type)
    return None


# ------------------------------------------------------------------------------------ evaluation


@torch.no_grad()
def predict_logits(model: nn.Module, images: torch.Tensor, mean: list[float], std: list[float], *, tta: int = 0,
                   batch_size: int = 1000, device: str | torch.device = "auto", amp: bool | None = None,
                   resize_to: int | None = None) -> torch.Tensor:
    """Logits (N, K) of uint8 images (N, C, H, W) (or :class:`StreamedImages`), in evaluation mode, optionally with
    test-time augmentation.

    ``tta=1`` averages the image and its mirror; ``tta=2`` also 1-pixel translations (airbench's level 2).
    """
    device = resolve_device(device)
    amp = default_amp(device) if amp is None else amp
    was_training = model.training
    model.eval()
    out = []
    try:
        for batch in _batches(images, batch_size):
            x = normalize(batch.to(device, non_blocking=True), mean, std)
            if resize_to is not None and x.shape[-1] != resize_to:
                x = F.interpolate(x, size=(resize_to, resize_to), mode="bilinear", align_corners=False, antialias=True)
            if device.type == "cuda" or amp:
                x = x.contiguous(memory_format=torch.channels_last)
            with _autocast(device, amp):
                out.append(_tta_logits(model, x, tta).float().cpu())
    finally:
        model.train(was_training)
    return torch.cat(out)


def _tta_logits(model: nn.Module, x: torch.Tensor, tta: int) -> torch.Tensor:
    if tta == 0:
        return model(x)
    mirror = 0.5 * (model(x) + model(x.flip(3)))
    if tta == 1:
        return mirror
    h, w = x.shape[-2:]
    xp = F.pad(x, (1,) * 4, mode="reflect")
    shifted = [xp[:, :, :h, :w], xp[:, :, 2:h + 2, 2:w + 2]]
    shifted_logits = torch.stack([0.5 * (model(s) + model(s.flip(3))) for s in shifted]).mean(0)
    return 0.5 * mirror + 0.5 * shifted_logits


def evaluate(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, mean: list[float], std: list[float], *,
             tta: int = 0, batch_size: int = 1000, device: str | torch.device = "auto", amp: bool | None = None) -> dict[str, float]:
    """Accuracy and mean cross-entropy of ``model`` on uint8 images (N, C, H, W) and labels (N,)."""
    logits = predict_logits(model, images, mean, std, tta=tta, batch_size=batch_size, device=device, amp=amp)
    labels = torch.as_tensor(labels)
    return dict(acc=(logits.argmax(1) == labels).float().mean().item(), loss=F.cross_entropy(logits, labels).item())


# ---------------------------------------------------------------------------------------- fit


def fit(
    model: nn.Module,
    images: Any,
    labels: Any,
    config: TrainConfig | None = None,
    *,
    val: tuple[Any, Any] | None = None,
    mean: list[float] | None = None,
    std: list[float] | None = None,
    checkpoint: str | Path | None = None,
    resume: bool = False,
    callback: Callable[[dict[str, float]], None] | None = None,
    distributed: "DistributedContext | None" = None,
) -> TrainResult:
    """Train ``model`` on uint8 images (N, H, W, C) (or a uint8 tensor (N, C, H, W)) and int labels (N,).

    Parameters
    ----------
    model : nn.Module
        Maps normalised float (B, C, H, W) to logits. If it has ``prepare_training(inputs)`` it is
        called once with up to 5,000 normalised training images (airbench's whitening), and
        ``on_train_epoch(epoch)`` at the start of every epoch.
    images, labels
        The training set.
    config : TrainConfig
    val : (images, labels), optional
        Evaluated after every epoch (with ``config.tta``); needed for early stopping.
    mean, std : list of float, optional
        Normalisation; default: the training set's per-channel statistics.
    checkpoint : path, optional
        Written (safetensors + JSON) at the end of every epoch with everything needed to resume.
    resume : bool
        Continue from ``checkpoint`` if it exists (same config): the model, optimiser, schedule,
        lookahead and random generator are restored, and training goes on from the next epoch.
    callback : callable, optional
        Called with each epoch's record (on every rank when distributed).
    distributed : DistributedContext, optional
        Train data-parallel in an initialised process group
        (:func:`visionkit.deep.distributed.init_distributed`): every rank calls ``fit`` with the same
        data, model and config; each takes its shard of every epoch's permutation
        (:func:`~visionkit.deep.distributed.shard_indices`), ``config.batch_size`` images per step,
        so a step sees ``batch_size x world_size`` images. Records hold the metrics of all ranks;
        only rank 0 writes ``checkpoint``.

    Returns
    -------
    TrainResult
    """
    config = config or TrainConfig()
    run = _prepare(model, images, labels, config, val, mean, std, distributed)
    result = TrainResult(mean=list(run.mean), std=list(run.std))
    with torch.random.fork_rng(devices=[run.device] if run.device.type == "cuda" else []):
        state = _start(model, run, result, checkpoint if resume else None)
        run.net = model if distributed is None else distributed.wrap(model, run.device)
        for epoch in range(state.epoch, config.epochs):
            stats, out_of_time = _train_one_epoch(state, run, epoch)
            stop_early = _end_epoch(state, run, stats, last=out_of_time or epoch == config.epochs - 1,
                                    checkpoint=checkpoint, callback=callback)
            if stop_early or out_of_time:
                break
        if run.best_state is not None:
            model.load_state_dict(run.best_state)
    result.epochs_run = len(result.history)
    result.train_time_s = result.history[-1]["time_s"] if result.history else 0.0
    model.eval()
    return result


@dataclass
class _Run:
    """What one :func:`fit` trains with besides its :class:`TrainState`: the data on the device, the
    precision, the schedule's length, and the clocks and best weights of this call (never saved)."""

    config: TrainConfig
    x: "torch.Tensor | StreamedImages"
    y: torch.Tensor
    val: tuple[torch.Tensor, torch.Tensor] | None
    mean: list[float]
    std: list[float]
    device: torch.device
    amp: bool
    channels_last: bool
    steps_per_epoch: int
    total_steps: int
    t_start: float = 0.0  # perf_counter() when training started, moved on by the time spent evaluating
    cpu_start: float = 0.0
    factor: float = 1.0  # the learning-rate factor of the last step
    best_state: dict[str, torch.Tensor] | None = None  # for early stopping
    dist: "DistributedContext | None" = None  # data-parallel training: this rank and the group
    net: nn.Module | None = None  # what the training step calls: the model, or its DistributedDataParallel wrapper


def _prepare(model: nn.Module, images: Any, labels: Any, config: TrainConfig, val: tuple[Any, Any] | None,
             mean: list[float] | None, std: list[float] | None, dist: "DistributedContext | None" = None) -> _Run:
    """Check and convert the data, choose device and precision, move model and data to the device."""
    x_all = images if isinstance(images, StreamedImages) else to_tensor_images(images)
    y_all = torch.as_tensor(np.asarray(labels), dtype=torch.long)
    if y_all.ndim != 1 or len(y_all) != len(x_all):
        raise VisionkitError(f"labels: expected an int array of shape ({len(x_all)},), got {describe(labels)}")
    if val is not None:
        val = (val[0] if isinstance(val[0], StreamedImages) else to_tensor_images(val[0], name="val images"),
               torch.as_tensor(np.asarray(val[1]), dtype=torch.long))
    if config.patience is not None and val is None:
        raise VisionkitError("patience: early stopping needs a validation set, got val=None")
    device = resolve_device(config.device)
    amp = default_amp(device) if config.amp is None else config.amp
    # channels-last pays on CUDA, and on the CPU with bf16 (oneDNN's fast path: ~2.3x fp32 for airbench94
    # on 2 cores here), but slows fp32 CPU convolutions down
    channels_last = (device.type == "cuda" or amp) if config.channels_last is None else config.channels_last
    if mean is None or std is None:
        mean, std = channel_stats(x_all)
    # the last partial batch is dropped (BN-safe); distributed, each rank steps through its shard of N // world images
    shard = len(x_all) if dist is None else len(x_all) // dist.world_size
    steps_per_epoch = max(1, shard // config.batch_size)
    model.to(device)
    if channels_last:
        model.to(memory_format=torch.channels_last)
    # streamed images stay where they are (on disk), decoded batch by batch; in-memory ones move to the device
    x_dev = x_all if isinstance(x_all, StreamedImages) else x_all.to(device)
    return _Run(config, x_dev, y_all.to(device), val, list(mean), list(std), device, amp, channels_last,
                steps_per_epoch, steps_per_epoch * config.epochs, dist=dist)


def _start(model: nn.Module, run: _Run, result: TrainResult, resume_from: str | Path | None) -> TrainState:
    """Seed, let the model prepare (airbench's whitening), build the optimiser, resume if there is a checkpoint;
    starts the clocks. Runs inside fit's forked RNG."""
    config = run.config
    torch.manual_seed(config.seed)
    gen = torch.Generator().manual_seed(config.seed)
    if hasattr(model, "prepare_training"):
        sub = torch.randperm(len(run.x), generator=gen)[:5000]
        model.prepare_training(normalize(run.x[sub.to(run.device)].to(run.device), run.mean, run.std))
    lookahead = _Lookahead(model) if config.lookahead else None
    state = TrainState(model, _make_optimizer(model, config), lookahead, gen, config, result,
                       scaler=_grad_scaler(run.device, run.amp))
    if resume_from is not None and checkpoint_exists(resume_from):
        load_train_state(resume_from, state)
    run.t_start = time.perf_counter() - state.elapsed_s
    run.factor = lr_factor(state.step / run.total_steps, config)
    run.cpu_start = time.process_time()  # CPU seconds of this process (all threads): shows contention
    return state


def _train_mode(model: nn.Module, freeze_norm: bool) -> None:
    model.train()
    if freeze_norm:
        for m in model.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                m.eval()


def _train_one_epoch(state: TrainState, run: _Run, epoch: int) -> tuple[tuple[float, float, float], bool]:
    """One pass over a fresh permutation of the training set: ``((loss sum, correct, seen), out_of_time)``."""
    from .._progress import progress_bar

    model, config = state.model, run.config
    if hasattr(model, "on_train_epoch"):
        model.on_train_epoch(epoch)
    _train_mode(model, config.freeze_norm)
    # every rank draws the same permutation (same seed, same draws) and keeps its own shard of it
    order = torch.randperm(len(run.x), generator=state.generator)
    if run.dist is not None:
        order = run.dist.shard(order)
    order = order.to(run.device)
    bar = progress_bar(range(run.steps_per_epoch), desc=f"epoch {epoch + 1}/{config.epochs}", unit="step",
                       force=config.progress)
    loss_sum = correct = seen = 0.0
    out_of_time = False
    index_batches = [order[i * config.batch_size:(i + 1) * config.batch_size] for i in range(run.steps_per_epoch)]
    # streamed: DataLoader workers decode the epoch's batches, in this order, while the step runs
    streamed = run.x.batches(index_batches) if isinstance(run.x, StreamedImages) else None
    for i in bar:
        progress = _progress(state, run)
        if config.time_budget_s is not None and progress >= 1:
            out_of_time = True
            break
        idx = index_batches[i]
        xb = run.x[idx] if streamed is None else next(streamed).to(run.device, non_blocking=True)
        loss, logits = _train_step(state, run, idx, progress, xb)
        y = run.y[idx]
        loss_sum += loss.item() * len(y)
        correct += (logits.argmax(1) == y).sum().item()
        seen += len(y)
        if not bar.disable and i % 5 == 0:
            bar.set_postfix(loss=f"{loss_sum / seen:.3f}", acc=f"{correct / seen:.3f}", lr=f"{run.factor * config.lr:.3g}")
    bar.close()
    if streamed is not None:
        streamed.close()  # the loader's workers stop here, also when the time budget ends the epoch early
    return (loss_sum, correct, seen), out_of_time


def _progress(state: TrainState, run: _Run) -> float:
    """The fraction of training done: of the steps, or of the time budget if that is further on."""
    progress = state.step / run.total_steps
    if run.config.time_budget_s is not None:
        progress = max(progress, (time.perf_counter() - run.t_start) / run.config.time_budget_s)
        if run.dist is not None:  # the slowest clock decides for all, so that every rank stops at the same step
            progress = run.dist.max(progress)
    return progress


def _train_step(state: TrainState, run: _Run, idx: torch.Tensor, progress: float,
                xb: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """One optimiser step on the batch ``idx`` (its uint8 images ``xb``) at ``progress`` of the schedule:
    ``(loss, logits)``."""
    config, model, optimizer = run.config, state.model, state.optimizer
    run.factor = lr_factor(progress, config)
    for g in optimizer.param_groups:
        g["lr"] = g["base_lr"] * run.factor
    x = augment_batch(normalize(xb, run.mean, run.std), config, state.generator)
    if run.channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    y = run.y[idx]
    with _autocast(run.device, run.amp):
        logits = (run.net or model)(x)
        loss = F.cross_entropy(logits.float(), y, label_smoothing=config.label_smoothing)
    optimizer.zero_grad(set_to_none=True)
    if state.scaler is None:
        loss.backward()
        optimizer.step()
    else:  # float16: the loss scaled up so that gradients do not underflow, steps with inf/nan skipped
        state.scaler.scale(loss).backward()
        state.scaler.step(optimizer)
        state.scaler.update()
    state.step += 1
    if state.lookahead is not None and state.step % 5 == 0:
        # airbench: decay 0.95^5 scaled by progress^3, ending at 1 (weights = EMA)
        state.lookahead.update(model, 0.95 ** 5 * min(progress, 1.0) ** 3)
    return loss, logits


def _end_epoch(state: TrainState, run: _Run, stats: tuple[float, float, float], *, last: bool,
               checkpoint: str | Path | None, callback: Callable[[dict[str, float]], None] | None) -> bool:
    """Close an epoch: final lookahead, the record (with evaluation), callback, checkpoint; whether to stop early."""
    from tqdm.auto import tqdm

    from .._progress import shows_progress

    config, model, result = run.config, state.model, state.result
    if state.lookahead is not None and last:
        state.lookahead.update(model, 1.0)
    loss_sum, correct, seen = stats if run.dist is None else run.dist.sum(stats)
    epoch_s = time.perf_counter() - run.t_start - state.elapsed_s
    state.epoch, state.elapsed_s = state.epoch + 1, time.perf_counter() - run.t_start
    record = dict(epoch=state.epoch, train_loss=loss_sum / max(seen, 1), train_acc=correct / max(seen, 1),
                  time_s=state.elapsed_s, cpu_s=time.process_time() - run.cpu_start, lr=run.factor * config.lr,
                  steps=state.step, images_per_s=seen / max(epoch_s, 1e-9))
    if run.val is not None:
        record.update(_validate(state, run, last))
    result.history.append(record)
    if shows_progress(force=config.progress):
        tqdm.write("  ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in record.items()), file=sys.stderr)
    if callback is not None:
        callback(record)
    if checkpoint is not None and (run.dist is None or run.dist.is_main):
        save_train_state(checkpoint, state)
    result.stopped_early = config.patience is not None and state.bad_epochs >= config.patience
    return result.stopped_early


def _validate(state: TrainState, run: _Run, last: bool) -> dict[str, float]:
    """Evaluate on the validation set (test-time augmentation at the last epoch), not counted as training
    time; track the best accuracy (and, for early stopping, the best weights)."""
    config = run.config
    t_eval = time.perf_counter()
    ev = evaluate(state.model, run.val[0], run.val[1], run.mean, run.std, tta=config.tta if last else 0,
                  device=run.device, amp=run.amp, batch_size=config.eval_batch_size)
    eval_s = time.perf_counter() - t_eval
    run.t_start += time.perf_counter() - t_eval  # evaluation does not count as training time
    if ev["acc"] > state.best_acc:
        state.best_acc, state.bad_epochs, state.result.best_epoch = ev["acc"], 0, state.epoch
        if config.patience is not None:
            run.best_state = copy.deepcopy(state.model.state_dict())
    else:
        state.bad_epochs += 1
    return dict(val_acc=ev["acc"], val_loss=ev["loss"], eval_s=eval_s)
