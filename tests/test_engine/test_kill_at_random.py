"""SIGKILL at random moments of training never leaves the work dir unusable.

A training run with a checkpoint and a validation (each one a new best) at
every iteration is started again and again with ``--resume`` semantics and
killed after a random delay. After every kill: each ``.pth`` on disk is a
readable checkpoint, ``last_checkpoint`` names a readable checkpoint, and a
best checkpoint is present once one was written. At the end, a resumed run
continues from the newest checkpoint and finishes.

The runs are forked from this process after one short warm-up run (torch,
mmengine, wsal and their lazy imports loaded), so that each start costs a
fraction of a second rather than an interpreter start-up.
"""
import os
import random
import signal
import sys
import time

import pytest

from wsal.engine.compat import load_checkpoint_file
from wsal.engine.workdir_lock import LOCK_NAME

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not hasattr(os, 'fork'), reason='needs os.fork')]

KILLS = 12
TIME_BUDGET_S = 45.0


def _train_in_child(cfg_file, work_dir, log_path, max_iters=None):
    """Fork a child that resumes training in ``work_dir``; return its pid."""
    pid = os.fork()
    if pid:
        return pid
    code = 1
    try:  # the child never returns into pytest
        fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        sys.stdout = sys.stderr = os.fdopen(fd, 'w', buffering=1)
        import torch

        from wsal.apis.runner import prepare_config, run_train
        torch.set_num_threads(1)
        options = {'log_level': 'WARNING'}
        if max_iters is not None:
            options['train_cfg.max_iters'] = max_iters
        run_train(prepare_config(str(cfg_file), work_dir=work_dir, resume=True,
                                 cfg_options=options, launcher='none'))
        code = 0
    except BaseException:  # noqa: BLE001 - report in the log, never return
        import traceback
        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def _check(work_dir, seen_best):
    """The invariants after a kill; returns whether a best checkpoint exists."""
    names = os.listdir(work_dir) if os.path.isdir(work_dir) else []
    ckpts = [n for n in names if n.endswith('.pth')]
    for name in ckpts:
        load_checkpoint_file(os.path.join(work_dir, name))  # raises if unreadable
    if any(n.startswith('iter_') for n in ckpts):
        record = os.path.join(work_dir, 'last_checkpoint')
        assert os.path.isfile(record), 'checkpoints exist but last_checkpoint does not'
        named = open(record).read().strip()
        assert named and os.path.isfile(named), f'last_checkpoint names {named!r}'
        load_checkpoint_file(named)
    has_best = any(n.startswith('best_') for n in ckpts)
    assert has_best or not seen_best, 'the best checkpoint disappeared'
    return has_best


def _newest_iter(work_dir):
    steps = [int(n[5:-4]) for n in os.listdir(work_dir)
             if n.startswith('iter_') and n.endswith('.pth')]
    return max(steps, default=0)


def test_random_sigkills_leave_readable_checkpoints_and_resume_continues(tmp_path, tiny_root,
                                                                         monkeypatch):
    from test_checkpoint_safety import _config
    # Forked children cannot use a CUDA context the test process may hold: train on the CPU.
    import torch
    monkeypatch.setattr('mmengine.device.utils.DEVICE', 'cpu')
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: False)
    cfg_file = _config(tmp_path, tiny_root, monkeypatch, max_iters=100000)
    from wsal.apis.runner import prepare_config, run_train
    run_train(prepare_config(str(cfg_file), work_dir=tmp_path / 'warm-up',  # lazy imports
                             cfg_options={'train_cfg.max_iters': 1, 'log_level': 'WARNING'}))
    work = str(tmp_path / 'w')
    rng = random.Random(0)
    kills, seen_best, started = 0, False, time.monotonic()
    while kills < KILLS and time.monotonic() - started < TIME_BUDGET_S:
        pid = _train_in_child(cfg_file, work, str(tmp_path / f'run{kills}.log'))
        time.sleep(rng.uniform(0.2, 1.2))
        os.kill(pid, signal.SIGKILL)
        _, status = os.waitpid(pid, 0)
        assert os.WIFSIGNALED(status), (tmp_path / f'run{kills}.log').read_text()[-3000:]
        kills += 1
        seen_best = _check(work, seen_best) or seen_best
    assert kills >= KILLS, f'only {kills} kills in {TIME_BUDGET_S:.0f} s'
    newest = _newest_iter(work)
    assert newest >= 2 and seen_best, 'training made no progress between kills'

    log = tmp_path / 'final.log'
    pid = _train_in_child(cfg_file, work, str(log), max_iters=newest + 2)
    _, status = os.waitpid(pid, 0)
    text = log.read_text()
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, text[-3000:]
    assert f'resuming from iter_{newest}.pth' in text
    final = load_checkpoint_file(os.path.join(work, f'iter_{newest + 2}.pth'))
    assert final['meta']['iter'] == newest + 2
    _check(work, seen_best)
    assert not [n for n in os.listdir(work) if n.endswith('.tmp')]
    assert open(os.path.join(work, LOCK_NAME)).read() == ''
