"""``wsal compare``: several methods on the same data and seeds, one table.

Trains every given method config on the same data with the same seeds and
the same number of iterations (unless --iters says otherwise per method),
tests each final checkpoint and prints one table in the papers' layout (AP at
tIoU 0.1-0.9, averages over 0.1-0.7 and 0.1-0.9, mean ± std over seeds) with
each method's published THUMOS14 number beside it, its attention / class
activation health, failure flags and training time. Re-running the same
command resumes: a finished (method, seed) cell is reused while its resolved
config and settings are unchanged.
"""
from __future__ import annotations

METHODS = ('stpn', 'bm', 'wtalc', 'basnet', 'um', 'cola')


def register(subparsers) -> None:
    p = subparsers.add_parser(
        'compare', help='train several methods on the same data and seeds, one table',
        description=__doc__.split('\n\n')[1].replace('\n', ' '))
    p.add_argument('configs', nargs='+', metavar='CONFIG',
                   help=f'methods: short names ({", ".join(METHODS)}), packaged config names '
                   '(e.g. stpn/stpn_i3d_thumos14.py) or config paths')
    p.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2], metavar='N',
                   help='seeds; each one generates its own data and trains with it (default 0 1 2)')
    src = p.add_mutually_exclusive_group()
    src.add_argument('--preset', default=None, choices=['tiny', 'small', 'full'],
                     help='synthetic data size: tiny (tests), small (40 + 20 videos), full (all '
                     '412 THUMOS14 videos) (default small)')
    src.add_argument('--data-root', metavar='DIR', default=None,
                     help='use this canonical-layout data instead of generating it; "{seed}" in '
                     'the path is replaced by each seed')
    p.add_argument('--iters', nargs='+', default=[], metavar='N|METHOD=N',
                   help='training iterations, the same for every method (default: tiny 30, '
                   'small 1500, full 2000); METHOD=N sets one method\'s, e.g. --iters 300 '
                   'stpn=1500')
    p.add_argument('--cfg-options', nargs='+', default=[], metavar='[METHOD:]KEY=VALUE',
                   help='config overrides for every method, or for one with a METHOD: prefix, '
                   'e.g. basnet:train_dataloader.batch_size=4 (recorded in the tables; a change '
                   're-runs the cells it affects)')
    p.add_argument('--lr', type=float, default=None,
                   help="Adam learning rate for every method (default: each config's)")
    p.add_argument('--val-interval', type=int, default=None, metavar='N',
                   help='also validate every N iterations (test split; learning curves only, '
                   'never used to pick a checkpoint)')
    p.add_argument('--work-dir', metavar='DIR', default=None,
                   help='data, runs and tables (default work_dirs/compare_<preset>)')
    p.add_argument('--no-figure', action='store_true',
                   help='skip the plot of every method on one test video')
    from wsal.cli._common import add_cell_args
    add_cell_args(p)
    p.set_defaults(func=run)


def run(args) -> int:
    from wsal.experiments.compare import parse_cfg_options, parse_iters, run_compare
    preset = args.preset or 'small'
    work_dir = args.work_dir or f'work_dirs/compare_{preset}'
    run_compare(args.configs, work_dir=work_dir, preset=preset, seeds=args.seeds,
                iters=parse_iters(args.iters), cfg_options=parse_cfg_options(args.cfg_options),
                lr=args.lr, val_interval=args.val_interval, data_root=args.data_root,
                figure=not args.no_figure, force=args.force, retest=args.retest,
                log_level=args.log_level, quiet=args.quiet, threads=args.threads,
                postprocess_from=args.postprocess_from)
    return 0
