"""Crash-safe checkpoints and resuming from the newest readable one."""
import os

import pytest
import torch

from wsal.apis.runner import prepare_config, run_train
from wsal.engine.checkpoint_hook import remove_stale_temporaries
from wsal.engine.compat import load_checkpoint_file
from wsal.engine.resume import find_resumable_checkpoint, resolve_resume
from wsal_e2e_support import write_config

# a metric that grows at every validation: each one saves a new best checkpoint
COUNTER = '''
from mmengine.evaluator import BaseMetric
from mmengine.registry import METRICS


@METRICS.register_module(force=True)
class ValidationCount(BaseMetric):
    default_prefix = 'count'
    calls = 0

    def process(self, data_batch, data_samples):
        self.results.append(0)

    def compute_metrics(self, results):
        type(self).calls += 1
        return {'calls': float(type(self).calls)}
'''

BEST_EVERY_ITER = '''
custom_imports = dict(imports=['wsal_test_standin', 'wsal_test_counter'],
                      allow_failed_imports=False)
val_evaluator = [val_evaluator, dict(type='ValidationCount')]
default_hooks = dict(checkpoint=dict(type='AtomicCheckpointHook', interval=1,
                                     save_best='count/calls', rule='greater', max_keep_ckpts=2))
'''


def _config(tmp_path, tiny_root, monkeypatch, *, max_iters=4, **kw):
    folder = tmp_path / 'cfg'
    folder.mkdir(parents=True, exist_ok=True)
    (folder / 'wsal_test_counter.py').write_text(COUNTER)
    # a constant rate: these runs are extended on resume (--iters), which a schedule that
    # follows the run length refuses (test_resume.py)
    cfg_file = write_config(folder, tiny_root, max_iters=max_iters, val_interval=1,
                            num_videos=0, extra=BEST_EVERY_ITER + '\nparam_scheduler = []\n',
                            **kw)
    monkeypatch.syspath_prepend(str(folder))
    return cfg_file


def test_default_runtime_uses_the_atomic_hook():
    from mmengine.config import Config

    from wsal.engine.config_paths import packaged_config_dir
    cfg = Config.fromfile(str(packaged_config_dir() / '_base_' / 'default_runtime.py'))
    assert cfg.default_hooks.checkpoint.type == 'AtomicCheckpointHook'


def test_saves_are_renamed_into_place_and_old_best_removed_after_new(tmp_path, tiny_root,
                                                                     monkeypatch):
    """Every checkpoint reaches its name by os.replace from a hidden temporary
    in the same folder; last_checkpoint is written only after its checkpoint
    exists; the previous best is deleted only after the new best is complete."""
    cfg_file = _config(tmp_path, tiny_root, monkeypatch, max_iters=4)
    work = tmp_path / 'w'
    events = []
    real_replace, real_remove = os.replace, os.remove

    def replace(src, dst):
        events.append(('replace', os.path.basename(src), os.path.basename(dst)))
        if os.path.basename(dst) == 'last_checkpoint':
            named = open(src).read().strip()
            assert os.path.isfile(named), 'last_checkpoint written before its checkpoint'
            load_checkpoint_file(named)
        return real_replace(src, dst)

    def remove(path):
        events.append(('remove', os.path.basename(path)))
        return real_remove(path)

    monkeypatch.setattr(os, 'replace', replace)
    monkeypatch.setattr(os, 'remove', remove)
    run_train(prepare_config(str(cfg_file), work_dir=work))
    monkeypatch.setattr(os, 'replace', real_replace)
    monkeypatch.setattr(os, 'remove', real_remove)

    saved = [e for e in events if e[0] == 'replace' and e[2].endswith('.pth')]
    assert {e[2] for e in saved} >= {'iter_1.pth', 'iter_2.pth', 'iter_3.pth', 'iter_4.pth'}
    for _, src, dst in saved:
        assert src.startswith(f'.{dst}.') and src.endswith('.tmp')
    # max_keep_ckpts=2: iter_1 is removed only after iter_3 is in place
    i_rm = events.index(('remove', 'iter_1.pth'))
    i_3 = next(i for i, e in enumerate(events) if e[0] == 'replace' and e[2] == 'iter_3.pth')
    assert i_3 < i_rm
    assert sum(e[0] == 'remove' and e[1].startswith('best_') for e in events) == 3
    for i, e in enumerate(events):  # a best is removed only after a newer best is in place
        if e[0] == 'remove' and e[1].startswith('best_'):
            newer = [x for x in events[:i] if x[0] == 'replace' and x[2].startswith('best_')
                     and x[2] != e[1]]
            assert newer, f'{e[1]} removed before the new best was complete'
    names = sorted(p.name for p in work.iterdir())
    assert 'iter_4.pth' in names and 'iter_3.pth' in names and 'iter_1.pth' not in names
    assert [n for n in names if n.startswith('best_')], names
    assert not [n for n in names if n.endswith('.tmp')]
    assert open(work / 'last_checkpoint').read().strip().endswith('iter_4.pth')
    for p in work.glob('*.pth'):
        load_checkpoint_file(str(p))


def test_stale_temporaries_are_removed(tmp_path):
    (tmp_path / '.iter_3.pth.0123abcd.tmp').write_bytes(b'partial')
    (tmp_path / '.last_checkpoint.89abcdef.tmp').write_text('x')
    (tmp_path / 'iter_2.pth').write_bytes(b'keep')
    (tmp_path / 'notes.tmp').write_text('keep')
    assert remove_stale_temporaries(str(tmp_path)) == ['.iter_3.pth.0123abcd.tmp',
                                                       '.last_checkpoint.89abcdef.tmp']
    assert sorted(p.name for p in tmp_path.iterdir()) == ['iter_2.pth', 'notes.tmp']


def _fake_ckpt(path, it):
    torch.save({'meta': {'iter': it}, 'state_dict': {'w': torch.zeros(2)}}, str(path))


@pytest.mark.parametrize('record', [None, '', '\x00\x00garbage', 'iter_9.pth', 'missing.pth'])
def test_auto_resume_picks_newest_readable(tmp_path, record):
    for it in (2, 4, 6):
        _fake_ckpt(tmp_path / f'iter_{it}.pth', it)
    good = (tmp_path / 'iter_6.pth').read_bytes()
    (tmp_path / 'iter_8.pth').write_bytes(good[:len(good) // 2])  # truncated
    (tmp_path / 'iter_9.pth').write_bytes(b'')  # empty
    if record is not None:
        (tmp_path / 'last_checkpoint').write_text(
            str(tmp_path / record) if record.endswith('.pth') else record)
    path, skipped = find_resumable_checkpoint(str(tmp_path))
    assert path == str(tmp_path / 'iter_6.pth')
    text = ' '.join(skipped)
    assert 'iter_8.pth' in text and 'iter_9.pth' in text
    if record in ('', '\x00\x00garbage'):
        assert 'last_checkpoint' in text


def test_auto_resume_prefers_a_newer_file_than_last_checkpoint(tmp_path):
    """Killed after iter_6 was renamed in place but before last_checkpoint moved on."""
    for it in (4, 6):
        _fake_ckpt(tmp_path / f'iter_{it}.pth', it)
    (tmp_path / 'last_checkpoint').write_text(str(tmp_path / 'iter_4.pth'))
    assert find_resumable_checkpoint(str(tmp_path))[0] == str(tmp_path / 'iter_6.pth')


def test_resolve_resume_messages(tmp_path):
    from mmengine.config import Config
    notes = []
    cfg = Config(dict(work_dir=str(tmp_path), resume=True, load_from=None))
    assert resolve_resume(cfg, log=notes.append) is None
    assert cfg.resume is False and 'training from scratch' in notes[-1]

    _fake_ckpt(tmp_path / 'iter_3.pth', 3)
    (tmp_path / 'last_checkpoint').write_text('')
    cfg = Config(dict(work_dir=str(tmp_path), resume=True, load_from=None))
    assert resolve_resume(cfg, log=notes.append) == str(tmp_path / 'iter_3.pth')
    assert cfg.load_from == str(tmp_path / 'iter_3.pth')
    assert len(notes[-1].splitlines()) == 1
    assert 'resuming from iter_3.pth' in notes[-1] and 'last_checkpoint (empty)' in notes[-1]

    bad = tmp_path / 'bad.pth'
    bad.write_bytes(b'PK\x03\x04 not really')
    cfg = Config(dict(work_dir=str(tmp_path), resume=True, load_from=str(bad)))
    with pytest.raises(ValueError, match='bad.pth'):
        resolve_resume(cfg, log=notes.append)


def test_cli_resume_truncated_file_is_one_line_error(tmp_path, tiny_root, monkeypatch, capsys):
    from wsal.cli.main import main
    cfg_file = _config(tmp_path, tiny_root, monkeypatch, max_iters=2)
    _fake_ckpt(tmp_path / 'whole.pth', 1)
    data = (tmp_path / 'whole.pth').read_bytes()
    (tmp_path / 'truncated.pth').write_bytes(data[:len(data) // 2])
    rc = main(['train', str(cfg_file), '--work-dir', str(tmp_path / 'w'),
               '--resume', str(tmp_path / 'truncated.pth')])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2
    assert len(err) == 1 and 'truncated.pth' in err[0] and 'Traceback' not in err[0]
    assert not (tmp_path / 'w' / 'last_checkpoint').exists()


def test_cli_auto_resume_with_empty_last_checkpoint(tmp_path, tiny_root, monkeypatch, capsys):
    """An empty last_checkpoint (a kill mid-write before) no longer stops --resume."""
    cfg_file = _config(tmp_path, tiny_root, monkeypatch, max_iters=2)
    work = tmp_path / 'w'
    run_train(prepare_config(str(cfg_file), work_dir=work))
    (work / 'last_checkpoint').write_text('')
    (work / 'iter_2.pth').write_bytes((work / 'iter_2.pth').read_bytes()[:100])
    capsys.readouterr()
    runner = run_train(prepare_config(str(cfg_file), work_dir=work, resume=True,
                                      cfg_options={'train_cfg.max_iters': 3}))
    err = capsys.readouterr().err
    assert 'resuming from iter_1.pth' in err and 'iter_2.pth' in err
    assert runner.iter == 3
    assert open(work / 'last_checkpoint').read().strip().endswith('iter_3.pth')
