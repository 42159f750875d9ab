"""CoLA (Zhang et al., CVPR 2021): actionness-based easy/hard snippet mining for contrast."""
from __future__ import annotations

import torch
import torch.nn as nn

from wsal.registry import MODELS

from .._utils import as_mask
from ..temporal_ops import (binary_dilation, binary_erosion, classwise_topk_mean, k_from_ratio,
                            minmax_normalize, rank_select)
from ._outputs import foreground_tcam, pad_background
from ._parts import build_embedding_classifier

__all__ = ['CoLAHead', 'mine_snippets']


def _median(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Lower median of each row's valid values, ``[B, 1]``."""
    fill = torch.finfo(values.dtype).max
    ordered = torch.sort(values.masked_fill(~mask, fill), dim=1).values
    n = mask.sum(1)
    return ordered.gather(1, ((n - 1) // 2).unsqueeze(1))


def mine_snippets(actionness: torch.Tensor, mask: torch.Tensor, *, ratio_easy: float,
                  ratio_hard: float, m: int, M: int) -> dict:
    """CoLA's snippet mining from the actionness ``[B, T]`` (no gradient).

    Easy action / background: the ``k_easy = floor(T / r_easy)`` snippets of
    highest / lowest actionness. Hard snippets come from the binarised
    actionness (above the video's median): the inner ring ``erode_m(b) \\
    erode_M(b)`` holds hard action candidates, the outer ring
    ``dilate_M(b) \\ dilate_m(b)`` hard background candidates; each takes the
    ``k_hard = floor(T / r_hard)`` candidates of highest actionness (fewer
    when the ring is smaller).

    Returns:
        dict of BoolTensor ``[B, T]``: ``EA``, ``EB``, ``HA``, ``HB``.
    """
    a = actionness.detach()
    k_easy = k_from_ratio(mask, ratio_easy, rounding='floor')
    k_hard = k_from_ratio(mask, ratio_hard, rounding='floor')
    binary = (a > _median(a, mask)) & mask
    inner = binary_erosion(binary, m, mask) & ~binary_erosion(binary, M, mask)
    outer = binary_dilation(binary, M, mask) & ~binary_dilation(binary, m, mask)
    return {'EA': rank_select(a, mask, k_easy, largest=True),
            'EB': rank_select(a, mask, k_easy, largest=False),
            'HA': rank_select(a, inner, k_hard, largest=True),
            'HB': rank_select(a, outer, k_hard, largest=True)}


@MODELS.register_module()
class CoLAHead(nn.Module):
    """CoLA's stream: embedding, ``C``-class CAS, actionness, and the mined snippet sets.

    Actionness is the class-agnostic sum of the activations,
    ``a_t = Σ_c A_tc``; video scores the softmax of the class-wise mean of the
    ``k_easy`` largest activations. :func:`mine_snippets` selects easy/hard
    action/background snippets; the snippet contrastive loss reads their
    embeddings.

    Outputs: contract keys (``attention`` = min-max normalised actionness,
    ``cas`` with a zero background column), ``embedding [B, T, E]``,
    ``actionness [B, T]``, ``snippets`` (dict of ``[B, T]`` selections
    ``EA``, ``EB``, ``HA``, ``HB``) and ``class_scores [B, T, C]`` =
    ``sigmoid(A)`` times the normalised actionness.

    Args:
        in_channels: Input dimension.
        num_classes: ``C``.
        embedding: Default ``ConvEmbedding`` (kernel 3, 2048 channels).
        classifier: Default ``LinearClassifier`` (no background, no bias,
            dropout 0.7).
        ratio_easy: ``r_easy`` (5).
        ratio_hard: ``r_hard`` (20).
        m: Small erosion/dilation size (3).
        M: Large erosion/dilation size (6).
    """

    def __init__(self, *, in_channels: int, num_classes: int, embedding=None, classifier=None,
                 ratio_easy: float = 5.0, ratio_hard: float = 20.0, m: int = 3,
                 M: int = 6) -> None:
        super().__init__()
        if not 1 <= m < M:
            raise ValueError(f'CoLAHead: need 1 <= m < M, got m={m}, M={M}')
        self.in_channels = int(in_channels)
        self.embedding, self.classifier = build_embedding_classifier(
            embedding, classifier, in_channels=in_channels, num_classes=num_classes,
            default_embedding=dict(type='ConvEmbedding', out_channels=2048, kernel_size=3),
            default_classifier=dict(type='LinearClassifier', bias=False, dropout=0.7,
                                    background=False))
        self.ratio_easy, self.ratio_hard = float(ratio_easy), float(ratio_hard)
        self.m, self.M = int(m), int(M)

    def forward(self, x: torch.Tensor, mask: torch.Tensor = None) -> dict:
        mask = as_mask(mask, x)
        emb = self.embedding(x, mask)
        cas_fg = self.classifier(emb)
        actionness = cas_fg.sum(-1) * mask.to(cas_fg.dtype)
        k = k_from_ratio(mask, self.ratio_easy, rounding='floor')
        video_logits = classwise_topk_mean(cas_fg, mask, k)
        attention = minmax_normalize(actionness, mask).detach()
        snippets = mine_snippets(actionness, mask, ratio_easy=self.ratio_easy,
                                 ratio_hard=self.ratio_hard, m=self.m, M=self.M)
        return {'attention': attention, 'cas': pad_background(cas_fg),
                'tcam': foreground_tcam(cas_fg), 'embedding': emb, 'actionness': actionness,
                'snippets': snippets, 'video_scores': torch.softmax(video_logits, -1),
                'class_scores': torch.sigmoid(cas_fg) * attention.unsqueeze(-1)}
