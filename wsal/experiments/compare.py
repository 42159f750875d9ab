"""Several methods trained and tested on the same data and seeds (``wsal compare``).

For every seed ``k`` the comparison

1. generates the synthetic THUMOS14-structured feature set with generator
   seed ``k`` (or uses ``data_root``, where ``{seed}`` selects one folder per
   seed), written once under ``<work_dir>/data/``;
2. trains every method config on that data with training seed ``k`` through
   :func:`~.config.experiment_config` and :func:`~.cell.train_and_test`, the
   path the Table 1 ablation takes: the method's model, losses,
   post-processing and training batches (batch size, sampler, snippet
   sampling) are its config's; classes and feature dims follow the data;
   every method trains the same number of iterations unless told otherwise;
   the final checkpoint is tested (no selection on the test split);
3. stores the cell ``(method, seed)`` as ``<work_dir>/seed<k>/<method>/result.json``,
   reused on a re-run only while its settings and the digest of its whole
   resolved config are unchanged.

It writes ``compare.json`` and ``compare.md`` (atomically, after every cell):
AP at tIoU 0.1-0.9 and the averages over 0.1-0.7 and 0.1-0.9 as mean ± std
over seeds, each method's published THUMOS14 number beside it (labelled as
such: real I3D features, not this data), the attention / class-activation
health with the failure flags of every cell, and training time.

Example:
    >>> from wsal.experiments.compare import run_compare
    >>> summary = run_compare(['stpn', 'bm'], work_dir='work_dirs/compare_tiny',
    ...                       preset='tiny', seeds=[0], iters=20)
    >>> summary['rows']['bm']['mAP']['mean']      # [9] fractions, tIoU 0.1..0.9
"""
from __future__ import annotations

import os
import os.path as osp
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Union

from .campaign import (PRESET_DEFAULTS, CellCampaign, check_campaign_args, options_per_entry,
                       parse_cfg_options, run_campaign)
from .cell import json_digest, run_cell
from .compare_report import format_compare_markdown
from .config import experiment_config
from .published import METHOD_CONFIGS, PUBLISHED_LABEL, published_for
from .table1 import AblationRow

__all__ = ['Method', 'resolve_methods', 'parse_iters', 'parse_cfg_options',
           'resolved_config_digest', 'run_compare']

PathLike = Union[str, os.PathLike]
IterSpec = Union[None, int, Mapping[str, int]]


@dataclass(frozen=True)
class Method:
    """One method of a comparison: a table key, its config and a display name."""

    key: str
    config: str
    name: str

    def row(self) -> AblationRow:
        return AblationRow(self.key, self.config, self.name)


def resolve_methods(configs: Sequence[str]) -> List[Method]:
    """Methods from short names (:data:`~.published.METHOD_CONFIGS`), packaged names or paths.

    The key is the short name, or the config's file stem.

    Raises:
        ValueError: no config, a duplicate, or a name that is neither a known
            method nor an existing / packaged config (the message lists the
            short names).
    """
    from wsal.engine.config_paths import resolve_config
    if not configs:
        raise ValueError('compare needs at least one config')
    out: List[Method] = []
    for text in configs:
        text = os.fspath(text)
        if text in METHOD_CONFIGS:
            key, config = text, METHOD_CONFIGS[text]
        else:
            try:
                path = resolve_config(text)
            except (FileNotFoundError, ValueError) as exc:
                raise ValueError(f"unknown method or config '{text}': {exc}; short names: "
                                 f"{', '.join(METHOD_CONFIGS)}") from None
            config = text if not osp.isfile(text) else os.path.abspath(text)
            key = next((k for k, v in METHOD_CONFIGS.items() if Path(v).name == path.name
                        and resolve_config(v).resolve() == path.resolve()), path.stem)
        if any(m.key == key for m in out):
            raise ValueError(f"method '{key}' given twice ({text})")
        pub = published_for(config)
        out.append(Method(key, config, pub.method if pub is not None else key))
    return out


def parse_iters(items: Sequence[str]) -> IterSpec:
    """``['1500']`` -> 1500; ``['300', 'stpn=1500']`` -> ``{'*': 300, 'stpn': 1500}``.

    Raises:
        ValueError: a value that is not a positive integer.
    """
    if not items:
        return None
    spec: Dict[str, int] = {}
    for item in items:
        key, _, value = item.rpartition('=')
        try:
            n = int(value)
        except ValueError:
            raise ValueError(f"--iters expects N or METHOD=N, got '{item}'") from None
        if n < 1:
            raise ValueError(f"--iters must be >= 1, got '{item}'")
        spec[key or '*'] = n
    return spec['*'] if list(spec) == ['*'] else spec


def _iters_for(methods: Sequence[Method], iters: IterSpec, default: int) -> Dict[str, int]:
    if iters is None or isinstance(iters, int):
        n = int(iters or default)
        if n < 1:
            raise ValueError(f'iters must be >= 1, got {n}')
        return {m.key: n for m in methods}
    spec = dict(iters)
    unknown = sorted(set(spec) - {'*'} - {m.key for m in methods})
    if unknown:
        raise ValueError(f"--iters names methods not compared: {', '.join(unknown)} "
                         f"(methods: {', '.join(m.key for m in methods)})")
    base = int(spec.get('*', default))
    return {m.key: int(spec.get(m.key, base)) for m in methods}


def resolved_config_digest(cfg) -> str:
    """SHA-256 of a prepared config (``experiment_config``), whole.

    Everything the Runner reads is included (model, batches, optimizer,
    schedule, post-processing, evaluators; not where it is written, the log
    level, nor whether the evaluators add the recall diagnostics), so a cell
    re-runs whenever its method config or any base it inherits changes, and a
    comparison's folder can be moved, or cells run elsewhere copied in.
    """
    data = cfg.to_dict()
    for key in ('filename', 'work_dir', 'log_level'):  # where from / to, how much it logs
        data.pop(key, None)
    for key in ('val_evaluator', 'test_evaluator'):  # diagnostics only add outputs
        evaluators = data.get(key)
        for ev in evaluators if isinstance(evaluators, list) else [evaluators]:
            if isinstance(ev, dict):
                ev.pop('diagnose', None)
    return json_digest(data)


def run_compare(configs: Sequence[str], *, work_dir: PathLike, preset: str = 'small',
                seeds: Sequence[int] = (0, 1, 2), iters: IterSpec = None,
                lr: Optional[float] = None, data_root: Optional[str] = None,
                generator_options: Optional[Mapping[str, Any]] = None,
                cfg_options: Optional[Mapping[str, Mapping[str, Any]]] = None,
                val_interval: Optional[int] = None,
                figure: bool = True, force: bool = False, retest: bool = False,
                log_level: Optional[str] = 'WARNING', threads: Optional[int] = 1,
                title: Optional[str] = None, quiet: bool = False,
                postprocess_from: Optional[str] = None,
                log: Callable[[str], None] = print) -> Dict[str, Any]:
    """Run (or resume) the comparison; write ``compare.json`` / ``compare.md``; return the summary.

    Args:
        configs: Methods: short names (``stpn``, ``bm``, ``wtalc``,
            ``basnet``, ``um``, ``cola``), packaged config names or paths.
        work_dir: Everything goes here: ``data/``, ``seed<k>/<method>/``, the tables.
        preset: Synthetic preset (``tiny``, ``small``, ``full``); sets the
            default iterations (:data:`~.ablation.PRESET_DEFAULTS`).
        seeds: Each seed k generates its own data (generator seed k) and
            trains every method with training seed k.
        iters: Training iterations: one int for every method (default: the
            preset's), or ``{'*': n, method_key: n}`` to train some methods longer.
        lr: Adam learning rate for every method (None: each config's).
        data_root: Use this canonical-layout data instead of generating it;
            ``{seed}`` in it is replaced by the seed.
        generator_options: Overrides of the synthetic generator for generated data.
        cfg_options: Config overrides, ``{'*': {key: value}}`` for every method
            and ``{method_key: {key: value}}`` for one (e.g. a smaller batch for
            the batch-trained methods); recorded in the tables and part of
            every cell's resolved config.
        val_interval: Also validate on the test split every this many iterations
            (learning curves in the tables; never used to pick a checkpoint).
        figure: Plot every method on one test video of the first seed.
        force: Re-run cells even when their result exists.
        retest: Test the final checkpoint of finished cells again (no
            training) and replace their test results.
        log_level: The Runner's log level (None: the configs').
        threads: ``torch.set_num_threads`` during the run (None: unchanged).
        title: Heading of the Markdown tables.
        quiet: No progress lines (per cell and overall, with ETA).
        postprocess_from: Also score every cell's final checkpoint with the
            ``model.test_cfg`` of this method (e.g. ``'bm'``, with its
            overrides), Table 1 row or config, and add that table
            (:mod:`.shared_postprocessing`). Every method must build the same
            kind of model; checked before any work.
        log: Progress printer.

    Returns:
        dict: :func:`~.report.summarize` of the cells plus ``published``
        (per method, or None), ``iters`` (per method) and ``meta``; also
        written to ``compare.json``, its Markdown to ``compare.md``.
    """
    seeds = check_campaign_args(preset=preset, seeds=seeds, data_root=data_root,
                                generator_options=generator_options)
    methods = resolve_methods(configs)
    comparison = _Comparison(work_dir=os.fspath(work_dir), preset=preset, seeds=seeds,
                             entries=methods,
                             iters=_iters_for(methods, iters, PRESET_DEFAULTS[preset]['iters']),
                             options=options_per_entry(methods, cfg_options, what='methods'), lr=lr,
                             val_interval=val_interval,
                             data_root=data_root, generator_options=generator_options,
                             force=force, log_level=log_level, title=title, quiet=quiet,
                             retest=retest, log=log)
    comparison.share_postprocessing(postprocess_from, comparison.options)
    return run_campaign(comparison, threads=threads, figure=figure)


class _Comparison(CellCampaign):
    """Methods × seeds, each method trained its own number of iterations."""

    kind = 'compare'
    titles = ('Method comparison on synthetic THUMOS14-structured data', 'Method comparison')
    figure_name = 'methods_seed{seed}.png'

    def __init__(self, *, iters: Dict[str, int], options: Dict[str, Dict[str, Any]],
                 val_interval: Optional[int] = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.iters, self.options, self.val_interval = iters, options, val_interval
        self.published = {m.key: published_for(m.config) for m in self.entries}

    def entry_iters(self, entry: Method) -> int:
        return self.iters[entry.key]

    def entry_config(self, entry: Method, *, seed: int, info: Mapping[str, Any], work_dir: str,
                     quiet: bool = False):
        return experiment_config(self.configs[entry.key], data_root=self.roots[seed],
                                 work_dir=work_dir, seed=seed, iters=self.iters[entry.key],
                                 lr=self.lr, data_info=info, log_level=self.log_level,
                                 cfg_options=self.options[entry.key], quiet=quiet)

    def run_entry(self, entry: Method, *, seed: int, info: Mapping[str, Any],
                  cell_dir: str) -> Dict[str, Any]:
        # the digest is of the config without console settings (quiet, progress hook)
        digest = resolved_config_digest(self.entry_config(entry, seed=seed, info=info,
                                                          work_dir=cell_dir))
        return run_cell(entry.row(), seed=seed, data_root=self.roots[seed], cell_dir=cell_dir,
                        iters=self.iters[entry.key], val_interval=self.val_interval,
                        data_info=info,
                        extra_settings={'kind': 'compare', 'resolved_config_sha256': digest,
                                        'cfg_options': self.options[entry.key]},
                        cfg_options=self.options[entry.key], config=self.configs[entry.key],
                        **self.cell_kwargs())

    def entry_label(self, entry: Method) -> str:
        return entry.name

    def summarize(self, done):
        summary = super().summarize(done)
        for key, row in summary['rows'].items():
            row['iters'] = self.iters[key]
            row['cfg_options'] = self.options[key]
        summary['published'] = {k: (p.to_dict() if p is not None else None)
                                for k, p in self.published.items() if k in done}
        return summary

    def extra_meta(self) -> Dict[str, Any]:
        return {'iters': dict(self.iters), 'cfg_options': dict(self.options),
                'methods': [{'key': m.key, 'config': m.config, 'name': m.name}
                            for m in self.entries],
                'published': PUBLISHED_LABEL}

    def format(self, summary: Mapping[str, Any]) -> str:
        return format_compare_markdown(summary, title=self.title)
