"""A whole method from a plugin package: its head, its loss and its config.

The distribution (package + dist-info with a ``wsal.plugins`` entry point)
is written to a temporary folder and put on ``PYTHONPATH`` of ``wsal train``
and ``wsal test`` subprocesses only: this test process never imports it.
The plugin's config inherits a packaged wsal config through ``_base_`` (by
absolute path) and names the plugin's classes by type.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from wsal.datasets.synthetic import make_synthetic
from wsal.engine.config_paths import packaged_config_dir

PLUGIN = 'wsal_maxmethod'

MODULE = '''
"""A small WTAL method: a per-snippet linear classifier with max pooling over time."""
import torch
import torch.nn as nn

from wsal.losses.base import LossTerm
from wsal.registry import LOSSES, MODELS


@MODELS.register_module()
class MaxPoolHead(nn.Module):
    """Linear class activations; video logit = max over valid snippets."""

    def __init__(self, *, in_channels, num_classes):
        super().__init__()
        self.fc = nn.Linear(in_channels, num_classes)

    def forward(self, x, mask=None):
        if mask is None:
            mask = torch.ones(x.shape[:2], dtype=torch.bool, device=x.device)
        cas = self.fc(x)                                            # [B, T, C]
        video_logits = cas.masked_fill(~mask[..., None], float('-inf')).amax(1)
        act = torch.sigmoid(cas.detach().amax(-1)) * mask          # [B, T], 0 on padding
        zero = cas.new_zeros(*cas.shape[:-1], 1)
        return {'attention': act, 'cas': torch.cat([zero, cas], -1),
                'tcam': torch.cat([zero, torch.softmax(cas, -1)], -1),
                'class_scores': cas, 'video_logits': video_logits,
                'video_scores': torch.softmax(video_logits, -1)}


@LOSSES.register_module()
class MaxPoolCrossEntropy(LossTerm):
    """Cross-entropy of the softmax video logits against the normalised labels."""

    loss_name = 'loss_maxpool_ce'
    required_keys = ('video_logits',)

    def compute(self, stream_out, labels, mask):
        target = labels / labels.sum(-1, keepdim=True).clamp(min=1)
        logp = torch.log_softmax(stream_out['video_logits'], -1)
        return -(target * logp).sum(-1).mean()
'''

CONFIG = '''
# The plugin's method: W-TALC's packaged config with the plugin's head and loss.
_base_ = [{base!r}]

model = dict(
    head=dict(_delete_=True, type='MaxPoolHead'),
    losses=dict(_delete_=True, ce=dict(type='MaxPoolCrossEntropy')))
train_dataloader = dict(
    batch_size=4,
    collate_fn=dict(type='wsal_sampled_collate', num_segments=32, mode='crop'))
'''


def _write_plugin(root: Path) -> Path:
    """The distribution in ``root``; returns the config it ships."""
    pkg = root / PLUGIN
    (pkg / 'configs').mkdir(parents=True)
    (pkg / '__init__.py').write_text(textwrap.dedent(MODULE))
    base = str(packaged_config_dir() / 'wtalc' / 'wtalc_i3d_thumos14.py')
    cfg = pkg / 'configs' / 'maxpool_i3d_thumos14.py'
    cfg.write_text(textwrap.dedent(CONFIG.format(base=base)))
    info = root / f'{PLUGIN}-0.1.dist-info'
    info.mkdir()
    (info / 'METADATA').write_text(f'Metadata-Version: 2.1\nName: {PLUGIN}\nVersion: 0.1\n')
    (info / 'entry_points.txt').write_text(f'[wsal.plugins]\nmaxpool = {PLUGIN}\n')
    (info / 'RECORD').write_text('')
    return cfg


def _wsal(args, env):
    return subprocess.run([sys.executable, '-m', 'wsal', *args], env=env, capture_output=True,
                          text=True, timeout=600)


@pytest.mark.slow
def test_plugin_method_trains_and_tests_by_name(tmp_path):
    site = tmp_path / 'site'
    cfg = _write_plugin(site)
    data = make_synthetic(tmp_path / 'tiny', 'tiny', seed=0)
    env = dict(os.environ, WSAL_PLUGINS_STRICT='1', OMP_NUM_THREADS='1')
    env.pop('WSAL_DISABLE_PLUGINS', None)
    repo = str(Path(__file__).resolve().parents[2])
    env['PYTHONPATH'] = os.pathsep.join([str(site), repo, env.get('PYTHONPATH', '')])
    dims = ['model.streams.rgb=32', 'model.streams.flow=32']
    for loader in ('train', 'val', 'test'):
        dims += [f'{loader}_dataloader.dataset.feature_dims.rgb=32',
                 f'{loader}_dataloader.dataset.feature_dims.flow=32',
                 f'{loader}_dataloader.num_workers=0',
                 f'{loader}_dataloader.persistent_workers=False']
    work = tmp_path / 'work'
    proc = _wsal(['train', str(cfg), '--data-root', str(data), '--work-dir', str(work),
                  '--seed', '0', '--cfg-options', 'train_cfg.max_iters=4',
                  'train_cfg.val_interval=4', 'default_hooks.logger.interval=1', *dims], env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    ckpt = work / 'iter_4.pth'
    assert ckpt.is_file()
    log = next(work.rglob('*.log')).read_text()
    assert 'loss_maxpool_ce: ' in log                       # the plugin's loss trained
    assert 'MaxPoolHead' in log                             # the plugin's head was built
    pred = tmp_path / 'pred.json'
    proc = _wsal(['test', str(cfg), str(ckpt), '--data-root', str(data), '--out', str(pred),
                  '--cfg-options', *dims], env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = json.loads(pred.read_text())['results']
    gt = json.loads((data / 'gt.json').read_text())
    assert set(results) == {v for v, info in gt['database'].items() if info['subset'] == 'test'}
    assert PLUGIN not in sys.modules                        # never imported here


def test_plugin_method_is_unknown_without_the_plugin(tmp_path):
    """The same config fails with a clear message when the package is not installed."""
    cfg = _write_plugin(tmp_path / 'site')
    data = make_synthetic(tmp_path / 'tiny', 'tiny', seed=0)
    env = dict(os.environ, OMP_NUM_THREADS='1')
    repo = str(Path(__file__).resolve().parents[2])
    env['PYTHONPATH'] = os.pathsep.join([repo, env.get('PYTHONPATH', '')])
    proc = _wsal(['train', str(cfg), '--data-root', str(data), '--work-dir',
                  str(tmp_path / 'work'), '--cfg-options', 'train_cfg.max_iters=1',
                  'model.streams.rgb=32', 'model.streams.flow=32'], env)
    assert proc.returncode == 2
    assert 'is not registered' in proc.stderr
    assert "'MaxPoolCrossEntropy'" in proc.stderr or "'MaxPoolHead'" in proc.stderr
