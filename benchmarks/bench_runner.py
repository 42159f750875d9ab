"""Framework overhead: one epoch through mmengine's Runner vs a plain PyTorch loop.

Same model (the two-stream background-modeling localizer, I3D-sized 1024-d
streams), same data (in-memory videos of THUMOS14-like lengths, one video per
iteration), same order, same Adam updates: the final weights must be equal, so
the timing difference is the Runner's own cost (hooks, logging, message hub,
optimizer wrapper, data preprocessor, construction). Target: Runner <= 1.10x.

Run: ``python -m pytest benchmarks/bench_runner.py -p no:cacheprovider
--benchmark-columns=median,iqr,rounds``.
"""
from __future__ import annotations

import copy
import os
import tempfile

import pytest
import torch
from torch.utils.data import DataLoader, Dataset

# One THUMOS14 training epoch: the 200 videos of the validation subset. The
# Runner's construction (~0.2 s: config copies, registry builds, hooks) is a
# fixed cost per run; over 24 videos it alone was ~13 % of the epoch, which
# says nothing about training runs of thousands of iterations.
NUM_VIDEOS = 200
#: The suite's single correctness pass (``--benchmark-disable``): the equality of
#: the final weights needs no full epoch.
NUM_VIDEOS_CHECK = 24
DIM = 1024


class _InMemoryVideos(Dataset):
    """Dataset items (docs/design.md) of random non-negative features."""

    def __init__(self, num_videos: int, dim: int, num_classes: int = 20, seed: int = 0) -> None:
        g = torch.Generator().manual_seed(seed)
        self.items = []
        for i in range(num_videos):
            t = int(torch.randint(80, 400, (1,), generator=g))
            label = torch.zeros(num_classes)
            label[torch.randint(0, num_classes, (1,), generator=g)] = 1.0
            self.items.append({
                'inputs': {'rgb': torch.rand(t, dim, generator=g), 'flow': torch.rand(t, dim, generator=g)},
                'data_sample': {'video_id': f'v{i}', 'label': label, 'num_segments': t,
                                'duration': t * 0.64, 'seconds_per_segment': 0.64,
                                'gt_segments': torch.zeros(0, 2), 'gt_labels': torch.zeros(0, dtype=torch.long)}})
        self.metainfo = {'classes': tuple(f'c{i}' for i in range(num_classes))}

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> dict:
        return self.items[i]


def _model_cfg() -> dict:
    from mmengine.config import Config

    from wsal.engine.config_paths import packaged_config_dir
    cfg = Config.fromfile(str(packaged_config_dir() / 'bm' / 'bm_i3d_thumos14.py'))
    return cfg.model.to_dict()


@pytest.fixture(scope='module')
def setup(timing):
    from wsal.registry import build_model
    torch.manual_seed(0)
    model = build_model(_model_cfg())
    return model.state_dict(), _InMemoryVideos(NUM_VIDEOS if timing else NUM_VIDEOS_CHECK, DIM)


def _fresh_model(state, device):
    from wsal.registry import build_model
    model = build_model(_model_cfg())
    model.load_state_dict(copy.deepcopy(state))
    return model.to(device)


def plain_epoch(state, dataset, device):
    """The reference: DataLoader + model.loss + Adam, nothing else."""
    from wsal.datasets.collate import wsal_collate
    model = _fresh_model(state, device)
    model.train()
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)
    torch.manual_seed(0)  # the Runner's `randomness=dict(seed=0)`: the same dropout masks
    loader = DataLoader(dataset, batch_size=1, shuffle=False, collate_fn=wsal_collate)
    for batch in loader:
        inputs = {k: v.to(device) for k, v in batch['inputs'].items()}
        losses = model.loss(inputs, batch['data_samples'])
        loss = sum(losses.values())
        opt.zero_grad()
        loss.backward()
        opt.step()
    return {k: v.detach().cpu() for k, v in model.state_dict().items()}


_RUNS = [0]


def runner_epoch(state, dataset, device):
    """The same epoch through ``Runner.train`` with wsal's default runtime hooks."""
    from mmengine.runner import Runner

    import wsal.engine  # noqa: F401
    from wsal.datasets.collate import wsal_collate
    model = _fresh_model(state, device)
    _RUNS[0] += 1
    with tempfile.TemporaryDirectory() as work_dir:
        # mmengine keys its visualizer/logger singletons by experiment name
        # (a timestamp to the second): each timed round needs its own, or it
        # writes into the previous round's removed work dir
        runner = Runner(
            model=model, work_dir=work_dir, default_scope='wsal',
            experiment_name=f'bench_runner_{os.getpid()}_{_RUNS[0]}',
            train_dataloader=dict(dataset=dataset, batch_size=1, num_workers=0,
                                  sampler=dict(type='DefaultSampler', shuffle=False),
                                  collate_fn=wsal_collate),
            optim_wrapper=dict(optimizer=dict(type='Adam', lr=1e-4)),
            train_cfg=dict(type='IterBasedTrainLoop', max_iters=len(dataset)),
            default_hooks=dict(
                timer=dict(type='IterTimerHook'),
                logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=False),
                param_scheduler=dict(type='ParamSchedulerHook'),
                checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=-1, save_last=False),
                sampler_seed=dict(type='DistSamplerSeedHook')),
            log_processor=dict(by_epoch=False, window_size=50),
            custom_hooks=[dict(type='RNGStateHook')],
            log_level='WARNING', randomness=dict(seed=0))
        runner.train()
        return {k: v.detach().cpu() for k, v in runner.model.state_dict().items()}


@pytest.mark.parametrize('impl', ['plain', 'runner'])
def bench_runner_epoch(benchmark, timed, setup, device, impl):
    state, dataset = setup
    benchmark.group = f'train-epoch{len(dataset)}x{DIM}d-{device.type}'
    fn = plain_epoch if impl == 'plain' else runner_epoch
    benchmark.extra_info['videos'] = len(dataset)
    out = timed(fn, state, dataset, device)
    ref = plain_epoch(state, dataset, device) if impl == 'runner' else out
    assert out.keys() == ref.keys()
    for k in ref:
        assert torch.equal(out[k], ref[k]), f'{impl}: {k} differs from the plain loop'
