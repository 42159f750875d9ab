"""Cross-stream consensus on the attention: every stream's λ follows where the streams agree."""
from __future__ import annotations

import torch

from wsal.registry import LOSSES

from .base import LossTerm


@LOSSES.register_module()
class StreamConsensusLoss(LossTerm):
    """Binary targets from the streams' mean attention supervise each stream's λ.

    With late fusion every stream has its own attention ``λ^s``. The localizer
    hands each stream the fused attention ``λ̄ = mean_s λ^s`` (``fused_attention``).
    Per video the target marks the segments where ``λ̄`` is above its mean over
    the video's valid segments::

        y_t = 1[λ̄_t > mean_t' λ̄_t']           (detached)
        L_consensus = 1/T Σ_t BCE(λ^s_t, y_t)

    Why: an action happens at the same time in every modality, while the
    cues a single stream can classify a video from need not. RGB features
    carry the scene a class is filmed in on every frame; trained long, an RGB
    stream's attention can move from the action frames to whichever frames
    classify the video best, and even rank the action frames below the
    background (the *mirror* of the right answer) while its video labels stay
    right. A cue only one stream has loses the vote; the action frames, marked
    in both, keep it. Thresholding at the video's mean makes the target
    independent of λ's absolute level, which the classification terms move.

    With a single model stream the fused attention is the stream's own and the
    term only sharpens λ around its mean.

    Args:
        weight: Multiplier of the term (keyword-only).
        detach_target: Stop gradients through the targets (default: the
            targets supervise λ, never the reverse).
    """

    loss_name = 'loss_consensus'
    required_keys = ('attention', 'fused_attention')

    def __init__(self, *, weight: float = 0.1, detach_target: bool = True) -> None:
        super().__init__(weight=weight)
        self.detach_target = bool(detach_target)

    @staticmethod
    def targets(fused: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Per-video binary targets.

        Args:
            fused: ``[B, T]`` fused attention.
            mask: BoolTensor ``[B, T]``.

        Returns:
            Tensor ``[B, T]``: 1 where ``fused`` is above its video's mean
            over valid segments, 0 elsewhere and on padding.
        """
        m = mask.to(fused.dtype)
        mean = (fused * m).sum(1, keepdim=True) / m.sum(1, keepdim=True).clamp(min=1)
        return ((fused > mean) & mask).to(fused.dtype)

    def compute(self, stream_out, labels, mask):
        lam = stream_out['attention']
        fused = stream_out['fused_attention']
        if fused.shape != lam.shape:
            raise ValueError(f'StreamConsensusLoss: fused_attention {tuple(fused.shape)} and '
                             f'attention {tuple(lam.shape)} differ in shape')
        target = self.targets(fused.detach() if self.detach_target else fused, mask)
        m = mask.to(lam.dtype)
        eps = torch.finfo(lam.dtype).eps
        p = lam.clamp(eps, 1 - eps)
        per_frame = -(target * p.log() + (1 - target) * (1 - p).log()) * m
        return (per_frame.sum(1) / m.sum(1).clamp(min=1)).mean()

    def extra_repr(self) -> str:
        return f'weight={self.weight}, detach_target={self.detach_target}'
