"""L_fg (eq. 3), L_bg and L_cluster (eq. 10) against hand-computed values."""
import math

import pytest
import torch
import torch.nn.functional as F

from wsal.losses import BackgroundLoss, ClusterLoss, ForegroundLoss, foreground_target


def _log_softmax(row, i):
    return row[i] - math.log(sum(math.exp(v) for v in row))


MASK = torch.ones(2, 3, dtype=torch.bool)


def test_foreground_loss_single_and_multi_label():
    rows = [[1.0, 2.0, 0.5], [0.3, -1.0, 0.7]]
    labels = torch.tensor([[1.0, 0.0], [1.0, 1.0]])  # video 0: class 0; video 1: classes 0 and 1
    # model index = class + 1; multi-label target 1/2 on each present class
    v0 = -_log_softmax(rows[0], 1)
    v1 = -0.5 * (_log_softmax(rows[1], 1) + _log_softmax(rows[1], 2))
    expected = (v0 + v1) / 2
    out = ForegroundLoss(weight=1.0)({'fg_logits': torch.tensor(rows)}, labels, MASK)
    assert set(out) == {'loss_fg'}
    assert out['loss_fg'].item() == pytest.approx(expected, rel=1e-6)
    out = ForegroundLoss(weight=0.5)({'fg_logits': torch.tensor(rows)}, labels, MASK)
    assert out['loss_fg'].item() == pytest.approx(0.5 * expected, rel=1e-6)


def test_foreground_target_background_video():
    target = foreground_target(torch.tensor([[0.0, 0.0], [0.0, 1.0], [1.0, 1.0]]))
    assert target.tolist() == [[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, 0.5, 0.5]]
    row = [0.2, 0.1, -0.4]
    out = ForegroundLoss()({'fg_logits': torch.tensor([row])}, torch.zeros(1, 2),
                           torch.ones(1, 3, dtype=torch.bool))
    assert out['loss_fg'].item() == pytest.approx(-_log_softmax(row, 0), rel=1e-6)


def test_foreground_loss_class_count_mismatch():
    with pytest.raises(ValueError, match='C \\+ 1'):
        ForegroundLoss()({'fg_logits': torch.zeros(1, 3)}, torch.zeros(1, 5),
                         torch.ones(1, 2, dtype=torch.bool))


def test_background_loss():
    rows = [[1.0, 2.0, 0.5], [0.3, -1.0, 0.7]]
    expected = -(_log_softmax(rows[0], 0) + _log_softmax(rows[1], 0)) / 2
    out = BackgroundLoss(weight=0.1)({'bg_logits': torch.tensor(rows)}, torch.ones(2, 2), MASK)
    assert set(out) == {'loss_bg'}
    assert out['loss_bg'].item() == pytest.approx(0.1 * expected, rel=1e-6)


def test_background_loss_rescaled_pool_matches_pooled_features():
    # pool='rescaled': weights 1 - λ̃ (λ rescaled to each video's valid range),
    # normalised; the logits of that pool equal the frame logits pooled alike
    torch.manual_seed(0)
    x = torch.randn(2, 5, 4)
    w = torch.randn(3, 4, requires_grad=True)
    lam = torch.tensor([[0.9, 0.95, 0.99, 0.97, 0.5], [0.2, 0.6, 0.4, 0.0, 0.0]],
                       requires_grad=True)
    mask = torch.tensor([[True] * 5, [True, True, True, False, False]])
    expected = []
    for b in range(2):
        valid = lam[b, mask[b]].detach()
        wt = (valid.max() - valid) / (valid.max() - valid.min())
        pooled = (wt[:, None] * x[b, mask[b]]).sum(0) / wt.sum()
        expected.append(-F.log_softmax(pooled @ w.detach().t(), -1)[0])
    expected = torch.stack(expected).mean()
    out = {'cas': x @ w.t(), 'attention': lam}
    term = BackgroundLoss(weight=0.5, pool='rescaled')
    assert term.required_keys == ('cas', 'attention')
    loss = term(out, torch.ones(2, 2), mask)['loss_bg']
    assert loss.item() == pytest.approx(0.5 * expected.item(), rel=1e-5)
    loss.backward()
    assert lam.grad[mask].abs().sum() > 0
    assert torch.all(lam.grad[~mask] == 0)
    lam.grad, w.grad = None, None
    out = {'cas': x @ w.t(), 'attention': lam}
    BackgroundLoss(pool='rescaled', detach_attention=True)(out, torch.ones(2, 2),
                                                          mask)['loss_bg'].backward()
    assert lam.grad is None and w.grad.abs().sum() > 0


def _model_grads(term, key, labels=None, background=None):
    """Loss and parameter gradients of ``term`` summed over the streams of a small r8 model.

    Two videos, three classes; ``labels [2, 3]`` (default: one class, then two);
    ``background`` replaces the classifier's form (default: the configs').
    """
    from mmengine.config import Config

    from wsal import build_model
    cfg = Config.fromfile('configs/ablation/r8_full_i3d_thumos14.py')
    cfg.model.streams = dict(rgb=12, flow=8)
    cfg.model.num_classes = 3
    if background is not None:
        cfg.model.classifier.background = background
    torch.manual_seed(0)
    model = build_model(cfg.model)
    gen = torch.Generator().manual_seed(1)
    feats = {'rgb': torch.rand(2, 9, 12, generator=gen), 'flow': torch.rand(2, 9, 8, generator=gen)}
    mask = torch.ones(2, 9, dtype=torch.bool)
    mask[1, 6:] = False
    if labels is None:
        labels = torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 1.0]])
    out = model.extract({**feats, 'mask': mask})
    loss = sum(term(s, labels, out['mask'])[key] for s in out['streams'].values())
    loss.backward()
    return loss.item(), {n: (p.grad.clone() if p.grad is not None else torch.zeros_like(p))
                         for n, p in model.named_parameters()}


def _split(grads):
    attention = [n for n in grads if 'attention' in n]
    classifier = [n for n in grads if 'classifier' in n]
    assert attention and classifier
    return attention, classifier


@pytest.mark.parametrize('terms,key', [
    ((BackgroundLoss(pool='model'), BackgroundLoss(pool='frames'),
      BackgroundLoss(pool='frames', detach_attention=True)), 'loss_bg'),
    # the configs' form: with centred class logits the mean of every class logit is 0
    ((ClusterLoss(head='classifier', classes='labelled', background='negated'), None,
      ClusterLoss(head='classifier', classes='labelled', background='negated',
                  detach_attention=True)), 'loss_cluster')])
def test_frame_pools_are_the_model_pools(terms, key):
    # the 1/T pools rebuilt from the frame logits (BackgroundLoss(pool='frames'),
    # ClusterLoss(detach_attention=True)) are the configs' model pools: same
    # loss, same gradients; with λ detached the classifier gets the same
    # gradient and the attention none
    model_term, frames_term, detached_term = terms
    loss_model, g_model = _model_grads(model_term, key)
    if frames_term is not None:
        loss_frames, g_frames = _model_grads(frames_term, key)
        assert loss_frames == pytest.approx(loss_model, rel=1e-5)
        for name in g_model:
            torch.testing.assert_close(g_frames[name], g_model[name], atol=1e-6, rtol=1e-4)
    loss_detached, g_detached = _model_grads(detached_term, key)
    assert loss_detached == pytest.approx(loss_model, rel=1e-5)
    attention, classifier = _split(g_model)
    assert any(g_model[n].abs().sum() > 0 for n in attention)
    assert all(g_detached[n].abs().sum() == 0 for n in attention)
    for name in classifier:
        torch.testing.assert_close(g_detached[name], g_model[name], atol=1e-6, rtol=1e-4)
    assert 'detach_attention=True' in repr(detached_term)


def test_cluster_loss_detach_classifier_moves_the_attention_only():
    # same loss as the model's pools; λ gets the model pools' gradient, the
    # classifier none (under the tie: with centred logits every class row's mean is 0)
    loss_model, g_model = _model_grads(ClusterLoss(head='classifier'), 'loss_cluster',
                                       background='tied')
    term = ClusterLoss(head='classifier', detach_classifier=True)
    loss_detached, g_detached = _model_grads(term, 'loss_cluster', background='tied')
    assert loss_detached == pytest.approx(loss_model, rel=1e-5)
    attention, classifier = _split(g_model)
    assert any(g_model[n].abs().sum() > 0 for n in classifier)
    assert all(g_detached[n].abs().sum() == 0 for n in classifier)
    assert any(g_detached[n].abs().sum() > 0 for n in attention)
    for name in attention:
        torch.testing.assert_close(g_detached[name], g_model[name], atol=1e-6, rtol=1e-4)
    assert 'detach_classifier=True' in repr(term)
    assert term.required_keys == ('cas', 'attention')


def test_background_loss_bad_options():
    with pytest.raises(ValueError, match='pool'):
        BackgroundLoss(pool='mean')
    with pytest.raises(ValueError, match='detach_attention'):
        BackgroundLoss(detach_attention=True)


def test_cluster_loss():
    fg = [[0.5, -0.2], [1.5, 2.0]]   # [u_fg·x_fg, u_bg·x_fg]
    bg = [[0.1, 0.4], [-0.3, -1.0]]  # [u_fg·x_bg, u_bg·x_bg]
    per_video = []
    for (a, b), (c, d) in zip(fg, bg):
        z_fg = math.exp(a) / (math.exp(a) + math.exp(b))  # eq. 8
        z_bg = math.exp(d) / (math.exp(c) + math.exp(d))  # eq. 9
        per_video.append(-math.log(z_fg) - math.log(z_bg))  # eq. 10
    out = ClusterLoss(weight=1.0)({'cluster_fg_logits': torch.tensor(fg),
                                   'cluster_bg_logits': torch.tensor(bg)}, torch.ones(2, 2), MASK)
    assert out['loss_cluster'].item() == pytest.approx(sum(per_video) / 2, rel=1e-6)


def test_cluster_loss_on_the_classifier_rows():
    """head='classifier': u_fg is the mean class row, u_bg the background row."""
    fg = torch.tensor([[0.3, 1.0, -0.5, 2.0], [-1.0, 0.2, 0.4, 0.0]])   # [z_0, z_1..z_3]
    bg = torch.tensor([[1.2, -0.3, 0.1, -2.0], [0.5, 0.5, -0.1, 0.7]])
    expected = ClusterLoss(weight=1.0)(
        {'cluster_fg_logits': torch.stack([fg[:, 1:].mean(-1), fg[:, 0]], -1),
         'cluster_bg_logits': torch.stack([bg[:, 1:].mean(-1), bg[:, 0]], -1)},
        torch.ones(2, 3), MASK)['loss_cluster']
    term = ClusterLoss(weight=1.0, head='classifier')
    assert term.required_keys == ('fg_logits', 'bg_logits')
    out = term({'fg_logits': fg, 'bg_logits': bg}, torch.ones(2, 3), MASK)['loss_cluster']
    assert out.item() == pytest.approx(expected.item(), rel=1e-6)
    # tied background (z_0 = -mean_c z_c): -log σ(2 m_fg) - log σ(-2 m_bg)
    m_fg, m_bg = torch.tensor([0.7, -0.2]), torch.tensor([-0.4, 0.1])
    tied = lambda m: torch.cat([-m[:, None], m[:, None].expand(2, 3)], -1)  # noqa: E731
    out = term({'fg_logits': tied(m_fg), 'bg_logits': tied(m_bg)}, torch.ones(2, 3), MASK)
    ref = -(F.logsigmoid(2 * m_fg) + F.logsigmoid(-2 * m_bg)).mean()
    assert out['loss_cluster'].item() == pytest.approx(ref.item(), rel=1e-6)
    with pytest.raises(ValueError, match="head must be one of"):
        ClusterLoss(head='own')
    with pytest.raises(ValueError, match=("detach_attention=True needs head='classifier'"
                                          ".*set detach_attention=False")):
        ClusterLoss(detach_attention=True)
    with pytest.raises(ValueError, match=("detach_classifier=True needs head='classifier'"
                                          ".*set detach_classifier=False")):
        ClusterLoss(detach_classifier=True)
    with pytest.raises(ValueError, match='nothing to train'):
        ClusterLoss(head='classifier', detach_attention=True, detach_classifier=True)


def test_cluster_loss_on_the_labelled_rows():
    """classes='labelled': u_fg is the mean of the video's own class rows."""
    fg = torch.tensor([[0.3, 1.0, -0.5, 2.0], [-1.0, 0.2, 0.4, 0.0], [0.1, 0.6, -0.2, 0.9]])
    bg = torch.tensor([[1.2, -0.3, 0.1, -2.0], [0.5, 0.5, -0.1, 0.7], [0.0, 0.3, 0.2, -0.4]])
    labels = torch.tensor([[0.0, 1.0, 0.0], [1.0, 0.0, 1.0], [0.0, 0.0, 0.0]])
    per_video = []
    for b, rows in enumerate([[2], [1, 3], [1, 2, 3]]):      # no label: every class row
        a, c = fg[b, rows].mean().item(), bg[b, rows].mean().item()
        z_fg = math.exp(a) / (math.exp(a) + math.exp(fg[b, 0].item()))
        z_bg = math.exp(bg[b, 0].item()) / (math.exp(c) + math.exp(bg[b, 0].item()))
        per_video.append(-math.log(z_fg) - math.log(z_bg))
    term = ClusterLoss(weight=1.0, head='classifier', classes='labelled')
    out = term({'fg_logits': fg, 'bg_logits': bg}, labels, torch.ones(3, 3, dtype=torch.bool))
    assert out['loss_cluster'].item() == pytest.approx(sum(per_video) / 3, rel=1e-6)
    assert "classes='labelled'" in repr(term)
    with pytest.raises(ValueError, match='do not match the 3 classes'):
        term({'fg_logits': fg, 'bg_logits': bg}, labels[:, :2], torch.ones(3, 3, dtype=torch.bool))
    with pytest.raises(ValueError, match="needs head='classifier'"):
        ClusterLoss(classes='labelled')
    with pytest.raises(ValueError, match='classes must be one of'):
        ClusterLoss(head='classifier', classes='present')
    assert ClusterLoss(head='classifier', detach_attention=True).required_keys == ('cas',
                                                                                   'attention')


def test_missing_key_and_negative_weight_are_clear():
    with pytest.raises(KeyError, match="ClusterLoss needs \\['cluster_fg_logits'"):
        ClusterLoss()({'cluster_bg_logits': torch.zeros(1, 2)}, torch.ones(1, 2),
                      torch.ones(1, 2, dtype=torch.bool))
    with pytest.raises(ValueError, match='weight must be >= 0'):
        BackgroundLoss(weight=-1)


@pytest.mark.parametrize('labels', [[[1.0, 0.0, 0.0]], [[0.0, 1.0, 1.0]], [[0.0, 0.0, 0.0]]])
def test_chance_levels_are_the_terms_on_uniform_logits(labels):
    """``chance_level`` is what each term gives when its classifier guesses uniformly."""
    labels = torch.tensor(labels)
    mask = torch.ones(1, 4, dtype=torch.bool)
    uniform = torch.zeros(1, 4)   # C + 1 = 4 logits
    out = {'fg_logits': uniform, 'bg_logits': uniform,
           'cluster_fg_logits': torch.zeros(1, 2), 'cluster_bg_logits': torch.zeros(1, 2)}
    for term in (ForegroundLoss(weight=1.0), BackgroundLoss(weight=1.0), ClusterLoss(weight=1.0)):
        value = next(iter(term(out, labels, mask).values())).item()
        assert value == pytest.approx(term.chance_level(num_classes=3), rel=1e-6)
    # a learned term is below its level
    learned = {'bg_logits': torch.tensor([[4.0, 0.0, 0.0, 0.0]])}
    assert BackgroundLoss(weight=1.0)(learned, labels, mask)['loss_bg'].item() < math.log(4) / 10


def test_cluster_loss_negated_background():
    """background='negated': the background cluster logit is -u_fg·x."""
    fg = torch.tensor([[0.3, 1.0, -0.5, 2.0], [-1.0, 0.2, 0.4, 0.0], [0.1, 0.6, -0.2, 0.9]])
    bg = torch.tensor([[1.2, -0.3, 0.1, -2.0], [0.5, 0.5, -0.1, 0.7], [0.0, 0.3, 0.2, -0.4]])
    labels = torch.tensor([[0.0, 1.0, 0.0], [1.0, 0.0, 1.0], [0.0, 0.0, 0.0]])
    mask = torch.ones(3, 3, dtype=torch.bool)
    term = ClusterLoss(weight=1.0, head='classifier', classes='labelled', background='negated')
    m_fg = torch.stack([fg[0, [2]].mean(), fg[1, [1, 3]].mean(), fg[2, 1:].mean()])
    m_bg = torch.stack([bg[0, [2]].mean(), bg[1, [1, 3]].mean(), bg[2, 1:].mean()])
    ref = -(F.logsigmoid(2 * m_fg) + F.logsigmoid(-2 * m_bg)).mean()
    out = term({'fg_logits': fg, 'bg_logits': bg}, labels, mask)['loss_cluster']
    assert out.item() == pytest.approx(ref.item(), rel=1e-6)
    assert "background='negated'" in repr(term)
    # under the tied classifier with every class row it is the classifier's z_0
    tied = lambda z: torch.cat([-z[:, 1:].mean(-1, keepdim=True), z[:, 1:]], -1)  # noqa: E731
    inputs = {'fg_logits': tied(fg), 'bg_logits': tied(bg)}
    same = ClusterLoss(weight=1.0, head='classifier', background='negated')(inputs, labels, mask)
    base = ClusterLoss(weight=1.0, head='classifier')(inputs, labels, mask)
    assert same['loss_cluster'].item() == pytest.approx(base['loss_cluster'].item(), rel=1e-6)
    with pytest.raises(ValueError, match="needs head='classifier'"):
        ClusterLoss(background='negated')
    # the printed head: one message names every option to set back
    with pytest.raises(ValueError, match="set classes='all', background='classifier'"):
        ClusterLoss(head='cluster', classes='labelled', background='negated')
    with pytest.raises(ValueError, match='background must be one of'):
        ClusterLoss(head='classifier', background='row')


def test_cluster_loss_negated_background_leaves_other_rows_alone():
    # videos labelled with class 1 only, under the tie: with z_0 = -mean of every
    # row the term trains every class row; with the negated background only row 1
    labels = torch.tensor([[0.0, 1.0, 0.0], [0.0, 1.0, 0.0]])
    labelled = dict(head='classifier', classes='labelled')
    _, g_z0 = _model_grads(ClusterLoss(**labelled), 'loss_cluster', labels, background='tied')
    _, g_neg = _model_grads(ClusterLoss(**labelled, background='negated'), 'loss_cluster', labels,
                            background='tied')
    rows = [n for n in g_neg if 'classifier' in n and n.endswith('weight')]
    assert rows
    for name in rows:
        assert (g_z0[name].abs().sum(-1) > 0).all(), name
        per_row = g_neg[name].abs().sum(-1)
        assert per_row[1] > 0 and per_row[0] == 0 and per_row[2] == 0, name
