"""Train and test with mmengine's Runner: the code behind ``wsal train/test``.

Example:
    >>> from wsal.apis import prepare_config, run_train, run_test
    >>> cfg = prepare_config('configs/bm/bm_i3d_thumos14.py', work_dir='work_dirs/bm')
    >>> runner = run_train(cfg)
    >>> result = run_test(cfg, 'work_dirs/bm/iter_10000.pth')
    >>> result.metrics, result.predictions['results']
"""
from __future__ import annotations

import contextlib
import copy
import io
import os
import os.path as osp
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Optional, Union

from wsal.apis.data_dims import LOADERS, apply_data_dims, dataset_configs
from wsal.apis.inference import check_state_dict, load_config
from wsal.apis.schedule import resolve_run_length
from wsal.engine.compat import (distributed_launcher, load_checkpoint_file,
                                prepare_distributed, safe_checkpoint_loading, scope_collate_fns)
from wsal.evaluation.detection_records import CollectDetections, predictions_to_activitynet
from wsal.engine.resume import resolve_resume
from wsal.engine.workdir_lock import hold_work_dir

__all__ = ['prepare_config', 'set_data_root', 'bind_ground_truth', 'check_data_roots',
           'build_runner', 'run_train', 'progress_lines_closed',
           'run_test', 'EvalResult', 'LOADERS', 'checkpoint_selection', 'TEST_SELECTED',
           'SELECT_ON_TEST_METRIC']

PathLike = Union[str, os.PathLike]
#: Validation metric that ``select_on_test`` keeps the best checkpoint by.
SELECT_ON_TEST_METRIC = 'detection/mAP@0.5'


def set_data_root(cfg, data_root: PathLike) -> None:
    """Point every dataset of the train/val/test dataloaders at ``data_root``."""
    for key in LOADERS:
        for ds in dataset_configs(cfg.get(key)):
            ds['data_root'] = os.fspath(data_root)
    cfg.data_root = os.fspath(data_root)


def check_data_roots(cfg, loaders=LOADERS) -> None:
    """Fail fast, naming the field, when a dataset's ``data_root`` or its
    ground-truth file (``ann_file``) is missing: before any Runner is built."""
    for key in loaders:
        for ds in dataset_configs(cfg.get(key)):
            root = ds.get('data_root')
            if root is not None and not Path(os.fspath(root)).expanduser().is_dir():
                raise FileNotFoundError(
                    f'data root not found: {root} ({key}.dataset.data_root; '
                    'set it with --data-root DIR)')
            ann = ds.get('ann_file')
            if root is None or not isinstance(ann, (str, os.PathLike)):
                continue
            path = Path(os.fspath(root)).expanduser() / os.fspath(ann)
            if not path.is_file():
                raise FileNotFoundError(
                    f'ground truth not found: {path} ({key}.dataset.ann_file in data root '
                    f'{root}; a data root holds gt.json and features/<stream>/<video>.npy)')


def _evaluator_list(evaluator) -> list:
    if isinstance(evaluator, dict) and 'metrics' in evaluator:
        return list(evaluator['metrics'] or [])
    if isinstance(evaluator, (list, tuple)):
        return list(evaluator)
    return [evaluator] if evaluator is not None else []


def bind_ground_truth(cfg) -> None:
    """Point every ``DetectionMAP`` without ``ann_file`` at its dataset's ground-truth file.

    Without ``ann_file`` the metric would rebuild the ground truth from the
    dataset items (float32 seconds), while ``wsal test`` and ``wsal eval``
    read ``gt.json`` (float64): instances on a tIoU boundary then counted
    differently and the two tables disagreed in the second decimal. Bound to
    the file, the subset and the video list of the dataset, every table of a
    run is one computation: the numbers ``wsal eval`` gives for the written
    predictions.
    """
    for ev_key, loader_key in (('val_evaluator', 'val_dataloader'),
                               ('test_evaluator', 'test_dataloader')):
        datasets = dataset_configs(cfg.get(loader_key))
        if len(datasets) != 1 or not datasets[0].get('ann_file'):
            continue
        ds = datasets[0]
        root = ds.get('data_root')
        ann = os.fspath(ds['ann_file'])
        if root is not None and not osp.isabs(ann):
            ann = osp.join(os.fspath(root), ann)
        subset = ds.get('subset')
        if isinstance(subset, (list, tuple)):
            subset = subset[0] if len(subset) == 1 else None
        video_list = ds.get('video_list')
        if isinstance(video_list, (str, os.PathLike)) and root is not None \
                and not osp.isabs(os.fspath(video_list)):
            video_list = osp.join(os.fspath(root), os.fspath(video_list))
        for metric in _evaluator_list(cfg.get(ev_key)):
            if isinstance(metric, dict) and metric.get('type') in ('DetectionMAP',
                                                                   'wsal.DetectionMAP') \
                    and metric.get('ann_file') is None:
                metric['ann_file'] = ann
                metric.setdefault('subset', subset)
                if metric.get('video_list') is None:
                    metric['video_list'] = video_list


def prepare_config(config: Any, *, work_dir: Optional[PathLike] = None,
                   data_root: Optional[PathLike] = None, cfg_options: Optional[dict] = None,
                   seed: Optional[int] = None, resume: Union[bool, str, None] = None,
                   launcher: Optional[str] = None, select_on_test: bool = False,
                   log_level: Optional[str] = None, quiet: bool = False,
                   dims_from_data: bool = True):
    """Load ``config`` and apply the command-line style overrides.

    Args:
        config: Config path (or packaged config name), ``Config`` or dict.
        work_dir: Output folder (default ``work_dirs/<config name>``).
        data_root: Replaces every dataset's ``data_root``.
        cfg_options: ``{'a.b': value}`` overrides.
        seed: Replaces ``randomness.seed``.
        resume: True / ``'auto'``: resume from the latest checkpoint in the
            work dir; a path: resume from it; None/False: train from scratch.
        launcher: ``'none'`` or ``'pytorch'``; default: ``'pytorch'`` under
            torchrun, else ``'none'``.
        select_on_test: Keep the checkpoint with the best validation
            ``detection/mAP@0.5`` as ``best_*.pth`` (the configs validate on
            the test split: the protocol of several published methods, which
            overstates accuracy). Default: only fixed-iteration checkpoints;
            the final one is the model to report.
        log_level: Console log level (``'DEBUG'`` ... ``'ERROR'``; None:
            ``'WARNING'``). The log file in the work dir always keeps the
            full INFO log (environment, config, hook order, every logged
            iteration).
        quiet: No progress line and only errors on the console.
        dims_from_data: Set the model's stream dims and every dataset's
            ``feature_dims`` from the first feature file of each stream of
            the data (see :func:`wsal.apis.data_dims.apply_data_dims`).

    Returns:
        mmengine.Config: ready for :func:`build_runner`.
    """
    from wsal.engine.console import CONSOLE_LEVEL_KEY, level_number
    level_number(log_level)  # an unknown level fails here, before any work
    cfg = load_config(config, cfg_options)
    resolve_run_length(cfg)   # a scheduler's end='max_iters' follows the run length
    name = Path(cfg.filename).stem if getattr(cfg, 'filename', None) else 'wsal'
    cfg.work_dir = os.fspath(work_dir or cfg.get('work_dir') or osp.join('work_dirs', name))
    if data_root is not None:
        set_data_root(cfg, data_root)
    if seed is not None:
        randomness = dict(cfg.get('randomness') or {})
        randomness['seed'] = int(seed)
        cfg.randomness = randomness
    if resume in (True, 'auto'):
        cfg.resume = True
        cfg.load_from = None
    elif resume:
        if not osp.isfile(os.fspath(resume)):
            raise FileNotFoundError(f'checkpoint to resume from not found: {resume}')
        cfg.resume = True
        cfg.load_from = os.fspath(resume)
    if select_on_test:
        cfg.merge_from_dict({'default_hooks.checkpoint.save_best': SELECT_ON_TEST_METRIC,
                             'default_hooks.checkpoint.rule': 'greater'})
    if dims_from_data:
        apply_data_dims(cfg)
    bind_ground_truth(cfg)
    cfg[CONSOLE_LEVEL_KEY] = 'ERROR' if quiet else (log_level or cfg.get(CONSOLE_LEVEL_KEY)
                                                     or 'WARNING').upper()
    hooks = [h for h in (cfg.get('custom_hooks') or []) if h.get('type') != 'ProgressHook']
    if not quiet:
        hooks.append(dict(type='ProgressHook'))
    cfg.custom_hooks = hooks
    scope_collate_fns(cfg)
    prepare_distributed(cfg, launcher or distributed_launcher())
    return cfg


def build_runner(cfg):
    """``Runner.from_cfg`` with wsal's scope and hooks importable.

    mmengine keys its logger, message hub and visualizer singletons by
    experiment name (config name + timestamp to the second). Unless the
    config names the experiment, each runner gets a name of its own (config
    name plus a random tag), so runners built in one process (``wsal demo``,
    the API, tests) never share logged state. ``cfg`` is left as it was,
    except that a scheduler's ``'max_iters'`` becomes the run length
    (:func:`~wsal.apis.schedule.resolve_run_length`, as in
    :func:`prepare_config`), so a config loaded without it still trains, and
    ``InputStatisticsHook`` joins ``custom_hooks`` when they lack it (a
    config with hooks of its own still fits its ``input_norm``).
    """
    import wsal.engine  # noqa: F401 - registers hooks
    from wsal.engine.console import ConsoleRunner as Runner
    from wsal.engine.console import new_experiment_name
    resolve_run_length(cfg)
    cfg.setdefault('default_scope', 'wsal')
    # a config that lists its own custom_hooks still fits the model's input_norm
    hooks = list(cfg.get('custom_hooks') or [])
    if not any((h.get('type') if isinstance(h, dict) else type(h).__name__)
               == 'InputStatisticsHook' for h in hooks):
        cfg.custom_hooks = [dict(type='InputStatisticsHook')] + hooks
    if cfg.get('experiment_name') is not None:
        return Runner.from_cfg(cfg)
    stem = Path(cfg.filename).stem if getattr(cfg, 'filename', None) else 'wsal'
    cfg.experiment_name = new_experiment_name(stem)
    try:
        return Runner.from_cfg(cfg)
    finally:
        cfg.pop('experiment_name', None)


def run_train(cfg):
    """Train (or resume) with the Runner; returns the runner.

    Checkpoints are loaded with ``weights_only=True`` plus wsal's allow-list
    (see :mod:`wsal.engine.compat`).
    """
    check_data_roots(cfg)
    # the resume check compares the schedule with the checkpoint's: resolved first
    resolve_run_length(cfg)
    # one run per work dir; --resume picks the newest readable checkpoint
    with hold_work_dir(cfg.work_dir):
        resolve_resume(cfg, log=_rank0_print)
        runner = build_runner(cfg)
        with safe_checkpoint_loading(), progress_lines_closed(runner):
            runner.train()
    return runner


@contextlib.contextmanager
def progress_lines_closed(runner):
    """End an open progress line when the run stops with an error (so the
    error message starts a line of its own)."""
    try:
        yield
    except BaseException:
        from wsal.engine.progress_hook import ProgressHook
        for hook in getattr(runner, 'hooks', []):
            if isinstance(hook, ProgressHook):
                hook.close()
        raise


#: Label of numbers measured on a checkpoint that was picked by its score on the
#: test split (the protocol of several published methods; not an unbiased estimate).
TEST_SELECTED = 'test-selected'


def checkpoint_selection(checkpoint: PathLike) -> str:
    """How ``checkpoint`` was chosen: ``'test-selected'`` or ``'final'``.

    mmengine's ``CheckpointHook(save_best=...)`` names the checkpoint it keeps
    ``best_<metric>_<iter>.pth``; wsal configs validate on the test split, so
    such a checkpoint was selected on the test split (``wsal train
    --select-on-test``). Any other checkpoint is a fixed iteration's.
    """
    return TEST_SELECTED if Path(os.fspath(checkpoint)).name.startswith('best_') else 'final'


def _rank0_print(msg: str) -> None:
    if int(os.environ.get('RANK', '0') or 0) == 0:
        print(msg, file=sys.stderr)


@dataclass
class EvalResult:
    """Output of :func:`run_test`: metrics and predictions (ActivityNet format)."""

    metrics: Dict[str, Any]
    predictions: Dict[str, Any] = field(default_factory=dict)
    classes: tuple = ()
    #: ``wsal.evaluation.DetectionResult`` of the predictions against the test
    #: split's ground truth (the numbers ``wsal eval`` would print); rank 0 only.
    detection: Any = None
    #: ``'final'`` or ``'test-selected'`` (see :func:`checkpoint_selection`).
    selection: str = 'final'


def _with_collector(evaluator) -> list:
    """The test evaluator config as a list, plus a ``CollectDetections`` metric."""
    if evaluator is None:
        metrics = []
    elif isinstance(evaluator, dict) and 'metrics' in evaluator:  # an Evaluator config
        metrics = list(evaluator['metrics'] or [])
    elif isinstance(evaluator, (list, tuple)):
        metrics = list(evaluator)
    else:
        metrics = [evaluator]
    return metrics + [dict(type='CollectDetections')]


def run_test(cfg, checkpoint: PathLike) -> EvalResult:
    """Post-process and evaluate ``checkpoint`` on the config's test split.

    ``cfg`` itself is not changed (the test runs on a copy without the
    training and validation parts).

    Raises:
        FileNotFoundError: checkpoint or data missing.
        ValueError: the checkpoint does not fit the config (one line).
    """
    check_data_roots(cfg, ('test_dataloader',))
    cfg = copy.deepcopy(cfg)
    cfg.load_from = None
    cfg.resume = False
    for key in ('train_dataloader', 'train_cfg', 'optim_wrapper', 'param_scheduler',
                'val_dataloader', 'val_cfg', 'val_evaluator'):
        cfg.pop(key, None)  # testing needs none of them (nor their data)
    cfg.test_evaluator = _with_collector(cfg.get('test_evaluator'))
    ckpt_path = os.fspath(checkpoint)
    state = load_checkpoint_file(ckpt_path)
    state = state.get('state_dict', state)
    from wsal.apis.data_dims import check_checkpoint_dims
    check_checkpoint_dims(state, dict(cfg.model.get('streams') or {}), checkpoint=ckpt_path)
    with hold_work_dir(cfg.work_dir):  # one run per work dir
        return _run_test(cfg, ckpt_path, state)


def _run_test(cfg, ckpt_path: str, state: dict) -> EvalResult:
    runner = build_runner(cfg)
    model = runner.model.module if hasattr(runner.model, 'module') else runner.model
    check_state_dict(model, {k[7:] if k.startswith('module.') else k: v for k, v in state.items()},
                     checkpoint=ckpt_path, config=cfg.filename or '<config>')
    printed = io.StringIO()
    with safe_checkpoint_loading(), contextlib.redirect_stdout(printed):
        runner.load_checkpoint(ckpt_path, map_location='cpu', strict=True)
    for line in printed.getvalue().splitlines():  # mmengine print()s here: to the log file
        runner.logger.info(line)
    with progress_lines_closed(runner):
        metrics = runner.test()
    loop = runner.test_loop
    collector = next(m for m in loop.evaluator.metrics if isinstance(m, CollectDetections))
    dataset = loop.dataloader.dataset
    classes = tuple(dataset.metainfo.get('classes', ()))
    preds = predictions_to_activitynet(collector.collected, classes)
    detection = None
    if runner.rank == 0 and getattr(dataset, 'ann_file', None) is not None:
        from wsal.evaluation.detection import evaluate_detection
        subsets = getattr(dataset, 'subset', None)
        video_list = getattr(dataset, 'video_list', None)
        diagnose = any(getattr(m, 'diagnose', False) for m in loop.evaluator.metrics)
        detection = evaluate_detection(
            os.fspath(dataset.ann_file), preds, classes=list(classes),
            subset=subsets[0] if subsets and len(subsets) == 1 else None,
            video_list=os.fspath(video_list) if video_list is not None else None,
            diagnose=diagnose)
    return EvalResult(metrics=dict(metrics), predictions=preds, classes=classes,
                      detection=detection, selection=checkpoint_selection(ckpt_path))
