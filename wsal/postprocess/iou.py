"""The one temporal IoU convention of wsal, with an exact threshold test.

Segments are continuous intervals ``[start, end]``::

    inter = max(0, min(e1, e2) - max(s1, s2))
    union = (e1 - s1) + (e2 - s2) - inter
    IoU   = inter / union            (0 when union == 0)

NMS suppresses when ``IoU > threshold``. The test is never made by dividing:
the threshold is read as a fraction ``num / den`` (the closest one with
``den <= 10**6``, so ``0.5`` is ``1/2`` and ``0.7`` is exactly ``7/10``) and
the comparison is ``inter * den > num * union``:

* integer segments (proposals in segment units) are compared in ``int64``,
  exactly, on every device. Proposals cut from one attention curve at many
  thresholds sit on an integer grid, so ``IoU == threshold`` is common; an
  exact rule is the only way for CPU, CUDA and evaluation to agree;
* floating segments (seconds) are compared in ``float64`` with the same
  formula, one rounding per product, which CPU and CUDA perform identically.
"""
from __future__ import annotations

from fractions import Fraction
from typing import Tuple

import torch
from torch import Tensor

__all__ = ['threshold_fraction', 'segment_iou', 'pairwise_segment_iou', 'iou_exceeds',
           'intersection_union']

_MAX_DENOMINATOR = 10 ** 6


def threshold_fraction(threshold: float) -> Tuple[int, int]:
    """The IoU threshold as an exact fraction ``(num, den)``.

    Args:
        threshold: IoU threshold in ``[0, 1]``.

    Returns:
        tuple[int, int]: ``num / den`` closest to ``threshold`` with
        ``den <= 10**6`` (``0.7 -> (7, 10)``).

    Raises:
        ValueError: if the threshold is not a finite number in ``[0, 1]``.
    """
    try:
        value = float(threshold)
    except (TypeError, ValueError):
        raise ValueError(f'IoU threshold must be a number in [0, 1], got {threshold!r}') from None
    if not 0.0 <= value <= 1.0:
        raise ValueError(f'IoU threshold must lie in [0, 1], got {threshold!r}')
    frac = Fraction(value).limit_denominator(_MAX_DENOMINATOR)
    return frac.numerator, frac.denominator


def _work_dtype(*tensors: Tensor) -> torch.dtype:
    if all(not t.is_floating_point() and not t.is_complex() for t in tensors):
        return torch.int64
    return torch.float64


def intersection_union(s1: Tensor, e1: Tensor, s2: Tensor, e2: Tensor) -> Tuple[Tensor, Tensor]:
    """Element-wise (broadcast) intersection and union lengths.

    Integer inputs are computed in ``int64``, floating inputs in ``float64``.

    Args:
        s1, e1, s2, e2: Starts and ends, broadcastable to a common shape.

    Returns:
        tuple[Tensor, Tensor]: ``inter`` and ``union`` of the broadcast shape.
    """
    dtype = _work_dtype(s1, e1, s2, e2)
    s1, e1, s2, e2 = (t.to(dtype) for t in (s1, e1, s2, e2))
    inter = (torch.minimum(e1, e2) - torch.maximum(s1, s2)).clamp_(min=0)
    union = (e1 - s1) + (e2 - s2) - inter
    return inter, union


def iou_exceeds(inter: Tensor, union: Tensor, threshold: float) -> Tensor:
    """``IoU > threshold`` evaluated as ``inter * den > num * union``.

    Args:
        inter: Intersection lengths (any shape), from :func:`intersection_union`
            (a tensor, or a numpy array for numpy callers).
        union: Union lengths, same shape and kind.
        threshold: IoU threshold in ``[0, 1]``.

    Returns:
        BoolTensor (or bool array): same shape; False wherever ``union == 0``.
    """
    num, den = threshold_fraction(threshold)
    return inter * den > union * num


def segment_iou(a: Tensor, b: Tensor) -> Tensor:
    """IoU of matching rows: ``a [N, 2]`` with ``b [N, 2]`` -> ``float64 [N]``."""
    inter, union = intersection_union(a[..., 0], a[..., 1], b[..., 0], b[..., 1])
    inter, union = inter.double(), union.double()
    return torch.where(union > 0, inter / union.clamp(min=torch.finfo(torch.float64).tiny),
                       torch.zeros_like(inter))


def pairwise_segment_iou(a: Tensor, b: Tensor) -> Tensor:
    """All-pairs IoU: ``a [N, 2]``, ``b [M, 2]`` -> ``float64 [N, M]``."""
    return segment_iou(a[:, None, :], b[None, :, :])
