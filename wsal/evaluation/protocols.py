"""Evaluation protocols: tIoU threshold presets and averaging ranges.

Thresholds are the nearest doubles to their decimal values (0.3 is ``0.3``,
not ``0.1 + 0.2``); a tIoU exactly equal to a threshold counts as a match.

==============  ======================  ====================================
preset          tIoU thresholds         reported averages
==============  ======================  ====================================
``thumos14``    0.1:0.1:0.9 (9)         over 0.1–0.7 and over 0.1–0.9 (all)
``activitynet`` 0.5:0.05:0.95 (10)      over 0.5–0.95 (all)
==============  ======================  ====================================
"""
from __future__ import annotations

from typing import Dict, Iterable, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

__all__ = ['PRESETS', 'get_preset', 'parse_tiou', 'threshold_range', 'range_name',
           'check_thresholds', 'resolve_average_ranges']


def threshold_range(start: float, stop: float, step: float) -> List[float]:
    """``start:step:stop`` inclusive, each value rounded to 10 decimals."""
    n = int(round((stop - start) / step)) + 1
    if n < 1 or abs(start + (n - 1) * step - stop) > 1e-9:
        raise ValueError(f'tIoU range {start}:{step}:{stop} does not end on {stop}')
    return [round(start + i * step, 10) for i in range(n)]


PRESETS: Dict[str, dict] = {
    'thumos14': dict(tiou_thresholds=threshold_range(0.1, 0.9, 0.1),
                     average_ranges=[(0.1, 0.7), (0.1, 0.9)], subset='test'),
    'activitynet': dict(tiou_thresholds=threshold_range(0.5, 0.95, 0.05),
                        average_ranges=[(0.5, 0.95)], subset='validation'),
}


def get_preset(name: str) -> dict:
    """A copy of preset ``name`` (``thumos14`` or ``activitynet``)."""
    if name not in PRESETS:
        raise ValueError(f"unknown evaluation preset '{name}'; choose from {', '.join(PRESETS)}")
    p = PRESETS[name]
    return dict(tiou_thresholds=list(p['tiou_thresholds']),
                average_ranges=list(p['average_ranges']), subset=p['subset'])


def parse_tiou(items: Union[str, Iterable[str]]) -> List[float]:
    """Parse tIoU thresholds: numbers and ``start:step:stop`` ranges, space or comma separated.

    Example:
        >>> parse_tiou(['0.1:0.1:0.5', '0.7'])
        [0.1, 0.2, 0.3, 0.4, 0.5, 0.7]
    """
    if isinstance(items, str):
        items = [items]
    out: List[float] = []
    for item in items:
        for tok in str(item).replace(',', ' ').split():
            try:
                if ':' in tok:
                    parts = [float(x) for x in tok.split(':')]
                    if len(parts) != 3:
                        raise ValueError
                    start, step, stop = parts
                    if step <= 0:
                        raise ValueError
                    out += threshold_range(start, stop, step)
                else:
                    out.append(float(tok))
            except ValueError:
                raise ValueError(f"bad tIoU threshold '{tok}': use numbers such as 0.5 or "
                                 'ranges start:step:stop such as 0.1:0.1:0.9') from None
    return check_thresholds(out)


def check_thresholds(thresholds: Sequence[float]) -> List[float]:
    """Validate a threshold list: non-empty, finite, in [0, 1], no duplicates."""
    vals = [float(t) for t in np.asarray(thresholds, dtype=np.float64).reshape(-1)]
    if not vals:
        raise ValueError('no tIoU thresholds given')
    bad = [t for t in vals if not (0.0 <= t <= 1.0)]
    if bad:
        raise ValueError(f'tIoU thresholds must lie in [0, 1], got {bad}')
    if len(set(vals)) != len(vals):
        raise ValueError(f'tIoU thresholds repeat a value: {vals}')
    return vals


def range_name(lo: float, hi: float) -> str:
    """``'0.1-0.7'``: the key of an averaging range."""
    return f'{lo:g}-{hi:g}'


def resolve_average_ranges(thresholds: Sequence[float],
                           ranges: Optional[Iterable[Sequence[float]]]
                           ) -> Dict[str, Tuple[float, float]]:
    """Map ``'lo-hi'`` to (lo, hi) for every requested range, checking each selects a threshold.

    The range over all thresholds (min–max) is always included.
    """
    ts = np.asarray(thresholds, dtype=np.float64)
    out: Dict[str, Tuple[float, float]] = {}
    for lo, hi in list(ranges or []) + [(float(ts.min()), float(ts.max()))]:
        lo, hi = float(lo), float(hi)
        if lo > hi:
            raise ValueError(f'averaging range {lo}-{hi} is reversed')
        if not ((ts >= lo - 1e-9) & (ts <= hi + 1e-9)).any():
            raise ValueError(f'averaging range {range_name(lo, hi)} contains none of the tIoU '
                             f'thresholds {ts.tolist()}')
        out.setdefault(range_name(lo, hi), (lo, hi))
    return out


def select_range(thresholds: Sequence[float], lo: float, hi: float) -> np.ndarray:
    """Bool mask of the thresholds in [lo, hi] (1e-9 tolerance)."""
    ts = np.asarray(thresholds, dtype=np.float64)
    return (ts >= lo - 1e-9) & (ts <= hi + 1e-9)


def as_pairs(ranges: Optional[Iterable]) -> List[Tuple[float, float]]:
    """Accept ``[(lo, hi), ...]`` or ``{'name': (lo, hi)}`` or ``['0.1-0.7', ...]``."""
    if ranges is None:
        return []
    if isinstance(ranges, Mapping):
        ranges = list(ranges.values())
    out = []
    for r in ranges:
        if isinstance(r, str):
            try:
                lo, hi = (float(x) for x in r.split('-'))
            except ValueError:
                raise ValueError(f"bad averaging range '{r}': use lo-hi such as 0.1-0.7") from None
        else:
            lo, hi = r
        out.append((float(lo), float(hi)))
    return out
