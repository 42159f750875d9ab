"""Ablation tables: mean ± std over seeds (JSON summary and Markdown)."""
from __future__ import annotations

from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence

import numpy as np

from wsal.evaluation.diagnostics import MISS_CATEGORIES
from wsal.utils import nonfinite_to_none

from .data_reading import format_data_readings
from .paired import cell_values, paired_differences, paired_table
from .shared_postprocessing import shared_table
from .table1 import LOSS_COLUMNS

__all__ = ['HEALTH_KEYS', 'ATTENTION_KEYS', 'CLASS_AUC_NOTE', 'META_NOTES', 'RECALL_PARTS',
           'summarize', 'best_row',
           'health_cells', 'flags_table', 'recall_table', 'format_markdown', 'val_curve',
           'mean_curve', 'curve_table', 'CURVE_METRIC']

HEALTH_KEYS = ('lambda_in', 'lambda_out', 'in_out_ratio', 'auc', 'auc_video', 'lambda_min',
               'lambda_max', 'lambda_mean', 'lambda_p05', 'lambda_p95', 'frac_above_0.5',
               'frac_videos_collapsed', 'collapsed', 'saturated', 'auc_class_lambda',
               'auc_class_map')
ATTENTION_KEYS = ('lambda_in', 'lambda_out', 'lambda_max', 'auc', 'auc_video')


#: What the health tables' per-class AUC column holds.
CLASS_AUC_NOTE = ('AUC per class: the frame AUC against the frames of each test video\'s '
                  'classes, one class at a time, of λ and of the class map the proposals are '
                  'scored with (mean over the videos\' classes); where the class map is '
                  'higher, proposals that read it (FusedRankProposals) may localize better '
                  'than λ\'s.')

#: How every experiment table is made (``meta`` of the ablation and comparison JSON).
META_NOTES = {
    'seed_policy': 'seed k: synthetic data generated with seed k, training seed k',
    'std': 'sample standard deviation over seeds (ddof=1); 0 with one seed',
    'checkpoint': 'final checkpoint of every run (no selection on the test split)',
}

def _mean_std(values: Sequence[Optional[float]]) -> Dict[str, Any]:
    arr = np.asarray([np.nan if v is None else v for v in values], dtype=np.float64)
    ok = arr[np.isfinite(arr)]
    mean = float(ok.mean()) if ok.size else None
    std = float(ok.std(ddof=1)) if ok.size > 1 else (0.0 if ok.size else None)
    return {'mean': mean, 'std': std, 'values': [nonfinite_to_none(float(v)) for v in arr]}


def summarize(cells: Mapping[str, Mapping[int, Mapping[str, Any]]]) -> Dict[str, Any]:
    """Mean ± sample std (ddof 1) over seeds, per row.

    Args:
        cells: ``{row_key: {seed: cell result}}`` (see :func:`~.cell.run_cell`).

    Returns:
        dict: ``{'tiou': [...], 'rows': {key: {...}}}`` with per row ``marks``,
        ``mAP`` (``{'mean': [T], 'std': [T], 'values': [[T] per seed]}``),
        ``average_mAP`` and ``averages`` (each ``{'mean', 'std', 'values'}``),
        ``health``, ``attention`` (per stream), ``flags`` (``{seed: [...]}``),
        ``classification_mAP``, ``train_seconds``, ``seconds_per_iter``,
        ``checkpoint_selection``, ``seeds`` and ``val_curve`` (:func:`val_curve`);
        and ``paired``, the rows' paired differences of mAP@0.5 over the seeds
        both ran (:func:`~.paired.paired_differences`).
    """
    tiou = None
    rows: Dict[str, Any] = {}
    for key, by_seed in cells.items():
        if not by_seed:
            continue
        seeds = sorted(by_seed)
        res = [by_seed[s] for s in seeds]
        t = res[0]['detection']['tiou']
        if tiou is None:
            tiou = t
        elif list(t) != list(tiou):
            raise ValueError(f'row {key}: tIoU thresholds differ between cells')
        maps = np.asarray([r['detection']['mAP'] for r in res], dtype=np.float64)
        ranges = sorted({k for r in res for k in r['detection'].get('averages', {})})
        rows[key] = {
            'name': res[0]['row']['name'], 'config': res[0]['row']['config'],
            'marks': res[0]['marks'], 'seeds': seeds,
            'checkpoint_selection': sorted({r.get('checkpoint_selection', 'final') for r in res}),
            'mAP': {'mean': maps.mean(0).tolist(),
                    'std': (maps.std(0, ddof=1) if len(seeds) > 1 else np.zeros(maps.shape[1])).tolist(),
                    'values': maps.tolist()},
            'average_mAP': _mean_std([r['detection']['average_mAP'] for r in res]),
            'averages': {k: _mean_std([r['detection']['averages'].get(k) for r in res])
                         for k in ranges},
            'health': {k: _mean_std([r['health'].get(k) for r in res]) for k in HEALTH_KEYS},
            'attention': {st: {k: _mean_std([(r.get('attention', {}).get(st) or {}).get(k)
                                             for r in res]) for k in ATTENTION_KEYS}
                          for st in res[0].get('attention', {})},
            'flags': {str(s): list(r.get('flags', [])) for s, r in zip(seeds, res)},
            'classification_mAP': _mean_std([r.get('classification_mAP') for r in res]),
            'train_seconds': _mean_std([r['train_seconds'] for r in res]),
            'seconds_per_iter': _mean_std([r['seconds_per_iter'] for r in res]),
            'recall_at_0.5': {k: _mean_std([_recall_part(r, k) for r in res])
                              for k in RECALL_PARTS},
            'val_curve': val_curve(res),
        }
    out = {'tiou': list(tiou or []), 'rows': rows}
    out['paired'] = paired_differences(cell_values(out))
    return out


#: The metric of the learning-curve tables.
CURVE_METRIC = 'detection/mAP@0.5'


def val_curve(cells: Sequence[Mapping[str, Any]], *, metric: str = CURVE_METRIC
              ) -> Optional[Dict[str, Any]]:
    """The validation curve of a row: ``metric`` at every iteration all its cells validated.

    Validation runs only with ``--val-interval`` and is monitoring (the test
    split; no checkpoint is chosen with it).

    Args:
        cells: The row's cell results, one per seed (``curves['val']``: a list of
            ``{'iter', metric, ...}``).
        metric: The validation metric.

    Returns:
        dict | None: ``{'iters': [...], 'mean': [...], 'std': [...], 'values':
        [[one per seed] per iteration]}``, or None when no iteration was
        validated in every cell.
    """
    return mean_curve([{int(p['iter']): p[metric] for p in (cell.get('curves') or {}).get('val', [])
                        if p.get(metric) is not None and 'iter' in p} for cell in cells])


def mean_curve(per_cell: Sequence[Mapping[int, float]]) -> Optional[Dict[str, Any]]:
    """Mean ± sample std over cells at every iteration all cells have.

    Args:
        per_cell: ``{iteration: value}`` per cell.

    Returns:
        dict | None: ``{'iters', 'mean', 'std', 'values'}`` (``values``: one list
        per iteration, one value per cell), or None without a common iteration.
    """
    if not per_cell:
        return None
    iters = sorted(set.intersection(*(set(p) for p in per_cell)))
    if not iters:
        return None
    stats = [_mean_std([p[i] for p in per_cell]) for i in iters]
    return {'iters': iters, 'mean': [st['mean'] for st in stats],
            'std': [st['std'] for st in stats], 'values': [st['values'] for st in stats]}


def curve_table(curves: Mapping[str, Optional[Mapping[str, Any]]], *,
                labels: Mapping[str, str], caption: str) -> List[str]:
    """Markdown lines of learning curves: one line per row, one column per iteration.

    Args:
        curves: ``{row: val_curve or None}``; rows without a curve are left out.
        labels: Row labels.
        caption: The sentence above the table.

    Returns:
        list: The lines (empty when no row has a curve).
    """
    rows = {k: c for k, c in curves.items() if c}
    if not rows:
        return []
    iters = sorted({i for c in rows.values() for i in c['iters']})
    lines = ['', caption, '', '| row | ' + ' | '.join(str(i) for i in iters) + ' |',
             '|---|' + '--:|' * len(iters)]
    for key, c in rows.items():
        at = dict(zip(c['iters'], c['mean']))
        lines.append(f'| {labels.get(key, key)} | ' + ' | '.join(
            '–' if at.get(i) is None else f'{100 * at[i]:.1f}' for i in iters) + ' |')
    return lines


#: Columns of the recall table: score-free recall at tIoU 0.5 and the missed
#: instances by cause (fractions of all instances; wsal.evaluation.diagnostics).
RECALL_PARTS = ('recall', 'recall_any_class') + MISS_CATEGORIES


def _recall_part(cell: Mapping[str, Any], part: str, tiou: float = 0.5) -> Optional[float]:
    """One recall-table value of a cell at ``tiou`` (None: cell without diagnostics)."""
    d = cell['detection'].get('diagnostics')
    if not d:
        return None
    idx = [i for i, t in enumerate(d['tiou']) if abs(t - tiou) < 1e-9]
    if not idx:
        return None
    if part in ('recall', 'recall_any_class'):
        return d[part][idx[0]]
    return d['missed'][part][idx[0]] / max(1, d['num_ground_truth'])


def _at(summary: Mapping[str, Any], key: str, tiou: float) -> Optional[float]:
    row = summary['rows'].get(key)
    if row is None:
        return None
    idx = [i for i, t in enumerate(summary['tiou']) if abs(t - tiou) < 1e-9]
    return row['mAP']['mean'][idx[0]] if idx else None


def best_row(summary: Mapping[str, Any], *, tiou: float = 0.5) -> Optional[str]:
    """Key of the row with the highest mean mAP at ``tiou`` (None without rows)."""
    scored = [(v, k) for k in summary['rows'] if (v := _at(summary, k, tiou)) is not None]
    return max(scored)[1] if scored else None


def _pm(stat: Mapping[str, Any], scale: float = 100.0, digits: int = 1) -> str:
    if stat.get('mean') is None:
        return 'n/a'
    if len(stat.get('values', [])) <= 1:
        return f'{scale * stat["mean"]:.{digits}f}'
    return f'{scale * stat["mean"]:.{digits}f} ± {scale * stat["std"]:.{digits}f}'


def health_cells(row: Mapping[str, Any]) -> Dict[str, str]:
    """The formatted health, classification and timing cells of one summary row.

    Args:
        row: A row of :func:`summarize` (``health``, ``seeds``,
            ``classification_mAP``, ``train_seconds``, ``seconds_per_iter``).

    Returns:
        dict: Markdown cell text per column: the health keys with a mean
        (3 decimals; ``in_out_ratio`` and ``frac_above_0.5`` 2; ``n/a`` when
        unknown), ``auc_class`` (``'<λ> / <class map>'``: their frame AUCs
        against each video's frames of each of its classes, see
        ``AttentionHealth``; ``n/a`` when unknown), ``collapsed_saturated``
        (``'<n> / <m> of <seeds>'``),
        ``classification_mAP``, ``train_seconds`` and ``ms_per_iter``.
    """
    h = row['health']
    cells = {k: ('n/a' if h[k]['mean'] is None
                 else f'{h[k]["mean"]:.{2 if k in ("in_out_ratio", "frac_above_0.5") else 3}f}')
             for k in ('lambda_in', 'lambda_out', 'in_out_ratio', 'auc', 'auc_video',
                       'lambda_min', 'lambda_max', 'frac_above_0.5') if k in h}
    pair = [h.get(k, {}).get('mean') for k in ('auc_class_lambda', 'auc_class_map')]
    cells['auc_class'] = 'n/a' if None in pair else f'{pair[0]:.3f} / {pair[1]:.3f}'
    n_col = sum(int(v or 0) for v in h['collapsed']['values'])
    n_sat = sum(int(v or 0) for v in h['saturated']['values'])
    cells['collapsed_saturated'] = f'{n_col} / {n_sat} of {len(row["seeds"])}'
    cells['classification_mAP'] = _pm(row['classification_mAP'])
    cells['train_seconds'] = _pm(row['train_seconds'], 1.0, 0)
    cells['ms_per_iter'] = _pm(row['seconds_per_iter'], 1000.0, 1)
    return cells


def flags_table(summary: Mapping[str, Any], *, seeds: Sequence[int], column: str,
                label: Callable[[str, Mapping[str, Any]], str]) -> List[str]:
    """Markdown lines of the failure-flags table: one row per summary row, one column per seed.

    Args:
        summary: :func:`summarize` output (rows carry ``flags`` per seed).
        seeds: The seeds, one column each.
        column: Heading of the first column.
        label: ``label(key, row)`` is the text of a row's first cell.

    Returns:
        list[str]: The lines, starting with a blank line and the legend.
    """
    lines = ['', 'Failure flags per cell (inverted: λ lower inside GT than outside; '
             'collapsed / saturated: AttentionHealth; not-converged: training loss still '
             'falling over the last tenth of the iterations (under a rate annealed to 0, as '
             'in the shared schedule, the last iterations hardly move the weights: its '
             'absence says the run settled, not that more iterations would not help); '
             'not-converged:attention: λ\'s '
             '5th to 95th percentiles on the validated videos moved by more than 0.05 on '
             'average over the last quarter of the run; declined:<stream>: λ\'s frame AUC '
             'within each validated video (the mean over videos) ended more than 0.05 below its best earlier validation '
             '(training moved λ off the actions; nothing is selected by it); '
             'declined:mAP: the last validation\'s mAP@0.5 ended more than a tenth, and more '
             'than one point, below the run\'s best earlier one; '
             'idle:<term>: a loss term still at '
             'its chance level, a uniform guess, over the last tenth):', '',
             f'| {column} | ' + ' | '.join(f'seed {s}' for s in seeds) + ' |',
             '|---|' + '--|' * len(seeds)]
    for key, row in summary['rows'].items():
        flags = row.get('flags', {})
        cells = [', '.join(flags[str(s)]) or 'ok' if str(s) in flags else 'n/a' for s in seeds]
        lines.append(f'| {label(key, row)} | ' + ' | '.join(cells) + ' |')
    return lines


def format_markdown(summary: Mapping[str, Any], *, title: str = 'Table 1 ablation') -> str:
    """Markdown tables: detection AP (paper layout), paired differences between rows over the
    seeds, attention health and time, per-stream λ, learning curves (when validated),
    recall, flags."""
    tiou = summary['tiou']
    meta = summary.get('meta', {})
    seeds = meta.get('seeds')
    lines = [f'### {title}', '']
    selections = sorted({s for row in summary['rows'].values()
                         for s in row.get('checkpoint_selection', ['final'])})
    ckpt = 'final checkpoint' if selections == ['final'] else \
        'checkpoint: ' + ', '.join(selections)
    if meta:
        lines += [f'Data: {meta.get("data_desc", "")}; seeds {seeds} (data seed = training seed); '
                  f'{meta.get("iters")} iterations per model (Adam, lr '
                  f'{meta.get("lr") or "1e-4 (config)"}, the configs\' schedule and weight decay, one video per '
                  f'iteration), {ckpt}; '
                  f'test split {meta.get("num_test_videos")} videos. '
                  f'AP in percent, mean ± sample std over {len(seeds or [])} seed(s).', '']
        if meta.get('cfg_options'):
            lines += ['Config overrides: ' + '; '.join(
                f'{key}: ' + ', '.join(f'`{k}={v!r}`' for k, v in opts.items())
                for key, opts in meta['cfg_options'].items()) + '.', '']
        lines += format_data_readings(meta)
    avg_key = '0.1-0.9'
    head = [c for _, c in LOSS_COLUMNS] + [f'{t:g}' for t in tiou] + [f'avg {avg_key}', 'avg 0.1-0.7']
    lines.append('| row | ' + ' | '.join(head) + ' |')
    n_marks = len(LOSS_COLUMNS)
    lines.append('|---|' + '|'.join([':-:'] * n_marks + ['--:'] * (len(head) - n_marks)) + '|')
    for key, row in summary['rows'].items():
        marks = ['✓' if row['marks'].get(n) else '–' for n, _ in LOSS_COLUMNS]
        n = len(row['seeds'])
        aps = [f'{100 * m:.1f}' + (f' ± {100 * s:.1f}' if n > 1 else '')
               for m, s in zip(row['mAP']['mean'], row['mAP']['std'])]
        avgs = [_pm(row['averages'].get(avg_key, row['average_mAP'])),
                _pm(row['averages'].get('0.1-0.7', {'mean': None}))]
        lines.append(f'| {key} {row["name"]} | ' + ' | '.join(marks + aps + avgs) + ' |')
    best = best_row(summary)
    if best is not None:
        lines += ['', f'Highest mean mAP@0.5: {best} {summary["rows"][best]["name"]} '
                  f'({100 * _at(summary, best, 0.5):.1f}).']
    lines += paired_table(cell_values(summary),
                          labels={k: f'{k} {r["name"]}' for k, r in summary['rows'].items()})
    lines += ['', 'Attention health on the test split (λ = stream mean; mean over seeds), '
              'classification mAP and training time. ' + CLASS_AUC_NOTE, '',
              '| row | λ in GT | λ outside | in/out | frame AUC | AUC within videos | '
              'AUC per class, λ / class map | λ min | '
              'λ max | frac λ>0.5 | collapsed / saturated (seeds) | cls mAP | train s | ms/iter |',
              '|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|:-:|--:|--:|--:|']
    for key, row in summary['rows'].items():
        c = health_cells(row)
        lines.append(
            f'| {key} {row["name"]} | {c["lambda_in"]} | {c["lambda_out"]} | {c["in_out_ratio"]} | '
            f'{c["auc"]} | {c["auc_video"]} | {c["auc_class"]} | {c["lambda_min"]} | '
            f'{c["lambda_max"]} | '
            f'{c["frac_above_0.5"]} | {c["collapsed_saturated"]} | {c["classification_mAP"]} | '
            f'{c["train_seconds"]} | {c["ms_per_iter"]} |')
    streams = [st for st in ('rgb', 'flow', 'mean') if any(
        st in row.get('attention', {}) for row in summary['rows'].values())]
    if streams:
        lines += ['', 'λ per stream on the test split (mean over seeds): inside GT / outside / '
                  'max / frame AUC / AUC within videos:', '',
                  '| row | ' + ' | '.join(streams) + ' |', '|---|' + '--|' * len(streams)]
        for key, row in summary['rows'].items():
            cells = []
            for st in streams:
                a = row.get('attention', {}).get(st)
                vals = [a[k]['mean'] for k in ATTENTION_KEYS] if a else []
                cells.append(' / '.join('n/a' if v is None else f'{v:.3f}' for v in vals) or 'n/a')
            lines.append(f'| {key} {row["name"]} | ' + ' | '.join(cells) + ' |')
    lines += curve_table(
        {k: r.get('val_curve') for k, r in summary['rows'].items()},
        labels={k: f'{k} {r["name"]}' for k, r in summary['rows'].items()},
        caption='Learning curves: mAP@0.5 on the test split at each validation '
                '(`--val-interval`; mean over seeds; monitoring only, no checkpoint is '
                'chosen with it):')
    lines += shared_table(summary.get('shared_postprocessing'),
                          labels={k: f'{k} {r["name"]}' for k, r in summary['rows'].items()})
    lines += recall_table(summary, column='row', label=lambda key, row: f'{key} {row["name"]}')
    lines += flags_table(summary, seeds=seeds or [], column='row',
                         label=lambda key, row: f'{key} {row["name"]}')
    return '\n'.join(lines) + '\n'


def recall_table(summary: Mapping[str, Any], *, column: str,
                 label: Callable[[str, Mapping[str, Any]], str]) -> List[str]:
    """Markdown lines: score-free recall at tIoU 0.5 and where the missed instances went.

    Empty when no cell has diagnostics (cells run before they were recorded).
    """
    rows = [(k, r) for k, r in summary['rows'].items()
            if (r.get('recall_at_0.5') or {}).get('recall', {}).get('mean') is not None]
    if not rows:
        return []
    head = ['recall', 'any class'] + [c.replace('_', ' ') for c in MISS_CATEGORIES]
    lines = ['', 'Where recall is lost at tIoU 0.5 (`wsal eval --diagnose`; percent of the test '
             'instances, mean over seeds): recall of the detection list whatever the scores, '
             'the same ignoring labels, and each missed instance by what its best-overlapping '
             'detection of its class looks like:', '',
             f'| {column} | ' + ' | '.join(head) + ' |', '|---|' + '--:|' * len(head)]
    for key, row in rows:
        r = row['recall_at_0.5']
        lines.append(f'| {label(key, row)} | ' + ' | '.join(
            'n/a' if r[k]['mean'] is None else f'{100 * r[k]["mean"]:.1f}'
            for k in RECALL_PARTS) + ' |')
    return lines
