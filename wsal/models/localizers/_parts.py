"""Building blocks shared by the per-stream heads of the snippet-classifier methods."""
from __future__ import annotations

from typing import Any, Tuple

import torch.nn as nn

from wsal.registry import MODELS, build_component


def build_embedding_classifier(embedding: Any, classifier: Any, *, in_channels: int,
                               num_classes: int, default_embedding: dict,
                               default_classifier: dict) -> Tuple[nn.Module, nn.Module]:
    """The embedding over the input features and the classifier over its output.

    Args:
        embedding: Embedding config or module (None: ``default_embedding``);
            built with ``in_channels``.
        classifier: Classifier config or module (None: ``default_classifier``);
            built on the embedding's ``out_channels`` with ``num_classes``.
        in_channels: Input feature dimension ``D``.
        num_classes: Foreground classes ``C``.
        default_embedding, default_classifier: The method's own defaults.

    Returns:
        tuple: ``(embedding, classifier)``, built in that order.
    """
    embedding = build_component(embedding if embedding is not None else default_embedding,
                                MODELS, default_args=dict(in_channels=in_channels))
    classifier = build_component(
        classifier if classifier is not None else default_classifier, MODELS,
        default_args=dict(in_channels=embedding.out_channels, num_classes=num_classes))
    return embedding, classifier
