import json

import numpy as np
import pytest
import torch

from wsal.datasets import WSALFeatureDataset
from wsal.registry import DATASETS, build_dataset

from .conftest import write_layout


def test_item_contract(simple_root):
    ds = WSALFeatureDataset(data_root=simple_root, subset='validation')
    assert ds.metainfo == {'classes': ('A', 'B', 'C')}
    assert len(ds) == 3 and ds.video_ids == ['v1', 'v2', 'v3']
    item = ds[0]
    assert set(item) == {'inputs', 'data_sample'}
    rgb, flow = item['inputs']['rgb'], item['inputs']['flow']
    assert rgb.dtype == torch.float32 and rgb.shape == (15, 8) and flow.shape == (15, 8)
    np.testing.assert_array_equal(rgb.numpy(), np.load(simple_root / 'features/rgb/v1.npy'))
    s = item['data_sample']
    assert s['video_id'] == 'v1' and s['num_segments'] == 15 and s['duration'] == 10.0
    assert s['label'].tolist() == [1.0, 1.0, 0.0]
    assert s['seconds_per_segment'] == pytest.approx(16 / 25)
    assert s['gt_segments'].dtype == torch.float32
    assert s['gt_segments'].tolist() == [[1.0, 3.0], [5.0, 6.5]]
    assert s['gt_labels'].dtype == torch.int64 and s['gt_labels'].tolist() == [0, 1]
    # per-video fps wins over default_fps
    assert ds[2]['data_sample']['seconds_per_segment'] == pytest.approx(1.0)
    ds10 = WSALFeatureDataset(data_root=simple_root, subset='validation', default_fps=10.0)
    assert ds10[0]['data_sample']['seconds_per_segment'] == pytest.approx(1.6)
    assert ds10[1]['data_sample']['seconds_per_segment'] == pytest.approx(0.64)


def test_subsets_classes_modalities(simple_root):
    assert len(WSALFeatureDataset(data_root=simple_root, subset='test')) == 1
    assert len(WSALFeatureDataset(data_root=simple_root, subset=['validation', 'test'])) == 4
    assert len(WSALFeatureDataset(data_root=simple_root)) == 4
    ds = WSALFeatureDataset(data_root=simple_root, subset='test', classes=['C', 'B', 'A', 'D'],
                            modalities=('flow',))
    item = ds[0]
    assert list(item['inputs']) == ['flow']
    assert item['data_sample']['label'].tolist() == [0, 0, 1, 0]
    assert item['data_sample']['gt_labels'].tolist() == [2]
    (simple_root / 'classes.txt').write_text('B\nA\nC\n')
    assert WSALFeatureDataset(data_root=simple_root, classes=str(simple_root / 'classes.txt')
                              ).metainfo['classes'] == ('B', 'A', 'C')


def test_video_list_and_template_with_subset(tmp_path):
    write_layout(tmp_path, {
        'a': dict(duration=4.0, T=6, anns=[(0.5, 1.0, 'X')], subset='test'),
        'b': dict(duration=4.0, T=6, anns=[(0.5, 1.0, 'Y')], subset='test'),
        'c': dict(duration=4.0, T=6, anns=[(0.5, 1.0, 'X')], subset='validation'),
    }, template='feats/{subset}/{modality}/{video_id}.npy')
    (tmp_path / 'list.txt').write_text('# ids\nb\n\na.npy\n')
    ds = WSALFeatureDataset(data_root=tmp_path, subset='test', video_list='list.txt',
                            feature_template='feats/{subset}/{modality}/{video_id}.npy')
    assert ds.video_ids == ['b', 'a']
    (tmp_path / 'bad_list.txt').write_text('a\nc\n')
    with pytest.raises(ValueError, match=r"bad_list.txt.*\['c'\].*'c' in 'validation'"):
        WSALFeatureDataset(data_root=tmp_path, subset='test', video_list='bad_list.txt',
                           feature_template='feats/{subset}/{modality}/{video_id}.npy')
    (tmp_path / 'dup_list.txt').write_text('a\na\n')
    with pytest.raises(ValueError, match="dup_list.txt:2: duplicate video id 'a'"):
        WSALFeatureDataset(data_root=tmp_path, subset='test', video_list='dup_list.txt',
                           feature_template='feats/{subset}/{modality}/{video_id}.npy')
    with pytest.raises(ValueError, match='unknown placeholder'):
        WSALFeatureDataset(data_root=tmp_path, feature_template='{vid}.npy')


def test_packaged_thumos14_test_list_restricts_real_annotations(tmp_path):
    """The real gt (92 instances past their video's end) parses with the default policy."""
    gt = json.loads((__import__('wsal').datasets.synthetic._DATA / 'thumos14_gt.json').read_text())
    from wsal.datasets.annotations import load_video_list, parse_annotations
    from wsal.datasets.base import resolve_path
    classes = sorted({a['label'] for v in gt['database'].values() for a in v['annotations']})
    recs = parse_annotations(gt, ann_file='gt.json', classes=classes, subsets=['test'],
                             default_fps=25.0)
    assert len(recs) == 212 and sum(len(r.gt_labels) for r in recs) == 3358
    ids = load_video_list(resolve_path('wsal-data:thumos14_split_test.txt', None))
    assert len(ids) == 210 and set(ids) <= {r.video_id for r in recs}
    clipped = parse_annotations(gt, ann_file='gt.json', classes=classes, subsets=['test'],
                                default_fps=25.0, out_of_range='clip')
    assert all((r.gt_segments[:, 1] <= r.duration).all() for r in clipped)
    with pytest.raises(ValueError, match=r"video_test_\d+', field 'annotations\[\d+\].segment'.*ends after"):
        parse_annotations(gt, ann_file='gt.json', classes=classes, subsets=['test'],
                          default_fps=25.0, out_of_range='error')


def test_resample_to_fixed_length(simple_root):
    ds = WSALFeatureDataset(data_root=simple_root, subset='validation', num_segments=7)
    item = ds[0]
    assert item['inputs']['rgb'].shape == (7, 8)
    s = item['data_sample']
    assert s['num_segments'] == 7
    assert s['seconds_per_segment'] == pytest.approx(15 * 0.64 / 7)
    raw = np.load(simple_root / 'features/rgb/v1.npy')
    pooled = WSALFeatureDataset(data_root=simple_root, subset='validation', num_segments=5,
                                resample='pool')[0]['inputs']['rgb']
    np.testing.assert_allclose(pooled.numpy(), raw.reshape(5, 3, 8).mean(1), rtol=1e-5)
    up = WSALFeatureDataset(data_root=simple_root, subset='validation', num_segments=30,
                            resample='nearest')[0]['inputs']['rgb']
    np.testing.assert_array_equal(up.numpy(), np.repeat(raw, 2, axis=0))


def test_cache_and_lazy_init(simple_root):
    ds = WSALFeatureDataset(data_root=simple_root, subset='validation', cache=True, lazy_init=True)
    assert not ds._fully_initialized
    assert len(ds) == 3
    a = ds[1]['inputs']['rgb']
    a.mul_(0)  # items are copies: mutating one never alters the cache
    np.save(simple_root / 'features/rgb/v2.npy', np.zeros((12, 8), np.float32))
    b = ds[1]['inputs']['rgb']
    assert b.abs().sum() > 0  # served from the cache


def test_builds_from_registry_and_mmengine_runner(simple_root):
    from mmengine.registry import DefaultScope
    from mmengine.runner import Runner
    cfg = dict(type='WSALFeatureDataset', data_root=str(simple_root), subset='validation')
    assert isinstance(build_dataset(cfg), WSALFeatureDataset)
    assert DATASETS.get('WSALFeatureDataset') is WSALFeatureDataset
    DefaultScope.get_instance('test_datasets_runner', scope_name='wsal')
    loader = Runner.build_dataloader(dict(
        batch_size=2, num_workers=0, dataset=cfg,
        sampler=dict(type='DefaultSampler', shuffle=True),
        collate_fn=dict(type='wsal_collate')), seed=0)
    batches = list(loader)
    assert [len(b['data_samples']) for b in batches] == [2, 1]
    b = batches[0]
    assert b['inputs']['rgb'].shape[0] == 2 and b['inputs']['mask'].dtype == torch.bool
    assert sorted(s['video_id'] for bb in batches for s in bb['data_samples']) == ['v1', 'v2', 'v3']


# ---------------------------------------------------------------- bad input
def _ds(root, **kw):
    return WSALFeatureDataset(data_root=root, subset='validation', **kw)


def test_missing_and_unreadable_feature_files(simple_root):
    (simple_root / 'features/flow/v2.npy').unlink()
    with pytest.raises(ValueError, match=r"video 'v2' \(flow\): feature file not found: .*v2.npy"):
        _ds(simple_root)
    (simple_root / 'features/flow/v2.npy').write_bytes(b'garbage, not numpy')
    with pytest.raises(ValueError, match=r'v2.npy is not a readable .npy array'):
        _ds(simple_root)
    np.save(simple_root / 'features/flow/v2.npy', np.array([np.zeros((3, 8))], dtype=object),
            allow_pickle=True)
    with pytest.raises(ValueError, match=r'v2.npy holds a pickled object array'):
        _ds(simple_root)


def test_nan_inf_checked_at_init_on_load_or_off(simple_root):
    x = np.load(simple_root / 'features/rgb/v3.npy')
    x[4, 2] = np.nan
    x[6, 0] = np.inf
    np.save(simple_root / 'features/rgb/v3.npy', x)
    nan_msg = (r"v3.npy \(video 'v3', rgb\): field features: 1 NaN and 1 Inf value\(s\), "
               r'first at segment 4')
    for kwargs in ({}, dict(check_finite=True), dict(check_finite='init'), dict(cache=True)):
        with pytest.raises(ValueError, match=r'1 of 3 video\(s\) are invalid:\n  .*' + nan_msg):
            _ds(simple_root, **kwargs)
    ds = _ds(simple_root, check_finite='load')  # checked when read
    ds[0]
    with pytest.raises(ValueError, match=nan_msg):
        ds[2]
    for off in (False, 'off'):
        assert torch.isnan(_ds(simple_root, check_finite=off)[2]['inputs']['rgb']).any()
    with pytest.raises(ValueError, match=r"check_finite must be True, False or one of .*got 'yes'"):
        _ds(simple_root, check_finite='yes')


@pytest.mark.parametrize('t', [0, 1])
def test_too_short_videos(simple_root, t):
    np.save(simple_root / 'features/rgb/v1.npy', np.zeros((t, 8), np.float32))
    with pytest.raises(ValueError, match=rf"v1.npy \(video 'v1', rgb\): T={t} segment"):
        _ds(simple_root)


def test_dim_mismatches(simple_root):
    with pytest.raises(ValueError, match=r"v1.npy \(video 'v1', rgb\): feature dim D=8 differs from "
                                         r'D=1024 set by the config'):
        _ds(simple_root, feature_dims=1024)
    np.save(simple_root / 'features/flow/v2.npy', np.zeros((12, 5), np.float32))
    with pytest.raises(ValueError, match=r"v2.npy \(video 'v2', flow\): feature dim D=5 differs from "
                                         r"D=8 set by the majority of the split \(2 of 3 videos\)"):
        _ds(simple_root)
    np.save(simple_root / 'features/flow/v2.npy', np.zeros((9, 8), np.float32))
    with pytest.raises(ValueError, match=r"video 'v2': stream lengths differ"):
        _ds(simple_root)
    np.save(simple_root / 'features/flow/v2.npy', np.zeros((11, 8), np.float32))
    item = _ds(simple_root)[1]  # off by one: cut to the shorter stream
    assert item['inputs']['rgb'].shape == item['inputs']['flow'].shape == (11, 8)
    np.save(simple_root / 'features/flow/v2.npy', np.zeros((12,), np.float32))
    with pytest.raises(ValueError, match=r'expected a \[T, D\] array, got shape \(12,\)'):
        _ds(simple_root)


def test_skip_invalid_logs_and_skips(simple_root, monkeypatch):
    import logging

    from wsal.datasets import base
    logged = []
    monkeypatch.setattr(base, 'print_log', lambda msg, **kw: logged.append((msg, kw.get('level'))))
    (simple_root / 'features/rgb/v1.npy').unlink()
    ds = _ds(simple_root, skip_invalid=True)
    assert ds.video_ids == ['v2', 'v3']
    msg, level = logged[0]
    assert level == logging.WARNING and 'skipped' in msg
    assert "video 'v1' (rgb): feature file not found" in msg
    for v in ('v2', 'v3'):
        (simple_root / f'features/rgb/{v}.npy').unlink()
    with pytest.raises(ValueError, match='the split is empty after skipping 3'):
        _ds(simple_root, skip_invalid=True)


def _edit_gt(root, fn):
    gt = json.loads((root / 'gt.json').read_text())
    fn(gt['database'])
    (root / 'gt.json').write_text(json.dumps(gt))


def test_unknown_label(simple_root):
    _edit_gt(simple_root, lambda db: db['v2']['annotations'].append({'segment': [1, 2], 'label': 'Bb'}))
    with pytest.raises(ValueError, match=r"video 'v2', field 'annotations\[1\].label': label 'Bb' is not in"):
        _ds(simple_root, classes=['A', 'B', 'C'])
    assert len(_ds(simple_root, classes=['A', 'B', 'C'], ignore_labels=['Bb'])) == 3


@pytest.mark.parametrize('segment,match', [
    ([3.0, 3.0], r'start 3.0 >= end 3.0'),
    ([4.0, 2.0], r'start 4.0 >= end 2.0'),
    ([-1.0, 2.0], r'start -1.0 < 0'),
    (['a', 2.0], r'expected a number'),
    ([1.0], r'expected \[start, end\]'),
])
def test_bad_segments(simple_root, segment, match):
    _edit_gt(simple_root, lambda db: db['v2']['annotations'].append({'segment': segment, 'label': 'A'}))
    with pytest.raises(ValueError, match=rf"gt.json: video 'v2', field 'annotations\[1\].segment'.*{match}"):
        _ds(simple_root)


def test_segments_beyond_duration_policies(simple_root):
    _edit_gt(simple_root, lambda db: db['v2']['annotations'].extend([
        {'segment': [7.0, 9.0], 'label': 'A'}, {'segment': [8.5, 9.0], 'label': 'A'}]))
    assert _ds(simple_root)[1]['data_sample']['gt_segments'].tolist() == [[0.5, 2], [7, 9], [8.5, 9]]
    assert _ds(simple_root, out_of_range='clip')[1]['data_sample']['gt_segments'].tolist() == [
        [0.5, 2], [7, 8]]
    assert _ds(simple_root, out_of_range='drop')[1]['data_sample']['gt_segments'].tolist() == [[0.5, 2]]
    with pytest.raises(ValueError, match=r"video 'v2', field 'annotations\[1\].segment'.*duration 8.000"):
        _ds(simple_root, out_of_range='error')


def test_duplicate_ids_and_empty_split(simple_root):
    text = (simple_root / 'gt.json').read_text()
    (simple_root / 'gt.json').write_text(text.replace('"v2"', '"v1"'))
    with pytest.raises(ValueError, match=r"gt.json: duplicate key 'v1'"):
        _ds(simple_root)
    (simple_root / 'gt.json').write_text(text)
    with pytest.raises(ValueError, match=r"subset training\): the split is empty; subsets in the file: "
                                         r"\['test', 'validation'\]"):
        WSALFeatureDataset(data_root=simple_root, subset='training')


def test_missing_annotation_file_and_bad_json(tmp_path):
    with pytest.raises(FileNotFoundError, match='annotation file not found'):
        WSALFeatureDataset(data_root=tmp_path)
    (tmp_path / 'gt.json').write_text('{"database": {"v": ')
    with pytest.raises(ValueError, match='not valid JSON'):
        WSALFeatureDataset(data_root=tmp_path)
    (tmp_path / 'gt.json').write_text('{"videos": {}}')
    with pytest.raises(ValueError, match="expected an object with a 'database'"):
        WSALFeatureDataset(data_root=tmp_path)
    (tmp_path / 'gt.json').write_text('{"database": {"v": {"subset": "a", "duration": -1}}}')
    with pytest.raises(ValueError, match=r"video 'v', field 'duration': must be > 0"):
        WSALFeatureDataset(data_root=tmp_path, classes=['A'])
