"""Resampling a feature sequence to a fixed number of segments (ActivityNet)."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from wsal.utils.ranges import check_choice

__all__ = ['resample_features', 'RESAMPLE_MODES']

RESAMPLE_MODES = ('interpolate', 'pool', 'nearest')


def resample_features(x: torch.Tensor, num_segments: int, *, mode: str = 'interpolate') -> torch.Tensor:
    """Resample ``x`` of shape ``[T, D]`` to ``[num_segments, D]``.

    Output segment i covers the fraction ``[i/N, (i+1)/N)`` of the input.

    Args:
        x: Features ``[T, D]``.
        num_segments: Target length N (>= 1).
        mode: ``'interpolate'`` (linear, sample at bin centres),
            ``'pool'`` (average of the input segments overlapping each bin,
            weighted by overlap; linear interpolation when upsampling) or
            ``'nearest'`` (the input segment at each bin centre).

    Returns:
        Tensor ``[num_segments, D]`` with ``x``'s dtype.
    """
    check_choice(mode, owner='resample_features', key='mode', choices=RESAMPLE_MODES)
    if num_segments < 1:
        raise ValueError(f'num_segments must be >= 1, got {num_segments}')
    t = x.shape[0]
    if t == num_segments:
        return x
    if mode == 'nearest':
        idx = ((torch.arange(num_segments, dtype=torch.float64) + 0.5) * t / num_segments).floor()
        return x[idx.long().clamp_(0, t - 1)]
    if mode == 'pool' and t > num_segments:
        # exact overlap-weighted average: W[i, j] = |bin_i ∩ seg_j| / |bin_i|
        edges = torch.arange(num_segments + 1, dtype=torch.float64) * (t / num_segments)
        lo, hi = edges[:-1, None], edges[1:, None]
        j = torch.arange(t, dtype=torch.float64)[None, :]
        w = (torch.minimum(hi, j + 1) - torch.maximum(lo, j)).clamp_(min=0)
        w = w / w.sum(1, keepdim=True)
        return (w.to(x.dtype) @ x)
    return F.interpolate(x.t()[None], size=num_segments, mode='linear',
                         align_corners=False)[0].t().contiguous()
