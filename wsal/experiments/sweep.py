"""The ablation over several synthetic-generator settings × seeds (``wsal ablate --settings``).

A *setting* is a name plus overrides of the synthetic generator's config
fields (:mod:`wsal.datasets.synthetic`), e.g. ``flow_cue:actionness_rgb=0.2,
actionness_flow=0.8``. For every setting the sweep runs the ablation
(:func:`~.ablation.run_ablation`) in ``<work_dir>/<name>/`` — resumable cell by
cell — and then writes ``sweep.json`` and ``sweep.md``: one table per setting,
a summary of mAP@0.5 and failure flags per row and setting, and the rows'
paired differences over every (setting, seed) cell (:mod:`.paired`).
"""
from __future__ import annotations

import json
import os
import os.path as osp
import re
import runpy
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple, Union

from wsal.utils import nonfinite_to_none

from .ablation import run_ablation
from .paired import cell_values, paired_differences, paired_table
from .report import curve_table, mean_curve

__all__ = ['Setting', 'parse_setting', 'load_settings', 'run_sweep', 'format_sweep_markdown',
           'sweep_cell_values', 'sweep_curves']

PathLike = Union[str, os.PathLike]
_NAME = re.compile(r'^[A-Za-z0-9][A-Za-z0-9_.-]*$')


@dataclass(frozen=True)
class Setting:
    """A named set of synthetic-generator overrides."""

    name: str
    options: Dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not _NAME.match(self.name):
            raise ValueError(f"setting name '{self.name}' must be letters, digits, '_', '.' "
                             "or '-' (it names a folder)")
        if not isinstance(self.options, Mapping):
            raise ValueError(f"setting '{self.name}': options must be a mapping, "
                             f'got {type(self.options).__name__}')


def _value(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def parse_setting(text: str) -> Setting:
    """``'NAME'`` or ``'NAME:key=value,key=value'`` (values as JSON, else strings).

    Raises:
        ValueError: a malformed ``key=value`` (the message quotes the setting).
    """
    name, _, rest = text.partition(':')
    options: Dict[str, Any] = {}
    for part in filter(None, (p.strip() for p in rest.split(','))):
        key, eq, value = part.partition('=')
        if not eq or not key.strip():
            raise ValueError(f"setting '{text}': expected key=value, got '{part}'")
        options[key.strip()] = _value(value.strip())
    return Setting(name.strip(), options)


def load_settings(path: PathLike) -> List[Setting]:
    """Settings from a JSON file (``{name: {key: value}}``) or a Python file (``SETTINGS = {...}``).

    Raises:
        FileNotFoundError: no such file.
        ValueError: the file holds no mapping of names to option mappings
            (the message names the file).
    """
    path = os.fspath(path)
    if not osp.isfile(path):
        raise FileNotFoundError(f'settings file not found: {path}')
    if path.endswith('.py'):
        data = runpy.run_path(path).get('SETTINGS')
    else:
        with open(path, encoding='utf-8') as fh:
            try:
                data = json.load(fh)
            except json.JSONDecodeError as exc:
                raise ValueError(f'settings file {path}: not valid JSON ({exc})') from None
    if not isinstance(data, Mapping) or not all(isinstance(v, Mapping) for v in data.values()):
        raise ValueError(f'settings file {path}: expected a mapping {{name: {{option: value}}}}'
                         + (' in SETTINGS' if path.endswith('.py') else ''))
    return [Setting(str(k), dict(v)) for k, v in data.items()]


def _check_options(settings: Sequence[Setting]) -> None:
    """Every option must be a field of the generator's config (before any training)."""
    import dataclasses

    from wsal.datasets.synthetic import SyntheticConfig
    known = {f.name for f in dataclasses.fields(SyntheticConfig)}
    for s in settings:
        unknown = sorted(set(s.options) - known)
        if unknown:
            raise ValueError(f"setting '{s.name}': unknown generator option(s) {unknown}; "
                             f'known: {", ".join(sorted(known))}')


def run_sweep(*, work_dir: PathLike, settings: Sequence[Setting], preset: str = 'small',
              seeds: Sequence[int] = (0, 1, 2), rows: Optional[Sequence[str]] = None,
              iters: Optional[int] = None, lr: Optional[float] = None,
              val_interval: Optional[int] = None,
              cfg_options: Optional[Mapping[str, Mapping[str, Any]]] = None,
              force: bool = False, retest: bool = False,
              log_level: Optional[str] = 'WARNING', threads: Optional[int] = 1,
              quiet: bool = False, postprocess_from: Optional[str] = None,
              log: Callable[[str], None] = print) -> Dict[str, Any]:
    """Run (or resume) the ablation for every setting; write ``sweep.json`` / ``sweep.md``.

    Args:
        work_dir: ``<work_dir>/<setting>/`` holds each setting's ablation.
        settings: The generator settings (distinct names).
        preset, seeds, rows, iters, lr, val_interval, cfg_options, force, retest, log_level,
        threads, quiet, postprocess_from:
            As for :func:`~.ablation.run_ablation` (the same for every setting).
        log: Progress printer.

    Returns:
        dict: ``{'settings': {name: {'options', 'summary'}}, 'overview': {row:
        {setting: {'mAP@0.5', 'flagged_cells'}}}, 'paired': {row: {other: {'mean',
        'min', 'max', 'at_least', 'cells'}}}, 'meta', 'markdown'}`` (``paired``:
        :func:`~.paired.paired_differences` over the (setting, seed) cells); with
        ``postprocess_from`` also ``'shared_postprocessing': {'from', 'paired'}``, the
        same differences with the shared post-processing.
    """
    from wsal.utils import atomic_write_json, atomic_write_text
    settings = list(settings)
    if not settings:
        raise ValueError('a sweep needs at least one setting')
    names = [s.name for s in settings]
    if len(set(names)) != len(names):
        raise ValueError(f'setting names must be distinct, got {names}')
    _check_options(settings)
    from .campaign import options_per_entry
    from .table1 import select_rows
    entries = select_rows(rows)
    options_per_entry(entries, cfg_options, what='rows')  # before any training
    from .config import load_method_config
    # read once, at launch: every setting trains the configs as they were now
    configs = {e.key: load_method_config(e.config) for e in entries}
    work_dir = os.fspath(work_dir)
    os.makedirs(work_dir, exist_ok=True)
    out: Dict[str, Any] = {'settings': {}}
    from wsal.engine.progress_hook import campaign

    from .ablation import PRESET_DEFAULTS
    per_setting = len(list(seeds)) * len(entries) * int(
        iters or PRESET_DEFAULTS.get(preset, {}).get('iters') or 1)
    with campaign(len(settings) * per_setting, 'sweep') as progress:
        for s in settings:
            log(f'=== setting {s.name}: {json.dumps(s.options, sort_keys=True)}')
            progress.prefix = s.name
            summary = run_ablation(
                work_dir=osp.join(work_dir, s.name), preset=preset, seeds=seeds, rows=rows,
                iters=iters, lr=lr, generator_options=s.options, val_interval=val_interval,
                cfg_options=cfg_options, figure=False, force=force, retest=retest,
                configs=configs, postprocess_from=postprocess_from,
                log_level=log_level, threads=threads, quiet=quiet,
                title=f'Setting {s.name}: {json.dumps(s.options, sort_keys=True)}', log=log)
            out['settings'][s.name] = {'options': dict(s.options), 'summary': summary}
    out['overview'] = _overview(out['settings'])
    out['paired'] = paired_differences(sweep_cell_values(out))
    label, shared = shared_cell_values(out)
    if shared:
        out['shared_postprocessing'] = {'from': label,
                                        'paired': paired_differences(shared)}
    out['meta'] = {'preset': preset, 'seeds': [int(x) for x in seeds], 'rows': list(rows or []),
                   'iters': iters, 'lr': lr,
                   'cfg_options': {k: dict(v) for k, v in (cfg_options or {}).items()},
                   'checkpoint': 'final checkpoint of every run (no selection on the test split)'}
    out['markdown'] = format_sweep_markdown(out)
    out = nonfinite_to_none(out)
    atomic_write_json(osp.join(work_dir, 'sweep.json'), out)
    atomic_write_text(osp.join(work_dir, 'sweep.md'), out['markdown'])
    log(out['markdown'])
    log(f'wrote {osp.join(work_dir, "sweep.json")} and {osp.join(work_dir, "sweep.md")}')
    return out


def _overview(results: Mapping[str, Mapping[str, Any]]) -> Dict[str, Dict[str, Any]]:
    over: Dict[str, Dict[str, Any]] = {}
    for name, res in results.items():
        summary = res['summary']
        idx = [i for i, t in enumerate(summary['tiou']) if abs(t - 0.5) < 1e-9]
        for key, row in summary['rows'].items():
            flagged = sum(1 for f in row.get('flags', {}).values() if f)
            over.setdefault(key, {'name': row['name']})[name] = {
                'mAP@0.5': row['mAP']['mean'][idx[0]] if idx else None,
                'mAP@0.5_std': row['mAP']['std'][idx[0]] if idx else None,
                'flagged_cells': flagged, 'cells': len(row['seeds'])}
    return over


def sweep_cell_values(sweep: Mapping[str, Any], *, tiou: float = 0.5
                      ) -> Dict[str, Dict[Tuple[str, int], float]]:
    """``{row: {(setting, seed): mAP}}`` of a sweep (see :func:`~.paired.cell_values`)."""
    out: Dict[str, Dict[Tuple[str, int], float]] = {}
    for name, res in sweep['settings'].items():
        per = cell_values(res['summary'], tiou=tiou, cell=lambda seed, n=name: (n, seed))
        for key, cells in per.items():
            out.setdefault(key, {}).update(cells)
    return out


def shared_cell_values(sweep: Mapping[str, Any], *, tiou: float = 0.5
                       ) -> Tuple[Optional[str], Dict[str, Dict[Tuple[str, int], float]]]:
    """The source and ``{row: {(setting, seed): mAP}}`` with the shared post-processing
    (``--postprocess-from``; :mod:`.shared_postprocessing`); ``(None, {})`` without it."""
    label, out = None, {}
    for name, res in sweep['settings'].items():
        shared = res['summary'].get('shared_postprocessing')
        if not shared:
            continue
        label = shared['from']
        per = cell_values(shared, tiou=tiou, cell=lambda seed, n=name: (n, seed))
        for key, cells in per.items():
            out.setdefault(key, {}).update(cells)
    return label, out


def _mean_table(values: Mapping[str, Mapping[Tuple[str, int], float]], *,
                names: Sequence[str], labels: Mapping[str, str]) -> List[str]:
    """Table lines: per row the mean over each setting's seeds, and over all cells."""
    lines = ['| row | ' + ' | '.join(names) + ' | all cells |',
             '|---|' + '--:|' * (len(names) + 1)]
    for key, cells in values.items():
        out = []
        for n in list(names) + [None]:
            v = [x for (setting, _), x in cells.items() if n is None or setting == n]
            out.append(f'{100 * sum(v) / len(v):.1f}' + (f' ({len(v)})' if n is None else '')
                       if v else 'n/a')
        lines.append(f'| {labels.get(key, key)} | ' + ' | '.join(out) + ' |')
    return lines


def sweep_curves(sweep: Mapping[str, Any]) -> Dict[str, Optional[Dict[str, Any]]]:
    """Each row's learning curve over every (setting, seed) cell: the mean of
    mAP@0.5 at each iteration that every setting validated (None: no curve)."""
    per_row: Dict[str, List[Mapping[str, Any]]] = {}
    for res in sweep['settings'].values():
        for key, row in res['summary']['rows'].items():
            per_row.setdefault(key, []).append(row.get('val_curve'))
    out: Dict[str, Optional[Dict[str, Any]]] = {}
    for key, curves in per_row.items():
        if any(c is None for c in curves):
            out[key] = None
            continue
        # one {iteration: value} per (setting, seed) cell, from each setting's per-seed values
        per_cell = [{i: v[j] for i, v in zip(c['iters'], c['values']) if v[j] is not None}
                    for c in curves for j in range(len(c['values'][0]) if c['values'] else 0)]
        curve = mean_curve(per_cell)
        out[key] = None if curve is None else {**curve, 'cells': [len(v) for v in curve['values']]}
    return out


def format_sweep_markdown(sweep: Mapping[str, Any]) -> str:
    """The summary table (mAP@0.5 and flagged cells per row and setting, and the mean over
    all cells), the paired differences over cells, the learning curves over all cells
    (when validated), then each setting's tables."""
    names = list(sweep['settings'])
    values = sweep_cell_values(sweep)
    lines = ['## Sweep over generator settings', '',
             'mAP@0.5 in percent, mean ± std over seeds (final checkpoints); in brackets the '
             'cells with a failure flag out of all cells. "all cells": the mean over every '
             '(setting, seed) cell the row ran.', '',
             '| row | ' + ' | '.join(names) + ' | all cells |',
             '|---|' + '--:|' * (len(names) + 1)]
    for key, row in sweep['overview'].items():
        cells = []
        for n in names:
            c = row.get(n)
            if not c or c['mAP@0.5'] is None:
                cells.append('n/a')
                continue
            std = f' ± {100 * c["mAP@0.5_std"]:.1f}' if c['cells'] > 1 else ''
            cells.append(f'{100 * c["mAP@0.5"]:.1f}{std} ({c["flagged_cells"]}/{c["cells"]})')
        v = list(values.get(key, {}).values())
        cells.append(f'{100 * sum(v) / len(v):.1f} ({len(v)})' if v else 'n/a')
        lines.append(f'| {key} {row["name"]} | ' + ' | '.join(cells) + ' |')
    lines += paired_table(values, labels={k: f'{k} {r["name"]}'
                                          for k, r in sweep['overview'].items()},
                          unit='setting and seed')
    label, shared = shared_cell_values(sweep)
    if shared:
        labels = {k: f'{k} {r["name"]}' for k, r in sweep['overview'].items()}
        lines += ['', f'The same final checkpoints scored with the post-processing of {label} '
                  '(`--postprocess-from`), mAP@0.5 in percent, mean over seeds:', '']
        lines += _mean_table(shared, names=names, labels=labels)
        lines += paired_table(shared, labels=labels, unit='setting and seed',
                              metric=f'mAP@0.5 with the post-processing of {label}')
    lines += curve_table(sweep_curves(sweep),
                         labels={k: f'{k} {r["name"]}' for k, r in sweep['overview'].items()},
                         caption='Learning curves: mAP@0.5 on the test split at each validation '
                                 '(`--val-interval`), mean over every (setting, seed) cell; '
                                 'monitoring only, no checkpoint is chosen with it:')
    lines += ['', 'Settings:', '']
    for n in names:
        lines.append(f'- `{n}`: {json.dumps(sweep["settings"][n]["options"], sort_keys=True)}')
    for n in names:
        lines += ['', sweep['settings'][n]['summary']['markdown'].rstrip()]
    return '\n'.join(lines) + '\n'
