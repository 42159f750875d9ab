"""Attention, pooling, classifier and cluster head: values by hand, registry smoke."""
import math

import pytest
import torch

from wsal.models import AttentionAvgPool, ClusterHead, LinearClassifier, MLPAttention, TopKPool
from wsal.registry import MODELS, build_model

D, C = 6, 3


def _inputs():
    torch.manual_seed(0)
    return torch.randn(2, 5, D), torch.tensor([[True] * 5, [True] * 3 + [False] * 2])


def _run_attention(module):
    x, mask = _inputs()
    lam = module(x, mask)
    assert lam.shape == (2, 5) and (lam >= 0).all() and (lam <= 1).all()
    assert (lam[1, 3:] == 0).all()
    return lam.sum()


def _run_pooling(module):
    x, mask = _inputs()
    lam = torch.rand(2, 5, requires_grad=True)
    fg, bg = module(x.requires_grad_(), lam, mask)
    assert fg.shape == bg.shape == (2, D)
    return fg.sum() + bg.square().sum()


def _run_classifier(module):
    x, _ = _inputs()
    out = module(x)
    assert out.shape == (2, 5, C + 1)
    return module(x.mean(1)).sum() + out.sum()


def _run_cluster(module):
    x, _ = _inputs()
    out = module(x.mean(1))
    assert out.shape == (2, 2)
    return out.sum()


def _run_localizer(module):
    x, mask = _inputs()
    losses = module.loss({'rgb': x, 'flow': x[..., :4], 'mask': mask},
                         [{'label': torch.tensor([1.0, 0, 0])}, {'label': torch.tensor([0, 1.0, 1])}])
    return sum(losses.values())


def _run_embedding(module):
    x, mask = _inputs()
    h = module(x.requires_grad_(), mask)
    assert h.shape == (2, 5, module.out_channels) and (h[1, 3:] == 0).all()
    return h.sum()


def _run_head(module):
    x, mask = _inputs()
    out = module(x, mask)
    assert out['attention'].shape == (2, 5) and (out['attention'][1, 3:] == 0).all()
    assert out['cas'].shape == out['tcam'].shape == (2, 5, C + 1)
    assert out['video_scores'].shape == (2, C) and out['class_scores'].shape == (2, 5, C)
    return sum(v.float().sum() for v in out.values() if torch.is_tensor(v) and v.requires_grad)


def _run_actionness(module):
    x, mask = _inputs()
    out = module(x.requires_grad_(), mask)
    assert out['magnitude'].shape == (2, 5) and (out['magnitude'][1, 3:] == 0).all()
    assert out['magnitude_act_feature'].shape == out['magnitude_bg_feature'].shape == (2, 256)
    return out['magnitude'].sum() + out['magnitude_act_feature'].sum()


def _run_input_norm(module):
    x, _ = _inputs()
    module.fit([x[0], x[1, :3]])
    out = module(x.requires_grad_())
    assert out.shape == x.shape
    return out.square().sum()


def _run_head_localizer(module):
    x, mask = _inputs()
    return _run_localizer(module)


HEAD_ARGS = dict(in_channels=D, num_classes=C,
                 embedding=dict(type='ConvEmbedding', out_channels=8, kernel_size=3))

# kind -> (default args, runner). Every MODELS entry of wsal.models must map to one.
RECIPES = {
    'attention': (dict(in_channels=D), _run_attention),
    'pooling': (dict(), _run_pooling),
    'classifier': (dict(in_channels=D, num_classes=C), _run_classifier),
    'cluster': (dict(in_channels=D), _run_cluster),
    'localizer': (dict(num_classes=C, streams=dict(rgb=D, flow=4)), _run_localizer),
    'embedding': (dict(in_channels=D, out_channels=7), _run_embedding),
    'head': (HEAD_ARGS, _run_head),
    'actionness': (dict(in_channels=D), _run_actionness),
    'input_norm': (dict(in_channels=D), _run_input_norm),
    'head_localizer': (dict(num_classes=C, streams=dict(rgb=D, flow=4),
                            head=dict(type='BaSNetHead', embedding=dict(type='ConvEmbedding',
                                                                        out_channels=8)),
                            losses=dict(cls=dict(type='VideoBCELoss'))), _run_head_localizer),
}
KIND = {'MLPAttention': 'attention', 'AttentionAvgPool': 'pooling', 'TopKPool': 'pooling',
        'LinearClassifier': 'classifier', 'ClusterHead': 'cluster',
        'WeaklySupervisedLocalizer': 'localizer', 'ConvEmbedding': 'embedding',
        'WTALCHead': 'head', 'BaSNetHead': 'head', 'UMHead': 'head', 'CoLAHead': 'head',
        'HeadLocalizer': 'head_localizer', 'MagnitudeActionness': 'actionness',
        'FeatureStandardizer': 'input_norm'}

MODELS.import_from_location()
NAMES = sorted(n for n, cls in MODELS.module_dict.items() if cls.__module__.startswith('wsal.models'))


@pytest.mark.parametrize('name', NAMES)
def test_registered_part_builds_and_backprops(name):
    assert name in KIND, f'no smoke recipe for MODELS entry {name}: add it to KIND'
    defaults, run = RECIPES[KIND[name]]
    module = build_model(dict(type=name, **defaults))
    total = run(module)
    assert torch.isfinite(total)
    total.backward()
    for p in module.parameters():
        assert p.grad is None or torch.isfinite(p.grad).all()


def test_attention_pool_by_hand():
    x = torch.tensor([[[1.0, 0.0], [0.0, 2.0], [4.0, 4.0], [9.0, 9.0]]])
    lam = torch.tensor([[0.5, 1.0, 0.25, 0.7]])
    mask = torch.tensor([[True, True, True, False]])  # the last frame is padding
    fg, bg = AttentionAvgPool(normalize='length')(x, lam, mask)
    # eq. 1 / eq. 4 with T = 3 valid segments
    assert fg[0].tolist() == pytest.approx([(0.5 + 1.0) / 3, (2.0 + 1.0) / 3])
    assert bg[0].tolist() == pytest.approx([(0.5 + 3.0) / 3, (0.0 + 3.0) / 3])
    fg, bg = AttentionAvgPool(normalize='mass', eps=0.0)(x, lam, mask)
    assert fg[0].tolist() == pytest.approx([1.5 / 1.75, 3.0 / 1.75])
    assert bg[0].tolist() == pytest.approx([3.5 / 1.25, 3.0 / 1.25])
    # centred: frames minus their valid mean [5/3, 2]; the padding frame stays out
    fg, bg = AttentionAvgPool(center=True)(x, lam, mask)
    assert fg[0].tolist() == pytest.approx([-17 / 36, -1 / 6])
    assert bg[0].tolist() == pytest.approx([17 / 36, 1 / 6])
    with pytest.raises(ValueError, match="normalize must be one of"):
        AttentionAvgPool(normalize='sum')


def test_topk_pool_by_hand():
    x = torch.arange(10, dtype=torch.float).view(1, 5, 2)  # frame t = [2t, 2t+1]
    lam = torch.tensor([[0.9, 0.1, 0.5, 0.8, 0.3]])
    # k = ceil(5 / 2) = 3: top frames 0, 3, 2; bottom frames 1, 4, 2
    fg, bg = TopKPool(ratio=2, weighted=False)(x, lam)
    assert fg[0].tolist() == pytest.approx([(0 + 6 + 4) / 3, (1 + 7 + 5) / 3])
    assert bg[0].tolist() == pytest.approx([(2 + 8 + 4) / 3, (3 + 9 + 5) / 3])
    fg, bg = TopKPool(ratio=2)(x, lam)
    assert fg[0, 0].item() == pytest.approx((0.9 * 0 + 0.8 * 6 + 0.5 * 4) / 3)
    assert bg[0, 0].item() == pytest.approx((0.9 * 2 + 0.7 * 8 + 0.5 * 4) / 3)
    # padding is never selected, k counts valid frames only: ceil(3 / 2) = 2
    mask = torch.tensor([[True, True, True, False, False]])
    fg, _ = TopKPool(ratio=2, weighted=False)(x, lam, mask)
    assert fg[0].tolist() == pytest.approx([(0 + 4) / 2, (1 + 5) / 2])


def test_mlp_attention_is_two_fc_relu_sigmoid():
    att = MLPAttention(in_channels=2, hidden_channels=2)
    with torch.no_grad():
        att.fc1.weight.copy_(torch.tensor([[1.0, 0.0], [0.0, -1.0]]))
        att.fc1.bias.zero_()
        att.fc2.weight.copy_(torch.tensor([[2.0, 1.0]]))
        att.fc2.bias.fill_(-1.0)
    lam = att(torch.tensor([[[0.5, -2.0], [-1.0, 1.0]]]))
    # frame 0: relu([0.5, 2.0]) -> 2*0.5 + 2.0 - 1 = 2; frame 1: relu([-1, -1]) -> -1
    assert lam[0].tolist() == pytest.approx([1 / (1 + math.exp(-2.0)), 1 / (1 + math.exp(1.0))])


def test_classifier_and_cluster_head_shapes_and_dim_errors():
    clf = LinearClassifier(in_channels=4, num_classes=2)
    assert clf.fc.bias is None and clf(torch.zeros(3, 7, 4)).shape == (3, 7, 3)
    with pytest.raises(ValueError, match='expected D=4, got D=5'):
        clf(torch.zeros(2, 5))
    with pytest.raises(ValueError, match='expected D=4, got D=3'):
        ClusterHead(in_channels=4)(torch.zeros(2, 3))
    with pytest.raises(ValueError, match='feature dimension mismatch, expected D=4, got D=3'):
        MLPAttention(in_channels=4)(torch.zeros(1, 2, 3))


def test_classifier_background_row_tied_or_none():
    torch.manual_seed(0)
    x = torch.randn(2, 5, 4)
    row = LinearClassifier(in_channels=4, num_classes=3)
    assert row.background == 'row' and row.fc.out_features == 4
    assert LinearClassifier(in_channels=4, num_classes=3, background=True).background == 'row'
    none = LinearClassifier(in_channels=4, num_classes=3, background=False)
    assert none.fc.out_features == 3 and none(x).shape == (2, 5, 3)
    tied = LinearClassifier(in_channels=4, num_classes=3, background='tied')
    # no row of its own: the background logit is minus the mean class logit
    assert tied.fc.out_features == 3
    z = tied(x)
    assert z.shape == (2, 5, 4)
    assert torch.allclose(z[..., 0], -(x @ tied.fc.weight.t()).mean(-1), atol=1e-6)
    assert torch.allclose(z[..., 1:], x @ tied.fc.weight.t(), atol=1e-6)
    # still linear: the logits of a weighted pool are the pooled frame logits
    w = torch.rand(2, 5, 1)
    assert torch.allclose(tied((w * x).sum(1)), (w * z).sum(1), atol=1e-5)
    assert "background='tied'" in repr(tied)
    with pytest.raises(ValueError, match="background must be 'row', 'tied', 'centred', True or "):
        LinearClassifier(in_channels=4, num_classes=3, background='shared')


def test_classifier_centred_background_ignores_the_mean_class_row():
    torch.manual_seed(0)
    x = torch.randn(2, 5, 4)
    clf = LinearClassifier(in_channels=4, num_classes=3, background='centred')
    assert clf.fc.out_features == 3
    z = clf(x)
    raw = x @ clf.fc.weight.t()
    assert z.shape == (2, 5, 4)
    assert torch.equal(z[..., 0], torch.zeros(2, 5))
    assert torch.allclose(z[..., 1:], raw - raw.mean(-1, keepdim=True), atol=1e-6)
    # under the softmax the same as a background logit of +mean class logit
    plus_mean = torch.cat([raw.mean(-1, keepdim=True), raw], -1)
    assert torch.allclose(z.softmax(-1), plus_mean.softmax(-1), atol=1e-6)
    # the background's probability is at most 1/(C+1), reached where the classes score alike
    assert (clf(10 * x).softmax(-1)[..., 0] <= 1 / 4 + 1e-7).all()
    assert torch.allclose(clf(torch.zeros(4)).softmax(-1), torch.full((4,), 0.25))
    # adding one vector to every class row changes no output, and that direction gets no gradient
    with torch.no_grad():
        before = clf(x)
        clf.fc.weight.add_(torch.randn(1, 4))
        assert torch.allclose(clf(x), before, atol=1e-5)
    clf(x).logsumexp(-1).sum().backward()
    assert torch.allclose(clf.fc.weight.grad.sum(0), torch.zeros(4), atol=1e-5)
    # still linear: the logits of a weighted pool are the pooled frame logits
    w = torch.rand(2, 5, 1)
    assert torch.allclose(clf((w * x).sum(1)), (w * clf(x)).sum(1), atol=1e-5)
    assert "background='centred'" in repr(clf)


def test_classifier_centred_with_a_learned_background_logit():
    torch.manual_seed(0)
    x = torch.randn(2, 5, 4)
    clf = LinearClassifier(in_channels=4, num_classes=3, background='centred',
                           background_logit='learned')
    zero = LinearClassifier(in_channels=4, num_classes=3, background='centred')
    zero.load_state_dict({'fc.weight': clf.fc.weight.detach().clone()})
    assert set(clf.state_dict()) == {'fc.weight', 'kappa'}
    # κ starts at ln C: p_0 = 1/2 where the classes score alike
    assert clf.kappa.item() == pytest.approx(math.log(3))
    assert clf(torch.zeros(4)).softmax(-1)[0].item() == pytest.approx(0.5)
    with torch.no_grad():
        clf.kappa.zero_()
    assert torch.equal(clf(x), zero(x))  # at 0: the zero form
    with torch.no_grad():
        clf.kappa.fill_(2.5)
    z = clf(x)
    assert torch.equal(z[..., 0], torch.full((2, 5), 2.5))  # frames and pools alike
    assert torch.equal(clf(x.mean(1))[..., 0], torch.full((2,), 2.5))
    assert torch.allclose(z[..., 1:], zero(x)[..., 1:])
    # no floor: where the classes score alike the background takes e^κ / (e^κ + C)
    p0 = clf(torch.zeros(4)).softmax(-1)[0]
    assert p0.item() == pytest.approx(math.exp(2.5) / (math.exp(2.5) + 3)) and p0 > 1 / 4
    # -log p_0 trains κ and the class rows, never their mean
    (-clf(x).log_softmax(-1)[..., 0]).sum().backward()
    assert clf.kappa.grad.item() < 0
    assert torch.allclose(clf.fc.weight.grad.sum(0), torch.zeros(4), atol=1e-5)
    assert "background_logit='learned'" in repr(clf)
    with pytest.raises(ValueError, match="background_logit='learned' needs background='centred'"):
        LinearClassifier(in_channels=4, num_classes=3, background='tied', background_logit='learned')
    with pytest.raises(ValueError, match="background_logit must be 'zero' or 'learned'"):
        LinearClassifier(in_channels=4, num_classes=3, background='centred', background_logit=1)
