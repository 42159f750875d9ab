"""STPN's attention sparsity loss (L1 on λ)."""
from __future__ import annotations

from wsal.registry import LOSSES

from .base import LossTerm


@LOSSES.register_module()
class SparsityLoss(LossTerm):
    """L1 norm of the attention, ``||λ||_1`` (STPN, Nguyen et al. CVPR 2018).

    STPN used ``β = 1e-4`` on the L1 *sum* over ``T = 400`` sampled segments
    per video. wsal feeds whole videos of varying length, so by default the
    norm is averaged over each video's valid segments (``reduction='mean'``)
    and the weight is ``1e-4 × 400 = 0.04``, the same pressure per segment
    as STPN's at its fixed length. ``reduction='sum'`` gives STPN's sum
    (long videos then weigh more; use ``weight=1e-4`` to match STPN).
    Either way the mean over videos is returned.

    Args:
        weight: β.
        reduction: ``'mean'`` or ``'sum'`` over valid segments.
    """

    loss_name = 'loss_sparsity'
    required_keys = ('attention',)

    def __init__(self, *, weight: float = 0.04, reduction: str = 'mean') -> None:
        super().__init__(weight=weight)
        if reduction not in ('mean', 'sum'):
            raise ValueError(f"SparsityLoss: reduction must be 'mean' or 'sum', got '{reduction}'")
        self.reduction = reduction

    def compute(self, stream_out, labels, mask):
        lam = stream_out['attention']
        m = mask.to(lam.dtype)
        l1 = (lam.abs() * m).sum(1)
        if self.reduction == 'mean':
            l1 = l1 / m.sum(1).clamp(min=1)
        return l1.mean()

    def extra_repr(self) -> str:
        return f'weight={self.weight}, reduction={self.reduction}'
