"""Seeds × entries of experiment cells: what ``wsal ablate`` and ``wsal compare`` share.

A campaign prepares the data of each seed once (generated, or a ``{seed}``
folder of ``data_root``), runs one cell per entry (a Table 1 row or a method)
through :func:`~.cell.run_cell`, and rewrites its JSON and Markdown tables
atomically after every cell, so an interrupted campaign keeps its tables and
resumes from the cells it has. Subclasses say how an entry's cell is run,
what its figure is called and how the tables are written.
"""
from __future__ import annotations

import contextlib
import os
import os.path as osp
import time
from typing import Any, Callable, Dict, Iterator, List, Mapping, Optional, Sequence, Tuple

from wsal.utils import nonfinite_to_none

from .data import check_seed_data_roots, data_description, seed_data_root
from .data_reading import data_reading
from .figure import save_cells_figure
from .report import META_NOTES, summarize
from .shared_postprocessing import FOLDER as SHARED_FOLDER
from .shared_postprocessing import (SharedPostprocessing, resolve_shared_postprocessing,
                                    score_cell, shared_summary)

__all__ = ['PRESET_DEFAULTS', 'CellCampaign', 'check_campaign_args', 'options_per_entry',
           'parse_cfg_options', 'run_campaign', 'torch_threads']

#: Per synthetic preset: default training iterations (one video each, shared
#: by all rows) and the generator options the campaigns add (Table 1 uses no
#: micro-videos, so none are generated; the per-video features of the
#: THUMOS14 videos do not depend on it).
PRESET_DEFAULTS: Dict[str, Dict[str, Any]] = {
    'tiny': dict(iters=30, generator_options=dict(num_micro_videos=0)),
    'small': dict(iters=1500, generator_options=dict(num_micro_videos=0)),
    'full': dict(iters=2000, generator_options=dict(num_micro_videos=0)),
}


def check_campaign_args(*, preset: str, seeds: Sequence[int], data_root: Optional[str],
                        generator_options: Optional[Mapping[str, Any]]) -> List[int]:
    """Validate what every campaign takes, before any data or training; return the seeds.

    Raises:
        ValueError: An unknown preset, empty or repeated seeds, generator
            options together with ``data_root``, or a missing per-seed folder
            of ``data_root``.
    """
    if preset not in PRESET_DEFAULTS:
        raise ValueError(f"unknown preset '{preset}'; choose from {sorted(PRESET_DEFAULTS)}")
    seeds = [int(s) for s in seeds]
    if not seeds or len(set(seeds)) != len(seeds):
        raise ValueError(f'seeds must be distinct and non-empty, got {seeds}')
    if data_root is not None:
        if generator_options:
            raise ValueError('generator options apply to generated data, not to data_root')
        check_seed_data_roots(data_root, seeds)  # every folder exists before any training
    return seeds


def parse_cfg_options(items: Sequence[str]) -> Dict[str, Dict[str, Any]]:
    """``['a.b=1', 'wtalc:c.d=[1,2]']`` -> ``{'*': {'a.b': 1}, 'wtalc': {'c.d': [1, 2]}}``.

    ``KEY=VALUE`` applies to every entry of a campaign, ``ENTRY:KEY=VALUE``
    to one (a method of ``wsal compare``, a row of ``wsal ablate``); values
    are read like ``--cfg-options`` of ``wsal train`` (numbers, lists,
    ``None``, strings).

    Raises:
        ValueError: an item without ``=``, or a value that cannot be read.
    """
    from wsal.apis.config_check import parse_override
    out: Dict[str, Dict[str, Any]] = {}
    for item in items:
        key, value = parse_override(item)
        entry, _, key = key.rpartition(':')
        out.setdefault(entry or '*', {})[key] = value
    return out


def options_per_entry(entries: Sequence[Any],
                      cfg_options: Optional[Mapping[str, Mapping[str, Any]]], *,
                      what: str) -> Dict[str, Dict[str, Any]]:
    """``{entry key: overrides}`` from :func:`parse_cfg_options` output.

    Args:
        entries: Objects with a ``key`` (rows, methods).
        cfg_options: ``{'*': {...}, key: {...}}``; an entry's own keys win.
        what: What the entries are, for the error (``'methods'``, ``'rows'``).

    Raises:
        ValueError: options for a key that is not one of ``entries``.
    """
    spec = {k: dict(v) for k, v in (cfg_options or {}).items()}
    keys = [e.key for e in entries]
    unknown = sorted(set(spec) - {'*'} - set(keys))
    if unknown:
        verb = 'compared' if what == 'methods' else 'run'
        raise ValueError(f"--cfg-options names {what} not {verb}: {', '.join(unknown)} "
                         f"({what}: {', '.join(keys)})")
    return {k: {**spec.get('*', {}), **spec.get(k, {})} for k in keys}


@contextlib.contextmanager
def torch_threads(threads: Optional[int]) -> Iterator[None]:
    """Run the block with ``threads`` torch CPU threads (None: unchanged), then restore them."""
    import torch
    before = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(int(threads))
    try:
        yield
    finally:
        torch.set_num_threads(before)


def run_campaign(campaign: 'CellCampaign', *, threads: Optional[int],
                 figure: bool) -> Dict[str, Any]:
    """Run ``campaign`` holding its work dir (one campaign per folder) with ``threads`` torch threads."""
    from wsal.engine.workdir_lock import hold_work_dir
    with torch_threads(threads), hold_work_dir(campaign.work_dir):
        return campaign.run(figure=figure)


class CellCampaign:
    """The state of one campaign: the cells done so far and where the tables go.

    Args:
        work_dir: Data, cells (``seed<k>/<entry key>/``) and tables.
        preset: Synthetic preset of generated data.
        seeds: Each seed generates (or selects) its data and trains with it.
        entries: Objects with a ``key`` (Table 1 rows, methods).
        lr: Learning rate for every entry (None: the configs').
        data_root: Canonical-layout data instead of generated data.
        generator_options: Generator overrides, added to the preset's.
        force: Re-run cells that have results.
        retest: Test finished cells again without training.
        log_level: Console log level of each run.
        title: Heading of the Markdown tables (None: :attr:`titles`).
        log: Progress printer.
        quiet: No progress lines.
        shared: Also score every cell's final checkpoint with this
            post-processing (:mod:`.shared_postprocessing`); None: only
            with its own.
    """

    #: File stem of the tables and the progress label.
    kind = 'campaign'
    #: Default titles for generated data and for ``data_root``.
    titles: Tuple[str, str] = ('Experiments on synthetic THUMOS14-structured data', 'Experiments')
    #: Figure file name, with ``{seed}``.
    figure_name = 'figure_seed{seed}.png'

    def __init__(self, *, work_dir: str, preset: str, seeds: List[int], entries: Sequence[Any],
                 lr: Optional[float], data_root: Optional[str],
                 generator_options: Optional[Mapping[str, Any]], force: bool,
                 log_level: Optional[str], title: Optional[str],
                 log: Callable[[str], None], quiet: bool = False, retest: bool = False,
                 configs: Optional[Mapping[str, Any]] = None,
                 shared: Optional[SharedPostprocessing] = None) -> None:
        from .config import load_method_config
        self.work_dir, self.preset, self.seeds, self.entries = work_dir, preset, seeds, list(entries)
        # every entry's config read now: a config edited while cells wait does not change them
        given = dict(configs or {})
        self.configs: Dict[str, Any] = {
            e.key: given[e.key] if e.key in given else load_method_config(e.config)
            for e in self.entries}
        self.lr, self.data_root = lr, data_root
        self.force, self.log_level, self.log = force, log_level, log
        self.quiet, self.retest, self.shared = quiet, retest, shared
        self.opts = dict(PRESET_DEFAULTS[preset]['generator_options'])
        self.opts.update(generator_options or {})
        self.title = title or self.titles[0 if data_root is None else 1]
        self.cells: Dict[str, Dict[int, Dict[str, Any]]] = {e.key: {} for e in self.entries}
        self.roots: Dict[int, str] = {}
        self.readings: Dict[int, Optional[Dict[str, Any]]] = {}
        self.figures: List[str] = []

    # -- what subclasses say -------------------------------------------------
    def entry_iters(self, entry: Any) -> int:
        """Training iterations of ``entry``."""
        raise NotImplementedError

    def run_entry(self, entry: Any, *, seed: int, info: Mapping[str, Any],
                  cell_dir: str) -> Dict[str, Any]:
        """Run (or reuse) the cell of ``entry`` and ``seed``; return its result."""
        raise NotImplementedError

    def entry_config(self, entry: Any, *, seed: int, info: Mapping[str, Any], work_dir: str,
                     quiet: bool = False):
        """The resolved config of ``entry`` (drawn again for the figure, tested again
        with a shared post-processing); ``quiet``: no progress line."""
        raise NotImplementedError

    def entry_label(self, entry: Any) -> str:
        """The entry's name in the figure."""
        return entry.key

    def summarize(self, done: Mapping[str, Mapping[int, Dict[str, Any]]]) -> Dict[str, Any]:
        """The summary of the finished cells (without ``meta``): :func:`~.report.summarize`."""
        return summarize(done)

    def extra_meta(self) -> Dict[str, Any]:
        """Campaign-specific ``meta`` fields."""
        return {}

    def format(self, summary: Mapping[str, Any]) -> str:
        """The Markdown tables."""
        raise NotImplementedError

    # -- the campaign --------------------------------------------------------
    def run(self, *, figure: bool) -> Dict[str, Any]:
        """Run every cell, draw the first seed's figure, write the final tables."""
        from wsal.engine.progress_hook import campaign
        os.makedirs(self.work_dir, exist_ok=True)
        self._start = time.time()
        total = len(self.seeds) * sum(self.entry_iters(e) for e in self.entries)
        with campaign(total, self.kind) as progress:
            self._run_cells(progress, figure=figure)
        summary = self.write(final=True)
        self.log('')
        self.log(summary['markdown'])
        self.log(f'wrote {osp.join(self.work_dir, self.kind + ".json")} and '
                 f'{osp.join(self.work_dir, self.kind + ".md")} ({time.time() - self._start:.0f}s)')
        return summary

    def _run_cells(self, progress, *, figure: bool) -> None:
        from wsal.datasets.data_info import read_data_info
        for seed in self.seeds:
            root = seed_data_root(seed=seed, data_root=self.data_root, work_dir=self.work_dir,
                                  preset=self.preset, generator_options=self.opts, log=self.log)
            self.roots[seed] = root
            info = read_data_info(root)
            self.readings[seed] = data_reading(root, seed=seed, work_dir=self.work_dir,
                                               log=None if self.quiet else self.log)
            for entry in self.entries:
                progress.begin(f'{entry.key} seed {seed}')
                cell_dir = osp.join(self.work_dir, f'seed{seed}', entry.key)
                cell = self.run_entry(entry, seed=seed, info=info, cell_dir=cell_dir)
                if self.shared is not None:
                    cell = self._score_shared(entry, cell, seed=seed, info=info,
                                              cell_dir=cell_dir)
                self.cells[entry.key][seed] = cell
                progress.advance(self.entry_iters(entry))
                self.log(f'  ({time.time() - self._start:.0f}s elapsed)')
                self.write(final=False)
            if figure and seed == self.seeds[0]:
                self._figure(seed, info)

    def share_postprocessing(self, spec: Optional[str],
                             options: Mapping[str, Mapping[str, Any]]) -> None:
        """Score every cell with the post-processing ``spec`` names as well (None: no).

        Checked now, before any data or training
        (:func:`~.shared_postprocessing.resolve_shared_postprocessing`).
        """
        self.shared = None if spec is None else resolve_shared_postprocessing(
            spec, configs=self.configs, options=options)

    def _score_shared(self, entry: Any, cell: Dict[str, Any], *, seed: int,
                      info: Mapping[str, Any], cell_dir: str) -> Dict[str, Any]:
        from .cell import RESULT_FILE
        config = self.entry_config(entry, seed=seed, info=info, quiet=True,
                                   work_dir=osp.join(cell_dir, SHARED_FOLDER))
        return score_cell(cell, shared=self.shared, config=config,
                          result_file=osp.join(cell_dir, RESULT_FILE),
                          name=f'{entry.key} seed {seed}',
                          log=(lambda _: None) if self.quiet else self.log)

    def cell_kwargs(self) -> Dict[str, Any]:
        """The :func:`~.cell.run_cell` arguments every cell of this campaign shares."""
        generated = self.data_root is None
        return dict(preset=self.preset if generated else None, lr=self.lr,
                    generator_options=self.opts if generated else {}, force=self.force,
                    log_level=self.log_level, quiet=self.quiet, retest=self.retest, log=self.log)

    def _figure(self, seed: int, info: Mapping[str, Any]) -> None:
        def config_for(entry: Any) -> Callable[[str], Any]:
            return lambda work_dir: self.entry_config(entry, seed=seed, info=info,
                                                      work_dir=work_dir)

        path = osp.join(self.work_dir, self.figure_name.format(seed=seed))
        items = ((self.entry_label(e), self.cells[e.key].get(seed), config_for(e))
                 for e in self.entries)
        if save_cells_figure(path, items, log=self.log):
            self.figures.append(path)

    def write(self, *, final: bool) -> Dict[str, Any]:
        """Write ``<kind>.json`` and ``<kind>.md`` (atomically) from the cells so far."""
        from wsal.utils import atomic_write_json, atomic_write_text
        done = {k: v for k, v in self.cells.items() if v}
        summary = self.summarize(done)
        n_test = {c['num_test_videos'] for v in done.values() for c in v.values()}
        generated = self.data_root is None
        summary['meta'] = {
            'preset': self.preset if generated else None, 'seeds': list(self.seeds),
            'lr': self.lr,
            'data_desc': data_description(data_root=self.data_root, preset=self.preset,
                                          generator_options=self.opts),
            'data_roots': {str(k): v for k, v in self.roots.items()},
            'data_readings': {str(k): v for k, v in self.readings.items()},
            'generator_options': self.opts if generated else None,
            'num_test_videos': sorted(n_test)[0] if len(n_test) == 1 else sorted(n_test),
            'complete': final and all(len(v) == len(self.seeds) for v in self.cells.values()),
            'figures': list(self.figures),
            **META_NOTES,
            **self.extra_meta(),
        }
        if self.shared is not None:
            summary['shared_postprocessing'] = shared_summary(done, label=self.shared.label)
            summary['meta']['shared_postprocessing'] = {
                'from': self.shared.label, 'test_cfg': self.shared.test_cfg}
        md = self.format(summary)
        summary['markdown'] = md
        summary = nonfinite_to_none(summary)
        atomic_write_json(osp.join(self.work_dir, f'{self.kind}.json'), summary)
        atomic_write_text(osp.join(self.work_dir, f'{self.kind}.md'), md)
        return summary
