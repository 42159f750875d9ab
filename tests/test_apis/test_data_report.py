"""``inspect_data`` / ``wsal inspect`` on synthetic data."""
import json
import shutil

import numpy as np
import pytest

from wsal.apis.data_report import (UnannotatedTestSplit, format_data_report, inspect_data,
                                   reading)


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
    with pytest.raises(UnannotatedTestSplit, match="subset 'test' has annotated segments"):
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


def test_cli_log_level_per_call(tiny_root, monkeypatch):
    """Each call logs through a current logger at its own level, without mmengine's warning."""
    import logging
    import warnings

    from mmengine.logging import MMLogger

    import wsal.apis.data_report as data_report
    from wsal.cli.main import main
    seen = []
    real = data_report.inspect_data

    def spy(*args, **kwargs):
        logger = MMLogger.get_current_instance()
        seen.append(min(h.level for h in logger.handlers if isinstance(h, logging.StreamHandler)))
        return real(*args, max_frames=0)

    monkeypatch.setattr(data_report, 'inspect_data', spy)
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        assert main(['inspect', str(tiny_root)]) == 0
        MMLogger.get_instance('another-run')
        assert main(['inspect', str(tiny_root), '--log-level', 'INFO']) == 0
        assert main(['inspect', str(tiny_root), '-q']) == 0
    assert seen == [logging.WARNING, logging.INFO, logging.ERROR]


def test_action_shift_per_stream(tiny_root):
    """ρ of each stream, checked against a direct computation on the same frames."""
    from wsal.datasets import WSALFeatureDataset
    from wsal.evaluation.attention_health import frames_in_segments
    r = inspect_data(tiny_root, max_frames=0, max_shift_frames=10**9)
    assert 'action_shift' not in r['probes']['all']
    ds = WSALFeatureDataset(data_root=tiny_root, subset='validation', modalities=('rgb', 'flow'))
    ds.full_init()
    for stream in ('rgb', 'flow'):
        shifts, residuals = [], []
        for i, rec in enumerate(ds.records):
            x = ds.get_features(i)[stream].astype(np.float64)
            sps = ds.stride / rec.fps
            inside = frames_in_segments(len(x), sps, np.asarray(rec.gt_segments))
            # background: frames whose span [t, t + 1)·sps meets no segment
            clear = np.ones(len(x), bool)
            for start, end in rec.gt_segments:
                first = int(np.floor(start / sps))
                last = int(np.ceil(end / sps))      # exclusive
                clear[max(first, 0):last] = False
            if not inside.any() or not clear.any():
                continue
            shifts.append(x[inside].mean(0) - x[clear].mean(0))
            residuals.append(x[clear] - x[clear].mean(0))
        res = np.concatenate(residuals)
        sigma1 = np.sqrt(np.linalg.eigvalsh(res.T @ res / len(res))[-1])
        expected = np.linalg.norm(np.mean(shifts, 0)) / sigma1
        got = r['probes'][stream]['action_shift']
        assert got['videos'] == len(shifts) and got['frames'] == len(res)
        assert got['rho'] == pytest.approx(expected, rel=1e-9), stream
    text = format_data_report(r)
    assert f"flow {r['probes']['flow']['action_shift']['rho']:.2f}" in text
    # A sample of the frames for σ₁ keeps the estimate close
    sampled = inspect_data(tiny_root, max_frames=0, max_shift_frames=300)['probes']
    for stream in ('rgb', 'flow'):
        assert sampled[stream]['action_shift']['frames'] < r['probes'][stream]['action_shift'][
            'frames']
        assert sampled[stream]['action_shift']['rho'] == pytest.approx(
            r['probes'][stream]['action_shift']['rho'], rel=0.15)
    with pytest.raises(ValueError, match='max_shift_frames'):
        inspect_data(tiny_root, max_shift_frames=0)
