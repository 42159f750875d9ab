"""Range checks for settings, with the owner and key named in the message.

Used at construction by post-processing and evaluation components so that a
bad setting fails before any work with ``Owner: key must ..., got value``.
Pure Python (no torch, no numpy).
"""
from __future__ import annotations

import math
from typing import Any, List, Sequence, Tuple

__all__ = ['check_number', 'check_positive_int', 'check_number_list', 'check_choice']


def _as_float(value: Any, owner: str, key: str, want: str) -> float:
    if isinstance(value, bool):
        raise ValueError(f'{owner}: {key} must be {want}, got {value!r}')
    try:
        out = float(value)
    except (TypeError, ValueError):
        raise ValueError(f'{owner}: {key} must be {want}, got {value!r}') from None
    if not math.isfinite(out):
        raise ValueError(f'{owner}: {key} must be {want}, got {value!r}')
    return out


def _bounds_text(low: float, high: float, open_low: bool, open_high: bool) -> str:
    if high == math.inf:
        return f"{'>' if open_low else '>='} {low:g}"
    return f"in {'(' if open_low else '['}{low:g}, {high:g}{')' if open_high else ']'}"


def check_number(value: Any, *, owner: str, key: str, low: float = -math.inf,
                 high: float = math.inf, open_low: bool = False,
                 open_high: bool = False) -> float:
    """A finite number within the bounds (NaN and infinities rejected).

    Args:
        value: The setting.
        owner: Who owns it (class or function name), first word of the message.
        key: The config key.
        low, high: Bounds.
        open_low, open_high: Exclude the bound itself.

    Returns:
        float: The value.
    """
    want = f'a finite number {_bounds_text(low, high, open_low, open_high)}'
    out = _as_float(value, owner, key, want)
    if out < low or out > high or (open_low and out == low) or (open_high and out == high):
        raise ValueError(f'{owner}: {key} must be {want}, got {value!r}')
    return out


def check_choice(value: Any, *, owner: str, key: str, choices: Sequence[Any]) -> Any:
    """``value`` if it is one of ``choices`` (``None`` may be one), else a ValueError."""
    if value not in choices:
        raise ValueError(f'{owner}: {key} must be one of {tuple(choices)}, got {value!r}')
    return value


def check_positive_int(value: Any, *, owner: str, key: str) -> int:
    """A positive integer (``True`` and non-integral floats rejected)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or int(value) != value \
            or value < 1:
        raise ValueError(f'{owner}: {key} must be a positive integer, got {value!r}')
    return int(value)


def check_number_list(values: Any, *, owner: str, key: str, low: float, high: float,
                      open_low: bool = False, open_high: bool = False,
                      unique: bool = True) -> Tuple[float, ...]:
    """A non-empty list of numbers each within the bounds, optionally without repeats."""
    if isinstance(values, (str, bytes)) or not isinstance(values, Sequence) and not hasattr(
            values, '__iter__'):
        raise ValueError(f'{owner}: {key} must be a list of numbers, got {values!r}')
    items: List[Any] = list(values)
    if not items:
        raise ValueError(f'{owner}: {key} must not be empty')
    out = tuple(check_number(v, owner=owner, key=f'{key}[{i}]', low=low, high=high,
                             open_low=open_low, open_high=open_high)
                for i, v in enumerate(items))
    if unique and len(set(out)) != len(out):
        seen, rep = set(), []
        for v in out:
            if v in seen:
                rep.append(v)
            seen.add(v)
        raise ValueError(f'{owner}: {key} repeats {sorted(set(rep))} (each value once)')
    return out
