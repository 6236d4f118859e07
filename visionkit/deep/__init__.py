"""Deep learning side of visionkit: the course's layers, registered CNN/ViT models, the training loop,
feature extraction, safe checkpoints, and the ``DeepClassifier`` harness face.

Importing this package does not register harness methods; :mod:`visionkit.registry` imports
:mod:`visionkit.deep.methods` for that.
"""

from __future__ import annotations

from .checkpoint import load_checkpoint, load_pretrained, load_state_dict_file, save_checkpoint
from .estimator import DeepClassifier, prepare_images
from .features import embeddings, feature_maps, first_conv_filters
from .layers import BatchNorm2d, MultiHeadSelfAttention, SelfAttention, batch_norm, multi_head_self_attention, self_attention
from .models import count_parameters, create_model, get_model_spec, list_models, register_model
from .train import TrainConfig, TrainResult, evaluate, fit, predict_logits

__all__ = [
    "BatchNorm2d", "DeepClassifier", "MultiHeadSelfAttention", "SelfAttention", "TrainConfig", "TrainResult",
    "batch_norm", "count_parameters", "create_model", "embeddings", "evaluate", "feature_maps", "first_conv_filters",
    "fit", "get_model_spec", "list_models", "load_checkpoint", "load_pretrained", "load_state_dict_file",
    "multi_head_self_attention", "predict_logits", "prepare_images", "register_model", "save_checkpoint", "self_attention",
]
