"""Video-level classification losses of the top-k MIL methods (W-TALC, BaS-Net, UM, CoLA)."""
from __future__ import annotations

from typing import Optional

import torch
import torch.nn.functional as F

from wsal.registry import LOSSES
from wsal.utils.ranges import check_choice

from .base import LossTerm

__all__ = ['normalized_labels', 'MILCrossEntropyLoss', 'VideoBCELoss']


def normalized_labels(labels: torch.Tensor) -> torch.Tensor:
    """Multi-hot ``[B, C]`` -> rows summing to 1 (``1/k`` on each of ``k`` labels).

    Raises:
        ValueError: a video without any label (these methods have no
            background-video target).
    """
    total = labels.sum(1, keepdim=True)
    if bool((total <= 0).any()):
        empty = torch.nonzero(total.squeeze(1) <= 0).flatten().tolist()
        raise ValueError(f'video(s) at batch index {empty} have no action label; the top-k MIL '
                         'losses need at least one class per training video')
    return labels / total


@LOSSES.register_module()
class MILCrossEntropyLoss(LossTerm):
    """W-TALC's multiple-instance loss ``L_MIL = -Σ_j ŷ_j log softmax(s)_j``.

    ``s`` are the k-max pooled video logits (``stream_out[key]``, ``[B, C]``)
    and ``ŷ`` the normalised multi-hot label; mean over videos.

    Args:
        weight: λ of W-TALC's ``λ L_MIL + (1 - λ) L_CASL`` (0.5).
        key: Stream-output key of the video logits.
    """

    loss_name = 'loss_mil'

    def __init__(self, *, weight: float = 0.5, key: str = 'video_logits') -> None:
        super().__init__(weight=weight)
        self.key = key
        self.required_keys = (key,)

    def compute(self, stream_out, labels, mask):
        logits = stream_out[self.key]
        if logits.shape != labels.shape:
            raise ValueError(f"MILCrossEntropyLoss: '{self.key}' has shape "
                             f'{tuple(logits.shape)}, labels {tuple(labels.shape)}')
        target = normalized_labels(labels).to(logits.dtype)
        return -(target * F.log_softmax(logits, dim=-1)).sum(-1).mean()

    def extra_repr(self) -> str:
        return f"weight={self.weight}, key='{self.key}'"


@LOSSES.register_module()
class VideoBCELoss(LossTerm):
    """Binary cross-entropy between video probabilities and the normalised label.

    ``L = -1/(B·K) Σ_b Σ_j [ŷ_bj log p_bj + (1 - ŷ_bj) log(1 - p_bj)]`` with
    ``p = stream_out[key]`` (``[B, K]``, softmax probabilities). The target is
    the normalised multi-hot label; with ``background='present'`` a
    background class every video contains is put at index 0 before
    normalising (BaS-Net's base branch), with ``'absent'`` it is 0 (the
    suppression branch), with ``None`` there is no background column
    (UM, CoLA). ``uniform=True`` replaces the target by ``1/K`` on every
    class: UM's background entropy loss (background snippets should not
    favour any action class).

    Args:
        weight: Term weight.
        key: Stream-output key of the probabilities.
        background: ``None``, ``'present'`` or ``'absent'`` (see above).
        uniform: Uniform target (UM's ``L_be``).
        name: Returned key (``loss_`` prefix added), so one method can use
            the loss twice (BaS-Net's base and suppression branches).
        eps: Probabilities are clamped to ``[eps, 1 - eps]`` inside the log.
    """

    BACKGROUND = (None, 'present', 'absent')

    def __init__(self, *, weight: float = 1.0, key: str = 'video_scores',
                 background: Optional[str] = None, uniform: bool = False, name: str = 'cls',
                 eps: float = 1e-7) -> None:
        super().__init__(weight=weight)
        check_choice(background, owner='VideoBCELoss', key='background', choices=self.BACKGROUND)
        self.key, self.background, self.uniform = key, background, bool(uniform)
        self.loss_name = name if name.startswith('loss_') else f'loss_{name}'
        self.required_keys = (key,)
        self.eps = float(eps)

    def target(self, labels: torch.Tensor) -> torch.Tensor:
        """The ``[B, K]`` target for multi-hot ``labels [B, C]``."""
        if self.background is not None:
            bg = torch.full_like(labels[:, :1], 1.0 if self.background == 'present' else 0.0)
            labels = torch.cat([bg, labels], dim=1)
        if self.uniform:
            return torch.full_like(labels, 1.0 / labels.shape[1])
        return normalized_labels(labels)

    def compute(self, stream_out, labels, mask):
        probs = stream_out[self.key]
        target = self.target(labels.to(probs.dtype))
        if probs.shape != target.shape:
            raise ValueError(f"VideoBCELoss: '{self.key}' has shape {tuple(probs.shape)}, "
                             f'expected {tuple(target.shape)} (background={self.background!r})')
        p = probs.clamp(self.eps, 1 - self.eps)
        return -(target * p.log() + (1 - target) * (1 - p).log()).mean()

    def extra_repr(self) -> str:
        return (f"weight={self.weight}, key='{self.key}', background={self.background!r}, "
                f'uniform={self.uniform}')
