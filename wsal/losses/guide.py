"""Attention guides: the self-guide (eqs. 6, 7 and L_guide) and a class-agnostic actionness guide."""
from __future__ import annotations

import torch

from wsal.models.temporal_ops import minmax_normalize
from wsal.registry import LOSSES
from wsal.utils.ranges import check_choice

from .base import LossTerm, attention_cross_entropy, video_frame_mean
from .smoothing import masked_gaussian_smooth


@LOSSES.register_module()
class SelfGuideLoss(LossTerm):
    """Pull the bottom-up attention λ towards top-down T-CAM targets.

    With ``p_t = softmax(w · x_t)`` the frame-level T-CAM (not modulated by
    λ)::

        λ̂fg_t = G(σ) * max_{c ∈ y} p_t[c]          (eq. 6; max over present
                                                      classes, footnote 1)
        λ̂bg_t = G(σ) * (1 - p_t[0])                 (eq. 7)
        L_guide = 1/T Σ_t d(λ_t, λ̂fg_t) + d(λ_t, λ̂bg_t)

    with ``d`` the L1 distance ``|λ - λ̂|`` printed in the paper
    (``distance='l1'``, the default here) or the binary cross-entropy
    ``-λ̂ log λ - (1 - λ̂) log(1 - λ)`` against the same soft targets
    (``distance='bce'``, what every shipped config uses: see ``distance``
    below), over each video's valid segments, then the mean over videos. A video
    without labels has ``λ̂fg = 0``. The smoothing is mask-aware
    (:func:`masked_gaussian_smooth`): padding does not leak in and the kernel
    is renormalised at the video's ends.

    ``detach_target``: the paper calls λ̂ a *target* that "biases the
    bottom-up attention to agree with the top-down" map, i.e. supervision in
    one direction. With ``True`` (default) gradients reach only λ; the T-CAM
    is trained by the classification losses alone. With ``False`` the loss
    also pulls the T-CAM towards λ, so a degenerate attention (all ≈0 or all
    ≈1) can drag the class activations into the same state.

    Args:
        weight: β of eq. 11 (0.1 in the paper).
        sigma: Gaussian standard deviation in segments (0: no smoothing). The
            paper does not give σ; 1 segment (≈0.64 s for 16-frame I3D
            segments at 25 fps) removes single-segment flicker while staying
            well below typical THUMOS14 instance lengths (several seconds).
        truncate: Kernel radius in standard deviations.
        detach_target: Stop gradients through λ̂ (see above).
        distance: ``'l1'`` (the paper's printed ``|λ - λ̂|``) or ``'bce'``
            (cross-entropy of λ against the same soft targets). Through the
            sigmoid, L1's gradient on the attention logit is ``±λ(1-λ)``: it
            vanishes once λ is pushed towards 0 or 1 (mass-normalised pooling
            makes L_fg blind to λ's level, so it drifts there), and the guide
            can no longer set λ's level. The cross-entropy's logit gradient is
            ``λ - λ̂``. The configs use ``'bce'`` (README, "Model settings").
        targets: Which targets λ is pulled towards: ``'both'`` (eqs. 6 and 7,
            the printed sum), ``'background'`` (λ̂bg only) or ``'foreground'``
            (λ̂fg only). A single target takes both slots of the sum, so the
            term keeps the printed scale. λ̂fg is the video's classes' share
            of the frame's softmax: where a stream's action evidence is
            class-blind (every class's logit rises on the actions, as motion
            does in flow) that share falls on the actions and is highest on
            background frames that carry the class's context, so λ̂fg can
            rank the actions below the background while λ̂bg (every class
            against the background) still ranks them above it (not in the
            paper; docs/ablation.md, "What moves λ off the actions late in
            training").
        background_scale: ``'printed'`` (eq. 7's ``1 - p_t[0]`` as it is)
            or ``'video'``: ``1 - p_t[0]`` rescaled to ``[0, 1]`` over each
            video's valid segments (before the smoothing). Under class
            logits centred on their mean and a background logit of 0
            (``LinearClassifier(background='centred')``) ``p_t[0] <= 1/(C+1)``,
            so the printed target lies in ``[C/(C+1), 1)``: alone it would pull
            λ towards 1 on every frame; rescaled, it keeps its order within the video
            (where a class stands out most) and spans the range λ's proposals
            read.
    """

    loss_name = 'loss_guide'
    required_keys = ('attention', 'tcam')
    TARGETS = ('both', 'background', 'foreground')
    BACKGROUND_SCALES = ('printed', 'video')

    def __init__(self, *, weight: float = 0.1, sigma: float = 1.0, truncate: float = 4.0,
                 detach_target: bool = True, distance: str = 'l1',
                 targets: str = 'both', background_scale: str = 'printed') -> None:
        super().__init__(weight=weight)
        self.background_scale = check_choice(background_scale, owner='SelfGuideLoss',
                                             key='background_scale',
                                             choices=self.BACKGROUND_SCALES)
        if distance not in ('l1', 'bce'):
            raise ValueError(f"SelfGuideLoss: distance must be 'l1' or 'bce', got {distance!r}")
        self.distance = distance
        self.guide_targets = check_choice(targets, owner='SelfGuideLoss', key='targets',
                                         choices=self.TARGETS)
        if sigma < 0:
            raise ValueError(f'SelfGuideLoss: sigma must be >= 0, got {sigma}')
        self.sigma = float(sigma)
        self.truncate = float(truncate)
        self.detach_target = bool(detach_target)

    def targets(self, tcam: torch.Tensor, labels: torch.Tensor, mask: torch.Tensor):
        """Smoothed attention targets.

        Args:
            tcam: ``[B, T, C + 1]`` frame class probabilities.
            labels: Multi-hot ``[B, C]``.
            mask: BoolTensor ``[B, T]``.

        Returns:
            tuple: ``λ̂fg [B, T]``, ``λ̂bg [B, T]`` (0 on padding).
        """
        present = (labels > 0).to(tcam.dtype).unsqueeze(1)          # [B, 1, C]
        fg = (tcam[..., 1:] * present).amax(dim=-1)                  # [B, T]
        bg = 1.0 - tcam[..., 0]
        if self.background_scale == 'video':
            bg = minmax_normalize(bg, mask)
        return (masked_gaussian_smooth(fg, mask, self.sigma, truncate=self.truncate),
                masked_gaussian_smooth(bg, mask, self.sigma, truncate=self.truncate))

    def compute(self, stream_out, labels, mask):
        tcam = stream_out['tcam']
        if tcam.shape[-1] != labels.shape[-1] + 1:
            raise ValueError(f'SelfGuideLoss: tcam has {tcam.shape[-1]} classes but labels '
                             f'have {labels.shape[-1]} (expected C + 1)')
        if self.detach_target:
            tcam = tcam.detach()
        t_fg, t_bg = self.targets(tcam, labels, mask)
        if self.guide_targets == 'background':
            t_fg = t_bg
        elif self.guide_targets == 'foreground':
            t_bg = t_fg
        lam = stream_out['attention']
        if self.distance == 'l1':
            per_frame = (lam - t_fg).abs() + (lam - t_bg).abs()
        else:
            per_frame = attention_cross_entropy(lam, t_fg.clamp(0, 1), t_bg.clamp(0, 1))
        return video_frame_mean(per_frame, mask)

    def extra_repr(self) -> str:
        targets = '' if self.guide_targets == 'both' else f', targets={self.guide_targets!r}'
        if self.background_scale != 'printed':
            targets += f', background_scale={self.background_scale!r}'
        return (f'weight={self.weight}, sigma={self.sigma}, '
                f'detach_target={self.detach_target}, distance={self.distance!r}{targets}')


@LOSSES.register_module()
class ActionnessGuideLoss(LossTerm):
    """Pull λ towards a class-agnostic actionness, rescaled to each video's range.

    ``L = 1/T Σ_t BCE(λ_t, G(σ) * m̃_t)`` with ``m̃`` the actionness
    (``MagnitudeActionness``'s ``magnitude`` by default) min-max rescaled
    over each video's valid segments, detached, then smoothed like the self-
    guide's targets; the mean over videos. Only its ranking within a video
    matters: the magnitude's scale is the embedding's, not a probability.

    It is the route by which an actionness that no class score sets reaches
    the attention: where a video's class can be read from the scene on
    every frame, the T-CAM that ``SelfGuideLoss`` copies into λ is nearly as
    high on the background as on the actions.

    Args:
        weight: Term weight.
        sigma: Gaussian standard deviation in segments (0: no smoothing).
        truncate: Kernel radius in standard deviations.
        key: Stream-output key of the actionness ``[B, T]``.
    """

    loss_name = 'loss_actionness_guide'

    def __init__(self, *, weight: float = 0.1, sigma: float = 1.0, truncate: float = 4.0,
                 key: str = 'magnitude') -> None:
        super().__init__(weight=weight)
        if sigma < 0:
            raise ValueError(f'ActionnessGuideLoss: sigma must be >= 0, got {sigma}')
        if not isinstance(key, str) or not key:
            raise ValueError(f'ActionnessGuideLoss: key must name a stream output, got {key!r}')
        self.sigma = float(sigma)
        self.truncate = float(truncate)
        self.key = key
        self.required_keys = ('attention', key)

    def compute(self, stream_out, labels, mask):
        target = minmax_normalize(stream_out[self.key].detach(), mask)
        target = masked_gaussian_smooth(target, mask, self.sigma,
                                        truncate=self.truncate).clamp(0, 1)
        return video_frame_mean(attention_cross_entropy(stream_out['attention'], target), mask)

    def extra_repr(self) -> str:
        return f'weight={self.weight}, sigma={self.sigma}, key={self.key!r}'
