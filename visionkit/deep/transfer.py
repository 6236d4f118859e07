"""Transfer: features a network learned on ImageNet, reused on the data at hand.

:func:`cached_features` extracts a :class:`~visionkit.deep.models.Backbone`'s pooled features in batches
(with a progress bar) and keeps them on disk, one row per image keyed by a digest of the image's pixels,
so that every method, seed and training subset that sees the same image reuses its row.
:class:`PretrainedFeaturesSVM` is the off-the-shelf recipe of Razavian et al. 2014 and Chatfield et al.
2014: frozen backbone, pooled penultimate features, L2 normalisation, a linear SVM.
"""

from __future__ import annotations

import hashlib
import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.svm import LinearSVC

from .._progress import stage
from .._validate import VisionkitError, describe

__all__ = ["image_digests", "cached_features", "PretrainedFeaturesSVM"]


def image_digests(images: Any) -> list[bytes]:
    """A 16-byte BLAKE2 digest of each image's shape, dtype and pixels (uint8 (N, H, W, C) or a list)."""
    out = []
    for im in images:
        a = np.ascontiguousarray(im)
        h = hashlib.blake2b(digest_size=16)
        h.update(repr((a.shape, a.dtype.str)).encode())
        h.update(a.data)
        out.append(h.digest())
    return out


def _cache_dir(backbone, amp: bool, base: str | os.PathLike | None) -> Path:
    from ..data import default_cache_dir

    c = backbone.config
    tag = f"{backbone.name.replace(':', '_')}-{backbone.weights_id}-{c.input_size}-{c.crop_pct:g}-{c.interpolation}-{'bf16' if amp else 'fp32'}"
    return (Path(base) if base is not None else default_cache_dir()) / "features" / tag


def _read_cache(folder: Path) -> dict[bytes, np.ndarray]:
    rows: dict[bytes, np.ndarray] = {}
    if not folder.is_dir():
        return rows
    for f in sorted(folder.glob("*.npz")):
        try:
            with np.load(f, allow_pickle=False) as z:
                keys, feats = z["digests"], z["features"]
            if keys.ndim != 2 or keys.shape[1] != 16 or len(keys) != len(feats):
                raise ValueError("inconsistent arrays")
        except Exception as exc:  # a damaged chunk is dropped and recomputed, never fatal
            warnings.warn(f"feature cache: ignoring damaged file {str(f)!r} ({type(exc).__name__}: {exc})", stacklevel=3)
            continue
        rows.update(zip(map(bytes, keys), feats))
    return rows


def _write_cache(folder: Path, digests: list[bytes], feats: np.ndarray) -> None:
    from .._atomic import atomic_write

    keys = np.frombuffer(b"".join(digests), np.uint8).reshape(-1, 16)
    name = hashlib.blake2b(b"".join(digests), digest_size=12).hexdigest() + ".npz"
    def write(tmp: str) -> None:
        with open(tmp, "wb") as fh:
            np.savez(fh, digests=keys, features=feats)

    try:  # chunks are immutable and named by their content: concurrent writers never clash
        atomic_write(folder / name, write)
    except OSError as exc:  # the cache is optional: a full or read-only disk only costs time
        warnings.warn(f"feature cache: could not write to {str(folder)!r} ({exc}); going on without it", stacklevel=3)


def _mark_used(folder: Path, *, evict: bool) -> None:
    """Mark the backbone's folder as just used (least recently used entries go first), and after a write
    evict others down to the cache's size limit (:func:`visionkit.data.evict_cache`)."""
    from ..data import evict_cache

    try:
        os.utime(folder)
        if evict:
            evict_cache(base=folder.parent.parent, keep=[folder])
    except OSError:  # the cache is optional: a read-only or vanished folder only costs time
        pass


def cached_features(backbone, images: Any, *, cache: bool | str | os.PathLike = True, batch_size: int = 64,
                    amp: bool = False, progress: bool = False) -> np.ndarray:
    """``backbone.features(images)``, reusing rows computed before for the same pixels.

    Parameters
    ----------
    backbone : Backbone
    images : uint8 ndarray (N, H, W, C) or list of (H, W, C)
    cache : bool or path
        ``True``: under ``default_cache_dir()/features/``; a path: there; ``False``: no cache.
        Rows are stored per backbone, weights, input size, crop and precision.
    batch_size, amp, progress
        As :meth:`Backbone.features`.

    Returns
    -------
    ndarray, float32, shape (N, D)
    """
    n = len(images)
    if n == 0:
        raise VisionkitError(f"images: expected at least one image, got {describe(images)}")
    if not cache:
        return backbone.features(images, batch_size=batch_size, amp=amp, progress=progress)
    folder = _cache_dir(backbone, amp, None if cache is True else cache)
    digests = image_digests(images)
    known = _read_cache(folder)
    missing = [i for i, d in enumerate(digests) if d not in known]
    if missing:
        sub = images[missing] if isinstance(images, np.ndarray) else [images[i] for i in missing]
        new = backbone.features(sub, batch_size=batch_size, amp=amp, progress=progress)
        new_digests = [digests[i] for i in missing]
        _write_cache(folder, new_digests, new)
        known.update(zip(new_digests, new))
    _mark_used(folder, evict=bool(missing) and cache is True)
    return np.stack([known[d] for d in digests]).astype(np.float32, copy=False)


class PretrainedFeaturesSVM(ClassifierMixin, BaseEstimator):
    """A frozen pretrained network's pooled features, L2-normalised, classified by a linear SVM.

    The same linear SVM (``sklearn.svm.LinearSVC``) as the handcrafted pipelines, so the comparison is
    between features. Features are extracted in batches with the backbone's own preprocessing and
    cached per image (:func:`cached_features`).

    Parameters
    ----------
    backbone : str
        A registered model with weights (``"efficientnet_lite0"``) or ``"torchvision:NAME"`` /
        ``"timm:NAME"`` with ``weights``.
    weights : path, optional
        A local weights file (default: the installed weights package).
    img_size : int, optional
        Input size (default: the size the weights were trained at).
    C : float
        The SVM's regularisation.
    batch_size : int
    amp : bool or None
        bfloat16 inference on the CPU (about twice as fast where the CPU runs bf16 natively; emulated
        on an AVX2-only CPU it is ~15x slower); None: :func:`~visionkit.deep.train.default_amp`.
    cache : bool or path
    device : str
    progress : bool
    random_state : int
        Seeds the SVM's coordinate descent.

    Attributes
    ----------
    backbone_ : Backbone
    svm_ : LinearSVC
    classes_ : ndarray (K,)
    pretrained_on_ : str
        What the features were learned on (``"imagenet-1k"``).
    """

    def __init__(self, backbone: str = "efficientnet_lite0", *, weights: str | None = None, img_size: int | None = None,
                 C: float = 1.0, batch_size: int = 64, amp: bool | None = None, cache: bool | str = True, device: str = "cpu",
                 progress: bool = False, random_state: int = 0) -> None:
        self.backbone = backbone
        self.weights = weights
        self.img_size = img_size
        self.C = C
        self.batch_size = batch_size
        self.amp = amp
        self.cache = cache
        self.device = device
        self.progress = progress
        self.random_state = random_state

    def _features(self, images: Any) -> np.ndarray:
        from .train import default_amp

        amp = default_amp(self.device) if self.amp is None else bool(self.amp)
        f = cached_features(self.backbone_, images, cache=self.cache, batch_size=self.batch_size, amp=amp,
                            progress=self.progress)
        return f / np.maximum(np.linalg.norm(f, axis=1, keepdims=True), 1e-12)

    def fit(self, images: Any, labels: Any) -> "PretrainedFeaturesSVM":
        """Extract features of uint8 images (N, H, W, C) and fit the SVM on them; returns ``self``."""
        from .models import load_backbone

        y = np.asarray(labels)
        if y.ndim != 1 or len(y) != len(images):
            raise VisionkitError(f"labels: expected shape ({len(images)},), got {describe(y)}")
        if len(np.unique(y)) < 2:
            raise VisionkitError(f"labels: expected at least 2 classes, got {len(np.unique(y))}")
        self.backbone_ = load_backbone(self.backbone, weights=self.weights, img_size=self.img_size, device=self.device)
        feats = self._features(images)
        with stage(f"linear SVM fit ({feats.shape[0]:,} x {feats.shape[1]:,})"):
            self.svm_ = LinearSVC(C=self.C, random_state=self.random_state).fit(feats, y)
        self.classes_ = self.svm_.classes_
        self.pretrained_on_ = self.backbone_.config.dataset
        return self

    def _check_fitted(self) -> None:
        if not hasattr(self, "svm_"):
            from sklearn.exceptions import NotFittedError

            raise NotFittedError("this PretrainedFeaturesSVM is not fitted yet; call fit(images, labels) first")

    def transform(self, images: Any) -> np.ndarray:
        """L2-normalised pooled features (N, D), float32."""
        self._check_fitted()
        return self._features(images)

    def decision_function(self, images: Any) -> np.ndarray:
        """The SVM's scores (N, K) (or (N,) for two classes)."""
        return self.svm_.decision_function(self.transform(images))

    def predict(self, images: Any) -> np.ndarray:
        """Predicted labels (N,)."""
        return self.svm_.predict(self.transform(images))


def linear_probe(model, images, labels, mean: list[float], std: list[float], *, weight_decay: float = 1e-3,
                 batch_size: int = 64, amp: bool | None = None, max_iter: int = 200) -> float:
    """Set a model's classifier head to the softmax regression fitted on its frozen features (in place).

    The first step of LP-FT (Kumar et al. 2022, "Fine-tuning can distort pretrained features"): a fresh,
    random head sends large random gradients into the pretrained layers during the first fine-tuning
    steps; a head fitted first on the frozen features does not, and fine-tuning starts from the linear
    probe's accuracy.

    Parameters
    ----------
    model : nn.Module
        From :func:`visionkit.deep.create_model` (its registered ``head`` is a ``nn.Linear``).
    images : uint8 Tensor (N, C, H, W)
        Already resized as the model expects.
    labels : int array (N,)
        In ``0 .. num_classes - 1``.
    mean, std : list of float
        The normalisation of the inputs.
    weight_decay : float
        L2 penalty on the head's weights (on the mean cross-entropy).
    batch_size, amp
        For the feature pass (eval mode, no gradient); ``amp=None``: :func:`~visionkit.deep.train.default_amp`.
    max_iter : int
        L-BFGS iterations (full batch).

    Returns
    -------
    float
        The training accuracy of the fitted head.
    """
    import torch
    import torch.nn.functional as F

    from .features import embeddings
    from .models import get_model_spec
    from .train import _autocast, normalize

    head = dict(model.named_modules())[get_model_spec(model.visionkit_config["name"]).head]
    y = torch.as_tensor(np.asarray(labels), dtype=torch.long)
    if not isinstance(head, torch.nn.Linear) or int(y.max()) >= head.out_features or int(y.min()) < 0:
        raise VisionkitError(f"linear_probe: expected a linear head and labels in 0..{getattr(head, 'out_features', '?') - 1}, "
                             f"got {type(head).__name__} and labels {describe(labels)}")
    device = next(model.parameters()).device
    if amp is None:
        from .train import default_amp

        amp = default_amp(device)
    was_training = model.training
    model.eval()
    feats = []
    with torch.no_grad(), _autocast(device, amp):
        for i in range(0, len(images), batch_size):
            feats.append(embeddings(model, normalize(images[i:i + batch_size].to(device), mean, std)).float())
    feats = torch.cat(feats)
    model.train(was_training)
    w = torch.zeros_like(head.weight, requires_grad=True)
    b = torch.zeros_like(head.bias, requires_grad=True)
    opt = torch.optim.LBFGS([w, b], max_iter=max_iter, history_size=20, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = F.cross_entropy(feats @ w.T + b, y.to(device)) + 0.5 * weight_decay * w.pow(2).sum()
        loss.backward()
        return loss

    with torch.enable_grad():
        opt.step(closure)
    with torch.no_grad():
        head.weight.copy_(w)
        head.bias.copy_(b)
        return float(((feats @ w.T + b).argmax(1).cpu() == y).float().mean())
