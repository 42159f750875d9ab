"""Temporal IoU of continuous segments (float64 seconds), as evaluation uses it.

The convention is wsal's single IoU convention (``docs/design.md``): a segment
is the continuous interval ``[start, end]``;
``inter = max(0, min(e1, e2) - max(s1, s2))`` and
``union = (e1 - s1) + (e2 - s2) - inter``. Post-processing applies the same
formula to segment indices; evaluation works on float64 seconds.

Evaluation compares the float64 quotient with ``tiou >= threshold``, as the
ActivityNet evaluator does, so its numbers are reproduced; post-processing
(``wsal.postprocess.iou``) tests ``IoU > threshold`` without dividing (exact
fractions) because NMS ties on the segment grid are common. The two differ
only where a quotient rounds across a threshold.

A pair whose union is 0 (two zero-length segments at the same instant) has
tIoU 0 here, so it never matches. (The ActivityNet code divides 0 by 0 and its
``tiou < threshold`` test is False for NaN, which would count such a pair as a
match at every threshold.)
"""
from __future__ import annotations

import numpy as np

__all__ = ['segment_tiou', 'paired_tiou']


def _ratio(inter: np.ndarray, union: np.ndarray) -> np.ndarray:
    out = np.zeros(np.broadcast(inter, union).shape, dtype=np.float64)
    np.divide(inter, union, out=out, where=union > 0)
    return out


def paired_tiou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Element-wise tIoU of two broadcastable segment arrays.

    Args:
        a: Segments ``[..., 2]`` (start, end), start <= end.
        b: Segments ``[..., 2]`` broadcastable against ``a``.

    Returns:
        np.ndarray: float64 tIoU of shape ``broadcast(a, b).shape[:-1]``, in [0, 1].
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    inter = np.minimum(a[..., 1], b[..., 1]) - np.maximum(a[..., 0], b[..., 0])
    inter = np.maximum(inter, 0.0)
    union = (a[..., 1] - a[..., 0]) + (b[..., 1] - b[..., 0]) - inter
    return _ratio(inter, union)


def segment_tiou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """All-pairs tIoU.

    Args:
        a: Segments ``[N, 2]``.
        b: Segments ``[M, 2]``.

    Returns:
        np.ndarray: float64 ``[N, M]`` tIoU matrix.

    Example:
        >>> segment_tiou([[0., 2.]], [[1., 3.], [5., 6.]])
        array([[0.33333333, 0.        ]])
    """
    a = np.asarray(a, dtype=np.float64).reshape(-1, 2)
    b = np.asarray(b, dtype=np.float64).reshape(-1, 2)
    return paired_tiou(a[:, None, :], b[None, :, :])
