"""Proposals and scores over the methods' class score maps (W-TALC, BaS-Net, UM, CoLA).

These methods localize by thresholding a per-snippet, per-class score map
(each head's ``class_scores [B, T, C]``: raw activations for W-TALC, the
suppression branch's softmax for BaS-Net, the magnitude-weighted softmax for
UM, the actionness-weighted sigmoid for CoLA) and score each proposal by its
outer-inner contrast. The map of a multi-stream model is the θ-weighted sum
of its streams'.
"""
from __future__ import annotations

import math
from typing import Optional, Sequence, Tuple

import torch
from torch import Tensor, nn

from ..registry import POSTPROCESSORS
from ..utils.ranges import check_number, check_number_list
from .proposals import (Proposals, default_thresholds, stream_weights_of, threshold_runs,
                        valid_mask)
from .scoring import OuterInnerContrastScorer

__all__ = ['class_score_map', 'ClassScoreThresholdProposals', 'ClassScoreContrastScorer']


def class_score_map(outputs: dict, *, key: str = 'class_scores',
                    stream_weights: Optional[dict] = None) -> Tensor:
    """``Σ_s θ_s · streams[s][key]``: the localization score map ``[B, T, C]`` (float64).

    Args:
        outputs: The model's tensor-path dict.
        key: Stream-output key of the per-stream map.
        stream_weights: Override ``outputs['stream_weights']``.
    """
    streams = outputs.get('streams') if isinstance(outputs, dict) else None
    if not streams:
        raise KeyError("model outputs lack 'streams'")
    for name, out in streams.items():
        if key not in out:
            raise KeyError(f"model outputs['streams'][{name!r}] lack {key!r}; the class-score "
                           'post-processors need a head that reports it (WTALCHead, BaSNetHead, '
                           'UMHead, CoLAHead)')
    weights = stream_weights_of(outputs, streams, stream_weights)
    total = None
    for name, theta in weights.items():
        term = theta * streams[name][key].double()
        total = term if total is None else total + term
    return total


@POSTPROCESSORS.register_module()
class ClassScoreThresholdProposals(nn.Module):
    """Threshold each selected (video, class) row of the class score map.

    With ``relative=False`` the thresholds apply to the map's values (BaS-Net,
    UM, CoLA: e.g. 0 to 0.225 step 0.025); with ``relative=True`` a threshold
    ``r`` means ``min + r (max - min)`` of that row over the video's valid
    snippets (W-TALC: ``max - (max - min) / 2``, i.e. ``r = 0.5``).

    Args:
        thresholds: Threshold list (default 0 to 0.5 step 0.025).
        relative: Thresholds relative to each row's range.
        key: Stream-output key of the map.

    Call: ``gen(outputs, class_mask [B, C])`` -> labelled :class:`Proposals`.
    """

    def __init__(self, *, thresholds: Optional[Sequence[float]] = None, relative: bool = False,
                 key: str = 'class_scores') -> None:
        super().__init__()
        owner = type(self).__name__
        bounds = (0.0, 1.0) if relative else (-math.inf, math.inf)  # relative: fractions
        self.thresholds = default_thresholds() if thresholds is None else check_number_list(
            thresholds, owner=owner, key='thresholds', low=bounds[0], high=bounds[1])
        self.relative = bool(relative)
        self.key = key

    def forward(self, outputs: dict, class_mask: Tensor) -> Proposals:
        score = class_score_map(outputs, key=self.key)
        mask = valid_mask(outputs, score)
        pair_video, pair_class = torch.nonzero(class_mask, as_tuple=True)
        signal = score[pair_video, :, pair_class]                   # [J, T]
        valid = mask[pair_video]
        if self.relative:
            big = torch.finfo(signal.dtype).max
            lo = signal.masked_fill(~valid, big).min(1, keepdim=True).values
            hi = signal.masked_fill(~valid, -big).max(1, keepdim=True).values
            signal = torch.where(valid, (signal - lo) / (hi - lo).clamp(min=1e-12),
                                 torch.zeros_like(signal))
        row, _, start, end = threshold_runs(signal, valid, self.thresholds)
        return Proposals(pair_video[row], start, end, pair_class[row])

    def extra_repr(self) -> str:
        return (f'thresholds={len(self.thresholds)} values, relative={self.relative}, '
                f"key='{self.key}'")


@POSTPROCESSORS.register_module()
class ClassScoreContrastScorer(OuterInnerContrastScorer):
    """Outer-inner contrast on the class score map, plus a share of the video score.

    ``score = mean(inner) - mean(outer) + γ · p_video[c]``, the contrast of
    :class:`~wsal.postprocess.scoring.OuterInnerContrastScorer` computed on
    :func:`class_score_map` instead of the weighted T-CAM. BaS-Net, UM and
    CoLA use ``inflation = 0.25``; ``inflation = 0`` scores by the plain inner
    mean (W-TALC).

    Args:
        inflation: Outer margin as a fraction of the proposal length.
        video_score_weight: γ (BaS-Net / UM: 0.2; 0 disables it).
        key: Stream-output key of the map.

    Call: ``scorer(outputs, proposals)`` -> ``[P]`` float64 scores.
    """

    def __init__(self, *, inflation: float = 0.25, video_score_weight: float = 0.0,
                 key: str = 'class_scores') -> None:
        super().__init__(inflation=inflation)
        self.video_score_weight = check_number(video_score_weight, owner=type(self).__name__,
                                               key='video_score_weight', low=0.0)
        self.key = key

    def score_map(self, outputs: dict) -> Tensor:
        """``[B, T, C]`` float64: :func:`class_score_map`."""
        return class_score_map(outputs, key=self.key)

    def packed_map(self, outputs: dict) -> Tuple[Tensor, Tensor]:
        """:meth:`score_map` on the valid segments, video after video, and the mask."""
        score_map = self.score_map(outputs)
        mask = valid_mask(outputs, score_map)
        return score_map[mask], mask

    def forward(self, outputs: dict, proposals: Proposals) -> Tensor:
        score = super().forward(outputs, proposals)
        if self.video_score_weight:
            score = score + (self.video_score_weight
                             * outputs['video_scores'].double()[proposals.video, proposals.label])
        return score

    def extra_repr(self) -> str:
        return (f'inflation={self.inflation}, video_score_weight={self.video_score_weight}, '
                f"key='{self.key}'")
