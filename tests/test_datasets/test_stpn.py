"""STPN / W-TALC layout on a generated miniature (pickled object arrays, byte strings, 10 fps)."""
import json

import numpy as np
import pytest

from wsal.cli.main import main
from wsal.datasets import STPNFeatureDataset, WSALFeatureDataset
from wsal.datasets.stpn import convert_stpn


def _obj(items):
    arr = np.empty(len(items), dtype=object)
    for i, x in enumerate(items):
        arr[i] = x
    return arr


def make_stpn(root, *, joint_dim=12, split=5, extra=None):
    """Three videos: two validation, one test; names and labels are byte strings."""
    rng = np.random.default_rng(1)
    ann = root / 'Mini-Annotations'
    ann.mkdir(parents=True)
    names = [b'video_validation_1', b'video_validation_2', b'video_test_1']
    lengths = [20, 13, 31]                     # 10 fps, 16 frames per segment: 1.6 s
    durations = [32.5, 21.0, 50.0]
    segments = [[[1.0, 4.5], [10.0, 12.0]], [[3.0, 8.0]], [[0.0, 2.0], [20.0, 30.0]]]
    labels = [[b'Jump', b'Jump'], [b'Throw'], [b'Throw', b'Jump']]
    np.save(ann / 'videoname.npy', np.array(names))
    np.save(ann / 'subset.npy', np.array([b'validation', b'validation', b'test']))
    np.save(ann / 'duration.npy', np.array(durations))
    np.save(ann / 'classlist.npy', np.array([b'Jump', b'Throw']))
    np.save(ann / 'segments.npy', _obj([[list(s) for s in v] for v in segments]), allow_pickle=True)
    np.save(ann / 'labels.npy', _obj(labels), allow_pickle=True)
    np.save(ann / 'labels_all.npy', _obj([sorted(set(v)) for v in labels]), allow_pickle=True)
    feats = [rng.random((t, joint_dim)).astype(np.float32) for t in lengths]
    if extra:
        extra(feats, ann)
    np.save(root / 'Mini-I3D-JOINTFeatures.npy', _obj(feats), allow_pickle=True)
    return feats


def test_reads_directly(tmp_path):
    feats = make_stpn(tmp_path)
    ds = STPNFeatureDataset(data_root=tmp_path, subset='validation', split_dim=5)
    assert ds.metainfo['classes'] == ('Jump', 'Throw')
    assert ds.video_ids == ['video_validation_1', 'video_validation_2']
    item = ds[0]
    np.testing.assert_array_equal(item['inputs']['rgb'].numpy(), feats[0][:, :5])
    np.testing.assert_array_equal(item['inputs']['flow'].numpy(), feats[0][:, 5:])
    s = item['data_sample']
    assert s['seconds_per_segment'] == pytest.approx(1.6)  # 16 frames at 10 fps
    assert s['gt_segments'].tolist() == [[1.0, 4.5], [10.0, 12.0]]
    assert s['label'].tolist() == [1.0, 0.0]
    test = STPNFeatureDataset(data_root=tmp_path, subset='test', split_dim=5)
    assert test[0]['data_sample']['gt_labels'].tolist() == [1, 0]


def test_convert_then_canonical_dataset_gives_same_items(tmp_path):
    make_stpn(tmp_path / 'src')
    out = convert_stpn(tmp_path / 'src', tmp_path / 'out', split_dim=5)
    gt = json.loads((out / 'gt.json').read_text())
    assert gt['classes'] == ['Jump', 'Throw']
    assert gt['database']['video_test_1']['fps'] == 10.0
    direct = STPNFeatureDataset(data_root=tmp_path / 'src', split_dim=5)
    canon = WSALFeatureDataset(data_root=out)
    assert direct.video_ids == canon.video_ids
    for i in range(len(direct)):
        a, b = direct[i], canon[i]
        for m in ('rgb', 'flow'):
            assert np.array_equal(a['inputs'][m].numpy(), b['inputs'][m].numpy())
        for k in ('label', 'gt_segments', 'gt_labels'):
            assert a['data_sample'][k].tolist() == b['data_sample'][k].tolist()
        assert a['data_sample']['seconds_per_segment'] == b['data_sample']['seconds_per_segment']


def test_convert_cli_and_errors(tmp_path, capsys):
    def break_video(feats, ann):
        feats[1][3, 2] = np.nan
    make_stpn(tmp_path / 'src', extra=break_video)
    assert main(['convert', str(tmp_path / 'src'), str(tmp_path / 'out'), '--split-dim', '5']) == 2
    err = capsys.readouterr().err
    assert "wsal convert: error:" in err and "video 'video_validation_2'" in err and 'non-finite' in err
    assert not (tmp_path / 'out').exists() and sorted(p.name for p in tmp_path.iterdir()) == ['src']
    assert main(['convert', str(tmp_path / 'nowhere'), str(tmp_path / 'out')]) == 2
    assert 'JOINTFeatures.npy' in capsys.readouterr().err


def test_extracted_fps_and_mismatched_annotations(tmp_path):
    def fps(feats, ann):
        np.save(ann / 'extracted_fps.npy', np.array([25.0, 25.0, 30.0]))
    make_stpn(tmp_path / 'a', extra=fps)
    ds = STPNFeatureDataset(data_root=tmp_path / 'a', split_dim=5)
    assert ds[2]['data_sample']['seconds_per_segment'] == pytest.approx(16 / 30)

    def short_labels(feats, ann):
        np.save(ann / 'subset.npy', np.array([b'validation', b'test']))
    make_stpn(tmp_path / 'b', extra=short_labels)
    with pytest.raises(ValueError, match=r'subset.npy: 2 entries but videoname.npy has 3'):
        STPNFeatureDataset(data_root=tmp_path / 'b', split_dim=5)
    with pytest.raises(ValueError, match=r"JOINTFeatures.npy \(video 'video_validation_1', rgb\): "
                                         r'joint dim 12 <= split_dim 1024'):
        STPNFeatureDataset(data_root=tmp_path / 'a')


def test_convert_force_fps_overrides_extracted_fps(tmp_path):
    """The W-TALC release records 10 fps for I3D features extracted at 25 fps."""
    def fps(feats, ann):
        np.save(ann / 'extracted_fps.npy', np.full(3, 10))
    make_stpn(tmp_path / 'src', extra=fps)
    assert main(['convert', str(tmp_path / 'src'), str(tmp_path / 'out'), '--split-dim', '5',
                 '--force-fps', '25']) == 0
    gt = json.loads((tmp_path / 'out' / 'gt.json').read_text())
    assert {v['fps'] for v in gt['database'].values()} == {25.0}
    canon = WSALFeatureDataset(data_root=tmp_path / 'out')
    assert canon[0]['data_sample']['seconds_per_segment'] == pytest.approx(16 / 25)
    out = convert_stpn(tmp_path / 'src', tmp_path / 'out10', split_dim=5)   # without: the file's
    assert {v['fps'] for v in json.loads((out / 'gt.json').read_text())['database'].values()} == {10.0}
    with pytest.raises(ValueError, match='fps must be > 0'):
        convert_stpn(tmp_path / 'src', tmp_path / 'bad', split_dim=5, fps=0)
