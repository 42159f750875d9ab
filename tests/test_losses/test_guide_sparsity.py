"""L_guide (eqs. 6, 7), its smoothing, and STPN's sparsity loss, by hand."""
import math

import pytest
import torch

from wsal.losses import SelfGuideLoss, SparsityLoss, masked_gaussian_smooth


def _smooth(values, sigma, truncate=4.0):
    """Reference normalised Gaussian smoothing in plain python."""
    if sigma == 0:
        return list(values)
    r = max(1, math.ceil(truncate * sigma))
    out = []
    for t in range(len(values)):
        num = den = 0.0
        for k in range(-r, r + 1):
            if 0 <= t + k < len(values):
                w = math.exp(-0.5 * (k / sigma) ** 2)
                num += w * values[t + k]
                den += w
        out.append(num / den)
    return out


# one video, T = 4, C = 2: per-frame probabilities over [bg, c1, c2]
TCAM = [[0.7, 0.2, 0.1], [0.1, 0.6, 0.3], [0.2, 0.1, 0.7], [0.5, 0.25, 0.25]]
LAM = [0.1, 0.9, 0.6, 0.3]


def _expected(labels, sigma):
    present = [i for i, v in enumerate(labels) if v > 0]
    fg = [max(row[1 + c] for c in present) for row in TCAM]  # eq. 6 + footnote 1
    bg = [1.0 - row[0] for row in TCAM]                        # eq. 7
    fg, bg = _smooth(fg, sigma), _smooth(bg, sigma)
    return sum(abs(l - f) + abs(l - b) for l, f, b in zip(LAM, fg, bg)) / len(LAM)


@pytest.mark.parametrize('labels', [[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
@pytest.mark.parametrize('sigma', [0.0, 1.0])
def test_guide_loss_matches_equations(labels, sigma):
    out = SelfGuideLoss(weight=1.0, sigma=sigma)(
        {'attention': torch.tensor([LAM]), 'tcam': torch.tensor([TCAM])},
        torch.tensor([labels]), torch.ones(1, 4, dtype=torch.bool))
    assert set(out) == {'loss_guide'}
    assert out['loss_guide'].item() == pytest.approx(_expected(labels, sigma), rel=1e-5)


def test_guide_loss_weight_and_padding():
    stream = {'attention': torch.tensor([LAM + [0.0, 0.0]]),
              'tcam': torch.tensor([TCAM + [[0.9, 0.05, 0.05]] * 2])}
    mask = torch.tensor([[True] * 4 + [False] * 2])
    out = SelfGuideLoss(weight=0.1, sigma=1.0)(stream, torch.tensor([[1.0, 0.0]]), mask)
    assert out['loss_guide'].item() == pytest.approx(0.1 * _expected([1.0, 0.0], 1.0), rel=1e-5)


def test_masked_smoothing_matches_reference_and_ignores_padding():
    vals = [0.0, 1.0, 0.5, 0.2, 0.9]
    got = masked_gaussian_smooth(torch.tensor([vals + [7.0, -3.0]]),
                                 torch.tensor([[True] * 5 + [False] * 2]), 1.5)
    assert got[0, :5].tolist() == pytest.approx(_smooth(vals, 1.5), rel=1e-5)
    assert got[0, 5:].tolist() == [0.0, 0.0]


@pytest.mark.parametrize('detach', [True, False])
def test_guide_target_detaching(detach):
    g = torch.Generator().manual_seed(0)
    cas = torch.randn(1, 4, 3, generator=g).requires_grad_()
    lam = torch.rand(1, 4, generator=g).requires_grad_()
    out = SelfGuideLoss(detach_target=detach)(
        {'attention': lam, 'tcam': torch.softmax(cas, -1)}, torch.tensor([[1.0, 0.0]]),
        torch.ones(1, 4, dtype=torch.bool))
    out['loss_guide'].backward()
    assert lam.grad is not None and lam.grad.abs().sum() > 0
    if detach:
        assert cas.grad is None
    else:
        assert cas.grad is not None and cas.grad.abs().sum() > 0


def test_sparsity_loss_mean_and_sum_over_valid_segments():
    lam = torch.tensor([[0.2, 0.4, 0.6, 0.0], [0.5, 0.1, 0.9, 0.3]])
    mask = torch.tensor([[True, True, True, False], [True, True, True, True]])
    mean = ((0.2 + 0.4 + 0.6) / 3 + (0.5 + 0.1 + 0.9 + 0.3) / 4) / 2
    total = ((0.2 + 0.4 + 0.6) + (0.5 + 0.1 + 0.9 + 0.3)) / 2
    out = SparsityLoss(weight=0.04)({'attention': lam}, torch.ones(2, 3), mask)
    assert out['loss_sparsity'].item() == pytest.approx(0.04 * mean, rel=1e-6)
    out = SparsityLoss(weight=1e-4, reduction='sum')({'attention': lam}, torch.ones(2, 3), mask)
    assert out['loss_sparsity'].item() == pytest.approx(1e-4 * total, rel=1e-6)
    with pytest.raises(ValueError, match="reduction must be 'mean' or 'sum'"):
        SparsityLoss(reduction='max')


def _expected_bce(labels, sigma):
    present = [i for i, v in enumerate(labels) if v > 0]
    fg = _smooth([max(row[1 + c] for c in present) for row in TCAM], sigma)
    bg = _smooth([1.0 - row[0] for row in TCAM], sigma)

    def bce(p, t):
        return -(t * math.log(p) + (1 - t) * math.log(1 - p))
    return sum(bce(l, f) + bce(l, b) for l, f, b in zip(LAM, fg, bg)) / len(LAM)


@pytest.mark.parametrize('labels', [[1.0, 0.0], [1.0, 1.0]])
@pytest.mark.parametrize('sigma', [0.0, 1.0])
def test_guide_loss_bce_distance_matches_hand_value(labels, sigma):
    out = SelfGuideLoss(weight=1.0, sigma=sigma, distance='bce')(
        {'attention': torch.tensor([LAM]), 'tcam': torch.tensor([TCAM])},
        torch.tensor([labels]), torch.ones(1, 4, dtype=torch.bool))
    assert out['loss_guide'].item() == pytest.approx(_expected_bce(labels, sigma), rel=1e-5)


def test_guide_bce_keeps_a_gradient_where_l1_vanishes():
    """A saturated λ (logit -12) far below its target: L1's logit gradient is
    ~λ(1-λ) ≈ 6e-6, the cross-entropy's is λ - λ̂ (order 1)."""
    tcam = torch.tensor([[[0.1, 0.9]] * 3])
    grads = {}
    for distance in ('l1', 'bce'):
        logit = torch.full((1, 3), -12.0, requires_grad=True)
        loss = SelfGuideLoss(weight=1.0, sigma=0.0, distance=distance)(
            {'attention': logit.sigmoid(), 'tcam': tcam}, torch.tensor([[1.0]]),
            torch.ones(1, 3, dtype=torch.bool))['loss_guide']
        loss.backward()
        grads[distance] = logit.grad.abs().max().item()
    assert grads['l1'] < 1e-4 and grads['bce'] > 0.5


def test_guide_distance_is_validated():
    with pytest.raises(ValueError, match="distance must be 'l1' or 'bce'"):
        SelfGuideLoss(distance='l2')


def test_actionness_guide_reads_only_the_ranking_within_each_video():
    from wsal.losses import ActionnessGuideLoss
    torch.manual_seed(0)
    lam = torch.rand(2, 10).clamp(0.05, 0.95).requires_grad_()
    mag = torch.rand(2, 10).requires_grad_()
    mask = torch.ones(2, 10, dtype=torch.bool)
    mask[1, 7:] = False
    labels = torch.zeros(2, 3)
    term = ActionnessGuideLoss(weight=1.0, sigma=1.0)
    base = term({'attention': lam, 'magnitude': mag}, labels, mask)['loss_actionness_guide']
    scaled = term({'attention': lam, 'magnitude': 3 * mag + 5}, labels, mask)
    assert torch.allclose(base, scaled['loss_actionness_guide'], atol=1e-6)
    padded = mag.detach().clone()
    padded[1, 7:] = 100.0                       # padding does not count
    assert torch.allclose(base, term({'attention': lam, 'magnitude': padded}, labels,
                                     mask)['loss_actionness_guide'], atol=1e-6)
    base.backward()
    assert mag.grad is None and lam.grad is not None
    assert torch.all(lam.grad[1, 7:] == 0)
    # λ equal to the rescaled target (no smoothing) is the minimum
    t = (mag.detach() - mag.detach().amin(1, keepdim=True))
    t = t / t.amax(1, keepdim=True)
    sharp = ActionnessGuideLoss(weight=1.0, sigma=0.0)
    best = sharp({'attention': t.clamp(1e-4, 1 - 1e-4), 'magnitude': mag}, labels,
                 torch.ones(2, 10, dtype=torch.bool))['loss_actionness_guide']
    worse = sharp({'attention': (1 - t).clamp(1e-4, 1 - 1e-4), 'magnitude': mag}, labels,
                  torch.ones(2, 10, dtype=torch.bool))['loss_actionness_guide']
    assert best < worse
    with pytest.raises(ValueError, match='sigma'):
        ActionnessGuideLoss(sigma=-1)


def test_feature_magnitude_loss_reads_the_keys_it_is_given():
    from wsal.losses import FeatureMagnitudeLoss
    term = FeatureMagnitudeLoss(weight=1.0, margin=2.0,
                                keys=('magnitude_act_feature', 'magnitude_bg_feature'))
    out = {'magnitude_act_feature': torch.tensor([[3.0, 4.0]]),      # norm 5 > margin
           'magnitude_bg_feature': torch.tensor([[0.0, 1.0]])}
    assert term(out, torch.zeros(1, 3), torch.ones(1, 4, dtype=torch.bool))['loss_um'] == 1.0
    with pytest.raises(KeyError, match='magnitude_act_feature'):
        term({'act_feature': torch.zeros(1, 2), 'bg_feature': torch.zeros(1, 2)},
             torch.zeros(1, 3), torch.ones(1, 4, dtype=torch.bool))
    with pytest.raises(ValueError, match='keys'):
        FeatureMagnitudeLoss(keys=('a',))


@pytest.mark.parametrize('which', ['background', 'foreground'])
@pytest.mark.parametrize('distance', ['l1', 'bce'])
def test_guide_single_target_takes_both_slots(which, distance):
    labels = [1.0, 0.0]
    fg = _smooth([row[1] for row in TCAM], 1.0)
    bg = _smooth([1.0 - row[0] for row in TCAM], 1.0)
    target = bg if which == 'background' else fg

    def d(p, t):
        return abs(p - t) if distance == 'l1' else -(t * math.log(p) + (1 - t) * math.log(1 - p))
    expected = sum(2 * d(lam, t) for lam, t in zip(LAM, target)) / len(LAM)
    loss = SelfGuideLoss(weight=1.0, sigma=1.0, distance=distance, targets=which)
    out = loss({'attention': torch.tensor([LAM]), 'tcam': torch.tensor([TCAM])},
               torch.tensor([labels]), torch.ones(1, 4, dtype=torch.bool))
    assert out['loss_guide'].item() == pytest.approx(expected, rel=1e-5)
    assert f"targets='{which}'" in repr(loss)
    assert 'targets' not in repr(SelfGuideLoss())
    with pytest.raises(ValueError, match='targets must be one of'):
        SelfGuideLoss(targets='fg')


def test_guide_background_target_rescaled_within_each_video():
    # 1 - p0 over the valid frames: 0.3, 0.9, 0.8, 0.5 -> rescaled 0, 1, 5/6, 1/3
    raw = [1.0 - row[0] for row in TCAM]
    lo, hi = min(raw), max(raw)
    scaled = _smooth([(v - lo) / (hi - lo) for v in raw], 1.0)
    fg = _smooth([row[1] for row in TCAM], 1.0)
    expected = sum(abs(l - f) + abs(l - b) for l, f, b in zip(LAM, fg, scaled)) / len(LAM)
    loss = SelfGuideLoss(weight=1.0, sigma=1.0, background_scale='video')
    # padding with a background probability outside the valid range changes nothing
    stream = {'attention': torch.tensor([LAM + [0.5, 0.5]]),
              'tcam': torch.tensor([TCAM + [[0.99, 0.005, 0.005], [0.0, 0.5, 0.5]]])}
    mask = torch.tensor([[True] * 4 + [False] * 2])
    out = loss(stream, torch.tensor([[1.0, 0.0]]), mask)
    assert out['loss_guide'].item() == pytest.approx(expected, rel=1e-5)
    assert out['loss_guide'].item() != pytest.approx(_expected([1.0, 0.0], 1.0), rel=1e-3)
    fg_t, bg_t = loss.targets(stream['tcam'], torch.tensor([[1.0, 0.0]]), mask)
    assert bg_t[0, :4].tolist() == pytest.approx(scaled, rel=1e-5)
    assert bg_t[0, 4:].tolist() == [0.0, 0.0]
    assert "background_scale='video'" in repr(loss)
    assert 'background_scale' not in repr(SelfGuideLoss())
    with pytest.raises(ValueError, match='background_scale must be one of'):
        SelfGuideLoss(background_scale='minmax')


def test_guide_rescaled_background_target_spans_the_range_under_centred_logits():
    # centred class logits and a zero background logit: p0 <= 1/(C+1), so the
    # printed target never leaves [C/(C+1), 1); rescaled it spans [0, 1]
    torch.manual_seed(0)
    z = torch.randn(2, 30, 20) * 2.0
    z = z - z.mean(-1, keepdim=True)
    tcam = torch.softmax(torch.cat([torch.zeros(2, 30, 1), z], -1), -1)
    labels = torch.zeros(2, 20)
    labels[:, 3] = 1
    mask = torch.ones(2, 30, dtype=torch.bool)
    _, printed = SelfGuideLoss(sigma=0.0).targets(tcam, labels, mask)
    _, video = SelfGuideLoss(sigma=0.0, background_scale='video').targets(tcam, labels, mask)
    assert printed.min().item() >= 20 / 21 - 1e-6
    assert video.amin(1).tolist() == pytest.approx([0.0, 0.0], abs=1e-6)
    assert video.amax(1).tolist() == pytest.approx([1.0, 1.0], abs=1e-6)
    assert torch.equal(printed.argsort(1), video.argsort(1))
