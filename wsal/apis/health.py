"""Attention-health flags of a test run, for the tables that report its numbers."""
from __future__ import annotations

import math
from typing import Any, Dict, List, Mapping, Optional, Sequence

__all__ = ['health_metrics', 'health_flags', 'attention_flags', 'class_signal_reading',
           'HEALTH_NOTE', 'ATTENTION_FLAGS']

#: What a flag next to a row means.
HEALTH_NOTE = ('attention health on the test split: detections from a collapsed or saturated '
               'λ, or one higher outside the actions than inside (inverted), are not to be trusted')

#: Flags of λ itself, in the order :func:`health_flags` lists them.
ATTENTION_FLAGS = ('collapsed', 'saturated', 'inverted')


def _num(metrics: Mapping[str, Any], key: str):
    v = metrics.get(key)
    return float(v) if isinstance(v, (int, float)) and math.isfinite(v) else None


def health_metrics(metrics: Mapping[str, Any], *,
                   prefix: str = 'health/') -> Dict[str, Optional[float]]:
    """A run's numeric ``health/...`` metrics without the prefix, JSON-safe.

    Args:
        metrics: A run's metrics (``health/lambda_in``, ``detection/mAP@0.5``, ...).
        prefix: Key prefix of the health metrics.

    Returns:
        dict: ``{'lambda_in': 0.7, 'rgb/auc': ...}``, floats; NaN and
        infinite values (an AUC without frames of both kinds) become None.
    """
    return {k[len(prefix):]: (float(v) if math.isfinite(v) else None)
            for k, v in metrics.items()
            if str(k).startswith(prefix) and isinstance(v, (int, float))}


def health_flags(metrics: Mapping[str, Any], *, prefix: str = 'health/') -> List[str]:
    """``['saturated:mean,rgb', 'inverted:flow']`` from a run's ``health/...`` metrics.

    ``mean`` is the stream-averaged λ, the other names are streams. Empty
    when healthy (or when the run logged no attention health).
    """
    return attention_flags(health_metrics(metrics, prefix=prefix))


def attention_flags(health: Mapping[str, Any], *,
                    order: Sequence[str] = ATTENTION_FLAGS) -> List[str]:
    """The attention flags of health metrics without prefix, in ``order``.

    * ``inverted``: λ lower inside the ground truth than outside
      (``<stream>/lambda_in < <stream>/lambda_out``);
    * ``collapsed`` / ``saturated``: :class:`~wsal.evaluation.AttentionHealth`'s
      flags of λ.

    Args:
        health: ``{'lambda_in': 0.7, 'rgb/lambda_in': ..., 'rgb/saturated': 0.0}``
            (:func:`health_metrics`).
        order: Which flags to test, in the order they are listed.

    Returns:
        list[str]: ``'<flag>:<where>'``, where ``mean`` is the stream-averaged
        λ and the other names are streams (sorted).

    Raises:
        ValueError: a name in ``order`` that is not an attention flag.
    """
    unknown = [f for f in order if f not in ATTENTION_FLAGS]
    if unknown:
        raise ValueError(f'unknown attention flag(s) {unknown}; expected {ATTENTION_FLAGS}')
    where = [''] + sorted({k.split('/')[0] + '/' for k in health if '/' in k})
    out = []
    for flag in order:
        hit = []
        for p in where:
            if flag == 'inverted':
                lin, lout = _num(health, p + 'lambda_in'), _num(health, p + 'lambda_out')
                bad = lin is not None and lout is not None and lin < lout
            else:
                bad = bool(_num(health, p + flag))
            if bad:
                hit.append(p.rstrip('/') or 'mean')
        if hit:
            out.append(f'{flag}:{",".join(hit)}')
    return out


#: Proposal generators that threshold λ alone.
LAMBDA_PROPOSALS = ('AttentionThresholdProposals',)


def class_signal_reading(metrics: Mapping[str, Any], *, proposal: str = '',
                         prefix: str = 'health/', margin: float = 0.05) -> str:
    """One line on which signal orders the frames of the videos' classes better.

    Args:
        metrics: A test run's metrics, with ``health/auc_class_lambda`` and
            ``health/auc_class_map`` (``AttentionHealth``).
        proposal: The type name of the config's proposal generator.
        prefix: Key prefix of the health metrics.
        margin: How far above λ's AUC the class map's must be for the hint. On
            the data measured, fused-rank proposals gained 3.8 mAP@0.5 where
            the class map was 0.07–0.09 ahead (the forty-second independent
            generator) and nothing where it was 0.03–0.04 ahead (two cells of
            wsal's ``weak_cue`` setting).

    Returns:
        str: ``''`` without both AUCs; else the two AUCs and, when the class
        map is ahead of λ by more than ``margin`` while the proposals threshold
        λ alone, where to read about proposals that use both.
    """
    lam, cmap = _num(metrics, prefix + 'auc_class_lambda'), _num(metrics, prefix + 'auc_class_map')
    if lam is None or cmap is None:
        return ''
    line = (f'frame AUC against each video\'s frames of each of its classes: λ {lam:.3f}, '
            f'class map {cmap:.3f}')
    if proposal in LAMBDA_PROPOSALS and cmap > lam + margin:
        line += ('; the proposals threshold λ, the weaker of the two here: proposals that read '
                 'both (FusedRankProposals, README "Model settings") may localize better')
    return line
