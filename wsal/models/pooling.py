"""Temporal pooling schemes: frames + attention -> video-level fg / bg features.

Interface shared by every pooling: ``forward(x [B, T, D], attention [B, T],
mask [B, T]) -> (x_fg [B, D], x_bg [B, D])``. Padded segments never
contribute, so a padded batch pools exactly like its videos one by one.
"""
from __future__ import annotations

from typing import Tuple

import torch
import torch.nn as nn

from wsal.registry import MODELS
from wsal.utils.ranges import check_choice

from ._utils import as_mask, valid_lengths


@MODELS.register_module()
class AttentionAvgPool(nn.Module):
    """Attention-weighted average pooling of foreground (λ) and background (1-λ).

    ``normalize='length'`` is eqs. 1 and 4 as printed::

        x_fg = 1/T Σ_t λ_t x_t,        x_bg = 1/T Σ_t (1 - λ_t) x_t

    ``normalize='mass'`` divides by the attention mass instead::

        x_fg = Σ_t λ_t x_t / Σ_t λ_t,  x_bg = Σ_t (1 - λ_t) x_t / Σ_t (1 - λ_t)

    ``T`` is the number of valid (unpadded) segments of each video.

    Why both: with ``'length'`` the pooled features shrink with the attention
    level, so a loss can lower ``L_fg``/``L_bg`` by moving every λ up or down
    together (all-1 with L_fg alone; all-0 once L_bg is added). ``'mass'``
    pools convex combinations of frames, invariant to a global scale of λ, so
    the classification losses can only act on *which* frames are attended;
    the absolute level is then set by the other terms (the self-guided loss
    ties λ to the T-CAM, the sparsity loss pushes it down).

    ``center=True`` pools each video's frames minus their mean over the
    video's valid segments, ``x_t - x̄``: a pool then says how the attended
    frames differ from the rest of their own video, whatever the offset every
    frame of that video shares (its scene). With ``'length'`` the two pools
    are then opposite, ``x_fg = -x_bg``.

    Args:
        normalize: ``'length'`` (1/T, as printed) or ``'mass'``.
        center: Subtract each video's mean feature before pooling.
        eps: Added to the attention mass in ``'mass'`` mode.
    """

    MODES = ('length', 'mass')

    def __init__(self, *, normalize: str = 'length', center: bool = False,
                 eps: float = 1e-6) -> None:
        super().__init__()
        self.normalize = check_choice(normalize, owner='AttentionAvgPool', key='normalize',
                                      choices=self.MODES)
        self.center = bool(center)
        self.eps = float(eps)

    def forward(self, x: torch.Tensor, attention: torch.Tensor,
                mask: torch.Tensor = None) -> Tuple[torch.Tensor, torch.Tensor]:
        """Pool.

        Args:
            x: Features ``[B, T, D]``.
            attention: λ ``[B, T]`` in ``[0, 1]``.
            mask: BoolTensor ``[B, T]`` (None: all valid).

        Returns:
            tuple: ``x_fg [B, D]``, ``x_bg [B, D]``.
        """
        mask = as_mask(mask, x)
        m = mask.to(x.dtype)
        w_fg = attention * m
        w_bg = (1.0 - attention) * m
        x = x * m.unsqueeze(-1)  # padding may hold anything; make it inert
        if self.center:
            n = valid_lengths(mask).to(x.dtype).clamp(min=1).view(-1, 1, 1)
            x = (x - x.sum(1, keepdim=True) / n) * m.unsqueeze(-1)
        fg = torch.einsum('bt,btd->bd', w_fg, x)
        bg = torch.einsum('bt,btd->bd', w_bg, x)
        if self.normalize == 'length':
            n = valid_lengths(mask).to(x.dtype).unsqueeze(-1)
            return fg / n, bg / n
        return (fg / (w_fg.sum(1, keepdim=True) + self.eps),
                bg / (w_bg.sum(1, keepdim=True) + self.eps))

    def extra_repr(self) -> str:
        return f"normalize='{self.normalize}'" + (', center=True' if self.center else '')


@MODELS.register_module()
class TopKPool(nn.Module):
    """k-max MIL pooling (W-TALC style) over attention ranks.

    The foreground feature averages the ``k`` frames with the highest
    attention, the background feature the ``k`` frames with the lowest, with
    ``k = ceil(T / ratio)`` among each video's valid frames (ties: lower index
    first). With ``weighted=True`` (default) the selected frames are weighted
    by ``λ_t`` (fg) and ``1 - λ_t`` (bg) before averaging over ``k``, so the
    classification losses still send gradients into the attention head; with
    ``weighted=False`` it is the plain mean of the selected frames and the
    attention learns only from the other terms (guide, sparsity).

    Args:
        ratio: ``k = ceil(T / ratio)``; W-TALC used 8.
        weighted: Weight selected frames by their attention (see above).
    """

    def __init__(self, *, ratio: float = 8.0, weighted: bool = True) -> None:
        super().__init__()
        if ratio < 1:
            raise ValueError(f'TopKPool: ratio must be >= 1, got {ratio}')
        self.ratio = float(ratio)
        self.weighted = bool(weighted)

    @staticmethod
    def _select(scores: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
        """Bool ``[B, T]``: the ``k[b]`` highest ``scores`` of each row (stable)."""
        order = torch.sort(scores, dim=1, descending=True, stable=True).indices
        ranks = torch.empty_like(order)
        ar = torch.arange(scores.shape[1], device=scores.device).expand_as(order)
        ranks.scatter_(1, order, ar)
        return ranks < k.unsqueeze(1)

    def forward(self, x: torch.Tensor, attention: torch.Tensor,
                mask: torch.Tensor = None) -> Tuple[torch.Tensor, torch.Tensor]:
        """Pool.

        Args:
            x: Features ``[B, T, D]``.
            attention: λ ``[B, T]`` in ``[0, 1]``.
            mask: BoolTensor ``[B, T]`` (None: all valid).

        Returns:
            tuple: ``x_fg [B, D]``, ``x_bg [B, D]``.
        """
        mask = as_mask(mask, x)
        lengths = valid_lengths(mask)
        k = torch.ceil(lengths.to(torch.float64) / self.ratio).long().clamp(min=1)
        a = attention.detach()
        inf = torch.finfo(a.dtype).max
        top = self._select(a.masked_fill(~mask, -inf), k) & mask
        bottom = self._select((-a).masked_fill(~mask, -inf), k) & mask
        x = x * mask.to(x.dtype).unsqueeze(-1)
        w_fg = top.to(x.dtype)
        w_bg = bottom.to(x.dtype)
        if self.weighted:
            w_fg = w_fg * attention
            w_bg = w_bg * (1.0 - attention)
        kf = k.to(x.dtype).unsqueeze(-1)
        return (torch.einsum('bt,btd->bd', w_fg, x) / kf,
                torch.einsum('bt,btd->bd', w_bg, x) / kf)

    def extra_repr(self) -> str:
        return f'ratio={self.ratio}, weighted={self.weighted}'
