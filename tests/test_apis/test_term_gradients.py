"""attention_term_gradients: each loss term's push on each stream's attention."""
from pathlib import Path

import pytest
import torch
from mmengine.config import Config

from wsal.apis import attention_term_gradients, classifier_term_gradients
from wsal.registry import build_model

CONFIGS = Path(__file__).resolve().parents[2] / 'configs'


def _model(seed=0, *, cluster_into_attention=True):
    cfg = Config.fromfile(str(CONFIGS / 'bm' / 'bm_i3d_thumos14.py')).model.to_dict()
    cfg.update(num_classes=3, streams=dict(rgb=6, flow=4), test_cfg=None,
               attention=dict(type='MLPAttention', hidden_channels=5))
    # the configs train the classifier only with L_cluster; the printed path reaches λ
    cfg['losses']['cluster']['detach_attention'] = not cluster_into_attention
    torch.manual_seed(seed)
    return build_model(cfg).eval()


def _batch(lengths=(9, 7), seed=1):
    g = torch.Generator().manual_seed(seed)
    T = max(lengths)
    inputs = {'rgb': torch.randn(len(lengths), T, 6, generator=g),
              'flow': torch.randn(len(lengths), T, 4, generator=g),
              'mask': torch.arange(T)[None] < torch.tensor(lengths)[:, None]}
    samples = [{'video_id': f'v{i}', 'label': torch.eye(3)[i % 3]} for i in range(len(lengths))]
    return inputs, samples


def _by_hand(model, inputs, samples, *, term, stream):
    """∂L_term/∂λ of one stream (the term summed over every stream, as the model does) and λ."""
    with torch.enable_grad():
        o = model.extract(inputs)
        labels = torch.stack([s['label'] for s in samples])
        lam = o['streams'][stream]['attention']
        total = sum(sum(model.losses[term](so, labels, o['mask']).values())
                    for so in o['streams'].values())
        (g,) = torch.autograd.grad(total, [lam])
    return g, lam


def test_every_term_and_stream_and_the_hand_computed_value():
    model = _model()
    inputs, samples = _batch()
    out = attention_term_gradients(model, inputs, samples)
    assert set(out) == {'rgb', 'flow'}
    assert set(out['rgb']) == set(model.losses) == {'fg', 'bg', 'guide', 'cluster', 'consensus'}
    assert all(v.shape == (2,) and (v >= 0).all() for s in out.values() for v in s.values())
    # by hand: the guide term, the flow stream, the second video (7 valid frames of 9)
    g, lam = _by_hand(model, inputs, samples, term='guide', stream='flow')
    a = (g * lam * (1 - lam)).detach()[1, :7] * 2 * 7
    assert out['flow']['guide'][1] == pytest.approx(float(a.pow(2).mean().sqrt()), rel=1e-5)
    on_lam = attention_term_gradients(model, inputs, samples, wrt='attention')
    b = g.detach()[1, :7] * 2 * 7
    assert on_lam['flow']['guide'][1] == pytest.approx(float(b.pow(2).mean().sqrt()), rel=1e-5)


def test_a_video_alone_gets_the_value_it_gets_in_a_batch():
    model = _model()
    inputs, samples = _batch(lengths=(9, 9))
    both = attention_term_gradients(model, inputs, samples)
    alone = attention_term_gradients(model, {k: v[1:] for k, v in inputs.items()}, samples[1:])
    for stream in both:
        for term in both[stream]:
            assert alone[stream][term][0] == pytest.approx(float(both[stream][term][1]), rel=1e-4)


def test_a_saturated_attention_silences_the_pooled_terms_not_the_scale_free_ones():
    """With λ near 1 the 1/T pools pass the classification terms' push through
    λ(1 − λ); the consensus term's correlation is blind to λ's scale and the
    guide's cross-entropy to its target does not shrink either."""
    model = _model(cluster_into_attention=True)
    inputs, samples = _batch()
    before = attention_term_gradients(model, inputs, samples)
    with torch.no_grad():
        for head in model.attention.values():
            last = [m for m in head.modules() if isinstance(m, torch.nn.Linear)][-1]
            last.bias.add_(5.0)           # λ from about 0.5 to about 0.99
    after = attention_term_gradients(model, inputs, samples)
    for stream in after:
        for term in ('fg', 'bg', 'cluster'):
            assert after[stream][term].max() < 0.1 * before[stream][term].max()
        assert after[stream]['consensus'].max() > 0.5 * before[stream]['consensus'].max()
        assert after[stream]['guide'].max() > before[stream]['guide'].max()


def test_the_configs_cluster_term_does_not_push_the_attention():
    inputs, samples = _batch()
    detached = attention_term_gradients(_model(cluster_into_attention=False), inputs, samples)
    printed = attention_term_gradients(_model(cluster_into_attention=True), inputs, samples)
    for stream in detached:
        assert (detached[stream]['cluster'] == 0).all()
        assert (printed[stream]['cluster'] > 0).all()
        assert torch.equal(detached[stream]['fg'], printed[stream]['fg'])


def test_signed_mean_over_chosen_frames_by_hand():
    model = _model()
    inputs, samples = _batch()
    frames = torch.zeros(2, 9, dtype=torch.bool)
    frames[0, 2:5] = True
    frames[1, 6:9] = True                 # frames 7 and 8 of the second video are padding
    out = attention_term_gradients(model, inputs, samples, reduce='mean', frames=frames)
    rms = attention_term_gradients(model, inputs, samples, frames=frames)
    g, lam = _by_hand(model, inputs, samples, term='fg', stream='rgb')
    a = -(g * lam * (1 - lam)).detach()
    assert out['rgb']['fg'][0] == pytest.approx(float(a[0, 2:5].mean() * 2 * 9), rel=1e-5)
    assert out['rgb']['fg'][1] == pytest.approx(float(a[1, 6] * 2 * 7), rel=1e-5)
    assert rms['rgb']['fg'][1] == pytest.approx(abs(float(a[1, 6] * 2 * 7)), rel=1e-5)
    none = attention_term_gradients(model, inputs, samples, reduce='mean',
                                    frames=torch.zeros(2, 9, dtype=torch.bool))
    assert torch.isnan(none['rgb']['fg']).all()


def test_the_signed_push_says_which_way_a_target_pulls():
    """The guide's cross-entropy lowers λ where λ sits above its target and
    raises it where it sits below."""
    model = _model()
    inputs, samples = _batch()
    with torch.no_grad():
        for head in model.attention.values():
            last = [m for m in head.modules() if isinstance(m, torch.nn.Linear)][-1]
            last.bias.add_(8.0)           # λ ≈ 1, above every target but 1 - p_0's
    up = attention_term_gradients(model, inputs, samples, reduce='mean')
    model.losses['guide'].guide_targets = 'foreground'
    down = attention_term_gradients(model, inputs, samples, reduce='mean')
    for stream in up:
        assert (down[stream]['guide'] < 0).all()
        assert (up[stream]['guide'] > down[stream]['guide']).all()


def test_bad_arguments():
    model = _model()
    inputs, samples = _batch()
    with pytest.raises(ValueError, match="wrt must be one of"):
        attention_term_gradients(model, inputs, samples, wrt='weights')
    with pytest.raises(ValueError, match="reduce must be one of"):
        attention_term_gradients(model, inputs, samples, reduce='sum')
    with pytest.raises(ValueError, match="frames must be a BoolTensor"):
        attention_term_gradients(model, inputs, samples, frames=torch.ones(2, 9))
    with pytest.raises(ValueError, match='2 data samples|1 data samples'):
        attention_term_gradients(model, inputs, samples[:1])
    model.losses = torch.nn.ModuleDict()
    with pytest.raises(ValueError, match='has no loss terms'):
        attention_term_gradients(model, inputs, samples)


def _loss_with_rows_moved(model, inputs, samples, key, stream, eps):
    """The term's value with every class row of one stream moved by eps along itself."""
    weight = model.classifier[stream].fc.weight
    saved = weight.detach().clone()
    with torch.no_grad():
        weight += eps * saved / saved.norm(dim=1, keepdim=True)
        value = float(model.loss(inputs, samples)[key])
        weight.copy_(saved)
    return value


@pytest.mark.parametrize('key', ['loss_fg', 'loss_cluster', 'loss_bg'])
def test_classifier_rows_radial_part_is_the_derivative_along_the_rows(key):
    model = _model(cluster_into_attention=False).double()
    inputs, samples = _batch()
    inputs = {k: v.double() if v.is_floating_point() else v for k, v in inputs.items()}
    out = classifier_term_gradients(model, inputs, samples)
    assert set(out) == {'rgb', 'flow'}
    assert {'loss_fg', 'loss_bg', 'loss_guide', 'loss_cluster', 'loss_consensus'} <= set(out['rgb'])
    for stream in ('rgb', 'flow'):
        eps = 1e-5
        slope = (_loss_with_rows_moved(model, inputs, samples, key, stream, eps)
                 - _loss_with_rows_moved(model, inputs, samples, key, stream, -eps)) / (2 * eps)
        assert out[stream][key]['radial'] == pytest.approx(-slope, rel=1e-5, abs=1e-9)
        # the rest of the gradient is the tangential part
        with torch.enable_grad():
            weight = model.classifier[stream].fc.weight
            (g,) = torch.autograd.grad(model.loss(inputs, samples)[key], [weight])
        unit = weight.detach() / weight.detach().norm(dim=1, keepdim=True)
        along = (g * unit).sum(1)
        assert out[stream][key]['tangential'] == pytest.approx(
            float((g.pow(2).sum() - along.pow(2).sum()).clamp_min(0).sqrt()), rel=1e-6)
    assert out['rgb'][key]['tangential'] > 0


def test_classifier_rows_terms_that_do_not_reach_them_are_zero():
    model = _model(cluster_into_attention=False)
    out = classifier_term_gradients(model, *_batch())
    # the guide's targets are detached and the consensus term reads λ only
    for stream in ('rgb', 'flow'):
        for key in ('loss_guide', 'loss_consensus'):
            assert out[stream][key] == {'radial': 0.0, 'tangential': 0.0}
        assert out[stream]['loss_fg']['tangential'] > 0


class _OneHead(torch.nn.Module):
    """A localizer with one classifier for every stream and a loss of its own."""

    def __init__(self):
        super().__init__()
        self.classifier = torch.nn.Sequential(torch.nn.Linear(4, 6), torch.nn.ReLU(),
                                              torch.nn.Linear(6, 3, bias=False))

    def loss(self, inputs, data_samples):
        logits = self.classifier(inputs['x']).mean(1)
        labels = torch.stack([s['label'] for s in data_samples])
        return {'loss_cls': -(labels * logits.log_softmax(-1)).sum(-1).mean(),
                'acc': torch.tensor(1.0)}


def test_classifier_rows_of_a_single_classifier_are_its_last_weight_matrix():
    torch.manual_seed(0)
    model = _OneHead()
    samples = [{'label': torch.eye(3)[i]} for i in range(2)]
    out = classifier_term_gradients(model, {'x': torch.randn(2, 5, 4)}, samples)
    assert set(out) == {'classifier'} and set(out['classifier']) == {'loss_cls'}
    with torch.no_grad():
        model.classifier[2].weight.zero_()
    zero = classifier_term_gradients(model, {'x': torch.randn(2, 5, 4)}, samples)['classifier']
    # zero rows: any step grows them
    assert zero['loss_cls']['radial'] > 0 and zero['loss_cls']['tangential'] == 0.0


def test_classifier_rows_errors_name_the_model():
    with pytest.raises(ValueError, match='Linear has no classifier'):
        classifier_term_gradients(torch.nn.Linear(2, 2), {}, [])
    bare = torch.nn.Module()
    bare.classifier = torch.nn.ReLU()
    with pytest.raises(ValueError, match="classifier 'classifier' of Module has no weight matrix"):
        classifier_term_gradients(bare, {}, [])
