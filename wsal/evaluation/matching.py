"""Vectorized greedy matching of detections to ground truth (ActivityNet semantics).

Definition, per tIoU threshold ``θ``: predictions are visited in processing
order; each one takes the *unmatched* ground-truth instance of its group
(same video and class) with the highest tIoU, if that tIoU ≥ θ (a true
positive, and the instance becomes matched); otherwise it is a false positive.
Among unmatched instances with equal tIoU the one with the lowest index wins.

Only predictions of the same group depend on each other, and only those with
at least one ground truth at tIoU ≥ min(θ) ("candidates") can change any
state. So the algorithm

1. computes tIoU for every (prediction, ground truth of its group) pair, in
   chunks (an overlap window found by binary search skips instances that
   cannot reach min(θ) > 0), and keeps the pairs with tIoU ≥ min(θ);
2. splits each group into runs of transitively overlapping intervals
   (predictions of different runs never compete for the same instance) and
   ranks each candidate among the candidates of its run (k = 0, 1, ...);
3. for k = 0 .. K-1 resolves the k-th candidate of *every* run and *every*
   threshold in one array step (segmented max / first-index reductions over
   the pairs), updating a ``[n_tiou, n_gt]`` matched mask.

The Python loop runs K = (largest number of candidates in one run) times,
not once per prediction; each step costs O(n_tiou × pairs of that step).
"""
from __future__ import annotations

import numpy as np

from .tiou import paired_tiou

__all__ = ['greedy_match', 'score_order']

_PAIR_CHUNK = 1 << 22  # pairs per tIoU chunk: bounds memory for huge groups


def _ranges_to_index(starts: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Concatenate ``arange(s, s + c)`` for every (s, c), without a Python loop."""
    total = int(counts.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    offsets = np.cumsum(counts) - counts  # where each range begins in the output
    rep = np.repeat(np.arange(counts.shape[0]), counts)
    return starts[rep] + (np.arange(total, dtype=np.int64) - offsets[rep])


def _lookup(keys: np.ndarray, queries: np.ndarray) -> np.ndarray:
    """Index of each query in the sorted unique ``keys``, or -1 (a table when ids are small)."""
    out = np.full(queries.shape[0], -1, dtype=np.int64)
    if keys.shape[0] == 0:
        return out
    lo, hi = int(keys[0]), int(keys[-1])
    if lo >= 0 and hi < (1 << 22):
        table = np.full(hi + 1, -1, dtype=np.int64)
        table[keys] = np.arange(keys.shape[0])
        ok = (queries >= 0) & (queries <= hi)
        out[ok] = table[queries[ok]]
        return out
    pos = np.clip(np.searchsorted(keys, queries), 0, keys.shape[0] - 1)
    hit = keys[pos] == queries
    out[hit] = pos[hit]
    return out


def _overlap_window(uniq_start: np.ndarray, g_rank: np.ndarray, g_seg: np.ndarray,
                    p_rank: np.ndarray, p_seg: np.ndarray, lo: np.ndarray, hi: np.ndarray):
    """Narrow each prediction's ground-truth range to a window holding every overlap.

    Ground truth is sorted by (group, start). With one float key per group
    (``rank(group) * span + time``) a prediction ``[s, e]`` can only overlap
    instances with ``start < e`` and ``max(end of earlier instances) > s``;
    two searchsorted calls find that window. Rounding only widens it (margin),
    the exact tIoU test comes after, and the window is clipped to the group.
    Only predictions of groups with ground truth (``p_rank >= 0``) are searched.
    """
    idx = np.flatnonzero(p_rank >= 0)
    if idx.shape[0] == 0:
        return lo, hi
    ps = p_seg[idx]
    t0 = min(g_seg.min(), ps.min())
    span = max(g_seg.max(), ps.max()) - t0 + 1.0
    g_off = g_rank.astype(np.float64) * span
    key_start = g_off + (g_seg[:, 0] - t0)
    key_end_max = np.maximum.accumulate(g_off + (g_seg[:, 1] - t0))
    p_off = p_rank[idx].astype(np.float64) * span
    margin = 4.0 * np.spacing(span * (uniq_start.shape[0] + 1))
    w_hi = np.searchsorted(key_start, p_off + (ps[:, 1] - t0) + margin, side='left')
    w_lo = np.searchsorted(key_end_max, p_off + (ps[:, 0] - t0) - margin, side='right')
    lo, hi = lo.copy(), hi.copy()
    lo[idx] = np.maximum(lo[idx], w_lo)
    hi[idx] = np.minimum(hi[idx], w_hi)
    return lo, hi


def _overlap_components(c_group: np.ndarray, c_seg: np.ndarray, g_group: np.ndarray,
                        g_seg: np.ndarray) -> np.ndarray:
    """Component id of each candidate prediction: connected runs of overlapping intervals.

    Within a group, candidate predictions and ground truth are merged into
    maximal runs of (transitively) overlapping intervals. A prediction only
    competes for instances it overlaps, so predictions of different runs never
    influence each other and can be resolved in the same array step. Touching
    intervals and rounding (margin) only merge runs, which is always safe.
    """
    grp = np.concatenate([c_group, g_group])
    seg = np.concatenate([c_seg, g_seg])
    uniq, rank = np.unique(grp, return_inverse=True)
    t0 = seg.min()
    span = seg.max() - t0 + 1.0
    off = rank.astype(np.float64) * span
    key_s = off + (seg[:, 0] - t0)
    key_e = off + (seg[:, 1] - t0)
    order = np.lexsort((key_s, rank))
    ks = key_s[order]
    reach = np.maximum.accumulate(key_e[order])
    margin = 4.0 * np.spacing(span * (uniq.shape[0] + 1))
    new_run = np.r_[True, ks[1:] > reach[:-1] + margin]
    comp = np.empty(grp.shape[0], dtype=np.int64)
    comp[order] = np.cumsum(new_run) - 1
    return comp[:c_group.shape[0]]


def score_order(pred_class: np.ndarray, pred_scores: np.ndarray, num_classes: int) -> np.ndarray:
    """The evaluator's ranking: class ascending, score descending, input order on ties.

    Args:
        pred_class: ``[N]`` int class index in ``0..C-1``.
        pred_scores: ``[N]`` float scores.
        num_classes: C.

    Returns:
        np.ndarray: int64 ``[N]`` permutation (stable sorts, so equal scores keep input order).
    """
    order = np.argsort(-np.asarray(pred_scores), kind='stable')
    cls_dtype = np.int16 if num_classes < (1 << 15) else np.int64  # radix sort when small
    return order[np.argsort(np.asarray(pred_class)[order].astype(cls_dtype), kind='stable')]


def greedy_match(pred_group: np.ndarray, pred_segments: np.ndarray,
                 gt_group: np.ndarray, gt_segments: np.ndarray,
                 thresholds: np.ndarray) -> np.ndarray:
    """True-positive flags of the greedy matching, for every threshold.

    Args:
        pred_group: ``[N]`` int64 group id of each prediction (video × class);
            ids without ground truth (e.g. -1) make false positives. Within a
            group, array order is the processing order (descending score).
        pred_segments: ``[N, 2]`` float64.
        gt_group: ``[M]`` int64 group id of each ground-truth instance.
        gt_segments: ``[M, 2]`` float64.
        thresholds: ``[T]`` tIoU thresholds in [0, 1].

    Returns:
        np.ndarray: bool ``[T, N]``, True where the prediction is a true positive.
    """
    thresholds = np.asarray(thresholds, dtype=np.float64).reshape(-1)
    n_t, n = thresholds.shape[0], pred_group.shape[0]
    tp = np.zeros((n_t, n), dtype=bool)
    if n == 0 or gt_group.shape[0] == 0:
        return tp
    t_min = thresholds.min()

    # ground truth sorted by (group, start); ``gorder`` maps back to the input index
    # (the tie-break order among equal tIoUs)
    gorder = np.lexsort((gt_segments[:, 0], gt_group))
    g_sorted = gt_group[gorder]
    g_seg = gt_segments[gorder]
    uniq, u_start, g_rank, u_count = np.unique(g_sorted, return_index=True,
                                               return_inverse=True, return_counts=True)
    p_rank = _lookup(uniq, pred_group)
    in_gt = p_rank >= 0
    lo = np.where(in_gt, u_start[p_rank], 0)
    hi = np.where(in_gt, lo + u_count[p_rank], 0)
    if t_min > 0.0:
        lo, hi = _overlap_window(u_start, g_rank.reshape(-1), g_seg, p_rank, pred_segments,
                                 lo, hi)
    counts = np.maximum(hi - lo, 0)

    # 1. candidate pairs (prediction, ground truth) with tIoU >= min threshold, chunked
    pair_pred, pair_gt, pair_iou = [], [], []
    has = np.flatnonzero(counts > 0)
    csum = np.cumsum(counts[has])
    start = 0
    while start < has.shape[0]:
        base = csum[start - 1] if start else 0
        stop = max(int(np.searchsorted(csum, base + _PAIR_CHUNK, side='right')), start + 1)
        idx = has[start:stop]
        p = np.repeat(idx, counts[idx])
        g = _ranges_to_index(lo[idx], counts[idx])
        iou = paired_tiou(pred_segments[p], g_seg[g])
        keep = iou >= t_min
        pair_pred.append(p[keep])
        pair_gt.append(gorder[g[keep]])
        pair_iou.append(iou[keep])
        start = stop
    pair_pred = np.concatenate(pair_pred) if pair_pred else np.zeros(0, np.int64)
    if pair_pred.shape[0] == 0:
        return tp
    pair_gt = np.concatenate(pair_gt)
    pair_iou = np.concatenate(pair_iou)

    # pairs are sorted by prediction; one run of pairs per candidate prediction
    first = np.flatnonzero(np.r_[True, pair_pred[1:] != pair_pred[:-1]])
    cand = pair_pred[first]                        # candidate predictions, ascending
    cand_npairs = np.diff(np.r_[first, pair_pred.shape[0]])

    # 2. rank of each candidate within its chain (array order = processing order).
    #    A chain is a group, or with t_min > 0 the finer overlap component.
    cgroup = pred_group[cand]
    if t_min > 0.0:
        cgroup = _overlap_components(cgroup, pred_segments[cand], g_sorted, g_seg)
    corder = np.argsort(cgroup, kind='stable')
    gs = cgroup[corder]
    new_group = np.r_[True, gs[1:] != gs[:-1]]
    group_start = np.maximum.accumulate(np.where(new_group, np.arange(gs.shape[0]), 0))
    rank = np.empty_like(corder)
    rank[corder] = np.arange(gs.shape[0]) - group_start

    # candidates ordered by (rank, prediction); their pairs laid out in that order
    step_order = np.argsort(rank, kind='stable')
    step_rank = rank[step_order]
    pair_idx = _ranges_to_index(first[step_order], cand_npairs[step_order])
    s_pred = cand[step_order]
    s_npairs = cand_npairs[step_order]
    p_gt = pair_gt[pair_idx]
    p_iou = pair_iou[pair_idx]
    n_steps = int(step_rank[-1]) + 1
    cand_bounds = np.searchsorted(step_rank, np.arange(n_steps + 1))
    pair_offsets = np.r_[0, np.cumsum(s_npairs)]

    # 3. one array step per rank
    n_gt = gt_group.shape[0]
    matched = np.zeros((n_t, n_gt), dtype=bool)
    qualifies = p_iou[None, :] >= thresholds[:, None]              # [T, P]
    for k in range(n_steps):
        c0, c1 = cand_bounds[k], cand_bounds[k + 1]
        a, b = pair_offsets[c0], pair_offsets[c1]
        gk = p_gt[a:b]
        avail = qualifies[:, a:b] & ~matched[:, gk]                # [T, P_k]
        if b - a == c1 - c0:  # one pair per candidate: no segmented reduction needed
            ti, ci = np.nonzero(avail)
            matched[ti, gk[ci]] = True
            tp[ti, s_pred[c0 + ci]] = True
            continue
        seg_starts = pair_offsets[c0:c1] - a
        val = np.where(avail, p_iou[a:b], -1.0)
        best = np.maximum.reduceat(val, seg_starts, axis=1)       # [T, C_k]
        hit = best >= 0.0
        is_best = avail & (val == np.repeat(best, s_npairs[c0:c1], axis=1))
        chosen = np.minimum.reduceat(np.where(is_best, gk, n_gt), seg_starts, axis=1)
        ti, ci = np.nonzero(hit)                                  # lowest gt index on ties
        matched[ti, chosen[ti, ci]] = True
        tp[ti, s_pred[c0 + ci]] = True
    return tp
