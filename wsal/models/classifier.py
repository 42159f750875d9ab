"""Video/frame classifiers over C+1 classes (background at index 0)."""
from __future__ import annotations

import math
from typing import Union

import torch
import torch.nn as nn

from wsal.registry import MODELS


@MODELS.register_module()
class LinearClassifier(nn.Module):
    """The shared softmax classifier ``w_c`` of eqs. 2 and 5 (and the T-CAM, eq. 6).

    Applied to pooled video features ``[B, D]`` (``x_fg``, ``x_bg``) and to
    frame features ``[B, T, D]`` (the class activation sequence), giving
    logits over ``C + 1`` classes with background at index 0.

    Args:
        in_channels: Feature dimension ``D``.
        num_classes: Number of foreground classes ``C`` (outputs ``C + 1``).
        bias: Add a bias. Off by default as printed in eq. 2 (``w_c · x``);
            without a bias the video logit is exactly the pooled frame logit,
            ``w · x_fg = Σ_t a_t (w · x_t)``, which is what the weighted-T-CAM
            proposal scoring of section 3.2 relies on.
        dropout: Dropout on the input (0 disables it).
        background: How the background logit at index 0 is made.
            ``'row'`` (or True): a weight row of its own, ``w_0 · x``, as
            printed in eq. 2. ``'tied'``: minus the mean of the class
            logits, ``z_0 = −(1/C) Σ_c w_c · x``, with no row of its own, so
            a frame is background exactly where the class rows score it low
            (the background-aware configs' form before ``'centred'``).
            ``'centred'``: the class logits measured from their mean,
            ``z_c − (1/C) Σ_k z_k``, and a background logit of 0 (under the
            softmax the same as ``z_0 = +(1/C) Σ_c w_c · x``): a frame is
            background where no class stands out from the others, and the
            mean class row is a direction no output depends on. The centred
            logits sum to zero, so ``p_0 <= 1/(C + 1)``, reached where every
            class scores alike: the background never outscores the classes,
            and ``-log p_0`` (L_bg) is at least ``ln(C + 1)``. The
            background-aware configs use it (see the README for why; not
            in the paper).
            False: no background logit, ``C`` outputs, for methods without a
            background class (W-TALC, UM, CoLA).
        background_logit: With ``background='centred'``: ``'zero'`` (the
            form above) or ``'learned'``, a learned scalar ``κ`` as the
            background logit of every input, pooled or frame. ``p_0`` is then
            ``e^κ / (e^κ + Σ_c e^{z_c − z̄})``: the background wins where no
            class stands out by more than ``κ`` allows, ``-log p_0`` has no
            floor above 0, and its gradient into the class rows (and through
            the pools into λ) is ``Σ_c p_c (w_c − ū)``, zero where the classes
            score alike and free of the mean class row ``ū`` (not in the
            paper). ``κ`` starts at ``ln C``, where the background is as
            likely as all classes together on an input no class stands out
            in (``p_0 = 1/2``): Adam moves a scalar by at most its learning
            rate per step (3.2 in 32000 steps at the configs' 1e-4), so
            from 0 it would stay near the zero form's ceiling ``1/(C + 1)``
            for most of a run.
    """

    BACKGROUNDS = ('row', 'tied', 'centred')
    BACKGROUND_LOGITS = ('zero', 'learned')

    def __init__(self, *, in_channels: int, num_classes: int, bias: bool = False,
                 dropout: float = 0.0, background: Union[bool, str] = 'row',
                 background_logit: str = 'zero') -> None:
        super().__init__()
        if num_classes <= 0:
            raise ValueError(f'LinearClassifier: num_classes (foreground classes C) must be '
                             f'positive, got {num_classes}')
        if background is True:
            background = 'row'
        if background is not False and background not in self.BACKGROUNDS:
            forms = ', '.join(repr(form) for form in self.BACKGROUNDS)
            raise ValueError(f'LinearClassifier: background must be {forms}, True or False, '
                             f'got {background!r}')
        if background_logit not in self.BACKGROUND_LOGITS:
            forms = ' or '.join(repr(form) for form in self.BACKGROUND_LOGITS)
            raise ValueError(f'LinearClassifier: background_logit must be {forms}, '
                             f'got {background_logit!r}')
        if background_logit == 'learned' and background != 'centred':
            raise ValueError(f"LinearClassifier: background_logit='learned' needs "
                             f"background='centred' (got background={background!r}); the "
                             f"other forms make the background logit from weight rows")
        self.in_channels = int(in_channels)
        self.num_classes = int(num_classes)
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.background = background
        self.fc = nn.Linear(in_channels, num_classes + int(background == 'row'), bias=bias)
        self.background_logit = background_logit
        if background_logit == 'learned':
            self.kappa = nn.Parameter(torch.full((1,), math.log(num_classes)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits.

        Args:
            x: Features ``[..., D]``.

        Returns:
            Tensor ``[..., C + 1]`` (index 0 is background), or ``[..., C]``
            with ``background=False``.
        """
        if x.shape[-1] != self.in_channels:
            raise ValueError(f'LinearClassifier: expected D={self.in_channels}, '
                             f'got D={x.shape[-1]}')
        logits = self.fc(self.dropout(x))
        if self.background == 'tied':
            logits = torch.cat([-logits.mean(-1, keepdim=True), logits], dim=-1)
        elif self.background == 'centred':
            logits = logits - logits.mean(-1, keepdim=True)
            zero = torch.zeros_like(logits[..., :1])
            z0 = zero + self.kappa if self.background_logit == 'learned' else zero
            logits = torch.cat([z0, logits], dim=-1)
        return logits

    def extra_repr(self) -> str:
        extra = ", background_logit='learned'" if self.background_logit == 'learned' else ''
        return f'background={self.background!r}{extra}'
