"""UM's uncertainty-modeling loss on feature magnitudes."""
from __future__ import annotations

from wsal.registry import LOSSES

from .base import LossTerm

__all__ = ['FeatureMagnitudeLoss']


@LOSSES.register_module()
class FeatureMagnitudeLoss(LossTerm):
    """``L_um = mean_b (max(0, m - ||f_act||) + ||f_bg||)^2`` (Lee et al., AAAI 2021, eq. 4).

    ``f_act`` and ``f_bg`` are the mean embeddings of the pseudo action and
    pseudo background snippets (``act_feature``/``bg_feature [B, E]`` of
    ``UMHead``): action features are pushed to magnitude at least ``m``,
    background features towards 0.

    Args:
        weight: α (UM on THUMOS14: 5e-4).
        margin: ``m`` (100).
    """

    loss_name = 'loss_um'
    required_keys = ('act_feature', 'bg_feature')

    def __init__(self, *, weight: float = 5e-4, margin: float = 100.0) -> None:
        super().__init__(weight=weight)
        if margin <= 0:
            raise ValueError(f'FeatureMagnitudeLoss: margin must be positive, got {margin}')
        self.margin = float(margin)

    def compute(self, stream_out, labels, mask):
        act = stream_out['act_feature'].norm(dim=-1)
        bg = stream_out['bg_feature'].norm(dim=-1)
        return ((self.margin - act).clamp(min=0) + bg).square().mean()

    def extra_repr(self) -> str:
        return f'weight={self.weight}, margin={self.margin}'
