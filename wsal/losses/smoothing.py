"""Mask-aware temporal Gaussian smoothing G(σ) * v used by the self-guided loss."""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def gaussian_kernel1d(sigma: float, *, truncate: float = 4.0, dtype=torch.float32,
                      device=None) -> torch.Tensor:
    """Unnormalised Gaussian taps ``exp(-k² / 2σ²)`` for ``|k| <= ceil(truncate·σ)``."""
    radius = max(1, int(math.ceil(truncate * sigma)))
    k = torch.arange(-radius, radius + 1, dtype=dtype, device=device)
    return torch.exp(-0.5 * (k / sigma) ** 2)


def masked_gaussian_smooth(values: torch.Tensor, mask: torch.Tensor, sigma: float, *,
                           truncate: float = 4.0) -> torch.Tensor:
    """Smooth each row of ``values`` over time, ignoring padded segments.

    Normalised convolution: ``(G * (v·m)) / (G * m)`` on valid segments, so
    padding never leaks in and the kernel is renormalised at a video's ends
    (a padded video is smoothed exactly as the same video unpadded).

    Args:
        values: ``[B, T]``.
        mask: BoolTensor ``[B, T]``, True on real segments.
        sigma: Standard deviation in segments; ``0`` returns ``values`` (masked).
        truncate: Kernel radius in standard deviations.

    Returns:
        Tensor ``[B, T]``, 0 on padding.
    """
    if sigma < 0:
        raise ValueError(f'sigma must be >= 0, got {sigma}')
    m = mask.to(values.dtype)
    if sigma == 0:
        return values * m
    kernel = gaussian_kernel1d(sigma, truncate=truncate, dtype=values.dtype,
                               device=values.device)
    radius = (kernel.numel() - 1) // 2
    stacked = torch.stack([values * m, m], dim=1).reshape(-1, 1, values.shape[1])
    out = F.conv1d(stacked, kernel.view(1, 1, -1), padding=radius)
    out = out.reshape(values.shape[0], 2, values.shape[1])
    return out[:, 0] / out[:, 1].clamp(min=1e-12) * m
