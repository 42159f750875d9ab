"""Bottom-up foreground-background clustering loss (eq. 10)."""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from wsal.registry import LOSSES
from wsal.utils.ranges import check_choice

from .base import LossTerm


@LOSSES.register_module()
class ClusterLoss(LossTerm):
    """Foreground-background clustering loss ``-log z_fg - log z_bg`` (eqs. 8-10).

    ``z_fg = softmax([u_fg·x_fg, u_bg·x_fg])[0]``,
    ``z_bg = softmax([u_fg·x_bg, u_bg·x_bg])[1]``. Uses no label. Mean over
    videos.

    Where ``u_fg, u_bg`` come from (``head``):

    * ``'cluster'`` (eqs. 8, 9 as printed): a head of their own
      (:class:`~wsal.models.ClusterHead`), read from ``cluster_fg_logits`` /
      ``cluster_bg_logits [B, 2]``.
    * ``'classifier'``: the classifier's rows, ``u_fg`` the mean of the class
      rows and ``u_bg`` the background row, so a pool's cluster logits are
      ``[mean_c z_c, z_0]`` of its ``fg_logits``/``bg_logits [B, C+1]``. With
      the tied background logit (``z_0 = -mean_c z_c``) the term asks the
      foreground pool for positive mean class evidence and the background
      pool for negative. A head of its own is trained by this term alone and
      no label reaches it: it settles on a class-blind split of the two pools
      (a generic actionness direction, or the background's own change within
      a video). Read from the classifier, the split is the one the class rows
      make, and the term trains the class rows.

    Args:
        weight: γ of eq. 11 (0.1 in the paper).
        head: ``'cluster'`` or ``'classifier'``.
    """

    loss_name = 'loss_cluster'
    HEADS = ('cluster', 'classifier')

    def __init__(self, *, weight: float = 0.1, head: str = 'cluster') -> None:
        super().__init__(weight=weight)
        self.head = check_choice(head, owner='ClusterLoss', key='head', choices=self.HEADS)
        self.required_keys = (('cluster_fg_logits', 'cluster_bg_logits') if head == 'cluster'
                              else ('fg_logits', 'bg_logits'))

    def _logits(self, stream_out, key):
        if self.head == 'cluster':
            return stream_out[f'cluster_{key}_logits']
        z = stream_out[f'{key}_logits']
        return torch.stack([z[:, 1:].mean(-1), z[:, 0]], dim=-1)

    def compute(self, stream_out, labels, mask):
        z_fg = F.log_softmax(self._logits(stream_out, 'fg'), dim=-1)[:, 0]
        z_bg = F.log_softmax(self._logits(stream_out, 'bg'), dim=-1)[:, 1]
        return -(z_fg + z_bg).mean()

    def chance_level(self, *, num_classes: int) -> float:
        """``2 ln 2``: both pools at ``z = 1/2``."""
        return 2 * math.log(2)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, head='{self.head}'"
