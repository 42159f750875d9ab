"""Exact greedy NMS on the CPU: priority blocks, a bitmask sweep and time windows (numpy).

Greedy NMS visits boxes by priority (decreasing score) and keeps a box unless
an earlier kept box of its label overlaps it with ``IoU > t``. This module
computes that rule in blocks of :data:`BLOCK` undecided boxes:

1. the next ``BLOCK`` undecided boxes by priority form a block; their pairwise
   "suppresses" relation (same label, ``IoU > t``, earlier to later) is a
   ``BLOCK x BLOCK`` bit matrix, and one sweep over its rows (Python integers
   as bit sets) decides every box of the block exactly as the sequential loop
   would: a box is kept unless a kept box before it in the block has its bit;
2. every box kept in the block then suppresses the later undecided boxes it
   overlaps. Only boxes whose start lies in the kept box's *window* can: with
   ``IoU > t`` the shorter box is longer than ``t`` times the longer one and
   the starts differ by less than ``(1 - t)`` times the longer length, so for
   a box ``a`` of length ``L`` every such box starts in
   ``(s_a - L (1 - t) / t, s_a + L (1 - t))``. Boxes are sorted once by
   (label, start), each window is found by ``searchsorted``, and the exact
   test runs on the window's boxes only.

Boxes suppressed in step 2 never enter a block, so the number of blocks is at
most ``min(ceil(N / BLOCK), K)`` for ``K`` kept boxes, and a chain of
suppressions (``a`` suppresses ``b``, which would have suppressed ``c``...)
costs nothing extra: blocks follow the priority order.

The threshold test is the exact one of :mod:`wsal.postprocess.iou`:
``inter * den > union * num`` in ``int64`` for integer segments and in
``float64`` (same operations, same rounding) for floating segments. Windows
are widened by a relative margin so that rounding can only add candidates,
which the exact test then rejects.
"""
from __future__ import annotations

import numpy as np

__all__ = ['BLOCK', 'greedy_keep_sorted']

#: Undecided boxes decided together by one bit-matrix sweep.
BLOCK = 128
#: ``UPPER[i, j]``: box ``i`` comes before box ``j`` (strict upper triangle).
_UPPER = np.triu(np.ones((BLOCK, BLOCK), dtype=bool), 1)


def _exceeds(s1, e1, s2, e2, num: int, den: int):
    inter = np.minimum(e1, e2) - np.maximum(s1, s2)
    np.maximum(inter, 0, out=inter)
    union = (e1 - s1) + (e2 - s2) - inter
    return inter * den > union * num


def _key_order(start: np.ndarray, end: np.ndarray, group: np.ndarray) -> np.ndarray:
    """Stable order by (group, start, end): one integer key when it fits in int64."""
    if start.dtype.kind == 'i' and start.size:
        spans = [int(x.max()) - int(x.min()) + 1 for x in (group, start, end)]
        if spans[0] * spans[1] * spans[2] < 2 ** 62:
            key = (group - group.min()) * spans[1] + (start - start.min())
            key = key * spans[2] + (end - end.min())
            return np.argsort(key, kind='stable')
    return np.lexsort((end, start, group))


def _windows(start: np.ndarray, end: np.ndarray, group: np.ndarray, num: int, den: int):
    """Distinct boxes in (label, start) order and each box's ``[lo, hi)`` window in it.

    Returns ``(by_key, first, lo, hi)``: ``by_key`` lists the first copy of
    every distinct (label, start, end) box sorted by (label, start, end);
    ``first`` marks those copies (indexed like the input); ``lo`` and ``hi``
    (indexed like the input) delimit the positions in ``by_key`` whose start
    may lie in the box's window.
    """
    n = start.shape[0]
    order = _key_order(start, end, group)  # stable: copies keep priority order
    s_o, e_o, g_o = start[order], end[order], group[order]
    new_group = np.ones(n, dtype=bool)
    new_group[1:] = g_o[1:] != g_o[:-1]
    distinct = new_group.copy()
    distinct[1:] |= (s_o[1:] != s_o[:-1]) | (e_o[1:] != e_o[:-1])
    # a copy of an empty box suppresses nothing and is never suppressed: keep it
    distinct |= e_o <= s_o
    gid = (np.cumsum(new_group) - 1)[distinct]
    fs = s_o[distinct].astype(np.float64)
    fl = e_o[distinct].astype(np.float64) - fs
    low, high = float(fs.min()), float(fs.max() + fl.max())
    t = num / den
    right = fl * (1.0 - t)
    left = fl * ((1.0 - t) / t) if num > 0 else np.full(fs.shape[0], high - low + 1.0)
    span = (high - low) * (1.0 + 1.0 / max(t, 1e-12)) + 2.0 * float(fl.max()) + 1.0
    key = gid * span + (fs - low)  # non-decreasing: the distinct boxes are in key order
    slack = 8.0 * np.spacing(max(abs(float(key[-1])), span)) + 1e-9 * span
    by_key = order[distinct]
    lo = np.zeros(n, dtype=np.int64)  # copies are never kept: their windows stay empty
    hi = np.zeros(n, dtype=np.int64)
    lo[by_key] = np.searchsorted(key, key - left - slack, side='left')
    hi[by_key] = np.searchsorted(key, key + right + slack, side='right')
    first = np.zeros(n, dtype=bool)
    first[by_key] = True
    return by_key, first, lo, hi


def _sweep(start: np.ndarray, end: np.ndarray, group: np.ndarray, num: int, den: int) -> list:
    """Greedy decisions of at most :data:`BLOCK` boxes in priority order: kept positions."""
    m = start.shape[0]
    hit = _exceeds(start[:, None], end[:, None], start[None, :], end[None, :], num, den)
    hit &= group[:, None] == group[None, :]
    hit &= _UPPER[:m, :m]
    packed = np.packbits(hit, axis=1, bitorder='little')
    width = packed.shape[1]
    raw = packed.tobytes()
    suppressed, kept = 0, []
    for i in range(m):
        if not (suppressed >> i) & 1:
            kept.append(i)
            suppressed |= int.from_bytes(raw[i * width:(i + 1) * width], 'little')
    return kept


def greedy_keep_sorted(start: np.ndarray, end: np.ndarray, group: np.ndarray, num: int,
                       den: int) -> np.ndarray:
    """Greedy keep mask of boxes already in priority order.

    Args:
        start: ``[N]`` starts (int64 or float64), box 0 has the highest priority.
        end: ``[N]`` ends, same dtype, ``end >= start``.
        group: ``[N]`` int64 labels: only boxes of one label suppress each other.
        num: Numerator of the IoU threshold fraction.
        den: Denominator (``num / den`` in ``[0, 1)``).

    Returns:
        np.ndarray: ``[N]`` bool, True for kept boxes.

    Cost: ``O(N log N)`` for the sort and windows, ``O(BLOCK)`` per undecided
    box for the block matrices and sweep, plus the window sizes of the kept
    boxes (``sum_kept |window|``, at most ``N`` per kept box: never more work
    than a textbook greedy loop, in a few vectorized calls per block). Memory
    ``O(N + BLOCK^2 + largest block's windows)``.
    """
    n = start.shape[0]
    keep = np.zeros(n, dtype=bool)
    if n == 0:
        return keep
    if n <= BLOCK:  # one block decides everything: no windows needed (copies of a kept
        keep[_sweep(start, end, group, num, den)] = True  # box have IoU 1 > t: suppressed)
        return keep
    by_key, alive, lo, hi = _windows(start, end, group, num, den)
    pos = 0
    while pos < n:
        reach = 4 * BLOCK
        block = np.flatnonzero(alive[pos:pos + reach])
        while block.shape[0] < BLOCK and pos + reach < n:  # look further, doubling
            reach *= 4
            block = np.flatnonzero(alive[pos:pos + reach])
        if block.shape[0] == 0:
            break
        block = block[:BLOCK] + pos
        last = int(block[-1])
        kept_local = _sweep(start[block], end[block], group[block], num, den)
        kept = block[kept_local]
        keep[kept] = True
        alive[block] = False
        pos = last + 1
        if pos >= n:
            break
        # kept boxes of the block suppress the later undecided boxes in their windows
        w_lo, w_hi = lo[kept], hi[kept]
        counts = w_hi - w_lo
        total = int(counts.sum())
        if total == 0:
            continue
        owner = np.repeat(kept, counts)
        offset = np.arange(total) - np.repeat(np.cumsum(counts) - counts, counts)
        cand = by_key[np.repeat(w_lo, counts) + offset]
        live = alive[cand] & (cand > last)
        owner, cand = owner[live], cand[live]
        if cand.shape[0] == 0:
            continue
        hit = _exceeds(start[owner], end[owner], start[cand], end[cand], num, den)
        hit &= group[owner] == group[cand]
        alive[cand[hit]] = False
    return keep
