"""Has a training run converged, and did each term learn? Rules on the training-loss curves."""
from __future__ import annotations

from typing import List, Mapping, Optional, Sequence, Tuple

import numpy as np

__all__ = ['loss_still_falling', 'terms_at_chance']


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


def terms_at_chance(curve: Sequence[Mapping[str, float]], chance: Mapping[str, Tuple[str, float]],
                    *, window: float = 0.1, tolerance: float = 0.05) -> List[str]:
    """The loss terms that stayed at their chance level at the end of a run (idle terms).

    A classification term at its chance level (uniform logits, e.g.
    ``ln(C + 1)`` for L_bg) has taught its classifier nothing; the model
    trained with it is the model without it. A term is *idle* when the mean
    of its logged value over the rows of the last ``window`` share of the
    iterations is at least ``(1 - tolerance)`` times its logged value at
    chance::

        idle  <=>  mean(logged[last window]) >= (1 - tolerance) * at_chance

    Args:
        curve: Training-curve rows ``{'iter': n, '<loss key>': value, ...}``
            in order (:class:`~wsal.engine.LossCurveHook`'s ``train``).
        chance: ``{term name: (loss key, logged value at chance)}``; the
            logged value is the term as the runner logs it (weighted, summed
            over streams), see ``wsal.experiments.cell.chance_levels``.
        window: Share of the iterations whose rows are averaged.
        tolerance: Relative margin below the chance level still counted as idle.

    Returns:
        list[str]: Names of the idle terms, in the order of ``chance``. Terms
        missing from the curve, or with a non-positive chance value, are not
        judged.
    """
    if not 0 < window <= 1:
        raise ValueError(f'window must be in (0, 1], got {window}')
    if not 0 <= tolerance < 1:
        raise ValueError(f'tolerance must be in [0, 1), got {tolerance}')
    rows = [r for r in curve if 'iter' in r]
    if not rows:
        return []
    last_iter = max(float(r['iter']) for r in rows)
    tail = [r for r in rows if float(r['iter']) > (1.0 - window) * last_iter] or rows[-1:]
    idle = []
    for name, (key, at_chance) in chance.items():
        values = np.asarray([r[key] for r in tail if key in r], dtype=np.float64)
        if not values.size or not np.isfinite(values).all() or not at_chance > 0:
            continue
        if float(values.mean()) >= (1.0 - tolerance) * float(at_chance):
            idle.append(name)
    return idle
