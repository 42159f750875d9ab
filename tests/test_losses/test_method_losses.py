"""Golden values of the W-TALC, BaS-Net, UM and CoLA loss terms, worked out by hand."""
import math

import pytest
import torch

from wsal.losses import (CoActivitySimilarityLoss, FeatureMagnitudeLoss, MILCrossEntropyLoss,
                         SnippetContrastLoss, SparsityLoss, VideoBCELoss, info_nce)


def _mask(B, T):
    return torch.ones(B, T, dtype=torch.bool)


def test_mil_cross_entropy_by_hand():
    # softmax([0, ln 2, 0]) = [1/4, 1/2, 1/4]; ŷ = [1/2, 1/2, 0]
    out = {'video_logits': torch.tensor([[0.0, math.log(2.0), 0.0]])}
    labels = torch.tensor([[1.0, 1.0, 0.0]])
    loss = MILCrossEntropyLoss(weight=1.0)(out, labels, _mask(1, 1))['loss_mil']
    assert loss.item() == pytest.approx(-0.5 * (math.log(0.25) + math.log(0.5)))
    assert MILCrossEntropyLoss()(out, labels, _mask(1, 1))['loss_mil'].item() == pytest.approx(
        0.5 * loss.item())  # λ = 0.5 by default
    with pytest.raises(ValueError, match='no action label'):
        MILCrossEntropyLoss()(out, torch.zeros(1, 3), _mask(1, 1))


def _bce(p, y):
    return -(y * math.log(p) + (1 - y) * math.log(1 - p))


def test_video_bce_background_present_absent_uniform_by_hand():
    probs = torch.tensor([[0.5, 0.25, 0.25]])        # [background, class 0, class 1]
    labels = torch.tensor([[1.0, 0.0]])
    present = VideoBCELoss(key='p', background='present', name='base')
    absent = VideoBCELoss(key='p', background='absent', name='supp')
    # base branch: background in every video -> target [1, 1, 0] / 2
    expected = (_bce(0.5, 0.5) + _bce(0.25, 0.5) + _bce(0.25, 0.0)) / 3
    assert present({'p': probs}, labels, _mask(1, 1))['loss_base'].item() == pytest.approx(expected)
    # suppression branch: no background -> target [0, 1, 0]
    expected = (_bce(0.5, 0.0) + _bce(0.25, 1.0) + _bce(0.25, 0.0)) / 3
    assert absent({'p': probs}, labels, _mask(1, 1))['loss_supp'].item() == pytest.approx(expected)
    # UM's background entropy loss: uniform 1/C target on the background scores
    be = VideoBCELoss(key='q', uniform=True, name='be', weight=2.0)
    out = be({'q': torch.tensor([[0.8, 0.2]])}, labels, _mask(1, 1))
    assert out['loss_be'].item() == pytest.approx(2.0 * (_bce(0.8, 0.5) + _bce(0.2, 0.5)) / 2)
    with pytest.raises(ValueError, match='expected \\(1, 3\\)'):
        VideoBCELoss(key='q', background='present')({'q': torch.tensor([[0.8, 0.2]])},
                                                    labels, _mask(1, 1))


def test_coactivity_similarity_by_hand():
    # two videos of class 0, frames x = e1, e2; activations (ln 3, 0) and (0, ln 3):
    # temporal softmax (3/4, 1/4) and (1/4, 3/4)
    x = torch.eye(2).expand(3, 2, 2).clone()
    cas = torch.tensor([[[math.log(3.0), 0.0], [0.0, 0.0]],
                        [[0.0, 0.0], [math.log(3.0), 0.0]],
                        [[5.0, 0.0], [0.0, 0.0]]])     # video 2 lacks class 0
    labels = torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    h1, l1 = torch.tensor([0.75, 0.25]), torch.tensor([0.25, 0.75]) / (2 - 1)
    h2, l2 = torch.tensor([0.25, 0.75]), torch.tensor([0.75, 0.25]) / (2 - 1)

    def d(a, b):
        return 1 - float(a @ b) / float(a.norm() * b.norm())

    assert d(h1, h2) == pytest.approx(0.4) and d(h1, l2) == pytest.approx(0.0)
    expected = 0.5 * (max(0, d(h1, h2) - d(h1, l2) + 0.5) + max(0, d(h1, h2) - d(l1, h2) + 0.5))
    assert expected == pytest.approx(0.9)
    term = CoActivitySimilarityLoss(weight=1.0, margin=0.5)
    out = term({'embedding': x, 'cas_fg': cas}, labels, _mask(3, 2))
    assert out['loss_casl'].item() == pytest.approx(expected)
    # two classes shared by the pair: the mean over (pair, class) combinations;
    # class 1 has equal activations -> H = L = (1/2, 1/2), d = 0 -> 0.5 (δ + δ) = δ
    both = torch.tensor([[1.0, 1.0], [1.0, 1.0], [0.0, 0.0]])
    out = term({'embedding': x, 'cas_fg': cas}, both, _mask(3, 2))
    assert out['loss_casl'].item() == pytest.approx((0.9 + 0.5) / 2)
    # no pair sharing a class: zero, still differentiable
    lonely = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]])
    assert term({'embedding': x, 'cas_fg': cas}, lonely, _mask(3, 2))['loss_casl'].item() == 0.0


def test_coactivity_ignores_padding():
    g = torch.Generator().manual_seed(0)
    x, cas = torch.randn(2, 4, 3, generator=g), torch.randn(2, 4, 2, generator=g)
    labels = torch.tensor([[1.0, 1.0], [1.0, 0.0]])
    mask = torch.tensor([[True] * 4, [True, True, True, False]])
    term = CoActivitySimilarityLoss()
    ref = term({'embedding': x, 'cas_fg': cas}, labels, mask)['loss_casl']
    x2, cas2 = x.clone(), cas.clone()
    x2[1, 3], cas2[1, 3] = 100.0, 100.0
    assert term({'embedding': x2, 'cas_fg': cas2}, labels, mask)['loss_casl'].item() == \
        pytest.approx(ref.item())


def test_feature_magnitude_by_hand():
    out = {'act_feature': torch.tensor([[3.0, 4.0], [6.0, 8.0]]),
           'bg_feature': torch.tensor([[0.0, 1.0], [2.0, 0.0]])}
    # video 0: (max(0, 10 - 5) + 1)^2 = 36; video 1: (max(0, 10 - 10) + 2)^2 = 4
    loss = FeatureMagnitudeLoss(weight=1.0, margin=10.0)(out, torch.ones(2, 1), _mask(2, 1))
    assert loss['loss_um'].item() == pytest.approx((36 + 4) / 2)
    assert FeatureMagnitudeLoss()(out, torch.ones(2, 1), _mask(2, 1))['loss_um'].item() == \
        pytest.approx(5e-4 * (max(0, 100 - 5) + 1) ** 2 / 2 + 5e-4 * (100 - 10 + 2) ** 2 / 2)


def test_info_nce_and_snippet_contrast_by_hand():
    tau = 0.5
    q, k = torch.tensor([[1.0, 0.0]]), torch.tensor([[2.0, 0.0]])
    neg = torch.tensor([[[0.0, 3.0], [-1.0, 0.0]]])
    # cosines 1, 0, -1 -> logits 2, 0, -2
    expected = -math.log(math.exp(2) / (math.exp(2) + 1 + math.exp(-2)))
    got = info_nce(q, k, neg, torch.ones(1, 2, dtype=torch.bool), tau)
    assert got.item() == pytest.approx(expected)
    # a masked negative does not count
    got = info_nce(q, k, neg, torch.tensor([[True, False]]), tau)
    assert got.item() == pytest.approx(-math.log(math.exp(2) / (math.exp(2) + 1)))

    # frames: t0 hard action, t1 easy action, t2 / t3 easy background, t2 also hard background
    x = torch.tensor([[[1.0, 0.0], [2.0, 0.0], [0.0, 3.0], [-1.0, 0.0]]])
    sel = {name: torch.tensor([[t in idx for t in range(4)]]) for name, idx in
           dict(HA=(0,), EA=(1,), EB=(2, 3), HB=(2,)).items()}
    # HA term: q = x0, k⁺ = x1, negatives x2, x3 -> the value above
    # HB term: q = x2 = (0, 3), k⁺ = mean(x2, x3) = (-0.5, 1.5), negative x1 = (2, 0)
    cos_hb = 4.5 / (3 * math.sqrt(0.25 + 2.25))
    hb = -math.log(math.exp(cos_hb / tau) / (math.exp(cos_hb / tau) + math.exp(0.0)))
    loss = SnippetContrastLoss(weight=1.0, temperature=tau)(
        {'embedding': x, 'snippets': sel}, torch.ones(1, 1), _mask(1, 4))['loss_snico']
    assert loss.item() == pytest.approx(expected + hb)
    # no hard snippet at all: zero
    empty = dict(sel, HA=torch.zeros(1, 4, dtype=torch.bool), HB=torch.zeros(1, 4, dtype=torch.bool))
    assert SnippetContrastLoss()({'embedding': x, 'snippets': empty}, torch.ones(1, 1),
                                 _mask(1, 4))['loss_snico'].item() == 0.0


def test_basnet_norm_loss_is_the_l1_sum_of_the_attention():
    att = torch.tensor([[0.5, 0.25, 0.0], [1.0, 0.5, 0.9]])
    mask = torch.tensor([[True, True, True], [True, True, False]])
    loss = SparsityLoss(weight=1e-4, reduction='sum')({'attention': att}, torch.ones(2, 1), mask)
    assert loss['loss_sparsity'].item() == pytest.approx(1e-4 * (0.75 + 1.5) / 2)
