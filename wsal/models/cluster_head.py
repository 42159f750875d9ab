"""Bottom-up foreground/background clustering head (eqs. 8-10)."""
from __future__ import annotations

import torch
import torch.nn as nn

from wsal.registry import MODELS


@MODELS.register_module()
class ClusterHead(nn.Module):
    """Bottom-up foreground/background clustering head ``u_fg, u_bg`` (eqs. 8, 9).

    Args:
        in_channels: Feature dimension ``D``.
        bias: Add a bias (off, as printed: ``u · x``).
    """

    def __init__(self, *, in_channels: int, bias: bool = False) -> None:
        super().__init__()
        self.in_channels = int(in_channels)
        self.fc = nn.Linear(in_channels, 2, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Cluster logits.

        Args:
            x: Pooled features ``[B, D]``.

        Returns:
            Tensor ``[B, 2]``: ``[u_fg · x, u_bg · x]``.
        """
        if x.shape[-1] != self.in_channels:
            raise ValueError(f'ClusterHead: expected D={self.in_channels}, got D={x.shape[-1]}')
        return self.fc(x)
