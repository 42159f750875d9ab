"""The registered localizer equals the frozen pre-refactor copy, parameter for parameter.

Both are built from the same configs under the same seed; the parameters
(names included, so old checkpoints load), the tensor-path outputs, the loss
terms and the gradients must match exactly.
"""
from pathlib import Path

import pytest
import torch
from mmengine.config import Config

from wsal.models import WeaklySupervisedLocalizer
from wsal.registry import build_model

from .frozen_localizer import FrozenLocalizer

CONFIGS = Path(__file__).resolve().parents[2] / 'configs'

ALL_LOSSES = dict(fg=dict(type='ForegroundLoss'), bg=dict(type='BackgroundLoss'),
                  guide=dict(type='SelfGuideLoss', sigma=1.0),
                  cluster=dict(type='ClusterLoss'), sparsity=dict(type='SparsityLoss'))

SMALL = dict(num_classes=3, streams=dict(rgb=6, flow=4),
             attention=dict(type='MLPAttention', hidden_channels=5))

CASES = {
    'defaults': dict(SMALL),
    'all-losses-topk': dict(SMALL, losses=ALL_LOSSES, pooling=dict(type='TopKPool', ratio=2)),
    'early-fusion-length': dict(SMALL, fusion='early', losses=ALL_LOSSES,
                                pooling=dict(type='AttentionAvgPool', normalize='length')),
    'no-cluster': dict(SMALL, losses=dict(fg=dict(type='ForegroundLoss'),
                                          sparsity=dict(type='SparsityLoss'))),
    'weights-bias-dropout': dict(SMALL, stream_weights=dict(rgb=3.0, flow=1.0),
                                 classifier=dict(type='LinearClassifier', bias=True)),
}


def _config_case(name):
    cfg = Config.fromfile(str(CONFIGS / name)).model.to_dict()
    cfg.pop('type')
    cfg.pop('test_cfg', None)
    cfg.pop('loss_warmup', None)  # a schedule on top of the losses (tests/test_models/test_loss_warmup.py)
    # a term added after the frozen copy (it reads the fused attention; tests/test_losses/test_consensus.py)
    cfg['losses'].pop('consensus', None)
    # a part added after it (the classification path's embedding; tests/test_models/test_embedding.py)
    cfg.pop('embedding', None)
    cfg.update(num_classes=3, streams=dict(rgb=6, flow=4))
    cfg['attention'] = dict(cfg['attention'], hidden_channels=5)
    return cfg


for _name in ('bm/bm_i3d_thumos14.py', 'stpn/stpn_i3d_thumos14.py',
              'bm/bm_i3d_early_fusion_thumos14.py', 'ablation/r6_fg-bg-cluster_i3d_thumos14.py'):
    CASES[_name] = _config_case(_name)


def _batch():
    g = torch.Generator().manual_seed(3)
    B, T = 3, 8
    inputs = {'rgb': torch.randn(B, T, 6, generator=g), 'flow': torch.randn(B, T, 4, generator=g),
              'mask': torch.tensor([[True] * 8, [True] * 5 + [False] * 3, [True] * 2 + [False] * 6])}
    labels = [[1.0, 0, 0], [0, 1.0, 1.0], [0, 0, 0]]
    samples = [{'video_id': f'v{i}', 'label': torch.tensor(lab)} for i, lab in enumerate(labels)]
    return inputs, samples


def _flatten(tree, prefix=''):
    if torch.is_tensor(tree):
        return {prefix: tree}
    if isinstance(tree, dict):
        out = {}
        for key, value in tree.items():
            out.update(_flatten(value, f'{prefix}.{key}' if prefix else str(key)))
        return out
    return {prefix: tree}


@pytest.mark.parametrize('case', sorted(CASES))
def test_same_parameters_outputs_losses_and_gradients(case):
    kwargs = CASES[case]
    torch.manual_seed(0)
    ref = FrozenLocalizer(**kwargs)
    torch.manual_seed(0)
    new = build_model(dict(type='WeaklySupervisedLocalizer', **kwargs))
    assert isinstance(new, WeaklySupervisedLocalizer)
    ref_state, new_state = ref.state_dict(), new.state_dict()
    # added since the frozen copy: early fusion records its streams' order
    added = ['input_order'] if kwargs.get('fusion', 'late') == 'early' else []
    assert list(new_state) == added + list(ref_state)
    for key in ref_state:
        assert torch.equal(new_state[key], ref_state[key]), key
    if added:  # the frozen copy's state dict still loads, in the config's order
        with pytest.warns(UserWarning, match='does not record the order'):
            new.load_state_dict(ref_state)

    inputs, samples = _batch()
    ref.eval(), new.eval()
    ref_out, new_out = _flatten(ref.extract(inputs)), _flatten(new.extract(inputs))
    # added since the frozen copy: every stream also carries the fused attention
    fused = {k for k in new_out if k.endswith('.fused_attention')}
    expected = len(kwargs['streams']) if kwargs.get('fusion', 'late') == 'late' else 1
    assert len(fused) == expected
    for key in fused:
        assert torch.equal(new_out[key], new_out['attention']), key
    assert set(new_out) - fused == set(ref_out)
    for key, value in ref_out.items():
        if torch.is_tensor(value):
            assert torch.equal(new_out[key], value), key
        else:
            assert new_out[key] == value, key

    ref.train(), new.train()
    torch.manual_seed(1)
    ref_loss = ref.loss(inputs, samples)
    torch.manual_seed(1)
    new_loss = new.loss(inputs, samples)
    assert list(new_loss) == list(ref_loss)
    for key in ref_loss:
        assert torch.equal(new_loss[key], ref_loss[key]), key
    sum(ref_loss.values()).backward()
    sum(new_loss.values()).backward()
    ref_grads = {n: p.grad for n, p in ref.named_parameters()}
    for name, p in new.named_parameters():
        assert (p.grad is None) == (ref_grads[name] is None), name
        if p.grad is not None:
            assert torch.equal(p.grad, ref_grads[name]), name
