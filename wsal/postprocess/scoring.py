"""Proposal scorers: interval means of a class score map through prefix sums.

Every scorer builds a per-segment class score map ``[B, T, C]`` (float64)
once, takes its prefix sums along time, and scores all (video, class,
start, end) proposals of the batch by gathering two prefix values each: no
loop over proposals, classes or videos.
"""
from __future__ import annotations

import warnings
from typing import Callable, Optional, Tuple

import torch
from torch import Tensor, nn

from ..registry import POSTPROCESSORS
from ..utils.ranges import check_choice, check_number
from .proposals import (Proposals, attention_weighted_probabilities, check_attention_form,
                        check_stream_weights, minmax_per_video, model_streams,
                        stream_weighted_sum, valid_mask)

__all__ = ['attention_weighted_logits', 'weighted_cas', 'rescaled_attention',
           'packed_valid_segments', 'packed_interval_sums', 'prefix_sums',
           'interval_sums', 'interval_means', 'VIDEO_SCORE_FORMS', 'check_video_score_form',
           'scale_by_video_score', 'CLASS_ACTIVATIONS', 'WeightedLogitScorer',
           'WeightedTCAMScorer', 'OuterInnerContrastScorer']

#: How a scorer may combine a proposal's score with its class's video-level
#: probability: None (not at all, as printed) or ``'scale'``
#: (:func:`scale_by_video_score`).
VIDEO_SCORE_FORMS = (None, 'scale')

#: What a contrast scorer weights with λ per frame and class: None (the class
#: logits w_c·x, as printed) or ``'softmax'`` (the frame's class probabilities
#: over the C + 1 columns, background included).
CLASS_ACTIVATIONS = (None, 'softmax')


def _foreground_logits(stream: dict) -> Tensor:
    return stream['cas'].double()[..., 1:]


def rescaled_attention(outputs: dict) -> dict:
    """A shallow copy of ``outputs`` with each stream's λ rescaled to its video's range.

    Per stream and video, ``λ̃ = (λ - min λ) / (max λ - min λ)`` over the
    valid segments (:func:`~wsal.postprocess.proposals.minmax_per_video`), the
    rescaling :class:`~wsal.postprocess.proposals.AttentionThresholdProposals`
    applies with ``normalize='minmax'``. The other keys are shared, not copied.

    Args:
        outputs: The model's tensor-path dict (``streams`` with ``attention``
            ``[B, T]`` each; ``mask``).

    Returns:
        dict: the same structure, ``attention`` replaced by λ̃ in every stream.
    """
    streams = model_streams(outputs)
    mask = valid_mask(outputs, next(iter(streams.values()))['attention'])
    out = dict(outputs)
    out['streams'] = {name: {**st, 'attention': minmax_per_video(st['attention'], mask)}
                      for name, st in streams.items()}
    return out


def packed_valid_segments(outputs: dict, *,
                          normalize: Optional[str] = None) -> Tuple[dict, Tensor]:
    """The streams' attention and logits on the valid segments only, video after video.

    Args:
        outputs: The model's tensor-path dict (``streams``, ``mask``, ``stream_weights``).
        normalize: None, or ``'minmax'`` to rescale each stream's λ to its
            video's range first (:func:`rescaled_attention`; per video, so
            before packing).

    Returns:
        tuple: a dict like ``outputs`` with ``streams[s]['attention'] [N_valid]``
        and ``['cas'] [N_valid, C + 1]`` (and ``stream_weights``), and the mask
        ``BoolTensor[B, T]`` that selected them.
    """
    if normalize == 'minmax':
        outputs = rescaled_attention(outputs)
    streams = model_streams(outputs)
    mask = valid_mask(outputs, next(iter(streams.values()))['attention'])
    packed = {'streams': {name: {'attention': st['attention'][mask], 'cas': st['cas'][mask]}
                          for name, st in streams.items()}}
    if 'stream_weights' in outputs:
        packed['stream_weights'] = outputs['stream_weights']
    return packed, mask


def packed_interval_sums(total: Tensor, mask: Tensor, proposals: Proposals, *,
                         owner: str) -> Tuple[Callable[[Tensor, Tensor], Tensor], Tensor]:
    """Sums of a packed score map over intervals of the proposals' videos and classes.

    The packed map holds each video's valid segments one video after another
    (:func:`packed_valid_segments`), so a video's segment ``t`` is packed row
    ``offset[video] + t``. That holds only when padding sits at the end of
    each row (the collate's layout); a mask with holes is refused.

    Args:
        total: ``[N_valid, C]`` packed score map.
        mask: ``BoolTensor[B, T]`` that selected its rows.
        proposals: Labelled :class:`Proposals` (``[P]`` each).
        owner: Who asks, first word of the error message.

    Returns:
        tuple: ``sums(first, stop)`` -> ``[P]`` float64, the sum of proposal
        ``p``'s class over segments ``first[p] .. stop[p] - 1`` of its video
        (``LongTensor[P]`` each, within the video's valid segments), and the
        valid segments per video, ``LongTensor[B]``.

    Raises:
        ValueError: A video has an invalid segment before a valid one.
    """
    lengths = mask.sum(dim=1)
    steps = torch.arange(mask.shape[1], device=mask.device)
    if not torch.equal(mask, steps < lengths.unsqueeze(1)):
        raise ValueError(f"{owner}: each video's valid segments must come first in its row "
                         '(padding at the end), as the collate gives them')
    n_cls = total.shape[1]
    prefix = torch.cat([total.new_zeros(1, n_cls), torch.cumsum(total, 0)]).reshape(-1)
    # first packed row of each proposal's video; index_select: the fast gather on the CPU
    base = (torch.cumsum(lengths, 0) - lengths).index_select(0, proposals.video)
    label = proposals.label

    def sums(first: Tensor, stop: Tensor) -> Tensor:
        hi = prefix.index_select(0, (base + stop) * n_cls + label)
        lo = prefix.index_select(0, (base + first) * n_cls + label)
        return hi - lo

    return sums, lengths


def attention_weighted_logits(outputs: dict, *, stream_weights: Optional[dict] = None,
                              normalize: Optional[str] = None) -> Tensor:
    """The paper's detection score map (section 3.2, eq. 1 of that section).

    ``m_t^c = Σ_s θ_s · λ_t^s · cas_t^{s,c}`` where ``cas = w_c·x_t (+ bias)``
    is the stream's frame-level class logit; with the RGB and flow streams and
    ``θ_RGB = θ``, ``θ_FLOW = 1 − θ`` this is the paper's
    ``θ λ^RGB w_c·x^RGB + (1−θ) λ^FLOW w_c·x^FLOW``.

    Args:
        outputs: The model's tensor-path dict (``streams``, ``stream_weights``).
        stream_weights: Override ``outputs['stream_weights']`` (``{name: θ}``).
        normalize: None (λ as the model gives it, as printed) or ``'minmax'``
            (each stream's λ rescaled to its video's range first, see
            :func:`rescaled_attention`).

    Returns:
        Tensor: ``[B, T, C]`` float64, foreground classes only (class logits
        weighted by attention, not probabilities: compare
        :func:`~wsal.postprocess.proposals.attention_weighted_probabilities`).
    """
    if check_attention_form(normalize, 'attention_weighted_logits') == 'minmax':
        outputs = rescaled_attention(outputs)
    return stream_weighted_sum(outputs, _foreground_logits, stream_weights=stream_weights)


#: Former name of :func:`attention_weighted_logits` (kept for existing code).
weighted_cas = attention_weighted_logits


def check_video_score_form(video_score: Optional[str], owner: str) -> Optional[str]:
    """``video_score`` if it is one of :data:`VIDEO_SCORE_FORMS`, else a ValueError naming ``owner``."""
    return check_choice(video_score, owner=owner, key='video_score', choices=VIDEO_SCORE_FORMS)


def scale_by_video_score(scores: Tensor, outputs: dict, proposals: Proposals) -> Tensor:
    """Scale each proposal's score by its class's video-level probability ``p = p_video[c]``.

    ``s · p`` where ``s >= 0`` and ``s / p`` where ``s < 0``: the result rises
    with both ``s`` and ``p`` whatever the sign of ``s`` (a plain product would
    lift a negative score towards 0 as ``p`` falls). Scores are per-video
    quantities (a contrast of class logits within one video) that say nothing
    about whether the class is in the video at all; average precision ranks a
    class's proposals across videos, so the video-level probability the
    classifier gives the class is the evidence the score lacks.

    Args:
        scores: ``[P]`` proposal scores.
        outputs: The model's tensor-path dict (``video_scores [B, C]``).
        proposals: The labelled :class:`Proposals` the scores belong to.

    Returns:
        Tensor: ``[P]`` float64.
    """
    if 'video_scores' not in outputs:
        raise KeyError("model outputs lack 'video_scores' (needed by video_score='scale')")
    p = outputs['video_scores'].double()[proposals.video, proposals.label].clamp(min=1e-12)
    scores = scores.double()
    return torch.where(scores >= 0, scores * p, scores / p)


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
    hi = flat.index_select(0, base + stop.clamp(min=0) * c)  # the fast CPU gather
    lo = flat.index_select(0, base + first.clamp(min=0) * c)
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
class WeightedLogitScorer(nn.Module):
    """Score = mean of the attention-weighted class logits over the proposal (paper 3.2).

    ``score(s, e, c) = 1/(e−s+1) Σ_{t=s..e} Σ_s θ_s λ_t^s cas_t^{s,c}``,
    see :func:`attention_weighted_logits`. Only the valid segments of the
    batch are summed (packed), so padding costs nothing; they must come
    first in each video's row (padding at the end, the collate's layout),
    and a mask with holes is refused (:func:`packed_interval_sums`).

    Args:
        stream_weights: Optional ``{stream: θ}`` override of the model's
            ``stream_weights`` (the paper: ``θ = 0.5``).
        normalize: None (λ as printed) or ``'minmax'`` (each stream's λ
            rescaled to its video's range: :func:`rescaled_attention`).
        video_score: None (as printed) or ``'scale'`` (the score scaled by
            its class's video-level probability: :func:`scale_by_video_score`).

    Call: ``scorer(outputs, proposals)`` with labelled :class:`Proposals`
    (``[P]`` each) -> ``[P]`` float64 scores.
    """

    def __init__(self, *, stream_weights: Optional[dict] = None,
                 normalize: Optional[str] = None, video_score: Optional[str] = None) -> None:
        super().__init__()
        self.stream_weights = check_stream_weights(stream_weights, owner=type(self).__name__)
        self.normalize = check_attention_form(normalize, type(self).__name__)
        self.video_score = check_video_score_form(video_score, type(self).__name__)

    def score_map(self, outputs: dict) -> Tensor:
        """``[B, T, C]`` float64 per-segment class scores."""
        if self.normalize == 'minmax':
            outputs = rescaled_attention(outputs)
        return self._packed_map(outputs)

    def _packed_map(self, outputs: dict) -> Tensor:
        """The map of already-rescaled outputs, any leading dims (``[N_valid, C]`` packed)."""
        return attention_weighted_logits(outputs, stream_weights=self.stream_weights)

    def forward(self, outputs: dict, proposals: Proposals) -> Tensor:
        _check_labelled(proposals)
        packed, mask = packed_valid_segments(outputs, normalize=self.normalize)
        sums, _ = packed_interval_sums(self._packed_map(packed), mask, proposals,
                                       owner=type(self).__name__)
        s, e = proposals.start, proposals.end
        scores = sums(s, e + 1) / (e - s + 1).double()
        if self.video_score == 'scale':
            scores = scale_by_video_score(scores, outputs, proposals)
        return scores

    def extra_repr(self) -> str:
        return f'normalize={self.normalize!r}, video_score={self.video_score!r}'


@POSTPROCESSORS.register_module()
class WeightedTCAMScorer(WeightedLogitScorer):
    """Deprecated name of :class:`WeightedLogitScorer` (configs keep working).

    The scores are attention-weighted class *logits*, not the weighted T-CAM
    (probabilities); use ``type='WeightedLogitScorer'``.
    """

    def __init__(self, *, stream_weights: Optional[dict] = None,
                 normalize: Optional[str] = None, video_score: Optional[str] = None) -> None:
        warnings.warn("scorer type 'WeightedTCAMScorer' is deprecated: it is now "
                      "'WeightedLogitScorer' (same scores)", DeprecationWarning, stacklevel=2)
        super().__init__(stream_weights=stream_weights, normalize=normalize,
                         video_score=video_score)


@POSTPROCESSORS.register_module()
class OuterInnerContrastScorer(nn.Module):
    """Outer-inner contrast (AutoLoc, Shou et al. ECCV 2018) on the weighted T-CAM.

    With ``L = e − s + 1`` and ``m = ceil(inflation · L)``, the outer region
    is ``[s − m, s − 1] ∪ [e + 1, e + m]`` clipped to the video's valid
    segments, and ``score = mean(inner) − mean(outer)`` of the score map of
    :func:`attention_weighted_logits` (``mean(outer) = 0`` when the outer region is empty).

    ``normalize='minmax'`` weights the logits with each stream's λ rescaled
    to its video's range (:func:`rescaled_attention`), the λ that
    ``AttentionThresholdProposals(normalize='minmax')`` thresholds. Why: λ's
    level is set by the balance of the loss terms, not by the actions, and
    where it sits near 1 on every frame the product ``λ · w_c·x`` is
    ``w_c·x`` up to a few percent: the score then ranks proposals by the
    class logits alone, whatever λ's ranking of the frames (README, "Model
    settings").

    ``video_score='scale'`` scales each contrast by the video-level
    probability of its class (:func:`scale_by_video_score`): the contrast is
    measured within one video, in that video's logit units, while average
    precision ranks a class's proposals across videos.

    ``activation='softmax'`` weights the frame's class probabilities (softmax
    over the C + 1 columns, :func:`~wsal.postprocess.proposals.
    attention_weighted_probabilities`) instead of its logits. The softmax
    removes what every class shares in a frame: evidence of a venue that
    related classes share raises all their logits together, on the action
    and around it, while only the action raises one class above the others.

    Args:
        inflation: Outer margin as a fraction of the proposal length.
        stream_weights: Optional ``{stream: θ}`` override.
        normalize: None (λ as printed) or ``'minmax'`` (see above).
        video_score: None or ``'scale'`` (see above).
        activation: None (the logits) or ``'softmax'`` (see above).

    Call: ``scorer(outputs, proposals)`` -> ``[P]`` float64 scores. The map is
    computed on each video's valid segments only, which must come first in
    its row (padding at the end, the collate's layout); a mask with holes is
    refused (:func:`packed_interval_sums`).
    """

    def __init__(self, *, inflation: float = 0.25, stream_weights: Optional[dict] = None,
                 normalize: Optional[str] = None, video_score: Optional[str] = None,
                 activation: Optional[str] = None) -> None:
        super().__init__()
        owner = type(self).__name__
        self.inflation = check_number(inflation, owner=owner, key='inflation', low=0.0)
        self.stream_weights = check_stream_weights(stream_weights, owner=owner)
        self.normalize = check_attention_form(normalize, owner)
        self.video_score = check_video_score_form(video_score, owner)
        self.activation = check_choice(activation, owner=owner, key='activation',
                                       choices=CLASS_ACTIVATIONS)

    def score_map(self, outputs: dict) -> Tensor:
        """``[B, T, C]`` float64 per-segment class scores."""
        if self.normalize == 'minmax':
            outputs = rescaled_attention(outputs)
        return self._map(outputs)

    def forward(self, outputs: dict, proposals: Proposals) -> Tensor:
        _check_labelled(proposals)
        total, mask = self.packed_map(outputs)  # [N_valid, C], [B, T]
        sums, lengths = packed_interval_sums(total, mask, proposals, owner=type(self).__name__)
        v, s, e = proposals.video, proposals.start, proposals.end
        inner = sums(s, e + 1) / (e - s + 1).double()
        margin = torch.ceil((e - s + 1).double() * self.inflation).long()
        left_lo = (s - margin).clamp(min=0)
        right_hi = torch.maximum(torch.minimum(e + 1 + margin, lengths.index_select(0, v)), e + 1)
        outer_sum = sums(left_lo, s) + sums(e + 1, right_hi)
        outer_n = (s - left_lo) + (right_hi - (e + 1))
        outer = torch.where(outer_n > 0, outer_sum / outer_n.clamp(min=1).double(),
                            torch.zeros_like(outer_sum))
        scores = inner - outer
        if self.video_score == 'scale':
            scores = scale_by_video_score(scores, outputs, proposals)
        return scores

    def packed_map(self, outputs: dict) -> Tuple[Tensor, Tensor]:
        """The score map on the valid segments only, video after video.

        Returns:
            tuple: ``[N_valid, C]`` float64 (the rows of :meth:`score_map` where
            the mask is True, computed on those rows only) and the mask
            ``BoolTensor[B, T]`` (each video's valid segments come first).
        """
        packed, mask = packed_valid_segments(outputs, normalize=self.normalize)
        return self._map(packed), mask

    def _map(self, outputs: dict) -> Tensor:
        """The weighted logits (or probabilities) of ``outputs``' segments, float64."""
        if self.activation is None:
            return attention_weighted_logits(outputs, stream_weights=self.stream_weights)
        return attention_weighted_probabilities(outputs, activation=self.activation,
                                                stream_weights=self.stream_weights)

    def extra_repr(self) -> str:
        return (f'inflation={self.inflation}, normalize={self.normalize!r}, '
                f'video_score={self.video_score!r}, activation={self.activation!r}')
