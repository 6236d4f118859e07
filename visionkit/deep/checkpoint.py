"""Safe checkpoints: tensors in safetensors, everything else in JSON; pickles are refused.

A visionkit checkpoint is two files side by side, ``STEM.safetensors`` (the model's state dict and,
for resuming, the optimiser's tensors, the random generator's state, ...) and ``STEM.json`` (the
model name and arguments, the normalisation, the training state). Nothing is ever unpickled: a
``.pth`` written by ``torch.save`` is read only through :func:`load_state_dict_file`, with
``torch.load(weights_only=True)``, which loads tensors and refuses code.
"""

from __future__ import annotations

import json
import math
import os
import struct
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from .._atomic import atomic_write
from .._validate import VisionkitError

if TYPE_CHECKING:
    from .train import TrainConfig, TrainResult

__all__ = [
    "save_checkpoint",
    "load_checkpoint",
    "checkpoint_paths",
    "load_state_dict_file",
    "load_pretrained",
    "is_safetensors_file",
    "read_checkpoint_config",
    "read_safetensors_header",
    "check_tensor_shapes",
    "checkpoint_exists",
    "TrainState",
    "save_train_state",
    "load_train_state",
    "MAX_CONFIG_BYTES",
    "MAX_CONFIG_DEPTH",
]

#: The largest checkpoint JSON read (bytes); a classifier's JSON is a few KB (its history included).
MAX_CONFIG_BYTES = 10_000_000
#: The deepest nesting of lists and objects accepted in a checkpoint's JSON (visionkit writes 4).
MAX_CONFIG_DEPTH = 32
# safetensors itself refuses headers over 100 MB
_MAX_HEADER_BYTES = 100_000_000
_DTYPE_BYTES = {"BOOL": 1, "U8": 1, "I8": 1, "F8_E5M2": 1, "F8_E4M3": 1, "I16": 2, "U16": 2, "F16": 2, "BF16": 2,
                "I32": 4, "U32": 4, "F32": 4, "I64": 8, "U64": 8, "F64": 8}

_HOW_TO_GET = (
    "visionkit never downloads weights. On a machine with network access, save a torchvision model's "
    "weights as safetensors, e.g.\n"
    "    import torchvision, safetensors.torch as st\n"
    "    m = torchvision.models.resnet18(weights='IMAGENET1K_V1')\n"
    "    st.save_file(m.state_dict(), 'resnet18.safetensors')\n"
    "(or timm.create_model(name, pretrained=True).state_dict()), copy the file here and pass its path."
)


def checkpoint_paths(path: str | os.PathLike) -> tuple[Path, Path]:
    """``(STEM.safetensors, STEM.json)`` for a checkpoint path given with or without a suffix."""
    p = Path(path)
    stem = p.with_suffix("") if p.suffix in (".safetensors", ".json") else p
    return stem.with_name(stem.name + ".safetensors"), stem.with_name(stem.name + ".json")


def checkpoint_exists(path: str | os.PathLike) -> bool:
    """Whether both files of the checkpoint ``path`` exist."""
    return all(p.is_file() for p in checkpoint_paths(path))


def is_safetensors_file(path: str | os.PathLike) -> bool:
    """Whether ``path`` starts like a safetensors file (8-byte header length, then a JSON object)."""
    with open(path, "rb") as fh:
        head = fh.read(9)
    if len(head) < 9:
        return False
    (n,) = struct.unpack("<Q", head[:8])
    return head[8:9] == b"{" and 0 < n < os.path.getsize(path)


def _pickle_kind(path: Path) -> str | None:
    with open(path, "rb") as fh:
        head = fh.read(4)
    if head[:1] == b"\x80":
        return "a Python pickle"
    if head[:2] == b"PK":
        return "a torch.save zip archive (pickle inside)"
    return None


def save_checkpoint(path: str | os.PathLike, tensors: dict[str, torch.Tensor], config: dict[str, Any]) -> tuple[Path, Path]:
    """Write ``tensors`` to ``STEM.safetensors`` and ``config`` to ``STEM.json``, each atomically.

    Parameters
    ----------
    path : path
        The stem (a ``.safetensors`` or ``.json`` suffix is dropped).
    tensors : dict of str to Tensor
        E.g. ``model.state_dict()``; saved contiguous, on the CPU, with their dtypes (bit-exact).
    config : dict
        JSON-serialisable.

    Returns
    -------
    (Path, Path)
        The two files written.
    """
    from safetensors.torch import save_file

    st_path, js_path = checkpoint_paths(path)
    bad = [k for k, v in tensors.items() if not isinstance(v, torch.Tensor)]
    if bad:
        raise VisionkitError(f"tensors: expected only tensors, got non-tensor values for {bad[:5]}")
    flat = {k: v.detach().to("cpu").contiguous().clone() for k, v in tensors.items()}  # clone: no shared storage
    try:
        text = json.dumps(config, indent=2, sort_keys=True)
    except TypeError as exc:
        raise VisionkitError(f"config: expected JSON-serialisable values ({exc})") from None
    atomic_write(st_path, lambda tmp: save_file(flat, tmp, metadata={"format": "pt", "visionkit": "1"}))
    atomic_write(js_path, lambda tmp: Path(tmp).write_text(text))
    return st_path, js_path


def _checkpoint_files(path: str | os.PathLike) -> tuple[Path, Path]:
    """The two files of a checkpoint, checked to exist, the tensor file checked not to be a pickle."""
    st_path, js_path = checkpoint_paths(path)
    for p in (st_path, js_path):
        if not p.is_file():
            raise VisionkitError(f"checkpoint: expected {str(p)!r} (a visionkit checkpoint is STEM.safetensors + STEM.json), it does not exist")
    # a safetensors header length may start with byte 0x80 (2688 bytes, say), as a pickle does: look for one only
    # in a file that is not safetensors
    if not is_safetensors_file(st_path):
        kind = _pickle_kind(st_path)
        raise VisionkitError(f"checkpoint: refusing to load {str(st_path)!r}: it is {kind or 'not a safetensors file'}. "
                             "visionkit loads only safetensors (pickles can run arbitrary code)")
    return st_path, js_path


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0][:200] if text else ''}"


def _depth(obj: Any) -> int:
    """Nesting depth of lists and dicts (a scalar is 0), without recursion."""
    deepest, stack = 0, [(obj, 1)]
    while stack:
        item, d = stack.pop()
        if isinstance(item, dict):
            item = list(item.values())
        if isinstance(item, list):
            deepest = max(deepest, d)
            stack.extend((v, d + 1) for v in item if isinstance(v, (list, dict)))
    return deepest


def read_checkpoint_config(path: str | os.PathLike) -> dict[str, Any]:
    """The JSON half of a checkpoint, read with limits: at most :data:`MAX_CONFIG_BYTES` bytes and
    :data:`MAX_CONFIG_DEPTH` levels of nesting, a JSON object at the top.

    Parameters
    ----------
    path : path
        The checkpoint (``STEM``, ``STEM.json`` or ``STEM.safetensors``); only ``STEM.json`` is read.

    Returns
    -------
    dict
        The parsed object (its content is not checked here: the loaders check their own schema).

    Raises
    ------
    VisionkitError
        A missing, oversized, non-UTF-8, invalid, too deeply nested file, or one whose top level is
        not an object; always one line.
    """
    js_path = checkpoint_paths(path)[1]
    if not js_path.is_file():
        raise VisionkitError(f"checkpoint: expected {str(js_path)!r} (a visionkit checkpoint is STEM.safetensors + STEM.json), it does not exist")
    size = js_path.stat().st_size
    if size > MAX_CONFIG_BYTES:
        raise VisionkitError(f"checkpoint: expected a JSON file of at most {MAX_CONFIG_BYTES:,} bytes, {str(js_path)!r} has {size:,}")
    try:
        with open(js_path, "rb") as fh:
            config = json.loads(fh.read(MAX_CONFIG_BYTES + 1).decode("utf-8"))
    except RecursionError:
        raise VisionkitError(f"checkpoint: {str(js_path)!r} is nested deeper than {MAX_CONFIG_DEPTH} levels") from None
    except (ValueError, UnicodeDecodeError) as exc:  # JSONDecodeError, bad UTF-8, integers of > 4300 digits
        raise VisionkitError(f"checkpoint: {str(js_path)!r} is not valid JSON ({_first_line(exc)})") from None
    if not isinstance(config, dict):
        raise VisionkitError(f"checkpoint: expected a JSON object in {str(js_path)!r}, got a {type(config).__name__}")
    if _depth(config) > MAX_CONFIG_DEPTH:
        raise VisionkitError(f"checkpoint: {str(js_path)!r} is nested deeper than {MAX_CONFIG_DEPTH} levels")
    return config


def read_safetensors_header(path: str | os.PathLike) -> dict[str, tuple[str, tuple[int, ...]]]:
    """The tensors a safetensors file declares, ``{name: (dtype, shape)}``, checked against the file.

    Only the header is read. Each tensor's byte range must match its dtype and shape, the ranges
    must tile the data without gaps, and the data must end where the file ends: a truncated or
    padded file is refused here, before any tensor is allocated.

    Raises
    ------
    VisionkitError
        A file that is not a well-formed safetensors file (one line saying what is wrong).
    """
    path = Path(path)
    size = path.stat().st_size
    where = f"checkpoint: {str(path)!r}"
    with open(path, "rb") as fh:
        head = fh.read(8)
        if len(head) < 8:
            raise VisionkitError(f"{where}: expected a safetensors file (8-byte header length), got {size} bytes")
        (n,) = struct.unpack("<Q", head)
        if n > min(_MAX_HEADER_BYTES, size - 8):
            raise VisionkitError(f"{where}: the header claims {n:,} bytes, the file has {size:,} (truncated?)")
        raw = fh.read(n)
    try:
        header = json.loads(raw.decode("utf-8"))
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise VisionkitError(f"{where}: the safetensors header is not valid JSON ({_first_line(exc)})") from None
    if not isinstance(header, dict):
        raise VisionkitError(f"{where}: expected a JSON object as safetensors header, got a {type(header).__name__}")
    out: dict[str, tuple[str, tuple[int, ...]]] = {}
    ranges = []
    for name, info in header.items():
        if name == "__metadata__":
            continue
        ok = (isinstance(info, dict) and info.get("dtype") in _DTYPE_BYTES and isinstance(info.get("shape"), list)
              and all(type(d) is int and d >= 0 for d in info["shape"]) and isinstance(info.get("data_offsets"), list)
              and len(info["data_offsets"]) == 2 and all(type(o) is int and o >= 0 for o in info["data_offsets"]))
        if not ok:
            raise VisionkitError(f"{where}: tensor {name[:80]!r} has a malformed entry in the safetensors header: {str(info)[:120]}")
        shape = tuple(info["shape"])
        begin, end = info["data_offsets"]
        nbytes = _DTYPE_BYTES[info["dtype"]] * math.prod(shape)
        if end - begin != nbytes:
            raise VisionkitError(f"{where}: tensor {name[:80]!r} of shape {shape} needs {nbytes:,} bytes, its offsets give {end - begin:,}")
        out[name] = (info["dtype"], shape)
        ranges.append((begin, end))
    ranges.sort()
    pos = 0
    for begin, end in ranges:
        if begin != pos:
            raise VisionkitError(f"{where}: the tensors' byte ranges overlap or leave gaps at byte {pos:,}")
        pos = end
    if 8 + n + pos != size:
        raise VisionkitError(f"{where}: the header declares {8 + n + pos:,} bytes, the file has {size:,} (truncated or damaged)")
    return out


def check_tensor_shapes(header: dict[str, tuple[str, tuple[int, ...]]], expected: dict[str, tuple[int, ...]],
                        where: str) -> None:
    """Refuse a file whose tensor names or shapes differ from ``expected`` (a model's state dict shapes).

    Parameters
    ----------
    header : dict
        From :func:`read_safetensors_header`.
    expected : dict of str to tuple of int
        Name to shape, e.g. ``{k: tuple(v.shape) for k, v in model.state_dict().items()}`` of a
        model built on the ``meta`` device (no memory).
    where : str
        The file, for the message.

    Raises
    ------
    VisionkitError
        Naming the first few missing, unexpected and differently shaped tensors.
    """
    missing = sorted(set(expected) - set(header))
    unexpected = sorted(set(header) - set(expected))
    wrong = [f"{k} {header[k][1]} (expected {expected[k]})" for k in sorted(set(header) & set(expected))
             if tuple(header[k][1]) != tuple(expected[k])]
    if missing or unexpected or wrong:
        parts = []
        if missing:
            parts.append(f"{len(missing)} missing tensors {missing[:3]}")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected tensors {[k[:80] for k in unexpected[:3]]}")
        if wrong:
            parts.append(f"{len(wrong)} of another shape, e.g. {'; '.join(wrong[:2])}")
        raise VisionkitError(f"checkpoint: the tensors in {where} do not fit the model its JSON describes: {', '.join(parts)}")


# ------------------------------------------------------------------------ the model half of a checkpoint

def _int_in(low: int, high: int):
    def check(v: Any) -> bool:
        return type(v) is int and low <= v <= high
    check.expected = f"an integer in {low}..{high:,}"
    return check


def _float_in(low: float, high: float):
    def check(v: Any) -> bool:
        return type(v) in (int, float) and math.isfinite(v) and low <= v <= high
    check.expected = f"a finite number in [{low}, {high}]"
    return check


def _int_list(low: int, high: int, min_len: int, max_len: int):
    def check(v: Any) -> bool:
        return isinstance(v, list) and min_len <= len(v) <= max_len and all(type(x) is int and low <= x <= high for x in v)
    check.expected = f"a list of {min_len} to {max_len} integers in {low}..{high:,}"
    return check


#: Bounds of the arguments a checkpoint passes to the model builder. Widths and depths are
#: bounded so that even the model built on the ``meta`` device (no memory) to compare shapes with
#: the safetensors header is cheap; the real model is built only once the shapes match the file.
MODEL_CONFIG_BOUNDS: dict[str, Any] = {
    "num_classes": _int_in(1, 100_000),
    "in_chans": _int_in(1, 16),
    "img_size": _int_in(1, 4096),
    # builder keyword arguments (vit_cifar, convnext_atto_cifar, airbench94, efficientnet_lite*)
    "patch": _int_in(1, 64),
    "dim": _int_in(1, 4096),
    "depth": _int_in(1, 64),
    "num_heads": _int_in(1, 64),
    "mlp_ratio": _float_in(0.01, 16),
    "drop_path": _float_in(0, 1),
    "drop_rate": _float_in(0, 1),
    "drop_path_rate": _float_in(0, 1),
    "dims": _int_list(1, 4096, 1, 8),
    "depths": _int_list(0, 64, 1, 8),
    "stem": _int_in(1, 64),
    "widths": _int_list(1, 4096, 3, 3),
    "bn_momentum": _float_in(0, 1),
    "scaling_factor": _float_in(-1e6, 1e6),
    "whiten_bias_epochs": _int_in(0, 1_000_000),
}
_MODEL_ARGS = ("num_classes", "in_chans", "img_size")


def check_model_config(model_cfg: Any, where: str) -> tuple[str, dict[str, Any]]:
    """Check the ``model`` object of a checkpoint's JSON; ``(name, builder arguments)``.

    ``name`` must be registered, ``num_classes``, ``in_chans`` and ``img_size`` are required and
    every argument must be one the model's builder takes, within :data:`MODEL_CONFIG_BOUNDS`. A
    ``weights`` (or any other path) is refused: a checkpoint's weights are its own safetensors file.
    ``pretrained`` (where the weights were first learnt) is dropped.

    Raises
    ------
    VisionkitError
        One line naming the key, what was expected and what arrived.
    """
    import inspect

    from .._validate import describe
    from .models import get_model_spec, list_models

    if not isinstance(model_cfg, dict):
        raise VisionkitError(f"checkpoint {where}: expected 'model' to be an object with name, num_classes, in_chans, img_size, "
                             f"got {describe(model_cfg)}")
    cfg = dict(model_cfg)
    name = cfg.pop("name", None)
    if not isinstance(name, str) or name not in list_models():
        raise VisionkitError(f"checkpoint {where}: model.name: expected a registered model ({', '.join(list_models())}), got {describe(name)}")
    if not isinstance(cfg.pop("pretrained", None), (str, type(None))):
        raise VisionkitError(f"checkpoint {where}: model.pretrained: expected the name of a data set or null")
    spec = get_model_spec(name)
    params = inspect.signature(spec.builder).parameters
    takes_any = any(p.kind is p.VAR_KEYWORD for p in params.values())
    allowed = set(_MODEL_ARGS) | {k for k, p in params.items() if p.kind is p.KEYWORD_ONLY}
    if takes_any:
        allowed |= set(MODEL_CONFIG_BOUNDS)
    for key in _MODEL_ARGS:
        if key not in cfg:
            raise VisionkitError(f"checkpoint {where}: model.{key}: expected {MODEL_CONFIG_BOUNDS[key].expected}, it is missing")
    for key, value in cfg.items():
        if key == "weights" or key not in allowed or key not in MODEL_CONFIG_BOUNDS:
            extra = " (a checkpoint's weights are always STEM.safetensors beside its JSON)" if key == "weights" else ""
            raise VisionkitError(f"checkpoint {where}: model.{key[:80]}: not an argument a {name} checkpoint may carry{extra}; "
                                 f"expected only {', '.join(sorted(allowed & set(MODEL_CONFIG_BOUNDS)))}")
        check = MODEL_CONFIG_BOUNDS[key]
        if not check(value):
            raise VisionkitError(f"checkpoint {where}: model.{key}: expected {check.expected}, got {describe(value)}")
    if cfg["img_size"] < spec.min_size:
        raise VisionkitError(f"checkpoint {where}: model.img_size: {name} needs at least {spec.min_size}, got {cfg['img_size']}")
    return name, cfg


def expected_state_shapes(name: str, model_cfg: dict[str, Any], where: str) -> dict[str, tuple[int, ...]]:
    """The state dict shapes of model ``name`` built with ``model_cfg``, built on the ``meta`` device.

    Nothing is allocated, so this is cheap for any configuration that passed :func:`check_model_config`.

    Raises
    ------
    VisionkitError
        When the builder refuses the configuration (e.g. ``dim`` not a multiple of ``num_heads``).
    """
    from .models import create_model

    try:
        with torch.device("meta"):
            model = create_model(name, **model_cfg)
    except Exception as exc:  # the builder's own checks: a TypeError, an AssertionError, a VisionkitError
        raise VisionkitError(f"checkpoint {where}: the model configuration does not build ({_first_line(exc)})") from None
    return {k: tuple(v.shape) for k, v in model.state_dict().items()}


def _load_tensors(st_path: Path, device: str | torch.device = "cpu") -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    try:
        return load_file(str(st_path), device=str(device))
    except Exception as exc:  # SafetensorError for damaged files, OSError, ...
        raise VisionkitError(f"checkpoint: cannot read {str(st_path)!r} ({_first_line(exc)})") from None


def load_checkpoint(path: str | os.PathLike, *, device: str | torch.device = "cpu") -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Read a checkpoint written by :func:`save_checkpoint`: ``(tensors, config)``.

    The JSON is read with the limits of :func:`read_checkpoint_config` and the safetensors header is
    checked against the file (:func:`read_safetensors_header`) before any tensor is read.

    Raises
    ------
    VisionkitError
        If a file is missing, malformed or truncated, or the tensor file is not safetensors (a pickle
        is refused, never loaded).
    """
    st_path, js_path = _checkpoint_files(path)
    config = read_checkpoint_config(js_path)
    read_safetensors_header(st_path)
    return _load_tensors(st_path, device), config


def load_state_dict_file(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """A state dict from a local file: safetensors, or ``.pth``/``.pt``/``.bin`` via ``torch.load(weights_only=True)``.

    Raises
    ------
    VisionkitError
        The file is missing (the message says how to get one), or holds anything but tensors.
    """
    path = Path(path)
    if not path.is_file():
        raise VisionkitError(f"weights: the file {str(path)!r} does not exist. {_HOW_TO_GET}")
    if is_safetensors_file(path):
        from safetensors.torch import load_file

        return load_file(str(path))
    if path.suffix == ".safetensors":
        raise VisionkitError(f"weights: {str(path)!r} is named .safetensors but is not one ({_pickle_kind(path) or 'unknown format'})")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # UnpicklingError for code, anything else for junk
        raise VisionkitError(f"weights: refusing {str(path)!r}: torch.load(weights_only=True) failed ({type(exc).__name__}: "
                             f"{str(exc).splitlines()[0][:200]}); only plain tensor state dicts are accepted") from None
    for key in ("state_dict", "model", "model_state_dict"):  # common wrappers (timm / training scripts)
        if isinstance(obj, dict) and isinstance(obj.get(key), dict):
            obj = obj[key]
    if not isinstance(obj, dict) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise VisionkitError(f"weights: expected a dict of tensors in {str(path)!r}, got {type(obj).__name__}")
    return {k.removeprefix("module."): v for k, v in obj.items()}


def load_pretrained(model: nn.Module, weights: str | os.PathLike | dict[str, torch.Tensor]) -> list[str]:
    """Load a torchvision/timm state dict into ``model``, adapting what differs in a known way.

    * a first conv saved for 3 channels and built for 1 gets the sum of the 3 filters (and the
      other way round, the filter repeated and scaled by 1/3), as timm's ``adapt_input_conv`` does;
    * tensors whose shape differs otherwise (a classifier for another number of classes) are left
      at their fresh initialisation and returned.

    Returns
    -------
    list of str
        Names left at their initial values.

    Raises
    ------
    VisionkitError
        When keys are missing or unexpected (the weights are for another architecture).
    """
    state = weights if isinstance(weights, dict) else load_state_dict_file(weights)
    own = model.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    if missing or unexpected:
        raise VisionkitError(f"weights do not fit {type(model).__name__}: {len(missing)} missing keys {missing[:4]}, "
                             f"{len(unexpected)} unexpected keys {unexpected[:4]} (weights for another architecture?)")
    kept, skipped = {}, []
    for k, v in state.items():
        want = own[k].shape
        if v.shape == want:
            kept[k] = v
        elif v.ndim == 4 and v.shape[0] == want[0] and v.shape[2:] == want[2:] and want[1] in (1, 3) and v.shape[1] in (1, 3):
            kept[k] = v.sum(1, keepdim=True) if want[1] == 1 else v.repeat(1, want[1], 1, 1) / want[1]
        else:
            skipped.append(k)
    model.load_state_dict({**own, **kept})
    return skipped


# ------------------------------------------------------------------- the training state of fit (resuming)


@dataclass
class TrainState:
    """What :func:`~visionkit.deep.train.fit` carries from one epoch to the next, and saves to resume.

    The model, optimiser, lookahead and generator are updated in place by training and by
    :func:`load_train_state`; the counters are those after ``epoch`` completed epochs.

    Attributes
    ----------
    model : nn.Module
    optimizer : torch.optim.Optimizer
    lookahead : object or None
        airbench's lookahead; its ``ema`` dict of tensors is saved.
    generator : torch.Generator
        Draws batch order and augmentation.
    config : TrainConfig
        A resumed checkpoint must have been written with the same options.
    result : TrainResult
        Its ``history``, ``mean``, ``std`` and ``best_epoch`` are saved (and the history and best epoch restored).
    epoch : int
        Completed epochs.
    step : int
        Optimiser steps taken.
    elapsed_s : float
        Training seconds so far (evaluation not counted).
    best_acc : float
        The best validation accuracy so far (-1: none yet).
    bad_epochs : int
        Epochs since it last improved (early stopping).
    scaler : torch.amp.GradScaler or None
        The gradient scaler of float16 training (CUDA without bf16); saved only when there is one.
    """

    model: nn.Module
    optimizer: torch.optim.Optimizer
    lookahead: Any
    generator: torch.Generator
    config: "TrainConfig"
    result: "TrainResult"
    epoch: int = 0
    step: int = 0
    elapsed_s: float = 0.0
    best_acc: float = -1.0
    bad_epochs: int = 0
    scaler: Any = None


_TRAIN_STATE_KIND = "visionkit-train-state"
#: TrainConfig fields a resumed run may change: they do not change what is trained.
_NOT_COMPARED = ("progress",)


def save_train_state(path: str | os.PathLike, state: TrainState) -> None:
    """Write ``state`` as a checkpoint (``kind="visionkit-train-state"``) that :func:`load_train_state` resumes.

    The tensors (model, optimiser slots, lookahead EMA, generator and torch RNG states) go to the
    safetensors file, the rest (options, counters, history, optimiser groups and scalar slots) to the JSON.
    """
    model, result = state.model, state.result
    tensors = {f"model.{k}": v for k, v in model.state_dict().items()}
    opt_state = state.optimizer.state_dict()
    slots = {}
    for pid, st in opt_state["state"].items():
        for key, v in st.items():
            if isinstance(v, torch.Tensor):
                tensors[f"optim.{pid}.{key}"] = v
            else:
                slots[f"{pid}.{key}"] = v
    if state.lookahead is not None:
        tensors.update({f"lookahead.{k}": v for k, v in state.lookahead.ema.items()})
    tensors["generator"] = state.generator.get_state()
    tensors["torch_rng"] = torch.get_rng_state()  # dropout / stochastic depth draw from it
    groups = [{k: v for k, v in g.items() if k != "params"} | {"params": g["params"]} for g in opt_state["param_groups"]]
    config = dict(
        kind=_TRAIN_STATE_KIND, model=getattr(model, "visionkit_config", None), train_config=asdict(state.config),
        epoch=state.epoch, step=state.step, elapsed_s=state.elapsed_s, optimizer_groups=groups, optimizer_scalars=slots,
        history=result.history, mean=result.mean, std=result.std, best_acc=state.best_acc, bad_epochs=state.bad_epochs,
        best_epoch=result.best_epoch)
    if state.scaler is not None:  # float16 only: a bf16 or float32 state is written as before
        config["grad_scaler"] = state.scaler.state_dict()
    save_checkpoint(path, tensors, config)


def load_train_state(path: str | os.PathLike, state: TrainState) -> None:
    """Restore ``state`` (built for the same model and options) from a checkpoint of :func:`save_train_state`.

    The model, optimiser, lookahead, generator and torch's global RNG are loaded in place; the
    counters, ``result.history`` and ``result.best_epoch`` are set.

    Raises
    ------
    VisionkitError
        The checkpoint is not a training state, or was written with other training options.
    """
    tensors, saved = load_checkpoint(path)
    if saved.get("kind") != _TRAIN_STATE_KIND:
        raise VisionkitError(f"resume: {str(path)!r} is not a training-state checkpoint (kind={saved.get('kind')!r})")
    # whether a bar is shown changes nothing in training: a run resumes with or without one (under torchrun only
    # rank 0 shows it, and every rank resumes from rank 0's checkpoint)
    config = {k: v for k, v in asdict(state.config).items() if k not in _NOT_COMPARED}
    saved_config = {k: v for k, v in saved["train_config"].items() if k not in _NOT_COMPARED}
    if saved_config != config:
        diff = {k: (saved_config.get(k), v) for k, v in config.items() if saved_config.get(k) != v}
        raise VisionkitError(f"resume: the checkpoint was written with other training options {diff} (saved, now)")
    state.model.load_state_dict({k[6:]: v for k, v in tensors.items() if k.startswith("model.")})
    opt_state: dict[str, Any] = {"state": {}, "param_groups": saved["optimizer_groups"]}
    for k, v in tensors.items():
        if k.startswith("optim."):
            _, pid, key = k.split(".", 2)
            opt_state["state"].setdefault(int(pid), {})[key] = v
    for k, v in saved["optimizer_scalars"].items():
        pid, key = k.split(".", 1)
        opt_state["state"].setdefault(int(pid), {})[key] = v
    state.optimizer.load_state_dict(opt_state)
    if state.lookahead is not None:
        for k in state.lookahead.ema:
            state.lookahead.ema[k].copy_(tensors[f"lookahead.{k}"])
    state.generator.set_state(tensors["generator"])
    torch.set_rng_state(tensors["torch_rng"])
    if state.scaler is not None and "grad_scaler" in saved:  # older and bf16 states have none: the scaler starts afresh
        state.scaler.load_state_dict(saved["grad_scaler"])
    state.epoch, state.step, state.elapsed_s = saved["epoch"], saved["step"], saved["elapsed_s"]
    state.best_acc, state.bad_epochs = saved["best_acc"], saved["bad_epochs"]
    state.result.history = saved["history"]
    state.result.best_epoch = saved["best_epoch"]
