"""Average precision: VOC-2011 interpolated (detection) and ranked (classification)."""
from __future__ import annotations

import numpy as np

__all__ = ['interpolated_ap', 'ranked_ap']


def interpolated_ap(tp: np.ndarray, num_positives: int) -> np.ndarray:
    """All-point interpolated AP (PASCAL VOC 2011 / ActivityNet), batched over rows.

    Precision and recall are taken after each prediction of the ranked list;
    the curve is padded with (recall 0, precision 0) in front and (recall 1,
    precision 0) behind, precision is made monotone from the right, and the
    area is summed over the points where recall changes.

    Args:
        tp: bool ``[T, N]`` true-positive flags of N predictions in ranked
            order (one row per tIoU threshold).
        num_positives: Ground-truth instances of the class (> 0).

    Returns:
        np.ndarray: float64 ``[T]`` AP in [0, 1]; zeros when N is 0.
    """
    tp = np.asarray(tp, dtype=bool)
    if tp.ndim == 1:
        tp = tp[None]
    n_t, n = tp.shape
    if num_positives <= 0:
        raise ValueError(f'num_positives must be > 0, got {num_positives}')
    if n == 0:
        return np.zeros(n_t)
    tp_cum = np.cumsum(tp, axis=1, dtype=np.float64)
    precision = tp_cum / np.arange(1, n + 1, dtype=np.float64)
    recall = tp_cum / float(num_positives)
    zeros = np.zeros((n_t, 1))
    mprec = np.hstack([zeros, precision, zeros])
    mrec = np.hstack([zeros, recall, np.ones((n_t, 1))])
    mprec = np.maximum.accumulate(mprec[:, ::-1], axis=1)[:, ::-1]
    step = mrec[:, 1:] - mrec[:, :-1]
    return np.where(step != 0, step * mprec[:, 1:], 0.0).sum(axis=1)


def ranked_ap(scores: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """Non-interpolated AP per column, ties in score treated as one threshold.

    ``AP = Σ_k (R_k − R_{k−1}) · P_k`` over the distinct score thresholds in
    descending order (the definition of scikit-learn's
    ``average_precision_score``), so the result does not depend on the order
    of tied items.

    Args:
        scores: ``[V, C]`` confidences (V items, C classes).
        targets: ``[V, C]`` binary relevance.

    Returns:
        np.ndarray: float64 ``[C]``; NaN for columns without any positive.
    """
    scores = np.asarray(scores, dtype=np.float64)
    targets = np.asarray(targets) > 0.5
    if scores.shape != targets.shape or scores.ndim != 2:
        raise ValueError(f'scores {scores.shape} and targets {targets.shape} must both be [V, C]')
    v, c = scores.shape
    out = np.full(c, np.nan)
    for j in range(c):
        npos = int(targets[:, j].sum())
        if npos == 0:
            continue
        order = np.argsort(-scores[:, j], kind='stable')
        s = scores[order, j]
        t = targets[order, j]
        tp_cum = np.cumsum(t, dtype=np.float64)
        last = np.r_[s[1:] != s[:-1], True]           # end of each tie block
        tp_at = tp_cum[last]
        n_at = np.flatnonzero(last) + 1.0
        recall = tp_at / npos
        precision = tp_at / n_at
        out[j] = float(np.sum(np.diff(np.r_[0.0, recall]) * precision))
    return out
