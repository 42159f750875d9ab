"""UM (Lee, Wang, Lu, Byun, AAAI 2021): background as uncertainty, read off feature magnitudes."""
from __future__ import annotations

import torch
import torch.nn as nn

from wsal.registry import MODELS

from .._utils import as_mask
from ..temporal_ops import (check_pseudo_segment_args, classwise_topk_mean, masked_mean,
                            minmax_normalize, pseudo_segments)
from ._outputs import foreground_tcam, pad_background
from ._parts import build_embedding_classifier

__all__ = ['UMHead']


@MODELS.register_module()
class UMHead(nn.Module):
    """UM's stream: embedding, ``C``-class CAS, pseudo action/background snippets by magnitude.

    The embedding's L2 norm ``m_t = ||f_t||`` measures how "in-distribution"
    (action-like) a snippet is. In training, a random subset of snippets is
    dropped from the ranking (each kept with probability ``1 - drop``, UM's
    dropout trick against always picking the same snippets); among the rest
    the ``k_act = floor(T / r_act)`` largest magnitudes are pseudo action
    snippets and the ``k_bg = floor(T / r_bg)`` smallest pseudo background
    snippets. Video scores: softmax of the class-wise mean of the
    ``k_act`` largest activations; background scores: softmax of the mean
    activation over the background snippets.

    Outputs: contract keys (``attention`` = the per-video min-max
    normalised magnitude, ``cas`` with a zero background column), and
    ``act_feature``/``bg_feature [B, E]`` (mean embedding of the pseudo
    action / background snippets), ``bg_video_probs [B, C]``,
    ``class_scores [B, T, C]`` = softmax CAS times the normalised magnitude.

    Args:
        in_channels: Input dimension.
        num_classes: ``C``.
        embedding: Default ``ConvEmbedding`` (kernel 3, 2048 channels).
        classifier: Default ``LinearClassifier`` (no background, no bias, dropout 0.7).
        ratio_act: ``r_act`` (UM on THUMOS14: 9).
        ratio_bg: ``r_bg`` (4).
        drop: Fraction of snippets hidden from the ranking in training (0.7).
    """

    def __init__(self, *, in_channels: int, num_classes: int, embedding=None, classifier=None,
                 ratio_act: float = 9.0, ratio_bg: float = 4.0, drop: float = 0.7) -> None:
        super().__init__()
        check_pseudo_segment_args('UMHead', ratio_act, ratio_bg, drop)
        self.in_channels = int(in_channels)
        self.embedding, self.classifier = build_embedding_classifier(
            embedding, classifier, in_channels=in_channels, num_classes=num_classes,
            default_embedding=dict(type='ConvEmbedding', out_channels=2048, kernel_size=3),
            default_classifier=dict(type='LinearClassifier', bias=False, dropout=0.7,
                                    background=False))
        self.ratio_act, self.ratio_bg, self.drop = float(ratio_act), float(ratio_bg), float(drop)

    def forward(self, x: torch.Tensor, mask: torch.Tensor = None) -> dict:
        mask = as_mask(mask, x)
        emb = self.embedding(x, mask)
        cas_fg = self.classifier(emb)
        magnitude = emb.norm(dim=-1)
        act, bg, k_act = pseudo_segments(magnitude, mask, ratio_act=self.ratio_act,
                                         ratio_bg=self.ratio_bg, drop=self.drop,
                                         training=self.training)
        video_logits = classwise_topk_mean(cas_fg, mask, k_act)
        bg_logits = masked_mean(cas_fg, bg)
        attention = minmax_normalize(magnitude, mask).detach()
        tcam = foreground_tcam(cas_fg)
        return {'attention': attention, 'cas': pad_background(cas_fg), 'tcam': tcam,
                'embedding': emb, 'magnitude': magnitude,
                'act_feature': masked_mean(emb, act), 'bg_feature': masked_mean(emb, bg),
                'video_scores': torch.softmax(video_logits, -1),
                'bg_video_probs': torch.softmax(bg_logits, -1),
                'class_scores': tcam[..., 1:] * attention.unsqueeze(-1)}
