"""Text tables of detection mAP that state their protocol.

:func:`format_map_table` prints one result (percent) with the subset, the
number of videos, the video list, the tIoU list and the averaging ranges;
:func:`format_map_comparison` puts several models side by side (the layout
of the paper's Table 2). Both accept a :class:`DetectionResult` or its JSON
form (``DetectionResult.to_dict()``, e.g. read back from ``metrics.json``).
"""
from __future__ import annotations

import os
from typing import Any, Dict, List, Mapping, Optional, Union

__all__ = ['format_map_table', 'format_map_comparison', 'describe_protocol']

ResultLike = Union['DetectionResult', Mapping[str, Any]]  # noqa: F821


def _as_dict(result: ResultLike) -> Dict[str, Any]:
    if hasattr(result, 'to_dict'):
        return result.to_dict()
    if not isinstance(result, Mapping) or 'tiou' not in result or 'mAP' not in result:
        raise ValueError('expected a DetectionResult or its JSON form with "tiou" and "mAP"')
    return dict(result)


def _short(path: Optional[str]) -> Optional[str]:
    if path is None:
        return None
    return os.path.basename(path) if not path.startswith('<') else path


def describe_protocol(protocol: Mapping[str, Any], *, units: str = 'percent') -> List[str]:
    """Human-readable protocol lines (ground truth, videos, classes, predictions, tIoU)."""
    p = protocol
    lines = []
    subset = p.get('subset')
    vids = f"{p.get('num_videos')} videos"
    if p.get('video_list'):
        left = p.get('videos_left_out_by_list') or []
        vids += f" (video list {_short(p['video_list'])}"
        if left:
            shown = ', '.join(left[:4]) + (' ...' if len(left) > 4 else '')
            vids += (f"; leaves out {len(left)} of the subset's "
                     f"{p.get('num_subset_videos')}: {shown}")
        vids += ')'
    elif subset is not None:
        vids += ' (all videos of the subset, no video list)'
    gt = _short(p.get('ground_truth'))
    lines.append(f"ground truth: {gt}, subset {subset!r}, {vids}" if subset is not None
                 else f'ground truth: {gt}, {vids}')
    cls = (f"classes: {p.get('num_classes')} with ground truth, "
           f"{p.get('num_ground_truth')} instances")
    if p.get('classes_without_ground_truth'):
        cls += f"; not evaluated (no ground truth): {', '.join(p['classes_without_ground_truth'])}"
    lines.append(cls)
    if 'num_predictions' in p:
        pr = (f"predictions: {p['num_predictions']} read, {p.get('num_predictions_evaluated')} "
              'evaluated')
        n_out = p.get('num_predictions_outside_videos', 0)
        if n_out:
            how = {'ignore': 'ignored', 'false_positive': 'counted as false positives'}.get(
                p.get('outside_videos'), p.get('outside_videos'))
            pr += (f", {n_out} on {p.get('num_outside_videos')} videos outside the evaluated "
                   f'set ({how})')
        if p.get('num_predictions_unknown_label_ignored'):
            pr += f", {p['num_predictions_unknown_label_ignored']} with unknown labels ignored"
        if p.get('num_predictions_class_without_ground_truth'):
            pr += (f", {p['num_predictions_class_without_ground_truth']} of classes without "
                   'ground truth (not evaluated)')
        lines.append(pr)
    ths = p.get('tiou_thresholds')
    if ths is not None:
        lines.append(f"tIoU thresholds: {' '.join(f'{t:g}' for t in ths)}; average mAP over "
                     f"{', '.join(p.get('average_ranges') or [p.get('average_mAP_range', '')])}; "
                     f'values in {units}')
    return lines


def _avg_columns(d: Dict[str, Any]) -> Dict[str, float]:
    avgs = dict(d.get('averages') or {})
    if not avgs:
        ts = d['tiou']
        avgs = {f'{min(ts):g}-{max(ts):g}': d['average_mAP']}
    return avgs


def format_map_table(result: ResultLike, *, per_class: bool = False, percent: bool = True,
                     title: str = 'Detection mAP', digits: int = 2) -> str:
    """One result as a table with its protocol.

    Args:
        result: A DetectionResult or its JSON form.
        per_class: Add one row of AP per class.
        percent: Show percent (default) or fractions.
        title: First line.
        digits: Decimals.

    Returns:
        str: the table (no trailing newline).
    """
    d = _as_dict(result)
    scale = 100.0 if percent else 1.0
    units = 'percent' if percent else 'fractions'
    avgs = _avg_columns(d)
    head = [f'{t:g}' for t in d['tiou']] + [f'avg {k}' for k in avgs]
    rows = [('mAP', list(d['mAP']) + list(avgs.values()))]
    if per_class:
        for name, aps in (d.get('per_class_AP') or {}).items():
            rows.append((name, list(aps) + [None] * len(avgs)))
    w0 = max([len('tIoU')] + [len(r[0]) for r in rows])
    widths = [max(digits + 4, len(h)) for h in head]
    out = [f"{title} ({'%' if percent else 'fraction'})"]
    out += ['  ' + line for line in describe_protocol(d.get('protocol') or {}, units=units)]
    out.append(_row('tIoU', w0, head, widths))
    out += [_row(name, w0, [_num(v, scale, digits) for v in vals], widths) for name, vals in rows]
    return '\n'.join(out)


_KEY_FIELDS = ('ground_truth', 'subset', 'num_videos', 'video_list', 'tiou_thresholds',
               'num_classes', 'outside_videos')


def format_map_comparison(results: Mapping[str, ResultLike], *, percent: bool = True,
                          title: str = 'Detection mAP', digits: int = 1,
                          notes: Optional[Mapping[str, str]] = None) -> str:
    """Several models side by side: one row per model, columns tIoU then averages.

    All results must use the same tIoU thresholds. When their protocols differ
    (another subset, video list, ...) each model's protocol is printed and the
    table says so; otherwise the shared protocol is printed once.

    Args:
        results: ``{model name: result}`` in row order.
        percent: Show percent (default) or fractions.
        title: First line.
        digits: Decimals (1, as in most papers' tables).
        notes: ``{model name: text}`` printed after that model's row (e.g.
            health flags: ``'[saturated: rgb]'``).

    The prediction counts are each model's own (one line per model).
    """
    if not results:
        raise ValueError('format_map_comparison needs at least one result')
    ds = {name: _as_dict(r) for name, r in results.items()}
    first = next(iter(ds.values()))
    for name, d in ds.items():
        if [round(t, 9) for t in d['tiou']] != [round(t, 9) for t in first['tiou']]:
            raise ValueError(f"result '{name}' uses tIoU {d['tiou']}, others {first['tiou']}: "
                             'not comparable side by side')
    avg_names: List[str] = []
    for d in ds.values():
        avg_names += [k for k in _avg_columns(d) if k not in avg_names]
    scale = 100.0 if percent else 1.0
    units = 'percent' if percent else 'fractions'
    head = [f'{t:g}' for t in first['tiou']] + [f'avg {k}' for k in avg_names]
    w0 = max([len('tIoU')] + [len(n) for n in ds])
    widths = [max(digits + 4, len(h)) for h in head]
    out = [f"{title} ({'%' if percent else 'fraction'})"]
    protos = {n: {k: (d.get('protocol') or {}).get(k) for k in _KEY_FIELDS} for n, d in ds.items()}
    same = all(p == protos[next(iter(protos))] for p in protos.values())
    if same:
        shared = describe_protocol(first.get('protocol') or {}, units=units)
        out += ['  ' + line for line in shared if not line.startswith('predictions:')]
        for n, d in ds.items():  # counts differ from model to model
            out += [f'  [{n}] ' + line
                    for line in describe_protocol(d.get('protocol') or {}, units=units)
                    if line.startswith('predictions:')]
    else:
        out.append('  PROTOCOLS DIFFER between rows:')
        for n, d in ds.items():
            out += [f'  [{n}] ' + line
                    for line in describe_protocol(d.get('protocol') or {}, units=units)]
    out.append(_row('tIoU', w0, head, widths))
    for n, d in ds.items():
        avgs = _avg_columns(d)
        vals = list(d['mAP']) + [avgs.get(k) for k in avg_names]
        row = _row(n, w0, [_num(v, scale, digits, missing='-') for v in vals], widths)
        note = (notes or {}).get(n)
        out.append(f'{row}  {note}' if note else row)
    return '\n'.join(out)


def _num(v: Optional[float], scale: float, digits: int, missing: str = '') -> str:
    return missing if v is None else f'{v * scale:.{digits}f}'


def _row(name: str, w0: int, cells: List[str], widths: List[int]) -> str:
    return (f'{name:<{w0}}  ' + '  '.join(f'{c:>{w}}' for c, w in zip(cells, widths))).rstrip()
