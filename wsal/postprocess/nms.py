"""Greedy temporal NMS and soft-NMS on tensors of any device, exact and vectorized.

Both follow the IoU convention of :mod:`wsal.postprocess.iou` (suppress when
``IoU > threshold``, exact fraction test) and order boxes by score, highest
first, equal scores by lower index first (a stable sort).

On the CPU, greedy NMS runs the exact blocked algorithm of
:mod:`wsal.postprocess.greedy_blocks` in numpy (fast on every proposal
distribution, and single-threaded, so unaffected by a busy machine). On
other devices it is computed without a Python loop over boxes. Let ``i -> j`` be an
edge when ``i`` comes before ``j`` in that order, both have the same label and
``IoU(i, j) > threshold``. Greedy NMS keeps ``j`` exactly when no kept ``i``
has an edge to ``j``; since edges only point forward, that rule has a unique
solution, which every box reaches by a batched fixed-point iteration:

1. boxes with no live incoming edge are kept;
2. boxes that a kept box points to are suppressed;
3. edges leaving suppressed boxes or entering decided boxes are dropped.

Each round decides at least the first undecided box, and on real proposal sets
a handful of rounds decide all of them. Edges are found without forming the
``N x N`` matrix for large inputs: boxes are sorted by (label, start) and each
box is paired only with the boxes of its label that start inside it (the only
ones it can overlap), found with ``searchsorted``. Memory and time are linear
in the number of overlapping pairs.
"""
from __future__ import annotations

from typing import Optional, Tuple

import numpy as np
import torch
from torch import Tensor, nn

from ..registry import POSTPROCESSORS
from ..utils.ranges import check_number
from .greedy_blocks import greedy_keep_sorted
from .iou import intersection_union, iou_exceeds, threshold_fraction
from .proposals import Proposals

__all__ = ['temporal_nms', 'soft_nms', 'shared_proposal_nms', 'classwise_nms', 'TemporalNMS',
           'SoftNMS']

#: Inputs up to this size use the dense ``N x N`` overlap matrix.
DENSE_LIMIT = 256

#: Soft-NMS on the CPU: overlap runs with more boxes go through the numpy loop,
#: smaller ones are batched (a Python loop per small run costs more than it saves).
SMALL_RUN = 16


def _check_inputs(segments: Tensor, scores: Tensor, labels: Optional[Tensor]) -> None:
    if segments.dim() != 2 or segments.shape[-1] != 2:
        raise ValueError(f'segments must have shape [N, 2], got {tuple(segments.shape)}')
    if scores.dim() != 1 or scores.shape[0] != segments.shape[0]:
        raise ValueError(f'scores must have shape [N] with N={segments.shape[0]}, '
                         f'got {tuple(scores.shape)}')
    if labels is not None and (labels.dim() != 1 or labels.shape[0] != segments.shape[0]):
        raise ValueError(f'labels must have shape [N] with N={segments.shape[0]}, '
                         f'got {tuple(labels.shape)}')
    if labels is not None and (labels.is_floating_point() or labels.is_complex()):
        raise TypeError(f'labels must be an integer tensor, got {labels.dtype}')


def _priority_order(scores: Tensor) -> Tensor:
    """Indices by decreasing score, equal scores by lower index first."""
    return torch.sort(scores, descending=True, stable=True).indices


def _dense_keep(seg: Tensor, lab: Optional[Tensor], threshold: float) -> Tensor:
    """Greedy keep mask of boxes already in priority order (small N)."""
    n = seg.shape[0]
    inter, union = intersection_union(seg[:, None, 0], seg[:, None, 1],
                                      seg[None, :, 0], seg[None, :, 1])
    edges = iou_exceeds(inter, union, threshold)
    if lab is not None:
        edges &= lab[:, None] == lab[None, :]
    edges = torch.triu(edges, diagonal=1)
    keep = torch.ones(n, dtype=torch.bool, device=seg.device)
    while True:  # converges in at most n rounds (box k is final after round k)
        new = ~(edges & keep[:, None]).any(0)
        if torch.equal(new, keep):
            return keep
        keep = new


def _overlap_candidates(start: Tensor, end: Tensor, group: Tensor) -> Tuple[Tensor, Tensor, Tensor]:
    """Pairs (a, b) of the same group where b starts inside a (a before b by start).

    Returns the sort permutation and the pairs as positions in sorted order.
    """
    n = start.shape[0]
    device = start.device
    if n == 0:
        empty = torch.zeros(0, dtype=torch.long, device=device)
        return empty, empty, empty
    # rank starts and ends together: order-preserving integers, exact for any dtype
    if start.is_floating_point() or end.is_floating_point():
        values, inverse = torch.unique(torch.cat([start, end]), sorted=True, return_inverse=True)
        r_start, r_end = inverse[:n], inverse[n:]
        width = values.shape[0] + 1
    else:  # integers are their own ranks
        low = torch.minimum(start.min(), end.min())
        r_start, r_end = (start - low).long(), (end - low).long()
        width = int(torch.maximum(r_start.max(), r_end.max())) + 2
    g = group.to(torch.int64)
    g = g - g.min()
    key = g * width + r_start
    key_sorted, perm = torch.sort(key, stable=True)
    query = (g * width + r_end).index_select(0, perm)
    hi = torch.searchsorted(key_sorted, query, side='left')
    pos = torch.arange(n, device=device)
    count = (hi - pos - 1).clamp_(min=0)
    total = int(count.sum())
    src = torch.repeat_interleave(pos, count, output_size=total)
    first = torch.cumsum(count, 0) - count
    dst = torch.arange(total, device=device) - first.index_select(0, src) + src + 1
    return perm, src, dst


def _resolve_greedy(n: int, src: Tensor, dst: Tensor, device) -> Tensor:
    """Greedy keep mask from forward edges ``src -> dst`` (src has priority)."""
    undecided, kept = 0, 1
    keep = torch.ones(n, dtype=torch.bool, device=device)
    if src.numel() == 0:
        return keep
    # boxes without edges are kept: iterate over the boxes that have edges only
    involved = torch.zeros(n, dtype=torch.bool, device=device)
    involved[src] = True
    involved[dst] = True
    nodes = torch.nonzero(involved, as_tuple=True)[0]
    m = nodes.shape[0]
    compact = torch.cumsum(involved, 0) - 1
    src, dst = compact.index_select(0, src), compact.index_select(0, dst)
    state = torch.zeros(m, dtype=torch.int8, device=device)
    while True:
        indeg = torch.bincount(dst, minlength=m)
        newly = (state == undecided) & (indeg == 0)
        state[newly] = kept
        hit = newly.index_select(0, src)
        state[dst[hit]] = 2  # suppressed
        live = ((state.index_select(0, src) == undecided)
                & (state.index_select(0, dst) == undecided))
        src, dst = src[live], dst[live]
        if not bool((state == undecided).any()):
            keep[nodes] = state == kept
            return keep


def _first_copies(seg: Tensor, group: Tensor, order: Tensor) -> Tensor:
    """Mask of the highest-priority box among identical (group, start, end) boxes."""
    idx = order  # priority order; the stable sorts below keep it within equal keys
    for key in (seg[:, 1], seg[:, 0], group):
        idx = idx[torch.sort(key[idx], stable=True).indices]
    s, e, g = seg[idx, 0], seg[idx, 1], group[idx]
    new = torch.ones_like(idx, dtype=torch.bool)
    new[1:] = (s[1:] != s[:-1]) | (e[1:] != e[:-1]) | (g[1:] != g[:-1])
    first = torch.zeros_like(new)
    first[idx] = new
    return first | (seg[:, 1] <= seg[:, 0])  # empty boxes (IoU 0 with anything) all stay


def _sparse_keep(seg: Tensor, rank: Tensor, group: Tensor, threshold: float,
                 order: Tensor) -> Tensor:
    """Greedy keep mask (indexed like ``seg``); ``rank`` is each box's priority.

    With ``threshold < 1`` a copy of a non-empty box (same group and segment)
    is always suppressed, by that box or by whatever suppressed it, and never
    decides anything: only the first copy of each segment enters the greedy pass.
    """
    n = seg.shape[0]
    if threshold >= 1:
        return torch.ones(n, dtype=torch.bool, device=seg.device)
    first = torch.nonzero(_first_copies(seg, group, order), as_tuple=True)[0]
    keep = torch.zeros(n, dtype=torch.bool, device=seg.device)
    keep[first] = _sparse_keep_distinct(seg[first], rank[first], group[first], threshold)
    return keep


def _sparse_keep_distinct(seg: Tensor, rank: Tensor, group: Tensor, threshold: float) -> Tensor:
    n = seg.shape[0]
    perm, a, b = _overlap_candidates(seg[:, 0], seg[:, 1], group)
    a, b = perm[a], perm[b]
    inter, union = intersection_union(seg[a, 0], seg[a, 1], seg[b, 0], seg[b, 1])
    hit = iou_exceeds(inter, union, threshold)
    a, b = a[hit], b[hit]
    first_a = rank[a] < rank[b]
    src = torch.where(first_a, a, b)
    dst = torch.where(first_a, b, a)
    return _resolve_greedy(n, src, dst, seg.device)


def _priority_order_numpy(scores: Tensor) -> np.ndarray:
    """:func:`_priority_order` computed in numpy (CPU tensors)."""
    values = scores.detach().numpy()
    if values.dtype.kind == 'f':
        return np.argsort(-values, kind='stable')
    if values.dtype.kind == 'b':
        return np.argsort(~values, kind='stable')
    if values.dtype.kind in 'iu' and values.size and abs(int(values.min())) < 2 ** 62:
        return np.argsort(-values.astype(np.int64), kind='stable')
    return _priority_order(scores).numpy()


def _blocks_nms(segments: Tensor, scores: Tensor, iou_threshold: float,
                labels: Optional[Tensor]) -> Tensor:
    if segments.device.type != 'cpu':
        raise ValueError(f"method='blocks' runs on the CPU, got segments on {segments.device}")
    order = _priority_order_numpy(scores)
    num, den = threshold_fraction(iou_threshold)
    if num >= den:  # IoU > 1 never holds
        return torch.from_numpy(order)
    seg = segments.detach()
    seg = seg.to(torch.float64 if seg.is_floating_point() else torch.int64).numpy()
    if labels is None:
        group = np.zeros(seg.shape[0], dtype=np.int64)
    else:
        group = labels.detach().to(torch.int64).numpy()[order]
    keep = greedy_keep_sorted(seg[order, 0], seg[order, 1], group, num, den)
    return torch.from_numpy(order[keep])


def temporal_nms(segments: Tensor, scores: Tensor, iou_threshold: float = 0.5,
                 labels: Optional[Tensor] = None, *, method: str = 'auto') -> Tensor:
    """Greedy temporal non-maximum suppression, exact and loop-free over boxes.

    Identical to the textbook loop: visit boxes by decreasing score (equal
    scores: lower index first), keep a box unless a kept box of the same label
    overlaps it with ``IoU > iou_threshold`` (see :mod:`wsal.postprocess.iou`).

    Args:
        segments: ``[N, 2]`` ``(start, end)``, integer (exact) or floating
            (compared in float64), any device; ``end >= start``.
        scores: ``[N]`` scores (no NaN).
        iou_threshold: Suppress when IoU is strictly above it, in ``[0, 1]``.
        labels: Optional ``[N]`` integer labels: boxes only suppress boxes of
            the same label (class-wise NMS; pass a ``video * C + class`` id to
            run many videos and classes in one call).
        method: ``'auto'`` (CPU: ``'blocks'``; other devices: dense matrix
            up to :data:`DENSE_LIMIT` boxes, sparse pairs above),
            ``'blocks'`` (CPU only, see :mod:`wsal.postprocess.greedy_blocks`),
            ``'dense'`` or ``'sparse'``; same result.

    Worst case: ``'blocks'`` costs ``O(N log N + 64 N + sum over kept boxes of
    their window)`` where a kept box's window holds the same-label boxes
    starting within ``(1 - t) / t`` of its length before it or ``1 - t`` of
    its length after it: at most ``O(N K)`` for ``K`` kept boxes, the cost of
    the textbook loop, in a few vectorized calls per 64 decided boxes.
    ``'sparse'`` costs ``O(N log N + P)`` per round for ``P`` overlapping
    pairs and needs as many rounds as the longest chain of suppressions (at
    most ``N``); ``'dense'`` costs ``O(N^2)`` per round.

    Returns:
        LongTensor: ``[K]`` indices of kept boxes, by decreasing score (equal
        scores by lower index), on the input device.

    Example:
        >>> seg = torch.tensor([[0, 10], [1, 10], [20, 30]])
        >>> temporal_nms(seg, torch.tensor([0.9, 0.8, 0.7]), 0.5)
        tensor([0, 2])
    """
    _check_inputs(segments, scores, labels)
    threshold_fraction(iou_threshold)  # validates
    if method not in ('auto', 'blocks', 'dense', 'sparse'):
        raise ValueError(f"method must be 'auto', 'blocks', 'dense' or 'sparse', got {method!r}")
    n = segments.shape[0]
    if n == 0:
        return torch.zeros(0, dtype=torch.long, device=segments.device)
    if method == 'auto' and segments.device.type == 'cpu':
        method = 'blocks'
    if method == 'blocks':
        return _blocks_nms(segments, scores, iou_threshold, labels)
    order = _priority_order(scores)
    if method == 'dense' or (method == 'auto' and n <= DENSE_LIMIT):
        lab = labels[order] if labels is not None else None
        keep = _dense_keep(segments[order], lab, iou_threshold)
        return order[keep]
    rank = torch.empty_like(order)
    rank[order] = torch.arange(n, device=order.device)
    group = labels if labels is not None else torch.zeros(n, dtype=torch.long,
                                                          device=segments.device)
    keep = _sparse_keep(segments, rank, group, iou_threshold, order)
    return order[keep[order]]


def overlap_runs(segments: Tensor, labels: Tensor) -> Tensor:
    """Split each label's boxes into runs that no box of another run overlaps.

    Within a label, boxes sorted by start form one run until a box starts at
    or after the largest end so far; two boxes of different runs (or labels)
    have no overlap of positive length. Exact: starts and ends are compared
    through their ranks among all the values, never shifted or rounded.

    Args:
        segments: ``[N, 2]`` segments (``start <= end``).
        labels: ``[N]`` integer labels.

    Returns:
        LongTensor: ``[N]`` run ids, equal only within a label; runs of a
        label are numbered by start.
    """
    n = segments.shape[0]
    if n == 0:
        return labels.to(torch.int64)
    values, ranks = torch.unique(segments.reshape(-1), return_inverse=True)
    ranks = ranks.reshape(n, 2).to(torch.int64)
    label_ids = torch.unique(labels.to(torch.int64), return_inverse=True)[1]
    width = values.shape[0] + 1
    start = label_ids * width + ranks[:, 0]
    end = label_ids * width + ranks[:, 1]
    order = torch.sort(start, stable=True).indices
    reach = torch.cummax(end[order], dim=0).values  # ends of a label stay below the next's starts
    new_run = torch.ones(n, dtype=torch.bool, device=segments.device)
    new_run[1:] = start[order][1:] >= reach[:-1]
    run = torch.empty(n, dtype=torch.long, device=segments.device)
    run[order] = torch.cumsum(new_run.to(torch.int64), 0) - 1
    return run


def _first_picks(scores: Tensor, labels: Tensor) -> Tensor:
    """``[N]`` mask of each label's first pick: its highest score, lowest index on ties."""
    n = scores.shape[0]
    label_ids = torch.unique(labels, return_inverse=True)[1]
    values = scores.double()
    best = torch.full((int(label_ids.max()) + 1,), float('-inf'), dtype=torch.float64,
                      device=scores.device).scatter_reduce(0, label_ids, values, 'amax')
    index = torch.arange(n, device=scores.device)
    candidate = torch.where(values == best[label_ids], index, torch.full_like(index, n))
    first = torch.full_like(best, n, dtype=torch.long).scatter_reduce(0, label_ids, candidate,
                                                                      'amin')
    return index == first[label_ids]


def soft_nms(segments: Tensor, scores: Tensor, *, method: str = 'gaussian', sigma: float = 0.5,
             iou_threshold: float = 0.5, score_threshold: Optional[float] = None,
             labels: Optional[Tensor] = None, backend: str = 'auto') -> Tuple[Tensor, Tensor]:
    """Soft-NMS (Bodla et al., ICCV 2017) for temporal segments, batched over labels.

    Per label: repeatedly pick the box with the highest current score (equal
    scores: lower index first), then decay every box not yet picked by the
    picked box's overlap ``o`` (continuous IoU of :mod:`wsal.postprocess.iou`)
    with the weight ``w``::

        gaussian: w = exp(-o * o / sigma)
        linear:   w = 1 - o   if o > iou_threshold (exact test) else 1
        s <- s * w   if s >= 0,   s * (2 - w)   if s < 0

    The decay lowers a score by the fraction ``1 - w`` of its magnitude, so a
    negative score (e.g. an outer-inner contrast below its surroundings) is
    pushed down as well; a plain product would raise it towards 0. For
    non-negative scores this is Bodla et al.'s multiplicative decay.

    Boxes whose decayed score falls below ``score_threshold`` are dropped.
    A box only decays boxes it overlaps (``w = 1`` at ``o = 0``), so each
    label's boxes split into runs that overlap in a chain (sorted by start, a
    run ends where the next box starts at or after every earlier end); runs
    are independent, and the result is the same as over whole labels. On the
    CPU (``backend='numpy'``, the default there) each run of more than
    :data:`SMALL_RUN` boxes is processed in numpy over its boxes still alive,
    unaffected by other processes on the cores. The other runs (all of them
    with ``'batched'``, the default elsewhere) advance together, one round
    per pick rank, in batches of runs of similar size (sizes up to the same
    power of two), so that a few large runs do not pad every small one. Computed in
    float64; the two backends agree exactly except where ``exp`` rounds
    differently in the last bit (Gaussian decay).

    Args:
        segments: ``[N, 2]`` segments (any device).
        scores: ``[N]`` scores.
        method: ``'gaussian'`` or ``'linear'``.
        sigma: Gaussian width (Gaussian only).
        iou_threshold: Overlap above which the linear decay applies.
        score_threshold: Drop boxes whose score falls below it (None: keep all).
        labels: Optional ``[N]`` integer labels for class-wise soft-NMS.
        backend: ``'auto'`` (numpy on the CPU, batched elsewhere), ``'numpy'``
            or ``'batched'``.

    Returns:
        tuple[LongTensor, Tensor]: ``[K]`` kept indices and their decayed
        scores (dtype of ``scores``), by decreasing decayed score, equal
        scores by lower index.
    """
    _check_inputs(segments, scores, labels)
    if method not in ('gaussian', 'linear'):
        raise ValueError(f"soft-NMS method must be 'gaussian' or 'linear', got {method!r}")
    if method == 'gaussian' and not sigma > 0:
        raise ValueError(f'soft-NMS sigma must be positive, got {sigma!r}')
    threshold_fraction(iou_threshold)
    if backend not in ('auto', 'numpy', 'batched'):
        raise ValueError(f"soft-NMS backend must be 'auto', 'numpy' or 'batched', got {backend!r}")
    device, n = segments.device, segments.shape[0]
    if backend == 'numpy' and device.type != 'cpu':
        raise ValueError(f"soft-NMS backend='numpy' runs on the CPU, got segments on {device}")
    if n == 0:
        return (torch.zeros(0, dtype=torch.long, device=device), scores.new_zeros(0))
    group = labels.to(torch.int64) if labels is not None else torch.zeros(
        n, dtype=torch.long, device=device)
    chosen = None
    if score_threshold is not None:
        # A box starting below the threshold is dropped at its label's first pick
        # unless it is that pick (the label's best, lowest index on ties).
        chosen = torch.nonzero((scores.double() >= score_threshold)
                               | _first_picks(scores, group), as_tuple=True)[0]
        segments, scores, group = segments[chosen], scores[chosen], group[chosen]
        n = chosen.shape[0]
    group = overlap_runs(segments, group)
    if backend == 'auto':
        backend = 'numpy' if device.type == 'cpu' else 'batched'
    args = (method, sigma, iou_threshold, score_threshold)
    size = torch.bincount(group)[group]  # boxes in each box's run
    batched = torch.ones(n, dtype=torch.bool, device=device)
    parts = []
    if backend == 'numpy':
        large = size > SMALL_RUN
        members = torch.nonzero(large, as_tuple=True)[0]
        if members.numel():
            keep, new = _soft_runs_numpy(segments[members], scores[members], group[members],
                                         *args)
            parts.append((members[keep], new))
        batched = ~large
    # the rest side by side, runs of similar size together (each batch pads to its largest)
    bucket = torch.ceil(torch.log2(size.double())).long()
    for b in torch.unique(bucket[batched]).tolist():
        members = torch.nonzero(batched & (bucket == b), as_tuple=True)[0]
        keep, new = _soft_runs_batched(segments[members], scores[members], group[members],
                                       *args)
        parts.append((members[keep], new))
    keep = torch.cat([k for k, _ in parts])
    if chosen is not None:
        keep = chosen[keep]
    keep, new_scores = by_decreasing_score(keep, torch.cat([v.to(device) for _, v in parts]))
    return keep, new_scores.to(scores.dtype)


def by_decreasing_score(keep: Tensor, scores: Tensor) -> Tuple[Tensor, Tensor]:
    """Kept indices and their scores by decreasing score, equal scores by lower index.

    Args:
        keep: ``[K]`` kept indices, in any order.
        scores: ``[K]`` their scores.

    Returns:
        tuple[LongTensor, Tensor]: both reordered.
    """
    order = torch.sort(keep, stable=True).indices
    keep, scores = keep[order], scores[order]
    order = torch.sort(scores, descending=True, stable=True).indices
    return keep[order], scores[order]


def _soft_runs_batched(segments: Tensor, scores: Tensor, group: Tensor, method: str,
                       sigma: float, iou_threshold: float, score_threshold: Optional[float]
                       ) -> Tuple[Tensor, Tensor]:
    """Soft-NMS of every group side by side: one round per pick rank, any device."""
    device, n = segments.device, segments.shape[0]
    by_group = torch.sort(group, stable=True).indices
    _, counts = torch.unique_consecutive(group[by_group], return_counts=True)
    n_groups = counts.shape[0]
    width = int(counts.max())
    row = torch.repeat_interleave(torch.arange(n_groups, device=device), counts)
    col = torch.arange(n, device=device) - (torch.cumsum(counts, 0) - counts)[row]
    slot = torch.full((n_groups, width), -1, dtype=torch.long, device=device)
    slot[row, col] = by_group
    valid = slot >= 0
    idx = slot.clamp(min=0)
    seg = segments[idx]  # [G, W, 2]
    cur = torch.where(valid, scores[idx].double(), torch.zeros((), dtype=torch.float64,
                                                                  device=device))
    alive = valid.clone()
    picked_score = torch.zeros(n_groups, width, dtype=torch.float64, device=device)
    picked = torch.zeros(n_groups, width, dtype=torch.bool, device=device)
    rows = torch.arange(n_groups, device=device)
    neg_inf = torch.tensor(float('-inf'), dtype=torch.float64, device=device)
    for step in range(width):
        masked = torch.where(alive, cur, neg_inf)
        best = masked.argmax(dim=1)  # first maximum: lower index on ties
        has = alive[rows, best]
        picked[rows, best] |= has
        picked_score[rows, best] = torch.where(has, cur[rows, best], picked_score[rows, best])
        alive[rows, best] = False
        bseg = seg[rows, best]  # [G, 2]
        inter, union = intersection_union(bseg[:, None, 0], bseg[:, None, 1],
                                          seg[..., 0], seg[..., 1])
        overlap = torch.where(union > 0, inter.double() / union.double().clamp(min=1e-300),
                              torch.zeros((), dtype=torch.float64, device=device))
        if method == 'gaussian':
            weight = torch.exp(-(overlap * overlap) / sigma)
        else:
            weight = torch.where(iou_exceeds(inter, union, iou_threshold), 1.0 - overlap,
                                 torch.ones((), dtype=torch.float64, device=device))
        decay = alive & has[:, None]
        decayed = torch.where(cur >= 0, cur * weight, cur * (2.0 - weight))
        cur = torch.where(decay, decayed, cur)
        if score_threshold is not None:
            alive &= ~(decay & (cur < score_threshold))
        if step % 32 == 31 and not bool(alive.any()):
            break
    keep = slot[picked]
    return keep, picked_score[picked]


def _soft_runs_numpy(segments: Tensor, scores: Tensor, group: Tensor, method: str,
                     sigma: float, iou_threshold: float, score_threshold: Optional[float]
                     ) -> Tuple[Tensor, Tensor]:
    """Soft-NMS group by group in numpy on the CPU (unaffected by a busy machine).

    Each pick works on the group's boxes still alive, kept packed in index
    order, so a group of ``m`` boxes costs about ``m * m / 2`` element
    operations. Meant for groups of more than :data:`SMALL_RUN` boxes.
    """
    seg = segments.detach()
    seg = seg.to(torch.float64 if seg.is_floating_point() else torch.int64).numpy()
    values = scores.detach().to(torch.float64).numpy()
    runs = group.detach().numpy()
    by_run = np.argsort(runs, kind='stable')
    bounds = np.flatnonzero(np.diff(runs[by_run])) + 1
    keep_parts, score_parts = [], []
    for members in np.split(by_run, bounds):
        idx, lo, hi = members, seg[members, 0], seg[members, 1]
        cur = values[members].copy()
        picks = np.empty(members.size, dtype=np.int64)
        picked = np.empty(members.size, dtype=np.float64)
        count = 0
        while idx.size:
            best = int(np.argmax(cur))  # first maximum: lower index on ties
            picks[count], picked[count] = idx[best], cur[best]
            count += 1
            rest = np.ones(idx.size, dtype=bool)
            rest[best] = False
            b_lo, b_hi = lo[best], hi[best]
            idx, lo, hi, cur = idx[rest], lo[rest], hi[rest], cur[rest]
            inter = np.maximum(np.minimum(b_hi, hi) - np.maximum(b_lo, lo), 0)
            union = (b_hi - b_lo) + (hi - lo) - inter
            overlap = np.divide(inter, union, out=np.zeros(inter.shape, dtype=np.float64),
                                where=union > 0, dtype=np.float64)
            if method == 'gaussian':
                weight = np.exp(-(overlap * overlap) / sigma)
            else:
                weight = np.where(iou_exceeds(inter, union, iou_threshold), 1.0 - overlap, 1.0)
            cur = np.where(cur >= 0, cur * weight, cur * (2.0 - weight))
            if score_threshold is not None:
                live = cur >= score_threshold
                if not live.all():
                    idx, lo, hi, cur = idx[live], lo[live], hi[live], cur[live]
        keep_parts.append(picks[:count])
        score_parts.append(picked[:count])
    keep = torch.from_numpy(np.concatenate(keep_parts)).to(segments.device)
    return keep, torch.from_numpy(np.concatenate(score_parts))


def shared_proposal_nms(proposals: Proposals, class_mask: Tensor, scores: Tensor,
                          iou_threshold: float) -> Tensor:
    """Greedy class-wise NMS of expanded class-agnostic proposals, overlaps found once per video.

    Args:
        proposals: Class-agnostic proposals (``video``, ``start``, ``end``
            inclusive), ordered by video.
        class_mask: ``BoolTensor[B, C]`` selected classes.
        scores: ``[P']`` scores of the expanded proposals, laid out as
            :func:`~wsal.postprocess.pipeline.expand_proposals` does (by
            video, selected class, proposal).
        iou_threshold: Suppress when ``IoU > iou_threshold``.


    Class-agnostic proposals are shared by every selected class of their
    video, so the pairs with ``IoU > threshold`` are found once on the
    proposals and replicated to each class with the class's score order.
    Same result as :func:`~wsal.postprocess.temporal_nms` with ``video * C +
    class`` labels on the expanded proposals.

    Returns:
        LongTensor: kept indices into the expanded proposals, ascending.
    """
    device = scores.device
    n_items = scores.shape[0]
    n_videos = class_mask.shape[0]
    start, stop = proposals.start, proposals.end + 1
    perm, a, b = _overlap_candidates(start, stop, proposals.video)
    a, b = perm.index_select(0, a), perm.index_select(0, b)
    inter, union = intersection_union(start.index_select(0, a), stop.index_select(0, a),
                                      start.index_select(0, b), stop.index_select(0, b))
    hit = iou_exceeds(inter, union, iou_threshold)
    a, b = a[hit], b[hit]
    # layout of expand_proposals: item = pair_first[pair] + (proposal - video_offset[video])
    counts = torch.bincount(proposals.video, minlength=n_videos)
    offsets = torch.cumsum(counts, 0) - counts
    pair_video = torch.nonzero(class_mask, as_tuple=True)[0]
    reps = counts[pair_video]
    pair_first = torch.cumsum(reps, 0) - reps
    pairs_per_video = class_mask.sum(dim=1)
    video_first_pair = torch.cumsum(pairs_per_video, 0) - pairs_per_video
    edge_video = proposals.video.index_select(0, a)
    mult = pairs_per_video.index_select(0, edge_video)
    total = int(mult.sum())
    edge = torch.repeat_interleave(torch.arange(a.shape[0], device=device), mult,
                                   output_size=total)
    edge_video = edge_video.index_select(0, edge)  # index_select: the fast CPU gather
    pair = (video_first_pair.index_select(0, edge_video) + torch.arange(total, device=device)
            - (torch.cumsum(mult, 0) - mult).index_select(0, edge))
    base = pair_first.index_select(0, pair) - offsets.index_select(0, edge_video)
    ia, ib = base + a.index_select(0, edge), base + b.index_select(0, edge)
    sa, sb = scores.index_select(0, ia), scores.index_select(0, ib)
    a_first = (sa > sb) | ((sa == sb) & (ia < ib))
    keep = _resolve_greedy(n_items, torch.where(a_first, ia, ib), torch.where(a_first, ib, ia),
                           device)
    return torch.nonzero(keep, as_tuple=True)[0]


def classwise_nms(nms, labelled, num_classes: int, scores: Tensor) -> Tuple[Tensor, Tensor]:
    """Run any ``nms(segments, scores, groups)`` per (video, class) of labelled proposals.

    Args:
        nms: ``nms(segments [N, 2], scores [N], labels [N]) -> (keep, scores)``.
        labelled: Labelled proposals (``video``, ``start``, ``end`` inclusive, ``label``).
        num_classes: ``C``.
        scores: ``[N]`` scores.

    Returns:
        tuple[LongTensor, Tensor]: kept indices and their scores, as ``nms`` returns them.
    """
    segments = torch.stack([labelled.start, labelled.end + 1], dim=1)
    groups = labelled.video * max(num_classes, 1) + labelled.label
    return nms(segments, scores, groups)


class _ClasswiseSelection:
    """``select_classwise``: the pipeline's NMS step on labelled proposals."""

    def select_classwise(self, proposals, labelled, class_mask: Tensor,
                         scores: Tensor) -> Tuple[Tensor, Tensor]:
        """Class-wise NMS per (video, class) of the pipeline's proposals.

        Args:
            proposals: The proposals as generated (class-agnostic or labelled).
            labelled: The same proposals expanded over the selected classes.
            class_mask: ``BoolTensor[B, C]`` selected classes.
            scores: ``[N]`` scores of ``labelled``.

        Returns:
            tuple[LongTensor, Tensor]: kept indices into ``labelled`` and their
            (possibly decayed) scores. The pipeline orders them by video and
            decreasing score, keeping this order among equal scores.
        """
        return classwise_nms(self, labelled, class_mask.shape[1], scores)


@POSTPROCESSORS.register_module()
class TemporalNMS(_ClasswiseSelection, nn.Module):
    """Class-wise greedy NMS (paper section 4.2: IoU threshold 0.5).

    Args:
        iou_threshold: Suppress when IoU is strictly above it.

    Call: ``nms(segments [N, 2], scores [N], labels [N] | None)`` ->
    ``(keep LongTensor[K], scores [K])``, by decreasing score.
    """

    #: The pipeline drops exact duplicate proposals first: with an IoU
    #: threshold under 1 that gives the same kept set, at less cost.
    drop_duplicates = True

    def __init__(self, *, iou_threshold: float = 0.5) -> None:
        super().__init__()
        self.iou_threshold = check_number(iou_threshold, owner=type(self).__name__,
                                          key='iou_threshold', low=0.0, high=1.0)
        self.drop_duplicates = self.iou_threshold < 1.0

    def select_classwise(self, proposals, labelled, class_mask: Tensor,
                         scores: Tensor) -> Tuple[Tensor, Tensor]:
        """See :meth:`_ClasswiseSelection.select_classwise`; class-agnostic proposals
        share their overlaps across classes (:func:`shared_proposal_nms`), and
        the kept indices come in ascending order."""
        if proposals.label is not None:
            return super().select_classwise(proposals, labelled, class_mask, scores)
        keep = shared_proposal_nms(proposals, class_mask, scores, self.iou_threshold)
        return keep, scores[keep]

    def forward(self, segments: Tensor, scores: Tensor,
                labels: Optional[Tensor] = None) -> Tuple[Tensor, Tensor]:
        keep = temporal_nms(segments, scores, self.iou_threshold, labels)
        return keep, scores[keep]

    def extra_repr(self) -> str:
        return f'iou_threshold={self.iou_threshold}'


@POSTPROCESSORS.register_module()
class SoftNMS(_ClasswiseSelection, nn.Module):
    """Class-wise soft-NMS (Gaussian or linear decay), see :func:`soft_nms`.

    Exact duplicates of a proposal (the same segment of the same video, e.g.
    from two thresholds that cut λ at the same frames) are one hypothesis, but
    soft-NMS keeps every copy: the second as a double detection at a decayed
    score, and each copy decays its neighbours once more. ``unique=True``
    lets the pipeline drop them before scoring, as it does for greedy NMS
    (where that changes nothing).

    Args:
        method: ``'gaussian'`` or ``'linear'``.
        sigma: Gaussian width.
        iou_threshold: Overlap above which the linear decay applies.
        score_threshold: Drop boxes whose decayed score falls below it.
        unique: Drop exact duplicate proposals first (in the pipeline).

    Call: ``nms(segments [N, 2], scores [N], labels [N] | None)`` ->
    ``(keep LongTensor[K], decayed scores [K])``, by decreasing decayed score.
    """

    def __init__(self, *, method: str = 'gaussian', sigma: float = 0.5,
                 iou_threshold: float = 0.5, score_threshold: Optional[float] = None,
                 unique: bool = False) -> None:
        super().__init__()
        owner = type(self).__name__
        if not isinstance(unique, bool):
            raise TypeError(f'{owner}: unique must be True or False, got {unique!r}')
        #: The pipeline drops exact duplicate proposals first when True.
        self.drop_duplicates = unique
        if method not in ('gaussian', 'linear'):
            raise ValueError(f"{owner}: method must be 'gaussian' or 'linear', got {method!r}")
        self.method = method
        self.sigma = check_number(sigma, owner=owner, key='sigma', low=0.0, open_low=True)
        self.iou_threshold = check_number(iou_threshold, owner=owner, key='iou_threshold',
                                          low=0.0, high=1.0)
        self.score_threshold = None if score_threshold is None else check_number(
            score_threshold, owner=owner, key='score_threshold')

    def forward(self, segments: Tensor, scores: Tensor,
                labels: Optional[Tensor] = None) -> Tuple[Tensor, Tensor]:
        return soft_nms(segments, scores, method=self.method, sigma=self.sigma,
                        iou_threshold=self.iou_threshold,
                        score_threshold=self.score_threshold, labels=labels)

    def extra_repr(self) -> str:
        return (f'method={self.method!r}, sigma={self.sigma}, '
                f'iou_threshold={self.iou_threshold}, score_threshold={self.score_threshold}, '
                f'unique={self.drop_duplicates}')
