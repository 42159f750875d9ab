"""Train and test one config on one data root: the step every experiment repeats.

:func:`train_and_test` trains a prepared config, records the loss curve and
tests the final checkpoint; :func:`run_cell` does that for one ``(row, seed)``
cell of an ablation and stores the cell as ``result.json`` (reused when its
settings are unchanged); :func:`cell_flags` names what went wrong in a cell.
"""
from __future__ import annotations

import copy
import hashlib
import json
import math
import os
import os.path as osp
import time
import warnings
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple, Union

from wsal.utils import nonfinite_to_none

from .config import experiment_config, load_method_config
from .table1 import AblationRow, loss_marks

__all__ = ['CellRun', 'train_and_test', 'run_cell', 'cell_flags', 'chance_levels',
           'idle_terms', 'config_digest', 'json_digest', 'RESULT_FILE', 'FLAGS']

RESULT_FILE = 'result.json'
#: Settings that only add monitoring (validation curves): a finished cell is
#: reused whatever they were.
MONITOR_ONLY = ('val_interval',)
FORMAT_VERSION = 3
#: Failure flags a cell can carry (see :func:`cell_flags`).
FLAGS = ('inverted', 'collapsed', 'saturated', 'not-converged', 'declined', 'idle')
#: Flags that come from training, not from the test: a re-test keeps them.
TRAINING_FLAGS = ('not-converged', 'declined', 'idle')


@dataclass
class CellRun:
    """What :func:`train_and_test` measured."""

    #: ``wsal.apis.EvalResult`` of the final checkpoint on the test split.
    result: Any
    #: The trained model (unwrapped).
    model: Any
    checkpoint: str
    train_seconds: float
    test_seconds: float
    #: ``{'train': [{'iter', 'loss', 'loss_<term>', ...}], 'val': [...]}``.
    curves: Dict[str, List[Dict[str, float]]]
    #: Total training loss of every iteration.
    losses: List[float]


def train_and_test(cfg) -> CellRun:
    """Train ``cfg`` (from :func:`experiment_config`), then test its final checkpoint.

    ``cfg`` is used as built: the test runs on a copy.

    Raises:
        FileNotFoundError: data missing, or training wrote no final checkpoint.
    """
    from wsal.apis.runner import build_runner, check_data_roots, progress_lines_closed, run_test
    from wsal.engine.compat import safe_checkpoint_loading
    from wsal.engine.loss_curve_hook import LossCurveHook
    check_data_roots(cfg)
    iters = int(cfg.train_cfg.max_iters)
    runner = build_runner(copy.deepcopy(cfg))
    curves = LossCurveHook()
    runner.register_hook(curves)
    start = time.perf_counter()
    with safe_checkpoint_loading():
        with progress_lines_closed(runner):
            runner.train()
    train_s = time.perf_counter() - start
    ckpt = osp.join(runner.work_dir, f'iter_{iters}.pth')
    if not osp.isfile(ckpt):
        raise FileNotFoundError(f'training of {cfg.filename} did not write {ckpt}')
    start = time.perf_counter()
    res = run_test(cfg, ckpt)
    test_s = time.perf_counter() - start
    model = runner.model.module if hasattr(runner.model, 'module') else runner.model
    return CellRun(result=res, model=model, checkpoint=os.path.abspath(ckpt),
                   train_seconds=train_s, test_seconds=test_s,
                   curves={'train': curves.train, 'val': curves.val}, losses=list(curves.total))


def cell_flags(health: Mapping[str, Any], losses: Optional[List[float]] = None,
               idle: Optional[List[str]] = None, *,
               val_curve: Optional[List[Mapping[str, float]]] = None) -> List[str]:
    """What went wrong in a cell, from its attention health and its training curves.

    * ``inverted``: a stream's (or the stream mean's) λ is lower inside the
      ground truth than outside (``<stream>/lambda_in < <stream>/lambda_out``);
    * ``collapsed`` / ``saturated``: :class:`~wsal.evaluation.AttentionHealth`
      flags λ of the stream mean or of a stream;
    * ``not-converged``: the total training loss was still falling
      (:func:`wsal.evaluation.loss_still_falling`);
    * ``not-converged:attention``: λ's quantiles on the validated videos
      still moved over the last quarter of the run
      (:func:`wsal.evaluation.attention_still_moving`; only when the run
      was validated);
    * ``declined``: a stream's (or the stream mean's) λ ranked the action
      frames of the validated videos worse at the end than at its best
      earlier validation, by more than 0.05 frame AUC within each video
      (:func:`wsal.evaluation.attention_declined`; only when the run was
      validated): training moved λ off the actions, and the final numbers
      are below the same run's earlier ones;
    * ``declined:mAP``: the detection mAP@0.5 of the last validation ended
      more than a tenth (and more than one point) below the run's best
      earlier one (:func:`wsal.evaluation.detection_declined`), e.g. a class
      map that went on fitting the training videos;
    * ``idle``: a loss term stayed at its chance level to the end of training
      (:func:`idle_terms`), e.g. ``idle:bg`` when the background pool was never
      classified better than a uniform guess.

    Args:
        health: The ``health/`` metrics without prefix (``lambda_in``,
            ``rgb/lambda_in``, ...).
        losses: Total training loss per iteration (None: not checked).
        idle: Names of the idle loss terms (:func:`idle_terms`; None or empty:
            none).
        val_curve: The run's validation rows (``curves['val']``; None or
            empty: not checked).

    Returns:
        list[str]: flags of :data:`FLAGS` with the streams concerned, e.g.
        ``['inverted:flow', 'not-converged']``; empty when healthy.
    """
    from wsal.apis.health import attention_flags
    from wsal.evaluation.convergence import (attention_declined, attention_still_moving,
                                            detection_declined, loss_still_falling)
    out = attention_flags(health, order=('inverted', 'collapsed', 'saturated'))
    if losses is not None and loss_still_falling(losses):
        out.append('not-converged')
    if val_curve and attention_still_moving(val_curve):
        out.append('not-converged:attention')
    declined = attention_declined(val_curve) if val_curve else []
    if val_curve and detection_declined(val_curve):
        declined.append('mAP')
    if declined:
        out.append(f'declined:{",".join(declined)}')
    if idle:
        out.append(f'idle:{",".join(idle)}')
    return out


def chance_levels(model: Any) -> Dict[str, Tuple[str, float]]:
    """``{term name: (loss key, logged value at chance)}`` of a built localizer's terms.

    The runner logs each term weighted, scaled by its warm-up factor and summed
    over the model's streams, so the logged value of a term at its chance
    level (:meth:`wsal.losses.LossTerm.chance_level`) is ``weight * factor *
    num_streams * level``, with the factor the model holds at the end of
    training (1 once a ramp is over). Terms without a chance level, with
    weight 0, or whose chance level is their floor in this model
    (:meth:`wsal.losses.LossTerm.chance_is_floor`, e.g. L_bg beside centred
    class logits) are left out.
    """
    losses = getattr(model, 'losses', None)
    streams = getattr(model, 'model_streams', None)
    num_classes = getattr(model, 'num_classes', None)
    if not losses or not streams or num_classes is None:
        return {}
    with warnings.catch_warnings():  # a model never told its progress: factors of 1, no warning
        warnings.simplefilter('ignore')
        factors = model.loss_factors() if hasattr(model, 'loss_factors') else {}
    out = {}
    for name, term in losses.items():
        level_of = getattr(term, 'chance_level', None)
        level = level_of(num_classes=int(num_classes)) if callable(level_of) else None
        weight = float(getattr(term, 'weight', 0.0)) * float(factors.get(name, 1.0))
        floor_of = getattr(term, 'chance_is_floor', None)
        if level is None or not weight > 0 or (callable(floor_of) and floor_of(model)):
            continue
        out[name] = (term.loss_name, weight * len(streams) * float(level))
    return out


def idle_terms(model: Any, curve: List[Mapping[str, float]]) -> List[str]:
    """Names of ``model``'s loss terms that ended training at their chance level.

    Args:
        model: The trained localizer (its terms, streams and classes).
        curve: Its training curve (:attr:`CellRun.curves` ``['train']``).
    """
    from wsal.evaluation.convergence import terms_at_chance
    return terms_at_chance(curve, chance_levels(model))


def _num(d: Mapping[str, Any], key: str) -> Optional[float]:
    v = d.get(key)
    return float(v) if isinstance(v, (int, float)) and math.isfinite(v) else None


def json_digest(data: Any) -> str:
    """SHA-256 of ``data`` as sorted-key JSON (values JSON cannot hold as their ``str``).

    What decides whether a stored result is reused: equal data give equal
    digests whatever the order of their keys.
    """
    text = json.dumps(data, sort_keys=True, default=str)
    return hashlib.sha256(text.encode('utf-8')).hexdigest()


def config_digest(config: Union[str, Any]) -> str:
    """SHA-256 of a config's resolved ``model`` (``_base_`` chain included).

    A finished cell is reused only while this digest is unchanged, so editing
    a config (or a base it inherits) re-runs the rows it affects.

    Args:
        config: A path or packaged name (read now), or a loaded ``Config``.
    """
    from mmengine.config import Config
    cfg = config if isinstance(config, Config) else load_method_config(config)
    return json_digest(cfg.to_dict().get('model'))


def _settings(*, row: AblationRow, config: Any, preset: Optional[str], seed: int, iters: int,
              lr: Optional[float], val_interval: Optional[int], data_root: str,
              generator_options: Mapping[str, Any]) -> Dict[str, Any]:
    return {'format': FORMAT_VERSION, 'row': row.key, 'config': row.config,
            'config_sha256': config_digest(config), 'preset': preset,
            'data_seed': seed, 'train_seed': seed, 'iters': int(iters),
            'lr': None if lr is None else float(lr), 'val_interval': val_interval,
            'data_root': os.path.abspath(data_root),
            'generator_options': json.loads(json.dumps(dict(generator_options)))}


def _identity(settings: Mapping[str, Any]) -> Dict[str, Any]:
    """The settings that decide whether a stored cell can be reused.

    Monitoring-only keys do not count. Nor does the folder of generated data:
    the preset, the seed and the generator options determine it, so a cell
    copied from another work dir (one process per seed) is reused there.
    """
    skip = set(MONITOR_ONLY) | ({'data_root'} if settings.get('preset') is not None else set())
    return {k: v for k, v in settings.items() if k not in skip}


def _stream_attention(health: Mapping[str, Any]) -> Dict[str, Dict[str, Any]]:
    """``{stream or 'mean': {lambda_in, lambda_out, lambda_max, auc, auc_video}}`` from health."""
    keys = ('lambda_in', 'lambda_out', 'lambda_max', 'auc', 'auc_video')
    out = {'mean': {k: health.get(k) for k in keys}}
    for stream in sorted({k.split('/')[0] for k in health if '/' in k}):
        out[stream] = {k: health.get(f'{stream}/{k}') for k in keys}
    return out


def _test_fields(row: AblationRow, res: Any, *, losses: Optional[List[float]] = None,
                 idle: Optional[List[str]] = None,
                 val_curve: Optional[List[Mapping[str, float]]] = None,
                 training_flags: Optional[List[str]] = None) -> Dict[str, Any]:
    """The test part of a cell result from an ``EvalResult``.

    ``losses`` (the training loss per iteration) and ``val_curve`` (the
    validation rows) decide the not-converged and declined flags and
    ``idle`` the idle one; a re-test passes the training flags the cell had
    instead (``training_flags``: ``not-converged``,
    ``not-converged:attention``, ``declined:...``, ``idle:...``).
    """
    if res.detection is None:
        raise ValueError(f'{row.config}: the test split gave no detection result')
    from wsal.apis.health import health_metrics
    health = health_metrics(res.metrics)
    flags = cell_flags(health, losses, idle, val_curve=val_curve)
    flags += [f for f in training_flags or [] if f not in flags]
    return {
        'detection': res.detection.to_dict(),
        'checkpoint_selection': res.selection,
        'health': health,
        'attention': _stream_attention(health),
        'flags': flags,
        'classification_mAP': nonfinite_to_none(
            float(res.metrics.get('classification/mAP', float('nan')))),
    }


def _retest(row: AblationRow, old: Dict[str, Any], *, config: Any, seed: int, data_root: str,
            cell_dir: str, iters: int, lr: Optional[float], data_info, log_level,
            cfg_options, log: Callable[[str], None]) -> Dict[str, Any]:
    """Test a finished cell's final checkpoint again and store the new test results."""
    from wsal.apis.runner import run_test
    from wsal.utils import atomic_write_json
    ckpt = old.get('checkpoint')
    if not ckpt or not osp.isfile(ckpt):
        raise FileNotFoundError(f'[{row.key} seed {seed}] cannot test again: the checkpoint '
                                f'{ckpt!r} of {osp.join(cell_dir, RESULT_FILE)} is missing')
    cfg = experiment_config(config, data_root=data_root, work_dir=cell_dir, seed=seed,
                            iters=iters, lr=lr, data_info=data_info, log_level=log_level,
                            quiet=True, cfg_options=cfg_options)
    start = time.perf_counter()
    res = run_test(cfg, ckpt)
    result = dict(old)
    kept = [f for f in old.get('flags', []) if f.split(':')[0] in TRAINING_FLAGS]
    result.update(_test_fields(row, res, training_flags=kept,
                               val_curve=(old.get('curves') or {}).get('val')))
    result['test_seconds'] = time.perf_counter() - start
    result = nonfinite_to_none(result)
    atomic_write_json(osp.join(cell_dir, RESULT_FILE), result)
    d = result['detection']
    log(f'[{row.key} seed {seed}] tested again: mAP@0.5 {100 * d["mAP"][4]:.1f}, '
        f'avg {100 * d["average_mAP"]:.1f}')
    return result


def run_cell(row: AblationRow, *, seed: int, data_root: str, cell_dir: str, iters: int,
             preset: Optional[str] = None, lr: Optional[float] = None,
             val_interval: Optional[int] = None,
             generator_options: Optional[Mapping[str, Any]] = None,
             data_info: Optional[Mapping[str, Any]] = None, force: bool = False,
             log_level: Optional[str] = None, quiet: bool = False, retest: bool = False,
             extra_settings: Optional[Mapping[str, Any]] = None,
             cfg_options: Optional[Mapping[str, Any]] = None,
             config: Optional[Any] = None,
             log: Callable[[str], None] = print) -> Dict[str, Any]:
    """Train and test one ``(row, seed)`` cell; reuse its ``result.json`` if complete.

    The cell is reused only when its stored ``settings`` equal the current
    ones (config digest, data, seed, iterations, ...). With ``retest`` a
    reused cell's final checkpoint is tested again (post-processing and
    evaluators as the config has them now; no training) and its test
    results are replaced; the training record stays. ``extra_settings``
    (JSON values) are added to them, e.g. a digest of the whole resolved
    config. ``cfg_options`` are passed to :func:`~.config.experiment_config`
    (record them in ``extra_settings`` so that a change re-runs the cell).
    ``config`` is the row's config as read when the campaign started
    (:func:`~.config.load_method_config`); None reads ``row.config`` now.

    Returns:
        dict: the cell result (``result.json``): ``settings``, ``row``,
        ``marks``, ``detection`` (``DetectionResult.to_dict()``, fractions),
        ``checkpoint_selection`` (``'final'``), ``health`` (AttentionHealth,
        stream mean and ``<stream>/...``), ``attention`` (per stream),
        ``flags`` (:func:`cell_flags`), ``classification_mAP``,
        ``train_seconds``, ``test_seconds``, ``seconds_per_iter``, ``curves``
        (training loss, total and each term, at every logging interval) and
        ``checkpoint``.
    """
    from wsal.utils import atomic_write_json
    if config is None:
        config = load_method_config(row.config)
    settings = _settings(row=row, config=config, preset=preset, seed=seed, iters=iters, lr=lr,
                         val_interval=val_interval, data_root=data_root,
                         generator_options=generator_options or {})
    settings.update(json.loads(json.dumps(dict(extra_settings or {}), sort_keys=True)))
    result_file = osp.join(cell_dir, RESULT_FILE)
    if osp.isfile(result_file) and not force:
        with open(result_file, encoding='utf-8') as fh:
            old = json.load(fh)
        if _identity(old.get('settings') or {}) == _identity(settings):
            if retest:
                return _retest(row, old, config=config, seed=seed, data_root=data_root,
                               cell_dir=cell_dir, iters=iters, lr=lr, data_info=data_info, log_level=log_level,
                               cfg_options=cfg_options, log=log)
            log(f'[{row.key} seed {seed}] done before: {result_file}')
            return old
        log(f'[{row.key} seed {seed}] {result_file} has other settings; running again')

    cfg = experiment_config(config, data_root=data_root, work_dir=cell_dir, seed=seed,
                            iters=iters, lr=lr, val_interval=val_interval, data_info=data_info,
                            log_level=log_level, quiet=quiet, cfg_options=cfg_options)
    log(f'[{row.key} seed {seed}] training {row.name} ({row.config}), {iters} iterations ...')
    run = train_and_test(cfg)
    result = {
        'settings': settings,
        'row': {'key': row.key, 'name': row.name, 'config': row.config},
        'marks': loss_marks(cfg),
        **_test_fields(row, run.result, losses=run.losses,
                       idle=idle_terms(run.model, run.curves['train']),
                       val_curve=run.curves['val']),
        'train_seconds': run.train_seconds,
        'test_seconds': run.test_seconds,
        'seconds_per_iter': run.train_seconds / max(1, iters),
        'curves': run.curves,
        'checkpoint': run.checkpoint,
        'num_test_videos': run.result.detection.protocol.get('num_videos'),
    }
    result = nonfinite_to_none(result)
    atomic_write_json(result_file, result)
    d, health = result['detection'], result['health']

    def shown(key: str, digits: int) -> str:     # 0 is a value (an inverted λ), None is not
        v = _num(health, key)
        return 'n/a' if v is None else f'{v:.{digits}f}'

    log(f'[{row.key} seed {seed}] mAP@0.5 {100 * d["mAP"][4]:.1f}, avg {100 * d["average_mAP"]:.1f}; '
        f'λ in/out {shown("lambda_in", 3)}/{shown("lambda_out", 3)}, frame AUC within videos '
        f'{shown("auc_video", 2)}, per class λ {shown("auc_class_lambda", 2)} / class map '
        f'{shown("auc_class_map", 2)}; flags {result["flags"] or "none"}; '
        f'train {run.train_seconds:.0f}s')
    return result
