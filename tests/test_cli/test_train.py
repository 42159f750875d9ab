"""``wsal train`` / ``test`` / ``localize``: end to end on tiny synthetic data, and bad input."""
import json
import os
import subprocess
import sys

import pytest

from wsal.cli.main import main
from wsal_e2e_support import write_config


@pytest.fixture(scope='module')
def trained(tmp_path_factory, tiny_root):
    """One short training run shared by the tests below."""
    tmp = tmp_path_factory.mktemp('cli_train')
    cfg = write_config(tmp / 'cfg', tiny_root, max_iters=4, val_interval=2)
    sys.path.insert(0, str(cfg.parent))
    work = tmp / 'work'
    assert main(['train', str(cfg), '--work-dir', str(work), '--seed', '3']) == 0
    yield cfg, work
    sys.path.remove(str(cfg.parent))


def test_train_writes_checkpoints_logs_and_plots(trained):
    cfg, work = trained
    assert (work / 'iter_2.pth').is_file() and (work / 'iter_4.pth').is_file()
    assert (work / 'last_checkpoint').read_text().strip().endswith('iter_4.pth')
    assert sorted(p.name for p in (work / 'vis').iterdir()) == ['iter_2', 'iter_4']
    assert list((work / 'vis' / 'iter_4').glob('*.png'))
    log = next(work.rglob('*.log')).read_text()
    for term in ('loss_fg', 'loss_bg', 'loss_guide', 'loss_cluster'):
        assert term in log
    assert 'health/lambda_in' in log and 'detection/mAP@0.5' in log  # health hook + metric
    assert 'seed: 3' in log or "'seed': 3" in log or 'seed=3' in log


def test_test_and_localize_end_to_end(trained, tiny_root, tmp_path, capsys):
    cfg, work = trained
    pred = tmp_path / 'out' / 'pred.json'
    assert main(['test', str(cfg), str(work / 'iter_4.pth'), '--out', str(pred)]) == 0
    out = capsys.readouterr().out
    assert 'Detection mAP' in out and '0.5' in out and 'predictions:' in out
    result = json.loads(pred.read_text())
    assert set(result) == {'version', 'results', 'external_data'}
    gt = json.loads((tiny_root / 'gt.json').read_text())
    test_ids = {v for v, info in gt['database'].items() if info['subset'] == 'test'}
    assert set(result['results']) == test_ids
    classes = set(gt['classes'])
    for dets in result['results'].values():
        for d in dets:
            assert d['label'] in classes and 0 <= d['segment'][0] < d['segment'][1]
    metrics = json.loads((tmp_path / 'out' / 'pred_metrics.json').read_text())
    # the same numbers wsal eval computes from the written predictions
    from wsal.evaluation.detection import evaluate_detection
    again = evaluate_detection(str(tiny_root / 'gt.json'), str(pred), subset='test',
                               video_list=sorted(test_ids), classes=gt['classes'])
    assert metrics['mAP'] == pytest.approx([float(x) for x in again.mAP])

    # localize: a canonical-layout folder and explicit rgb/flow file pairs agree
    vid = sorted(test_ids)[0]
    loc = tmp_path / 'loc.json'
    plots = tmp_path / 'plots'
    feats = tiny_root / 'features'
    assert main(['localize', str(cfg), str(work / 'iter_4.pth'), str(feats / 'rgb' / f'{vid}.npy'),
                 str(feats / 'flow' / f'{vid}.npy'), '--out', str(loc), '--plot', str(plots)]) == 0
    got = json.loads(loc.read_text())['results']
    assert list(got) == [vid]
    assert (plots / f'{vid}.png').stat().st_size > 1000
    # detections equal those of wsal test for that video (same model, same features)
    flat = [x for d in got[vid] for x in d['segment']]
    assert flat == pytest.approx([x for d in result['results'][vid] for x in d['segment']])
    assert [d['label'] for d in got[vid]] == [d['label'] for d in result['results'][vid]]


def test_test_with_another_configs_postprocessing(trained, tmp_path, capsys):
    cfg, work = trained
    other = tmp_path / 'tcam_pp.py'   # the same model, STPN's post-processing
    other.write_text(
        f"_base_ = ['{cfg}']\n"
        "model = dict(test_cfg=dict(_delete_=True, type='DetectionPipeline', proposal=dict(\n"
        "    type='TCAMThresholdProposals', thresholds=[0.0, 0.1, 0.2], activation='sigmoid'),\n"
        "    scorer=dict(type='WeightedLogitScorer'), class_threshold=0.1,\n"
        "    nms=dict(type='TemporalNMS', iou_threshold=0.5)))\n")
    ckpt = str(work / 'iter_4.pth')
    outs = {k: tmp_path / f'{k}.json' for k in ('other', 'borrowed', 'own')}
    assert main(['test', str(other), ckpt, '--out', str(outs['other']),
                 '--work-dir', str(tmp_path / 'w1')]) == 0
    assert main(['test', str(cfg), ckpt, '--postprocess-from', str(other),
                 '--out', str(outs['borrowed']), '--work-dir', str(tmp_path / 'w2')]) == 0
    assert 'post-processing of tcam_pp.py' in capsys.readouterr().out
    assert main(['test', str(cfg), ckpt, '--out', str(outs['own']),
                 '--work-dir', str(tmp_path / 'w3')]) == 0
    got = {k: json.loads(v.read_text())['results'] for k, v in outs.items()}
    assert got['borrowed'] == got['other'] and got['borrowed'] != got['own']
    metrics = json.loads((tmp_path / 'borrowed_metrics.json').read_text())
    assert metrics['postprocessing_from'] == str(other)
    # a post-processing that reads an output this model does not produce is refused, naming
    # both configs and the output, before any work
    capsys.readouterr()
    assert main(['test', str(cfg), ckpt, '--postprocess-from', 'basnet/basnet_i3d_thumos14.py',
                 '--work-dir', str(tmp_path / 'w4')]) == 2
    err = _error(capsys)
    assert 'basnet_i3d_thumos14.py' in err and 'for a HeadLocalizer' in err
    assert 'tiny_cfg.py' in err and 'class_scores' in err
    assert not (tmp_path / 'w4').exists()


def _error(capsys):
    err = capsys.readouterr().err.strip()
    assert 'Traceback' not in err
    assert len(err.splitlines()) == 1, err
    return err


def test_missing_config(tmp_path, capsys):
    assert main(['train', str(tmp_path / 'nope.py')]) == 2
    assert 'config file not found' in _error(capsys)


def test_wrong_data_root(trained, tmp_path, capsys):
    cfg, _ = trained
    assert main(['train', str(cfg), '--work-dir', str(tmp_path / 'w'),
                 '--data-root', str(tmp_path / 'missing')]) == 2
    err = _error(capsys)
    assert 'data root not found' in err and 'missing' in err


def test_checkpoint_of_another_config(trained, tmp_path, tiny_root, capsys):
    cfg, work = trained
    other = write_config(tmp_path / 'other', tiny_root, hidden=8, name='other_cfg.py')
    assert main(['test', str(other), str(work / 'iter_4.pth'), '--work-dir', str(tmp_path)]) == 2
    err = _error(capsys)
    assert 'does not match config' in err and 'other_cfg.py' in err and 'shape mismatch' in err
    assert main(['localize', str(other), str(work / 'iter_4.pth'), str(tiny_root)]) == 2
    assert 'does not match config' in _error(capsys)


def test_missing_checkpoint_and_features(trained, tmp_path, capsys):
    cfg, work = trained
    assert main(['test', str(cfg), str(tmp_path / 'none.pth')]) == 2
    assert 'checkpoint not found' in _error(capsys)
    assert main(['localize', str(cfg), str(work / 'iter_4.pth'), str(tmp_path / 'x_rgb.npy')]) == 2
    assert 'features not found' in _error(capsys)
    lone = tmp_path / 'clip_rgb.npy'
    import numpy as np
    np.save(lone, np.zeros((5, 32), np.float32))
    assert main(['localize', str(cfg), str(work / 'iter_4.pth'), str(lone)]) == 2
    assert "video 'clip' has no flow features" in _error(capsys)


def test_python_m_wsal_reports_one_line(tmp_path):
    proc = subprocess.run([sys.executable, '-m', 'wsal', 'test', str(tmp_path / 'cfg.py'),
                           str(tmp_path / 'c.pth')], capture_output=True, text=True, timeout=120,
                          env=dict(os.environ, WSAL_DEBUG=''))
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        f'wsal test: error: checkpoint not found: {tmp_path / "c.pth"}']


def test_interrupted_write_leaves_no_partial_output(trained, tmp_path, monkeypatch, capsys):
    """A run killed while writing its metrics keeps the previous file intact."""
    cfg, work = trained
    out = tmp_path / 'o'
    out.mkdir()
    (out / 'p_metrics.json').write_text('OLD')
    import wsal.utils.io as io_mod
    real_replace = io_mod.os.replace

    def dying_replace(src, dst):
        if str(dst).endswith('p_metrics.json'):
            raise KeyboardInterrupt  # killed between writing and renaming
        return real_replace(src, dst)

    monkeypatch.setattr(io_mod.os, 'replace', dying_replace)
    assert main(['test', str(cfg), str(work / 'iter_4.pth'), '--out', str(out / 'p.json')]) == 130
    assert (out / 'p_metrics.json').read_text() == 'OLD'
    json.loads((out / 'p.json').read_text())  # written completely before
    assert sorted(p.name for p in out.iterdir()) == ['p.json', 'p_metrics.json']
