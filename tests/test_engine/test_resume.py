"""Resume and determinism through the Runner (in-process, tiny synthetic data)."""
import pytest
import torch

from wsal.apis.runner import prepare_config, run_train
from wsal_e2e_support import write_config


STOP_HOOK = '''
from mmengine.hooks import Hook
from wsal.registry import HOOKS


@HOOKS.register_module(force=True)
class StopAfter(Hook):
    """Ends training with an error after ``iters`` iterations (after their checkpoint)."""

    priority = 'LOWEST'

    def __init__(self, iters):
        self.iters = iters

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        if runner.iter + 1 >= self.iters:
            raise RuntimeError(f'stopped after {self.iters} iterations')
'''


def _weights(runner):
    return {k: v.detach().clone() for k, v in runner.model.state_dict().items()}


def test_resume_gives_same_weights_and_same_seed_same_metrics(tmp_path, tiny_root, monkeypatch):
    """Stop after 3 of 6 iterations and resume == uninterrupted (dropout on, so
    the RNG state must be restored too); a second uninterrupted run with the
    same seed gives identical weights and validation metrics."""
    cfg_file = write_config(tmp_path / 'cfg', tiny_root, max_iters=6, val_interval=3, dropout=0.3,
                            num_videos=0)
    monkeypatch.syspath_prepend(str(cfg_file.parent))

    full = run_train(prepare_config(str(cfg_file), work_dir=tmp_path / 'full'))
    ref = _weights(full)
    ref_metrics = dict(full.message_hub.log_scalars)
    again = run_train(prepare_config(str(cfg_file), work_dir=tmp_path / 'again'))
    assert all(torch.equal(ref[k], v) for k, v in _weights(again).items())
    val_keys = [k for k in ref_metrics if k.startswith('val/') and 'time' not in k]
    assert val_keys, 'validation logged no metric'
    for k in val_keys:
        assert again.message_hub.log_scalars[k].current() == ref_metrics[k].current(), k

    # interrupted after its third iteration's checkpoint, then resumed: the schedule (annealed
    # over the run's 6 iterations) is the checkpoint's too
    stop = cfg_file.parent / 'stop_cfg.py'
    (cfg_file.parent / 'stop_hook.py').write_text(STOP_HOOK)
    stop.write_text(f"_base_ = ['{cfg_file.name}']\n"
                    "custom_imports = dict(imports=['wsal_test_standin', 'stop_hook'], "
                    "allow_failed_imports=False)\n"
                    "custom_hooks = [dict(type='LocalizationHealthHook', num_videos=0), "
                    "dict(type='RNGStateHook'), dict(type='StopAfter', iters=3)]\n")
    with pytest.raises(RuntimeError, match='stopped after 3 iterations'):
        run_train(prepare_config(str(stop), work_dir=tmp_path / 'split'))
    resumed = run_train(prepare_config(str(cfg_file), work_dir=tmp_path / 'split', resume=True))
    assert resumed.iter == 6
    got = _weights(resumed)
    assert got.keys() == ref.keys()
    for k in ref:
        assert torch.equal(got[k], ref[k]), f'{k} differs after resume'
    # the weights changed during training at all (the comparison is not vacuous)
    first = run_train(prepare_config(str(cfg_file), work_dir=tmp_path / 'short',
                                     cfg_options={'train_cfg.max_iters': 3}))
    assert any(not torch.equal(first.model.state_dict()[k], ref[k]) for k in ref)


def test_resume_from_explicit_checkpoint_path(tmp_path, tiny_root, monkeypatch):
    cfg_file = write_config(tmp_path / 'cfg', tiny_root, max_iters=2, val_interval=2, num_videos=0)
    monkeypatch.syspath_prepend(str(cfg_file.parent))
    constant = {'param_scheduler': []}
    run_train(prepare_config(str(cfg_file), work_dir=tmp_path / 'a', cfg_options=constant))
    ckpt = tmp_path / 'a' / 'iter_2.pth'
    runner = run_train(prepare_config(str(cfg_file), work_dir=tmp_path / 'b', resume=str(ckpt),
                                      cfg_options={'train_cfg.max_iters': 3, **constant}))
    assert runner.iter == 3


def test_resume_refuses_another_schedule_before_any_work(tmp_path, tiny_root, monkeypatch):
    """A schedule annealed over the run ends where the first launch's length did: a resume
    that asks for another length, or another schedule, is refused naming both."""
    cfg_file = write_config(tmp_path / 'cfg', tiny_root, max_iters=2, val_interval=2, num_videos=0)
    monkeypatch.syspath_prepend(str(cfg_file.parent))
    run_train(prepare_config(str(cfg_file), work_dir=tmp_path / 'a'))
    ckpt = tmp_path / 'a' / 'iter_2.pth'
    before = sorted(p.name for p in (tmp_path / 'a').iterdir())
    with pytest.raises(ValueError, match=r'iter_2\.pth was trained with param_scheduler\[0\]'
                                         r'\.end = 2, the config asks for 5'):
        run_train(prepare_config(str(cfg_file), work_dir=tmp_path / 'a', resume=True,
                                 cfg_options={'train_cfg.max_iters': 5}))
    with pytest.raises(ValueError, match=r'trained with 1 learning-rate scheduler\(s\), the '
                                         r'config has 0'):
        run_train(prepare_config(str(cfg_file), work_dir=tmp_path / 'b', resume=str(ckpt),
                                 cfg_options={'param_scheduler': []}))
    assert sorted(p.name for p in (tmp_path / 'a').iterdir()) == before
    assert not (tmp_path / 'b').exists() or not any((tmp_path / 'b').glob('*.pth'))
    # the same length resumes (nothing left to train)
    assert run_train(prepare_config(str(cfg_file), work_dir=tmp_path / 'a', resume=True)).iter == 2


def test_resume_check_follows_the_run_length_without_prepare_config(tmp_path, tiny_root,
                                                                    monkeypatch):
    """A config that reaches run_train with end='max_iters' unresolved resumes at its length."""
    cfg_file = write_config(tmp_path / 'cfg', tiny_root, max_iters=2, val_interval=2, num_videos=0)
    monkeypatch.syspath_prepend(str(cfg_file.parent))
    run_train(prepare_config(str(cfg_file), work_dir=tmp_path / 'a'))
    cfg = prepare_config(str(cfg_file), work_dir=tmp_path / 'a', resume=True)
    cfg.param_scheduler[0]['end'] = 'max_iters'      # as in a config built without it
    assert run_train(cfg).iter == 2
