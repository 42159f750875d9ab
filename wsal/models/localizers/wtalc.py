"""W-TALC (Paul, Roy, Roy-Chowdhury, ECCV 2018): k-max MIL over the class activations."""
from __future__ import annotations

import torch
import torch.nn as nn

from wsal.registry import MODELS

from .._utils import as_mask
from ..temporal_ops import classwise_topk_mean, k_from_ratio, minmax_normalize
from ._outputs import foreground_tcam, pad_background
from ._parts import build_embedding_classifier

__all__ = ['WTALCHead']


@MODELS.register_module()
class WTALCHead(nn.Module):
    """W-TALC's stream: FC embedding, class activation sequence, k-max MIL pooling.

    ``X = relu(W x_t)`` (dropout 0.7 in training), ``A = X W_c`` (``C``
    classes, no background), and the video logit of class ``j`` is the mean
    of its ``k = ceil(T / s)`` largest activations (``s = 8``).

    Outputs (besides the contract keys): ``embedding [B, T, E]`` and
    ``cas_fg [B, T, C]`` (for the co-activity similarity loss),
    ``video_logits [B, C]`` (for the MIL loss), ``class_scores [B, T, C]``
    (the raw activations W-TALC thresholds), ``video_scores`` = softmax of
    the video logits. W-TALC has no attention; ``attention`` is the
    per-video min-max normalised class-agnostic activation ``max_j A_tj``,
    reported for the health metrics and plots only.

    Args:
        in_channels: Input dimension (2048 for concatenated RGB + flow I3D).
        num_classes: ``C``.
        embedding: Embedding part (default ``ConvEmbedding`` with kernel 1,
            2048 channels, dropout 0.7).
        classifier: Classifier part (default ``LinearClassifier`` without
            background, with bias).
        topk_ratio: ``s`` in ``k = ceil(T / s)``.
    """

    def __init__(self, *, in_channels: int, num_classes: int, embedding=None, classifier=None,
                 topk_ratio: float = 8.0) -> None:
        super().__init__()
        if topk_ratio < 1:
            raise ValueError(f'WTALCHead: topk_ratio must be >= 1, got {topk_ratio}')
        self.in_channels = int(in_channels)
        self.embedding, self.classifier = build_embedding_classifier(
            embedding, classifier, in_channels=in_channels, num_classes=num_classes,
            default_embedding=dict(type='ConvEmbedding', out_channels=2048, kernel_size=1,
                                   dropout=0.7),
            default_classifier=dict(type='LinearClassifier', bias=True, background=False))
        self.topk_ratio = float(topk_ratio)

    def forward(self, x: torch.Tensor, mask: torch.Tensor = None) -> dict:
        mask = as_mask(mask, x)
        emb = self.embedding(x, mask)
        cas_fg = self.classifier(emb)
        k = k_from_ratio(mask, self.topk_ratio, rounding='ceil')
        video_logits = classwise_topk_mean(cas_fg, mask, k)
        attention = minmax_normalize(cas_fg.max(-1).values, mask).detach()
        return {'attention': attention, 'cas': pad_background(cas_fg),
                'tcam': foreground_tcam(cas_fg), 'embedding': emb, 'cas_fg': cas_fg,
                'class_scores': cas_fg, 'video_logits': video_logits,
                'video_scores': torch.softmax(video_logits, -1)}
