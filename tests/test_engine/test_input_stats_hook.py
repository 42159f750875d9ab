"""InputStatisticsHook: a Runner fits ``input_norm`` on the training split, once."""
import json
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from wsal.apis.runner import prepare_config, run_train
from wsal.engine import InputStatisticsHook
from wsal_e2e_support import write_config

NORM = '''
model = dict(input_norm=dict(type='FeatureStandardizer'))
custom_hooks = [dict(type='InputStatisticsHook'),
                dict(type='LocalizationHealthHook', num_videos=0), dict(type='RNGStateHook')]
'''


def _training_frames(root, stream):
    db = json.loads((root / 'gt.json').read_text())['database']
    vids = sorted(v for v, e in db.items() if e['subset'] == 'validation')
    return np.concatenate([np.load(root / 'features' / stream / f'{v}.npy') for v in vids])


def test_runner_fits_the_statistics_on_the_training_split_and_resume_keeps_them(
        tmp_path, tiny_root, monkeypatch):
    cfg_file = write_config(tmp_path / 'cfg', tiny_root, max_iters=4, val_interval=2,
                            num_videos=0, extra=NORM)
    monkeypatch.syspath_prepend(str(cfg_file.parent))
    runner = run_train(prepare_config(str(cfg_file), work_dir=tmp_path / 'a'))
    for stream in ('rgb', 'flow'):
        norm = runner.model.input_norm[stream]
        x = _training_frames(tiny_root, stream).astype(np.float64)
        assert norm.is_fitted and int(norm.num_frames) == len(x)
        np.testing.assert_allclose(norm.mean.numpy(), x.mean(0), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(norm.std.numpy(), x.std(0) + 1e-6, rtol=1e-5)
    saved = torch.load(tmp_path / 'a' / 'iter_4.pth', map_location='cpu', weights_only=False)
    assert bool(saved['state_dict']['input_norm.rgb.fitted'])

    # a resumed run takes the checkpoint's statistics and does not measure them again
    ckpt = tmp_path / 'a' / 'iter_2.pth'
    state = torch.load(ckpt, map_location='cpu', weights_only=False)
    state['state_dict']['input_norm.rgb.mean'] += 1.0        # marks the checkpoint's own
    torch.save(state, ckpt)
    resumed = run_train(prepare_config(str(cfg_file), work_dir=tmp_path / 'b', resume=str(ckpt)))
    assert resumed.iter == 4
    torch.testing.assert_close(resumed.model.input_norm['rgb'].mean,
                               state['state_dict']['input_norm.rgb.mean'])


def test_a_config_with_hooks_of_its_own_still_fits_them(tmp_path, tiny_root, monkeypatch):
    # custom_hooks without InputStatisticsHook (a user's list replaces the base's)
    extra = "model = dict(input_norm=dict(type='FeatureStandardizer'))\n"
    cfg_file = write_config(tmp_path / 'cfg', tiny_root, max_iters=2, val_interval=2,
                            num_videos=0, extra=extra)
    monkeypatch.syspath_prepend(str(cfg_file.parent))
    cfg = prepare_config(str(cfg_file), work_dir=tmp_path / 'a')
    assert 'InputStatisticsHook' not in [h['type'] for h in cfg.custom_hooks]
    runner = run_train(cfg)
    assert not runner.model.needs_input_statistics
    assert 'InputStatisticsHook' in [type(h).__name__ for h in runner.hooks]


def test_a_plain_mmengine_runner_without_the_hook_stops_with_a_clear_error(tmp_path, tiny_root):
    from mmengine.runner import Runner

    import wsal.engine  # noqa: F401
    from wsal.datasets import wsal_collate
    from wsal.registry import build_model
    classes = json.loads((tiny_root / 'gt.json').read_text())['classes']
    model = build_model(dict(type='WeaklySupervisedLocalizer', num_classes=len(classes),
                             streams=dict(rgb=32, flow=32),
                             input_norm=dict(type='FeatureStandardizer')))
    runner = Runner(
        model=model, work_dir=str(tmp_path / 'w'), default_scope='wsal',
        experiment_name='plain_runner_without_input_statistics',
        train_dataloader=dict(dataset=dict(type='WSALFeatureDataset', data_root=str(tiny_root),
                                           subset='validation'),
                              batch_size=1, num_workers=0, collate_fn=wsal_collate,
                              sampler=dict(type='DefaultSampler', shuffle=False)),
        optim_wrapper=dict(optimizer=dict(type='Adam', lr=1e-4)),
        train_cfg=dict(type='IterBasedTrainLoop', max_iters=1),
        default_hooks=dict(checkpoint=dict(type='CheckpointHook', interval=-1, save_last=False)),
        log_level='WARNING')
    with pytest.raises(RuntimeError, match='never fitted.*InputStatisticsHook'):
        runner.train()


def test_hook_leaves_models_without_pending_statistics_alone():
    calls = []
    model = SimpleNamespace(needs_input_statistics=False,
                            fit_input_norm=lambda ds: calls.append(ds))
    runner = SimpleNamespace(model=model, train_loop=None, logger=None)
    InputStatisticsHook().before_train(runner)
    InputStatisticsHook().before_train(SimpleNamespace(model=torch.nn.Linear(2, 2)))
    assert calls == []
