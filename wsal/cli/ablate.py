"""``wsal ablate``: the paper's Table 1 ablation on synthetic THUMOS14-structured data.

Trains and tests every Table 1 row config (configs/ablation/r1..r8; r2 is
STPN) on the same synthetic data for each seed, and prints the table in the
paper's layout (loss check marks, AP at tIoU 0.1-0.9, average) as mean ± std
over seeds, with the attention health and training time of every row.
Seed k generates the data with generator seed k and trains with seed k.
Every number is measured on the final checkpoint of each run. Re-running the
same command resumes: finished (row, seed) cells are skipped.

Sweep mode (--settings and/or --settings-file): the ablation for each of
several generator settings (a name plus overrides of the synthetic
generator's fields) x seeds, one table per setting, a summary with failure
flags per cell (inverted, collapsed, saturated, not-converged, idle; with
--val-interval also not-converged:attention and declined).
"""
from __future__ import annotations


def register(subparsers) -> None:
    p = subparsers.add_parser(
        'ablate', help="reproduce the paper's Table 1 ablation on synthetic data",
        description=__doc__.split('\n\n')[1].replace('\n', ' '))
    p.add_argument('--preset', default='small', choices=['tiny', 'small', 'full'],
                   help='synthetic data size: tiny (tests), small (40 + 20 videos), '
                   'full (all 412 THUMOS14 videos) (default small)')
    p.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2], metavar='N',
                   help='seeds; each one generates its own data and trains with it (default 0 1 2)')
    p.add_argument('--configs', nargs='+', default=None, metavar='ROW',
                   help='rows to run: r1 .. r8 or their config names (default: all of Table 1)')
    p.add_argument('--work-dir', metavar='DIR', default=None,
                   help='data, runs and tables (default work_dirs/ablation_<preset>)')
    p.add_argument('--data-root', metavar='DIR', default=None,
                   help='use this canonical-layout data instead of generating it; "{seed}" in '
                   'the path is replaced by each seed')
    p.add_argument('--iters', type=int, default=None,
                   help='training iterations per model, the same for every row '
                   '(default: tiny 30, small 1500, full 2000)')
    p.add_argument('--lr', type=float, default=None,
                   help="Adam learning rate for every row (default: the configs' 1e-4)")
    p.add_argument('--generator-options', nargs='+', default=[], metavar='KEY=VALUE',
                   help='synthetic generator overrides (SyntheticConfig fields, values as JSON), '
                   'e.g. context_rgb=0.3 actionness_flow=0.6')
    p.add_argument('--settings', nargs='+', default=[], metavar='NAME[:K=V,K=V]',
                   help='sweep mode: generator settings, e.g. base flow_cue:actionness_flow=0.8,'
                   'actionness_rgb=0.2 (values as JSON); one ablation per setting under '
                   '<work dir>/<NAME>/ plus sweep.md / sweep.json')
    p.add_argument('--settings-file', metavar='FILE', default=None,
                   help='sweep mode: settings from a JSON file {name: {option: value}} or a '
                   'Python file defining SETTINGS = {...}')
    p.add_argument('--cfg-options', nargs='+', default=[], metavar='[ROW:]KEY=VALUE',
                   help='config overrides for every row, or for one with a ROW: prefix, e.g. '
                   "'model.losses.consensus=None' (the paper's four terms only) or "
                   "'r8:model.losses.bg.weight=0.2'; recorded in the tables")
    p.add_argument('--val-interval', type=int, default=None, metavar='N',
                   help='also validate every N iterations (test split; learning curves only, '
                   'never used to pick a checkpoint)')
    p.add_argument('--no-figure', action='store_true', help='skip the Figure-4 plot')
    from wsal.cli._common import add_cell_args
    add_cell_args(p)
    p.set_defaults(func=run)


def run(args) -> int:
    from wsal.cli.make_synthetic import parse_options
    from wsal.experiments.campaign import parse_cfg_options
    work_dir = args.work_dir or f'work_dirs/ablation_{args.preset}'
    if args.generator_options and args.data_root:
        raise ValueError('--generator-options applies to generated data, not to --data-root')
    common = dict(work_dir=work_dir, preset=args.preset, seeds=args.seeds, rows=args.configs,
                  iters=args.iters, lr=args.lr, val_interval=args.val_interval, force=args.force,
                  retest=args.retest, log_level=args.log_level, quiet=args.quiet,
                  threads=args.threads, cfg_options=parse_cfg_options(args.cfg_options),
                  postprocess_from=args.postprocess_from)
    if args.settings or args.settings_file:
        from wsal.experiments.sweep import load_settings, parse_setting, run_sweep
        if args.data_root or args.generator_options:
            raise ValueError('--settings / --settings-file set the generator per setting; '
                             'they do not combine with --data-root or --generator-options')
        settings = load_settings(args.settings_file) if args.settings_file else []
        settings += [parse_setting(text) for text in args.settings]
        run_sweep(settings=settings, **common)
        return 0
    from wsal.experiments.ablation import run_ablation
    run_ablation(data_root=args.data_root, generator_options=parse_options(args.generator_options),
                 figure=not args.no_figure, **common)
    return 0
