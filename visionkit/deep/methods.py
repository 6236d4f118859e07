"""The deep methods the benchmark harness runs, registered in :mod:`visionkit.registry` (family "deep").

Each factory returns an estimator with the harness protocol (``fit``, ``predict``,
``predict_proba``, ``transform`` on uint8 (N, H, W, C) images). Defaults are small (a few epochs)
so that they run in seconds on 8x8 digits, upscaled to the model's minimum size, and in minutes on
32x32 images on two CPU cores; pass ``epochs=`` etc. for more.

==================  =====================================================================
method              what it is
==================  =====================================================================
lenet               LeNet-5 (AdamW, no augmentation), 10 epochs
resnet              CIFAR ResNet-20, Nesterov SGD, crop + flip, 8 epochs; on photos (Caltech-101)
                    ResNet-18 at 96 px, random resized crops, >= 800 steps (``PHOTO_RECIPE``)
vit                 ViT with 4x4 patches and the course's attention, AdamW, 10 epochs
convnext            ConvNeXt (atto widths, 2x2 stem), AdamW, 8 epochs
efficientnet        torchvision EfficientNet-B0 from scratch, AdamW, 8 epochs (photos: as resnet)
airbench            airbench94's net and recipe, 10 epochs
scatnet             the scattering hybrid (Oyallon et al. 2017): fixed J=2 scattering, a learned
                    ResNet head (64-128), SGD, crop + flip, 10 epochs
cnn-features-svm    a trained CNN's penultimate embeddings, L2-normalised, into a LinearSVC
==================  =====================================================================

Family "transfer" (features learned on ImageNet-1k, then reused here):

=======================  ================================================================
method                   what it is
=======================  ================================================================
pretrained-features-svm  frozen EfficientNet-Lite0, pooled features, L2, LinearSVC
pretrained-finetune      EfficientNet-Lite0 fine-tuned whole: SGD, cosine, 5 epochs, the
                         pretrained layers at 0.1x the head's learning rate
=======================  ================================================================
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.svm import LinearSVC

from .. import registry
from .._progress import stage
from .estimator import DeepClassifier
from .transfer import PretrainedFeaturesSVM

__all__ = ["CNNFeaturesSVM", "PHOTO_RECIPE"]


#: The from-scratch recipe on photos (a list of photos of their own sizes, or images over 64 px: Caltech-101,
#: not CIFAR-10): an ImageNet-style ResNet-18 at 96 px (7x7 stride-2 stem and max-pool: its first stage
#: works at 24 x 24, near ResNet-20's 32 x 32 on CIFAR, and on a CPU it trains faster per image than
#: ResNet-20 at 64 px, whose 16-channel full-resolution maps are memory-bound), random resized crops, and
#: at least 800 steps of 64 images (51,200 images seen) however few the photos. Caltech-101 at 30 per
#: class, seed 0: 46.6 % mean per-class accuracy (the CIFAR recipe at 64 px: 13.7 %); README.
PHOTO_RECIPE = {"model": "resnet18", "img_size": 96, "augment": "photo", "batch_size": 64, "min_steps": 800}


def _photo_overrides(photos: dict | None, params: dict[str, Any]) -> dict | None:
    """The photo recipe without the options the caller gave explicitly (those win)."""
    if photos is None or "photos" in params:
        return params.get("photos", photos)
    return {k: v for k, v in photos.items() if k not in params} or None


def _factory(model: str, *, photos: dict | None = None, **defaults: Any):
    # at least 150 optimiser steps, however small the training subset (data-efficiency runs)
    defaults = {"min_steps": 150, **defaults}

    def make(**params: Any) -> DeepClassifier:
        overrides = _photo_overrides(photos, params)
        params = {k: v for k, v in params.items() if k != "photos"}
        return DeepClassifier(model, **{**defaults, **params, "photos": overrides})

    make.__name__ = f"make_{model}"
    return make


registry.register("lenet", _factory("lenet5", epochs=10), family="deep",
                  description="LeNet-5 as the course draws it (tanh, average pools), AdamW, 10 epochs")
registry.register("resnet", _factory("resnet20", epochs=8, photos=PHOTO_RECIPE), family="deep",
                  description="CIFAR ResNet-20 (3x3 stem), Nesterov SGD, one-cycle, crop + flip, 8 epochs; "
                              "on photos ResNet-18 at 96 px, random resized crops, >= 800 steps")
registry.register("vit", _factory("vit_cifar", epochs=10, augment="crop-flip"), family="deep",
                  description="ViT, 4x4 patches, the course's self-attention, sin-cos positions, AdamW, 10 epochs")
registry.register("convnext", _factory("convnext_atto_cifar", epochs=8), family="deep",
                  description="ConvNeXt at atto scale with a 2x2 stem, AdamW, 8 epochs")
registry.register("efficientnet", _factory("efficientnet_b0", epochs=8,
                                           photos={k: v for k, v in PHOTO_RECIPE.items() if k != "model"}),
                  family="deep", description="torchvision EfficientNet-B0 trained from scratch, AdamW, 8 epochs; "
                                             "on photos 96 px, random resized crops, >= 800 steps")
registry.register("airbench", _factory("airbench94", epochs=10), family="deep",
                  description="airbench94's net and recipe (whitening, lookahead, TTA), 10 epochs")
registry.register("scatnet", _factory("scatnet_cifar", epochs=10,
                                      photos={k: v for k, v in PHOTO_RECIPE.items() if k != "model"}),
                  family="deep", description="scattering hybrid (Oyallon et al. 2017): fixed J=2, L=8 scattering, "
                                             "a ResNet head that learns (64-128), crop + flip, 10 epochs")


class CNNFeaturesSVM(ClassifierMixin, BaseEstimator):
    """A trained CNN's penultimate embeddings, L2-normalised, classified by a linear SVM.

    The same kind of linear SVM as the classical side (``sklearn.svm.LinearSVC``), so the comparison
    is between features, not classifiers.

    Parameters
    ----------
    cnn : str
        A registered model name for the feature extractor (trained on the same data first).
    C : float
        The SVM's regularisation.
    cnn_options : dict, optional
        Options for :class:`DeepClassifier` (e.g. ``{"epochs": 5}``).
    random_state : int
    """

    def __init__(self, cnn: str = "resnet20", *, C: float = 1.0, cnn_options: dict | None = None, random_state: int = 0) -> None:
        self.cnn = cnn
        self.C = C
        self.cnn_options = cnn_options
        self.random_state = random_state

    @staticmethod
    def _l2(features: np.ndarray) -> np.ndarray:
        return features / np.maximum(np.linalg.norm(features, axis=1, keepdims=True), 1e-12)

    def network(self) -> DeepClassifier:
        """The (unfitted) network whose embeddings this method classifies: ``cnn`` with ``cnn_options``, and
        on photos :data:`PHOTO_RECIPE` in place of ResNet-20 (another network is kept as asked)."""
        given = self.cnn_options or {}
        photos = _photo_overrides(PHOTO_RECIPE, given) if self.cnn == "resnet20" or "photos" in given else None
        opts = {"epochs": 8, "min_steps": 150, **given, "photos": photos}
        return DeepClassifier(self.cnn, random_state=self.random_state, **opts)

    def fit(self, images: Any, labels: Any) -> "CNNFeaturesSVM":
        self.cnn_ = self.network().fit(images, labels)
        feats = self.transform(images)
        with stage(f"linear SVM fit ({feats.shape[0]:,} x {feats.shape[1]:,})"):
            self.svm_ = LinearSVC(C=self.C, random_state=self.random_state).fit(feats, labels)
        self.classes_ = self.svm_.classes_
        return self

    def transform(self, images: Any) -> np.ndarray:
        """L2-normalised penultimate embeddings (N, D)."""
        return self._l2(self.cnn_.transform(images))

    def decision_function(self, images: Any) -> np.ndarray:
        return self.svm_.decision_function(self.transform(images))

    def predict(self, images: Any) -> np.ndarray:
        return self.svm_.predict(self.transform(images))


registry.register("cnn-features-svm", CNNFeaturesSVM, family="deep",
                  description="ResNet-20 embeddings (trained on the data; on photos ResNet-18 as `resnet`), L2-normalised, LinearSVC")


registry.register("pretrained-features-svm", PretrainedFeaturesSVM, family="transfer",
                  description="EfficientNet-Lite0 with ImageNet weights, frozen: pooled features, L2-normalised, LinearSVC")


def _make_finetune(**params: Any) -> DeepClassifier:
    return DeepClassifier(**{"model": "efficientnet_lite0", "pretrained": True, "min_steps": 150, **params})


registry.register("pretrained-finetune", _make_finetune, family="transfer",
                  description="EfficientNet-Lite0 from ImageNet weights, fine-tuned whole (backbone at 0.1x lr), 5 epochs")
