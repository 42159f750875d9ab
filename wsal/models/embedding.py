"""Temporal feature embeddings: a 1-D convolution (or per-snippet FC) + ReLU over valid segments."""
from __future__ import annotations

import torch
import torch.nn as nn

from wsal.registry import MODELS

from ._utils import as_mask, check_features


@MODELS.register_module()
class ConvEmbedding(nn.Module):
    """``relu(conv1d(x))`` over time, zero on padding, optional dropout on the output.

    ``kernel_size=1`` is a per-snippet fully-connected layer (W-TALC's
    embedding); ``kernel_size=3`` the temporal convolution of BaS-Net, UM and
    CoLA. Padded segments are zeroed before the convolution, so a padded
    batch embeds its videos as they would be embedded one by one.

    Args:
        in_channels: Input feature dimension ``D``.
        out_channels: Embedding dimension (the papers: 2048).
        kernel_size: Odd temporal kernel size.
        dropout: Dropout on the embedding (W-TALC: 0.7; 0 disables it).

    Call: ``emb(x [B, T, D], mask [B, T]) -> [B, T, out_channels]``.
    """

    def __init__(self, *, in_channels: int, out_channels: int = 2048, kernel_size: int = 3,
                 dropout: float = 0.0) -> None:
        super().__init__()
        if kernel_size < 1 or kernel_size % 2 == 0:
            raise ValueError(f'ConvEmbedding: kernel_size must be a positive odd int, '
                             f'got {kernel_size}')
        if in_channels <= 0 or out_channels <= 0:
            raise ValueError(f'ConvEmbedding: in_channels and out_channels must be positive, '
                             f'got {in_channels} and {out_channels}')
        self.in_channels = int(in_channels)
        self.out_channels = int(out_channels)
        self.conv = nn.Conv1d(in_channels, out_channels, kernel_size, padding=kernel_size // 2)
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()

    def forward(self, x: torch.Tensor, mask: torch.Tensor = None) -> torch.Tensor:
        check_features(x, in_channels=self.in_channels, what='ConvEmbedding')
        mask = as_mask(mask, x)
        m = mask.to(x.dtype).unsqueeze(-1)
        h = torch.relu(self.conv((x * m).transpose(1, 2))).transpose(1, 2)
        return self.dropout(h) * m
