"""``DeepClassifier``: any registered network behind the harness's scikit-learn-like face.

Images cross in the harness's one form, uint8 arrays (N, H, W, C) with C = 1 or 3 (or a list of
(H, W, C) arrays of different sizes, or a folder decoded on demand, :class:`~visionkit.data.ImageFolderSource`,
whose batches ``num_workers`` DataLoader workers decode while the network trains or predicts); the estimator resizes them (bilinear, antialiased) to its
``img_size``, normalises with the training set's per-channel statistics, and trains with the
model's registered recipe, overridden by the options given here.
"""

from __future__ import annotations

import math
from dataclasses import asdict
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.base import BaseEstimator, ClassifierMixin

from .._validate import GRAY_WEIGHTS, VisionkitError, describe
from .checkpoint import (_checkpoint_files, _load_tensors, check_model_config, check_tensor_shapes, expected_state_shapes,
                         read_checkpoint_config, read_safetensors_header, save_checkpoint)
from .features import embeddings, feature_maps, first_conv_filters
from .models import create_model, get_model_spec
from ..data import ImageFolderSource
from .train import StreamedImages, TrainConfig, _batches, default_amp, fit, normalize, predict_logits, resolve_device

__all__ = ["DeepClassifier", "prepare_images", "is_photo_set", "PHOTO_MIN_SIDE"]

#: Images larger than this (pixels, shorter side) count as photos (:func:`is_photo_set`).
PHOTO_MIN_SIDE = 64
_PHOTO_KEYS = {"model", "img_size", "augment", "batch_size", "min_steps", "lr", "epochs"}


def is_photo_set(images: Any) -> bool:
    """Whether ``images`` are photos rather than thumbnails: a list (photos of their own sizes) or an
    array (N, H, W, C) with ``min(H, W) > PHOTO_MIN_SIDE``. CIFAR-10 (32 px), Fashion-MNIST (28 px) and
    digits (8 px) are thumbnails; Caltech-101's photos (~300 px) are photos."""
    if isinstance(images, (list, tuple)):
        return True
    shape = getattr(images, "shape", None)
    return shape is not None and len(shape) == 4 and min(shape[1], shape[2]) > PHOTO_MIN_SIDE


def prepare_images(images: Any, size: int | None, *, name: str = "images") -> torch.Tensor:
    """uint8 images (N, H, W, C) or a list of (H, W, C) -> a uint8 tensor (N, C, size, size).

    ``size=None`` keeps an array's own size (square images only).
    """
    if isinstance(images, (list, tuple)):
        if not images:
            raise VisionkitError(f"{name}: expected at least one image, got an empty list")
        if size is None:
            raise VisionkitError(f"{name}: images of different sizes need an img_size to be resized to")
        return torch.cat([prepare_images(np.asarray(im)[None], size, name=name) for im in images])
    arr = np.asarray(images)
    if arr.dtype != np.uint8 or arr.ndim != 4 or arr.shape[-1] not in (1, 3) or len(arr) == 0:
        raise VisionkitError(f"{name}: expected uint8 images of shape (N, H, W, C) with C = 1 or 3, got {describe(arr)}")
    x = torch.from_numpy(np.ascontiguousarray(arr)).permute(0, 3, 1, 2)
    h, w = x.shape[-2:]
    if size is None:
        if h != w:
            raise VisionkitError(f"{name}: got non-square {h}x{w} images; give img_size to resize them")
        return x.contiguous()
    if (h, w) == (size, size):
        return x.contiguous()
    out = []
    for i in range(0, len(x), 2048):
        xf = F.interpolate(x[i:i + 2048].float(), size=(size, size), mode="bilinear", align_corners=False,
                           antialias=size < min(h, w))
        out.append(xf.round_().clamp_(0, 255).to(torch.uint8))
    return torch.cat(out)


def _rows(x: "torch.Tensor | StreamedImages", index: np.ndarray) -> "torch.Tensor | StreamedImages":
    """``x[index]`` in memory; a lazy view of those images when streamed (nothing decoded)."""
    if isinstance(x, StreamedImages):
        return x if len(index) == len(x) and np.array_equal(index, np.arange(len(x))) else x.subset(index)
    return x[index]


class DeepClassifier(ClassifierMixin, BaseEstimator):
    """A registered network trained as a scikit-learn classifier.

    Parameters
    ----------
    model : str
        A name from :func:`visionkit.deep.list_models`.
    img_size : int, optional
        Images are resized to ``img_size x img_size``; default: their own size, raised to the model's
        minimum (8x8 digits become 32x32 for LeNet-5).
    epochs, batch_size, lr, optimizer, weight_decay, label_smoothing, augment : optional
        Override the model's registered recipe (``ModelSpec.recipe``); None keeps it.
    train_options : dict, optional
        Any other :class:`~visionkit.deep.train.TrainConfig` field (e.g. ``{"tta": 1}``).
    validation_fraction : float
        Held out (stratified by the random state) for per-epoch evaluation and early stopping.
    patience : int, optional
        Early stopping patience (needs ``validation_fraction > 0``).
    photos : dict, optional
        Overrides used when the training images are photos rather than thumbnails (a list of
        variable-size images, or arrays larger than ``PHOTO_MIN_SIDE`` = 64 px): any of ``model``,
        ``img_size``, ``augment``, ``batch_size``, ``min_steps``, ``lr``, ``epochs``. The registered
        from-scratch methods use it to train an ImageNet-style network at 96 px with random resized
        crops for at least 800 steps on photos, and the CIFAR recipe on 32 px thumbnails. What was
        used is in ``model_name_``, ``img_size_`` and ``train_config_``.
    min_steps : int, optional
        Train for at least this many optimiser steps: on small training sets the number of epochs
        grows so that the network gets a fair amount of training (the data-efficiency experiment).
    pretrained : bool
        Start from the model's pretrained weights (``visionkit.deep.models.list_pretrained()``) and
        fine-tune the whole network: its registered recipe trains the pretrained layers at
        ``backbone_lr_scale`` times the learning rate of the fresh classifier. Images are then prepared
        as the weights expect (resized, centre-cropped to ``img_size``, default the trained size, and
        normalised with the weights' statistics, not the training set's).
    weights : path, optional
        A local weights file to start from instead of the installed weights package.
    head_init : {"linear-probe", "random"}
        With ``pretrained``: start fine-tuning from the softmax regression fitted on the frozen features
        (LP-FT, Kumar et al. 2022; one extra feature pass over the training images), or from a random head.
    device : str
        "auto" (CUDA when available), "cpu", "cuda".
    num_workers : int
        For images decoded on demand (an :class:`~visionkit.data.ImageFolderSource`): ``DataLoader``
        worker processes that decode and resize batches while the network trains or predicts (0: in
        this process). Batches come in the order of the seeded permutation, so the result does not
        depend on it. Unused for images in memory.
    random_state : int
        Seeds the initial weights, batch order and augmentation.
    progress : bool
        Show a progress bar.

    Attributes
    ----------
    classes_ : ndarray (K,)
    model_ : nn.Module
    mean_, std_ : list of float
        Per-channel normalisation learnt from the training images.
    img_size_ : int
    history_ : list of dict
    class_names_ : list of str or None
        ``class_names_[label]`` is the name of a label (from ``fit(..., class_names=)``, or ImageNet's for
        :meth:`from_pretrained`); None when no names were given.
    train_config_ : dict
        The training recipe actually used (the model's registered recipe with this estimator's
        overrides, epochs raised by ``min_steps``): every :class:`~visionkit.deep.train.TrainConfig` field.
    """

    def __init__(self, model: str = "resnet20", *, img_size: int | None = None, epochs: int | None = None,
                 batch_size: int | None = None, lr: float | None = None, optimizer: str | None = None,
                 weight_decay: float | None = None, label_smoothing: float | None = None, augment: str | None = None,
                 train_options: dict | None = None, validation_fraction: float = 0.0, patience: int | None = None,
                 min_steps: int | None = None, photos: dict | None = None, pretrained: bool = False, weights: str | None = None,
                 head_init: str = "linear-probe", device: str = "auto", num_workers: int = 2,
                 random_state: int = 0, progress: bool = False) -> None:
        self.model = model
        self.img_size = img_size
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.optimizer = optimizer
        self.weight_decay = weight_decay
        self.label_smoothing = label_smoothing
        self.augment = augment
        self.train_options = train_options
        self.validation_fraction = validation_fraction
        self.patience = patience
        self.min_steps = min_steps
        self.photos = photos
        self.pretrained = pretrained
        self.weights = weights
        self.head_init = head_init
        self.device = device
        self.num_workers = num_workers
        self.random_state = random_state
        self.progress = progress

    # ------------------------------------------------------------------------------ helpers

    def _options(self, images: Any) -> dict[str, Any]:
        """This estimator's options, with ``photos``' overrides applied when ``images`` are photos."""
        keys = ("model", "img_size", "epochs", "batch_size", "lr", "optimizer", "weight_decay", "label_smoothing",
                "augment", "min_steps")
        opts = {k: getattr(self, k) for k in keys}
        if self.photos is None or self.pretrained:
            return opts
        if not isinstance(self.photos, dict) or not set(self.photos) <= _PHOTO_KEYS:
            raise VisionkitError(f"photos: expected a dict with keys among {sorted(_PHOTO_KEYS)}, got {self.photos!r:.200}")
        return {**opts, **self.photos} if is_photo_set(images) else opts

    def _train_config(self, n: int, opts: dict[str, Any]) -> TrainConfig:
        """The training recipe for ``n`` training images under ``opts`` (from :meth:`_options`)."""
        recipe = dict(get_model_spec(opts["model"]).recipe)
        for key in ("epochs", "batch_size", "lr", "optimizer", "weight_decay", "label_smoothing", "augment"):
            if opts.get(key) is not None:
                recipe[key] = opts[key]
        recipe.update(self.train_options or {})
        recipe.update(device=self.device, seed=int(self.random_state), progress=self.progress, patience=self.patience)
        recipe["batch_size"] = max(1, min(int(recipe.get("batch_size", 128)), n))
        if opts.get("min_steps"):
            # small training sets: train for at least min_steps optimiser steps, not a fixed number of
            # epochs, so that 5 images per class are not judged after a handful of steps
            steps_per_epoch = max(1, n // recipe["batch_size"])
            recipe["epochs"] = max(int(recipe.get("epochs", 10)), math.ceil(int(opts["min_steps"]) / steps_per_epoch))
        return TrainConfig.from_dict(recipe)

    def _pretrained_config(self):
        if not self.pretrained:
            return None
        cfg = get_model_spec(self.model).pretrained
        if cfg is None:
            from .models import list_pretrained

            raise VisionkitError(f"pretrained: model {self.model!r} has no pretrained weights; expected one of {list_pretrained()}")
        return cfg

    def _prepare(self, images: Any, size: int) -> "torch.Tensor | StreamedImages":
        """uint8 (N, C, size, size): squashed to a square from scratch, resized and centre-cropped when pretrained;
        for a lazy source, the same batch by batch (:class:`~visionkit.deep.train.StreamedImages`)."""
        if isinstance(images, ImageFolderSource):
            return StreamedImages(images, lambda batch: self._prepare(batch, size), num_workers=self.num_workers)
        cfg = self._pretrained_config()
        if cfg is None:
            return prepare_images(images, size)
        from .models import resize_center_crop

        return resize_center_crop(images, size, crop_pct=cfg.crop_pct, interpolation=cfg.interpolation)

    def _size_for(self, images: Any, model: str, img_size: int | None) -> int | None:
        spec = get_model_spec(model)
        if self.pretrained and img_size is None:
            return self._pretrained_config().input_size
        if img_size is not None:
            if img_size < spec.min_size:
                raise VisionkitError(f"img_size: model {model!r} needs at least {spec.min_size}, got {img_size}")
            return int(img_size)
        if isinstance(images, (list, tuple)):
            return max(spec.min_size, 64)
        h = (images.shape if isinstance(images, ImageFolderSource) else np.asarray(images).shape)[1]
        return max(int(h), spec.min_size) if not spec.fixed_size else spec.default_img_size

    def _check_fitted(self) -> None:
        if not hasattr(self, "model_"):
            from sklearn.exceptions import NotFittedError

            raise NotFittedError(f"this DeepClassifier({self.model!r}) is not fitted yet; call fit(images, labels) first")

    def _inputs(self, images: Any) -> "torch.Tensor | StreamedImages":
        if isinstance(images, ImageFolderSource):  # the same, batch by batch
            return StreamedImages(images, self._inputs, num_workers=self.num_workers)
        x = self._prepare(images, self.img_size_)
        if x.shape[1] != self.in_chans_:
            # the harness mixes grey and colour data sets: grey is repeated on three channels, colour
            # reduced to grey with the BT.709 weights (visionkit's colour rule)
            if self.in_chans_ == 3 and x.shape[1] == 1:
                x = x.expand(-1, 3, -1, -1).contiguous()
            elif self.in_chans_ == 1 and x.shape[1] == 3:
                w = torch.from_numpy(GRAY_WEIGHTS).view(1, 3, 1, 1)
                x = (x.float() * w).sum(1, keepdim=True).round().clamp(0, 255).to(torch.uint8)
            else:
                raise VisionkitError(f"images: the model was trained on {self.in_chans_}-channel images, got {x.shape[1]} channels")
        return x

    # ------------------------------------------------------------------------------ estimator

    def fit(self, images: Any, labels: Any, *, class_names: Sequence[str] | None = None,
            checkpoint: str | Path | None = None, resume: bool = False, callback=None,
            distributed=None) -> "DeepClassifier":
        """Train on uint8 images (N, H, W, C) and labels (N,); returns ``self``.

        ``class_names`` (e.g. ``Dataset.classes``) names the integer labels: ``class_names[label]``. They
        are kept in ``class_names_`` and in the checkpoint, so a loaded classifier says "frog", not "6".
        ``checkpoint``, ``resume``, ``callback`` and ``distributed`` go to
        :func:`~visionkit.deep.train.fit` (the training state written every epoch, resuming from it, a
        call per epoch, data-parallel training under ``torchrun``: ``visionkit train``).
        """
        opts = self._options(images)
        size = self._size_for(images, opts["model"], opts["img_size"])
        x = self._prepare(images, size)
        y_raw = np.asarray(labels)
        if y_raw.ndim != 1 or len(y_raw) != len(x):
            raise VisionkitError(f"labels: expected shape ({len(x)},), got {describe(y_raw)}")
        self.classes_, y = np.unique(y_raw, return_inverse=True)
        if len(self.classes_) < 2:
            raise VisionkitError(f"labels: expected at least 2 classes, got {len(self.classes_)}")
        self.class_names_ = self._check_class_names(class_names)
        val = None
        train_idx = np.arange(len(x))
        if self.validation_fraction:
            from sklearn.model_selection import train_test_split

            train_idx, val_idx = train_test_split(train_idx, test_size=self.validation_fraction, stratify=y,
                                                  random_state=self.random_state)
            val = (_rows(x, val_idx), y[val_idx])
        config = self._train_config(len(train_idx), opts)
        self.train_config_ = asdict(config)
        self.model_name_ = opts["model"]
        self.img_size_, self.in_chans_ = size, int(x.shape[1])
        pretrained = self._pretrained_config()
        self.model_ = create_model(self.model_name_, num_classes=len(self.classes_), in_chans=self.in_chans_, img_size=size,
                                   seed=int(self.random_state), pretrained=pretrained is not None, weights=self.weights)
        norm = dict(mean=list(pretrained.mean), std=list(pretrained.std)) if pretrained is not None else {}
        if pretrained is not None and self.head_init not in ("linear-probe", "random"):
            raise VisionkitError(f"head_init: expected 'linear-probe' or 'random', got {self.head_init!r}")
        if pretrained is not None and self.head_init == "linear-probe":
            from .transfer import linear_probe

            self.model_.to(resolve_device(self.device))
            self.probe_train_accuracy_ = linear_probe(self.model_, _rows(x, train_idx), y[train_idx], norm["mean"], norm["std"],
                                                      amp=default_amp(resolve_device(self.device)) if config.amp is None else bool(config.amp))
        result = fit(self.model_, _rows(x, train_idx), y[train_idx], config, val=val, **norm, checkpoint=checkpoint, resume=resume,
                     callback=callback, distributed=distributed)
        self.mean_, self.std_, self.history_ = result.mean, result.std, result.history
        self.tta_ = config.tta
        self.train_time_s_ = result.train_time_s
        # optimiser steps: each rank steps through its shard of N // world images, batch_size at a time
        world = 1 if distributed is None else distributed.world_size
        self.train_steps_ = result.epochs_run * max(1, (len(train_idx) // world) // config.batch_size)
        self.pretrained_on_ = pretrained.dataset if pretrained is not None else None
        return self

    def _check_class_names(self, class_names: Sequence[str] | None) -> list[str] | None:
        if class_names is None:
            return None
        if isinstance(class_names, str) or not all(isinstance(c, str) for c in class_names):
            raise VisionkitError(f"class_names: expected a list of str (class_names[label] is the name), got {class_names!r:.200}")
        names = list(class_names)
        if not np.issubdtype(self.classes_.dtype, np.integer) or self.classes_.min() < 0 or self.classes_.max() >= len(names):
            raise VisionkitError(f"class_names: expected a name for every label, i.e. integer labels in 0..{len(names) - 1}, "
                                 f"got labels {self.classes_.tolist()[:10]}{' ...' if len(self.classes_) > 10 else ''}")
        return names

    def _logits(self, images: Any) -> torch.Tensor:
        self._check_fitted()
        return predict_logits(self.model_, self._inputs(images), self.mean_, self.std_, tta=self.tta_, device=self.device,
                              batch_size=500)

    def predict_proba(self, images: Any) -> np.ndarray:
        """Class probabilities (N, K), columns in the order of ``classes_``."""
        return torch.softmax(self._logits(images), dim=1).numpy()

    def predict(self, images: Any) -> np.ndarray:
        """Predicted labels (N,)."""
        index = self._logits(images).argmax(1).numpy()
        return self.classes_[index]

    @torch.no_grad()
    def transform(self, images: Any) -> np.ndarray:
        """Penultimate embeddings (N, D), float32 (the input of the final linear layer)."""
        self._check_fitted()
        x = self._inputs(images)
        device = next(self.model_.parameters()).device
        self.model_.eval()
        out = [embeddings(self.model_, self._normalised(b, device)).cpu() for b in _batches(x, 500)]
        return torch.cat(out).numpy()

    def _normalised(self, x: torch.Tensor, device: torch.device) -> torch.Tensor:
        x = normalize(x.to(device), self.mean_, self.std_)
        p = next(self.model_.parameters())
        if p.is_contiguous(memory_format=torch.channels_last) and p.ndim == 4:
            x = x.contiguous(memory_format=torch.channels_last)
        return x

    @torch.no_grad()
    def feature_maps(self, images: Any, layers: Sequence[str] | None = None) -> dict[str, np.ndarray]:
        """Named intermediate maps ``{layer: (N, C, h, w) float32}``; default the registered early, middle, late layers."""
        self._check_fitted()
        device = next(self.model_.parameters()).device
        self.model_.eval()
        x = self._inputs(images)
        x = x[:] if isinstance(x, StreamedImages) else x  # a few images, for figures: decoded together
        maps = feature_maps(self.model_, self._normalised(x, device), layers)
        return {k: v.cpu().numpy() for k, v in maps.items()}

    def first_conv_filters(self) -> np.ndarray:
        """The first convolution's filters (out, in, kh, kw), float32."""
        self._check_fitted()
        return first_conv_filters(self.model_).numpy()

    # ------------------------------------------------------------------------------ persistence

    def save(self, path: str | Path) -> tuple[Path, Path]:
        """Write ``PATH.safetensors`` (weights) and ``PATH.json`` (everything else)."""
        self._check_fitted()
        params = {k: v for k, v in self.get_params().items()}
        name = getattr(self, "model_name_", self.model)
        if name != self.model or params.get("photos") is not None:
            # the photo overrides were applied at fit: record what was built, so load rebuilds it
            params.update(model=name, img_size=self.img_size_, photos=None)
        config = dict(kind="visionkit-deep-classifier", params=params, model=self.model_.visionkit_config,
                      classes=self.classes_.tolist(), class_names=getattr(self, "class_names_", None), mean=self.mean_, std=self.std_, img_size=self.img_size_,
                      in_chans=self.in_chans_, tta=self.tta_, history=self.history_)
        return save_checkpoint(path, self.model_.state_dict(), config)

    @classmethod
    def from_pretrained(cls, model: str = "efficientnet_lite0", *, weights: str | None = None,
                        device: str = "cpu") -> "DeepClassifier":
        """The pretrained network as it is, a fitted classifier of its own classes (ImageNet's 1,000).

        Nothing is trained: ``predict`` gives ImageNet class indices (names in
        ``visionkit.deep.models.imagenet_classes()``), and the figures (``visionkit show``) can look
        inside a network without a checkpoint.
        """
        from .models import imagenet_classes

        est = cls(model, pretrained=True, weights=weights, device=device)
        cfg = est._pretrained_config()
        est.model_ = create_model(model, num_classes=1000, in_chans=3, img_size=cfg.input_size, pretrained=True,
                                  weights=weights).to(resolve_device(device)).eval()
        est.classes_ = np.arange(1000)
        est.class_names_ = imagenet_classes()
        est.mean_, est.std_ = list(cfg.mean), list(cfg.std)
        est.img_size_, est.in_chans_, est.tta_, est.history_ = cfg.input_size, 3, 0, []
        est.pretrained_on_ = cfg.dataset
        return est

    @classmethod
    def load(cls, path: str | Path, *, device: str = "auto") -> "DeepClassifier":
        """Rebuild a classifier written by :meth:`save` (safetensors only; a pickle is refused).

        Nothing is built before the JSON has passed its schema (:func:`_check_checkpoint_config`:
        every field, with bounds) and the safetensors header's tensor names and shapes have matched
        the model's, computed on the ``meta`` device; so a hostile or damaged checkpoint costs
        neither memory nor time. The weights are always ``STEM.safetensors`` beside ``STEM.json``.

        Raises
        ------
        VisionkitError
            One line for any missing, malformed, truncated or inconsistent checkpoint.
        """
        st_path, js_path = _checkpoint_files(path)
        config = read_checkpoint_config(js_path)
        params, name, model_cfg = _check_checkpoint_config(config, str(js_path))
        check_tensor_shapes(read_safetensors_header(st_path), expected_state_shapes(name, model_cfg, str(js_path)),
                            repr(str(st_path)))
        tensors = _load_tensors(st_path)
        est = cls(**params, device=device)
        est.model_ = create_model(name, **model_cfg)
        est.model_.load_state_dict(tensors)
        est.model_.to(resolve_device(device)).eval()
        est.classes_ = np.asarray(config["classes"])
        est.class_names_ = config.get("class_names")  # None in checkpoints written before names were kept
        est.mean_, est.std_, est.img_size_ = list(config["mean"]), list(config["std"]), config["img_size"]
        est.in_chans_, est.tta_, est.history_ = config["in_chans"], config["tta"], config["history"]
        return est


# ---------------------------------------------------------------------------------- checkpoint schema

_MAX_STR = 256


def _opt(check):
    def f(v: Any) -> bool:
        return v is None or check(v)
    f.expected = f"null or {check.expected}"
    return f


def _is(kind: str, pred):
    pred.expected = kind
    return pred


_STR = _is(f"a string of at most {_MAX_STR} characters", lambda v: isinstance(v, str) and len(v) <= _MAX_STR)
_BOOL = _is("true or false", lambda v: isinstance(v, bool))
_INT_POS = _is("an integer in 1..1,000,000,000", lambda v: type(v) is int and 1 <= v <= 10**9)
_INT_NONNEG = _is("an integer in 0..1,000,000,000", lambda v: type(v) is int and 0 <= v <= 10**9)
_FLOAT_NONNEG = _is("a finite number >= 0", lambda v: type(v) in (int, float) and math.isfinite(v) and v >= 0)
_FRACTION = _is("a number in [0, 1)", lambda v: type(v) in (int, float) and 0 <= v < 1)
_SEED = _is("an integer in 0..2**32-1", lambda v: type(v) is int and 0 <= v <= 2**32 - 1)

#: The schema of ``params`` in a DeepClassifier checkpoint: every key optional (older checkpoints
#: lack the newer ones), none other allowed. ``weights`` is kept as a record of how the model was
#: fitted; :meth:`DeepClassifier.load` never opens it.
_PARAM_SCHEMA = dict(
    model=_STR, img_size=_opt(_is("an integer in 1..4096", lambda v: type(v) is int and 1 <= v <= 4096)),
    epochs=_opt(_INT_POS), batch_size=_opt(_INT_POS), lr=_opt(_FLOAT_NONNEG), optimizer=_opt(_STR),
    weight_decay=_opt(_FLOAT_NONNEG), label_smoothing=_opt(_FRACTION), augment=_opt(_STR),
    train_options=_opt(_is("an object", lambda v: isinstance(v, dict))), validation_fraction=_FRACTION,
    patience=_opt(_INT_NONNEG), min_steps=_opt(_INT_NONNEG), photos=_opt(_is("an object", lambda v: isinstance(v, dict))),
    pretrained=_BOOL, weights=_opt(_STR),
    head_init=_is("'linear-probe' or 'random'", lambda v: v in ("linear-probe", "random")),
    device=_STR, num_workers=_opt(_is("an integer in 0..256", lambda v: type(v) is int and 0 <= v <= 256)),
    random_state=_SEED, progress=_BOOL,
)
_MAX_HISTORY = 1_000_000


def _check_checkpoint_config(config: dict[str, Any], where: str) -> tuple[dict[str, Any], str, dict[str, Any]]:
    """Check a DeepClassifier checkpoint's JSON; ``(params, model name, model builder arguments)``.

    Parameters
    ----------
    config : dict
        The parsed JSON (:func:`~visionkit.deep.checkpoint.read_checkpoint_config`).
    where : str
        The file, for messages.

    Raises
    ------
    VisionkitError
        One line naming the first field that is missing, of the wrong type or out of bounds.
    """
    def bad(field: str, expected: str, value: Any = ..., missing: bool = False) -> VisionkitError:
        got = "it is missing" if missing else f"got {describe(value)}"
        return VisionkitError(f"checkpoint {where!r}: {field}: expected {expected}, {got}")

    if config.get("kind") != "visionkit-deep-classifier":
        raise bad("kind", "'visionkit-deep-classifier' (a DeepClassifier checkpoint)", config.get("kind"),
                  missing="kind" not in config)
    for key in ("params", "model", "classes", "mean", "std", "img_size", "in_chans", "tta", "history"):
        if key not in config:
            raise bad(key, "a value (DeepClassifier.save writes it)", missing=True)
    params = config["params"]
    if not isinstance(params, dict):
        raise bad("params", "an object of DeepClassifier parameters", params)
    unknown = sorted(set(params) - set(_PARAM_SCHEMA))
    if unknown:
        raise VisionkitError(f"checkpoint {where!r}: params: unknown keys {[k[:40] for k in unknown[:5]]}; "
                             f"expected only DeepClassifier's: {', '.join(_PARAM_SCHEMA)}")
    for key, value in params.items():
        if not _PARAM_SCHEMA[key](value):
            raise bad(f"params.{key}", _PARAM_SCHEMA[key].expected, value)
    name, model_cfg = check_model_config(config["model"], repr(where))
    if params.get("model", name) != name:
        raise bad("params.model", f"the model's name {name!r}", params["model"])
    k, c = model_cfg["num_classes"], model_cfg["in_chans"]
    classes = config["classes"]
    if not isinstance(classes, list) or len(classes) != k:
        raise bad("classes", f"a list of model.num_classes = {k} labels", classes)
    if not all(isinstance(x, (str, int, float)) and (not isinstance(x, str) or len(x) <= _MAX_STR) for x in classes):
        raise bad("classes", "labels that are numbers or strings", classes)
    if len({type(x) for x in classes}) > 1 and not all(type(x) in (int, float) for x in classes):
        raise bad("classes", "labels of one type", classes)
    for key in ("mean", "std"):
        v = config[key]
        low = 1e-12 if key == "std" else -1e6
        if not (isinstance(v, list) and len(v) == c
                and all(type(x) in (int, float) and math.isfinite(x) and low <= x <= 1e6 for x in v)):
            raise bad(key, f"a list of model.in_chans = {c} finite numbers{' > 0' if key == 'std' else ''}", v)
    if config["in_chans"] != c:
        raise bad("in_chans", f"model.in_chans = {c}", config["in_chans"])
    if config["img_size"] != model_cfg["img_size"]:
        raise bad("img_size", f"model.img_size = {model_cfg['img_size']}", config["img_size"])
    if type(config["tta"]) is not int or not 0 <= config["tta"] <= 2:
        raise bad("tta", "0, 1 or 2", config["tta"])
    history = config["history"]
    if not isinstance(history, list) or len(history) > _MAX_HISTORY or not all(isinstance(h, dict) for h in history):
        raise bad("history", "a list of per-epoch objects", history)
    return {k: v for k, v in params.items() if k != "device"} | {"model": name}, name, model_cfg
