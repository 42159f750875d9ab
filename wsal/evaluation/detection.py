"""Detection mAP with the semantics of the ActivityNet detection evaluator.

Semantics (per class, per tIoU threshold θ):

* Predictions of the class are ranked by descending score. Each prediction,
  in that order, is matched to the *unmatched* ground-truth instance of the
  same video and class with the highest tIoU, if that tIoU ≥ θ (true
  positive); otherwise it is a false positive. Predictions for an evaluated
  video without ground truth of that class are false positives.
* AP is the all-point interpolated area under precision/recall
  (:func:`~wsal.evaluation.average_precision.interpolated_ap`). mAP averages
  AP over the classes present in the evaluated ground truth; average mAP
  averages mAP over thresholds (and over each requested range of thresholds).
* tIoU of continuous segments (:mod:`wsal.evaluation.tiou`); degenerate pairs
  (union 0) have tIoU 0.

Decisions where the reference code is silent or accidental:

* **Equal scores**: ranked by a *stable* sort, i.e. in input order (videos in
  ``results`` order, then list order). The ActivityNet code uses numpy's
  default ``argsort()`` (not stable: introsort, or SIMD sorting networks on
  recent numpy and CPUs) and reverses it, so its order among equal scores
  depends on the numpy version and CPU (for small arrays, where introsort is
  insertion sort, the reversal puts the *later* prediction first). With
  distinct scores every implementation agrees exactly.
* **Equal tIoUs**: among unmatched ground truth with the same (highest) tIoU,
  the instance listed first in the video's annotations is taken. The
  ActivityNet code again depends on argsort's order.
* **Predictions for videos outside the evaluated set** (another subset, or
  left out by the video list): ``outside_videos='false_positive'`` (default)
  counts them as false positives, which is what the ActivityNet code does (it
  looks up ground truth for every prediction and counts a miss as a false
  positive), so numbers match the official evaluator; ``'ignore'`` drops them
  and reports how many; ``'error'`` refuses them.
* **Labels**: a label absent from the known labels (class list, or every
  label in the ground-truth database) is an error naming the labels, unless
  ``ignore_unknown_labels=True`` (then dropped and counted). Predictions of a
  known class without ground truth in the evaluated videos do not enter mAP
  (the class is not evaluated) and are counted.
"""
from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

from .average_precision import interpolated_ap
from .diagnostics import localization_errors
from .ground_truth import GroundTruth, load_ground_truth
from .false_positives import false_positive_profile
from .matching import greedy_match, score_order
from .predictions import Predictions, load_predictions
from .protocols import (as_pairs, check_thresholds, get_preset, range_name,
                        resolve_average_ranges, select_range)

__all__ = ['DetectionResult', 'evaluate_detection', 'compute_detection_ap', 'OUTSIDE_POLICIES']

OUTSIDE_POLICIES = ('ignore', 'false_positive', 'error')
SEMANTICS = ('ActivityNet detection: greedy matching in descending score order to the unmatched '
             'ground truth of the same video and class with the highest tIoU >= threshold; '
             'VOC-2011 all-point interpolated AP; mAP over classes with ground truth')


@dataclass
class DetectionResult:
    """Detection AP per threshold and class, with the protocol that produced it.

    Attributes:
        tiou_thresholds: ``[T]`` thresholds.
        ap: ``[T, C]`` AP (fractions) per threshold and evaluated class.
        classes: The C evaluated class names.
        average_ranges: ``{'lo-hi': (lo, hi)}``; includes the range of all thresholds.
        protocol: How the numbers were obtained (subset, videos, counts, ...).
        diagnostics: Score-free recall and missed-instance breakdown per
            threshold (with ``diagnose=True``), else None.
    """

    tiou_thresholds: np.ndarray
    ap: np.ndarray
    classes: List[str]
    average_ranges: Dict[str, Tuple[float, float]] = field(default_factory=dict)
    protocol: Dict[str, Any] = field(default_factory=dict)
    #: :func:`~wsal.evaluation.diagnostics.localization_errors` with its
    #: ``false_positives`` (:func:`~wsal.evaluation.false_positives.false_positive_profile`)
    #: (``diagnose=True``), else None.
    diagnostics: Optional[Dict[str, Any]] = None

    @property
    def mAP(self) -> np.ndarray:  # noqa: N802 - the field's usual name
        """``[T]`` mean AP over classes per threshold."""
        return self.ap.mean(axis=1)

    @property
    def average_mAP(self) -> float:  # noqa: N802
        """Mean of ``mAP`` over all thresholds."""
        return float(self.mAP.mean())

    def average(self, lo: float, hi: float) -> float:
        """Mean of ``mAP`` over the thresholds within [lo, hi]."""
        mask = select_range(self.tiou_thresholds, lo, hi)
        if not mask.any():
            raise ValueError(f'no tIoU threshold within {range_name(lo, hi)}')
        return float(self.mAP[mask].mean())

    @property
    def averages(self) -> Dict[str, float]:
        """``{'lo-hi': average mAP over that range}`` for every averaging range."""
        return {k: self.average(lo, hi) for k, (lo, hi) in self.average_ranges.items()}

    def to_dict(self) -> Dict[str, Any]:
        """JSON form (fractions): tiou, mAP, average_mAP, averages, per_class_AP, protocol
        (and diagnostics when computed)."""
        out = {
            'tiou': [float(t) for t in self.tiou_thresholds],
            'mAP': [float(x) for x in self.mAP],
            'average_mAP': self.average_mAP,
            'averages': self.averages,
            'per_class_AP': {c: [float(x) for x in self.ap[:, j]]
                             for j, c in enumerate(self.classes)},
            'protocol': dict(self.protocol),
        }
        if self.diagnostics is not None:
            out['diagnostics'] = self.diagnostics
        return out


def compute_detection_ap(*, gt_video: np.ndarray, gt_class: np.ndarray, gt_segments: np.ndarray,
                         pred_video: np.ndarray, pred_class: np.ndarray,
                         pred_segments: np.ndarray, pred_scores: np.ndarray,
                         thresholds: Sequence[float], num_classes: int) -> np.ndarray:
    """AP ``[T, C]`` from flat arrays (the array core of :func:`evaluate_detection`).

    Args:
        gt_video, gt_class: ``[M]`` int64 video and class index of each instance.
        gt_segments: ``[M, 2]`` float64.
        pred_video: ``[N]`` int64 video index (-1: a video without any
            ground truth, always a false positive).
        pred_class: ``[N]`` int64 class index in 0..C-1.
        pred_segments: ``[N, 2]`` float64.
        pred_scores: ``[N]`` float64; ties keep array order.
        thresholds: T tIoU thresholds.
        num_classes: C; every class must have ground truth.

    Returns:
        np.ndarray: float64 ``[T, C]``.
    """
    ths = np.asarray(thresholds, dtype=np.float64)
    npos = np.bincount(gt_class, minlength=num_classes)
    if (npos == 0).any():
        raise ValueError(f'classes {np.flatnonzero(npos == 0).tolist()} have no ground truth')
    order = score_order(pred_class, pred_scores, num_classes)
    p_class = pred_class[order]
    p_group = np.where(pred_video[order] >= 0, pred_video[order] * num_classes + p_class, -1)
    g_group = gt_video * num_classes + gt_class
    tp = greedy_match(p_group, pred_segments[order], g_group, gt_segments, ths)
    bounds = np.searchsorted(p_class, np.arange(num_classes + 1))
    ap = np.zeros((ths.shape[0], num_classes))
    for c in range(num_classes):
        ap[:, c] = interpolated_ap(tp[:, bounds[c]:bounds[c + 1]], int(npos[c]))
    return ap


def _format_counts(counter: Counter, n: int = 5) -> str:
    items = counter.most_common()
    s = ', '.join(f"'{k}' ({v})" for k, v in items[:n])
    return s + (f', ... ({len(items)} labels in all)' if len(items) > n else '')


def evaluate_detection(
        ground_truth: Union[GroundTruth, str, os.PathLike, Mapping],
        predictions: Union[Predictions, str, os.PathLike, Mapping], *,
        tiou_thresholds: Optional[Sequence[float]] = None,
        average_ranges: Optional[Iterable] = None,
        preset: Optional[str] = None,
        subset: Optional[str] = None,
        video_list: Union[None, str, os.PathLike, Iterable[str]] = None,
        classes: Optional[Sequence[str]] = None,
        ignore_unknown_labels: bool = False,
        outside_videos: str = 'false_positive',
        diagnose: bool = False) -> DetectionResult:
    """Detection AP/mAP of ActivityNet-format predictions (module docstring: semantics).

    Args:
        ground_truth: A :class:`GroundTruth`, or a path / dict in ActivityNet
            format (then ``subset``, ``video_list`` and ``classes`` select from it).
        predictions: A :class:`Predictions`, or a path / dict with ``results``.
        tiou_thresholds: T thresholds; default: the preset's.
        average_ranges: Extra averaging ranges, ``[(lo, hi), ...]`` or
            ``['0.1-0.7', ...]``; default: the preset's when thresholds are
            the preset's. The range of all thresholds is always reported.
        preset: ``'thumos14'`` (default when no thresholds are given) or
            ``'activitynet'``; supplies thresholds and ranges (not the subset).
        subset: Ground-truth subset (when loading from a path / dict).
        video_list: Evaluate only these videos (file or ids).
        classes: Class names (order of ``ap`` columns; allowed labels).
        ignore_unknown_labels: Drop predictions with unknown labels (counted
            in the protocol) instead of raising.
        outside_videos: ``'false_positive'`` (default, as the official
            evaluator), ``'ignore'`` or ``'error'`` for predictions of videos
            outside the evaluated set.
        diagnose: Also compute the score-free recall and the breakdown of
            missed instances per threshold (:mod:`wsal.evaluation.diagnostics`),
            and the false-positive profile of the ranked list under
            ``diagnostics['false_positives']`` (:mod:`wsal.evaluation.false_positives`).

    Returns:
        DetectionResult: ``ap`` ``[T, C]``, ``mAP`` ``[T]``, averages, protocol
        (and ``diagnostics`` with ``diagnose=True``).

    Raises:
        ValueError: bad input (see :func:`load_ground_truth`,
            :func:`load_predictions`), unknown labels, outside videos with
            ``outside_videos='error'``.

    Example:
        >>> res = evaluate_detection('wsal/data/thumos14_gt.json', 'pred.json',
        ...                          subset='test', preset='thumos14')  # doctest: +SKIP
        >>> res.mAP, res.averages['0.1-0.7']  # doctest: +SKIP
    """
    if outside_videos not in OUTSIDE_POLICIES:
        raise ValueError(f'outside_videos must be one of {OUTSIDE_POLICIES}, '
                         f"got '{outside_videos}'")
    if tiou_thresholds is None:
        p = get_preset(preset or 'thumos14')
        tiou_thresholds = p['tiou_thresholds']
        if average_ranges is None:
            average_ranges = p['average_ranges']
    elif preset is not None and average_ranges is None:
        average_ranges = [r for r in get_preset(preset)['average_ranges']
                          if select_range(tiou_thresholds, *r).any()]
    ths = check_thresholds(tiou_thresholds)
    ranges = resolve_average_ranges(ths, as_pairs(average_ranges))

    if isinstance(ground_truth, GroundTruth):
        if subset is not None or video_list is not None or classes is not None:
            raise ValueError('subset / video_list / classes select from a ground-truth file; '
                             'they cannot be applied to an already loaded GroundTruth')
        gt = ground_truth
    else:
        gt = load_ground_truth(ground_truth, subset=subset, video_list=video_list, classes=classes)
    pred = predictions if isinstance(predictions, Predictions) else load_predictions(predictions)

    # labels -> evaluated class index (-1: known without gt, -2: unknown)
    cls_idx = {c: i for i, c in enumerate(gt.classes)}
    lab_map = np.array([cls_idx.get(lab, -1 if lab in gt.known_labels else -2)
                        for lab in pred.labels] or [0], dtype=np.int64)
    p_class = lab_map[pred.label_index] if len(pred) else np.zeros(0, np.int64)
    unknown = p_class == -2
    n_unknown = int(unknown.sum())
    if n_unknown and not ignore_unknown_labels:
        counts = Counter(pred.labels[i] for i in pred.label_index[unknown].tolist())
        raise ValueError(
            f'{pred.source}: {n_unknown} prediction(s) use label(s) unknown to the ground truth '
            f'{gt.source}: {_format_counts(counts)}. Known labels: {sorted(gt.known_labels)}. '
            'Fix the names, or pass ignore_unknown_labels=True (CLI: --ignore-unknown-labels) '
            'to drop them.')
    no_gt_class = p_class == -1

    vid_idx = {v: i for i, v in enumerate(gt.videos)}
    vmap = np.array([vid_idx.get(v, -1) for v in pred.videos] or [0], dtype=np.int64)
    p_video = vmap[pred.video_index] if len(pred) else np.zeros(0, np.int64)
    outside = p_video < 0
    outside_videos_named = sorted({pred.videos[i] for i in np.unique(pred.video_index[outside])})
    if outside.any() and outside_videos == 'error':
        raise ValueError(
            f'{pred.source}: {int(outside.sum())} prediction(s) for {len(outside_videos_named)} '
            f'video(s) outside the evaluated set (subset {gt.subset!r}'
            f"{', list ' + gt.video_list if gt.video_list else ''}): "
            + ', '.join(outside_videos_named[:5])
            + (' ...' if len(outside_videos_named) > 5 else ''))

    keep = (p_class >= 0) & (~outside | (outside_videos == 'false_positive'))
    ap = compute_detection_ap(
        gt_video=gt.video_index, gt_class=gt.class_index, gt_segments=gt.segments,
        pred_video=p_video[keep], pred_class=p_class[keep], pred_segments=pred.segments[keep],
        pred_scores=pred.scores[keep], thresholds=ths, num_classes=len(gt.classes))

    protocol = {
        'semantics': SEMANTICS,
        'ground_truth': gt.source,
        'subset': gt.subset,
        'num_videos': len(gt.videos),
        'video_list': gt.video_list,
        'num_subset_videos': gt.num_subset_videos,
        'videos_left_out_by_list': list(gt.excluded_videos),
        'num_classes': len(gt.classes),
        'classes_without_ground_truth': list(gt.classes_without_gt),
        'num_ground_truth': gt.num_instances,
        'tiou_thresholds': ths,
        'average_mAP_range': range_name(min(ths), max(ths)),
        'average_ranges': list(ranges),
        'values': 'fractions in [0, 1]',
        'predictions': pred.source,
        'num_predictions': len(pred),
        'num_predictions_evaluated': int(keep.sum()),
        'outside_videos': outside_videos,
        'num_predictions_outside_videos': int(outside.sum()),
        'num_outside_videos': len(outside_videos_named),
        'num_predictions_unknown_label_ignored': n_unknown,
        'num_predictions_class_without_ground_truth': int(no_gt_class.sum()),
        'score_ties': 'stable: equal scores keep input order',
        'tiou_ties': 'first listed ground-truth instance',
    }
    diagnostics = None
    if diagnose:
        inside = keep & ~outside
        diagnostics = localization_errors(
            gt_video=gt.video_index, gt_class=gt.class_index, gt_segments=gt.segments,
            pred_video=p_video[inside], pred_class=p_class[inside],
            pred_segments=pred.segments[inside], tiou_thresholds=ths)
        diagnostics['false_positives'] = false_positive_profile(
            gt_video=gt.video_index, gt_class=gt.class_index, gt_segments=gt.segments,
            pred_video=p_video[keep], pred_class=p_class[keep], pred_segments=pred.segments[keep],
            pred_scores=pred.scores[keep], tiou_thresholds=ths, num_classes=len(gt.classes))
    return DetectionResult(tiou_thresholds=np.asarray(ths), ap=ap, classes=list(gt.classes),
                           average_ranges=ranges, protocol=protocol, diagnostics=diagnostics)
