"""A finite default distributed timeout: a frozen rank ends the job."""
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest
from mmengine.config import Config

from wsal.engine.dist_timeout import DEFAULT_DIST_TIMEOUT_S, DIST_TIMEOUT_ENV, dist_timeout_seconds

RANK_SCRIPT = textwrap.dedent('''
    import os, signal, sys, time
    import torch
    import torch.distributed as dist
    from mmengine.config import Config
    from wsal.engine.compat import prepare_distributed
    cfg = Config(dict(env_cfg=dict(dist_cfg=dict(
        backend='gloo', init_method=sys.argv[1]))))
    prepare_distributed(cfg, 'pytorch')
    print('timeout', cfg.env_cfg.dist_cfg.timeout, flush=True)
    dist.all_reduce(torch.ones(1))  # both ranks alive: works
    if dist.get_rank() == 1:
        os.kill(os.getpid(), signal.SIGSTOP)  # frozen rank
    start = time.monotonic()
    try:
        dist.all_reduce(torch.ones(1))
    except Exception as exc:
        print(f'collective failed after {time.monotonic() - start:.1f} s', flush=True)
        os._exit(3)  # skip the process group's teardown, which can abort after a timeout
    print('collective returned', flush=True)
''')


def test_default_and_overrides(monkeypatch):
    monkeypatch.delenv(DIST_TIMEOUT_ENV, raising=False)
    assert dist_timeout_seconds() == DEFAULT_DIST_TIMEOUT_S == 600
    monkeypatch.setenv(DIST_TIMEOUT_ENV, '42')
    assert dist_timeout_seconds() == 42
    assert dist_timeout_seconds(1800) == 1800  # the config wins over the environment
    for bad in ('0', '-5', 'soon', 'inf', 'nan'):
        monkeypatch.setenv(DIST_TIMEOUT_ENV, bad)
        with pytest.raises(ValueError, match=DIST_TIMEOUT_ENV):
            dist_timeout_seconds()
    with pytest.raises(ValueError, match='env_cfg.dist_cfg.timeout'):
        dist_timeout_seconds(0)


def test_prepare_distributed_sets_the_timeout_for_nccl_too(monkeypatch):
    """On the nccl path mmengine's init_dist reads dist_cfg.timeout (seconds)."""
    import torch

    from wsal.engine import compat
    monkeypatch.delenv(DIST_TIMEOUT_ENV, raising=False)
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: True)
    cfg = Config(dict(env_cfg=dict(dist_cfg=dict(backend='nccl'))))
    compat.prepare_distributed(cfg, 'pytorch')
    assert cfg.env_cfg.dist_cfg.timeout == DEFAULT_DIST_TIMEOUT_S


@pytest.mark.skipif(not hasattr(signal, 'SIGSTOP'), reason='needs SIGSTOP')
def test_frozen_rank_ends_the_collective(tmp_path):
    """Two gloo processes; rank 1 stops itself; rank 0 fails after the timeout."""
    init = f'file://{tmp_path / "rendezvous"}?rank={{}}&world_size=2'
    procs = []
    for rank in range(2):
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path), RANK=str(rank),
                   LOCAL_RANK=str(rank), WORLD_SIZE='2', CUDA_VISIBLE_DEVICES='',
                   OMP_NUM_THREADS='1', **{DIST_TIMEOUT_ENV: '4'})
        procs.append(subprocess.Popen(
            [sys.executable, '-c', RANK_SCRIPT, init.format(rank)], env=env,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
    try:
        start = time.monotonic()
        out0, _ = procs[0].communicate(timeout=120)
        elapsed = time.monotonic() - start
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
            p.communicate()
    assert 'timeout 4.0' in out0, out0
    assert procs[0].returncode == 3, out0
    assert 'collective failed after' in out0
    assert elapsed < 90  # torch's own default would wait 30 minutes
