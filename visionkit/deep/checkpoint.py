"""Safe checkpoints: tensors in safetensors, everything else in JSON; pickles are refused.

A visionkit checkpoint is two files side by side, ``STEM.safetensors`` (the model's state dict and,
for resuming, the optimiser's tensors, the random generator's state, ...) and ``STEM.json`` (the
model name and arguments, the normalisation, the training state). Nothing is ever unpickled: a
``.pth`` written by ``torch.save`` is read only through :func:`load_state_dict_file`, with
``torch.load(weights_only=True)``, which loads tensors and refuses code.
"""

from __future__ import annotations

import json
import os
import struct
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .._atomic import atomic_write
from .._validate import VisionkitError

__all__ = [
    "save_checkpoint",
    "load_checkpoint",
    "checkpoint_paths",
    "load_state_dict_file",
    "load_pretrained",
    "is_safetensors_file",
]

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


def _atomic_write(path: Path, write) -> None:
    atomic_write(path, write)  # synced, umask respected, no .tmp left on error


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
    _atomic_write(st_path, lambda tmp: save_file(flat, tmp, metadata={"format": "pt", "visionkit": "1"}))
    _atomic_write(js_path, lambda tmp: Path(tmp).write_text(text))
    return st_path, js_path


def load_checkpoint(path: str | os.PathLike, *, device: str | torch.device = "cpu") -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Read a checkpoint written by :func:`save_checkpoint`: ``(tensors, config)``.

    Raises
    ------
    VisionkitError
        If a file is missing, or the tensor file is not safetensors (a pickle is refused, never loaded).
    """
    from safetensors.torch import load_file

    st_path, js_path = checkpoint_paths(path)
    for p in (st_path, js_path):
        if not p.is_file():
            raise VisionkitError(f"checkpoint: expected {str(p)!r} (a visionkit checkpoint is STEM.safetensors + STEM.json), it does not exist")
    kind = _pickle_kind(st_path)
    if kind is not None or not is_safetensors_file(st_path):
        raise VisionkitError(f"checkpoint: refusing to load {str(st_path)!r}: it is {kind or 'not a safetensors file'}. "
                             "visionkit loads only safetensors (pickles can run arbitrary code)")
    try:
        config = json.loads(js_path.read_text())
    except json.JSONDecodeError as exc:
        raise VisionkitError(f"checkpoint: {str(js_path)!r} is not valid JSON ({exc})") from None
    return load_file(str(st_path), device=str(device)), config


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
