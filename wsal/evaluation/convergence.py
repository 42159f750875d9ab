"""Has a training run converged? A rule on the training-loss curve."""
from __future__ import annotations

from typing import Optional, Sequence

import numpy as np

__all__ = ['loss_still_falling']


def loss_still_falling(losses: Sequence[float], *, window: float = 0.1,
                       tolerance: float = 0.05) -> Optional[bool]:
    """Whether the training loss was still falling at the end of a run (not converged).

    The run is *not converged* when the mean loss over the last ``window``
    share of iterations is more than ``tolerance`` (relative) below the mean
    over the ``window`` share just before it::

        last = mean(loss[N - w:]),  before = mean(loss[N - 2w:N - w]),  w = round(window * N)
        not converged  <=>  last < (1 - tolerance) * before

    A loss that still drops by more than 5 % between the last two tenths of
    training would have gone on improving with more iterations, so numbers
    measured on that checkpoint describe an unfinished model.

    Args:
        losses: ``[N]`` total training loss of every iteration, in order.
        window: Share of the iterations in each of the two compared windows.
        tolerance: Relative drop above which the run counts as still falling.

    Returns:
        True (still falling, not converged), False (converged), or None when
        the curve is too short (fewer than one iteration per window) or the
        earlier window's mean is not positive.
    """
    if not 0 < window <= 0.5:
        raise ValueError(f'window must be in (0, 0.5], got {window}')
    if tolerance < 0:
        raise ValueError(f'tolerance must be >= 0, got {tolerance}')
    arr = np.asarray(list(losses), dtype=np.float64).reshape(-1)
    w = int(round(window * arr.size))
    if w < 1:
        return None
    last, before = arr[arr.size - w:], arr[arr.size - 2 * w:arr.size - w]
    if not (np.isfinite(last).all() and np.isfinite(before).all()):
        return None
    ref = float(before.mean())
    if not ref > 0:
        return None
    return bool(float(last.mean()) < (1.0 - tolerance) * ref)
