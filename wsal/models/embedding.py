"""Temporal feature embeddings: 1-D convolutions (or per-snippet FC layers) over valid segments."""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from wsal.registry import MODELS

from ._utils import as_mask, check_features


@MODELS.register_module()
class ConvEmbedding(nn.Module):
    """``num_layers`` x (conv1d over time, (leaky) ReLU), zero on padding, optional dropout.

    ``kernel_size=1`` is a per-snippet fully-connected layer (W-TALC's
    embedding); ``kernel_size=3`` the temporal convolution of BaS-Net (two
    layers, LeakyReLU), UM and CoLA (one layer, ReLU). Padded segments are
    zeroed before every convolution, so a padded batch embeds its videos as
    they would be embedded one by one.

    Args:
        in_channels: Input feature dimension ``D``.
        out_channels: Embedding dimension (the papers: 2048).
        kernel_size: Odd temporal kernel size.
        num_layers: Number of convolution + activation layers.
        negative_slope: 0 gives ReLU, > 0 LeakyReLU with that slope (0.01).
        dropout: Dropout on the embedding (W-TALC: 0.7; 0 disables it).

    Call: ``emb(x [B, T, D], mask [B, T]) -> [B, T, out_channels]``.
    """

    def __init__(self, *, in_channels: int, out_channels: int = 2048, kernel_size: int = 3,
                 num_layers: int = 1, negative_slope: float = 0.0, dropout: float = 0.0) -> None:
        super().__init__()
        if kernel_size < 1 or kernel_size % 2 == 0:
            raise ValueError(f'ConvEmbedding: kernel_size must be a positive odd int, '
                             f'got {kernel_size}')
        if in_channels <= 0 or out_channels <= 0 or num_layers < 1:
            raise ValueError(f'ConvEmbedding: in_channels, out_channels and num_layers must be '
                             f'positive, got {in_channels}, {out_channels}, {num_layers}')
        if negative_slope < 0:
            raise ValueError(f'ConvEmbedding: negative_slope must be >= 0, got {negative_slope}')
        self.in_channels = int(in_channels)
        self.out_channels = int(out_channels)
        self.negative_slope = float(negative_slope)
        self.convs = nn.ModuleList(
            nn.Conv1d(in_channels if i == 0 else out_channels, out_channels, kernel_size,
                      padding=kernel_size // 2) for i in range(num_layers))
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()

    def forward(self, x: torch.Tensor, mask: torch.Tensor = None) -> torch.Tensor:
        """Embed.

        Args:
            x: Features ``[B, T, D]``.
            mask: BoolTensor ``[B, T]`` (None: all valid).

        Returns:
            Tensor ``[B, T, out_channels]``, 0 on padding.
        """
        check_features(x, in_channels=self.in_channels, what='ConvEmbedding')
        mask = as_mask(mask, x)
        if self.convs[0].kernel_size[0] == 1:
            return self._pointwise(x, mask)
        return self._convolve(x, mask)

    def _convolve(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """The layers as convolutions over time in the ``[B, D, T]`` layout (any kernel size)."""
        m = mask.to(x.dtype).unsqueeze(1)                    # [B, 1, T]
        h = x.transpose(1, 2)
        for conv in self.convs:
            h = F.leaky_relu(conv(h * m), self.negative_slope)
        return self.dropout(h.transpose(1, 2)) * m.transpose(1, 2)

    def _pointwise(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """``kernel_size=1``: the same layers as matrix products in the ``[B, T, D]`` layout.

        A 1-wide convolution mixes no segments, so only the output needs
        masking. On CPU this avoids the transposed copies and the unfused
        convolution path that ``conv1d`` takes for a 1-wide kernel.
        """
        keep = mask.unsqueeze(-1)
        h = x
        for conv in self.convs:
            h = F.leaky_relu(F.linear(h, conv.weight.squeeze(-1), conv.bias), self.negative_slope)
        return torch.where(keep, self.dropout(h), h.new_zeros(()))
