"""Has a training run converged, and did each term learn? Rules on the training curves."""
from __future__ import annotations

from typing import List, Mapping, Optional, Sequence, Tuple

import numpy as np

__all__ = ['loss_still_falling', 'attention_still_moving', 'attention_declined',
           'detection_declined', 'terms_at_chance', 'ATTENTION_QUANTILES']

#: The quantiles of λ that :func:`attention_still_moving` compares (health metric names).
ATTENTION_QUANTILES = ('lambda_p05', 'lambda_p25', 'lambda_p50', 'lambda_p75', 'lambda_p95')


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


def attention_still_moving(val_curve: Sequence[Mapping[str, float]], *, window: float = 0.25,
                           tolerance: float = 0.05, prefix: str = 'health/') -> Optional[bool]:
    """Whether λ's distribution over the validated videos still moved at the end of a run.

    Compares the quantiles of λ (:data:`ATTENTION_QUANTILES`) at the last
    validation with those at the latest validation at least ``window`` of
    the run's length before it::

        shift = mean over q of |q(last) - q(reference)|
        not converged  <=>  shift > tolerance

    The quantiles use no ground truth, so the rule can read a validation on
    any split. It catches what the training loss hides: under 1/T pooling a
    saturated λ can go on falling for thousands of iterations while the
    total loss barely moves (the classification term dominates it), and
    the proposals change with it. Models whose λ is still moving describe
    an unfinished run.

    Args:
        val_curve: Validation rows ``{'iter': n, '<prefix>lambda_p05': ...}``
            in any order (:class:`~wsal.engine.LossCurveHook`'s ``val``).
        window: Share of the last validated iteration that separates the
            two compared validations.
        tolerance: Mean absolute quantile change above which λ counts as
            still moving (λ is in [0, 1]).
        prefix: Prefix of the quantile keys in the rows.

    Returns:
        True (still moving, not converged), False (settled), or None when
        no two validations are far enough apart or a quantile is missing
        or not finite.
    """
    if not 0 < window < 1:
        raise ValueError(f'window must be in (0, 1), got {window}')
    if tolerance < 0:
        raise ValueError(f'tolerance must be >= 0, got {tolerance}')
    keys = [prefix + q for q in ATTENTION_QUANTILES]
    rows = sorted((r for r in val_curve if 'iter' in r and all(k in r for k in keys)),
                  key=lambda r: float(r['iter']))
    if len(rows) < 2:
        return None
    last = rows[-1]
    limit = (1.0 - window) * float(last['iter'])
    earlier = [r for r in rows[:-1] if float(r['iter']) <= limit]
    if not earlier:
        return None
    a = np.asarray([float(last[k]) for k in keys])
    b = np.asarray([float(earlier[-1][k]) for k in keys])
    if not (np.isfinite(a).all() and np.isfinite(b).all()):
        return None
    return bool(float(np.abs(a - b).mean()) > tolerance)


def attention_declined(val_curve: Sequence[Mapping[str, float]], *, tolerance: float = 0.05,
                       prefix: str = 'health/', metric: str = 'auc_video') -> List[str]:
    """Where λ's frame ranking ended well below its best validation of the run.

    For the stream mean (``'mean'``, key ``<prefix><metric>``) and each
    stream (``<prefix><stream>/<metric>``), compares λ's ROC AUC against the
    ground truth at the last validation with the highest one at any earlier
    validation::

        declined  <=>  auc(last) < max(auc(earlier)) - tolerance

    The default metric, ``auc_video``, is the AUC within each video averaged
    over the videos (:func:`~wsal.evaluation.attention_health`): the
    proposals threshold λ within each video, so its ranking there is what
    they read. ``auc`` pools every frame of every video, and also moves with
    λ's level from video to video. Curves logged before ``auc_video``
    existed carry only ``auc``; it is read when no row has the metric.

    A model whose λ once ranked the action frames well and lost it later
    has been moved off the actions by its training, not left unfinished:
    the final checkpoint's numbers are then lower than the same run's
    earlier ones, and a longer run does not bring them back. The flag
    reads the ground truth of the validated split (the test split in
    ``wsal ablate``), so it describes the run and selects nothing: the
    numbers reported stay the final checkpoint's.

    Args:
        val_curve: Validation rows ``{'iter': n, '<prefix>auc': ...,
            '<prefix>rgb/auc': ...}`` in any order
            (:class:`~wsal.engine.LossCurveHook`'s ``val``).
        tolerance: AUC drop from the best earlier validation above which a
            stream counts as declined.
        prefix: Prefix of the AUC keys in the rows.
        metric: ``'auc_video'`` (default) or ``'auc'`` (see above).

    Returns:
        list[str]: ``'mean'`` and the stream names that declined, in that
        order (streams sorted); empty when none did or fewer than two
        validations carry the key.
    """
    if tolerance < 0:
        raise ValueError(f'tolerance must be >= 0, got {tolerance}')
    if metric not in ('auc_video', 'auc'):
        raise ValueError(f"metric must be 'auc_video' or 'auc', got {metric!r}")
    rows = sorted((r for r in val_curve if 'iter' in r), key=lambda r: float(r['iter']))

    def names_of(m):  # '' for the stream mean's key, '<stream>' for '<stream>/<m>'
        return sorted({k[len(prefix):-len(m)].rstrip('/') for r in rows for k in r
                       if k.startswith(prefix) and k[len(prefix):].count('/') <= 1
                       and k[len(prefix):].split('/')[-1] == m})

    names = names_of(metric)
    if not names and metric == 'auc_video':
        metric, names = 'auc', names_of('auc')
    out = []
    for name in names:
        key = f'{prefix}{name}/{metric}' if name else f'{prefix}{metric}'
        values = [float(r[key]) for r in rows if key in r and np.isfinite(float(r[key]))]
        if len(values) >= 2 and values[-1] < max(values[:-1]) - tolerance:
            out.append(name or 'mean')
    return out


def detection_declined(val_curve: Sequence[Mapping[str, float]], *,
                       key: str = 'detection/mAP@0.5', relative: float = 0.1,
                       absolute: float = 0.01) -> bool:
    """Whether a run's detection mAP ended well below its best earlier validation.

    With ``best`` the highest value of ``key`` at any validation before the
    last one and ``last`` the last one's::

        declined  <=>  last < best - max(relative * best, absolute)

    A model whose localization peaked during training and fell afterwards
    (a class map fitted ever more closely to the training videos, for one)
    reports final numbers below what the same run reached earlier; more
    iterations would lower them further, not raise them. The defaults call a
    fall of more than a tenth of the best value, and more than one point of
    mAP, a decline: validations of a settled run move by less (on the
    forty-first to forty-third generators, 95 % of 78 validated runs ended
    within 4.1 points of their best). The rule marks W-TALC's three seeds on
    the forty-third generator at 8000 iterations (falls of 7 to 16 points
    from a best of 64 to 68) and UM's three on the forty-second (12.0 to
    7.5, 9.7 to 6.9, 7.2 to 5.7); of the full model's, two of three seeds
    with a per-frame embedding on the forty-first (36.0 to 31.3, 31.0 to
    26.5), one on the forty-fourth (39.7 to 32.3), and none without one. The
    validated split is the test split in ``wsal ablate``; the rule describes
    the run and selects nothing.

    Args:
        val_curve: Validation rows ``{'iter': n, key: value, ...}`` in any
            order (:class:`~wsal.engine.LossCurveHook`'s ``val``); rows
            without ``key`` or with a non-finite value are skipped.
        key: The metric, a fraction (``detection/mAP@0.5`` is 0 to 1).
        relative: Share of the best value the fall must exceed.
        absolute: Fall the decline must exceed whatever the best value.

    Returns:
        bool: False when fewer than two validations carry ``key``.

    Raises:
        ValueError: ``relative`` or ``absolute`` negative.
    """
    if relative < 0 or absolute < 0:
        raise ValueError(f'relative and absolute must be >= 0, got {relative} and {absolute}')
    rows = sorted((r for r in val_curve if 'iter' in r and key in r),
                  key=lambda r: float(r['iter']))
    values = [float(r[key]) for r in rows if np.isfinite(float(r[key]))]
    if len(values) < 2:
        return False
    best = max(values[:-1])
    return bool(values[-1] < best - max(relative * best, absolute))


def terms_at_chance(curve: Sequence[Mapping[str, float]], chance: Mapping[str, Tuple[str, float]],
                    *, window: float = 0.1, tolerance: float = 0.05) -> List[str]:
    """The loss terms that stayed at their chance level at the end of a run (idle terms).

    A classification term at its chance level (uniform logits, e.g.
    ``ln(C + 1)`` for L_bg) has taught its classifier nothing beyond a
    uniform guess. (Where that level is also the term's floor, as for L_bg
    beside centred class logits, the caller leaves the term out: held at its
    floor it still shapes the model.) A term is *idle* when the mean
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
