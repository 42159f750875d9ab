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
from typing import Any, Callable, Dict, Mapping, Optional, Sequence, Union

from .campaign import (PRESET_DEFAULTS, CellCampaign, check_campaign_args, options_per_entry,
                       run_campaign)
from .cell import run_cell
from .config import experiment_config
from .report import format_markdown
from .table1 import AblationRow, select_rows

__all__ = ['PRESET_DEFAULTS', 'run_ablation']

PathLike = Union[str, os.PathLike]


def run_ablation(*, work_dir: PathLike, preset: str = 'small', seeds: Sequence[int] = (0, 1, 2),
                 rows: Optional[Sequence[str]] = None, iters: Optional[int] = None,
                 lr: Optional[float] = None, data_root: Optional[str] = None,
                 generator_options: Optional[Mapping[str, Any]] = None,
                 cfg_options: Optional[Mapping[str, Mapping[str, Any]]] = None,
                 val_interval: Optional[int] = None, figure: bool = True, force: bool = False,
                 retest: bool = False, log_level: Optional[str] = 'WARNING', threads: Optional[int] = 1,
                 title: Optional[str] = None, quiet: bool = False,
                 configs: Optional[Mapping[str, Any]] = None,
                 postprocess_from: Optional[str] = None,
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
        cfg_options: Config overrides, ``{'*': {key: value}}`` for every row
            and ``{row_key: {key: value}}`` for one (e.g.
            ``{'*': {'model.losses.consensus': None}}``: the paper's four
            terms only). Recorded in the tables; a cell re-runs when its
            overrides change.
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
        configs: ``{row key: Config}`` read before
            (:func:`~.config.load_method_config`); the rows not given are read
            now. Every cell trains its row's config as it was when the
            ablation started, whatever is edited on disk while cells wait.
        postprocess_from: Also score every cell's final checkpoint with the
            ``model.test_cfg`` of this row (e.g. ``'r8'``, with its
            overrides) or config, and add that table
            (:mod:`.shared_postprocessing`); checked before any work.
        log: Progress printer.
    """
    seeds = check_campaign_args(preset=preset, seeds=seeds, data_root=data_root,
                                generator_options=generator_options)
    iters = int(iters or PRESET_DEFAULTS[preset]['iters'])
    if iters < 1:
        raise ValueError(f'iters must be >= 1, got {iters}')
    entries = select_rows(rows)
    ablation = _Ablation(work_dir=os.fspath(work_dir), preset=preset, seeds=seeds,
                         entries=entries, iters=iters, lr=lr, data_root=data_root,
                         options=options_per_entry(entries, cfg_options, what='rows'),
                         generator_options=generator_options, val_interval=val_interval,
                         force=force, log_level=log_level, title=title, quiet=quiet,
                         retest=retest, configs=configs, log=log)
    ablation.share_postprocessing(postprocess_from, ablation.options)
    return run_campaign(ablation, threads=threads, figure=figure)


class _Ablation(CellCampaign):
    """Table 1 rows × seeds, every row trained ``iters`` iterations."""

    kind = 'ablation'
    titles = ('Table 1 ablation on synthetic THUMOS14-structured data', 'Table 1 ablation')
    figure_name = 'figure4_seed{seed}.png'

    def __init__(self, *, iters: int, val_interval: Optional[int],
                 options: Mapping[str, Mapping[str, Any]], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.iters, self.val_interval = iters, val_interval
        self.options = {k: dict(v) for k, v in options.items()}

    def entry_iters(self, entry: AblationRow) -> int:
        return self.iters

    def run_entry(self, entry: AblationRow, *, seed: int, info: Mapping[str, Any],
                  cell_dir: str) -> Dict[str, Any]:
        options = self.options[entry.key]
        # cells without overrides keep the settings they always had (and stay reusable)
        extra = {'cfg_options': options} if options else None
        return run_cell(entry, seed=seed, data_root=self.roots[seed], cell_dir=cell_dir,
                        iters=self.iters, val_interval=self.val_interval, data_info=info,
                        extra_settings=extra, cfg_options=options,
                        config=self.configs[entry.key], **self.cell_kwargs())

    def entry_config(self, entry: AblationRow, *, seed: int, info: Mapping[str, Any],
                     work_dir: str, quiet: bool = False):
        return experiment_config(self.configs[entry.key], data_root=self.roots[seed],
                                 work_dir=work_dir, seed=seed, iters=self.iters, lr=self.lr,
                                 data_info=info, cfg_options=self.options[entry.key],
                                 quiet=quiet)

    def entry_label(self, entry: AblationRow) -> str:
        return f'{entry.key} {entry.name}'

    def extra_meta(self) -> Dict[str, Any]:
        meta = {'iters': self.iters, 'rows_run': [r.key for r in self.entries]}
        if any(self.options.values()):
            meta['cfg_options'] = {k: v for k, v in self.options.items() if v}
        return meta

    def format(self, summary: Mapping[str, Any]) -> str:
        return format_markdown(summary, title=self.title)
