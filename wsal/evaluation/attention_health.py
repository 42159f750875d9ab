"""``AttentionHealth``: is the class-agnostic attention λ usable for localization?

Detections come from thresholding λ, so a collapsed λ (tiny everywhere) or a
saturated one (≈1 everywhere) makes every detection metric meaningless even
when classification looks fine. This metric summarises λ over all evaluated
frames and against the ground truth.
"""
from __future__ import annotations

import logging
from typing import Any, Dict, List, Optional, Sequence

import numpy as np
from mmengine.evaluator import BaseMetric
from mmengine.logging import print_log

from wsal.registry import METRICS
from wsal.utils.ranges import check_number

from .metric_utils import get_field, to_numpy

__all__ = ['AttentionHealth', 'attention_health', 'class_aucs', 'frame_auc', 'frames_in_segments',
           'stream_agreement']


def frames_in_segments(num_frames: int, seconds_per_segment: float,
                       segments: np.ndarray) -> np.ndarray:
    """Bool ``[T]``: whether frame t's centre ``(t + 0.5)·sps`` lies in a segment ``[s, e]``."""
    centres = (np.arange(num_frames, dtype=np.float64) + 0.5) * float(seconds_per_segment)
    segs = np.asarray(segments, dtype=np.float64).reshape(-1, 2)
    if segs.shape[0] == 0:
        return np.zeros(num_frames, dtype=bool)
    return ((centres[:, None] >= segs[None, :, 0]) & (centres[:, None] <= segs[None, :, 1])).any(1)


def frame_auc(scores: np.ndarray, positive: np.ndarray) -> float:
    """Area under the ROC curve of ``scores [N]`` for the bool labels ``positive [N]``.

    Ties count half. Threshold-free: 1 when every frame inside the ground
    truth scores above every frame outside, 0.5 for an uninformative λ, 0 for
    an inverted one. NaN without both kinds of frames.
    """
    scores = np.asarray(scores, dtype=np.float64).reshape(-1)
    positive = np.asarray(positive, dtype=bool).reshape(-1)
    n_pos, n_neg = int(positive.sum()), int((~positive).sum())
    if n_pos == 0 or n_neg == 0:
        return float('nan')
    # average ranks (1-based) with ties sharing the mean rank
    order = np.argsort(scores, kind='mergesort')
    sorted_scores = scores[order]
    ranks = np.empty(scores.size, dtype=np.float64)
    starts = np.flatnonzero(np.r_[True, sorted_scores[1:] != sorted_scores[:-1]])
    ends = np.r_[starts[1:], scores.size]
    mean_rank = (starts + ends + 1) / 2.0
    ranks[order] = np.repeat(mean_rank, ends - starts)
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def attention_health(attentions: Sequence[np.ndarray], inside: Sequence[np.ndarray], *,
                     collapse_below: float = 0.05, saturate_above: float = 0.95
                     ) -> Dict[str, float]:
    """Summary statistics of λ.

    Args:
        attentions: Per video, λ ``[T_v]`` in [0, 1].
        inside: Per video, bool ``[T_v]``: frame inside a ground-truth segment.
        collapse_below: λ is *collapsed* when its maximum over all frames is
            below this (nothing would pass a 0.5 threshold), and a video is
            collapsed when its own maximum is.
        saturate_above: λ is *saturated* when its 5th percentile is above this
            (≈1 everywhere: proposals cover whole videos).

    Returns:
        dict: ``lambda_in``/``lambda_out`` (mean λ inside/outside ground
        truth, NaN without such frames), ``in_out_ratio``, ``lambda_min``,
        ``lambda_max``, ``lambda_mean``, ``lambda_p05`` .. ``lambda_p95``,
        ``frac_above_0.5``, ``auc`` (frame-level ROC AUC of λ against the
        ground truth over all frames pooled, :func:`frame_auc`),
        ``auc_video`` (the same AUC within each video, averaged over the
        videos that have frames inside and outside the ground truth; NaN
        when none has: how well λ orders a video's own frames, which is all
        that thresholds on λ's quantiles per video read, whereas ``auc``
        also compares λ's level across videos), ``frac_videos_collapsed``,
        ``collapsed`` and ``saturated`` (0/1), ``num_frames``.
    """
    if not attentions:
        raise ValueError('attention_health: no videos')
    lam = np.concatenate([np.asarray(a, dtype=np.float64).reshape(-1) for a in attentions])
    ins = np.concatenate([np.asarray(m, dtype=bool).reshape(-1) for m in inside])
    if lam.shape != ins.shape:
        raise ValueError(f'attention_health: {lam.shape[0]} λ values but '
                         f'{ins.shape[0]} mask values')
    if lam.size == 0:
        raise ValueError('attention_health: all attention arrays are empty')
    if not np.isfinite(lam).all():
        raise ValueError('attention_health: attention contains NaN or infinite values')
    lam_in = float(lam[ins].mean()) if ins.any() else float('nan')
    lam_out = float(lam[~ins].mean()) if (~ins).any() else float('nan')
    pct = np.percentile(lam, [5, 25, 50, 75, 95])
    video_max = np.array([np.max(a) if np.size(a) else 0.0 for a in attentions])
    out = {
        'lambda_in': lam_in,
        'lambda_out': lam_out,
        'in_out_ratio': lam_in / max(lam_out, 1e-12) if lam_out == lam_out and lam_in == lam_in
        else float('nan'),
        'lambda_min': float(lam.min()),
        'lambda_max': float(lam.max()),
        'lambda_mean': float(lam.mean()),
        'lambda_p05': float(pct[0]), 'lambda_p25': float(pct[1]), 'lambda_p50': float(pct[2]),
        'lambda_p75': float(pct[3]), 'lambda_p95': float(pct[4]),
        'frac_above_0.5': float((lam > 0.5).mean()),
        'auc': frame_auc(lam, ins),
        'auc_video': _mean_video_auc(attentions, inside),
        'frac_videos_collapsed': float((video_max < collapse_below).mean()),
        'collapsed': float(lam.max() < collapse_below),
        'saturated': float(pct[0] > saturate_above),
        'num_frames': float(lam.size),
    }
    return out


def _mean_video_auc(attentions: Sequence[np.ndarray], inside: Sequence[np.ndarray]) -> float:
    """Mean of :func:`frame_auc` over the videos with frames inside and outside the GT."""
    values = [frame_auc(a, m) for a, m in zip(attentions, inside)]
    values = [v for v in values if v == v]
    return float(np.mean(values)) if values else float('nan')


def class_aucs(attention: np.ndarray, class_map: np.ndarray, labels: np.ndarray,
               gt_segments: np.ndarray, gt_labels: np.ndarray,
               seconds_per_segment: float) -> np.ndarray:
    """Frame AUCs of a class map and of λ against one video's frames of each class.

    Args:
        attention: λ ``[T]``.
        class_map: ``[T, K]`` class scores, column k for class ``labels[k]``.
        labels: ``[K]`` class indices.
        gt_segments: ``[G, 2]`` seconds.
        gt_labels: ``[G]`` class index of each segment.
        seconds_per_segment: Frame length in seconds.

    Returns:
        np.ndarray: ``[P, 2]`` float64, one row ``(AUC of the class map, AUC of
        λ)`` per class of ``labels`` whose frames (:func:`frames_in_segments`
        of its segments) are some but not all of the video's: both AUCs
        against the same frames, so they say which signal orders them better.
    """
    segments = np.asarray(gt_segments, dtype=np.float64).reshape(-1, 2)
    segment_labels = np.asarray(gt_labels).reshape(-1)
    rows = []
    for k, label in enumerate(np.asarray(labels).reshape(-1)):
        inside = frames_in_segments(attention.shape[0], seconds_per_segment,
                                    segments[segment_labels == label])
        if inside.any() and not inside.all():
            rows.append((frame_auc(class_map[:, k], inside), frame_auc(attention, inside)))
    return np.asarray(rows, dtype=np.float64).reshape(-1, 2)


def stream_agreement(per_video: Sequence[Dict[str, np.ndarray]], names: Sequence[str]) -> float:
    """Mean within-video correlation of the streams' λ (no ground truth needed).

    For every video and every pair of streams, the Pearson correlation of
    their λ over the video's segments; the mean over all of them. Videos
    where a stream's λ is constant (or shorter than 3 segments) are left out.
    Two streams that localize the same actions agree (positive values); a
    stream that has moved to a cue of its own, or to the mirror solution,
    drives the value to 0 or below while every stream's own summary can still
    look healthy.

    Args:
        per_video: One ``{stream: λ [T]}`` dict per video.
        names: The streams to compare (at least two).

    Returns:
        float: the mean correlation, NaN when no video qualifies.
    """
    values = []
    for streams in per_video:
        for i, a in enumerate(names):
            for b in names[i + 1:]:
                x, y = np.asarray(streams[a], float), np.asarray(streams[b], float)
                if x.size < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
                    continue
                values.append(float(np.corrcoef(x, y)[0, 1]))
    return float(np.mean(values)) if values else float('nan')


@METRICS.register_module()
class AttentionHealth(BaseMetric):
    """Attention diagnostics from ``attention [T]``, ``gt_segments`` and ``seconds_per_segment``.

    Keys (prefix ``health``): ``lambda_in``, ``lambda_out``, ``in_out_ratio``,
    ``lambda_min``/``max``/``mean``, ``lambda_p05``..``p95``,
    ``frac_above_0.5``, ``auc``, ``auc_video``, ``frac_videos_collapsed``, ``collapsed``,
    ``saturated``, ``num_frames``; per stream ``<stream>/lambda_in`` ... and,
    with two or more streams, ``stream_agreement`` (:func:`stream_agreement`).
    A collapsed or saturated λ is logged as a warning: detections derived
    from it are worthless.

    Where the predictions carry ``class_map [T, K]`` and ``class_map_labels
    [K]`` (the scorer's class map for each video's ground-truth classes, see
    ``StreamLocalizer.predict``) and ``gt_labels``, two more keys compare the
    two signals a localizer can threshold on the same frames, per (video,
    ground-truth class) with frames of that class and frames outside it,
    averaged over those pairs (:func:`class_aucs`): ``auc_class_map``, the
    class map's AUC against the frames of its class, and
    ``auc_class_lambda``, λ's against the same frames. λ is class-blind and
    the class map follows the class's evidence, scene included, so either
    can order the frames better; the proposals read λ unless they are
    ``FusedRankProposals`` (both) or come from the class scores.

    Args:
        collapse_below: See :func:`attention_health`.
        saturate_above: See :func:`attention_health`.
        collect_device: mmengine's ``collect_device``.
        prefix: Key prefix (default ``'health'``).
    """

    default_prefix = 'health'

    def __init__(self, *, collapse_below: float = 0.05, saturate_above: float = 0.95,
                 collect_device: str = 'cpu', prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        owner = type(self).__name__
        self.collapse_below = check_number(collapse_below, owner=owner, key='collapse_below',
                                           low=0.0, high=1.0)
        self.saturate_above = check_number(saturate_above, owner=owner, key='saturate_above',
                                           low=0.0, high=1.0)
        if self.collapse_below >= self.saturate_above:
            raise ValueError(f'{owner}: collapse_below ({collapse_below}) must be below '
                             f'saturate_above ({saturate_above})')
        self.last_result = None

    def process(self, data_batch: Any, data_samples: Sequence[dict]) -> None:
        """Keep λ and the inside-ground-truth mask of each video."""
        name = type(self).__name__
        for s in data_samples:
            lam = to_numpy(get_field(s, 'attention', name), 'float64').reshape(-1)
            sps = float(to_numpy(get_field(s, 'seconds_per_segment', name)).reshape(-1)[0])
            gt = to_numpy(get_field(s, 'gt_segments', name), 'float64').reshape(-1, 2)
            if not sps > 0:
                vid = s.get('video_id', '?') if isinstance(s, dict) else '?'
                raise ValueError(f"{name}: video '{vid}': seconds_per_segment must be > 0, "
                                 f'got {sps}')
            streams = s.get('stream_attention') if isinstance(s, dict) else None
            per_stream = {k: to_numpy(v, 'float64').reshape(-1)
                          for k, v in (streams or {}).items()}
            pairs = self._class_pairs(s, lam, sps, gt, name)
            self.results.append((lam, frames_in_segments(lam.shape[0], sps, gt), per_stream,
                                 pairs))

    @staticmethod
    def _class_pairs(sample: Any, lam: np.ndarray, sps: float, gt: np.ndarray,
                     name: str) -> Optional[np.ndarray]:
        """``[P, 2]`` (class map AUC, λ AUC) per ground-truth class of one video, or None."""
        if not isinstance(sample, dict) or sample.get('class_map') is None:
            return None
        vid = sample.get('video_id', '?')
        if sample.get('gt_labels') is None or sample.get('class_map_labels') is None:
            raise ValueError(f"{name}: video '{vid}': class_map without gt_labels and "
                             'class_map_labels')
        cmap = to_numpy(sample['class_map'], 'float64')
        cmap = cmap.reshape(cmap.shape[0], -1)
        labels = to_numpy(sample['class_map_labels'], 'int64').reshape(-1)
        gt_labels = to_numpy(sample['gt_labels'], 'int64').reshape(-1)
        if cmap.shape != (lam.shape[0], labels.shape[0]) or gt_labels.shape[0] != gt.shape[0]:
            raise ValueError(f"{name}: video '{vid}': class_map {list(cmap.shape)} for "
                             f'{lam.shape[0]} frames and {labels.shape[0]} labels, '
                             f'{gt_labels.shape[0]} labels for {gt.shape[0]} segments')
        return class_aucs(lam, cmap, labels, gt, gt_labels, sps)

    def compute_metrics(self, results: List[tuple]) -> Dict[str, float]:
        """Pool all frames; warn on collapsed or saturated attention.

        The stream mean λ is what proposals threshold; each stream's λ is
        summarised too (keys ``<stream>/lambda_in`` ...), because one stream
        collapsed to 0 while the other saturates at 1 averages to a harmless
        looking 0.5.
        """
        res = self._summarise('λ', [r[0] for r in results], [r[1] for r in results])
        names = sorted({k for r in results for k in (r[2] if len(r) > 2 else {})})
        complete = [n for n in names if all(len(r) > 2 and n in r[2] for r in results)]
        for name in complete:
            part = self._summarise(f'λ of stream {name!r}', [r[2][name] for r in results],
                                   [r[1] for r in results])
            res.update({f'{name}/{k}': v for k, v in part.items()
                        if k in self.STREAM_KEYS})
        if len(complete) >= 2:  # left out when no video has two non-constant λ
            agreement = stream_agreement([r[2] for r in results], complete)
            if np.isfinite(agreement):
                res['stream_agreement'] = agreement
        pairs = [r[3] for r in results if len(r) > 3 and r[3] is not None and len(r[3])]
        if pairs:
            both = np.concatenate(pairs)
            res['auc_class_map'] = float(both[:, 0].mean())
            res['auc_class_lambda'] = float(both[:, 1].mean())
        self.last_result = res
        return res

    #: per-stream keys reported beside the stream mean's
    STREAM_KEYS = ('lambda_in', 'lambda_out', 'lambda_min', 'lambda_max', 'frac_above_0.5',
                   'auc', 'auc_video', 'collapsed', 'saturated')

    def _summarise(self, what: str, attentions, inside) -> Dict[str, float]:
        res = attention_health(attentions, inside, collapse_below=self.collapse_below,
                               saturate_above=self.saturate_above)
        if res['collapsed']:
            print_log(f'AttentionHealth: {what} has COLLAPSED '
                      f"(max λ = {res['lambda_max']:.3g} "
                      f'< {self.collapse_below:g} over {int(res["num_frames"])} frames): '
                      'detections from it are worthless.', logger='current', level=logging.WARNING)
        elif res['frac_videos_collapsed'] > 0.5:
            print_log(f"AttentionHealth: {what} is collapsed (max < {self.collapse_below:g}) in "
                      f"{res['frac_videos_collapsed']:.0%} of the videos.",
                      logger='current', level=logging.WARNING)
        if res['saturated']:
            print_log(f"AttentionHealth: {what} is SATURATED: 95% of frames have λ ≥ "
                      f"{res['lambda_p05']:.3g}, above the saturation threshold "
                      f'{self.saturate_above:g}; detections from it are worthless.',
                      logger='current', level=logging.WARNING)
        return res
