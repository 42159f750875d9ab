"""wsal.engine.compat: safe checkpoint loading, collate scope, CPU distributed set-up."""
import os
import pickle
import subprocess
import sys

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.logging import HistoryBuffer, MessageHub

from wsal.engine.compat import (load_checkpoint_file, prepare_distributed,
                                safe_checkpoint_loading, scope_collate_fns)


def _mmengine_like_checkpoint(path):
    hub = MessageHub('compat_test_hub')
    hub.update_scalar('train/loss', 1.5)
    hub.update_scalar('val/mAP', np.float64(0.25))
    hub.update_info('eta', np.float64(3.0))
    torch.save({'meta': {'iter': 3, 'cfg': 'x = 1'}, 'state_dict': {'w': torch.ones(2)},
                'message_hub': hub.state_dict()}, path)


def test_mmengine_checkpoint_loads_with_weights_only(tmp_path):
    path = tmp_path / 'ckpt.pth'
    _mmengine_like_checkpoint(path)
    with pytest.raises(pickle.UnpicklingError):  # torch's default is what breaks resume
        torch.load(path)
    ckpt = load_checkpoint_file(str(path))
    hub = ckpt['message_hub']['log_scalars']
    assert isinstance(hub['train/loss'], HistoryBuffer)
    assert hub['train/loss'].current() == 1.5
    assert hub['val/mAP'].mean() == 0.25
    with safe_checkpoint_loading():
        assert torch.load(path)['meta']['iter'] == 3
    with pytest.raises(pickle.UnpicklingError):  # the allowance does not leak
        torch.load(path)


class _Sneaky:
    """Pickles as ``getattr(HistoryBuffer, name)`` for a non-statistic ``name``."""

    def __init__(self, name):
        self.name = name

    def __reduce__(self):
        return (getattr, (HistoryBuffer, self.name))


@pytest.mark.parametrize('obj', [_Sneaky('__init__'), _Sneaky('register_statistics'),
                                 _Sneaky('__class__')])
def test_only_history_buffer_statistics_are_resolved(tmp_path, obj):
    path = tmp_path / 'evil.pth'
    torch.save({'x': obj}, path)
    with pytest.raises(ValueError, match='cannot read checkpoint'):
        load_checkpoint_file(str(path))


def test_missing_and_garbage_checkpoints(tmp_path):
    with pytest.raises(FileNotFoundError, match='checkpoint not found'):
        load_checkpoint_file(str(tmp_path / 'nope.pth'))
    bad = tmp_path / 'bad.pth'
    bad.write_bytes(b'not a checkpoint')
    with pytest.raises(ValueError, match='bad.pth'):
        load_checkpoint_file(str(bad))


def test_scope_collate_fns():
    cfg = Config(dict(train_dataloader=dict(collate_fn=dict(type='wsal_collate')),
                      val_dataloader=dict(collate_fn=dict(type='pseudo_collate')),
                      test_dataloader=dict(collate_fn=dict(type='wsal.wsal_collate'))))
    scope_collate_fns(cfg)
    assert cfg.train_dataloader.collate_fn.type == 'wsal.wsal_collate'
    assert cfg.val_dataloader.collate_fn.type == 'pseudo_collate'
    assert cfg.test_dataloader.collate_fn.type == 'wsal.wsal_collate'
    from mmengine.registry import FUNCTIONS
    assert callable(FUNCTIONS.get(cfg.train_dataloader.collate_fn.type))


def test_prepare_distributed_single_process_leaves_config_alone():
    cfg = Config(dict(env_cfg=dict(dist_cfg=dict(backend='nccl'))))
    prepare_distributed(cfg, 'none')
    assert cfg.launcher == 'none' and cfg.env_cfg.dist_cfg.backend == 'nccl'
    assert 'model_wrapper_cfg' not in cfg
    with pytest.raises(ValueError, match='launcher'):
        prepare_distributed(cfg, 'slurm')


TEARDOWN_SCRIPT = '''
import atexit, sys
import torch
import torch.distributed as dist
from mmengine.config import Config
from wsal.engine.compat import end_distributed, prepare_distributed
init = sys.argv[2]
# registered first, so it runs last: what the interpreter's finalisation will meet
atexit.register(lambda: print('at exit: group alive', dist.is_initialized(), flush=True))
if sys.argv[1] == 'host':  # a group the host set up for itself is not wsal's to end
    dist.init_process_group('gloo', init_method=init)
    print('ended', end_distributed(), dist.is_initialized(), flush=True)
    dist.destroy_process_group()
    sys.exit(0)
cfg = Config(dict(env_cfg=dict(dist_cfg=dict(backend='gloo', init_method=init))))
prepare_distributed(cfg, 'pytorch')
t = torch.ones(1)
dist.all_reduce(t)
print('reduced', t.item(), flush=True)
if sys.argv[1] in ('explicit', 'barrier'):
    print('ended', end_distributed(barrier=sys.argv[1] == 'barrier'), dist.is_initialized(),
          flush=True)
    print('again', end_distributed(barrier=True), flush=True)
'''


@pytest.mark.parametrize('mode', ['explicit', 'barrier', 'atexit', 'host'])
def test_end_distributed_destroys_only_the_group_of_a_wsal_launch(tmp_path, mode):
    """A gloo group left alive at interpreter exit can abort the process (SIGABRT)
    after a finished run; wsal ends the group of a run it launched, explicitly or
    at exit, and leaves a host's own group alone."""
    init = f'file://{tmp_path / "rendezvous"}?rank=0&world_size=1'
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path), CUDA_VISIBLE_DEVICES='',
               OMP_NUM_THREADS='1')
    proc = subprocess.run([sys.executable, '-c', TEARDOWN_SCRIPT, mode, init], env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = proc.stdout.splitlines()
    if mode == 'host':
        assert lines[0] == 'ended False True'  # untouched
        return
    assert lines[0] == 'reduced 1.0'
    if mode in ('explicit', 'barrier'):
        assert lines[1:3] == ['ended True False', 'again False']
    assert lines[-1] == 'at exit: group alive False'
