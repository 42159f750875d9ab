"""Bottom-up foreground-background clustering loss (eq. 10)."""
from __future__ import annotations

import math

import torch.nn.functional as F

from wsal.registry import LOSSES

from .base import LossTerm


@LOSSES.register_module()
class ClusterLoss(LossTerm):
    """Foreground-background clustering loss ``-log z_fg - log z_bg`` (eqs. 8-10).

    ``z_fg = softmax([u_fg·x_fg, u_bg·x_fg])[0]``,
    ``z_bg = softmax([u_fg·x_bg, u_bg·x_bg])[1]``. Uses no label. Mean over
    videos.

    Args:
        weight: γ of eq. 11 (0.1 in the paper).
    """

    loss_name = 'loss_cluster'
    required_keys = ('cluster_fg_logits', 'cluster_bg_logits')

    def __init__(self, *, weight: float = 0.1) -> None:
        super().__init__(weight=weight)

    def compute(self, stream_out, labels, mask):
        z_fg = F.log_softmax(stream_out['cluster_fg_logits'], dim=-1)[:, 0]
        z_bg = F.log_softmax(stream_out['cluster_bg_logits'], dim=-1)[:, 1]
        return -(z_fg + z_bg).mean()

    def chance_level(self, *, num_classes: int) -> float:
        """``2 ln 2``: both pools at ``z = 1/2``."""
        return 2 * math.log(2)
