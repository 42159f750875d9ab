"""One config preparation for every experiment: a method config on a data root."""
from __future__ import annotations

import copy
from typing import Any, Mapping, Optional, Union

__all__ = ['SYNTHETIC_BASE', 'BATCHING_KEYS', 'experiment_config', 'load_method_config']

#: The dataset / evaluator base that experiments swap into a method config.
SYNTHETIC_BASE = '_base_/datasets/thumos14_synthetic.py'
#: Keys of the method config's ``train_dataloader`` kept over the base's: how
#: a method batches its training videos (batch size, e.g. W-TALC's class-pair
#: sampler, fixed-length snippet sampling).
BATCHING_KEYS = ('batch_size', 'sampler', 'collate_fn')


def load_method_config(config: str):
    """A method config (a path or a packaged name) read now, ``_base_`` chain included.

    Campaigns read every entry's config once, when they start, so that the
    settings of a run are those of the moment it was launched: a config (or a
    base) edited while cells wait their turn does not change them.

    Raises:
        FileNotFoundError: no such config (the lookup's message).
    """
    from mmengine.config import Config

    from wsal.engine.config_paths import resolve_config
    return Config.fromfile(str(resolve_config(config)))


def experiment_config(config: Union[str, Any], *, data_root: str, work_dir: str, seed: int,
                      iters: int, lr: Optional[float] = None, val_interval: Optional[int] = None,
                      data_info: Optional[Mapping[str, Any]] = None,
                      log_level: Optional[str] = None, quiet: bool = False,
                      cfg_options: Optional[Mapping[str, Any]] = None):
    """A method config (relative to ``configs/``) on ``data_root``, ready for the Runner.

    The method's model, losses, post-processing and training batches
    (:data:`BATCHING_KEYS` of its ``train_dataloader``) are kept; the datasets,
    the other dataloader settings and the evaluators come from
    :data:`SYNTHETIC_BASE` (the canonical layout:
    ``gt.json`` and ``features/<stream>/<video>.npy``); the model's class
    count, the datasets' classes and the feature dims follow the data
    (:func:`wsal.datasets.data_info.read_data_info`); the test evaluator adds
    the recall diagnostics (:mod:`wsal.evaluation.diagnostics`). Training runs ``iters``
    iterations; only the final checkpoint is kept and evaluated (no model
    selection on the test split). Validation (on the test split, for learning
    curves only) runs every ``val_interval`` iterations when given, else never.

    Args:
        config: Method config: a path or a packaged name, e.g.
            ``'bm/bm_i3d_thumos14.py'``, or one read before
            (:func:`load_method_config`; copied, never changed).
        data_root: Canonical-layout data.
        work_dir: The run's folder.
        seed: Training seed.
        iters: Training iterations (one batch of the method's each).
        lr: Adam learning rate (None: the config's).
        val_interval: Validate this often (None: never).
        data_info: ``read_data_info(data_root)`` when already read.
        log_level: Console log level (None: ``'WARNING'``; the log file in
            ``work_dir`` keeps the full INFO log).
        quiet: No progress line, only errors on the console.
        cfg_options: ``{'a.b': value}`` overrides applied last (e.g. a
            smaller ``train_dataloader.batch_size``).

    Returns:
        mmengine.Config
    """
    from mmengine.config import Config

    from wsal.apis.runner import prepare_config
    from wsal.datasets.data_info import read_data_info
    from wsal.engine.config_paths import packaged_config_dir
    cfg_dir = packaged_config_dir()
    cfg = copy.deepcopy(config) if isinstance(config, Config) else load_method_config(config)
    base = Config.fromfile(str(cfg_dir / SYNTHETIC_BASE))
    method_train = cfg.get('train_dataloader') or {}
    for key, value in base.to_dict().items():
        if key == 'model':
            cfg.merge_from_dict({'model': value})
        else:  # dataloaders, evaluators: replaced whole
            cfg[key] = value
    for key in BATCHING_KEYS:  # the method's own batches (size, sampler, sampling collate)
        if method_train.get(key) is not None:
            cfg.train_dataloader[key] = copy.deepcopy(method_train[key])
    info = dict(data_info or read_data_info(data_root))
    iters = int(iters)
    if iters < 1:
        raise ValueError(f'iters must be >= 1, got {iters}')
    log_every = max(10, min(200, iters // 10 or 1))
    options = {
        'model.num_classes': len(info['classes']),
        'model.streams': dict(info['dims']),
        'train_cfg.max_iters': iters,
        'train_cfg.val_interval': int(val_interval or iters),
        'default_hooks.checkpoint.interval': iters,
        'default_hooks.checkpoint.save_best': None,
        'default_hooks.checkpoint.max_keep_ckpts': 1,
        'default_hooks.checkpoint.save_optimizer': False,
        'default_hooks.checkpoint.save_param_scheduler': False,
        'default_hooks.logger.interval': log_every,
        'log_processor.window_size': log_every,
    }
    if lr is not None:
        options['optim_wrapper.optimizer.lr'] = float(lr)
    cfg.merge_from_dict(options)
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        if cfg.get(key) is not None:
            cfg[key]['dataset']['classes'] = list(info['classes'])
    for ev in cfg.get('test_evaluator') or []:  # recall and missed-instance breakdown
        if ev.get('type') == 'DetectionMAP':
            ev['diagnose'] = True
    for hook in cfg.get('custom_hooks') or []:  # one Figure-4 PNG per evaluation
        if hook.get('type') == 'LocalizationHealthHook':
            hook['num_videos'] = 1
    if cfg_options:
        from wsal.apis.config_check import apply_overrides
        apply_overrides(cfg, dict(cfg_options))
    if not val_interval:
        cfg.val_dataloader = None
        cfg.val_cfg = None
        cfg.val_evaluator = None
    return prepare_config(cfg, work_dir=work_dir, data_root=data_root, seed=seed,
                          launcher='none', log_level=log_level, quiet=quiet)
