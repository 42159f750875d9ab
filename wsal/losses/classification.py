"""Video-level classification losses on the pooled features: L_fg (eq. 3), L_bg."""
from __future__ import annotations

import math

import torch.nn.functional as F
from torch import nn

from wsal.models.temporal_ops import minmax_normalize
from wsal.registry import LOSSES
from wsal.utils.ranges import check_choice

from .base import LossTerm, foreground_target, frame_logit_pool


@LOSSES.register_module()
class ForegroundLoss(LossTerm):
    """Foreground class loss ``L_fg = -log p_fg[y]`` (eq. 3).

    Multi-label videos use the normalised multi-hot target (``1/k`` on each of
    the ``k`` present classes, 0 on background): ``-Σ_c q_c log p_fg[c]``;
    a video with no label is a background video (target index 0). Mean over
    videos.

    Args:
        weight: Term weight (eq. 11 fixes it to 1).
    """

    loss_name = 'loss_fg'
    required_keys = ('fg_logits',)

    def __init__(self, *, weight: float = 1.0) -> None:
        super().__init__(weight=weight)

    def compute(self, stream_out, labels, mask):
        logits = stream_out['fg_logits']
        if logits.shape[-1] != labels.shape[-1] + 1:
            raise ValueError(f'ForegroundLoss: fg_logits have {logits.shape[-1]} classes but '
                             f'labels have {labels.shape[-1]} (expected C + 1 logits)')
        target = foreground_target(labels).to(logits.dtype)
        return -(target * F.log_softmax(logits, dim=-1)).sum(-1).mean()

    def chance_level(self, *, num_classes: int) -> float:
        """``ln(C + 1)``: uniform logits, whatever the (normalised) target."""
        return math.log(num_classes + 1)


@LOSSES.register_module()
class BackgroundLoss(LossTerm):
    """Background-aware loss ``L_bg = -log p_bg[0]`` (eq. 5 and after).

    The (1 - λ)-pooled feature must be classified as background by the same
    classifier. Mean over videos.

    Which pool (``pool``):

    * ``'model'`` (as printed): the model's background pool, read from
      ``bg_logits [B, C+1]``.
    * ``'frames'``: the printed pool rebuilt from the frame logits ``cas
      [B, T, C+1]``, ``(1/T) Σ_t (1 - λ_t) z_t`` over each video's valid
      frames. For a bias-free linear classifier without dropout and 1/T
      pooling (the configs' model) it equals ``'model'``; unlike it, it can
      stop the gradient into λ.
    * ``'rescaled'``: frames weighted by ``1 - λ̃``, λ̃ being λ rescaled to
      each video's range (the rule the proposals use), normalised by their
      mass (a video whose λ is constant pools its frames alike); the logits
      are read from the frame logits ``cas [B, T, C+1]`` (exact for a
      bias-free linear classifier).

    Args:
        weight: α of eq. 11 (0.1 in the paper).
        pool: ``'model'``, ``'frames'`` or ``'rescaled'``.
        detach_attention: Stop the gradient into λ (the term then trains the
            classifier only); needs a pool read from the frame logits.
    """

    loss_name = 'loss_bg'
    POOLS = ('model', 'frames', 'rescaled')

    def __init__(self, *, weight: float = 0.1, pool: str = 'model',
                 detach_attention: bool = False) -> None:
        super().__init__(weight=weight)
        self.pool = check_choice(pool, owner='BackgroundLoss', key='pool', choices=self.POOLS)
        self.detach_attention = bool(detach_attention)
        if pool == 'model' and self.detach_attention:
            raise ValueError("BackgroundLoss: detach_attention needs pool='frames' or "
                             "pool='rescaled' (the model's own pool keeps λ's gradient)")
        self.required_keys = ('bg_logits',) if pool == 'model' else ('cas', 'attention')

    def compute(self, stream_out, labels, mask):
        if self.pool == 'model':
            logits = stream_out['bg_logits']
        else:
            lam = stream_out['attention']
            if self.detach_attention:
                lam = lam.detach()
            if self.pool == 'frames':
                logits = frame_logit_pool(stream_out['cas'], 1.0 - lam, mask)
            else:
                w = (1.0 - minmax_normalize(lam, mask)) * mask.to(lam.dtype)
                w = w / w.sum(-1, keepdim=True).clamp_min(1e-6)
                logits = (w.unsqueeze(-1) * stream_out['cas']).sum(1)
        return -F.log_softmax(logits, dim=-1)[:, 0].mean()

    def chance_level(self, *, num_classes: int) -> float:
        """``ln(C + 1)``: the background pool's logits are uniform.

        Under 1/T pooling they shrink with the background mass ``1 - mean λ``,
        so an attention kept near 1 on every frame leaves the term here.
        """
        return math.log(num_classes + 1)

    def chance_is_floor(self, model: nn.Module) -> bool:
        """True when every stream's classifier centres its class logits beside a zero
        background logit (``LinearClassifier(background='centred')``).

        Centred class logits sum to zero, so ``p_bg[0] <= 1 / (C + 1)`` and
        ``ln(C + 1)`` is the least the term reaches: there it holds the
        background pool's class logits level rather than being idle.
        """
        classifier = getattr(model, 'classifier', None)
        if classifier is None:
            return False
        heads = list(classifier.values()) if isinstance(classifier, nn.ModuleDict) else [classifier]
        return all(getattr(h, 'background', None) == 'centred'
                   and getattr(h, 'background_logit', 'zero') == 'zero' for h in heads)

    def extra_repr(self) -> str:
        detach = ', detach_attention=True' if self.detach_attention else ''
        return f"{super().extra_repr()}, pool='{self.pool}'{detach}"
