"""Deep learning side of visionkit: the course's layers, registered CNN/ViT models, the training loop,
feature extraction, safe checkpoints, and the ``DeepClassifier`` harness face.

Importing this package does not register harness methods; :mod:`visionkit.registry` imports
:mod:`visionkit.deep.methods` for that.
"""

from __future__ import annotations

from .augment import augment_batch, random_crop_flip, random_resized_crop
from .checkpoint import TrainState, load_checkpoint, load_pretrained, load_state_dict_file, load_train_state, save_checkpoint, save_train_state
from .estimator import PHOTO_MIN_SIDE, DeepClassifier, is_photo_set, prepare_images
from .features import embeddings, feature_maps, first_conv_filters
from .layers import BatchNorm2d, MultiHeadSelfAttention, SelfAttention, batch_norm, multi_head_self_attention, self_attention
from .models import (
    MODELS,
    ModelSpec,
    count_parameters,
    create_model,
    get_model_spec,
    list_models,
    list_pretrained,
    load_backbone,
    register_model,
)
from .train import TrainConfig, TrainResult, evaluate, fit, lr_factor, predict_logits, to_tensor_images
from .transfer import PretrainedFeaturesSVM, cached_features, image_digests

__all__ = [
    "PHOTO_MIN_SIDE", "BatchNorm2d", "DeepClassifier", "MODELS", "ModelSpec", "MultiHeadSelfAttention", "PretrainedFeaturesSVM", "SelfAttention",
    "TrainConfig", "TrainResult", "TrainState", "augment_batch", "batch_norm", "cached_features", "count_parameters",
    "create_model", "embeddings", "evaluate", "feature_maps", "first_conv_filters", "fit", "get_model_spec", "image_digests",
    "is_photo_set", "list_models", "list_pretrained", "load_backbone", "load_checkpoint", "load_pretrained", "load_state_dict_file",
    "load_train_state", "lr_factor", "multi_head_self_attention", "predict_logits", "prepare_images", "random_crop_flip", "random_resized_crop",
    "register_model", "save_checkpoint", "save_train_state", "self_attention", "to_tensor_images",
]
