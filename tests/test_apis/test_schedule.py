"""Schedulers whose length is the run's (``end='max_iters'``)."""
import math

import pytest
import torch
from mmengine.config import Config

from wsal.apis import prepare_config
from wsal.apis.schedule import describe_schedule, resolve_run_length


def _cfg(sched, max_iters=120):
    return Config(dict(param_scheduler=sched, train_cfg=dict(type='IterBasedTrainLoop',
                                                             max_iters=max_iters)))


def test_run_length_replaces_the_marker_in_every_key_and_form():
    cfg = _cfg([dict(type='LinearLR', by_epoch=False, begin=0, end=10, start_factor=0.1),
                dict(type='CosineAnnealingLR', by_epoch=False, begin=10, end='max_iters',
                     T_max='max_iters')])
    resolve_run_length(cfg)
    assert cfg.param_scheduler[0]['end'] == 10              # numbers are left alone
    assert cfg.param_scheduler[1]['end'] == 120
    assert cfg.param_scheduler[1]['T_max'] == 120
    single = _cfg(dict(type='CosineAnnealingLR', by_epoch=False, end='max_iters'), 7)
    resolve_run_length(single)
    assert single.param_scheduler['end'] == 7
    empty = Config(dict(param_scheduler=[], train_cfg=dict(max_iters=3)))
    resolve_run_length(empty)                                # nothing to do
    assert empty.param_scheduler == []


@pytest.mark.parametrize('sched, match', [
    (dict(type='CosineAnnealingLR', end='max_iters'), r'param_scheduler\[0\]\.end.*by_epoch'),
    (dict(type='CosineAnnealingLR', by_epoch=False, end='max_epochs'),
     r"param_scheduler\[0\]\.end = 'max_epochs'"),
])
def test_run_length_errors_name_the_entry(sched, match):
    with pytest.raises(ValueError, match=match):
        resolve_run_length(_cfg([sched]))


def test_run_length_needs_an_iteration_loop():
    cfg = Config(dict(param_scheduler=[dict(type='CosineAnnealingLR', by_epoch=False,
                                            end='max_iters')],
                      train_cfg=dict(type='EpochBasedTrainLoop', max_epochs=3)))
    with pytest.raises(ValueError, match='no max_iters'):
        resolve_run_length(cfg)


def test_prepare_config_follows_the_run_length_after_the_overrides(tmp_path):
    """The schedule ends with the run the overrides ask for, and mmengine anneals to its end."""
    from mmengine.optim.scheduler import CosineAnnealingLR
    sched = [dict(type='CosineAnnealingLR', by_epoch=False, begin=0, end='max_iters',
                  eta_min=0.0)]
    cfg = prepare_config('configs/bm/bm_i3d_thumos14.py', work_dir=tmp_path, dims_from_data=False,
                         cfg_options={'train_cfg.max_iters': 40, 'param_scheduler': sched})
    entry = dict(cfg.param_scheduler[0])
    assert entry['end'] == 40
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1e-4)
    entry.pop('type')
    scheduler = CosineAnnealingLR(opt, **entry)
    lrs = []
    for _ in range(40):
        lrs.append(opt.param_groups[0]['lr'])
        opt.step()
        scheduler.step()
    assert lrs[0] == pytest.approx(1e-4)
    assert lrs[20] == pytest.approx(0.5e-4, rel=1e-3)        # half-way: half the rate
    # the last iteration trains at the cosine's last step before 0
    assert lrs[-1] == pytest.approx(0.5e-4 * (1 + math.cos(math.pi * 39 / 40)))
    assert lrs[-1] < 2e-7


def test_describe_schedule():
    cos = dict(type='CosineAnnealingLR', by_epoch=False, begin=0, end='max_iters', eta_min=0.0)
    assert describe_schedule([]) == describe_schedule(None) == 'constant'
    assert describe_schedule([cos]) == 'cosine to 0 over the run'
    assert describe_schedule(dict(cos, end=500), max_iters=500) == 'cosine to 0 over the run'
    assert describe_schedule([dict(cos, end=400, eta_min=1e-6)], max_iters=500) == \
        'CosineAnnealingLR'                                   # ends before the run does
    warm = dict(type='LinearLR', by_epoch=False, begin=0, end=100, start_factor=0.1)
    assert describe_schedule([warm, dict(cos, begin=100)]) == 'LinearLR then CosineAnnealingLR'


def test_shipped_schedules():
    """STPN and every Table 1 row anneal over the run; the single-head methods keep a constant rate."""
    from wsal.engine.config_paths import packaged_config_dir
    root = packaged_config_dir()
    cos = [dict(type='CosineAnnealingLR', by_epoch=False, begin=0, end='max_iters', eta_min=0.0)]
    annealed = ['stpn/stpn_i3d_thumos14.py', 'bm/bm_i3d_thumos14.py',
                'activitynet/bm_i3d_activitynet13.py'] + \
        [f'ablation/{p.name}' for p in sorted((root / 'ablation').glob('r*.py'))]
    assert len(annealed) == 11
    for name in annealed:
        assert Config.fromfile(str(root / name)).param_scheduler == cos, name
    for name in ('wtalc/wtalc_i3d_thumos14.py', 'basnet/basnet_i3d_thumos14.py',
                 'um/um_i3d_thumos14.py', 'cola/cola_i3d_thumos14.py'):
        assert Config.fromfile(str(root / name)).param_scheduler == [], name


def test_build_runner_resolves_the_run_length(monkeypatch):
    """A config that did not go through prepare_config still gets the run's length."""
    from wsal.apis import build_runner
    from wsal.engine.console import ConsoleRunner
    seen = []
    monkeypatch.setattr(ConsoleRunner, 'from_cfg', classmethod(lambda cls, cfg: seen.append(cfg)))
    cfg = _cfg([dict(type='CosineAnnealingLR', by_epoch=False, begin=0, end='max_iters')], 77)
    build_runner(cfg)
    assert seen[0].param_scheduler[0]['end'] == 77
