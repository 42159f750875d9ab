"""What the top of a ranked detection list is made of: a false-positive profile.

mAP is lost in two places: instances no detection covers (see
:mod:`wsal.evaluation.diagnostics`) and false positives ranked above true
ones. This module names the second kind. With the evaluator's own matching
(:func:`~wsal.evaluation.matching.greedy_match`, ActivityNet semantics), a
false positive ``p`` of class ``c`` in video ``v`` at threshold ``θ`` is, in
the order tested (the error types of Alwassel et al., "Diagnosing error in
temporal action detectors", ECCV 2018):

* ``double_detection``: it overlaps an instance of class ``c`` at tIoU ≥ θ,
  but a higher-ranked detection took that instance;
* ``wrong_label``: it overlaps an instance of another class at tIoU ≥ θ;
* ``localization``: its best overlap with an instance of class ``c`` is in
  ``[min_overlap, θ)`` (a fragment, an overlong or a shifted segment);
* ``confusion``: its best overlap with an instance of another class is in
  ``[min_overlap, θ)``;
* ``background``: every overlap is below ``min_overlap`` (the predictions of
  a video without ground truth are background).

Across the types, ``class_absent`` counts the false positives in videos
without any instance of their class: the part of the errors that comes
from the video-level choice of classes rather than from where the
detections lie (deleting them is what knowing each video's classes gains).

Two readings per threshold:

* ``shares``: the make-up of the top of each class's list, the first
  ``ceil(top · G_c)`` detections of class ``c`` (``G_c`` its instances),
  pooled over classes: what a reader of the ranked list meets first;
* ``map_gain``: how much mAP rises when every false positive of one type
  (in the whole list) is deleted. A false positive holds no instance, so
  deleting it leaves every other detection's match unchanged, and it can
  only raise precision: each gain is ``>= 0``.

Example:
    >>> fp = false_positive_profile(
    ...     gt_video=np.array([0]), gt_class=np.array([0]), gt_segments=np.array([[0., 10.]]),
    ...     pred_video=np.array([0, 0]), pred_class=np.array([0, 0]),
    ...     pred_segments=np.array([[20., 30.], [0., 10.]]), pred_scores=np.array([0.9, 0.8]),
    ...     tiou_thresholds=[0.5], num_classes=1)
    >>> fp['counts']['background'], round(fp['map_gain']['background'][0], 2)
    ([1], 0.5)
"""
from __future__ import annotations

import math
from typing import Any, Dict, List, Mapping, Sequence

import numpy as np

from .average_precision import interpolated_ap
from .matching import greedy_match, score_order
from .metric_utils import check_detection_arrays, check_rows
from .tiou import segment_tiou

__all__ = ['FP_CATEGORIES', 'false_positive_profile', 'format_false_positive_table']

#: Types of a false positive, in the order they are tested.
FP_CATEGORIES = ('double_detection', 'wrong_label', 'localization', 'confusion', 'background')


def _best_overlaps(gt_video, gt_class, gt_segments, pred_video, pred_class, pred_segments):
    """Per prediction, the highest tIoU with an instance of its class / of another class
    in its video (0 where there is none), and whether its video has an instance of its class."""
    n = pred_video.shape[0]
    same = np.zeros(n)
    other = np.zeros(n)
    has_class = np.zeros(n, dtype=bool)
    g_order = np.argsort(gt_video, kind='stable')
    g_sorted = gt_video[g_order]
    for v in np.unique(pred_video[pred_video >= 0]):
        lo, hi = np.searchsorted(g_sorted, [v, v + 1])
        if hi == lo:
            continue
        gi = g_order[lo:hi]
        pi = np.flatnonzero(pred_video == v)
        iou = segment_tiou(pred_segments[pi], gt_segments[gi])              # [p, g]
        is_same = pred_class[pi][:, None] == gt_class[gi][None, :]
        same[pi] = np.where(is_same, iou, 0.0).max(axis=1)
        other[pi] = np.where(is_same, 0.0, iou).max(axis=1)
        has_class[pi] = is_same.any(axis=1)
    return same, other, has_class


def false_positive_profile(*, gt_video: np.ndarray, gt_class: np.ndarray,
                           gt_segments: np.ndarray, pred_video: np.ndarray,
                           pred_class: np.ndarray, pred_segments: np.ndarray,
                           pred_scores: np.ndarray, tiou_thresholds: Sequence[float],
                           num_classes: int, top: float = 1.0,
                           min_overlap: float = 0.1) -> Dict[str, Any]:
    """The false-positive profile of a detection list (module docstring).

    Args:
        gt_video, gt_class: ``[M]`` int video and class index of each instance.
        gt_segments: ``[M, 2]`` float seconds.
        pred_video: ``[N]`` int video index (-1: a video without ground truth).
        pred_class: ``[N]`` int class index in ``0..C-1``.
        pred_segments: ``[N, 2]`` float seconds.
        pred_scores: ``[N]`` float; equal scores keep array order, as in the evaluator.
        tiou_thresholds: T thresholds.
        num_classes: C; every class must have ground truth.
        top: The profile reads the first ``ceil(top · G_c)`` detections of
            each class (1: as many as the class has instances).
        min_overlap: Below this tIoU a detection does not touch an instance.

    Returns:
        dict: ``tiou [T]``, ``top``, ``min_overlap``, ``num_profiled`` (detections
        in the profile), ``true_positive [T]`` and ``shares {type: [T]}``
        (fractions of the profiled detections), ``counts {type: [T]}`` (false
        positives of each type in the whole list) and ``map_gain {type: [T]}``
        (mAP gained by deleting them, fractions); ``class_absent`` ``{'share',
        'count', 'map_gain'}``: the same readings for the false positives in
        videos without an instance of their class.

    Raises:
        ValueError: shapes disagree, a class has no ground truth, ``top <= 0``
            or ``min_overlap`` outside ``[0, 1]``.
    """
    owner = 'false_positive_profile'
    gt_video, gt_class, gt_segments, pred_video, pred_class, pred_segments = \
        check_detection_arrays(gt_video=gt_video, gt_class=gt_class, gt_segments=gt_segments,
                               pred_video=pred_video, pred_class=pred_class,
                               pred_segments=pred_segments, owner=owner)
    n = pred_video.shape[0]
    pred_scores = check_rows('pred_scores', pred_scores, 1, n, owner=owner).astype(np.float64)
    if not top > 0:
        raise ValueError(f'false_positive_profile: top must be > 0, got {top!r}')
    if not 0.0 <= min_overlap <= 1.0:
        raise ValueError(f'false_positive_profile: min_overlap must be in [0, 1], '
                         f'got {min_overlap!r}')
    ths = np.asarray(list(tiou_thresholds), dtype=np.float64)
    npos = np.bincount(gt_class, minlength=num_classes)
    if (npos == 0).any():
        raise ValueError(f'false_positive_profile: classes {np.flatnonzero(npos == 0).tolist()} '
                         'have no ground truth')

    order = score_order(pred_class, pred_scores, num_classes)
    p_video, p_class, p_seg = pred_video[order], pred_class[order], pred_segments[order]
    p_group = np.where(p_video >= 0, p_video * num_classes + p_class, -1)
    tp = greedy_match(p_group, p_seg, gt_video * num_classes + gt_class, gt_segments, ths)
    same, other, has_class = _best_overlaps(gt_video, gt_class, gt_segments,
                                            p_video, p_class, p_seg)

    kind = np.full(tp.shape, -1, dtype=np.int64)     # -1: true positive
    for ti, t in enumerate(ths):
        left = ~tp[ti]
        for k, cond in enumerate((same >= t, other >= t, same >= min_overlap,
                                  other >= min_overlap, np.ones(n, dtype=bool))):
            hit = left & cond
            kind[ti, hit] = k
            left &= ~hit

    bounds = np.searchsorted(p_class, np.arange(num_classes + 1))
    profiled = np.zeros(n, dtype=bool)
    for c in range(num_classes):
        k = min(int(math.ceil(top * int(npos[c]))), int(bounds[c + 1] - bounds[c]))
        profiled[bounds[c]:bounds[c] + k] = True
    n_prof = int(profiled.sum())

    base = np.zeros((ths.shape[0], num_classes))
    for c in range(num_classes):
        base[:, c] = interpolated_ap(tp[:, bounds[c]:bounds[c + 1]], int(npos[c]))

    def reading(drop):  # drop: bool [T, N], false positives to delete
        share = [float(drop[ti, profiled].sum() / max(n_prof, 1)) for ti in range(len(ths))]
        count = [int(drop[ti].sum()) for ti in range(len(ths))]
        gain = []
        for ti in range(len(ths)):
            ap = np.empty(num_classes)
            for c in range(num_classes):
                sl = slice(bounds[c], bounds[c + 1])
                ap[c] = interpolated_ap(tp[ti, sl][~drop[ti, sl]], int(npos[c]))[0]
            gain.append(float(ap.mean() - base[ti].mean()))
        return share, count, gain

    shares: Dict[str, List[float]] = {}
    counts: Dict[str, List[int]] = {}
    gains: Dict[str, List[float]] = {}
    for k, cat in enumerate(FP_CATEGORIES):
        shares[cat], counts[cat], gains[cat] = reading(kind == k)
    absent = reading(~tp & ~has_class[None, :])
    return {'tiou': [float(t) for t in ths], 'top': float(top),
            'min_overlap': float(min_overlap), 'num_profiled': n_prof,
            'true_positive': [float(tp[ti, profiled].sum() / max(n_prof, 1))
                              for ti in range(len(ths))],
            'shares': shares, 'counts': counts, 'map_gain': gains,
            'class_absent': dict(zip(('share', 'count', 'map_gain'), absent))}


def format_false_positive_table(profile: Mapping[str, Any], *, digits: int = 1) -> str:
    """The profile as a text table: per tIoU, the shares of the top of the list
    and the mAP gained by deleting each type (percent / mAP points).

    Args:
        profile: :func:`false_positive_profile` output.
        digits: Decimals.

    Returns:
        str: the table (no trailing newline).
    """
    short = {'double_detection': 'double', 'wrong_label': 'wrong label',
             'localization': 'localization', 'confusion': 'confusion', 'background': 'background'}
    head = (['tIoU', 'true pos'] + [short[c] for c in FP_CATEGORIES] + ['no class']
            + [f'+{short[c]}' for c in FP_CATEGORIES] + ['+no class'])
    rows = []
    for ti, t in enumerate(profile['tiou']):
        cells = [f'{t:g}', f"{100 * profile['true_positive'][ti]:.{digits}f}"]
        absent = profile['class_absent']
        cells += [f"{100 * profile['shares'][c][ti]:.{digits}f}" for c in FP_CATEGORIES]
        cells += [f"{100 * absent['share'][ti]:.{digits}f}"]
        cells += [f"{100 * profile['map_gain'][c][ti]:.{digits}f}" for c in FP_CATEGORIES]
        cells += [f"{100 * absent['map_gain'][ti]:.{digits}f}"]
        rows.append(cells)
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(head)]
    top = profile['top']
    lines = [f"What the top of each class's ranked list is ({'G' if top == 1 else f'{top:g}·G'} "
             f"detections for a class of G instances, {profile['num_profiled']} in all): "
             '% true positives and % of each type of false positive;',
             "no class: those in videos without an instance of their class (any type); "
             '+type: the mAP points gained by deleting every false positive of that type',
             '  '.join(h.rjust(w) for h, w in zip(head, widths))]
    lines += ['  '.join(c.rjust(w) for c, w in zip(r, widths)) for r in rows]
    return '\n'.join(lines)
