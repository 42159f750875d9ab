"""Loss ramps (``loss_warmup``) of the localizers and the hook that drives them."""
import math

import pytest
import torch

from wsal.engine import TrainProgressHook
from wsal.models.localizers import WeaklySupervisedLocalizer

LOSSES = dict(fg=dict(type='ForegroundLoss', weight=1.0),
              bg=dict(type='BackgroundLoss', weight=0.1),
              guide=dict(type='SelfGuideLoss', weight=0.1, distance='bce'),
              cluster=None)


def _model(**kw):
    torch.manual_seed(0)
    return WeaklySupervisedLocalizer(num_classes=3, streams=dict(rgb=6, flow=6),
                                     losses=LOSSES, **kw)


def _batch():
    g = torch.Generator().manual_seed(1)
    inputs = {'rgb': torch.rand(1, 9, 6, generator=g), 'flow': torch.rand(1, 9, 6, generator=g)}
    return inputs, [{'label': torch.tensor([0.0, 1.0, 0.0])}]


def test_ramp_scales_named_terms_linearly():
    plain = _model()
    ramped = _model(loss_warmup=dict(bg=0.5, guide=0.25))
    inputs, samples = _batch()
    full = plain.loss(inputs, samples)
    # 100-iteration run: bg ramps over 50 iterations, guide over 25
    for it, f_bg, f_guide in ((0, 1 / 50, 1 / 25), (9, 10 / 50, 10 / 25),
                              (24, 25 / 50, 1.0), (49, 1.0, 1.0), (99, 1.0, 1.0)):
        ramped.set_train_progress(it, 100)
        out = ramped.loss(inputs, samples)
        assert out['loss_fg'].item() == pytest.approx(full['loss_fg'].item())
        assert out['loss_bg'].item() == pytest.approx(f_bg * full['loss_bg'].item())
        assert out['loss_guide'].item() == pytest.approx(f_guide * full['loss_guide'].item())


def test_ramp_in_iterations_is_the_same_for_any_run_length():
    """A length of 2 or more counts iterations; up to 1 it is a share of the run."""
    ramped = _model(loss_warmup=dict(bg=20, guide=0.5))
    for total in (40, 400):
        for it, f_bg in ((0, 1 / 20), (9, 10 / 20), (19, 1.0), (39, 1.0)):
            ramped.set_train_progress(it, total)
            factors = ramped.loss_factors()
            assert factors['bg'] == pytest.approx(f_bg)
            assert factors['guide'] == pytest.approx(min(1.0, (it + 1) / (0.5 * total)))
    assert _model(loss_warmup=dict(bg=20.0)).loss_warmup == {'bg': 20.0}
    whole_run = _model(loss_warmup=dict(bg=1))           # 1 is the whole run, not 1 iteration
    whole_run.set_train_progress(9, 40)
    assert whole_run.loss_factors() == {'bg': pytest.approx(10 / 40)}


def test_without_progress_terms_are_full_with_a_warning():
    model = _model(loss_warmup=dict(bg=0.5))
    full = _model().loss(*_batch())
    with pytest.warns(UserWarning, match='set_train_progress'):
        out = model.loss(*_batch())
    assert out['loss_bg'].item() == pytest.approx(full['loss_bg'].item())
    model.eval()  # evaluation (e.g. a validation loss) never ramps
    model.set_train_progress(0, 100)
    assert model.loss(*_batch())['loss_bg'].item() == pytest.approx(full['loss_bg'].item())


@pytest.mark.parametrize('warmup, match', [
    (dict(bgg=0.5), "names 'bgg'"),
    (dict(bg=0.0), 'share of the run'),
    (dict(bg=-3), 'share of the run'),
    (dict(bg=1.5), 'whole number of iterations'),
    (dict(bg=2000.5), 'whole number of iterations'),
    (dict(bg=True), 'share of the run'),
    (dict(bg='2000'), 'share of the run'),
])
def test_bad_warmup_is_rejected(warmup, match):
    with pytest.raises(ValueError, match=match):
        _model(loss_warmup=warmup)


def test_switched_off_term_may_keep_its_ramp():
    model = _model(loss_warmup=dict(cluster=0.5))  # cluster=None in LOSSES
    inputs, samples = _batch()
    assert model.loss_factors() == {}
    assert set(model.loss(inputs, samples)) == {'loss_fg', 'loss_bg', 'loss_guide'}


class _Runner:
    def __init__(self, model, it, max_iters):
        self.model, self.iter, self.max_iters = model, it, max_iters


def test_hook_passes_the_runner_iteration():
    model = _model(loss_warmup=dict(bg=0.5))
    TrainProgressHook().before_train_iter(_Runner(model, 7, 40), 0)
    assert model.loss_factors() == {'bg': pytest.approx(8 / 20)}
    TrainProgressHook().before_train_iter(_Runner(torch.nn.Linear(2, 2), 7, 40), 0)  # no-op


def test_chance_levels_match_the_logged_terms_of_a_uniform_classifier():
    """The logged value of an idle term: weight x ramp factor x streams x chance level."""
    from wsal.experiments.cell import chance_levels
    losses = dict(LOSSES, cluster=dict(type='ClusterLoss', weight=0.1))
    torch.manual_seed(0)
    model = WeaklySupervisedLocalizer(num_classes=3, streams=dict(rgb=6, flow=6), losses=losses,
                                      cluster_head=dict(type='ClusterHead'),
                                      loss_warmup=dict(bg=0.5))
    with torch.no_grad():  # every classifier guesses uniformly
        for module in list(model.classifier.values()) + list(model.cluster_head.values()):
            module.fc.weight.zero_()
    for it, factor in ((24, 0.5), (99, 1.0)):
        model.set_train_progress(it, 100)
        logged = model.loss(*_batch())
        levels = chance_levels(model)
        assert set(levels) == {'fg', 'bg', 'cluster'}   # the guide has no chance level
        for name, (key, at_chance) in levels.items():
            assert logged[key].item() == pytest.approx(at_chance, rel=1e-5), name
        assert levels['bg'][1] == pytest.approx(factor * 0.1 * 2 * math.log(4))


@pytest.mark.parametrize('classifier, judged', [
    (dict(type='LinearClassifier', background='centred'), False),
    (dict(type='LinearClassifier', background='centred', background_logit='learned'), True),
    (dict(type='LinearClassifier', background='tied'), True),
    (dict(type='LinearClassifier', background='row'), True)])
def test_a_term_at_its_floor_is_not_judged_idle(classifier, judged):
    """Beside centred class logits p_0 <= 1/(C+1): L_bg's chance level is the least it can
    reach, so ending there is not idleness; a learned background logit or a background row
    can go below it."""
    from wsal.experiments.cell import chance_levels
    torch.manual_seed(0)
    model = WeaklySupervisedLocalizer(num_classes=3, streams=dict(rgb=6, flow=6), losses=LOSSES,
                                      classifier=classifier)
    assert ('bg' in chance_levels(model)) is judged
    assert 'fg' in chance_levels(model)
    if not judged:  # no input takes L_bg below ln(C + 1)
        logged = model.loss(*_batch())
        assert logged['loss_bg'].item() >= 0.1 * 2 * math.log(4) - 1e-6
