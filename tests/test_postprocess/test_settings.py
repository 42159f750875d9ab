"""Every post-processing setting is range-checked at construction, naming the key."""
import math
import warnings

import pytest
import torch

from wsal.postprocess import WeightedLogitScorer, localize_batch, op_threads
from wsal.postprocess.threads import ENV, SMALL_WORK, resolve_threads
from wsal.registry import build_postprocessor

NAN = float('nan')

BAD = [
    (dict(type='AttentionThresholdProposals', thresholds=[1.5, -0.2, 2.0]), 'thresholds[0]'),
    (dict(type='AttentionThresholdProposals', thresholds=[NAN]), 'thresholds[0]'),
    (dict(type='AttentionThresholdProposals', thresholds=[-0.5]), 'thresholds[0]'),
    (dict(type='AttentionThresholdProposals', thresholds=[]), 'thresholds must not be empty'),
    (dict(type='AttentionThresholdProposals', thresholds=[0.1, 0.1]), 'thresholds repeats'),
    (dict(type='AttentionThresholdProposals', thresholds='0.1'), 'thresholds'),
    (dict(type='TCAMThresholdProposals', thresholds=[0.2, math.inf]), 'thresholds[1]'),
    (dict(type='TCAMThresholdProposals', stream_weights={'rgb': -1.0}), 'stream_weights.rgb'),
    (dict(type='TCAMThresholdProposals', activation='relu'), 'activation'),
    (dict(type='WeightedLogitScorer', stream_weights={'rgb': NAN}), 'stream_weights.rgb'),
    (dict(type='WeightedLogitScorer', stream_weights={}), 'stream_weights'),
    (dict(type='OuterInnerContrastScorer', inflation=-0.1), 'inflation'),
    (dict(type='OuterInnerContrastScorer', inflation=NAN), 'inflation'),
    (dict(type='TemporalNMS', iou_threshold=2), 'iou_threshold'),
    (dict(type='TemporalNMS', iou_threshold=NAN), 'iou_threshold'),
    (dict(type='TemporalNMS', iou_threshold='half'), 'iou_threshold'),
    (dict(type='SoftNMS', sigma=0), 'sigma'),
    (dict(type='SoftNMS', sigma=-1), 'sigma'),
    (dict(type='SoftNMS', iou_threshold=-0.1), 'iou_threshold'),
    (dict(type='SoftNMS', score_threshold=NAN), 'score_threshold'),
    (dict(type='SoftNMS', method='box'), 'method'),
    (dict(type='DetectionPipeline', class_threshold=5), 'class_threshold'),
    (dict(type='DetectionPipeline', class_threshold=NAN), 'class_threshold'),
    (dict(type='DetectionPipeline', max_per_video=0), 'max_per_video'),
    (dict(type='DetectionPipeline', max_per_video=2.5), 'max_per_video'),
    (dict(type='DetectionPipeline', max_per_video=True), 'max_per_video'),
    (dict(type='DetectionPipeline', nms=dict(type='TemporalNMS', iou_threshold=1.5)),
     'iou_threshold'),
]


@pytest.mark.parametrize('cfg,key', BAD, ids=[f'{c["type"]}-{k}' for c, k in BAD])
def test_bad_setting_fails_at_construction_naming_the_key(cfg, key):
    with pytest.raises(ValueError) as info:
        build_postprocessor(cfg)
    msg = str(info.value)
    assert key in msg, msg
    owner = cfg['nms']['type'] if 'nms' in cfg else cfg['type']
    assert owner in msg, msg


@pytest.mark.parametrize('cfg', [
    dict(type='AttentionThresholdProposals', thresholds=[0.0, 1.0]),
    dict(type='TCAMThresholdProposals', thresholds=(0.5, 0.1), stream_weights={'rgb': 1}),
    dict(type='TemporalNMS', iou_threshold=0), dict(type='TemporalNMS', iou_threshold=1),
    dict(type='SoftNMS', sigma=1e-3, score_threshold=-1.0),
    dict(type='DetectionPipeline', class_threshold=0, max_per_video=1),
    dict(type='DetectionPipeline', class_threshold=1.0, max_per_video=3.0),
])
def test_settings_at_the_bounds_are_accepted(cfg):
    build_postprocessor(cfg)


def test_localize_batch_checks_class_threshold():
    with pytest.raises(ValueError, match='class_threshold'):
        localize_batch(torch.rand(1, 5), torch.rand(1, 5, 2), torch.rand(1, 2),
                       class_threshold=-1)


def test_deprecated_scorer_name_builds_the_same_scorer():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        old = build_postprocessor(dict(type='WeightedTCAMScorer'))
    assert isinstance(old, WeightedLogitScorer)
    assert any('WeightedLogitScorer' in str(w.message) for w in caught)


def test_thread_choice_by_work_size_and_overrides(monkeypatch):
    monkeypatch.delenv(ENV, raising=False)
    assert resolve_threads(SMALL_WORK - 1) == 1
    assert resolve_threads(SMALL_WORK) is None
    assert resolve_threads(10, num_threads=3) == 3
    monkeypatch.setenv(ENV, 'torch')
    assert resolve_threads(10) is None
    monkeypatch.setenv(ENV, '2')
    assert resolve_threads(SMALL_WORK * 4) == 2
    monkeypatch.setenv(ENV, 'many')
    with pytest.raises(ValueError, match=ENV):
        resolve_threads(10)
    with pytest.raises(ValueError, match='num_threads'):
        resolve_threads(10, num_threads=0)


def test_op_threads_sets_and_restores(monkeypatch):
    monkeypatch.delenv(ENV, raising=False)
    before = torch.get_num_threads()
    inside = []
    with op_threads(10, num_threads=before + 1):
        inside.append(torch.get_num_threads())
    assert inside == [before + 1] and torch.get_num_threads() == before
    with pytest.raises(RuntimeError):
        with op_threads(10, num_threads=before + 1):
            raise RuntimeError('boom')
    assert torch.get_num_threads() == before


@pytest.mark.parametrize('cfg,key', [
    (dict(type='ClassScoreThresholdProposals', thresholds=[0.1, NAN]), 'thresholds[1]'),
    (dict(type='ClassScoreThresholdProposals', thresholds=[1.5], relative=True), 'thresholds[0]'),
    (dict(type='ClassScoreContrastScorer', video_score_weight=-1), 'video_score_weight'),
])
def test_class_score_settings_checked(cfg, key):
    with pytest.raises(ValueError) as info:
        build_postprocessor(cfg)
    assert key in str(info.value) and cfg['type'] in str(info.value)
