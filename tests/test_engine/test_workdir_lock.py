"""One run per work dir: refusal, stale-lock takeover, re-entrancy, rank 0 only."""
import json
import os
import signal
import socket
import subprocess
import sys
import textwrap

import pytest

from wsal.engine.workdir_lock import LOCK_NAME, WorkDirInUseError, WorkDirLock, hold_work_dir

HOLDER = textwrap.dedent('''
    import sys, time
    from wsal.engine.workdir_lock import hold_work_dir
    with hold_work_dir(sys.argv[1]):
        print('held', flush=True)
        time.sleep(120)
''')


@pytest.fixture
def holder(tmp_path):
    """A separate process that owns ``tmp_path / 'w'`` until killed."""
    work = tmp_path / 'w'
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    proc = subprocess.Popen([sys.executable, '-c', HOLDER, str(work)], stdout=subprocess.PIPE,
                            text=True, env=env)
    try:
        assert proc.stdout.readline().strip() == 'held'
        yield proc, work
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        proc.stdout.close()


def test_second_owner_is_refused_naming_owner_and_lock_file(holder):
    proc, work = holder
    with pytest.raises(WorkDirInUseError) as info:
        WorkDirLock(work).acquire()
    msg = str(info.value)
    assert len(msg.splitlines()) == 1
    assert f'pid {proc.pid}' in msg and socket.gethostname() in msg
    assert str(work / LOCK_NAME) in msg and 'since 20' in msg


def test_lock_of_killed_run_is_taken_over_with_a_note(holder):
    proc, work = holder
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    notes = []
    with hold_work_dir(work, log=notes.append):
        record = json.loads((work / LOCK_NAME).read_text())
        assert record['pid'] == os.getpid()
    assert len(notes) == 1 and f'pid {proc.pid}' in notes[0] and 'no longer running' in notes[0]
    assert (work / LOCK_NAME).read_text() == ''  # released: record emptied, file kept
    notes.clear()
    with hold_work_dir(work, log=notes.append):
        pass
    assert notes == []  # a cleanly ended run leaves nothing to take over


def test_reentrant_within_a_process_and_exclusive_across_descriptors(tmp_path):
    with hold_work_dir(tmp_path) as outer:
        with hold_work_dir(tmp_path) as inner:
            assert inner is outer
        with pytest.raises(WorkDirInUseError):  # an independent lock object is refused
            WorkDirLock(tmp_path).acquire()
    WorkDirLock(tmp_path).acquire().release()


def test_only_rank_zero_takes_the_lock(tmp_path, monkeypatch):
    monkeypatch.setenv('RANK', '1')
    with hold_work_dir(tmp_path / 'w') as lock:
        assert lock is None
    assert not (tmp_path / 'w' / LOCK_NAME).exists()


def test_train_and_test_refuse_a_work_dir_in_use_before_writing(holder, tiny_root, tmp_path,
                                                                monkeypatch, capsys):
    from wsal.cli.main import main
    from wsal_e2e_support import write_config
    proc, work = holder
    cfg_file = write_config(tmp_path / 'cfg', tiny_root, max_iters=2, val_interval=2,
                            num_videos=0)
    monkeypatch.syspath_prepend(str(cfg_file.parent))
    rc = main(['train', str(cfg_file), '--work-dir', str(work)])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1, err
    assert 'in use by pid' in err[0] and LOCK_NAME in err[0]
    assert sorted(p.name for p in work.iterdir()) == [LOCK_NAME]

    ckpt = tmp_path / 'model.pth'
    import torch
    torch.save({'state_dict': {}}, str(ckpt))
    rc = main(['test', str(cfg_file), str(ckpt), '--work-dir', str(work)])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and 'in use by pid' in err[0], err
    assert sorted(p.name for p in work.iterdir()) == [LOCK_NAME]


@pytest.mark.parametrize('command', ['ablate', 'compare'])
def test_campaigns_refuse_a_work_dir_in_use_before_writing(holder, command):
    from wsal.experiments import run_ablation, run_compare
    proc, work = holder
    run = (lambda: run_ablation(work_dir=work, preset='tiny', seeds=[0], rows=['r1'], iters=2,
                                log=lambda s: None)) if command == 'ablate' else (
        lambda: run_compare(['stpn'], work_dir=work, preset='tiny', seeds=[0], iters=2,
                            log=lambda s: None))
    with pytest.raises(WorkDirInUseError, match=f'pid {proc.pid}'):
        run()
    assert sorted(p.name for p in work.iterdir()) == [LOCK_NAME]
