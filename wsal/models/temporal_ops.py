"""Masked temporal operations shared by the method heads (top-k means, selections, morphology)."""
from __future__ import annotations

import torch

from ._utils import valid_lengths

__all__ = ['k_from_ratio', 'rank_select', 'pseudo_segments', 'check_pseudo_segment_args',
           'classwise_topk_mean', 'masked_mean', 'minmax_normalize', 'binary_dilation',
           'binary_erosion']


def k_from_ratio(mask: torch.Tensor, ratio: float, *, rounding: str = 'ceil') -> torch.Tensor:
    """``k`` per video from its valid length: ``ceil(T / ratio)`` or ``floor(T / ratio)``, ≥ 1.

    Args:
        mask: BoolTensor ``[B, T]``.
        ratio: ``T / k`` (W-TALC and BaS-Net: 8).
        rounding: ``'ceil'`` (W-TALC) or ``'floor'`` (BaS-Net, UM, CoLA: ``T // r``).

    Returns:
        LongTensor ``[B]``.
    """
    lengths = valid_lengths(mask).to(torch.float64)
    k = torch.ceil(lengths / ratio) if rounding == 'ceil' else torch.floor(lengths / ratio)
    return k.long().clamp(min=1)


def rank_select(scores: torch.Tensor, mask: torch.Tensor, k: torch.Tensor, *,
                largest: bool = True) -> torch.Tensor:
    """BoolTensor ``[B, T]``: each row's ``k[b]`` largest (or smallest) valid ``scores``.

    Ties go to the lower index (stable sort); padding is never selected and
    ``k`` is capped at the number of valid positions.
    """
    s = scores.detach()
    fill = torch.finfo(s.dtype).max
    s = (-s if not largest else s).masked_fill(~mask, -fill)
    order = torch.sort(s, dim=1, descending=True, stable=True).indices
    ranks = torch.empty_like(order)
    ranks.scatter_(1, order, torch.arange(s.shape[1], device=s.device).expand_as(order))
    return (ranks < k.unsqueeze(1)) & mask


def check_pseudo_segment_args(owner: str, ratio_act: float, ratio_bg: float,
                              drop: float) -> None:
    """``ValueError`` naming ``owner`` unless ``ratio_act, ratio_bg >= 1`` and ``0 <= drop < 1``."""
    if ratio_act < 1 or ratio_bg < 1:
        raise ValueError(f'{owner}: ratio_act and ratio_bg must be >= 1, got {ratio_act} and '
                         f'{ratio_bg}')
    if not 0.0 <= drop < 1.0:
        raise ValueError(f'{owner}: drop must be in [0, 1), got {drop}')


def pseudo_segments(score: torch.Tensor, mask: torch.Tensor, *, ratio_act: float,
                    ratio_bg: float, drop: float = 0.0, training: bool = False):
    """UM's pseudo action / background segments: each video's extremes of ``score``.

    The ``floor(T / ratio_act)`` highest and ``floor(T / ratio_bg)`` lowest
    valid ``score [B, T]``. In training a random ``drop`` of the segments is
    hidden from the ranking first (never so many that fewer than either
    ``k`` remain; then that video keeps all its segments).

    Returns:
        tuple: BoolTensors ``act``, ``bg`` ``[B, T]``, and ``k_act [B]``.
    """
    k_act = k_from_ratio(mask, ratio_act, rounding='floor')
    k_bg = k_from_ratio(mask, ratio_bg, rounding='floor')
    rank_mask = mask
    if training and drop > 0:
        kept = torch.rand(mask.shape, device=mask.device) >= drop
        enough = (kept & mask).sum(1) >= torch.maximum(k_act, k_bg)
        rank_mask = torch.where(enough.unsqueeze(1), kept & mask, mask)
    return (rank_select(score, rank_mask, k_act, largest=True),
            rank_select(score, rank_mask, k_bg, largest=False), k_act)


def classwise_topk_mean(cas: torch.Tensor, mask: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    """Mean of each class's ``k`` highest activations over valid time (k-max MIL pooling).

    Args:
        cas: ``[B, T, C]`` class activations.
        mask: BoolTensor ``[B, T]``.
        k: LongTensor ``[B]``, ``1 <= k <= valid length``.

    Returns:
        Tensor ``[B, C]``.
    """
    fill = torch.finfo(cas.dtype).max
    ordered = torch.sort(cas.masked_fill(~mask.unsqueeze(-1), -fill), dim=1,
                         descending=True).values
    keep = (torch.arange(cas.shape[1], device=cas.device)[None, :] < k[:, None]).to(cas.dtype)
    ordered = torch.where(keep.unsqueeze(-1) > 0, ordered, torch.zeros_like(ordered))
    return ordered.sum(1) / k.to(cas.dtype).unsqueeze(-1)


def masked_mean(x: torch.Tensor, select: torch.Tensor) -> torch.Tensor:
    """Mean of ``x [B, T, D]`` over the selected positions ``select [B, T]`` -> ``[B, D]``."""
    w = select.to(x.dtype)
    return torch.einsum('bt,btd->bd', w, x) / w.sum(1, keepdim=True).clamp(min=1)


def minmax_normalize(signal: torch.Tensor, mask: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """Rescale each row of ``signal [B, T]`` to ``[0, 1]`` over its valid positions; 0 on padding."""
    fill = torch.finfo(signal.dtype).max
    lo = signal.masked_fill(~mask, fill).min(1, keepdim=True).values
    hi = signal.masked_fill(~mask, -fill).max(1, keepdim=True).values
    out = (signal - lo) / (hi - lo).clamp(min=eps)
    return out * mask.to(signal.dtype)


def _window_any(binary: torch.Tensor, size: int) -> torch.Tensor:
    """``out[t] = any(binary[t - size // 2 .. t + (size - 1) // 2])`` (outside counts as False)."""
    left, right = size // 2, (size - 1) // 2
    padded = torch.nn.functional.pad(binary.to(torch.float32).unsqueeze(1), (left, right))
    return torch.nn.functional.max_pool1d(padded, size, stride=1).squeeze(1) > 0


def binary_dilation(binary: torch.Tensor, size: int, mask: torch.Tensor) -> torch.Tensor:
    """1-D binary dilation of ``binary [B, T]`` by a flat element of ``size`` (within ``mask``)."""
    return _window_any(binary & mask, size) & mask


def binary_erosion(binary: torch.Tensor, size: int, mask: torch.Tensor) -> torch.Tensor:
    """1-D binary erosion by a flat element of ``size``; positions past the video count as 0.

    The window is mirrored with respect to :func:`binary_dilation` so that
    erosion and dilation are dual for even sizes too.
    """
    hole = ~(binary & mask)
    left, right = (size - 1) // 2, size // 2
    padded = torch.nn.functional.pad(hole.to(torch.float32).unsqueeze(1), (left, right), value=1.0)
    return ~(torch.nn.functional.max_pool1d(padded, size, stride=1).squeeze(1) > 0) & mask
