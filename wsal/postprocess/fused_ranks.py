"""Proposals from two rankings of a video's frames: the attention's and the class map's.

The paper proposes from the attention ``λ`` alone, class-agnostic (section
3.2). ``λ`` and the class's attention-weighted logits
``m_t^c = Σ_s θ_s λ̃_t^s w_c·x_t^s`` make different mistakes: ``λ`` follows
whatever frames the loss terms let it pool (on data where class-blind
background changes are larger than the actions, it ranks those high), while
``m^c`` also scores the class's scene where the background carries it. A
frame that both rank high is an action frame more often than a frame that
either ranks high. Averaging the two ranks keeps what they agree on, and
needs no common scale: each is a quantile within its video.
"""
from __future__ import annotations

from typing import Optional, Sequence

import torch
from torch import Tensor, nn

from ..registry import POSTPROCESSORS
from .proposals import (Proposals, check_attention_form, check_stream_weights, check_thresholds,
                        counts_below, quantile_per_video, threshold_runs, valid_mask)
from .scoring import attention_weighted_logits

__all__ = ['fused_ranks', 'FusedRankProposals']


def fused_ranks(attention: Tensor, class_map: Tensor, mask: Tensor) -> Tensor:
    """Each frame's quantile, in its row, of its two ranks' sum.

    ``q_t = quantile_t(rank_t(λ) + rank_t(m))``, where ``rank_t(x)`` counts the
    row's valid frames with a lower ``x`` (:func:`~wsal.postprocess.proposals.
    counts_below`). The sum is of integers, so frames with equal sums tie
    exactly; the result depends only on how each signal orders the frames.

    Args:
        attention: ``[J, T]`` the attention of each row's video.
        class_map: ``[J, T]`` the row's class map.
        mask: ``BoolTensor[J, T]``, False on padding.

    Returns:
        Tensor: ``[J, T]`` float64 in ``[0, 1)``, 0 on padding.
    """
    if attention.shape != class_map.shape or mask.shape != attention.shape:
        raise ValueError(f'attention {tuple(attention.shape)}, class_map '
                         f'{tuple(class_map.shape)} and mask {tuple(mask.shape)} must have one '
                         f'shape [J, T]')
    total = counts_below(attention, mask) + counts_below(class_map, mask)
    return quantile_per_video(total, mask)


@POSTPROCESSORS.register_module()
class FusedRankProposals(nn.Module):
    """Per selected class, thresholds on the mean of λ's rank and the class map's rank.

    For every selected (video, class) row, each frame's rank of ``λ``
    (``outputs['attention']``, the streams' mean) and its rank of the class's
    attention-weighted logits (:func:`~wsal.postprocess.scoring.
    attention_weighted_logits`, with each stream's λ rescaled to its video's
    range by default) are added, and the sum's quantile in the video is
    thresholded (:func:`fused_ranks`). Where λ ranks the frames well the sum
    follows it; where λ has picked up class-blind background, the class map
    outvotes it on the frames the class does not explain.

    Args:
        thresholds: Thresholds on the fused quantile (default 0 to 0.5 step
            0.025; the configs use 0 to 0.95 step 0.05).
        normalize: The class map's λ: ``'minmax'`` (rescaled per video and
            stream, as :class:`~wsal.postprocess.scoring.
            OuterInnerContrastScorer` scores with it) or None (λ itself).
        stream_weights: Optional ``{stream: θ}`` override for the class map.

    Call: ``gen(outputs, class_mask BoolTensor[B, C])`` -> labelled
    :class:`~wsal.postprocess.proposals.Proposals`, ordered by (video, class,
    threshold, start).
    """

    def __init__(self, *, thresholds: Optional[Sequence[float]] = None,
                 normalize: Optional[str] = 'minmax',
                 stream_weights: Optional[dict] = None) -> None:
        super().__init__()
        owner = type(self).__name__
        self.thresholds = check_thresholds(thresholds, owner=owner)
        self.normalize = check_attention_form(normalize, owner)
        self.stream_weights = check_stream_weights(stream_weights, owner=owner)

    def forward(self, outputs: dict, class_mask: Tensor) -> Proposals:
        if 'attention' not in outputs:
            raise KeyError("model outputs lack 'attention' ([B, T] mean of the streams' λ)")
        class_map = attention_weighted_logits(outputs, stream_weights=self.stream_weights,
                                              normalize=self.normalize)  # [B, T, C]
        mask = valid_mask(outputs, outputs['attention'])
        pair_video, pair_class = torch.nonzero(class_mask, as_tuple=True)
        valid = mask.index_select(0, pair_video)
        signal = fused_ranks(outputs['attention'].index_select(0, pair_video),
                             class_map[pair_video, :, pair_class], valid)
        row, _, start, end = threshold_runs(signal, valid, self.thresholds)
        return Proposals(pair_video[row], start, end, pair_class[row])

    def extra_repr(self) -> str:
        return (f'thresholds={len(self.thresholds)} values '
                f'{self.thresholds[0]}..{self.thresholds[-1]}, normalize={self.normalize!r}')
