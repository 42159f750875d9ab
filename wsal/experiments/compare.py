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

import hashlib
import json
import os
import os.path as osp
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Union

from .ablation import PRESET_DEFAULTS
from .cell import finite, run_cell
from .compare_report import format_compare_markdown
from .config import experiment_config
from .data import check_seed_data_roots, data_description, seed_data_root
from .figure import save_cells_figure
from .published import METHOD_CONFIGS, PUBLISHED_LABEL, published_for
from .report import META_NOTES, summarize
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


def parse_cfg_options(items: Sequence[str]) -> Dict[str, Dict[str, Any]]:
    """``['a.b=1', 'wtalc:c.d=[1,2]']`` -> ``{'*': {'a.b': 1}, 'wtalc': {'c.d': [1, 2]}}``.

    ``KEY=VALUE`` applies to every method, ``METHOD:KEY=VALUE`` to one; values
    are read like ``--cfg-options`` of ``wsal train`` (numbers, lists,
    ``None``, strings).

    Raises:
        ValueError: an item without ``=``.
    """
    from mmengine.config import DictAction
    out: Dict[str, Dict[str, Any]] = {}
    for item in items:
        key, sep, value = item.partition('=')
        if not sep or not key:
            raise ValueError(f"--cfg-options expects [METHOD:]KEY=VALUE, got '{item}'")
        method, _, key = key.rpartition(':')
        out.setdefault(method or '*', {})[key] = DictAction._parse_iterable(value)
    return out


def _options_for(methods: Sequence[Method],
                 cfg_options: Optional[Mapping[str, Mapping[str, Any]]]) -> Dict[str, Dict]:
    spec = {k: dict(v) for k, v in (cfg_options or {}).items()}
    unknown = sorted(set(spec) - {'*'} - {m.key for m in methods})
    if unknown:
        raise ValueError(f"--cfg-options names methods not compared: {', '.join(unknown)} "
                         f"(methods: {', '.join(m.key for m in methods)})")
    return {m.key: {**spec.get('*', {}), **spec.get(m.key, {})} for m in methods}


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
    text = json.dumps(data, sort_keys=True, default=str)
    return hashlib.sha256(text.encode('utf-8')).hexdigest()


def run_compare(configs: Sequence[str], *, work_dir: PathLike, preset: str = 'small',
                seeds: Sequence[int] = (0, 1, 2), iters: IterSpec = None,
                lr: Optional[float] = None, data_root: Optional[str] = None,
                generator_options: Optional[Mapping[str, Any]] = None,
                cfg_options: Optional[Mapping[str, Mapping[str, Any]]] = None,
                figure: bool = True, force: bool = False, retest: bool = False,
                log_level: Optional[str] = 'WARNING', threads: Optional[int] = 1,
                title: Optional[str] = None, quiet: bool = False,
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
        figure: Plot every method on one test video of the first seed.
        force: Re-run cells even when their result exists.
        retest: Test the final checkpoint of finished cells again (no
            training) and replace their test results.
        log_level: The Runner's log level (None: the configs').
        threads: ``torch.set_num_threads`` during the run (None: unchanged).
        title: Heading of the Markdown tables.
        quiet: No progress lines (per cell and overall, with ETA).
        log: Progress printer.

    Returns:
        dict: :func:`~.report.summarize` of the cells plus ``published``
        (per method, or None), ``iters`` (per method) and ``meta``; also
        written to ``compare.json``, its Markdown to ``compare.md``.
    """
    import torch
    if preset not in PRESET_DEFAULTS:
        raise ValueError(f"unknown preset '{preset}'; choose from {sorted(PRESET_DEFAULTS)}")
    seeds = [int(s) for s in seeds]
    if not seeds or len(set(seeds)) != len(seeds):
        raise ValueError(f'seeds must be distinct and non-empty, got {seeds}')
    methods = resolve_methods(configs)
    per_method = _iters_for(methods, iters, PRESET_DEFAULTS[preset]['iters'])
    options = _options_for(methods, cfg_options)
    if data_root is not None:
        if generator_options:
            raise ValueError('generator options apply to generated data, not to data_root')
        check_seed_data_roots(data_root, seeds)  # every folder exists before any training
    before = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(int(threads))
    try:
        return _Comparison(work_dir=os.fspath(work_dir), preset=preset, seeds=seeds,
                           methods=methods, iters=per_method, options=options, lr=lr,
                           data_root=data_root,
                           generator_options=generator_options, force=force,
                           log_level=log_level, title=title, quiet=quiet, retest=retest,
                           log=log).run(figure=figure)
    finally:
        torch.set_num_threads(before)


class _Comparison:
    """The state of one comparison: cells done so far and where the tables go."""

    def __init__(self, *, work_dir: str, preset: str, seeds: List[int], methods: List[Method],
                 iters: Dict[str, int], options: Dict[str, Dict[str, Any]],
                 lr: Optional[float], data_root: Optional[str],
                 generator_options: Optional[Mapping[str, Any]], force: bool,
                 log_level: Optional[str], title: Optional[str],
                 log: Callable[[str], None], quiet: bool = False, retest: bool = False) -> None:
        self.work_dir, self.preset, self.seeds, self.methods = work_dir, preset, seeds, methods
        self.iters, self.options, self.lr, self.data_root = iters, options, lr, data_root
        self.force, self.log_level, self.log = force, log_level, log
        self.quiet, self.retest = quiet, retest
        self.opts = dict(PRESET_DEFAULTS[preset]['generator_options'])
        self.opts.update(generator_options or {})
        self.title = title or ('Method comparison on synthetic THUMOS14-structured data'
                               if data_root is None else 'Method comparison')
        self.cells: Dict[str, Dict[int, Dict[str, Any]]] = {m.key: {} for m in methods}
        self.roots: Dict[int, str] = {}
        self.figures: List[str] = []
        self.published = {m.key: published_for(m.config) for m in methods}

    def _config(self, method: Method, seed: int, info: Mapping[str, Any], work_dir: str):
        return experiment_config(method.config, data_root=self.roots[seed], work_dir=work_dir,
                                 seed=seed, iters=self.iters[method.key], lr=self.lr,
                                 data_info=info, log_level=self.log_level,
                                 cfg_options=self.options[method.key])

    def run(self, *, figure: bool) -> Dict[str, Any]:
        from wsal.engine.progress_hook import campaign
        os.makedirs(self.work_dir, exist_ok=True)
        self._start = time.time()
        total = len(self.seeds) * sum(self.iters[m.key] for m in self.methods)
        with campaign(total, 'compare') as progress:
            self._run_cells(progress, figure=figure)
        summary = self.write(final=True)
        self.log('')
        self.log(summary['markdown'])
        self.log(f'wrote {osp.join(self.work_dir, "compare.json")} and '
                 f'{osp.join(self.work_dir, "compare.md")} ({time.time() - self._start:.0f}s)')
        return summary

    def _run_cells(self, progress, *, figure: bool) -> None:
        from wsal.datasets.data_info import read_data_info
        start = self._start
        for seed in self.seeds:
            root = seed_data_root(seed=seed, data_root=self.data_root, work_dir=self.work_dir,
                                  preset=self.preset, generator_options=self.opts, log=self.log)
            self.roots[seed] = root
            info = read_data_info(root)
            for method in self.methods:
                progress.begin(f'{method.key} seed {seed}')
                cell_dir = osp.join(self.work_dir, f'seed{seed}', method.key)
                # the digest is of the config without console settings (quiet, progress hook)
                digest = resolved_config_digest(self._config(method, seed, info, cell_dir))
                self.cells[method.key][seed] = run_cell(
                    method.row(), seed=seed, data_root=root, cell_dir=cell_dir,
                    iters=self.iters[method.key],
                    preset=None if self.data_root is not None else self.preset, lr=self.lr,
                    generator_options={} if self.data_root is not None else self.opts,
                    data_info=info, force=self.force, log_level=self.log_level,
                    quiet=self.quiet, retest=self.retest,
                    extra_settings={'kind': 'compare', 'resolved_config_sha256': digest,
                                    'cfg_options': self.options[method.key]},
                    cfg_options=self.options[method.key], log=self.log)
                progress.advance(self.iters[method.key])
                self.log(f'  ({time.time() - start:.0f}s elapsed)')
                self.write(final=False)
            if figure and seed == self.seeds[0]:
                self._figure(seed, info)

    def _figure(self, seed: int, info: Mapping[str, Any]) -> None:
        def config_for(method: Method) -> Callable[[str], Any]:
            return lambda work_dir: self._config(method, seed, info, work_dir)

        path = osp.join(self.work_dir, f'methods_seed{seed}.png')
        entries = ((method.name, self.cells[method.key].get(seed), config_for(method))
                   for method in self.methods)
        if save_cells_figure(path, entries, log=self.log):
            self.figures.append(path)

    def write(self, *, final: bool) -> Dict[str, Any]:
        """Write ``compare.json`` and ``compare.md`` (atomically) from the cells so far."""
        from wsal.utils import atomic_write_json, atomic_write_text
        done = {k: v for k, v in self.cells.items() if v}
        summary = summarize(done)
        for key, row in summary['rows'].items():
            row['iters'] = self.iters[key]
            row['cfg_options'] = self.options[key]
        summary['published'] = {k: (p.to_dict() if p is not None else None)
                                for k, p in self.published.items() if k in done}
        n_test = {c['num_test_videos'] for v in done.values() for c in v.values()}
        desc = data_description(data_root=self.data_root, preset=self.preset,
                                generator_options=self.opts)
        summary['meta'] = {
            'preset': self.preset if self.data_root is None else None, 'seeds': list(self.seeds),
            'iters': dict(self.iters), 'cfg_options': dict(self.options), 'lr': self.lr,
            'data_desc': desc,
            'data_roots': {str(k): v for k, v in self.roots.items()},
            'generator_options': self.opts if self.data_root is None else None,
            'num_test_videos': sorted(n_test)[0] if len(n_test) == 1 else sorted(n_test),
            'complete': final and all(len(v) == len(self.seeds) for v in self.cells.values()),
            'methods': [{'key': m.key, 'config': m.config, 'name': m.name}
                        for m in self.methods],
            'figures': list(self.figures),
            **META_NOTES,
            'published': PUBLISHED_LABEL,
        }
        md = format_compare_markdown(summary, title=self.title)
        summary['markdown'] = md
        summary = finite(summary)
        atomic_write_json(osp.join(self.work_dir, 'compare.json'), summary)
        atomic_write_text(osp.join(self.work_dir, 'compare.md'), md)
        return summary
