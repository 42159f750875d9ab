"""``wsal test``: post-process and evaluate a checkpoint on the test split."""
from __future__ import annotations

import os.path as osp

from wsal.cli._common import add_config_args, add_log_args


def register(subparsers) -> None:
    p = subparsers.add_parser(
        'test', help='evaluate a checkpoint on the test split',
        description='Run the post-processing and the evaluation of the config on its test '
        'split; print the mAP table; write the predictions (ActivityNet result format, '
        'seconds) and the metrics JSON (the format of wsal eval).')
    p.add_argument('config', help='config file the checkpoint was trained with')
    p.add_argument('checkpoint', help='checkpoint (.pth) written by wsal train')
    add_config_args(p)
    p.add_argument('--out', metavar='PRED.json', default=None,
                   help='predictions file (default: <work dir>/predictions.json)')
    p.add_argument('--metrics-out', metavar='METRICS.json', default=None,
                   help='metrics file (default: next to the predictions, *_metrics.json)')
    p.add_argument('--work-dir', metavar='DIR', default=None,
                   help='logs and plots, and the predictions unless --out is given (default: '
                   '<checkpoint folder>/test_<checkpoint name>/, apart from the training run\'s '
                   'plots)')
    p.add_argument('--postprocess-from', metavar='CONFIG', default=None,
                   help="score with another config's post-processing (its model.test_cfg), "
                   "e.g. STPN's checkpoint with the background-aware configs' proposals and "
                   'scores, to compare two models with the same post-processing; '
                   '--cfg-options still apply after it')
    add_log_args(p)
    p.set_defaults(func=run)


def metrics_path(pred_path: str) -> str:
    """``pred.json`` -> ``pred_metrics.json``."""
    root, ext = osp.splitext(pred_path)
    return f'{root}_metrics{ext or ".json"}'


def default_work_dir(checkpoint: str) -> str:
    """Where ``wsal test`` writes its logs and plots by default: a
    ``test_<checkpoint name>`` folder beside the checkpoint, so the training
    run's own ``vis/`` plots and logs are never overwritten."""
    stem = osp.splitext(osp.basename(checkpoint))[0]
    return osp.join(osp.dirname(osp.abspath(checkpoint)), f'test_{stem}')


def run(args) -> int:
    from wsal.apis.runner import prepare_config
    from wsal.engine.compat import distributed_launcher

    if not osp.isfile(args.checkpoint):
        raise FileNotFoundError(f'checkpoint not found: {args.checkpoint}')
    work_dir = args.work_dir or default_work_dir(args.checkpoint)
    config = args.config
    if args.postprocess_from:
        from wsal.apis.inference import with_test_cfg_of
        config = with_test_cfg_of(args.config, args.postprocess_from)
    cfg = prepare_config(config, work_dir=work_dir, data_root=args.data_root,
                         cfg_options=args.cfg_options, launcher=distributed_launcher(),
                         log_level=args.log_level, quiet=args.quiet)
    from wsal.apis.data_dims import check_checkpoint_dims
    from wsal.engine.compat import load_checkpoint_file
    from wsal.engine.workdir_lock import hold_work_dir
    state = load_checkpoint_file(args.checkpoint)  # refused before the work dir is touched
    check_checkpoint_dims(state.get('state_dict', state), dict(cfg.model.get('streams') or {}),
                          checkpoint=args.checkpoint)
    del state
    with hold_work_dir(work_dir):  # one run per work dir, outputs included
        code = _evaluate_and_write(args, cfg, work_dir)
    from wsal.engine.compat import end_distributed
    end_distributed(barrier=True)  # every rank finished (rank 0 wrote the outputs): leave together
    return code


def _evaluate_and_write(args, cfg, work_dir: str) -> int:
    from wsal.apis.runner import run_test
    from wsal.utils import atomic_write_json

    result = run_test(cfg, args.checkpoint)
    if result.detection is None:  # not rank 0
        return 0
    pred_path = args.out or osp.join(work_dir, 'predictions.json')
    met_path = args.metrics_out or metrics_path(pred_path)
    atomic_write_json(pred_path, result.predictions)
    from wsal.apis.health import (HEALTH_NOTE, class_signal_reading, health_flags,
                                  health_metrics)
    from wsal.evaluation import format_map_table
    payload = result.detection.to_dict()
    payload['checkpoint_selection'] = result.selection
    if args.postprocess_from:
        payload['postprocessing_from'] = args.postprocess_from
    payload['health_flags'] = health_flags(result.metrics)
    payload['health'] = health_metrics(result.metrics)
    atomic_write_json(met_path, payload)
    label = f' ({result.selection})' if result.selection != 'final' else ''
    if args.postprocess_from:
        label += f', post-processing of {osp.basename(args.postprocess_from)}'
    table = format_map_table(result.detection,
                             title=f'Detection mAP of {osp.basename(args.checkpoint)}{label}')
    flags = payload['health_flags']
    if flags:  # next to the row whose numbers they qualify
        lines = table.splitlines()
        lines[-1] += '  [' + '; '.join(flags) + ']'
        table = '\n'.join(lines) + f'\n  [...]: {HEALTH_NOTE}'
    print(table)
    proposal = (cfg.model.get('test_cfg') or {}).get('proposal') or {}
    reading = class_signal_reading(result.metrics, proposal=str(
        proposal.get('type', '') if isinstance(proposal, dict) else type(proposal).__name__))
    if reading:
        print(reading)
    print(f'predictions: {pred_path}\nmetrics: {met_path}')
    return 0
