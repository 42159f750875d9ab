"""Paired comparison of rows over the cells they share (same data, same seed).

Two rows trained on the same data with the same seed differ by the method
alone, so their difference in one cell is a cleaner number than the
difference of their means ± std over cells: the seed-to-seed spread (often
larger than the gap between methods) cancels. The table below gives, for each
pair of rows, the mean difference over the shared cells, the smallest one,
and in how many cells the row was at least as good as the column.
"""
from __future__ import annotations

from typing import Any, Callable, Dict, Hashable, List, Mapping, Optional, Sequence

__all__ = ['cell_values', 'paired_differences', 'paired_table']


def cell_values(summary: Mapping[str, Any], *, tiou: float = 0.5,
                cell: Callable[[int], Hashable] = lambda seed: seed
                ) -> Dict[str, Dict[Hashable, float]]:
    """Per-cell mAP at ``tiou`` of every row of an ablation / comparison summary.

    Args:
        summary: :func:`~.report.summarize`'s output (``tiou`` and ``rows`` with
            ``seeds`` and ``mAP['values']``, one list per seed).
        tiou: The tIoU threshold.
        cell: Key of a seed's cell (e.g. ``lambda s: (setting, s)`` in a sweep).

    Returns:
        dict: ``{row: {cell: mAP}}``; rows without that tIoU are left out.
    """
    idx = [i for i, t in enumerate(summary.get('tiou', [])) if abs(t - tiou) < 1e-9]
    if not idx:
        return {}
    out: Dict[str, Dict[Hashable, float]] = {}
    for key, row in summary.get('rows', {}).items():
        values = row.get('mAP', {}).get('values') or []
        out[key] = {cell(s): float(v[idx[0]]) for s, v in zip(row.get('seeds', []), values)
                    if v is not None and v[idx[0]] is not None}
    return out


def paired_differences(values: Mapping[str, Mapping[Hashable, float]]
                       ) -> Dict[str, Dict[str, Dict[str, Any]]]:
    """Row minus column over the cells both have, for every ordered pair of rows.

    Args:
        values: ``{row: {cell: score}}`` (:func:`cell_values`).

    Returns:
        dict: ``{row: {other: {'mean', 'min', 'max', 'at_least', 'cells'}}}``;
        ``at_least`` counts the shared cells where the row scores at least the
        other's; pairs without a shared cell are left out.
    """
    out: Dict[str, Dict[str, Dict[str, Any]]] = {}
    for a, va in values.items():
        for b, vb in values.items():
            if a == b:
                continue
            shared = [c for c in va if c in vb]
            if not shared:
                continue
            diffs = [va[c] - vb[c] for c in shared]
            out.setdefault(a, {})[b] = {
                'mean': sum(diffs) / len(diffs), 'min': min(diffs), 'max': max(diffs),
                'at_least': sum(1 for d in diffs if d >= 0), 'cells': len(diffs)}
    return out


def _signed(value: float) -> str:
    """``value`` with a sign and one decimal; a value that rounds to zero prints ``+0.0``."""
    text = f'{value:+.1f}'
    return '+0.0' if text == '-0.0' else text


def paired_table(values: Mapping[str, Mapping[Hashable, float]], *,
                 labels: Optional[Mapping[str, str]] = None, unit: str = 'seed',
                 scale: float = 100.0, metric: str = 'mAP@0.5') -> List[str]:
    """Markdown lines of the paired comparison (empty with fewer than two rows or cells).

    Each entry is "mean [smallest] k/n": the row's score minus the column's,
    averaged over the n cells both ran, the smallest of those differences, and
    the number of cells where the row was at least as good.

    Args:
        values: ``{row: {cell: score}}`` (:func:`cell_values`).
        labels: Row labels (default: the keys).
        unit: What a cell is, for the caption ("seed", "setting and seed").
        scale: Multiplier of the scores (100: fractions to percent).
        metric: What the scores are, for the caption.
    """
    rows: Sequence[str] = [k for k, v in values.items() if v]
    diffs = paired_differences({k: values[k] for k in rows})
    if len(rows) < 2 or max((d['cells'] for p in diffs.values() for d in p.values()),
                            default=0) < 2:
        return []
    labels = labels or {}
    lines = ['', f'Paired differences of {metric} (a cell is one {unit}: the same data and '
             'training seed for every row, so the spread between cells cancels): row minus '
             'column, mean over the cells both ran [smallest difference], and in how many of '
             'them the row is at least as good:', '',
             '| row | ' + ' | '.join(rows) + ' |', '|---|' + '--:|' * len(rows)]
    for a in rows:
        cells = []
        for b in rows:
            d = diffs.get(a, {}).get(b)
            if a == b or d is None:
                cells.append('–')
                continue
            cells.append(f'{_signed(scale * d["mean"])} [{_signed(scale * d["min"])}] '
                         f'{d["at_least"]}/{d["cells"]}')
        lines.append(f'| {labels.get(a, a)} | ' + ' | '.join(cells) + ' |')
    return lines
