"""Proposal scorers: interval means of a class score map through prefix sums.

Every scorer builds a per-segment class score map ``[B, T, C]`` (float64)
once, takes its prefix sums along time, and scores all (video, class,
start, end) proposals of the batch by gathering two prefix values each: no
loop over proposals, classes or videos.
"""
from __future__ import annotations

import math
from typing import Optional

import torch
from torch import Tensor, nn

from ..registry import POSTPROCESSORS
from .proposals import Proposals, _mask, _stream_weights, _streams

__all__ = ['weighted_cas', 'prefix_sums', 'interval_sums', 'interval_means',
           'WeightedTCAMScorer', 'OuterInnerContrastScorer']


def weighted_cas(outputs: dict, *, stream_weights: Optional[dict] = None) -> Tensor:
    """The paper's detection score map (section 3.2, eq. 1 of that section).

    ``m_t^c = Σ_s θ_s · λ_t^s · cas_t^{s,c}`` where ``cas = w_c·x_t (+ bias)``
    is the stream's frame-level class logit; with the RGB and flow streams and
    ``θ_RGB = θ``, ``θ_FLOW = 1 − θ`` this is the paper's
    ``θ λ^RGB w_c·x^RGB + (1−θ) λ^FLOW w_c·x^FLOW``.

    Args:
        outputs: The model's tensor-path dict (``streams``, ``stream_weights``).
        stream_weights: Override ``outputs['stream_weights']`` (``{name: θ}``).

    Returns:
        Tensor: ``[B, T, C]`` float64, foreground classes only.
    """
    streams = _streams(outputs)
    weights = _stream_weights(outputs, streams, stream_weights)
    total = None
    for name, theta in weights.items():  # the (at most two) streams
        cas = streams[name]['cas'].double()[..., 1:]
        term = (theta * streams[name]['attention'].double())[..., None] * cas
        total = term if total is None else total + term
    return total


def prefix_sums(score_map: Tensor) -> Tensor:
    """``[B, T, C]`` -> ``[B, T + 1, C]`` float64 with a leading zero row."""
    cs = torch.cumsum(score_map.double(), dim=1)
    return torch.cat([cs.new_zeros(cs.shape[0], 1, cs.shape[2]), cs], dim=1)


def interval_sums(prefix: Tensor, video: Tensor, label: Tensor, first: Tensor,
                  stop: Tensor) -> Tensor:
    """Sums of the score map over ``first .. stop - 1`` (``stop`` exclusive).

    Args:
        prefix: ``[B, T + 1, C]`` from :func:`prefix_sums`.
        video, label, first, stop: ``LongTensor[P]``.

    Returns:
        Tensor: ``[P]`` float64 (0 where ``stop <= first``).
    """
    _, t1, c = prefix.shape
    flat = prefix.reshape(-1)
    base = video * (t1 * c) + label
    hi = flat[base + stop.clamp(min=0) * c]
    lo = flat[base + first.clamp(min=0) * c]
    return torch.where(stop > first, hi - lo, torch.zeros_like(hi))


def interval_means(prefix: Tensor, video: Tensor, label: Tensor, start: Tensor,
                   end: Tensor) -> Tensor:
    """Means of the score map over ``start .. end`` (inclusive) -> ``[P]`` float64."""
    total = interval_sums(prefix, video, label, start, end + 1)
    return total / (end - start + 1).double()


def _check_labelled(proposals: Proposals) -> None:
    if proposals.label is None:
        raise ValueError('scorers need class-labelled proposals (expand class-agnostic '
                         'proposals over the selected classes first)')


@POSTPROCESSORS.register_module()
class WeightedTCAMScorer(nn.Module):
    """Score = mean of the weighted class activation over the proposal (paper 3.2).

    ``score(s, e, c) = 1/(e−s+1) Σ_{t=s..e} Σ_s θ_s λ_t^s cas_t^{s,c}``,
    see :func:`weighted_cas`.

    Args:
        stream_weights: Optional ``{stream: θ}`` override of the model's
            ``stream_weights`` (the paper: ``θ = 0.5``).

    Call: ``scorer(outputs, proposals)`` with labelled :class:`Proposals`
    (``[P]`` each) -> ``[P]`` float64 scores.
    """

    def __init__(self, *, stream_weights: Optional[dict] = None) -> None:
        super().__init__()
        self.stream_weights = dict(stream_weights) if stream_weights is not None else None

    def score_map(self, outputs: dict) -> Tensor:
        """``[B, T, C]`` float64 per-segment class scores."""
        return weighted_cas(outputs, stream_weights=self.stream_weights)

    def forward(self, outputs: dict, proposals: Proposals) -> Tensor:
        _check_labelled(proposals)
        streams = _streams(outputs)
        weights = _stream_weights(outputs, streams, self.stream_weights)
        first = next(iter(weights))
        mask = _mask(outputs, streams[first]['attention'])
        # only the valid segments, packed: padding costs nothing
        position = torch.cumsum(mask.long().reshape(-1), 0).reshape(mask.shape) - 1
        total = None
        for name, theta in weights.items():  # the (at most two) streams
            cas = streams[name]['cas'][mask].double()[:, 1:]
            term = (theta * streams[name]['attention'][mask].double())[:, None] * cas
            total = term if total is None else total + term
        n_cls = total.shape[1]
        prefix = torch.cat([total.new_zeros(1, n_cls), torch.cumsum(total, 0)]).reshape(-1)
        v, c = proposals.video, proposals.label
        lo = position[v, proposals.start]
        hi = position[v, proposals.end] + 1  # runs lie on valid segments: contiguous when packed
        sums = prefix[hi * n_cls + c] - prefix[lo * n_cls + c]
        return sums / (proposals.end - proposals.start + 1).double()


@POSTPROCESSORS.register_module()
class OuterInnerContrastScorer(nn.Module):
    """Outer-inner contrast (AutoLoc, Shou et al. ECCV 2018) on the weighted T-CAM.

    With ``L = e − s + 1`` and ``m = ceil(inflation · L)``, the outer region
    is ``[s − m, s − 1] ∪ [e + 1, e + m]`` clipped to the video's valid
    segments, and ``score = mean(inner) − mean(outer)`` of the score map of
    :func:`weighted_cas` (``mean(outer) = 0`` when the outer region is empty).

    Args:
        inflation: Outer margin as a fraction of the proposal length.
        stream_weights: Optional ``{stream: θ}`` override.

    Call: ``scorer(outputs, proposals)`` -> ``[P]`` float64 scores.
    """

    def __init__(self, *, inflation: float = 0.25, stream_weights: Optional[dict] = None) -> None:
        super().__init__()
        if not (math.isfinite(inflation) and inflation >= 0):
            raise ValueError(f'inflation must be a non-negative number, got {inflation!r}')
        self.inflation = float(inflation)
        self.stream_weights = dict(stream_weights) if stream_weights is not None else None

    def score_map(self, outputs: dict) -> Tensor:
        """``[B, T, C]`` float64 per-segment class scores."""
        return weighted_cas(outputs, stream_weights=self.stream_weights)

    def forward(self, outputs: dict, proposals: Proposals) -> Tensor:
        _check_labelled(proposals)
        score_map = self.score_map(outputs)
        prefix = prefix_sums(score_map)
        lengths = _mask(outputs, score_map).sum(dim=1)  # valid segments per video
        v, c, s, e = proposals.video, proposals.label, proposals.start, proposals.end
        inner = interval_means(prefix, v, c, s, e)
        margin = torch.ceil((e - s + 1).double() * self.inflation).long()
        left_lo = (s - margin).clamp(min=0)
        right_hi = torch.minimum(e + 1 + margin, lengths[v])
        outer_sum = (interval_sums(prefix, v, c, left_lo, s)
                     + interval_sums(prefix, v, c, e + 1, right_hi))
        outer_n = (s - left_lo) + (right_hi - (e + 1)).clamp(min=0)
        outer = torch.where(outer_n > 0, outer_sum / outer_n.clamp(min=1).double(),
                            torch.zeros_like(outer_sum))
        return inner - outer

    def extra_repr(self) -> str:
        return f'inflation={self.inflation}'
