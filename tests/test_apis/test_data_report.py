"""``inspect_data`` / ``wsal inspect`` on synthetic data."""
import json
import shutil

import numpy as np
import pytest

from wsal.apis.data_report import format_data_report, inspect_data, reading


def test_report_on_the_tiny_preset(tiny_root):
    r = inspect_data(tiny_root)
    assert set(r['probes']) == {'all', 'rgb', 'flow'}
    gt = json.loads((tiny_root / 'gt.json').read_text())['database']
    n_test = sum(v['subset'] == 'test' for v in gt.values())
    assert r['splits']['test']['videos'] == n_test
    assert 0 < r['splits']['train']['coverage']['mean'] < 1
    for view, p in r['probes'].items():
        assert 0 <= p['video_label']['mean'] <= 1, view
        assert p['video_label']['count'] >= n_test
        assert p['frame_probe'] is not None
        assert ('norm' in p) == (view != 'all')
    # the default generator puts class evidence in the actions
    assert r['probes']['all']['video_label']['mean'] > 0.6
    text = format_data_report(r)
    assert 'video-label classifier' in text and reading(r) in text


def test_report_follows_the_flat_norm_confound(tmp_path):
    """With class subspaces and a flat norm the labels' evidence leaves the actions."""
    from wsal.datasets.synthetic import make_synthetic
    base = make_synthetic(tmp_path / 'base', preset='small', seed=0, num_micro_videos=0)
    hard = make_synthetic(tmp_path / 'hard', preset='small', seed=0, num_micro_videos=0,
                          action_rank=6, latent_norm=1.5)
    easy = inspect_data(base, max_frames=0)['probes']
    flat = inspect_data(hard, max_frames=0)['probes']
    assert easy['all']['frame_probe'] is None  # max_frames=0 skips the supervised probe
    assert flat['all']['video_label']['mean'] < easy['all']['video_label']['mean'] - 0.1
    assert flat['flow']['norm']['mean'] < easy['flow']['norm']['mean'] - 0.2


def test_bad_data_is_named_before_any_probe(tiny_root, tmp_path):
    root = tmp_path / 'data'
    shutil.copytree(tiny_root, root)
    gt = json.loads((root / 'gt.json').read_text())['database']
    test_id = sorted(v for v in gt if gt[v]['subset'] == 'test')[0]
    victim = root / 'features' / 'flow' / f'{test_id}.npy'
    arr = np.load(victim)
    arr[3, 1] = np.nan
    np.save(victim, arr)
    with pytest.raises(ValueError, match=victim.stem):
        inspect_data(root, train_subset='validation', test_subset='test')


def test_test_split_without_segments_is_refused(tiny_root, tmp_path):
    root = tmp_path / 'data'
    shutil.copytree(tiny_root, root)
    gt = json.loads((root / 'gt.json').read_text())
    for v in gt['database'].values():
        if v['subset'] == 'test':
            v['annotations'] = []
    (root / 'gt.json').write_text(json.dumps(gt))
    with pytest.raises(ValueError, match="subset 'test' has annotated segments"):
        inspect_data(root)


def test_cli(tiny_root, tmp_path, capsys):
    from wsal.cli.main import main
    out = tmp_path / 'report.json'
    assert main(['inspect', str(tiny_root), '--out', str(out)]) == 0
    text = capsys.readouterr().out
    assert 'supervised frame probe' in text and f'report written to {out}' in text
    report = json.loads(out.read_text())
    assert report['splits']['train']['subset'] == 'validation'
    assert main(['inspect', str(tmp_path / 'missing')]) == 2
    assert 'is not a folder' in capsys.readouterr().err
    assert main(['inspect', str(tiny_root), '--test-subset', 'nope']) == 2
    assert "subsets in the file" in capsys.readouterr().err
