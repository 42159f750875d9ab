"""The detection procedure (paper sections 3.2 and 4.2), batched over videos and classes.

1. Class selection: classes with video-level probability ``>= class_threshold``;
   a video with none keeps its top foreground class.
2. Proposals from the proposal generator (all thresholds pooled).
3. Each proposal scored for each selected class of its video by the scorer.
4. Class-wise NMS (per video and class) in integer segment units
   ``[start, end + 1)``, exact (see :mod:`wsal.postprocess.iou`).
5. Segment indices become seconds: ``[start · sps, min((end + 1) · sps, duration))``.

Every step works on the whole batch at once (videos x classes x thresholds
in tensors) and stays on the input device until the per-video split at the
end. When the NMS is duplicate-invariant (greedy NMS with ``IoU < 1``),
repeated (video, class, start, end) proposals, which several thresholds
produce, are dropped before scoring: greedy NMS keeps the first copy or none
and a dropped copy never suppresses anything, so the result is identical to
processing every copy. Detections of a video are ordered by decreasing score;
equal scores by class, then proposal order (threshold, then start).
"""
from __future__ import annotations

from typing import Callable, List, NamedTuple, Optional, Sequence

import numpy as np
import torch
from torch import Tensor, nn

from ..registry import POSTPROCESSORS, build_component
from ..utils.ranges import check_number, check_positive_int
from .nms import TemporalNMS, classwise_nms
from .proposals import Proposals, attention_proposals
from .scoring import interval_means, prefix_sums
from .threads import op_threads

__all__ = ['Detections', 'select_classes', 'unique_proposals', 'expand_proposals',
           'localize', 'localize_batch', 'DetectionPipeline']



class Detections(NamedTuple):
    """Detections of a batch, flat, grouped by video.

    Attributes:
        video: ``LongTensor[N]`` video index, non-decreasing.
        segments: ``[N, 2]`` float64 (seconds, or segment units when no
            ``seconds_per_segment`` was given).
        scores: ``[N]`` float64.
        labels: ``LongTensor[N]`` foreground class ``0..C-1``.
    """

    video: Tensor
    segments: Tensor
    scores: Tensor
    labels: Tensor

    def split(self, num_videos: int, *, dtype: torch.dtype = torch.float32) -> List[dict]:
        """Per-video dicts ``{'segments' [n, 2], 'scores' [n], 'labels' [n]}``.

        The only step that reads values back to the host (the per-video counts).
        """
        counts = torch.bincount(self.video, minlength=num_videos).tolist()
        out = []
        for seg, sc, lab in zip(self.segments.to(dtype).split(counts),
                                self.scores.to(dtype).split(counts),
                                self.labels.split(counts)):
            out.append({'segments': seg, 'scores': sc, 'labels': lab})
        return out


def select_classes(video_scores: Tensor, threshold: float = 0.1) -> Tensor:
    """Classes kept per video: probability ``>= threshold``, else the top one.

    Args:
        video_scores: ``[B, C]`` video-level foreground class probabilities.
        threshold: Class threshold (paper: 0.1).

    Returns:
        BoolTensor: ``[B, C]``; every row has at least one True (``C > 0``).
    """
    if video_scores.dim() != 2:
        raise ValueError(f'video_scores must have shape [B, C], got {tuple(video_scores.shape)}')
    selected = video_scores >= threshold
    if video_scores.shape[1] == 0:
        return selected
    top = torch.zeros_like(selected)
    top.scatter_(1, video_scores.argmax(dim=1, keepdim=True), True)
    return torch.where(selected.any(dim=1, keepdim=True), selected, top)


def unique_proposals(proposals: Proposals, num_segments: int) -> Tensor:
    """Indices of the first occurrence of every distinct proposal, ascending.

    Args:
        proposals: :class:`Proposals` (labelled or not).
        num_segments: ``T`` (padded length), bounds ``start`` and ``end``.

    Returns:
        LongTensor: ``[U]`` indices into the proposals.
    """
    n = proposals.start.shape[0]
    device = proposals.start.device
    if n == 0:
        return torch.zeros(0, dtype=torch.long, device=device)
    width = num_segments + 1
    key = proposals.video
    if proposals.label is not None:
        key = key * (int(proposals.label.max()) + 1) + proposals.label
    key = (key * width + proposals.start) * width + proposals.end
    key_sorted, perm = torch.sort(key, stable=True)  # equal keys keep index order
    first = torch.ones_like(key_sorted, dtype=torch.bool)
    first[1:] = key_sorted[1:] != key_sorted[:-1]
    return torch.sort(perm[first]).values


def expand_proposals(proposals: Proposals, class_mask: Tensor) -> Proposals:
    """Labelled proposals for the selected classes.

    Class-agnostic proposals are repeated for every selected class of their
    video (ordered by video, class, proposal); labelled ones are filtered to
    the selected classes.

    Args:
        proposals: :class:`Proposals`, ordered by video.
        class_mask: ``BoolTensor[B, C]``.

    Returns:
        Proposals: with ``label`` set.
    """
    if proposals.label is not None:
        keep = class_mask[proposals.video, proposals.label]
        return Proposals(*(t[keep] for t in proposals))
    device = proposals.video.device
    n_videos = class_mask.shape[0]
    counts = torch.bincount(proposals.video, minlength=n_videos)
    offsets = torch.cumsum(counts, 0) - counts
    pair_video, pair_class = torch.nonzero(class_mask, as_tuple=True)
    reps = counts[pair_video]
    total = int(reps.sum())
    pair = torch.repeat_interleave(torch.arange(pair_video.shape[0], device=device), reps,
                                   output_size=total)
    pair_first = torch.cumsum(reps, 0) - reps
    # index_select: several times faster than ``x[idx]`` gathers on the CPU
    src = (offsets.index_select(0, pair_video.index_select(0, pair))
           + torch.arange(total, device=device) - pair_first.index_select(0, pair))
    return Proposals(proposals.video.index_select(0, src), proposals.start.index_select(0, src),
                     proposals.end.index_select(0, src), pair_class.index_select(0, pair))


def video_score_order(video: Tensor, scores: Tensor, num_videos: int) -> Tensor:
    """Permutation ordering detections by video, then by decreasing score.

    Equal (video, score) keep their given order (stable). On the CPU each
    video is sorted on its own (a short loop over videos: sorting many short
    runs is about twice as fast as two global sorts); elsewhere two stable
    global sorts.

    Args:
        video: ``LongTensor[N]`` video index.
        scores: ``[N]`` floating scores (no NaN).
        num_videos: ``B``.

    Returns:
        LongTensor: ``[N]`` permutation.
    """
    if video.device.type != 'cpu' or not scores.is_floating_point():
        order = torch.sort(scores, descending=True, stable=True).indices
        return order[torch.sort(video[order], stable=True).indices]
    v = video.numpy()
    grouped = v.shape[0] < 2 or bool((v[1:] >= v[:-1]).all())
    by_video = np.arange(v.shape[0]) if grouped else np.argsort(v, kind='stable')
    negated = -scores.detach().numpy().astype(np.float64, copy=False)[by_video]
    counts = np.bincount(v, minlength=num_videos).tolist()
    out = np.empty(v.shape[0], dtype=np.int64)
    first = 0
    for count in counts:  # one short sort per video
        if count:
            stop = first + count
            part = negated[first:stop]
            order = np.argsort(part, kind='quicksort')  # SIMD sort; stable unless ties
            ranked = part[order]
            if count > 1 and bool((ranked[1:] == ranked[:-1]).any()):
                order = np.argsort(part, kind='stable')
            out[first:stop] = order + first
            first = stop
    return torch.from_numpy(by_video[out])


def localize(proposals: Proposals, class_mask: Tensor, score_fn: Callable[[Proposals], Tensor],
             nms: nn.Module, *, num_segments: int,
             seconds_per_segment: Optional[Tensor] = None, durations: Optional[Tensor] = None,
             max_per_video: Optional[int] = None) -> Detections:
    """Steps 3 to 5 of the procedure for the proposals of a batch.

    Args:
        proposals: From a proposal generator (class-agnostic or labelled).
        class_mask: ``BoolTensor[B, C]`` selected classes.
        score_fn: Labelled :class:`Proposals` -> ``[P]`` scores.
        nms: An NMS module (:class:`TemporalNMS`, :class:`SoftNMS`, or any
            ``nms(segments, scores, labels) -> (keep, scores)``); its
            ``select_classwise`` method is used when present, and a true
            ``drop_duplicates`` attribute has exact duplicate proposals
            dropped first (greedy NMS below IoU 1: the kept set is the same;
            ``SoftNMS(unique=True)``: asked for, see there).
        num_segments: ``T``.
        seconds_per_segment: ``[B]`` seconds per segment (None: segment units).
        durations: ``[B]`` durations in seconds to clip ends to (None: no clip).
        max_per_video: Keep at most this many detections per video.

    Returns:
        Detections: grouped by video, by decreasing score within a video.
    """
    n_classes = class_mask.shape[1]
    if getattr(nms, 'drop_duplicates', False):
        first = unique_proposals(proposals, num_segments)
        proposals = Proposals(*(None if t is None else t.index_select(0, first)
                                for t in proposals))
    labelled = expand_proposals(proposals, class_mask)
    scores = score_fn(labelled)
    select = getattr(nms, 'select_classwise', None)
    if select is not None:
        keep, kept_scores = select(proposals, labelled, class_mask, scores)
    else:
        keep, kept_scores = classwise_nms(nms, labelled, n_classes, scores)
    video = labelled.video.index_select(0, keep)
    order = video_score_order(video, kept_scores, class_mask.shape[0])
    keep, kept_scores, video = (t.index_select(0, order) for t in (keep, kept_scores, video))
    if max_per_video is not None:
        counts = torch.bincount(video, minlength=class_mask.shape[0])
        rank = torch.arange(video.shape[0], device=video.device) - (torch.cumsum(counts, 0)
                                                                     - counts)[video]
        top = rank < max_per_video
        keep, kept_scores, video = keep[top], kept_scores[top], video[top]
    seg = torch.stack([labelled.start.index_select(0, keep),
                       labelled.end.index_select(0, keep) + 1], dim=1).double()
    if seconds_per_segment is not None:
        seg = seg * seconds_per_segment.double()[video, None]
    if durations is not None:
        seg = torch.minimum(seg, durations.double()[video, None])
    return Detections(video, seg, kept_scores.double(), labelled.label.index_select(0, keep))


def localize_batch(attention: Tensor, score_map: Tensor, video_scores: Tensor, *,
                   mask: Optional[Tensor] = None, seconds_per_segment: Optional[Tensor] = None,
                   durations: Optional[Tensor] = None,
                   thresholds: Optional[Sequence[float]] = None, class_threshold: float = 0.1,
                   iou_threshold: float = 0.5, max_per_video: Optional[int] = None) -> Detections:
    """The paper's whole detection procedure for a batch of videos, on plain tensors.

    Args:
        attention: ``[B, T]`` proposal source ``λ`` (mean of the streams).
        score_map: ``[B, T, C]`` per-segment class scores, e.g.
            :func:`~wsal.postprocess.scoring.attention_weighted_logits` (``θ λ w·x`` summed
            over streams); a proposal scores the mean over its segments.
        video_scores: ``[B, C]`` video-level class probabilities.
        mask: ``BoolTensor[B, T]``, False on padding (None: all valid).
        seconds_per_segment: ``[B]`` (None: segment units).
        durations: ``[B]`` seconds, ends clipped to them (None: no clip).
        thresholds: Attention thresholds (default 0..0.5 step 0.025).
        class_threshold: Video-level class threshold (0.1).
        iou_threshold: Greedy class-wise NMS threshold (0.5).
        max_per_video: Optional cap on detections per video.

    Returns:
        Detections: flat over the batch; ``.split(B)`` gives per-video dicts.
    """
    if score_map.dim() != 3 or score_map.shape[:2] != attention.shape:
        raise ValueError(f'score_map must have shape [B, T, C] with [B, T] = '
                         f'{tuple(attention.shape)}, got {tuple(score_map.shape)}')
    if video_scores.shape != (score_map.shape[0], score_map.shape[2]):
        raise ValueError(f'video_scores must have shape [B, C] = '
                         f'{(score_map.shape[0], score_map.shape[2])}, got {tuple(video_scores.shape)}')
    check_number(class_threshold, owner='localize_batch', key='class_threshold', low=0.0, high=1.0)
    proposals = attention_proposals(attention, mask, thresholds)
    class_mask = select_classes(video_scores, class_threshold)
    prefix = prefix_sums(score_map)

    def score_fn(p: Proposals) -> Tensor:
        return interval_means(prefix, p.video, p.label, p.start, p.end)

    return localize(proposals, class_mask, score_fn, TemporalNMS(iou_threshold=iou_threshold),
                    num_segments=attention.shape[1], seconds_per_segment=seconds_per_segment,
                    durations=durations, max_per_video=max_per_video)


def _sample_field(sample: dict, key: str, index: int):
    if key not in sample:
        vid = sample.get('video_id', f'#{index}')
        raise KeyError(f"data sample of video '{vid}' lacks '{key}' (needed to turn segment "
                       f'indices into seconds)')
    return float(sample[key])


@POSTPROCESSORS.register_module()
class DetectionPipeline(nn.Module):
    """Model outputs + data samples -> per-video detections (paper 3.2 / 4.2).

    Args:
        proposal: Proposal generator (config or module), e.g.
            ``dict(type='AttentionThresholdProposals')``.
        scorer: Proposal scorer, e.g. ``dict(type='WeightedLogitScorer')``.
        nms: ``dict(type='TemporalNMS', iou_threshold=0.5)`` or ``SoftNMS``.
        class_threshold: Video-level class probability threshold (0.1), in ``[0, 1]``.
        max_per_video: Optional cap on detections per video (positive).
        num_threads: torch CPU threads for the batch (None: chosen by work
            size, see :func:`~wsal.postprocess.threads.op_threads`).

    Call: ``pipeline(outputs, data_samples)`` with the model's tensor-path
    dict (``streams``, ``stream_weights``, ``attention [B, T]``,
    ``video_scores [B, C]``, ``mask [B, T]``) and the ``B`` data samples
    (``seconds_per_segment``, optional ``duration``) -> list of ``B`` dicts
    ``{'segments': FloatTensor[N, 2] seconds, 'scores': FloatTensor[N],
    'labels': LongTensor[N] (0..C-1)}``, by decreasing score.
    """

    def __init__(self, *, proposal=None, scorer=None, nms=None, class_threshold: float = 0.1,
                 max_per_video: Optional[int] = None, num_threads: Optional[int] = None) -> None:
        super().__init__()
        self.proposal = build_component(
            proposal if proposal is not None else dict(type='AttentionThresholdProposals'),
            POSTPROCESSORS)
        self.scorer = build_component(
            scorer if scorer is not None else dict(type='WeightedLogitScorer'), POSTPROCESSORS)
        self.nms = build_component(nms if nms is not None else dict(type='TemporalNMS'),
                                   POSTPROCESSORS)
        owner = type(self).__name__
        self.class_threshold = check_number(class_threshold, owner=owner, key='class_threshold',
                                            low=0.0, high=1.0)
        self.max_per_video = None if max_per_video is None else check_positive_int(
            max_per_video, owner=owner, key='max_per_video')
        self.num_threads = num_threads

    def detect(self, outputs: dict, data_samples: Optional[Sequence[dict]] = None) -> Detections:
        """Flat batched detections (float64), before the per-video split."""
        for key in ('video_scores', 'attention'):
            if key not in outputs:
                raise KeyError(f"model outputs lack '{key}' (see docs/design.md, Model)")
        video_scores = outputs['video_scores']
        n_videos, length = outputs['attention'].shape
        device = video_scores.device
        sps = durations = None
        if data_samples is not None:
            if len(data_samples) != n_videos:
                raise ValueError(f'{len(data_samples)} data samples for a batch of {n_videos} videos')
            sps = torch.tensor([_sample_field(s, 'seconds_per_segment', i)
                                for i, s in enumerate(data_samples)],
                               dtype=torch.float64, device=device)
            if all(s.get('duration') is not None for s in data_samples):
                durations = torch.tensor([float(s['duration']) for s in data_samples],
                                         dtype=torch.float64, device=device)
        work = outputs['attention'].numel() * max(1, video_scores.shape[1])
        with op_threads(work, device=device, num_threads=self.num_threads):
            class_mask = select_classes(video_scores, self.class_threshold)
            proposals = self.proposal(outputs, class_mask)
            return localize(proposals, class_mask, lambda p: self.scorer(outputs, p), self.nms,
                            num_segments=length, seconds_per_segment=sps, durations=durations,
                            max_per_video=self.max_per_video)

    def forward(self, outputs: dict, data_samples: Optional[Sequence[dict]] = None) -> List[dict]:
        dets = self.detect(outputs, data_samples)
        return dets.split(outputs['attention'].shape[0])
