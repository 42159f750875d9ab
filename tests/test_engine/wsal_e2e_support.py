"""Shared helpers of the engine/CLI/API tests: tiny synthetic data, small configs.

Not a test module (no ``test_`` prefix). The configs are written as real
``.py`` files so the same config serves in-process runs, ``python -m wsal``
and ``torchrun``. Validation uses the real ``DetectionMAP`` when the
evaluation package provides it, else a small stand-in metric
(``wsal_test_standin.StandInMAP``) written next to the config.
"""
from __future__ import annotations

import json
import textwrap
from pathlib import Path

STANDIN = '''
import torch
from mmengine.evaluator import BaseMetric
from mmengine.registry import METRICS


@METRICS.register_module(force=True)
class StandInMAP(BaseMetric):
    """Deterministic numbers from the predictions: mean detection count and λ."""

    default_prefix = 'standin'

    def process(self, data_batch, data_samples):
        for p in data_samples:
            self.results.append((float(len(p['detections']['scores'])),
                                 float(p['attention'].mean()),
                                 float(p['detections']['scores'].sum())))

    def compute_metrics(self, results):
        n = len(results)
        return {'num_det': sum(r[0] for r in results) / n,
                'attention': sum(r[1] for r in results) / n,
                'score_sum': sum(r[2] for r in results) / n}
'''


def tiny_data(base: Path) -> Path:
    """The tiny synthetic preset (seed 0), generated once per test session."""
    from wsal.datasets.synthetic import make_synthetic
    root = base / 'wsal_tiny_seed0'
    if not (root / 'gt.json').is_file():
        make_synthetic(root, preset='tiny', seed=0, overwrite=True)
    return root


def _has(registry_name: str, name: str) -> bool:
    from wsal import registry
    reg = getattr(registry, registry_name)
    reg.import_from_location()
    return name in reg.module_dict


def write_config(folder: Path, data_root: Path, *, name: str = 'tiny_cfg.py', max_iters: int = 6,
                 val_interval: int = 3, hidden: int = 16, dropout: float = 0.0,
                 extra: str = '', num_videos: int = 1) -> Path:
    """A small two-stream config on the tiny synthetic data (32-d features)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / 'wsal_test_standin.py').write_text(STANDIN)
    classes = json.loads((data_root / 'gt.json').read_text())['classes']
    repo_configs = Path(__file__).resolve().parents[2] / 'configs'
    real_map = _has('METRICS', 'DetectionMAP')
    metric = "dict(type='DetectionMAP')" if real_map else "dict(type='StandInMAP')"
    health = "None" if _has('METRICS', 'AttentionHealth') else "False"
    text = f'''
    _base_ = ['{repo_configs}/_base_/models/wsal_i3d_two_stream.py',
              '{repo_configs}/_base_/schedules/adam_1e-4.py',
              '{repo_configs}/_base_/default_runtime.py']
    custom_imports = dict(imports=['wsal_test_standin'], allow_failed_imports=False)
    model = dict(num_classes={len(classes)}, streams=dict(rgb=32, flow=32),
                 attention=dict(hidden_channels={hidden}, dropout={dropout}),
                 classifier=dict(dropout={dropout}))
    _ds = dict(type='WSALFeatureDataset', data_root='{data_root}', ann_file='gt.json')
    train_dataloader = dict(batch_size=1, num_workers=0, collate_fn=dict(type='wsal_collate'),
                            sampler=dict(type='InfiniteSampler', shuffle=True),
                            dataset=dict(_ds, subset='validation'))
    val_dataloader = dict(batch_size=1, num_workers=0, collate_fn=dict(type='wsal_collate'),
                          sampler=dict(type='DefaultSampler', shuffle=False),
                          dataset=dict(_ds, subset='test'))
    test_dataloader = val_dataloader
    val_evaluator = {metric}
    test_evaluator = val_evaluator
    optim_wrapper = dict(optimizer=dict(lr=1e-3))
    train_cfg = dict(max_iters={max_iters}, val_interval={val_interval})
    default_hooks = dict(logger=dict(interval=1),
                         checkpoint=dict(interval={val_interval}, save_best=None, max_keep_ckpts=-1))
    custom_hooks = [dict(type='LocalizationHealthHook', num_videos={num_videos}, health={health}),
                    dict(type='RNGStateHook')]
    randomness = dict(seed=0)
    '''
    path = folder / name
    path.write_text(textwrap.dedent(text) + textwrap.dedent(extra))
    return path
