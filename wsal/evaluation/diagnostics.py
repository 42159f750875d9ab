"""Where detection recall is lost: a breakdown of the missed ground truth.

mAP mixes ranking (scores) with localization. This module asks a score-free
question of a detection list: for every ground-truth instance, is there a
detection of its class that overlaps it by at least the tIoU threshold, and
if not, what does the closest one look like? The categories of a missed
instance ``g`` (class ``c``, video ``v``), tested in this order:

* ``class_not_predicted``: no detection of class ``c`` in video ``v`` (the
  video-level class selection dropped the class).
* ``no_overlap``: detections of class ``c`` exist in ``v``, none overlaps ``g``.
* ``merged``: the best-overlapping detection of class ``c`` (highest tIoU;
  the first listed among equals) also overlaps a neighbour, i.e. another
  ground-truth instance of ``v`` (any class) that does not itself overlap
  ``g`` (instances labelled twice, such as THUMOS14's CliffDiving inside
  Diving, are not neighbours): neighbouring instances were joined into one
  segment.
* ``too_long``: the best detection is longer than ``g`` (it extends into
  background).
* ``too_short``: it is shorter than ``g`` (a fragment of the instance).
* ``shifted``: same length, displaced.

``recall`` counts instances with a same-class detection at ``tIoU >=
threshold`` (the ActivityNet comparison), whatever its score and whether
another instance would claim it: it bounds the recall of the ranked list from
above. ``recall_any_class`` ignores labels: how well the segments alone
localize. The categories sum to the missed count.

Example:
    >>> d = localization_errors(gt_video=np.array([0]), gt_class=np.array([0]),
    ...                         gt_segments=np.array([[2.0, 4.0]]),
    ...                         pred_video=np.array([0]), pred_class=np.array([0]),
    ...                         pred_segments=np.array([[1.0, 8.0]]), tiou_thresholds=[0.5])
    >>> d['recall'], d['missed']['too_long']
    ([0.0], [1])
"""
from __future__ import annotations

from typing import Any, Dict, List, Mapping, Sequence

import numpy as np

from .metric_utils import check_detection_arrays
from .tiou import segment_tiou

__all__ = ['MISS_CATEGORIES', 'localization_errors', 'format_error_table']

#: Categories of a missed instance, in the order they are tested.
MISS_CATEGORIES = ('class_not_predicted', 'no_overlap', 'merged', 'too_long', 'too_short',
                   'shifted')


def localization_errors(*, gt_video: np.ndarray, gt_class: np.ndarray, gt_segments: np.ndarray,
                        pred_video: np.ndarray, pred_class: np.ndarray,
                        pred_segments: np.ndarray,
                        tiou_thresholds: Sequence[float]) -> Dict[str, Any]:
    """Score-free recall and the breakdown of missed instances (module docstring).

    Args:
        gt_video, gt_class: ``[M]`` int video and class index of each instance.
        gt_segments: ``[M, 2]`` float seconds.
        pred_video, pred_class: ``[N]`` int (predictions of videos without
            ground truth, ``pred_video < 0``, are ignored).
        pred_segments: ``[N, 2]`` float seconds.
        tiou_thresholds: T thresholds.

    Returns:
        dict: ``tiou [T]``, ``num_ground_truth``, ``recall [T]`` and
        ``recall_any_class [T]`` (fractions), ``missed {category: [T] counts}``.
    """
    gt_video, gt_class, gt_segments, pred_video, pred_class, pred_segments = \
        check_detection_arrays(gt_video=gt_video, gt_class=gt_class, gt_segments=gt_segments,
                               pred_video=pred_video, pred_class=pred_class,
                               pred_segments=pred_segments, owner='localization_errors')
    m = gt_video.shape[0]
    ths = np.asarray(list(tiou_thresholds), dtype=np.float64)
    k = ths.shape[0]

    best_same = np.zeros(m)                 # highest same-class tIoU per instance
    best_any = np.zeros(m)                  # highest tIoU, any class
    has_class = np.zeros(m, dtype=bool)     # some detection of the class in the video
    best_len = np.zeros(m)                  # length of the best same-class detection
    best_touches_other = np.zeros(m, dtype=bool)

    g_order = np.argsort(gt_video, kind='stable')
    p_order = np.argsort(pred_video, kind='stable')
    p_sorted = pred_video[p_order]
    videos, g_first = np.unique(gt_video[g_order], return_index=True)
    g_bounds = np.append(g_first, m)
    for i, v in enumerate(videos):
        gi = g_order[g_bounds[i]:g_bounds[i + 1]]
        lo, hi = np.searchsorted(p_sorted, [v, v + 1])
        if hi == lo:
            continue
        pi = p_order[lo:hi]
        g_seg = gt_segments[gi]
        p_seg = pred_segments[pi]
        iou = segment_tiou(g_seg, p_seg)                          # [g, p]
        best_any[gi] = iou.max(axis=1)
        same = gt_class[gi][:, None] == pred_class[pi][None, :]
        has_class[gi] = same.any(axis=1)
        iou_same = np.where(same, iou, -1.0)
        j = iou_same.argmax(axis=1)                               # first among equals
        best_same[gi] = np.maximum(iou_same[np.arange(len(gi)), j], 0.0)
        best_len[gi] = p_seg[j, 1] - p_seg[j, 0]
        # does the chosen detection overlap (positive duration) a neighbour:
        # another instance of the video that does not overlap this one?
        inter = (np.minimum(p_seg[j, 1][:, None], g_seg[None, :, 1])
                 - np.maximum(p_seg[j, 0][:, None], g_seg[None, :, 0]))   # [g, g]
        apart = (np.minimum(g_seg[:, None, 1], g_seg[None, :, 1])
                 - np.maximum(g_seg[:, None, 0], g_seg[None, :, 0])) <= 0  # itself excluded
        best_touches_other[gi] = ((inter > 0) & apart).any(axis=1)

    gt_len = gt_segments[:, 1] - gt_segments[:, 0]
    recall = [float((best_same >= t).mean()) if m else 0.0 for t in ths]
    recall_any = [float((best_any >= t).mean()) if m else 0.0 for t in ths]
    missed: Dict[str, List[int]] = {c: [0] * k for c in MISS_CATEGORIES}
    for ti, t in enumerate(ths):
        miss = best_same < t
        left = miss.copy()
        for cat, cond in (('class_not_predicted', ~has_class),
                          ('no_overlap', best_same <= 0),
                          ('merged', best_touches_other),
                          ('too_long', best_len > gt_len),
                          ('too_short', best_len < gt_len),
                          ('shifted', np.ones(m, dtype=bool))):
            hit = left & cond
            missed[cat][ti] = int(hit.sum())
            left &= ~hit
    return {'tiou': [float(t) for t in ths], 'num_ground_truth': int(m),
            'recall': recall, 'recall_any_class': recall_any, 'missed': missed}


def format_error_table(diagnostics: Mapping[str, Any], *, digits: int = 1) -> str:
    """The breakdown as a text table: one row per tIoU, percent of all instances.

    Args:
        diagnostics: :func:`localization_errors` output.
        digits: Decimals.

    Returns:
        str: the table (no trailing newline).
    """
    m = max(1, int(diagnostics['num_ground_truth']))
    head = ['tIoU', 'recall', 'any class'] + [c.replace('_', ' ') for c in MISS_CATEGORIES]
    rows = []
    for ti, t in enumerate(diagnostics['tiou']):
        cells = [f'{t:g}', f"{100 * diagnostics['recall'][ti]:.{digits}f}",
                 f"{100 * diagnostics['recall_any_class'][ti]:.{digits}f}"]
        cells += [f"{100 * diagnostics['missed'][c][ti] / m:.{digits}f}" for c in MISS_CATEGORIES]
        rows.append(cells)
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(head)]
    lines = [f"Recall of the detection list, whatever the scores, and where the missed "
             f"instances went (% of {diagnostics['num_ground_truth']} instances)",
             '  '.join(h.rjust(w) for h, w in zip(head, widths))]
    lines += ['  '.join(c.rjust(w) for c, w in zip(r, widths)) for r in rows]
    return '\n'.join(lines)
