"""Micro-video (weak-label) datasets, the dataset base configs, and the CLI."""
import json
from pathlib import Path

import numpy as np
import pytest
from mmengine.config import Config

from wsal.cli.main import main
from wsal.datasets import WeakLabelFeatureDataset, WSALFeatureDataset, resample_features
from wsal.datasets.annotations import load_weak_labels

CONFIGS = Path(__file__).resolve().parents[2] / 'configs' / '_base_' / 'datasets'


def test_weak_label_file_formats(tmp_path):
    (tmp_path / 'a.json').write_text(json.dumps({'m1': ['A', 'B'], 'm2': 'B'}))
    (tmp_path / 'b.csv').write_text('video_id,labels\nm1,A;B\nm2,B\n')
    (tmp_path / 'c.csv').write_text('m1,A\nm1,B\nm2,B\n')
    want = {'m1': ['A', 'B'], 'm2': ['B']}
    for name in ('a.json', 'b.csv', 'c.csv'):
        got = {k: v['labels'] for k, v in load_weak_labels(tmp_path / name).items()}
        assert got == want, name
    (tmp_path / 'dup.json').write_text('{"m1": ["A"], "m1": ["B"]}')
    with pytest.raises(ValueError, match="dup.json: duplicate key 'm1'"):
        load_weak_labels(tmp_path / 'dup.json')
    (tmp_path / 'empty.json').write_text('{"m1": []}')
    with pytest.raises(ValueError, match="empty.json: video 'm1' has no labels"):
        load_weak_labels(tmp_path / 'empty.json')


def test_weak_label_dataset_items_and_errors(tmp_path):
    for vid, t in (('m1', 9), ('m2', 14)):
        for m in ('rgb', 'flow'):
            (tmp_path / 'features' / m).mkdir(parents=True, exist_ok=True)
            np.save(tmp_path / 'features' / m / f'{vid}.npy', np.ones((t, 4), np.float32))
    (tmp_path / 'tags.csv').write_text('m1,A;B\nm2,B\n')
    ds = WeakLabelFeatureDataset(data_root=tmp_path, label_file='tags.csv', classes=['A', 'B', 'C'])
    s = ds[1]['data_sample']
    assert s['label'].tolist() == [0, 1, 0] and s['gt_segments'].shape == (0, 2)
    assert s['duration'] == pytest.approx(14 * 0.64) and s['num_segments'] == 14
    with pytest.raises(ValueError, match=r"tags.csv: video 'm1', field 'labels': label 'B' is not in"):
        WeakLabelFeatureDataset(data_root=tmp_path, label_file='tags.csv', classes=['A'])
    (tmp_path / 'tags2.csv').write_text('m1,A\nm3,A\n')
    with pytest.raises(ValueError, match=r"video 'm3' \(rgb\): feature file not found"):
        WeakLabelFeatureDataset(data_root=tmp_path, label_file='tags2.csv')


def _cfg(name, root, dim=32):
    cfg = Config.fromfile(str(CONFIGS / name))
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        ds = cfg[key]['dataset']
        for d in ds.get('datasets', [ds]):
            d['data_root'] = str(root)
            if 'feature_dims' in d:
                d['feature_dims'] = dict(rgb=dim, flow=dim)
    return cfg


@pytest.mark.parametrize('name', ['thumos14_i3d.py', 'thumos14_synthetic.py',
                                  'thumos14_i3d_mv.py', 'thumos14_synthetic_mv.py'])
def test_thumos14_base_configs_build_with_runner(tiny_root, name):
    from mmengine.registry import DefaultScope
    from mmengine.runner import Runner
    DefaultScope.get_instance(f'test_cfg_{name}', scope_name='wsal')
    cfg = _cfg(name, tiny_root)
    assert cfg.train_dataloader.batch_size == 1
    assert [e['type'] for e in cfg.val_evaluator] == ['DetectionMAP', 'ClassificationMAP',
                                                      'AttentionHealth']
    for key in ('train_dataloader', 'val_dataloader'):
        loader_cfg = dict(cfg[key])
        loader_cfg.update(num_workers=0, persistent_workers=False)
        loader = Runner.build_dataloader(loader_cfg, seed=0)
        assert len(loader.dataset.metainfo['classes']) == 20
        batch = next(iter(loader))
        assert batch['inputs']['rgb'].shape[-1] == 32 and batch['inputs']['mask'].all()
    train = Runner.build_dataloader(dict(cfg.train_dataloader, num_workers=0,
                                         persistent_workers=False), seed=0).dataset
    assert len(train) == (16 if name.endswith('_mv.py') else 8)  # 8 videos + 8 micro-videos


def test_activitynet_config_resamples(tiny_root):
    cfg = _cfg('activitynet13_i3d.py', tiny_root)
    assert cfg.val_evaluator[0]['preset'] == 'activitynet'
    ds_cfg = dict(cfg.val_dataloader.dataset, subset='test', num_segments=50)
    ds_cfg.pop('type')
    ds = WSALFeatureDataset(**ds_cfg)
    assert ds[0]['inputs']['flow'].shape == (50, 32)
    assert len(ds.metainfo['classes']) == 20  # sorted labels of the file


def test_resample_modes_keep_constant_signals():
    import torch
    x = torch.arange(12.0).repeat(3, 1).t().contiguous()  # [12, 3]
    for mode in ('interpolate', 'pool', 'nearest'):
        for n in (4, 12, 30):
            y = resample_features(x, n, mode=mode)
            assert y.shape == (n, 3)
            assert torch.equal(y[:, 0], y[:, 2])
    assert resample_features(x, 4, mode='pool')[:, 0].tolist() == [1.0, 4.0, 7.0, 10.0]
    with pytest.raises(ValueError, match='resample_features: mode must be one of'):
        resample_features(x, 4, mode='cubic')


def test_make_synthetic_cli(tmp_path, capsys):
    out = tmp_path / 'syn'
    assert main(['make-synthetic', str(out), '--preset', 'tiny', '--seed', '2',
                 '--set', 'num_micro_videos=0', '--set', 'rgb_dim=16']) == 0
    printed = capsys.readouterr().out
    assert '4 test, 8 validation videos, 0 micro-videos, 20 classes' in printed
    first = next(iter(json.loads((out / 'gt.json').read_text())['database']))
    assert np.load(out / 'features' / 'rgb' / f'{first}.npy').shape[1] == 16
    assert not (out / 'micro_videos.json').exists()
    assert json.loads((out / 'synthetic.json').read_text())['seed'] == 2
    assert main(['make-synthetic', str(out), '--preset', 'tiny']) == 2
    assert 'already exists' in capsys.readouterr().err
    assert main(['make-synthetic', str(tmp_path / 'x'), '--preset', 'tiny', '--set', 'bogus=1']) == 2
    assert "unknown synthetic option(s) ['bogus']" in capsys.readouterr().err
