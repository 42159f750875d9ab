"""The paper's Table 1 ablation on synthetic THUMOS14-structured data (``wsal ablate``).

For every seed ``k`` the ablation

1. generates the synthetic THUMOS14-structured feature set with generator
   seed ``k`` (or uses ``data_root``, where a ``{seed}`` placeholder selects
   one folder per seed), written once under ``<work_dir>/data/``;
2. trains every Table 1 row config (``configs/ablation/r1..r8``; r2 is STPN,
   ``L_fg + L_sparse``) on that data with training seed ``k`` and the same
   schedule for every row, then post-processes and evaluates the final
   checkpoint on the test split;
3. stores the cell ``(row, seed)`` as ``<work_dir>/seed<k>/<row>/result.json``
   (:func:`~.cell.run_cell`). An interrupted ablation re-run skips every cell
   whose ``result.json`` exists with the same settings.

Finally it aggregates mean ± std over seeds into ``ablation.json`` and
``ablation.md`` (:mod:`.report`) and draws a Figure-4-style plot of λ against
the ground truth for one test video.

Example:
    >>> from wsal.experiments import run_ablation
    >>> summary = run_ablation(work_dir='work_dirs/ablation_tiny', preset='tiny',
    ...                        seeds=[0], rows=['r1', 'r8'], iters=20)
    >>> summary['rows']['r8']['mAP']['mean']      # [9] fractions, tIoU 0.1..0.9
"""
from __future__ import annotations

import os
import os.path as osp
import time
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Union

from wsal.engine.workdir_lock import hold_work_dir

from .cell import finite, run_cell
from .config import experiment_config
from .data import check_seed_data_roots, data_description, seed_data_root
from .figure import save_cells_figure
from .report import META_NOTES, format_markdown, summarize
from .table1 import AblationRow, select_rows

__all__ = ['PRESET_DEFAULTS', 'run_ablation']

PathLike = Union[str, os.PathLike]

#: Per synthetic preset: default training iterations (one video each, shared
#: by all rows) and the generator options the ablation adds (Table 1 uses no
#: micro-videos, so none are generated; the per-video features of the
#: THUMOS14 videos do not depend on it).
PRESET_DEFAULTS: Dict[str, Dict[str, Any]] = {
    'tiny': dict(iters=30, generator_options=dict(num_micro_videos=0)),
    'small': dict(iters=1500, generator_options=dict(num_micro_videos=0)),
    'full': dict(iters=2000, generator_options=dict(num_micro_videos=0)),
}


def run_ablation(*, work_dir: PathLike, preset: str = 'small', seeds: Sequence[int] = (0, 1, 2),
                 rows: Optional[Sequence[str]] = None, iters: Optional[int] = None,
                 lr: Optional[float] = None, data_root: Optional[str] = None,
                 generator_options: Optional[Mapping[str, Any]] = None,
                 val_interval: Optional[int] = None, figure: bool = True, force: bool = False,
                 retest: bool = False, log_level: Optional[str] = 'WARNING', threads: Optional[int] = 1,
                 title: Optional[str] = None, quiet: bool = False,
                 log: Callable[[str], None] = print) -> Dict[str, Any]:
    """Run (or resume) the ablation; write ``ablation.json`` / ``ablation.md``; return the summary.

    Args:
        work_dir: Everything goes here: ``data/``, ``seed<k>/<row>/``, the tables.
        preset: Synthetic preset (``tiny``, ``small``, ``full``); sets the
            default ``iters`` (:data:`PRESET_DEFAULTS`).
        seeds: Each seed k generates its own data (generator seed k) and
            trains every row with training seed k.
        rows: Row keys / config names (default: all of Table 1).
        iters: Training iterations per model, shared by every row.
        lr: Adam learning rate for every row (None: the configs' 1e-4).
        data_root: Use this canonical-layout data instead of generating it;
            ``{seed}`` in it is replaced by the seed (else all seeds share it
            and only the training seed varies).
        generator_options: Overrides of the synthetic generator's config
            fields for generated data, added to the preset's ablation options.
        val_interval: Validate (synthetic test split, curves only) this often.
        figure: Write ``figure4_seed<k>.png`` for the first seed.
        force: Re-run cells even when their result exists.
        retest: Test the final checkpoint of finished cells again (current
            post-processing and evaluators; no training) and replace their
            test results.
        log_level: Console log level of each run (None: ``'WARNING'``); the
            log file in each cell folder keeps the full INFO log.
        quiet: No progress lines (per cell and overall, with ETA).
        threads: ``torch.set_num_threads`` for the run (None: torch's
            default). Small models on a few busy cores train faster with one
            thread (an Adam step of this model was ~14x slower with two
            threads on two loaded cores).
        title: Heading of the Markdown table.
        log: Progress printer.
    """
    import torch
    if preset not in PRESET_DEFAULTS:
        raise ValueError(f"unknown preset '{preset}'; choose from {sorted(PRESET_DEFAULTS)}")
    seeds = [int(s) for s in seeds]
    if not seeds or len(set(seeds)) != len(seeds):
        raise ValueError(f'seeds must be distinct and non-empty, got {seeds}')
    iters = int(iters or PRESET_DEFAULTS[preset]['iters'])
    if iters < 1:
        raise ValueError(f'iters must be >= 1, got {iters}')
    selected = select_rows(rows)
    if data_root is not None:  # every folder exists before any training starts
        check_seed_data_roots(data_root, seeds)
    before = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(int(threads))
    try:
        with hold_work_dir(work_dir):  # one ablation per work dir
            return _Ablation(work_dir=os.fspath(work_dir), preset=preset, seeds=seeds,
                             rows=selected, iters=iters, lr=lr, data_root=data_root,
                             generator_options=generator_options, val_interval=val_interval,
                             force=force, log_level=log_level, title=title, quiet=quiet,
                             retest=retest, log=log).run(figure=figure)
    finally:
        torch.set_num_threads(before)


class _Ablation:
    """The state of one ablation run: cells done so far and where the tables go."""

    def __init__(self, *, work_dir: str, preset: str, seeds: List[int], rows: List[AblationRow],
                 iters: int, lr: Optional[float], data_root: Optional[str],
                 generator_options: Optional[Mapping[str, Any]], val_interval: Optional[int],
                 force: bool, log_level: Optional[str], title: Optional[str],
                 log: Callable[[str], None], quiet: bool = False, retest: bool = False) -> None:
        self.work_dir, self.preset, self.seeds, self.rows = work_dir, preset, seeds, rows
        self.iters, self.lr, self.data_root, self.val_interval = iters, lr, data_root, val_interval
        self.force, self.log_level, self.log = force, log_level, log
        self.quiet, self.retest = quiet, retest
        self.opts = dict(PRESET_DEFAULTS[preset]['generator_options'])
        self.opts.update(generator_options or {})
        self.title = title or ('Table 1 ablation on synthetic THUMOS14-structured data'
                               if data_root is None else 'Table 1 ablation')
        self.cells: Dict[str, Dict[int, Dict[str, Any]]] = {r.key: {} for r in rows}
        self.roots: Dict[int, str] = {}
        self.figures: List[str] = []

    def run(self, *, figure: bool) -> Dict[str, Any]:
        from wsal.engine.progress_hook import campaign
        os.makedirs(self.work_dir, exist_ok=True)
        self._start = time.time()
        total = len(self.seeds) * len(self.rows) * self.iters
        with campaign(total, 'ablation') as progress:
            self._run_cells(progress)
        if figure:
            self._figure(self.seeds[0], self._info)
        return self._finish()

    def _run_cells(self, progress) -> None:
        from wsal.datasets.data_info import read_data_info
        start = self._start
        for seed in self.seeds:
            root = seed_data_root(seed=seed, data_root=self.data_root, work_dir=self.work_dir,
                                  preset=self.preset, generator_options=self.opts, log=self.log)
            self.roots[seed] = root
            info = read_data_info(root)
            if seed == self.seeds[0]:
                self._info = info
            for row in self.rows:
                progress.begin(f'{row.key} seed {seed}')
                self.cells[row.key][seed] = run_cell(
                    row, seed=seed, data_root=root,
                    cell_dir=osp.join(self.work_dir, f'seed{seed}', row.key), iters=self.iters,
                    preset=None if self.data_root is not None else self.preset, lr=self.lr,
                    val_interval=self.val_interval,
                    generator_options={} if self.data_root is not None else self.opts,
                    data_info=info, force=self.force, log_level=self.log_level,
                    quiet=self.quiet, retest=self.retest, log=self.log)
                progress.advance(self.iters)
                self.log(f'  ({time.time() - start:.0f}s elapsed)')
                self.write(final=False)

    def _finish(self) -> Dict[str, Any]:
        summary = self.write(final=True)
        self.log('')
        self.log(summary['markdown'])
        self.log(f'wrote {osp.join(self.work_dir, "ablation.json")} and '
                 f'{osp.join(self.work_dir, "ablation.md")} ({time.time() - self._start:.0f}s)')
        return summary

    def _figure(self, seed: int, info: Mapping[str, Any]) -> None:
        def config_for(row: AblationRow) -> Callable[[str], Any]:
            return lambda work_dir: experiment_config(
                row.config, data_root=self.roots[seed], work_dir=work_dir, seed=seed,
                iters=self.iters, lr=self.lr, data_info=info)

        path = osp.join(self.work_dir, f'figure4_seed{seed}.png')
        entries = ((f'{row.key} {row.name}', self.cells[row.key].get(seed), config_for(row))
                   for row in self.rows)
        if save_cells_figure(path, entries, log=self.log):
            self.figures.append(path)

    def write(self, *, final: bool) -> Dict[str, Any]:
        """Write ``ablation.json`` and ``ablation.md`` (atomically) from the cells so far."""
        from wsal.utils import atomic_write_json, atomic_write_text
        done = {k: v for k, v in self.cells.items() if v}
        summary = summarize(done)
        n_test = {c['num_test_videos'] for v in done.values() for c in v.values()}
        desc = data_description(data_root=self.data_root, preset=self.preset,
                                generator_options=self.opts)
        summary['meta'] = {
            'preset': self.preset if self.data_root is None else None, 'seeds': list(self.seeds),
            'iters': self.iters, 'lr': self.lr, 'data_desc': desc,
            'data_roots': {str(k): v for k, v in self.roots.items()},
            'generator_options': self.opts if self.data_root is None else None,
            'num_test_videos': sorted(n_test)[0] if len(n_test) == 1 else sorted(n_test),
            'complete': final and all(len(v) == len(self.seeds) for v in self.cells.values()),
            'rows_run': [r.key for r in self.rows], 'figures': list(self.figures),
            **META_NOTES,
        }
        md = format_markdown(summary, title=self.title)
        summary['markdown'] = md
        summary = finite(summary)
        atomic_write_json(osp.join(self.work_dir, 'ablation.json'), summary)
        atomic_write_text(osp.join(self.work_dir, 'ablation.md'), md)
        return summary
