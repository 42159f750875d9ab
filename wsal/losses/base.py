"""Base class of wsal loss terms: weight handling, input checks, naming."""
from __future__ import annotations

from typing import Dict, Mapping, Optional, Tuple

import torch
import torch.nn as nn


class LossTerm(nn.Module):
    """A weighted, named loss term called once per stream.

    Subclasses set ``loss_name`` (the returned key, starting with ``loss_``)
    and ``required_keys`` (the stream-output keys they read) and implement
    :meth:`compute`. Calling the term checks the inputs, then returns
    ``{loss_name: weight * compute(...)}``.

    Call signature (docs/design.md)::

        term(stream_out: dict, labels: FloatTensor[B, C], mask: BoolTensor[B, T])
            -> {'loss_xxx': scalar Tensor}

    Args:
        weight: Multiplier applied to the term (keyword-only).
    """

    loss_name: str = 'loss'
    required_keys: Tuple[str, ...] = ()

    def __init__(self, *, weight: float = 1.0) -> None:
        super().__init__()
        weight = float(weight)
        if weight < 0:
            raise ValueError(f'{type(self).__name__}: weight must be >= 0, got {weight}')
        self.weight = weight

    def compute(self, stream_out: Mapping[str, torch.Tensor], labels: torch.Tensor,
                mask: torch.Tensor) -> torch.Tensor:
        """The unweighted scalar loss (subclasses implement)."""
        raise NotImplementedError

    def chance_level(self, *, num_classes: int) -> Optional[float]:
        """The unweighted value of the term when its classifier guesses uniformly.

        A term that stays at this level all through training has taught its
        classifier nothing beyond a uniform guess (``wsal ablate`` flags it
        ``idle``), unless the level is also the least the term can reach in
        the model (:meth:`chance_is_floor`). Terms without such a level
        (regularisers, distances) return None.

        Args:
            num_classes: Number of action classes ``C`` of the model.
        """
        return None

    def chance_is_floor(self, model: nn.Module) -> bool:
        """Whether the term cannot go below its chance level in ``model``.

        There the chance level is the term's optimum, not a sign that it
        taught nothing: a term held at its floor still pulls the model toward
        it. Such a term is not judged idle. Default: False.

        Args:
            model: The localizer the term belongs to.
        """
        return False

    def forward(self, stream_out: Mapping[str, torch.Tensor], labels: torch.Tensor,
                mask: torch.Tensor) -> Dict[str, torch.Tensor]:
        """Weighted term ``{loss_name: weight * loss}``.

        Args:
            stream_out: One stream's outputs of ``WeaklySupervisedLocalizer.extract``.
            labels: Multi-hot video labels ``[B, C]``.
            mask: BoolTensor ``[B, T]``, True on real segments.

        Returns:
            dict[str, Tensor]: one scalar.
        """
        missing = [k for k in self.required_keys if k not in stream_out]
        if missing:
            raise KeyError(f'{type(self).__name__} needs {missing} in the stream output; '
                           f'got keys {sorted(stream_out)}')
        if labels.dim() != 2:
            raise ValueError(f'{type(self).__name__}: labels must be [B, C], '
                             f'got {tuple(labels.shape)}')
        return {self.loss_name: self.weight * self.compute(stream_out, labels, mask.bool())}

    def extra_repr(self) -> str:
        return f'weight={self.weight}'


def foreground_target(labels: torch.Tensor) -> torch.Tensor:
    """Normalised multi-hot target over ``C + 1`` classes, background index 0.

    A video with labels ``{c1, ..., ck}`` gets ``1/k`` at each ``ci + 1``. A
    video without any action label is a background video (the paper's
    ``y = 0``) and gets all its mass at index 0.

    Args:
        labels: Multi-hot ``[B, C]`` (non-negative).

    Returns:
        Tensor ``[B, C + 1]``, rows summing to 1.
    """
    labels = labels.float().clamp(min=0)
    total = labels.sum(dim=1, keepdim=True)
    background = (total == 0).to(labels.dtype)
    fg = labels / total.clamp(min=1e-12)
    return torch.cat([background, fg], dim=1)


def attention_cross_entropy(attention: torch.Tensor, *targets: torch.Tensor) -> torch.Tensor:
    """Per-frame cross-entropy of an attention ``[B, T]`` against soft targets in ``[0, 1]``.

    ``Σ_t -t log λ - (1 - t) log(1 - λ)`` over the given targets, with λ
    clamped to ``[eps, 1 - eps]`` so that the logs stay finite. Returns
    ``[B, T]`` (padding not masked).
    """
    eps = torch.finfo(attention.dtype).eps
    p = attention.clamp(eps, 1 - eps)
    return sum(-(t * p.log() + (1 - t) * (1 - p).log()) for t in targets)


def video_frame_mean(per_frame: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean over each video's valid frames of ``per_frame [B, T]``, then over videos (scalar)."""
    m = mask.to(per_frame.dtype)
    return ((per_frame * m).sum(1) / m.sum(1).clamp(min=1)).mean()


def frame_logit_pool(cas: torch.Tensor, weights: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """The 1/T pool of the frame logits: ``(1/T) Σ_t w_t z_t`` over each video's valid frames.

    For a bias-free linear classifier without dropout it equals classifying the
    1/T-pooled feature ``(1/T) Σ_t w_t x_t``, and a detached ``weights`` stops
    the gradient into the attention that set them.

    Args:
        cas: Frame logits ``[B, T, K]``.
        weights: Frame weights ``[B, T]`` (λ or 1 - λ).
        mask: Valid frames ``[B, T]``; T counts the valid frames only.

    Returns:
        Pooled logits ``[B, K]``.
    """
    m = mask.to(weights.dtype)
    w = weights * m / m.sum(-1, keepdim=True).clamp_min(1.0)
    return (w.unsqueeze(-1) * cas).sum(1)
