"""STPN vs the background-aware model on synthetic THUMOS14 data (``wsal demo``).

Generates a small synthetic THUMOS14-structured feature set, trains the STPN
config and the background-modeling config on it, evaluates both final
checkpoints on its test split, and writes the comparison table (AP at tIoU
0.1-0.9 and the averages, like Table 2 of the paper), the metrics and a
Figure-4-style PNG (one row block per model). Every number is this run's.
"""
from __future__ import annotations

import os
import os.path as osp
import time
from typing import Any, Callable, Dict, Optional

from wsal.apis.health import health_metrics
from wsal.apis.schedule import describe_schedule

from .cell import cell_flags, idle_terms, train_and_test
from .config import experiment_config
from .data import ensure_synthetic_data
from .figure import save_models_figure

__all__ = ['DEMO_METHODS', 'DEFAULT_ITERS', 'DEFAULT_LR', 'run_demo', 'demo_table']

DEMO_METHODS = (
    ('STPN', 'stpn/stpn_i3d_thumos14.py'),
    ('Ours (BM)', 'bm/bm_i3d_thumos14.py'),
)
#: Adam steps (one video each) per model: 50 passes over the 40 training
#: videos of the small preset, long enough for the background-aware model's
#: foreground loss to saturate so that the guide term sets λ's level (small
#: preset, seed 0, lr 1e-4: its mAP@0.5 was 19.6 at 1k and 21.7 at 2k
#: iterations).
DEFAULT_ITERS = 2000
DEFAULT_LR = 1e-4


def run_demo(*, work_dir: str, preset: str = 'small', seed: int = 0,
             iters: Optional[int] = None, lr: Optional[float] = DEFAULT_LR, figure: bool = True,
             log_level: Optional[str] = None, quiet: bool = False,
             threads: Optional[int] = 1,
             log: Callable[[str], None] = print) -> Dict[str, Any]:
    """Train and test both methods; write ``table.txt``, ``results.json``, ``figure4.png``.

    Args:
        work_dir: Data (``data_<preset>_seed<k>/``), one folder per method, outputs.
        preset: Synthetic preset.
        seed: Seed of the data and of training.
        iters: Training iterations per model (default :data:`DEFAULT_ITERS`).
        lr: Adam learning rate (None: the configs').
        figure: Write the figure.
        log_level: Console log level of the runs (None: ``'WARNING'``); each
            model's folder keeps its full INFO log.
        quiet: No progress lines (per model and overall, with ETA).
        threads: ``torch.set_num_threads`` while the demo runs (None: torch's
            default). These small models train several times faster on one
            thread than on several (see the README's set-up section).
        log: Progress printer.

    Returns:
        dict: ``{'table': str, 'results': {name: EvalResult}, 'figure': path or None}``.
    """
    from .campaign import torch_threads
    with torch_threads(threads):
        return _run_demo(work_dir=work_dir, preset=preset, seed=seed, iters=iters, lr=lr,
                         figure=figure, log_level=log_level, quiet=quiet, log=log)


def _run_demo(*, work_dir: str, preset: str, seed: int, iters: Optional[int],
              lr: Optional[float], figure: bool, log_level: Optional[str], quiet: bool,
              log: Callable[[str], None]) -> Dict[str, Any]:
    """:func:`run_demo` with the thread count set."""
    from wsal.datasets.data_info import read_data_info
    from wsal.engine.progress_hook import campaign
    from wsal.utils import atomic_write_json, atomic_write_text
    os.makedirs(work_dir, exist_ok=True)
    start = time.time()
    iters = int(iters or DEFAULT_ITERS)
    data_root = ensure_synthetic_data(osp.join(work_dir, f'data_{preset}_seed{seed}'),
                                      preset=preset, seed=seed, log=log)
    info = read_data_info(data_root)
    results, models, cfgs, flags = {}, {}, {}, {}
    with campaign(iters * len(DEMO_METHODS), 'demo') as progress:
        for name, method in DEMO_METHODS:
            tag = osp.splitext(osp.basename(method))[0]
            cfg = experiment_config(method, data_root=data_root,
                                    work_dir=osp.join(work_dir, tag), seed=seed, iters=iters,
                                    lr=lr, data_info=info, log_level=log_level, quiet=quiet)
            log(f'[{time.time() - start:5.0f}s] training and testing {name} ({method}, '
                f'{iters} iterations) ...')
            progress.begin(name)
            run = train_and_test(cfg)
            progress.advance(iters)
            results[name], models[name], cfgs[name] = run.result, run.model, cfg
            health = health_metrics(run.result.metrics)
            flags[name] = cell_flags(health, run.losses, idle_terms(run.model, run.curves['train']),
                                     val_curve=run.curves['val'])
    decays = sorted({float(c.optim_wrapper.optimizer.get('weight_decay', 0.0))
                     for c in cfgs.values()})
    schedules = sorted({describe_schedule(c.get('param_scheduler'),
                                          max_iters=c.train_cfg.get('max_iters'))
                        for c in cfgs.values()})
    table = demo_table(results, flags, preset=preset, seed=seed, iters=iters, lr=lr,
                       weight_decay=decays[0] if len(decays) == 1 else None,
                       schedule=schedules[0] if len(schedules) == 1 else None,
                       data_root=data_root, info=info)
    log('')
    log(table)
    atomic_write_text(osp.join(work_dir, 'table.txt'), table + '\n')
    atomic_write_json(osp.join(work_dir, 'results.json'), {
        'preset': preset, 'seed': seed, 'iters': iters, 'lr': lr, 'data_root': data_root,
        'models': {n: {'config': m, 'checkpoint_selection': results[n].selection,
                       'flags': flags[n], 'metrics': results[n].detection.to_dict()}
                   for n, m in DEMO_METHODS}})
    fig_path = None
    if figure:
        fig_path = save_models_figure(osp.join(work_dir, 'figure4.png'),
                                      [(n, models[n]) for n, _ in DEMO_METHODS],
                                      dataset_cfg=cfgs[DEMO_METHODS[0][0]].test_dataloader.dataset)
        log(f'\nfigure: {fig_path}')
    log(f'table: {osp.join(work_dir, "table.txt")}\n(total {time.time() - start:.0f}s)')
    return {'table': table, 'results': results, 'figure': fig_path}


def demo_table(results: Dict[str, Any], flags: Dict[str, list], *, preset: str, seed: int,
               iters: int, lr: Optional[float], data_root: str, info: Dict[str, Any],
               weight_decay: Optional[float] = None, schedule: Optional[str] = None) -> str:
    """The side-by-side table with the protocol of the runs behind it.

    Says the training data (preset, videos, feature dims), iterations, learning
    rate, its schedule (:func:`wsal.apis.schedule.describe_schedule`) and weight
    decay (None: each config's own, when they differ), seed and
    which checkpoint was evaluated, per model; a model whose
    attention failed (collapsed, saturated, inverted) or whose loss was still
    falling gets its flags after its row.
    """
    from wsal.evaluation import format_map_comparison
    selections = sorted({r.selection for r in results.values()})
    title = ('Synthetic THUMOS14 test split: detection mAP of the '
             + ' / '.join(selections) + ' checkpoints')
    notes = {n: '[' + '; '.join(f) + ']' for n, f in flags.items() if f}
    table = format_map_comparison({n: r.detection for n, r in results.items()}, title=title,
                                  notes=notes)
    dims = ', '.join(f'{s}={d}' for s, d in (info.get('dims') or {}).items())
    lr_text = f'{lr:g}' if lr is not None else "the configs'"
    wd_text = f'{weight_decay:g}' if weight_decay is not None else "the configs'"
    sched_text = schedule or "the configs' schedules"
    lines = table.splitlines()
    setup = [f'  training: synthetic preset {preset!r} (data seed {seed}, {data_root}), '
             f"subset 'validation', features {dims}",
             f'  each model: {iters} iterations (one video each), Adam lr {lr_text} '
             f'({sched_text}), '
             f'weight decay {wd_text}, '
             f'training seed {seed}; evaluated: the checkpoint of iteration {iters} (final, '
             'not selected on the test split)']
    if notes:
        setup.append('  flags after a row: attention health / convergence problems of that '
                     'model (its detections are not to be trusted); idle:<term>: a loss term '
                     'still at its chance level (a uniform guess) at the end of training')
    return '\n'.join(lines[:1] + setup + lines[1:])
