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
        keys: The stream-output keys of ``f_act`` and ``f_bg``: UM's head
            (default), or ``('magnitude_act_feature', 'magnitude_bg_feature')``
            for a localizer's ``MagnitudeActionness``. A localizer calls the
            term once per stream; where the streams share one actionness, its
            weight counts once per stream.
    """

    loss_name = 'loss_um'

    def __init__(self, *, weight: float = 5e-4, margin: float = 100.0,
                 keys=('act_feature', 'bg_feature')) -> None:
        super().__init__(weight=weight)
        if margin <= 0:
            raise ValueError(f'FeatureMagnitudeLoss: margin must be positive, got {margin}')
        keys = tuple(keys)
        if len(keys) != 2 or not all(isinstance(k, str) and k for k in keys):
            raise ValueError(f'FeatureMagnitudeLoss: keys must name two stream outputs '
                             f'(action, background), got {keys}')
        self.margin = float(margin)
        self.required_keys = keys

    def compute(self, stream_out, labels, mask):
        act = stream_out[self.required_keys[0]].norm(dim=-1)
        bg = stream_out[self.required_keys[1]].norm(dim=-1)
        return ((self.margin - act).clamp(min=0) + bg).square().mean()

    def extra_repr(self) -> str:
        return f'weight={self.weight}, margin={self.margin}, keys={self.required_keys}'
