"""``wsal train``: train a localizer with mmengine's Runner.

Single process (CPU or one GPU) or distributed:
``torchrun --nproc_per_node=2 -m wsal train CONFIG`` (gloo on CPU, nccl on GPUs).
"""
from __future__ import annotations

from wsal.cli._common import add_config_args, add_log_args


def register(subparsers) -> None:
    p = subparsers.add_parser(
        'train', help='train a localizer (mmengine Runner)',
        description='Train with mmengine\'s Runner: logs every loss term, validates with the '
        'detection metric every train_cfg.val_interval iterations (monitoring only) and saves '
        'checkpoints at fixed iterations in the work dir; report the final one. Run under '
        'torchrun for distributed training.')
    p.add_argument('config', help='config file (a path, or one of the packaged configs/...)')
    p.add_argument('--work-dir', metavar='DIR', default=None,
                   help='where logs and checkpoints go (default: work_dirs/<config name>)')
    add_config_args(p)
    p.add_argument('--resume', nargs='?', const='auto', default=None, metavar='CKPT',
                   help='resume from CKPT, or from the latest checkpoint in the work dir '
                   'when given without a value')
    p.add_argument('--seed', type=int, default=None, help='random seed (randomness.seed)')
    p.add_argument('--select-on-test', action='store_true',
                   help='also keep the checkpoint with the best validation mAP@0.5 (best_*.pth). '
                   'The configs validate on the test split, so numbers of that checkpoint are '
                   'test-selected (reported as such by wsal test)')
    p.add_argument('--launcher', choices=['auto', 'none', 'pytorch'], default='auto',
                   help="'pytorch' under torchrun; 'auto' (default) detects it")
    add_log_args(p)
    p.set_defaults(func=run)


def run(args) -> int:
    from wsal.apis.runner import prepare_config, run_train
    from wsal.engine.compat import end_distributed
    cfg = prepare_config(args.config, work_dir=args.work_dir, data_root=args.data_root,
                         cfg_options=args.cfg_options, seed=args.seed, resume=args.resume,
                         launcher=None if args.launcher == 'auto' else args.launcher,
                         select_on_test=args.select_on_test, log_level=args.log_level,
                         quiet=args.quiet)
    runner = run_train(cfg)
    if runner.rank == 0:
        print(f'wsal train: done; checkpoints and logs in {runner.work_dir}')
    end_distributed(barrier=True)  # every rank finished: leave together
    return 0
