"""``wsal demo``: STPN vs the background-aware model on synthetic THUMOS14 data.

Generates a small synthetic THUMOS14-structured feature set, trains the STPN
config and the background-modeling config on it, evaluates both final
checkpoints on its test split, prints them side by side like Table 2 of the
paper (AP at tIoU 0.1-0.9 and the average) and writes a Figure-4-style PNG
(ground truth, attention, T-CAM and detections of one test video, one row
block per model). Every number printed is the output of this run.
"""
from __future__ import annotations


#: ``wsal.experiments.demo``'s defaults, restated so that ``--help`` imports no torch
#: (tests/test_cli/test_demo.py checks that they agree).
DEFAULT_ITERS = 2000
DEFAULT_LR = 1e-4


def register(subparsers) -> None:
    p = subparsers.add_parser(
        'demo', help='train and compare STPN and the background-aware model on synthetic data',
        description=__doc__.split('\n\n')[1].replace('\n', ' '))
    p.add_argument('--work-dir', metavar='DIR', default='work_dirs/demo',
                   help='data, checkpoints, tables and figure go here (default work_dirs/demo)')
    p.add_argument('--preset', default='small', choices=['tiny', 'small', 'full'],
                   help='synthetic data size (default small)')
    p.add_argument('--seed', type=int, default=0, help='seed of the data and of training')
    p.add_argument('--iters', type=int, default=None,
                   help=f'training iterations (videos) per model (default {DEFAULT_ITERS})')
    p.add_argument('--lr', type=float, default=DEFAULT_LR,
                   help=f'Adam learning rate (default {DEFAULT_LR}, as in the paper; 1e-3 '
                   'collapses STPN\'s sparsity-regularised attention on this data)')
    p.add_argument('--threads', type=int, default=1,
                   help='torch CPU threads (default 1: these small models train fastest on one)')
    from wsal.cli._common import add_log_args
    add_log_args(p)
    p.set_defaults(func=run)


def run(args) -> int:
    from wsal.engine.workdir_lock import hold_work_dir
    from wsal.experiments.demo import run_demo
    with hold_work_dir(args.work_dir):  # one demo per work dir
        run_demo(work_dir=args.work_dir, preset=args.preset, seed=args.seed, iters=args.iters,
                 lr=args.lr, log_level=args.log_level, quiet=args.quiet, threads=args.threads)
    return 0
