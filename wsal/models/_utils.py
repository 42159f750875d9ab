"""Small helpers shared by the model parts (mask handling, shape checks)."""
from __future__ import annotations

from typing import Optional

import torch


def check_features(x: torch.Tensor, *, in_channels: int, what: str) -> None:
    """Raise a clear error unless ``x`` is ``[B, T, in_channels]``.

    Args:
        x: Frame features.
        in_channels: The channel count the component was built for.
        what: Who is checking (named in the error), e.g. ``"stream 'rgb'"``.
    """
    if not torch.is_tensor(x):
        raise TypeError(f'{what}: expected a feature tensor [B, T, D], got {type(x).__name__}')
    if x.dim() != 3:
        raise ValueError(f'{what}: expected features of shape [B, T, D], got {tuple(x.shape)}')
    if x.shape[-1] != in_channels:
        raise ValueError(f'{what}: feature dimension mismatch, expected D={in_channels}, '
                         f'got D={x.shape[-1]} (features of shape {tuple(x.shape)})')


def as_mask(mask: Optional[torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    """``mask`` as a bool ``[B, T]`` tensor on ``x``'s device (all True when None).

    Args:
        mask: Bool/0-1 tensor ``[B, T]`` (True on real segments) or None.
        x: Features ``[B, T, D]`` the mask belongs to.

    Returns:
        BoolTensor[B, T].
    """
    B, T = x.shape[:2]
    if mask is None:
        return torch.ones(B, T, dtype=torch.bool, device=x.device)
    if tuple(mask.shape) != (B, T):
        raise ValueError(f'mask must have shape [B, T] = {(B, T)} to match the features, '
                         f'got {tuple(mask.shape)}')
    return mask.to(device=x.device, dtype=torch.bool)


def valid_lengths(mask: torch.Tensor) -> torch.Tensor:
    """Number of valid segments per video, ``LongTensor[B]``; errors on empty videos."""
    lengths = mask.sum(dim=1)
    if bool((lengths == 0).any()):
        empty = torch.nonzero(lengths == 0).flatten().tolist()
        raise ValueError(f'video(s) at batch index {empty} have no valid segment (mask all False)')
    return lengths
