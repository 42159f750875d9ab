"""StreamConsensusLoss: per-video binary targets from the fused attention."""
import pytest
import torch

from wsal.losses import StreamConsensusLoss
from wsal.registry import build_model


def test_targets_mark_segments_above_the_videos_mean_and_ignore_padding():
    fused = torch.tensor([[0.1, 0.9, 0.5, 0.3, 0.8, 0.0],
                          [0.2, 0.4, 0.6, 0.8, 0.99, 0.99]])
    mask = torch.tensor([[True] * 6, [True] * 4 + [False] * 2])
    t = StreamConsensusLoss.targets(fused, mask)
    # video 0: mean 0.433 -> 0.9, 0.5, 0.8; video 1: mean over 4 valid = 0.5
    assert t.tolist() == [[0, 1, 1, 0, 1, 0], [0, 0, 1, 1, 0, 0]]


def test_targets_do_not_depend_on_the_attention_level():
    torch.manual_seed(0)
    fused = torch.rand(3, 20)
    mask = torch.ones(3, 20, dtype=torch.bool)
    ref = StreamConsensusLoss.targets(fused, mask)
    assert torch.equal(StreamConsensusLoss.targets(0.05 * fused + 0.9, mask), ref)


@pytest.mark.parametrize('form', ['correlation', 'binary'])
def test_gradient_raises_lambda_where_the_streams_agree_and_lowers_it_elsewhere(form):
    lam = torch.full((1, 4), 0.5, requires_grad=True)
    fused = torch.tensor([[0.9, 0.8, 0.1, 0.2]])
    mask = torch.ones(1, 4, dtype=torch.bool)
    loss = StreamConsensusLoss(weight=1.0, form=form)(
        {'attention': lam, 'fused_attention': fused}, torch.ones(1, 2), mask)['loss_consensus']
    loss.backward()
    assert (lam.grad[0, :2] < 0).all() and (lam.grad[0, 2:] > 0).all()
    # the targets are detached: no gradient reaches the fused attention's inputs
    fused_leaf = fused.clone().requires_grad_()
    lam2 = torch.full((1, 4), 0.5, requires_grad=True)
    StreamConsensusLoss(weight=1.0)({'attention': lam2, 'fused_attention': fused_leaf},
                                    torch.ones(1, 2), mask)['loss_consensus'].backward()
    assert fused_leaf.grad is None


def test_correlation_form_ignores_the_level_and_spread_of_lambda():
    torch.manual_seed(0)
    lam, fused = torch.rand(2, 15), torch.rand(2, 15)
    mask = torch.ones(2, 15, dtype=torch.bool)
    mask[1, 11:] = False

    def loss(x, form):
        return StreamConsensusLoss(weight=1.0, form=form)(
            {'attention': x, 'fused_attention': fused}, torch.ones(2, 2), mask)['loss_consensus']
    squeezed = 0.9 + 0.05 * lam
    assert loss(squeezed, 'correlation') == pytest.approx(float(loss(lam, 'correlation')), abs=1e-3)
    assert abs(float(loss(squeezed, 'binary')) - float(loss(lam, 'binary'))) > 0.1
    # padding is ignored: changing λ there changes nothing
    changed = lam.clone()
    changed[1, 11:] = 0.0
    assert loss(changed, 'correlation') == pytest.approx(float(loss(lam, 'correlation')))
    # identical ranking: no loss
    assert float(loss(0.5 * fused + 0.1, 'correlation')) < 1e-4


def test_correlation_of_a_constant_attention_is_zero_with_a_finite_gradient():
    lam = torch.full((1, 6), 0.8, requires_grad=True)
    fused = torch.linspace(0, 1, 6)[None]
    out = StreamConsensusLoss(weight=1.0)({'attention': lam, 'fused_attention': fused},
                                          torch.ones(1, 2), torch.ones(1, 6, dtype=torch.bool))
    assert float(out['loss_consensus'].detach()) == pytest.approx(1.0)
    out['loss_consensus'].backward()
    assert torch.isfinite(lam.grad).all()


def test_unknown_form_is_rejected():
    with pytest.raises(ValueError, match="form must be 'correlation' or 'binary'"):
        StreamConsensusLoss(form='l2')


@pytest.mark.parametrize('form', ['correlation', 'binary'])
def test_an_inverted_stream_is_turned_around_by_a_stream_that_localizes(form):
    """The mirror: rgb ranks the action frames lowest; flow ranks them highest, more sharply."""
    g = torch.Generator().manual_seed(0)
    action = torch.zeros(1, 30, dtype=torch.bool)
    action[0, 10:16] = True
    flow = torch.where(action, 0.9, 0.1) + 0.05 * torch.rand(1, 30, generator=g)
    rgb_logit = (torch.where(action, -1.0, 1.0) + 0.1 * torch.randn(1, 30, generator=g)).requires_grad_()
    opt = torch.optim.SGD([rgb_logit], lr=5.0)
    term = StreamConsensusLoss(weight=1.0, form=form)
    mask = torch.ones(1, 30, dtype=torch.bool)
    for _ in range(200):
        rgb = rgb_logit.sigmoid()
        fused = (rgb + flow) / 2
        loss = term({'attention': rgb, 'fused_attention': fused}, torch.ones(1, 2), mask)
        opt.zero_grad()
        loss['loss_consensus'].backward()
        opt.step()
    rgb = rgb_logit.detach().sigmoid()
    assert rgb[action].min() > rgb[~action].max()


def test_localizer_hands_every_stream_the_mean_attention_and_trains_with_the_term():
    torch.manual_seed(0)
    model = build_model(dict(
        type='WeaklySupervisedLocalizer', num_classes=3, streams=dict(rgb=6, flow=5),
        attention=dict(type='MLPAttention', hidden_channels=4),
        losses=dict(fg=dict(type='ForegroundLoss'),
                    consensus=dict(type='StreamConsensusLoss', weight=0.1))))
    inputs = {'rgb': torch.randn(2, 9, 6), 'flow': torch.randn(2, 9, 5)}
    out = model.extract(inputs)
    mean = (out['streams']['rgb']['attention'] + out['streams']['flow']['attention']) / 2
    for s in out['streams'].values():
        assert torch.allclose(s['fused_attention'], mean)
    losses = model.loss(inputs, [dict(label=torch.tensor([1.0, 0, 0]))] * 2)
    assert set(losses) == {'loss_fg', 'loss_consensus'}
    losses['loss_consensus'].backward()
    assert model.attention['rgb'].fc2.weight.grad.abs().sum() > 0


def test_shape_mismatch_is_reported():
    with pytest.raises(ValueError, match='fused_attention'):
        StreamConsensusLoss()({'attention': torch.rand(1, 4), 'fused_attention': torch.rand(1, 5)},
                              torch.ones(1, 2), torch.ones(1, 4, dtype=torch.bool))
