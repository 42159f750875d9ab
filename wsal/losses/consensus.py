"""Cross-stream consensus on the attention: every stream's λ ranks frames like the streams' mean."""
from __future__ import annotations

import torch

from wsal.registry import LOSSES

from .base import LossTerm, attention_cross_entropy, video_frame_mean


@LOSSES.register_module()
class StreamConsensusLoss(LossTerm):
    """Each stream's λ is trained to rank frames like the streams' mean λ.

    With late fusion every stream has its own attention ``λ^s``. The localizer
    hands each stream the fused attention ``λ̄ = mean_s λ^s`` (``fused_attention``,
    detached here). Two forms:

    * ``form='correlation'`` (default): one minus the Pearson correlation of
      ``λ^s`` and ``λ̄`` over each video's valid segments, averaged over
      videos::

          L_consensus = 1 - corr_t(λ^s_t, λ̄_t)

      It asks the streams to agree on *where* the actions are and is blind
      to λ's level and spread (any affine change of ``λ^s`` leaves it
      unchanged), so it neither widens a weak stream's λ nor fights the
      classification terms over λ's level.
    * ``form='binary'``: binary cross-entropy against
      ``y_t = 1[λ̄_t > mean_t' λ̄_t']``. Level-independent targets too, but
      they push ``λ^s`` towards 0 and 1, which widens a weak stream's λ until
      it dominates the streams' mean.

    Why: an action happens at the same time in every modality, while the
    cues a single stream can classify a video from need not. RGB features
    carry the scene a class is filmed in on every frame; trained long, an RGB
    stream's attention can move from the action frames to whichever frames
    classify the video best, and even rank the action frames below the
    background (the *mirror* of the right answer) while its video labels stay
    right. A cue only one stream has loses the vote; the action frames, marked
    in both, keep it.

    A stream that is an exact mirror of the mean (correlation -1) is a
    stationary point of the correlation form; the term is meant to be on
    from early in training (ramped in with the other added terms), where it
    keeps a stream from drifting there rather than turning it back.

    The term is a tie-breaker between streams that are each anchored to the
    actions frame by frame (the self-guide does that). It cannot find the
    actions itself: without such an anchor (the classification terms see λ
    only through the pooled features, and λ often saturates near 1, where
    their gradients vanish through the sigmoid while this term's, blind to
    λ's spread, does not) it aligns the streams on whatever they share,
    which need not be the actions.

    With a single model stream the fused attention is the stream's own: the
    correlation form is then constant (no gradient) and the binary form only
    sharpens λ around its mean.

    Args:
        weight: Multiplier of the term (keyword-only).
        form: ``'correlation'`` or ``'binary'`` (see above).
        detach_target: Stop gradients through ``λ̄`` (default: the streams'
            consensus supervises each λ, never the reverse).
    """

    loss_name = 'loss_consensus'
    required_keys = ('attention', 'fused_attention')

    #: added under the square roots of the correlation's norms (a constant λ
    #: gets a bounded gradient instead of a division by zero)
    eps = 1e-6

    def __init__(self, *, weight: float = 0.1, form: str = 'correlation',
                 detach_target: bool = True) -> None:
        super().__init__(weight=weight)
        if form not in ('correlation', 'binary'):
            raise ValueError(f"StreamConsensusLoss: form must be 'correlation' or 'binary', "
                             f'got {form!r}')
        self.form = form
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

    @classmethod
    def correlation(cls, x: torch.Tensor, y: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Pearson correlation of ``x`` and ``y`` over each video's valid segments.

        Args:
            x: ``[B, T]``.
            y: ``[B, T]``.
            mask: BoolTensor ``[B, T]``.

        Returns:
            Tensor ``[B]`` in ``[-1, 1]`` (0 for a constant ``x`` or ``y``).
        """
        m = mask.to(x.dtype)
        n = m.sum(1, keepdim=True).clamp(min=1)
        xc = (x - (x * m).sum(1, keepdim=True) / n) * m
        yc = (y - (y * m).sum(1, keepdim=True) / n) * m
        cov = (xc * yc).sum(1)
        return cov / ((xc.pow(2).sum(1) + cls.eps).sqrt() * (yc.pow(2).sum(1) + cls.eps).sqrt())

    def compute(self, stream_out, labels, mask):
        lam = stream_out['attention']
        fused = stream_out['fused_attention']
        if fused.shape != lam.shape:
            raise ValueError(f'StreamConsensusLoss: fused_attention {tuple(fused.shape)} and '
                             f'attention {tuple(lam.shape)} differ in shape')
        if self.detach_target:
            fused = fused.detach()
        if self.form == 'correlation':
            return (1.0 - self.correlation(lam, fused, mask)).mean()
        return video_frame_mean(attention_cross_entropy(lam, self.targets(fused, mask)), mask)

    def extra_repr(self) -> str:
        return f'weight={self.weight}, form={self.form!r}, detach_target={self.detach_target}'
