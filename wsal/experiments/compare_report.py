"""Markdown of a method comparison: paper-layout AP table, published numbers, health."""
from __future__ import annotations

import json
from typing import Any, List, Mapping, Optional

from .data_reading import format_data_readings
from .paired import cell_values, paired_table
from .report import CLASS_AUC_NOTE, _pm, curve_table, flags_table, health_cells, recall_table
from .shared_postprocessing import shared_table

__all__ = ['format_compare_markdown']

AVERAGES = ('0.1-0.7', '0.1-0.9')


def _published_cells(pub: Optional[Mapping[str, Any]], tiou: List[float]) -> List[str]:
    if not pub:
        return []
    ap = pub.get('ap', {})
    cells = [f'{ap[f"{t:g}"]:.1f}' if f'{t:g}' in ap else '–' for t in tiou]
    for rng in AVERAGES:
        lo, hi = (float(x) for x in rng.split('-'))
        inside = [f'{t:g}' for t in tiou if lo - 1e-9 <= t <= hi + 1e-9]
        if rng in pub.get('average', {}):
            cells.append(f'{pub["average"][rng]:.1f}')
        elif inside and all(k in ap for k in inside):
            cells.append(f'{sum(ap[k] for k in inside) / len(inside):.1f}')
        else:
            cells.append('–')
    return cells


def format_compare_markdown(summary: Mapping[str, Any], *,
                            title: str = 'Method comparison') -> str:
    """Markdown tables of :func:`~.compare.run_compare`'s summary.

    1. AP (%) at every tIoU and the averages over 0.1-0.7 and 0.1-0.9, mean ±
       sample std over seeds, each method followed by its published THUMOS14
       row (real I3D features; averages the paper does not print are computed
       from its per-tIoU numbers when it reports all of them, else "–");
    2. the paired differences of mAP@0.5 between methods over the seeds (the same
       data and training seed; :func:`~.paired.paired_table`);
    3. attention / class-activation health on the test split, classification
       mAP, training iterations and time;
    4. the learning curves (mAP@0.5 at each validation, with ``val_interval``);
    5. where recall is lost, and the failure flags of every cell.
    """
    tiou = list(summary['tiou'])
    meta = summary.get('meta', {})
    seeds = meta.get('seeds') or []
    published = summary.get('published') or {}
    iters = meta.get('iters') or {}
    iter_text = (f'{next(iter(set(iters.values())))} iterations per method'
                 if len(set(iters.values())) == 1 else
                 'iterations per method: ' + ', '.join(f'{k} {v}' for k, v in iters.items()))
    options = {k: v for k, v in (meta.get('cfg_options') or {}).items() if v}
    lines = [f'### {title}', '']
    if meta:
        lines += [f'Data: {meta.get("data_desc", "")}; seeds {seeds} (data seed = training '
                  f'seed); {iter_text} (each method with its own batches, optimizer and '
                  f'post-processing from its config; Adam lr '
                  f'{meta.get("lr") or "from each config"}); final checkpoint; test split '
                  f'{meta.get("num_test_videos")} videos. AP in percent, mean ± sample std '
                  f'over {len(seeds)} seed(s). Rows marked "{meta.get("published", "published")}" '
                  'are the papers\' THUMOS14 numbers, not measured here and not comparable '
                  'with rows measured on other data.', '']
        if options:
            lines += ['Config overrides: ' + '; '.join(
                f'`{k}`: ' + ', '.join(f'`{o}={json.dumps(v)}`' for o, v in opts.items())
                for k, opts in options.items()) + '.', '']
        lines += format_data_readings(meta)
    head = [f'{t:g}' for t in tiou] + [f'avg {r}' for r in AVERAGES]
    lines.append('| method | ' + ' | '.join(head) + ' |')
    lines.append('|---|' + '|'.join(['--:'] * len(head)) + '|')
    for key, row in summary['rows'].items():
        n = len(row['seeds'])
        aps = [f'{100 * m:.1f}' + (f' ± {100 * s:.1f}' if n > 1 else '')
               for m, s in zip(row['mAP']['mean'], row['mAP']['std'])]
        avgs = [_pm(row['averages'].get(r, {'mean': None})) for r in AVERAGES]
        lines.append(f'| {row["name"]} (`{key}`) | ' + ' | '.join(aps + avgs) + ' |')
        pub_cells = _published_cells(published.get(key), tiou)
        if pub_cells:
            lines.append(f'| ↳ {meta.get("published", "published")} | '
                         + ' | '.join(pub_cells) + ' |')
    sources = [(k, p['source']) for k, p in published.items() if p]
    if sources:
        lines += ['', 'Published numbers: ' + '; '.join(f'`{k}`: {s}' for k, s in sources) + '.']
    lines += paired_table(cell_values(summary),
                          labels={k: f'{r["name"]} (`{k}`)' for k, r in summary['rows'].items()})
    lines += ['', 'Attention / class-activation health on the test split (λ: the attention or '
              'class-agnostic activation each method reports, stream mean; mean over seeds), '
              'classification mAP, training length and time. ' + CLASS_AUC_NOTE, '',
              '| method | λ in GT | λ outside | frame AUC | AUC within videos | '
              'AUC per class, λ / class map | λ max | frac λ>0.5 | '
              'collapsed / saturated (seeds) | cls mAP | iters | train s | ms/iter |',
              '|---|--:|--:|--:|--:|--:|--:|--:|:-:|--:|--:|--:|--:|']
    for key, row in summary['rows'].items():
        c = health_cells(row)
        lines.append(
            f'| {row["name"]} | {c["lambda_in"]} | {c["lambda_out"]} | {c["auc"]} | '
            f'{c["auc_video"]} | {c["auc_class"]} | {c["lambda_max"]} | {c["frac_above_0.5"]} | '
            f'{c["collapsed_saturated"]} | '
            f'{c["classification_mAP"]} | {row.get("iters", "")} | '
            f'{c["train_seconds"]} | {c["ms_per_iter"]} |')
    lines += curve_table(
        {k: r.get('val_curve') for k, r in summary['rows'].items()},
        labels={k: r['name'] for k, r in summary['rows'].items()},
        caption='Learning curves: mAP@0.5 on the test split at each validation '
                '(`--val-interval`; mean over seeds; monitoring only, no checkpoint is '
                'chosen with it):')
    lines += shared_table(summary.get('shared_postprocessing'),
                          labels={k: r['name'] for k, r in summary['rows'].items()})
    lines += recall_table(summary, column='method', label=lambda key, row: row['name'])
    lines += flags_table(summary, seeds=seeds, column='method', label=lambda key, row: row['name'])
    return '\n'.join(lines) + '\n'
