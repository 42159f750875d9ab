"""MagnitudeActionness and its place in WeaklySupervisedLocalizer."""
import pytest
import torch

from wsal.models import MagnitudeActionness
from wsal.registry import build_model


def feats(T=12, B=1, D=6, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(B, T, D, generator=g)


def test_magnitude_and_pseudo_segments_by_hand():
    torch.manual_seed(0)
    act = MagnitudeActionness(in_channels=6).eval()
    fc = act.embedding.convs[0]
    x = feats()
    h = torch.relu(x @ fc.weight[:, :, 0].T + fc.bias)
    out = act(x)
    assert torch.allclose(out['magnitude'], h.norm(dim=-1), atol=1e-6)
    # pseudo action / background: the floor(12/9) = 1 largest and floor(12/4) = 3 smallest
    order = torch.argsort(out['magnitude'][0])
    assert torch.allclose(out['magnitude_act_feature'][0], h[0, order[-1:]].mean(0), atol=1e-6)
    assert torch.allclose(out['magnitude_bg_feature'][0], h[0, order[:3]].mean(0), atol=1e-6)


def test_training_hides_segments_from_the_ranking():
    torch.manual_seed(0)
    act = MagnitudeActionness(in_channels=6, drop=0.5).train()
    x = feats(T=40)
    ref = act.eval()(x)['magnitude_bg_feature']
    act.train()
    draws = [act(x)['magnitude_bg_feature'] for _ in range(5)]
    assert any(not torch.allclose(d, ref) for d in draws)


def test_padded_batch_equals_videos_one_by_one():
    torch.manual_seed(0)
    act = MagnitudeActionness(in_channels=6,
                              embedding=dict(type='ConvEmbedding', out_channels=8,
                                             kernel_size=3)).eval()
    short, long = feats(T=9, seed=1), feats(T=14, seed=2)
    batch = torch.zeros(2, 14, 6)
    batch[0, :9] = short[0]
    batch[0, 9:] = 5.0                   # padding content must not leak in
    batch[1] = long[0]
    mask = torch.zeros(2, 14, dtype=torch.bool)
    mask[0, :9] = True
    mask[1] = True
    out = act(batch, mask)
    assert torch.allclose(out['magnitude'][0, :9], act(short)['magnitude'][0], atol=1e-6)
    assert torch.all(out['magnitude'][0, 9:] == 0)
    assert torch.allclose(out['magnitude'][1], act(long)['magnitude'][0], atol=1e-6)
    for key in ('magnitude_act_feature', 'magnitude_bg_feature'):
        assert torch.allclose(out[key][0], act(short)[key][0], atol=1e-6)


def test_bad_arguments_and_inputs_are_clear():
    with pytest.raises(ValueError, match='ratio_act'):
        MagnitudeActionness(in_channels=4, ratio_act=0.5)
    with pytest.raises(ValueError, match='drop'):
        MagnitudeActionness(in_channels=4, drop=1.0)
    with pytest.raises(TypeError, match='embedding'):
        MagnitudeActionness(in_channels=4, embedding=3)
    with pytest.raises(ValueError, match='MagnitudeActionness'):
        MagnitudeActionness(in_channels=6)(torch.rand(1, 5, 4))


def test_localizer_adds_each_streams_actionness_and_trains_it():
    model = build_model(dict(
        type='WeaklySupervisedLocalizer', num_classes=3, streams=dict(rgb=6, flow=4),
        attention=dict(type='MLPAttention', hidden_channels=5),
        actionness=dict(type='MagnitudeActionness',
                        embedding=dict(type='ConvEmbedding', out_channels=8, kernel_size=1)),
        losses=dict(fg=dict(type='ForegroundLoss'),
                    magnitude=dict(type='FeatureMagnitudeLoss', margin=10.0,
                                   keys=('magnitude_act_feature', 'magnitude_bg_feature')),
                    actionness=dict(type='ActionnessGuideLoss'))))
    assert model.actionness['rgb'].in_channels == 6 and model.actionness['flow'].in_channels == 4
    x = {'rgb': feats(T=20, B=2), 'flow': feats(T=20, B=2, D=4, seed=3)}
    out = model.extract(x)
    for stream in ('rgb', 'flow'):
        mag = model.actionness[stream].eval()(x[stream])['magnitude']
        assert torch.allclose(out['streams'][stream]['magnitude'], mag)
    samples = [{'label': torch.tensor([1.0, 0, 0])}, {'label': torch.tensor([0, 1.0, 0])}]
    model.train()
    losses = model.loss(x, samples)
    assert set(losses) == {'loss_fg', 'loss_um', 'loss_actionness_guide'}
    sum(losses.values()).backward()
    assert all(p.grad is not None for p in model.actionness.parameters())
    assert all(p.grad is not None for p in model.attention.parameters())
    assert 'actionness' not in dict(build_model(dict(
        type='WeaklySupervisedLocalizer', num_classes=3, streams=dict(rgb=6))).named_children())


def test_mean_ranking_picks_the_same_segments_in_every_stream():
    torch.manual_seed(0)
    model = build_model(dict(
        type='WeaklySupervisedLocalizer', num_classes=3, streams=dict(rgb=6, flow=4),
        attention=dict(type='MLPAttention', hidden_channels=5),
        actionness=dict(type='MagnitudeActionness',
                        embedding=dict(type='ConvEmbedding', out_channels=8, kernel_size=1)),
        actionness_ranking='mean')).eval()
    x = {'rgb': feats(T=18), 'flow': feats(T=18, D=4, seed=3)}
    out = model.extract(x)

    def rescaled(m):
        return (m - m.min()) / (m.max() - m.min())
    hs = {s: model.actionness[s].embed(x[s])[0][0] for s in x}
    score = (rescaled(hs['rgb'].norm(dim=-1)) + rescaled(hs['flow'].norm(dim=-1))) / 2
    order = torch.argsort(score)
    for s in ('rgb', 'flow'):    # floor(18/9) = 2 highest, floor(18/4) = 4 lowest of the mean
        got = out['streams'][s]
        assert torch.allclose(got['magnitude_act_feature'][0], hs[s][order[-2:]].mean(0), atol=1e-6)
        assert torch.allclose(got['magnitude_bg_feature'][0], hs[s][order[:4]].mean(0), atol=1e-6)
    with pytest.raises(ValueError, match='actionness_ranking'):
        build_model(dict(type='WeaklySupervisedLocalizer', num_classes=3,
                         streams=dict(rgb=6), actionness_ranking='max'))


def test_actionness_in_proposals_multiplies_the_rescaled_signals():
    cfg = dict(type='WeaklySupervisedLocalizer', num_classes=3, streams=dict(rgb=6, flow=4),
               attention=dict(type='MLPAttention', hidden_channels=5),
               actionness=dict(type='MagnitudeActionness',
                               embedding=dict(type='ConvEmbedding', out_channels=8,
                                              kernel_size=1)))
    torch.manual_seed(0)
    plain = build_model(cfg).eval()
    torch.manual_seed(0)
    both = build_model(dict(cfg, actionness_in_proposals=True)).eval()
    x = {'rgb': feats(T=15), 'flow': feats(T=15, D=4, seed=3)}
    a, b = plain.extract(x), both.extract(x)

    def rescaled(v):
        return (v - v.min()) / (v.max() - v.min())
    mag = (rescaled(a['streams']['rgb']['magnitude'][0])
           + rescaled(a['streams']['flow']['magnitude'][0])) / 2
    assert torch.allclose(b['attention'][0], rescaled(a['attention'][0]) * rescaled(mag),
                          atol=1e-6)
    for s in ('rgb', 'flow'):          # λ itself, what the losses read, is unchanged
        assert torch.equal(b['streams'][s]['attention'], a['streams'][s]['attention'])
    with pytest.raises(ValueError, match='needs an actionness'):
        build_model(dict(type='WeaklySupervisedLocalizer', num_classes=3,
                         streams=dict(rgb=6), actionness_in_proposals=True))
