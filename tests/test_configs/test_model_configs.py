"""Every config under configs/ builds; method configs encode Table 1 exactly."""
from pathlib import Path

import pytest
import torch
from mmengine.config import Config, DictAction

import wsal

ROOT = Path(__file__).resolve().parents[2] / 'configs'
METHOD_CONFIGS = sorted(p for p in ROOT.rglob('*.py') if '_base_' not in p.parts
                        and 'sweeps' not in p.parts)  # sweeps/: generator settings, no model
MODEL_BASES = sorted((ROOT / '_base_' / 'models').glob('*.py'))


def rel(path):
    return str(path.relative_to(ROOT))


def load(name):
    return Config.fromfile(str(ROOT / name))


@pytest.mark.parametrize('path', METHOD_CONFIGS + MODEL_BASES, ids=rel)
def test_config_builds_trains_and_predicts(path):
    cfg = Config.fromfile(str(path))
    torch.manual_seed(0)
    model = wsal.build_model(cfg)
    assert isinstance(model, wsal.models.StreamLocalizer)
    B, T = 2, 9
    inputs = {name: torch.randn(B, T, dim) for name, dim in model.input_streams.items()}
    inputs['mask'] = torch.tensor([[True] * T, [True] * 6 + [False] * 3])
    C = model.num_classes
    samples = [{'video_id': f'v{i}', 'label': torch.eye(C)[i], 'num_segments': n,
                'seconds_per_segment': 0.64, 'duration': 0.64 * n}
               for i, n in enumerate((T, 6))]
    model.set_train_progress(0, 10)  # loss ramps (loss_warmup) follow the run
    losses = model.loss(inputs, samples)
    assert losses and all(torch.isfinite(v) for v in losses.values())
    sum(losses.values()).backward()
    # DDP needs every parameter to take part in the loss
    assert [n for n, p in model.named_parameters() if p.grad is None] == []
    model.eval()
    with torch.no_grad():
        results = model.predict(inputs, samples)
    assert [r['video_id'] for r in results] == ['v0', 'v1']
    assert results[1]['attention'].shape == (6,)


TABLE1 = {  # Table 1 rows -> loss terms switched on
    # rows 1-2 are STPN's; the guided background-aware rows add the cross-stream consensus term
    'ablation/r1_fg_i3d_thumos14.py': {'fg'},
    'ablation/r2_fg-sparse_i3d_thumos14.py': {'fg', 'sparsity'},
    'ablation/r3_fg-guide_i3d_thumos14.py': {'fg', 'guide', 'consensus'},
    'ablation/r4_fg-bg_i3d_thumos14.py': {'fg', 'bg'},  # no guide: λ saturates
    'ablation/r5_fg-bg-guide_i3d_thumos14.py': {'fg', 'bg', 'guide', 'consensus'},
    'ablation/r6_fg-bg-cluster_i3d_thumos14.py': {'fg', 'bg', 'cluster'},  # likewise
    'ablation/r7_fg-guide-cluster_i3d_thumos14.py': {'fg', 'guide', 'cluster', 'consensus'},
    'ablation/r8_full_i3d_thumos14.py': {'fg', 'bg', 'guide', 'cluster', 'consensus'},
    'bm/bm_i3d_thumos14.py': {'fg', 'bg', 'guide', 'cluster', 'consensus'},
    'bm/bm_paper-loss_i3d_thumos14.py': {'fg', 'bg', 'guide', 'cluster'},  # eq. 11 exactly
    'bm/bm_i3d_early_fusion_thumos14.py': {'fg', 'bg', 'guide', 'cluster'},  # one stream
    'stpn/stpn_i3d_thumos14.py': {'fg', 'sparsity'},
    'activitynet/bm_i3d_activitynet13.py': {'fg', 'bg', 'guide', 'cluster', 'consensus'},
    'activitynet/stpn_i3d_activitynet13.py': {'fg', 'sparsity'},
}


@pytest.mark.parametrize('name', sorted(TABLE1))
def test_loss_terms_per_config(name):
    cfg = load(name)
    on = {k for k, v in cfg.model.losses.items() if v is not None}
    assert on == TABLE1[name]
    weights = {k: v['weight'] for k, v in cfg.model.losses.items() if v is not None}
    expected = {'fg': 1.0, 'bg': 0.1, 'guide': 0.1, 'cluster': 0.1, 'sparsity': 0.04,
                'consensus': 0.1}
    assert weights == {k: expected[k] for k in on}  # eq. 11: α = β = γ = 0.1


@pytest.mark.parametrize('name', sorted(TABLE1))
def test_the_classifier_reads_an_embedding_except_in_stpns_rows(name):
    embedding = load(name).model.get('embedding')
    if 'sparsity' in TABLE1[name] or name.startswith('ablation/r1_'):  # STPN, and its row 1
        assert embedding is None
    else:
        assert dict(embedding) == dict(type='ConvEmbedding', out_channels=512, kernel_size=1,
                                       dropout=0.7)


@pytest.mark.parametrize('name', sorted(TABLE1))
def test_stpn_and_every_table1_row_see_the_same_inputs(name):
    # the shared input every part sees: the stored features on every compared row
    assert load(name).model.get('input_norm') is None


def test_every_ablation_row_has_a_config():
    assert {rel(p) for p in (ROOT / 'ablation').glob('*.py')} == {
        k for k in TABLE1 if k.startswith('ablation/')}


def _flatten(d, prefix=''):
    out = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(_flatten(v, f'{prefix}{k}.'))
        else:
            out[f'{prefix}{k}'] = v
    return out


@pytest.mark.parametrize('bm,stpn', [('bm/bm_i3d_thumos14.py', 'stpn/stpn_i3d_thumos14.py'),
                                     ('activitynet/bm_i3d_activitynet13.py',
                                      'activitynet/stpn_i3d_activitynet13.py')])
def test_stpn_and_bm_differ_only_in_losses_proposals_and_classifier(bm, stpn):
    a, b = load(bm), load(stpn)
    fa, fb = _flatten(a.to_dict()), _flatten(b.to_dict())
    diff = {k for k in set(fa) | set(fb) if fa.get(k, object()) != fb.get(k, object())}
    allowed = ('model.losses.', 'model.test_cfg.proposal.', 'model.test_cfg.scorer.',
               'model.test_cfg.nms.', 'model.classifier.background', 'model.embedding')
    # STPN keeps eq. 2's background row; the background-aware model centres the class logits
    assert (a.model.classifier.background, b.model.classifier.background) == ('centred', 'row')
    # STPN's classifier reads the features; the background-aware model's an embedding of them
    assert a.model.embedding.type == 'ConvEmbedding' and b.model.embedding is None
    assert {k for k in diff if not k.startswith(allowed)} == set()
    assert a.model.pooling.normalize == b.model.pooling.normalize == 'length'  # 1/T, eqs. 1, 4
    assert a.model.test_cfg.scorer.type == 'OuterInnerContrastScorer'
    assert b.model.test_cfg.scorer.type == 'WeightedLogitScorer'  # STPN's mean score
    # the background-aware proposals threshold λ's quantiles per video; the score
    # weights the logits with λ rescaled to each video's range
    assert a.model.test_cfg.proposal.normalize == 'quantile'
    assert a.model.test_cfg.scorer.normalize == 'minmax'
    assert b.model.test_cfg.scorer.get('normalize') is None  # STPN as published
    # ... scaled by the class's video probability; STPN's score is not
    assert a.model.test_cfg.scorer.video_score == 'scale'
    assert b.model.test_cfg.scorer.get('video_score') is None
    assert a.model.test_cfg.proposal.type == 'AttentionThresholdProposals'
    assert b.model.test_cfg.proposal.type == 'TCAMThresholdProposals'
    # Gaussian soft-NMS over the distinct proposals; STPN keeps greedy NMS at 0.5
    assert (a.model.test_cfg.nms.type, a.model.test_cfg.nms.sigma) == ('SoftNMS', 0.5)
    assert a.model.test_cfg.nms.unique is True
    assert b.model.test_cfg.nms.to_dict() == {'type': 'TemporalNMS', 'iou_threshold': 0.5}


def test_activitynet_has_200_classes_and_paper_thresholds():
    for name in ('activitynet/bm_i3d_activitynet13.py', 'activitynet/stpn_i3d_activitynet13.py'):
        assert load(name).model.num_classes == 200
    cfg = load('bm/bm_i3d_thumos14.py')
    proposal = cfg.model.test_cfg.proposal
    # λ's quantiles per video, thresholds over the whole range (README, "Model settings")
    assert proposal.normalize == 'quantile'
    assert proposal.thresholds == pytest.approx([0.05 * i for i in range(20)])
    stpn = load('stpn/stpn_i3d_thumos14.py').model.test_cfg.proposal
    assert stpn.thresholds == pytest.approx([0.025 * i for i in range(21)])  # the paper's list
    assert cfg.model.test_cfg.class_threshold == 0.1
    assert load('stpn/stpn_i3d_thumos14.py').model.test_cfg.nms.iou_threshold == 0.5


def test_magnitude_actionness_config_is_bm_plus_its_parts():
    a = _flatten(load('bm/bm_i3d_thumos14.py').to_dict())
    b = _flatten(load('bm/bm_magnitude-actionness_i3d_thumos14.py').to_dict())
    changed = {k for k in set(a) | set(b) if a.get(k) != b.get(k)}
    assert changed and all(k.startswith(('model.actionness', 'model.losses.magnitude.',
                                         'model.losses.actionness.',
                                         'model.loss_warmup.actionness')) for k in changed)
    assert b['model.losses.magnitude.keys'] == ('magnitude_act_feature', 'magnitude_bg_feature')
    assert b['model.actionness_ranking'] == 'mean'


def test_the_printed_form_of_eqs_2_and_8_9_builds_from_bm_paper_loss():
    """The options bm_paper-loss's comment and the README give restore eqs. 2 and 8-9."""
    text = (ROOT / 'bm' / 'bm_paper-loss_i3d_thumos14.py').read_text()
    comment = ' '.join(line.lstrip('# ') for line in text.splitlines() if line.startswith('#'))
    options = comment.rsplit('--cfg-options', 1)[1].split('`', 1)[0].split()
    assert options, 'bm_paper-loss names no --cfg-options'
    cfg = load('bm/bm_paper-loss_i3d_thumos14.py')
    # values parsed as --cfg-options parses them ('False' a bool)
    cfg.merge_from_dict({k: DictAction._parse_iterable(v)
                         for k, v in (option.split('=', 1) for option in options)})
    model = wsal.build_model(cfg)
    term = model.losses['cluster']
    assert (term.head, term.classes, term.background) == ('cluster', 'all', 'classifier')
    assert not term.detach_attention
    assert model.cluster_head is not None
    assert all(c.background == 'row' for c in model.classifier.values())


@pytest.mark.parametrize('name', ['bm/bm_i3d_thumos14.py', 'ablation/r6_fg-bg-cluster_i3d_thumos14.py',
                                  'ablation/r7_fg-guide-cluster_i3d_thumos14.py',
                                  'ablation/r8_full_i3d_thumos14.py'])
def test_the_configs_cluster_term_trains_the_classifier_only(name):
    term = wsal.build_model(load(name)).losses['cluster']
    assert term.detach_attention and not term.detach_classifier
    assert (term.head, term.classes, term.background) == ('classifier', 'labelled', 'negated')
