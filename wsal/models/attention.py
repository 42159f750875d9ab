"""Class-agnostic attention heads Ω: frame features -> λ_t in [0, 1] (eq. 1)."""
from __future__ import annotations

import torch
import torch.nn as nn

from wsal.registry import MODELS

from ._utils import as_mask, check_features


@MODELS.register_module()
class MLPAttention(nn.Module):
    """Two fully-connected layers, ReLU then sigmoid: ``λ_t = Ω(x_t)`` (paper eq. 1).

    Interface shared by every attention head: ``forward(x [B, T, D], mask [B, T])
    -> λ [B, T]`` in ``[0, 1]`` and exactly 0 on padded segments.

    Args:
        in_channels: Feature dimension ``D`` (the localizer fills it in per stream).
        hidden_channels: Width of the first FC layer. The paper does not state
            it; 256 (a 4x bottleneck of the 1024-d I3D features) is our choice.
        dropout: Dropout on the input features (0 disables it).

    Example:
        >>> att = MLPAttention(in_channels=8, hidden_channels=4)
        >>> att(torch.randn(2, 5, 8)).shape
        torch.Size([2, 5])
    """

    def __init__(self, *, in_channels: int, hidden_channels: int = 256,
                 dropout: float = 0.0) -> None:
        super().__init__()
        if in_channels <= 0 or hidden_channels <= 0:
            raise ValueError(f'MLPAttention: in_channels and hidden_channels must be positive, '
                             f'got {in_channels} and {hidden_channels}')
        self.in_channels = int(in_channels)
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.fc1 = nn.Linear(in_channels, hidden_channels)
        self.fc2 = nn.Linear(hidden_channels, 1)

    def forward(self, x: torch.Tensor, mask: torch.Tensor = None) -> torch.Tensor:
        """Frame attention.

        Args:
            x: Features ``[B, T, D]``.
            mask: BoolTensor ``[B, T]``, True on real segments (None: all real).

        Returns:
            Tensor ``[B, T]``: λ in ``[0, 1]``, 0 on padding.
        """
        check_features(x, in_channels=self.in_channels, what='MLPAttention')
        mask = as_mask(mask, x)
        h = torch.relu(self.fc1(self.dropout(x)))
        lam = torch.sigmoid(self.fc2(h)).squeeze(-1)
        return lam * mask.to(lam.dtype)
