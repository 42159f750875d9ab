"""A localizer whose per-stream computation is one registered head."""
from __future__ import annotations

from typing import Any, Mapping, Optional

import torch

from wsal.registry import MODELS

from .base import StreamLocalizer

__all__ = ['HeadLocalizer']


@MODELS.register_module()
class HeadLocalizer(StreamLocalizer):
    """Streams, loss dict and post-processing around one registered head per stream.

    A head (``MODELS``) is built per model stream with ``in_channels`` and
    ``num_classes`` filled in and called as ``head(x [B, T, D], mask [B, T])
    -> dict``; its dict must hold ``attention [B, T]``, ``cas [B, T, C+1]``
    (index 0 = background), ``tcam [B, T, C+1]`` and ``video_scores [B, C]``
    (the stream's foreground class probabilities), plus whatever its loss
    terms read. W-TALC, BaS-Net, UM and CoLA are this localizer with their
    head, loss terms and post-processor (``configs/<method>/``).

    Args:
        num_classes: Number of foreground classes ``C``.
        head: The per-stream head (config, built module for one stream, or
            ``{stream: config or module}``).
        losses: ``{name: loss config | built module | None}``.
        streams: ``{name: in_channels}`` of the input streams.
        fusion: ``'late'`` or ``'early'`` (the four methods concatenate RGB and
            flow: ``'early'``).
        stream_weights: θ per model stream; None gives equal weights.
        loss_warmup: ``{term: length}`` linear ramps of terms over a share
            (up to 1) or a number (2 or more) of the run's first iterations
            (see :class:`StreamLocalizer`).
        input_norm: Normalisation of each input stream's features, e.g.
            ``dict(type='FeatureStandardizer')``; None: features as stored
            (see :class:`StreamLocalizer`).
        test_cfg: Post-processor config or object used by :meth:`predict`.
        data_preprocessor: mmengine data preprocessor.
        init_cfg: mmengine initialisation config.
    """

    def __init__(self, *, num_classes: int, head: Any, losses: Mapping[str, Any],
                 streams: Optional[Mapping[str, int]] = None, fusion: str = 'early',
                 stream_weights: Optional[Mapping[str, float]] = None,
                 loss_warmup: Optional[Mapping[str, float]] = None, input_norm: Any = None,
                 test_cfg: Any = None, data_preprocessor: Any = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(num_classes=num_classes, streams=streams, fusion=fusion,
                         stream_weights=stream_weights, losses=losses,
                         loss_warmup=loss_warmup, input_norm=input_norm, test_cfg=test_cfg,
                         data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.head = self.build_per_stream(head, 'head', with_dim=True,
                                          extra=dict(num_classes=num_classes))

    def run_stream(self, name: str, x: torch.Tensor, mask: torch.Tensor) -> dict:
        out = self.head[name](x, mask)
        for key in ('attention', 'cas', 'tcam', 'video_scores'):
            if key not in out:
                raise KeyError(f"HeadLocalizer: head {type(self.head[name]).__name__} of "
                               f"stream '{name}' returned no '{key}' (got {sorted(out)})")
        return out

    def stream_video_scores(self, stream_out: Mapping[str, torch.Tensor]) -> torch.Tensor:
        return stream_out['video_scores']
