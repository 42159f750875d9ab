"""Attention-health flags of a test run, for the tables that report its numbers."""
from __future__ import annotations

import math
from typing import Any, List, Mapping

__all__ = ['health_flags', 'HEALTH_NOTE']

#: What a flag next to a row means.
HEALTH_NOTE = ('attention health on the test split: detections from a collapsed or saturated '
               'λ, or one higher outside the actions than inside (inverted), are not to be trusted')


def _num(metrics: Mapping[str, Any], key: str):
    v = metrics.get(key)
    return float(v) if isinstance(v, (int, float)) and math.isfinite(v) else None


def health_flags(metrics: Mapping[str, Any], *, prefix: str = 'health/') -> List[str]:
    """``['saturated:mean,rgb', 'inverted:flow']`` from a run's ``health/...`` metrics.

    ``mean`` is the stream-averaged λ, the other names are streams. Empty
    when healthy (or when the run logged no attention health).
    """
    health = {k[len(prefix):]: v for k, v in metrics.items() if str(k).startswith(prefix)}
    where = [''] + sorted({k.split('/')[0] + '/' for k in health if '/' in k})
    out = []
    for flag in ('collapsed', 'saturated', 'inverted'):
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
