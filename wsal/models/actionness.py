"""Class-agnostic actionness from the magnitude of a learned embedding (UM's cue)."""
from __future__ import annotations

from typing import Any, Dict

import torch
import torch.nn as nn

from wsal.registry import MODELS, build_component

from ._utils import as_mask, check_features
from .temporal_ops import check_pseudo_segment_args, masked_mean, pseudo_segments

__all__ = ['MagnitudeActionness']


@MODELS.register_module()
class MagnitudeActionness(nn.Module):
    """UM's feature magnitude as a class-agnostic actionness of one stream.

    An embedding ``h_t`` of the stream's features (default: one fully-
    connected layer and ReLU, ``ConvEmbedding(kernel_size=1)``), and the
    actionness of a segment is its magnitude ``m_t = ||h_t||`` (Lee et al.,
    AAAI 2021). Its pseudo action and pseudo background segments are the
    ``floor(T / ratio_act)`` largest and ``floor(T / ratio_bg)`` smallest
    magnitudes of each video; in training a random ``drop`` of the segments
    is hidden from that ranking (UM's trick against always picking the same
    segments). ``FeatureMagnitudeLoss`` on the mean embeddings of the two
    sets pushes the first to a margin and the second to zero. Every video
    holds some background and actions are the minority of its segments, so
    the term is not symmetric in action and background, as the
    classification terms are, and no class score sets it.

    Args:
        in_channels: Feature dimension ``D`` (the localizer fills it in per stream).
        embedding: Embedding config or module (default
            ``ConvEmbedding(out_channels=256, kernel_size=1)``).
        ratio_act: ``T / k`` of the pseudo action segments (UM on THUMOS14: 9).
        ratio_bg: ``T / k`` of the pseudo background segments (4).
        drop: Fraction of the segments hidden from the ranking in training (0.7).

    Call: ``module(x [B, T, D], mask [B, T]) -> dict`` with ``magnitude
    [B, T]`` (0 on padding), ``magnitude_act_feature`` and
    ``magnitude_bg_feature [B, E]``.
    """

    def __init__(self, *, in_channels: int, embedding: Any = None, ratio_act: float = 9.0,
                 ratio_bg: float = 4.0, drop: float = 0.7) -> None:
        super().__init__()
        if in_channels <= 0:
            raise ValueError(f'MagnitudeActionness: in_channels must be positive, '
                             f'got {in_channels}')
        check_pseudo_segment_args('MagnitudeActionness', ratio_act, ratio_bg, drop)
        self.in_channels = int(in_channels)
        if embedding is None:
            embedding = dict(type='ConvEmbedding', out_channels=256, kernel_size=1)
        if isinstance(embedding, dict):
            embedding = dict(embedding)
            embedding.setdefault('in_channels', self.in_channels)
        self.embedding = build_component(embedding, MODELS)
        if not callable(self.embedding):
            raise TypeError(f'MagnitudeActionness: embedding must be a config dict or a module, '
                            f'got {type(self.embedding).__name__}')
        self.ratio_act, self.ratio_bg, self.drop = float(ratio_act), float(ratio_bg), float(drop)

    def embed(self, x: torch.Tensor, mask: torch.Tensor = None):
        """``h [B, T, E]`` (0 on padding) and its magnitude ``[B, T]``."""
        check_features(x, in_channels=self.in_channels, what='MagnitudeActionness')
        mask = as_mask(mask, x)
        h = self.embedding(x, mask) * mask.unsqueeze(-1).to(x.dtype)
        return h, h.norm(dim=-1)

    def pseudo_segments(self, score: torch.Tensor, mask: torch.Tensor):
        """BoolTensors ``[B, T]``: each video's ``floor(T / ratio_act)`` highest and
        ``floor(T / ratio_bg)`` lowest ``score`` (a random ``drop`` hidden in training)."""
        act, bg, _ = pseudo_segments(score, mask, ratio_act=self.ratio_act,
                                     ratio_bg=self.ratio_bg, drop=self.drop,
                                     training=self.training)
        return act, bg

    @staticmethod
    def outputs(h: torch.Tensor, magnitude: torch.Tensor, act: torch.Tensor,
                bg: torch.Tensor) -> Dict[str, torch.Tensor]:
        """The stream-output dict from an embedding and its pseudo segments."""
        return {'magnitude': magnitude, 'magnitude_act_feature': masked_mean(h, act),
                'magnitude_bg_feature': masked_mean(h, bg)}

    def forward(self, x: torch.Tensor, mask: torch.Tensor = None) -> Dict[str, torch.Tensor]:
        """Actionness and the mean embeddings of its own pseudo action / background segments.

        Args:
            x: Features ``[B, T, D]``.
            mask: BoolTensor ``[B, T]`` (None: all valid).
        """
        mask = as_mask(mask, x)
        h, magnitude = self.embed(x, mask)
        return self.outputs(h, magnitude, *self.pseudo_segments(magnitude, mask))

    def extra_repr(self) -> str:
        return f'ratio_act={self.ratio_act}, ratio_bg={self.ratio_bg}, drop={self.drop}'
