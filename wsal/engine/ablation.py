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
   (detection AP per tIoU, attention health, classification mAP, training
   time, loss / validation curves). An interrupted ablation re-run skips every
   cell whose ``result.json`` exists with the same settings.

Finally it aggregates mean ± std over seeds into ``ablation.json`` and
``ablation.md`` (paper layout: loss check marks, AP at tIoU 0.1-0.9, average;
then attention health, training time and the issue's targets), and draws a
Figure-4-style plot of λ against the ground truth for one test video.

Example:
    >>> from wsal.engine.ablation import run_ablation
    >>> summary = run_ablation(work_dir='work_dirs/ablation_tiny', preset='tiny',
    ...                        seeds=[0], rows=['r1', 'r8'], iters=20)
    >>> summary['rows']['r8']['mAP']['mean']      # [9] fractions, tIoU 0.1..0.9
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import os.path as osp
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Union

import numpy as np

__all__ = ['AblationRow', 'ROWS', 'LOSS_COLUMNS', 'PRESET_DEFAULTS', 'select_rows',
           'ensure_data', 'ablation_config', 'loss_marks', 'run_cell', 'summarize',
           'check_targets', 'format_markdown', 'run_ablation']

PathLike = Union[str, os.PathLike]
SYNTHETIC_BASE = '_base_/datasets/thumos14_synthetic.py'
RESULT_FILE = 'result.json'
#: Settings that only add monitoring (validation curves): a finished cell is
#: reused whatever they were.
MONITOR_ONLY = ('val_interval',)
FORMAT_VERSION = 2


@dataclass(frozen=True)
class AblationRow:
    """One row of Table 1: a key, its config (relative to ``configs/``) and a name."""

    key: str
    config: str
    name: str


#: Table 1 of the paper, top to bottom (its first row, STPN's L_fg-only
#: number, is r1; r2 is STPN itself).
ROWS: tuple = (
    AblationRow('r1', 'ablation/r1_fg_i3d_thumos14.py', 'fg'),
    AblationRow('r2', 'ablation/r2_fg-sparse_i3d_thumos14.py', 'STPN (fg+sparse)'),
    AblationRow('r3', 'ablation/r3_fg-guide_i3d_thumos14.py', 'fg+guide'),
    AblationRow('r4', 'ablation/r4_fg-bg_i3d_thumos14.py', 'fg+bg'),
    AblationRow('r5', 'ablation/r5_fg-bg-guide_i3d_thumos14.py', 'fg+bg+guide'),
    AblationRow('r6', 'ablation/r6_fg-bg-cluster_i3d_thumos14.py', 'fg+bg+cluster'),
    AblationRow('r7', 'ablation/r7_fg-guide-cluster_i3d_thumos14.py', 'fg+guide+cluster'),
    AblationRow('r8', 'ablation/r8_full_i3d_thumos14.py', 'full (fg+bg+guide+cluster)'),
)

#: (loss term name in ``model.losses``, column header), in the paper's order.
LOSS_COLUMNS = (('fg', 'L_fg'), ('bg', 'L_bg'), ('guide', 'L_guide'),
                ('cluster', 'L_cluster'), ('sparsity', 'L_sparse'))

#: Per synthetic preset: default training iterations (one video each, shared
#: by all rows) and the generator options the ablation adds (Table 1 uses no
#: micro-videos, so none are generated; the per-video features of the
#: THUMOS14 videos do not depend on it).
PRESET_DEFAULTS: Dict[str, Dict[str, Any]] = {
    'tiny': dict(iters=30, generator_options=dict(num_micro_videos=0)),
    'small': dict(iters=1500, generator_options=dict(num_micro_videos=0)),
    'full': dict(iters=2000, generator_options=dict(num_micro_videos=0)),
}

TARGET_ROWS = dict(full='r8', stpn='r2', fg_only='r1', single=('r1', 'r2', 'r3', 'r4'))
HEALTH_KEYS = ('lambda_in', 'lambda_out', 'in_out_ratio', 'auc', 'lambda_min', 'lambda_max',
               'lambda_mean', 'lambda_p05', 'lambda_p95', 'frac_above_0.5',
               'frac_videos_collapsed', 'collapsed', 'saturated')
ATTENTION_KEYS = ('lambda_in', 'lambda_out', 'lambda_max', 'lambda_p99', 'auc',
                  'frac_in_above_thr0')


def select_rows(keys: Optional[Sequence[str]] = None) -> List[AblationRow]:
    """Rows by key (``'r8'``), row config stem or config path; None: all of Table 1.

    Raises:
        ValueError: an unknown key (the message lists the known ones).
    """
    if not keys:
        return list(ROWS)
    by_key = {}
    for r in ROWS:
        by_key[r.key] = r
        by_key[Path(r.config).stem] = r
        by_key[r.config] = r
        by_key['configs/' + r.config] = r
    out = []
    for k in keys:
        if k not in by_key:
            raise ValueError(f"unknown ablation row '{k}'; choose from "
                             f"{', '.join(r.key for r in ROWS)} (or their config names)")
        if by_key[k] not in out:
            out.append(by_key[k])
    return sorted(out, key=lambda r: ROWS.index(r))


def _options_tag(options: Mapping[str, Any]) -> str:
    text = json.dumps(dict(options), sort_keys=True)
    return hashlib.sha1(text.encode('utf-8')).hexdigest()[:8]


def ensure_data(work_dir: PathLike, preset: str, seed: int, *,
                generator_options: Optional[Mapping[str, Any]] = None,
                log: Callable[[str], None] = print) -> str:
    """The synthetic data of ``(preset, seed, options)`` under ``work_dir/data``, generated once.

    An existing folder is reused only when its ``synthetic.json`` records the
    same preset, seed and generator options (the generator writes atomically,
    so a folder with that file is complete).
    """
    from wsal.datasets.synthetic import make_synthetic
    opts = dict(generator_options or {})
    name = f'{preset}_seed{seed}' + (f'_{_options_tag(opts)}' if opts else '')
    root = osp.join(os.fspath(work_dir), 'data', name)
    meta_file = osp.join(root, 'synthetic.json')
    if osp.isfile(meta_file):
        with open(meta_file, encoding='utf-8') as fh:
            meta = json.load(fh)
        cfg = meta.get('config', {})
        same = meta.get('preset') == preset and meta.get('seed') == seed and all(
            _jsonable(cfg.get(k)) == _jsonable(v) for k, v in opts.items())
        if same:
            log(f'using synthetic data {root}')
            return root
    log(f'generating synthetic THUMOS14-structured data: preset {preset}, seed {seed}, '
        f'options {opts or "{}"} -> {root}')
    start = time.time()
    make_synthetic(root, preset=preset, seed=seed, overwrite=True, **opts)
    log(f'  generated in {time.time() - start:.0f}s')
    return root


def _jsonable(x: Any) -> Any:
    return json.loads(json.dumps(x))


def read_data_info(data_root: str) -> Dict[str, Any]:
    """Classes and feature dims of a canonical-layout data root."""
    gt_file = osp.join(data_root, 'gt.json')
    if not osp.isfile(gt_file):
        raise FileNotFoundError(f'no gt.json in data root {data_root}')
    with open(gt_file, encoding='utf-8') as fh:
        gt = json.load(fh)
    classes = gt.get('classes') or sorted({a['label'] for v in gt['database'].values()
                                           for a in v.get('annotations', [])})
    dims = {}
    for stream in ('rgb', 'flow'):
        folder = osp.join(data_root, 'features', stream)
        files = sorted(f for f in os.listdir(folder) if f.endswith('.npy')) if osp.isdir(folder) else []
        if not files:
            raise FileNotFoundError(f'no features in {folder}')
        dims[stream] = int(np.load(osp.join(folder, files[0]), mmap_mode='r').shape[1])
    return {'classes': list(classes), 'dims': dims}


def loss_marks(cfg) -> Dict[str, bool]:
    """``{term: on}`` for :data:`LOSS_COLUMNS` from a config's ``model.losses``."""
    losses = cfg['model'].get('losses') or {}
    return {name: losses.get(name) is not None for name, _ in LOSS_COLUMNS}


def ablation_config(row_config: str, *, data_root: str, work_dir: str, seed: int, iters: int,
                    lr: Optional[float] = None, val_interval: Optional[int] = None,
                    data_info: Optional[Mapping[str, Any]] = None,
                    log_level: Optional[str] = None):
    """A Table 1 row config on the synthetic data, ready for the Runner.

    The row's model, losses and post-processing are kept; the dataset,
    evaluator and schedule come from ``_base_/datasets/thumos14_synthetic.py``;
    the model's class count and feature dims follow the data. Only the final
    checkpoint is kept and evaluated (no model selection on the test split).
    Validation (on the synthetic test split, for learning curves only) runs
    every ``val_interval`` iterations when given, else never.
    """
    from mmengine.config import Config

    from wsal.apis.runner import prepare_config
    from wsal.engine.config_paths import packaged_config_dir
    cfg_dir = packaged_config_dir()
    cfg = Config.fromfile(str(cfg_dir / row_config))
    syn = Config.fromfile(str(cfg_dir / SYNTHETIC_BASE))
    for key, value in syn.to_dict().items():
        if key == 'model':
            cfg.merge_from_dict({'model': value})
        else:  # dataloaders, evaluators: replaced whole
            cfg[key] = value
    info = dict(data_info or read_data_info(data_root))
    options: Dict[str, Any] = {
        'model.num_classes': len(info['classes']),
        'model.streams': dict(info['dims']),
        'train_cfg.max_iters': int(iters),
        'train_cfg.val_interval': int(val_interval or iters),
        'default_hooks.checkpoint.interval': int(iters),
        'default_hooks.checkpoint.save_best': None,
        'default_hooks.checkpoint.max_keep_ckpts': 1,
        'default_hooks.checkpoint.save_optimizer': False,
        'default_hooks.checkpoint.save_param_scheduler': False,
        'default_hooks.logger.interval': max(10, min(200, int(iters) // 10 or 1)),
        'log_processor.window_size': max(10, min(200, int(iters) // 10 or 1)),
    }
    if lr is not None:
        options['optim_wrapper.optimizer.lr'] = float(lr)
    cfg.merge_from_dict(options)
    for ds_key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        if cfg.get(ds_key) is not None:
            cfg[ds_key]['dataset']['classes'] = list(info['classes'])
    # one Figure-4 PNG per evaluation is enough
    for hook in cfg.get('custom_hooks') or []:
        if hook.get('type') == 'LocalizationHealthHook':
            hook['num_videos'] = 1
    if log_level is not None:
        cfg.log_level = log_level
    if not val_interval:
        cfg.val_dataloader = None
        cfg.val_cfg = None
        cfg.val_evaluator = None
    return prepare_config(cfg, work_dir=work_dir, data_root=data_root, seed=seed,
                          launcher='none')


def _curve_hook(every: int):
    """A Runner hook that records window means of every loss term and each validation."""
    from mmengine.hooks import Hook

    class _Curves(Hook):
        priority = 'VERY_LOW'

        def __init__(self) -> None:
            self.every = max(1, int(every))
            self.acc: Dict[str, List[float]] = {}
            self.train: List[Dict[str, float]] = []
            self.val: List[Dict[str, float]] = []

        def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
            for k, v in (outputs or {}).items():
                if k.startswith('loss'):
                    self.acc.setdefault(k, []).append(
                        float(v.detach()) if hasattr(v, 'detach') else float(v))
            if (runner.iter + 1) % self.every == 0 and self.acc:
                row = {'iter': runner.iter + 1}
                row.update({k: float(np.mean(v)) for k, v in self.acc.items()})
                self.train.append(row)
                self.acc = {}

        def after_val_epoch(self, runner, metrics=None) -> None:
            row = {'iter': runner.iter}
            row.update({k: float(v) for k, v in (metrics or {}).items()
                        if isinstance(v, (int, float)) and not isinstance(v, bool)})
            self.val.append(row)

    return _Curves()


def config_digest(row_config: str) -> str:
    """SHA-256 of the row config's resolved ``model`` (``_base_`` chain included).

    A finished cell is reused only while this digest is unchanged, so editing
    a config (or a base it inherits) re-runs the rows it affects.
    """
    from mmengine.config import Config

    from wsal.engine.config_paths import resolve_config
    cfg = Config.fromfile(str(resolve_config(row_config)))
    text = json.dumps(cfg.to_dict().get('model'), sort_keys=True, default=str)
    return hashlib.sha256(text.encode('utf-8')).hexdigest()


def _settings(*, row: AblationRow, preset: Optional[str], seed: int, iters: int,
              lr: Optional[float], val_interval: Optional[int], data_root: str,
              generator_options: Mapping[str, Any]) -> Dict[str, Any]:
    return {'format': FORMAT_VERSION, 'row': row.key, 'config': row.config,
            'config_sha256': config_digest(row.config), 'preset': preset,
            'data_seed': seed, 'train_seed': seed, 'iters': int(iters),
            'lr': None if lr is None else float(lr), 'val_interval': val_interval,
            'data_root': os.path.abspath(data_root),
            'generator_options': _jsonable(dict(generator_options))}


def _finite(x: Any) -> Any:
    """JSON-safe: NaN/inf become None (recursively through dicts and lists)."""
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if isinstance(x, dict):
        return {k: _finite(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_finite(v) for v in x]
    return x


def run_cell(row: AblationRow, *, seed: int, data_root: str, cell_dir: str, iters: int,
             preset: Optional[str] = None, lr: Optional[float] = None,
             val_interval: Optional[int] = None,
             generator_options: Optional[Mapping[str, Any]] = None,
             data_info: Optional[Mapping[str, Any]] = None, force: bool = False,
             log_level: Optional[str] = None,
             log: Callable[[str], None] = print) -> Dict[str, Any]:
    """Train and test one ``(row, seed)`` cell; reuse its ``result.json`` if complete.

    Returns:
        dict: the cell result (see ``result.json``): ``settings``, ``marks``,
        ``detection`` (``DetectionResult.to_dict()``, fractions), ``health``,
        ``classification_mAP``, ``train_seconds``, ``test_seconds``,
        ``seconds_per_iter``, ``curves`` and ``checkpoint``.
    """
    from wsal.apis.runner import build_runner, check_data_roots, run_test
    from wsal.engine.compat import safe_checkpoint_loading
    from wsal.utils import atomic_write_json

    settings = _settings(row=row, preset=preset, seed=seed, iters=iters, lr=lr,
                         val_interval=val_interval, data_root=data_root,
                         generator_options=generator_options or {})
    result_file = osp.join(cell_dir, RESULT_FILE)
    if osp.isfile(result_file) and not force:
        with open(result_file, encoding='utf-8') as fh:
            old = json.load(fh)
        same = {k: v for k, v in (old.get('settings') or {}).items() if k not in MONITOR_ONLY}
        if same == {k: v for k, v in settings.items() if k not in MONITOR_ONLY}:
            log(f'[{row.key} seed {seed}] done before: {result_file}')
            return old
        log(f'[{row.key} seed {seed}] {result_file} has other settings; running again')

    info = dict(data_info or read_data_info(data_root))
    kwargs = dict(data_root=data_root, work_dir=cell_dir, seed=seed, iters=iters, lr=lr,
                  val_interval=val_interval, data_info=info, log_level=log_level)
    cfg = ablation_config(row.config, **kwargs)
    marks = loss_marks(cfg)
    log(f'[{row.key} seed {seed}] training {row.name} ({row.config}), {iters} iterations ...')
    check_data_roots(cfg)
    runner = build_runner(cfg)
    curves = _curve_hook(max(1, iters // 50))
    runner.register_hook(curves)
    start = time.perf_counter()
    with safe_checkpoint_loading():
        runner.train()
    train_s = time.perf_counter() - start
    ckpt = osp.join(runner.work_dir, f'iter_{iters}.pth')
    if not osp.isfile(ckpt):
        raise FileNotFoundError(f'training of {row.config} did not write {ckpt}')
    start = time.perf_counter()
    res = run_test(ablation_config(row.config, **kwargs), ckpt)
    test_s = time.perf_counter() - start
    if res.detection is None:
        raise ValueError(f'{row.config}: the test split gave no detection result')
    health = {k[len('health/'):]: _finite(float(v)) for k, v in res.metrics.items()
              if k.startswith('health/') and isinstance(v, (int, float))}
    streams = attention_report(ablation_config(row.config, **kwargs), ckpt)
    health['auc'] = streams['mean']['auc']
    result = {
        'settings': settings,
        'row': {'key': row.key, 'name': row.name, 'config': row.config},
        'marks': marks,
        'detection': res.detection.to_dict(),
        'health': health,
        'attention': streams,
        'classification_mAP': _finite(float(res.metrics.get('classification/mAP', float('nan')))),
        'train_seconds': train_s,
        'test_seconds': test_s,
        'seconds_per_iter': train_s / max(1, iters),
        'curves': {'train': curves.train, 'val': curves.val},
        'checkpoint': os.path.abspath(ckpt),
        'num_test_videos': res.detection.protocol.get('num_videos'),
    }
    result = _finite(result)
    atomic_write_json(result_file, result)
    d = result['detection']
    log(f'[{row.key} seed {seed}] mAP@0.5 {100 * d["mAP"][4]:.1f}, avg {100 * d["average_mAP"]:.1f}; '
        f'λ in/out {health.get("lambda_in", float("nan")):.3f}/'
        f'{health.get("lambda_out", float("nan")):.3f}; train {train_s:.0f}s')
    return result


def frame_auc(scores: np.ndarray, positive: np.ndarray) -> float:
    """Area under the ROC curve of ``scores`` for the bool labels ``positive`` (ties count half).

    Threshold-free: 1 when every frame inside the ground truth scores above
    every frame outside, 0.5 for an uninformative λ. NaN without both kinds.
    """
    from scipy.stats import rankdata
    scores = np.asarray(scores, dtype=np.float64).reshape(-1)
    positive = np.asarray(positive, dtype=bool).reshape(-1)
    n_pos, n_neg = int(positive.sum()), int((~positive).sum())
    if n_pos == 0 or n_neg == 0:
        return float('nan')
    ranks = rankdata(scores)
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def attention_report(cfg, checkpoint: str) -> Dict[str, Dict[str, float]]:
    """Per stream and for the stream mean: λ inside / outside the ground truth, range, frame AUC.

    Runs the model of ``checkpoint`` over the config's test split. Returns
    ``{stream or 'mean': {'lambda_in', 'lambda_out', 'lambda_max', 'lambda_p99',
    'auc', 'frac_in_above_thr0'}}`` where ``frac_in_above_thr0`` is the share
    of ground-truth frames above the lowest non-zero proposal threshold.
    """
    import torch

    from wsal.apis.inference import init_localizer
    from wsal.datasets.collate import wsal_collate
    from wsal.evaluation import frames_in_segments
    from wsal.registry import build_dataset
    model = init_localizer(cfg, checkpoint)
    dataset = build_dataset(cfg.test_dataloader.dataset)
    thrs = [t for t in (cfg.model.test_cfg.get('proposal', {}).get('thresholds') or []) if t > 0]
    thr0 = min(thrs) if thrs else 0.0
    lams: Dict[str, List[np.ndarray]] = {}
    inside: List[np.ndarray] = []
    with torch.no_grad():
        for i in range(len(dataset)):
            batch = wsal_collate([dataset[i]])
            data = model.data_preprocessor(batch, False)
            ext = model.extract(data['inputs'])
            sample = batch['data_samples'][0]
            n = int(sample['num_segments'])
            inside.append(frames_in_segments(n, float(sample['seconds_per_segment']),
                                             np.asarray(sample['gt_segments'], dtype=np.float64)))
            for name, st in ext['streams'].items():
                lams.setdefault(name, []).append(st['attention'][0, :n].double().numpy())
            lams.setdefault('mean', []).append(ext['attention'][0, :n].double().numpy())
    ins = np.concatenate(inside)
    out = {}
    for name, parts in lams.items():
        lam = np.concatenate(parts)
        out[name] = {'lambda_in': float(lam[ins].mean()) if ins.any() else float('nan'),
                     'lambda_out': float(lam[~ins].mean()) if (~ins).any() else float('nan'),
                     'lambda_max': float(lam.max()), 'lambda_p99': float(np.percentile(lam, 99)),
                     'auc': frame_auc(lam, ins),
                     'frac_in_above_thr0': float((lam[ins] > thr0).mean()) if ins.any() else float('nan')}
    return out


def _mean_std(values: Sequence[float]) -> Dict[str, Any]:
    arr = np.asarray([np.nan if v is None else v for v in values], dtype=np.float64)
    ok = arr[np.isfinite(arr)]
    mean = float(ok.mean()) if ok.size else None
    std = float(ok.std(ddof=1)) if ok.size > 1 else (0.0 if ok.size else None)
    return {'mean': mean, 'std': std, 'values': [_finite(float(v)) for v in arr]}


def summarize(cells: Mapping[str, Mapping[int, Mapping[str, Any]]]) -> Dict[str, Any]:
    """Mean ± sample std (ddof 1) over seeds, per row.

    Args:
        cells: ``{row_key: {seed: cell result}}``.

    Returns:
        dict: ``{'tiou': [...], 'rows': {key: {...}}}`` with per row ``marks``,
        ``mAP`` (``{'mean': [T], 'std': [T], 'values': [[T] per seed]}``),
        ``average_mAP`` and ``averages`` (each ``{'mean', 'std', 'values'}``),
        ``health``, ``classification_mAP``, ``train_seconds``,
        ``seconds_per_iter`` and ``seeds``.
    """
    tiou = None
    rows: Dict[str, Any] = {}
    for key, by_seed in cells.items():
        if not by_seed:
            continue
        seeds = sorted(by_seed)
        res = [by_seed[s] for s in seeds]
        t = res[0]['detection']['tiou']
        if tiou is None:
            tiou = t
        elif list(t) != list(tiou):
            raise ValueError(f'row {key}: tIoU thresholds differ between cells')
        maps = np.asarray([r['detection']['mAP'] for r in res], dtype=np.float64)
        ranges = sorted({k for r in res for k in r['detection'].get('averages', {})})
        rows[key] = {
            'name': res[0]['row']['name'], 'config': res[0]['row']['config'],
            'marks': res[0]['marks'], 'seeds': seeds,
            'mAP': {'mean': maps.mean(0).tolist(),
                    'std': (maps.std(0, ddof=1) if len(seeds) > 1 else np.zeros(maps.shape[1])).tolist(),
                    'values': maps.tolist()},
            'average_mAP': _mean_std([r['detection']['average_mAP'] for r in res]),
            'averages': {k: _mean_std([r['detection']['averages'].get(k) for r in res])
                         for k in ranges},
            'health': {k: _mean_std([r['health'].get(k) for r in res]) for k in HEALTH_KEYS},
            'attention': {st: {k: _mean_std([r.get('attention', {}).get(st, {}).get(k) for r in res])
                               for k in ATTENTION_KEYS}
                          for st in res[0].get('attention', {})},
            'classification_mAP': _mean_std([r.get('classification_mAP') for r in res]),
            'train_seconds': _mean_std([r['train_seconds'] for r in res]),
            'seconds_per_iter': _mean_std([r['seconds_per_iter'] for r in res]),
        }
    return {'tiou': list(tiou or []), 'rows': rows}


def _at(summary: Mapping[str, Any], key: str, tiou: float) -> Optional[float]:
    row = summary['rows'].get(key)
    if row is None:
        return None
    idx = [i for i, t in enumerate(summary['tiou']) if abs(t - tiou) < 1e-9]
    return row['mAP']['mean'][idx[0]] if idx else None


def check_targets(summary: Mapping[str, Any]) -> List[Dict[str, Any]]:
    """The issue's targets on mean mAP@0.5 over seeds (percent points).

    Returns:
        list of ``{'target', 'passed' (bool or None when a row is missing), 'detail'}``.
    """
    full, stpn, fg = (_at(summary, TARGET_ROWS[k], 0.5) for k in ('full', 'stpn', 'fg_only'))
    out = []

    def add(text, ok, detail):
        out.append({'target': text, 'passed': ok, 'detail': detail})

    if full is None or stpn is None:
        add('full (r8) >= STPN (r2) + 5 mAP@0.5', None, 'row missing')
    else:
        add('full (r8) >= STPN (r2) + 5 mAP@0.5', bool(full >= stpn + 0.05),
            f'{100 * full:.1f} vs {100 * stpn:.1f} ({100 * (full - stpn):+.1f})')
    singles = [(k, _at(summary, k, 0.5)) for k in TARGET_ROWS['single']]
    singles = [(k, v) for k, v in singles if v is not None]
    if full is None or not singles:
        add('full (r8) >= every single-loss row (r1-r4) at mAP@0.5', None, 'row missing')
    else:
        worst = [k for k, v in singles if v > full]
        add('full (r8) >= every single-loss row (r1-r4) at mAP@0.5', not worst,
            ', '.join(f'{k} {100 * v:.1f}' for k, v in singles) + f'; full {100 * full:.1f}')
    if full is None or fg is None:
        add('fg-only (r1) < full (r8) at mAP@0.5', None, 'row missing')
    else:
        add('fg-only (r1) < full (r8) at mAP@0.5', bool(fg < full),
            f'{100 * fg:.1f} vs {100 * full:.1f}')
    return out


def _pm(stat: Mapping[str, Any], scale: float = 100.0, digits: int = 1) -> str:
    if stat.get('mean') is None:
        return 'n/a'
    if len(stat.get('values', [])) <= 1:
        return f'{scale * stat["mean"]:.{digits}f}'
    return f'{scale * stat["mean"]:.{digits}f} ± {scale * stat["std"]:.{digits}f}'


def format_markdown(summary: Mapping[str, Any], *, title: str = 'Table 1 ablation') -> str:
    """Markdown tables: detection AP (paper layout), attention health, time, targets."""
    tiou = summary['tiou']
    meta = summary.get('meta', {})
    seeds = meta.get('seeds')
    lines = [f'### {title}', '']
    if meta:
        lines += [f'Data: {meta.get("data_desc", "")}; seeds {seeds} (data seed = training seed); '
                  f'{meta.get("iters")} iterations per model (Adam, lr '
                  f'{meta.get("lr") or "1e-4 (config)"}, one video per iteration), final '
                  f'checkpoint; test split {meta.get("num_test_videos")} videos. '
                  f'AP in percent, mean ± sample std over {len(seeds or [])} seed(s).', '']
    avg_key = '0.1-0.9'
    head = [c for _, c in LOSS_COLUMNS] + [f'{t:g}' for t in tiou] + [f'avg {avg_key}', 'avg 0.1-0.7']
    lines.append('| row | ' + ' | '.join(head) + ' |')
    n_marks = len(LOSS_COLUMNS)
    lines.append('|---|' + '|'.join([':-:'] * n_marks + ['--:'] * (len(head) - n_marks)) + '|')
    for key, row in summary['rows'].items():
        marks = ['✓' if row['marks'].get(n) else '–' for n, _ in LOSS_COLUMNS]
        n = len(row['seeds'])
        aps = []
        for m, s in zip(row['mAP']['mean'], row['mAP']['std']):
            aps.append(f'{100 * m:.1f}' + (f' ± {100 * s:.1f}' if n > 1 else ''))
        avgs = [_pm(row['averages'].get(avg_key, row['average_mAP'])),
                _pm(row['averages'].get('0.1-0.7', {'mean': None}))]
        lines.append(f'| {key} {row["name"]} | ' + ' | '.join(marks + aps + avgs) + ' |')
    lines += ['', 'Attention health on the test split (λ = stream mean; mean over seeds), '
              'classification mAP and training time on this CPU:', '',
              '| row | λ in GT | λ outside | in/out | frame AUC | λ min | λ max | frac λ>0.5 | '
              'collapsed / saturated (seeds) | cls mAP | train s | ms/iter |',
              '|---|--:|--:|--:|--:|--:|--:|--:|:-:|--:|--:|--:|']
    for key, row in summary['rows'].items():
        h = row['health']

        def g(k, d=3):
            m = h[k]['mean']
            return 'n/a' if m is None else f'{m:.{d}f}'

        n_col = sum(int(v or 0) for v in h['collapsed']['values'])
        n_sat = sum(int(v or 0) for v in h['saturated']['values'])
        lines.append(
            f'| {key} {row["name"]} | {g("lambda_in")} | {g("lambda_out")} | {g("in_out_ratio", 2)} | '
            f'{g("auc")} | '
            f'{g("lambda_min")} | {g("lambda_max")} | {g("frac_above_0.5", 2)} | '
            f'{n_col} / {n_sat} of {len(row["seeds"])} | {_pm(row["classification_mAP"])} | '
            f'{_pm(row["train_seconds"], 1.0, 0)} | {_pm(row["seconds_per_iter"], 1000.0, 1)} |')
    streams = [st for st in ('rgb', 'flow', 'fused') if any(
        st in row.get('attention', {}) for row in summary['rows'].values())]
    if streams:
        lines += ['', 'λ per stream on the test split (mean over seeds): inside GT / outside / '
                  'max / frame AUC / share of GT frames above the lowest non-zero proposal '
                  'threshold:', '',
                  '| row | ' + ' | '.join(streams) + ' |', '|---|' + '--|' * len(streams)]
        for key, row in summary['rows'].items():
            cells = []
            for st in streams:
                a = row.get('attention', {}).get(st)
                if not a:
                    cells.append('n/a')
                    continue
                f = [a[k]['mean'] for k in ATTENTION_KEYS if k != 'lambda_p99']
                cells.append(' / '.join('n/a' if v is None else f'{v:.3f}' for v in f))
            lines.append(f'| {key} {row["name"]} | ' + ' | '.join(cells) + ' |')
    targets = summary.get('targets') or check_targets(summary)
    lines += ['', 'Targets (issue 7, mean mAP@0.5 over seeds):', '']
    for t in targets:
        mark = {True: 'PASS', False: 'FAIL', None: 'n/a'}[t['passed']]
        lines.append(f'- {mark}: {t["target"]} — {t["detail"]}')
    return '\n'.join(lines) + '\n'


def _figure(path: str, cells_seed: Mapping[str, Mapping[str, Any]], rows: Sequence[AblationRow],
            *, data_root: str, seed: int, iters: int, lr, data_info) -> Optional[str]:
    """Figure 4 for the first test video with several instances of one class, one block per row."""
    import torch

    from wsal.apis.inference import init_localizer, trace_videos
    from wsal.datasets.collate import wsal_collate
    from wsal.registry import build_dataset
    from wsal.visualization import pick_figure_video, save_localization_figure
    present = [r for r in rows if r.key in cells_seed and osp.isfile(cells_seed[r.key]['checkpoint'])]
    if not present:
        return None
    cfgs = {r.key: ablation_config(r.config, data_root=data_root, work_dir=osp.dirname(
        cells_seed[r.key]['checkpoint']), seed=seed, iters=iters, lr=lr, data_info=data_info)
        for r in present}
    dataset = build_dataset(cfgs[present[0].key].test_dataloader.dataset)
    batch = wsal_collate([dataset[pick_figure_video(dataset.records)]])
    traces = []
    with torch.no_grad():
        for r in present:
            model = init_localizer(cfgs[r.key], cells_seed[r.key]['checkpoint'])
            traces += trace_videos(model, batch)
    save_localization_figure(path, traces, model_names=[f'{r.key} {r.name}' for r in present],
                             classes=dataset.metainfo.get('classes'))
    return path


def run_ablation(*, work_dir: PathLike, preset: str = 'small', seeds: Sequence[int] = (0, 1, 2),
                 rows: Optional[Sequence[str]] = None, iters: Optional[int] = None,
                 lr: Optional[float] = None, data_root: Optional[str] = None,
                 generator_options: Optional[Mapping[str, Any]] = None,
                 val_interval: Optional[int] = None, figure: bool = True, force: bool = False,
                 log_level: Optional[str] = 'WARNING', threads: Optional[int] = 1,
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
        generator_options: ``SyntheticConfig`` overrides for generated data,
            added to the preset's ablation options.
        val_interval: Validate (synthetic test split, curves only) this often.
        figure: Write ``figure4_seed<k>.png`` for the first seed.
        force: Re-run cells even when their result exists.
        log_level: The Runner's log level (its log file in each cell folder
            too); None keeps the config's ``INFO``.
        threads: ``torch.set_num_threads`` for the run (None: torch's
            default). One thread: on a loaded 2-core machine two threads made
            an Adam step ~14x and a 1024x256 linear layer ~2x slower.
        log: Progress printer.
    """
    import torch
    before = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(int(threads))
    from wsal.engine.workdir_lock import hold_work_dir
    try:
        with hold_work_dir(work_dir):  # one ablation per work dir
            return _run_ablation(work_dir=work_dir, preset=preset, seeds=seeds, rows=rows,
                                 iters=iters, lr=lr, data_root=data_root,
                                 generator_options=generator_options, val_interval=val_interval,
                                 figure=figure, force=force, log_level=log_level, log=log)
    finally:
        torch.set_num_threads(before)


def _run_ablation(*, work_dir, preset, seeds, rows, iters, lr, data_root, generator_options,
                  val_interval, figure, force, log_level, log) -> Dict[str, Any]:
    from wsal.utils import atomic_write_json, atomic_write_text
    if preset not in PRESET_DEFAULTS:
        raise ValueError(f"unknown preset '{preset}'; choose from {sorted(PRESET_DEFAULTS)}")
    seeds = [int(s) for s in seeds]
    if not seeds or len(set(seeds)) != len(seeds):
        raise ValueError(f'seeds must be distinct and non-empty, got {seeds}')
    iters = int(iters or PRESET_DEFAULTS[preset]['iters'])
    if iters < 1:
        raise ValueError(f'iters must be >= 1, got {iters}')
    selected = select_rows(rows)
    work_dir = os.fspath(work_dir)
    os.makedirs(work_dir, exist_ok=True)
    opts = dict(PRESET_DEFAULTS[preset]['generator_options'])
    opts.update(generator_options or {})
    start = time.time()
    cells: Dict[str, Dict[int, Dict[str, Any]]] = {r.key: {} for r in selected}
    roots: Dict[int, str] = {}
    infos: Dict[int, Dict[str, Any]] = {}
    figures = []
    for seed in seeds:
        if data_root is not None:
            root = os.fspath(data_root).replace('{seed}', str(seed))
            if not osp.isdir(root):
                raise FileNotFoundError(f'data root not found: {root} (--data-root)')
        else:
            root = ensure_data(work_dir, preset, seed, generator_options=opts, log=log)
        roots[seed], infos[seed] = root, read_data_info(root)
        for row in selected:
            cell_dir = osp.join(work_dir, f'seed{seed}', row.key)
            cells[row.key][seed] = run_cell(
                row, seed=seed, data_root=root, cell_dir=cell_dir, iters=iters,
                preset=None if data_root is not None else preset, lr=lr,
                val_interval=val_interval,
                generator_options={} if data_root is not None else opts,
                data_info=infos[seed], force=force, log_level=log_level, log=log)
            log(f'  ({time.time() - start:.0f}s elapsed)')
            _write(work_dir, cells, seeds, selected, preset, iters, lr, roots, opts, data_root,
                   atomic_write_json, atomic_write_text, final=False)
        if figure and seed == seeds[0]:
            try:
                fig = _figure(osp.join(work_dir, f'figure4_seed{seed}.png'),
                              {k: v[seed] for k, v in cells.items() if seed in v}, selected,
                              data_root=root, seed=seed, iters=iters, lr=lr, data_info=infos[seed])
                if fig:
                    figures.append(fig)
                    log(f'figure: {fig}')
            except Exception as exc:  # noqa: BLE001 - the figure must not lose the table
                log(f'warning: figure not written: {type(exc).__name__}: {exc}')
    summary = _write(work_dir, cells, seeds, selected, preset, iters, lr, roots, opts, data_root,
                     atomic_write_json, atomic_write_text, final=True, figures=figures)
    log('')
    log(summary['markdown'])
    log(f'wrote {osp.join(work_dir, "ablation.json")} and {osp.join(work_dir, "ablation.md")} '
        f'({time.time() - start:.0f}s)')
    return summary


def _write(work_dir, cells, seeds, rows, preset, iters, lr, roots, opts, data_root,
           write_json, write_text, *, final: bool, figures=()) -> Dict[str, Any]:
    done = {k: v for k, v in cells.items() if v}
    summary = summarize(done)
    n_test = {c['num_test_videos'] for v in done.values() for c in v.values()}
    if data_root is not None:
        desc = f'user data {data_root}'
    else:
        desc = (f'synthetic THUMOS14-structured, preset {preset}, generator options '
                f'{json.dumps(opts, sort_keys=True)}')
    summary['meta'] = {
        'preset': preset if data_root is None else None, 'seeds': list(seeds), 'iters': iters,
        'lr': lr, 'data_desc': desc, 'data_roots': {str(k): v for k, v in roots.items()},
        'generator_options': opts if data_root is None else None,
        'num_test_videos': sorted(n_test)[0] if len(n_test) == 1 else sorted(n_test),
        'complete': final and all(len(v) == len(seeds) for v in cells.values()),
        'rows_run': [r.key for r in rows], 'figures': list(figures),
        'seed_policy': 'seed k: synthetic data generated with seed k, training seed k',
        'std': 'sample standard deviation over seeds (ddof=1); 0 with one seed',
    }
    summary['targets'] = check_targets(summary)
    md = format_markdown(summary, title='Table 1 ablation on synthetic THUMOS14-structured data'
                         if data_root is None else 'Table 1 ablation')
    summary['markdown'] = md
    summary = _finite(summary)
    write_json(osp.join(work_dir, 'ablation.json'), summary)
    write_text(osp.join(work_dir, 'ablation.md'), md)
    return summary
