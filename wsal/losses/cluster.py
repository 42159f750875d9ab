"""Bottom-up foreground-background clustering loss (eq. 10)."""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from wsal.registry import LOSSES
from wsal.utils.ranges import check_choice

from .base import LossTerm, frame_logit_pool


@LOSSES.register_module()
class ClusterLoss(LossTerm):
    """Foreground-background clustering loss ``-log z_fg - log z_bg`` (eqs. 8-10).

    ``z_fg = softmax([u_fg·x_fg, u_bg·x_fg])[0]``,
    ``z_bg = softmax([u_fg·x_bg, u_bg·x_bg])[1]``. Uses no label (except
    with ``classes='labelled'``, below). Mean over videos.

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

    With ``detach_attention`` (``head='classifier'`` only) both pools are
    rebuilt from the frame logits ``cas [B, T, C+1]`` with λ detached,
    ``(1/T) Σ_t λ_t z_t`` and ``(1/T) Σ_t (1 - λ_t) z_t`` (equal to the
    model's 1/T pools for a bias-free linear classifier without dropout): the
    term then trains the classifier only. Read from the classifier, its two
    logits are ``±z̄`` under the tied background, so its push into λ is
    class-blind: it raises λ wherever the mean class row scores above zero,
    whatever the class (not in the paper). With ``classes='labelled'`` the
    push follows the video's own classes, which its scene carries on the
    background frames too, and through the 1/T pools it is scaled by
    ``λ(1 - λ)``, larger where λ is lower, so it can raise λ more on the
    background than on the actions (measured so on a development generator:
    docs/ablation.md, "L_cluster without its push into λ"). The
    background-aware configs detach it.

    With ``detach_classifier`` (``head='classifier'`` only) the same pools are
    rebuilt with the frame logits detached and λ live: the term then moves λ
    only, towards the frames where ``u_fg`` outscores the background logit,
    and the classifier, whose background probability the self-guide copies
    into λ, is trained by the labelled terms alone. With every class row and
    both trained, the term fits the mean class row to λ's own split with no
    label in the loop, and the guide returns that split to λ (not in the
    paper).

    With ``classes='labelled'`` (``head='classifier'`` only) ``u_fg`` is the
    mean of the rows of the video's own classes instead of all class rows
    (all rows for a video without a label), so the term pushes λ towards the
    frames where the video's classes outscore the background logit and
    trains those rows against it: the split it makes is the labels', not a
    class-blind one (not in the paper, which uses no label here).

    With ``background='negated'`` (``head='classifier'`` only) the background
    cluster logit is ``-u_fg·x`` instead of the classifier's ``z_0``: the
    tie's form over the same rows as ``u_fg``. Under the tied background and
    ``classes='all'`` it is ``z_0`` exactly; with ``classes='labelled'`` the
    logits are ``[m, -m]`` for the mean ``m`` of the video's own class rows,
    so the term trains those rows only, where ``z_0`` (minus the mean of every
    class row) also pushes every other class's row up on λ's frames and down
    on the rest (not in the paper).

    Args:
        weight: γ of eq. 11 (0.1 in the paper).
        head: ``'cluster'`` or ``'classifier'``.
        detach_attention: Stop the gradient into λ (``head='classifier'``).
        detach_classifier: Stop the gradient into the classifier
            (``head='classifier'``).
        classes: Which class rows make ``u_fg`` with ``head='classifier'``:
            ``'all'`` or ``'labelled'``.
        background: The background cluster logit with ``head='classifier'``:
            ``'classifier'`` (its ``z_0``) or ``'negated'`` (``-u_fg·x``).
    """

    loss_name = 'loss_cluster'
    HEADS = ('cluster', 'classifier')
    CLASSES = ('all', 'labelled')
    BACKGROUNDS = ('classifier', 'negated')
    # options that change how the term reads the classifier, at the value that leaves it as
    # printed (the only one a head of its own takes)
    PRINTED = (('classes', 'all'), ('background', 'classifier'), ('detach_attention', False),
               ('detach_classifier', False))

    def __init__(self, *, weight: float = 0.1, head: str = 'cluster',
                 detach_attention: bool = False, detach_classifier: bool = False,
                 classes: str = 'all', background: str = 'classifier') -> None:
        super().__init__(weight=weight)
        self.head = check_choice(head, owner='ClusterLoss', key='head', choices=self.HEADS)
        self.classes = check_choice(classes, owner='ClusterLoss', key='classes',
                                    choices=self.CLASSES)
        self.background = check_choice(background, owner='ClusterLoss', key='background',
                                       choices=self.BACKGROUNDS)
        self.detach_attention = bool(detach_attention)
        self.detach_classifier = bool(detach_classifier)
        set_back = [(name, value) for name, value in self.PRINTED if getattr(self, name) != value]
        if set_back and head != 'classifier':
            given = ', '.join(f'{name}={getattr(self, name)!r}' for name, _ in set_back)
            fix = ', '.join(f'{name}={value!r}' for name, value in set_back)
            raise ValueError(f"ClusterLoss: {given} needs head='classifier' (a head of its own "
                             f"has no class rows and reads the model's pools); with "
                             f"head='cluster' set {fix}")
        if self.detach_attention and self.detach_classifier:
            raise ValueError('ClusterLoss: detach_attention and detach_classifier together '
                             'leave the term nothing to train; set at most one')
        if head == 'cluster':
            self.required_keys = ('cluster_fg_logits', 'cluster_bg_logits')
        else:
            self.required_keys = (('cas', 'attention')
                                  if self.detach_attention or self.detach_classifier
                                  else ('fg_logits', 'bg_logits'))

    def _logits(self, stream_out, labels, mask):
        """The foreground and background pools' cluster logits, ``[B, 2]`` each."""
        if self.head == 'cluster':
            return stream_out['cluster_fg_logits'], stream_out['cluster_bg_logits']
        if self.detach_attention or self.detach_classifier:
            lam, cas = stream_out['attention'], stream_out['cas']
            lam = lam.detach() if self.detach_attention else lam
            cas = cas.detach() if self.detach_classifier else cas
            pools = (frame_logit_pool(cas, lam, mask), frame_logit_pool(cas, 1.0 - lam, mask))
        else:
            pools = (stream_out['fg_logits'], stream_out['bg_logits'])
        rows = torch.ones_like(pools[0][:, 1:])                      # [B, C]
        if self.classes == 'labelled':
            if labels.shape != rows.shape:
                raise ValueError(f'ClusterLoss: labels {tuple(labels.shape)} do not match the '
                                 f'{rows.shape[-1]} classes of the logits (expected '
                                 f'{tuple(rows.shape)})')
            present = (labels > 0).to(rows.dtype)
            rows = torch.where(present.sum(-1, keepdim=True) > 0, present, rows)
        rows = rows / rows.sum(-1, keepdim=True)
        logits = []
        for z in pools:
            fg = (z[:, 1:] * rows).sum(-1)
            logits.append(torch.stack([fg, -fg if self.background == 'negated' else z[:, 0]], -1))
        return tuple(logits)

    def compute(self, stream_out, labels, mask):
        fg, bg = self._logits(stream_out, labels, mask)
        z_fg = F.log_softmax(fg, dim=-1)[:, 0]
        z_bg = F.log_softmax(bg, dim=-1)[:, 1]
        return -(z_fg + z_bg).mean()

    def chance_level(self, *, num_classes: int) -> float:
        """``2 ln 2``: both pools at ``z = 1/2``."""
        return 2 * math.log(2)

    def extra_repr(self) -> str:
        options = ''.join(f', {name}={getattr(self, name)!r}' for name, value in self.PRINTED
                          if getattr(self, name) != value)
        return f"{super().extra_repr()}, head='{self.head}'{options}"
