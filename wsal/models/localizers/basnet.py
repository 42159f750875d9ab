"""BaS-Net (Lee, Uh, Byun, AAAI 2020): base and suppression branches around a filtering module."""
from __future__ import annotations

import torch
import torch.nn as nn

from wsal.registry import MODELS, build_component

from .._utils import as_mask
from ..temporal_ops import classwise_topk_mean, k_from_ratio
from ._parts import build_embedding_classifier

__all__ = ['BaSNetHead']


@MODELS.register_module()
class BaSNetHead(nn.Module):
    """BaS-Net's stream: a shared CAS module applied to ``x`` (base) and ``a ⊙ x`` (suppression).

    The filtering module gives the foreground attention ``a_t`` (two 1x1
    convolutions, ReLU, sigmoid: ``MLPAttention`` with 512 hidden units);
    the CAS module (temporal-conv embedding + classifier over ``C + 1``
    classes, background at index 0) runs on the raw features (base branch)
    and on the filtered ones (suppression branch); each branch's video
    scores are the softmax of the class-wise mean of its ``k = floor(T / r)``
    largest activations (``r = 8``). The base branch is trained with the
    background class present in every video, the suppression branch with
    it absent (``VideoBCELoss``), the attention with the norm loss.

    Outputs: ``attention [B, T]`` (the filter's ``a``), ``cas``/``tcam``
    (the suppression branch, used for localization), ``base_cas``,
    ``base_video_probs``/``supp_video_probs [B, C+1]``, ``video_scores
    [B, C]`` (suppression branch, foreground classes) and ``class_scores
    [B, T, C]`` (foreground columns of the suppression branch's softmax).

    Args:
        in_channels: Input dimension.
        num_classes: ``C``.
        attention: Filtering module (default ``MLPAttention``, 512 hidden).
        embedding: Embedding of the CAS module (default ``ConvEmbedding``:
            two kernel-3 layers of 2048 channels, LeakyReLU).
        classifier: Classifier of the CAS module (default ``LinearClassifier``
            with background, no bias, dropout 0.7).
        topk_ratio: ``r`` in ``k = floor(T / r)``.
    """

    def __init__(self, *, in_channels: int, num_classes: int, attention=None, embedding=None,
                 classifier=None, topk_ratio: float = 8.0) -> None:
        super().__init__()
        if topk_ratio < 1:
            raise ValueError(f'BaSNetHead: topk_ratio must be >= 1, got {topk_ratio}')
        self.in_channels = int(in_channels)
        attention = attention if attention is not None else dict(type='MLPAttention',
                                                                  hidden_channels=512)
        self.attention = build_component(attention, MODELS,
                                         default_args=dict(in_channels=in_channels))
        self.embedding, self.classifier = build_embedding_classifier(
            embedding, classifier, in_channels=in_channels, num_classes=num_classes,
            default_embedding=dict(type='ConvEmbedding', out_channels=2048, kernel_size=3,
                                   num_layers=2, negative_slope=0.01),
            default_classifier=dict(type='LinearClassifier', bias=False, dropout=0.7))
        self.topk_ratio = float(topk_ratio)

    def _branch(self, x, mask, k):
        cas = self.classifier(self.embedding(x, mask))
        return cas, torch.softmax(classwise_topk_mean(cas, mask, k), -1)

    def forward(self, x: torch.Tensor, mask: torch.Tensor = None) -> dict:
        mask = as_mask(mask, x)
        a = self.attention(x, mask) * mask.to(x.dtype)
        k = k_from_ratio(mask, self.topk_ratio, rounding='floor')
        base_cas, base_probs = self._branch(x, mask, k)
        supp_cas, supp_probs = self._branch(x * a.unsqueeze(-1), mask, k)
        tcam = torch.softmax(supp_cas, -1)
        return {'attention': a, 'cas': supp_cas, 'tcam': tcam, 'base_cas': base_cas,
                'base_video_probs': base_probs, 'supp_video_probs': supp_probs,
                'video_scores': supp_probs[:, 1:], 'class_scores': tcam[..., 1:]}
