"""Stream-output helpers for heads whose classifier has no background class."""
from __future__ import annotations

import torch


def pad_background(cas_fg: torch.Tensor) -> torch.Tensor:
    """``[B, T, C]`` foreground logits -> ``[B, T, C+1]`` with a constant-zero background column.

    Keeps the localizer contract (``cas`` index 0 = background) for methods
    without a background class; the post-processing reads ``cas[..., 1:]``.
    """
    return torch.cat([cas_fg.new_zeros(*cas_fg.shape[:-1], 1), cas_fg], dim=-1)


def foreground_tcam(cas_fg: torch.Tensor) -> torch.Tensor:
    """Softmax over the ``C`` foreground classes with a zero background probability in front."""
    return pad_background(torch.softmax(cas_fg, dim=-1))
