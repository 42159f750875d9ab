"""What the console shows: progress, the result and errors first; the log file keeps the rest.

Runs the packaged BM config on the tiny synthetic preset (32-d features: the
dims follow the data) as a user would, through ``python -m wsal``.
"""
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from wsal.cli.main import main

REPO = Path(__file__).resolve().parents[2]
#: a few iterations of the packaged config (lr 1e-2: some detections are right after 80),
#: with no dataloader workers to start
SHORT = ['train_cfg.max_iters=80', 'train_cfg.val_interval=80', 'default_hooks.checkpoint.interval=80',
         'default_hooks.logger.interval=20', 'optim_wrapper.optimizer.lr=0.01',
         'train_dataloader.num_workers=0', 'train_dataloader.persistent_workers=False',
         'test_dataloader.num_workers=0', 'test_dataloader.persistent_workers=False',
         'val_dataloader.num_workers=0', 'val_dataloader.persistent_workers=False']


def _wsal(*args, cwd):
    env = dict(os.environ, PYTHONPATH=str(REPO), OMP_NUM_THREADS='1')
    proc = subprocess.run([sys.executable, '-m', 'wsal', *map(str, args)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=600)
    return proc


@pytest.fixture(scope='module')
def trained(tmp_path_factory, tiny_root):
    """``wsal train bm/bm_i3d_thumos14.py --data-root TINY`` (1024-d config, 32-d data)."""
    tmp = tmp_path_factory.mktemp('console')
    work = tmp / 'work'
    proc = _wsal('train', 'bm/bm_i3d_thumos14.py', '--data-root', tiny_root, '--work-dir', work,
                 '--cfg-options', *SHORT, cwd=tmp)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return tmp, work, proc


def _lines(proc):
    return proc.stdout.splitlines() + proc.stderr.splitlines()


def test_train_console_fits_on_a_screen_and_the_log_file_has_everything(trained):
    tmp, work, proc = trained
    lines = _lines(proc)
    assert len(lines) <= 8, '\n'.join(lines)
    assert not any('Config:' in ln or 'System environment' in ln or 'Hooks will be' in ln
                   or 'deprecated' in ln for ln in lines)
    # progress with rate and the final line of each phase (not a TTY: plain lines, no \r)
    assert '\r' not in proc.stderr
    assert re.search(r'^train 80/80  loss \d+\.\d+  [\d.]+ it/s  done in \d+:\d\d$',
                     proc.stderr, re.M)
    assert re.search(r'^validate 4/4 .*done in', proc.stderr, re.M)
    assert proc.stdout.strip().endswith(f'checkpoints and logs in {work}')
    log = next(work.rglob('*.log')).read_text()
    for dump in ('System environment', 'Config:', 'Hooks will be executed', 'loss_fg'):
        assert dump in log
    assert (work / 'iter_80.pth').is_file()


def test_test_prints_one_table_that_wsal_eval_reproduces(trained, tiny_root):
    tmp, work, _ = trained
    pred = tmp / 'out' / 'pred.json'
    proc = _wsal('test', 'bm/bm_i3d_thumos14.py', work / 'iter_80.pth', '--data-root', tiny_root,
                 '--out', pred, '--cfg-options', *SHORT, cwd=tmp)
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = _lines(proc)
    assert len(lines) <= 14, '\n'.join(lines)
    assert 'Loads checkpoint' not in proc.stdout
    assert re.search(r'^test 4/4 .*done in', proc.stderr, re.M)
    assert len(re.findall(r'^tIoU +0\.1 ', proc.stdout, re.M)) == 1  # one table

    # its own folder: the training run's plots are left alone
    test_dir = work / 'test_iter_80'
    assert (test_dir / 'vis' / 'test').is_dir()
    assert sorted(p.name for p in (work / 'vis').iterdir()) == ['iter_80']

    def mAP_row(text):  # the numbers (a health flag may follow them)
        return [ln.split()[:12] for ln in text.splitlines() if ln.startswith('mAP ')]

    printed = mAP_row(proc.stdout)
    assert len(printed) == 1 and any(float(x) > 0 for x in printed[0][1:]), printed
    again = tmp / 'again.json'
    # (labels of classes absent from the tiny ground truth: no AP of their own either way)
    ev = _wsal('eval', tiny_root / 'gt.json', pred, '--subset', 'test', '--out', again,
               '--ignore-unknown-labels', cwd=tmp)
    assert ev.returncode == 0, ev.stderr
    assert mAP_row(ev.stdout) == printed  # the same table, digit for digit
    # the Runner's own metric table (log file only) is the same computation
    logged = mAP_row(next(test_dir.rglob('*.log')).read_text())
    assert logged and all(row == printed[0] for row in logged)
    ours = json.loads((tmp / 'out' / 'pred_metrics.json').read_text())
    flags = ours['health_flags']
    row = next(ln for ln in proc.stdout.splitlines() if ln.startswith('mAP '))
    assert row.endswith('  [' + '; '.join(flags) + ']') if flags else row.split()[-1] != ']'
    theirs = json.loads(again.read_text())
    assert ours['mAP'] == theirs['mAP'] and ours['averages'] == theirs['averages']
    health = ours['health']   # the class AUCs, written and printed
    assert 0.0 <= health['auc_class_lambda'] <= 1.0 and 0.0 <= health['auc_class_map'] <= 1.0
    assert (f"λ {health['auc_class_lambda']:.3f}, class map {health['auc_class_map']:.3f}"
            in proc.stdout)


def test_log_level_info_and_quiet(trained, tiny_root, capsys):
    tmp, work, _ = trained
    assert main(['test', 'bm/bm_i3d_thumos14.py', str(work / 'iter_80.pth'), '--data-root',
                 str(tiny_root), '--work-dir', str(tmp / 'loud'), '--log-level', 'info',
                 '--cfg-options', *SHORT]) == 0
    assert 'Config:' in capsys.readouterr().out
    quiet = _wsal('test', 'bm/bm_i3d_thumos14.py', work / 'iter_80.pth', '--data-root', tiny_root,
                  '--work-dir', tmp / 'quiet', '-q', '--cfg-options', *SHORT, cwd=tmp)
    assert quiet.returncode == 0 and quiet.stderr == ''
    assert 'tIoU ' in quiet.stdout


def test_checkpoint_trained_on_other_dims_is_one_clear_line(trained, tmp_path, capsys):
    from wsal.datasets.synthetic import make_synthetic
    _, work, _ = trained
    other = tmp_path / 'd48'
    make_synthetic(other, preset='tiny', seed=1, rgb_dim=48, flow_dim=48)
    code = main(['test', 'bm/bm_i3d_thumos14.py', str(work / 'iter_80.pth'), '--data-root',
                 str(other), '--work-dir', str(tmp_path / 'w')])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1, err
    assert 'was trained on features rgb=32, flow=32 but the data has rgb=48, flow=48' in err
    assert not (tmp_path / 'w').exists()  # refused before any Runner was built


def test_localize_follows_the_features_dims(trained, tiny_root, tmp_path, capsys):
    _, work, _ = trained
    vid = 'video_test_0000004'
    feats = tiny_root / 'features'
    out = tmp_path / 'loc.json'
    assert main(['localize', 'bm/bm_i3d_thumos14.py', str(work / 'iter_80.pth'),
                 str(feats / 'rgb' / f'{vid}.npy'), str(feats / 'flow' / f'{vid}.npy'),
                 '--out', str(out), '-q']) == 0
    assert list(json.loads(out.read_text())['results']) == [vid]
    assert capsys.readouterr().out.strip() == f'predictions written to {out}'
    assert main(['localize', 'bm/bm_i3d_thumos14.py', str(work / 'iter_80.pth'),
                 str(feats / 'rgb' / f'{vid}.npy'), str(feats / 'flow' / f'{vid}.npy'),
                 '--log-level', 'INFO']) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith('1 video(s); feature dims (from ') and 'rgb=32, flow=32' in lines[0]
    assert lines[1].startswith(f'{vid}: ') and len(lines) == 2


@pytest.mark.parametrize('options, expected', [
    (['train_cfg.max_iter=10'], "train_cfg.max_iter: train_cfg has no key 'max_iter'"
     ' (so train_cfg.max_iter does not exist). Did you mean: train_cfg.max_iters?'),
    (['model.losses.bgg.weight=0.2'], "model.losses has no key 'bgg' (so model.losses.bgg does "
     'not exist). Did you mean: model.losses.bg?'),
    (['model.attention.type=MLPAtention'], "'MLPAtention' is not registered in wsal's model "
     "registry (scope 'wsal'). Did you mean: MLPAttention"),
])
def test_config_mistakes_are_the_first_and_only_line(tiny_root, tmp_path, capsys, options,
                                                      expected):
    work = tmp_path / 'w'
    code = main(['train', 'bm/bm_i3d_thumos14.py', '--data-root', str(tiny_root),
                 '--work-dir', str(work), '--cfg-options', *options])
    out, err = capsys.readouterr()
    assert code == 2 and out == '' and len(err.splitlines()) == 1, err
    assert expected in err
    assert not work.exists()  # nothing was built


def test_wrong_data_root_is_the_first_and_only_line(tmp_path, capsys):
    empty = tmp_path / 'empty'
    empty.mkdir()
    work = tmp_path / 'w'
    code = main(['train', 'bm/bm_i3d_thumos14.py', '--data-root', str(empty),
                 '--work-dir', str(work)])
    out, err = capsys.readouterr()
    assert code == 2 and out == '' and len(err.splitlines()) == 1, err
    assert err.startswith(f'wsal train: error: ground truth not found: {empty}/gt.json')
    assert not work.exists()  # refused before any Runner was built


def test_user_config_inherits_a_packaged_one(tiny_root, tmp_path, capsys):
    """``_base_ = ['wsal::...']`` from a folder outside the repository; typos in it are named."""
    import wsal
    from wsal.apis import load_config
    user = tmp_path / 'mine'
    user.mkdir()
    (user / 'my_bm.py').write_text(
        "_base_ = ['wsal::bm/bm_i3d_thumos14.py']\n"
        'model = dict(losses=dict(bg=dict(weight=0.2)))\n')
    cfg = load_config(str(user / 'my_bm.py'))
    assert cfg.model.losses.bg.weight == 0.2 and cfg.model.losses.guide.weight == 0.1
    assert type(wsal.build_model(str(user / 'my_bm.py'))).__name__ == 'WeaklySupervisedLocalizer'
    assert type(wsal.build_model('bm/bm_i3d_thumos14.py')).__name__ == 'WeaklySupervisedLocalizer'

    (user / 'typo.py').write_text("_base_ = ['wsal::bm/bm_i3d_thumos14.py']\n"
                                  'model = dict(attention=dict(hiden_channels=8))\n')
    code = main(['train', str(user / 'typo.py'), '--data-root', str(tiny_root),
                 '--work-dir', str(tmp_path / 'w')])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert ("model.attention.hiden_channels: MLPAttention has no argument 'hiden_channels'. "
            'Did you mean: model.attention.hidden_channels') in err
    (user / 'missing.py').write_text("_base_ = ['wsal::bm/no_such.py']\n")
    with pytest.raises(ValueError, match='no_such.py'):
        load_config(str(user / 'missing.py'))


def test_every_long_command_takes_log_level_and_quiet():
    from wsal.cli.main import build_parser
    parser = build_parser()
    for cmd in (['train', 'c.py'], ['test', 'c.py', 'k.pth'], ['localize', 'c.py', 'k.pth', 'f'],
                ['demo'], ['ablate']):
        args = parser.parse_args(cmd + ['--log-level', 'debug', '-q'])
        assert args.log_level == 'DEBUG' and args.quiet is True
