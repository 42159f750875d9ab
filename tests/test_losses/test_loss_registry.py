"""Registry-driven: every wsal loss term builds with defaults and back-propagates."""
import pytest
import torch

from wsal.registry import LOSSES, build_loss, build_model

LOSSES.import_from_location()
NAMES = sorted(name for name, cls in LOSSES.module_dict.items()
               if cls.__module__.startswith('wsal.losses'))


def test_paper_terms_are_registered():
    assert {'ForegroundLoss', 'BackgroundLoss', 'SelfGuideLoss', 'ClusterLoss',
            'SparsityLoss'} <= set(NAMES)


# Terms that read a method head's outputs, and that head; the others read the
# background-modeling localizer's stream outputs.
HEAD_OF = {'MILCrossEntropyLoss': 'WTALCHead', 'CoActivitySimilarityLoss': 'WTALCHead',
           'VideoBCELoss': 'UMHead', 'FeatureMagnitudeLoss': 'UMHead',
           'SnippetContrastLoss': 'CoLAHead'}


# Terms that read a localizer part built only on request: the part's config.
PART_OF = {'ActionnessGuideLoss': dict(actionness=dict(type='MagnitudeActionness'))}


def test_method_terms_are_registered():
    assert set(HEAD_OF) <= set(NAMES)


def _model(name):
    if name in HEAD_OF:
        head = dict(type=HEAD_OF[name], embedding=dict(type='ConvEmbedding', out_channels=8,
                                                       kernel_size=3))
        if name == 'SnippetContrastLoss':  # short videos: k_hard = floor(T / 2), rings of 1..2
            head.update(ratio_easy=2, ratio_hard=2, m=1, M=2)
        return build_model(dict(type='HeadLocalizer', num_classes=3, streams=dict(rgb=6),
                                head=head, losses=dict(term=dict(type=name))))
    model = build_model(dict(type='WeaklySupervisedLocalizer', num_classes=3,
                             streams=dict(rgb=6), attention=dict(type='MLPAttention',
                                                                 hidden_channels=4),
                             losses=dict(term=dict(type=name)), **PART_OF.get(name, {})))
    # λ ≈ 0.98, above every attention target: the guide loss's two L1 terms
    # cancel for λ between its targets, which would hide a broken gradient path
    with torch.no_grad():
        model.attention['rgb'].fc2.bias.fill_(4.0)
    return model


@pytest.mark.parametrize('name', NAMES)
def test_loss_builds_with_defaults_and_backprops(name):
    torch.manual_seed(0)
    model = _model(name)
    x = torch.randn(2, 8, 6)
    mask = torch.tensor([[True] * 8, [True] * 6 + [False] * 2])
    # the videos share class 0 (the co-activity loss needs a pair)
    labels = torch.tensor([[1.0, 0.0, 0.0], [1.0, 1.0, 1.0]])
    out = model.extract({'rgb': x, 'mask': mask})
    term = build_loss(dict(type=name))
    result = term(next(iter(out['streams'].values())), labels, mask)
    assert len(result) >= 1 and all(k.startswith('loss_') for k in result)
    total = sum(result.values())
    assert total.dim() == 0 and torch.isfinite(total)
    total.backward()
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    assert grads and all(torch.isfinite(g).all() for g in grads)
    assert any(g.abs().sum() > 0 for g in grads)
