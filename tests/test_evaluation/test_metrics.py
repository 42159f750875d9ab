"""The mmengine metrics: DetectionMAP, ClassificationMAP, AttentionHealth."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from mmengine.evaluator import Evaluator

from wsal.evaluation import (AttentionHealth, ClassificationMAP, DetectionMAP,
                             evaluate_detection)
from wsal.evaluation.attention_health import class_aucs, stream_agreement
from wsal.registry import METRICS, build_metric

from .conftest import GT_FILE, TEST_LIST


def _predict_outputs(pred_json, gt_json, classes, subset='test'):
    """Turn ActivityNet dicts into per-video predict outputs (docs/design.md)."""
    idx = {c: i for i, c in enumerate(classes)}
    db = gt_json['database']
    out = []
    for vid, entries in pred_json['results'].items():
        anns = db[vid]['annotations']
        out.append({
            'video_id': vid,
            'detections': {
                'segments': torch.tensor([e['segment'] for e in entries],
                                         dtype=torch.float64).reshape(-1, 2),
                'scores': torch.tensor([e['score'] for e in entries], dtype=torch.float64),
                'labels': torch.tensor([idx[e['label']] for e in entries], dtype=torch.long)},
            'gt_segments': torch.tensor([a['segment'] for a in anns]).reshape(-1, 2),
            'gt_labels': torch.tensor([idx[a['label']] for a in anns], dtype=torch.long),
        })
    return out


def test_metrics_are_registered():
    for name in ('DetectionMAP', 'ClassificationMAP', 'AttentionHealth'):
        assert METRICS.get(name) is not None
    m = build_metric(dict(type='DetectionMAP', preset='activitynet'))
    assert isinstance(m, DetectionMAP) and m.tiou_thresholds[-1] == 0.95


def test_detection_map_with_ann_file_equals_functional_api(ref, thumos_gt, tmp_path):
    pred = ref.generate_predictions(thumos_gt['database'], 3000, seed=11)
    pred['results'] = {v: d for v, d in pred['results'].items()
                       if thumos_gt['database'][v]['subset'] == 'test'}
    classes = sorted({a['label'] for e in thumos_gt['database'].values()
                      for a in e['annotations']})
    ev = Evaluator(dict(type='DetectionMAP', _scope_='wsal', ann_file=str(GT_FILE),
                        video_list=str(TEST_LIST), prediction_file=str(tmp_path / 'p.json'),
                        metrics_file=str(tmp_path / 'm.json')))
    ev.dataset_meta = {'classes': classes}
    outputs = _predict_outputs(pred, thumos_gt, classes)
    ev.process(outputs[:50])
    ev.process(outputs[50:])
    metrics = ev.evaluate(len(outputs))
    ref_res = evaluate_detection(thumos_gt, pred, subset='test', video_list=TEST_LIST)
    assert set(metrics) == {f'detection/mAP@{t:g}' for t in ref_res.tiou_thresholds} | {
        'detection/avg_mAP_0.1-0.7', 'detection/avg_mAP_0.1-0.9'}
    for t, v in zip(ref_res.tiou_thresholds, ref_res.mAP):
        assert metrics[f'detection/mAP@{t:g}'] == pytest.approx(v, abs=1e-12)
    assert metrics['detection/avg_mAP_0.1-0.7'] == pytest.approx(ref_res.averages['0.1-0.7'])
    saved = json.loads((tmp_path / 'm.json').read_text())
    assert saved['protocol']['num_videos'] == 210 and saved['protocol']['preset'] == 'thumos14'
    again = evaluate_detection(GT_FILE, tmp_path / 'p.json', subset='test', video_list=TEST_LIST)
    np.testing.assert_allclose(again.ap, ref_res.ap, rtol=0, atol=1e-12)


def test_detection_map_from_predict_output_ground_truth(ref, thumos_gt):
    pred = ref.generate_predictions(thumos_gt['database'], 1500, seed=12)
    pred['results'] = {v: d for v, d in pred['results'].items()
                       if thumos_gt['database'][v]['subset'] == 'test'}
    classes = sorted({a['label'] for e in thumos_gt['database'].values()
                      for a in e['annotations']})
    metric = DetectionMAP(tiou_thresholds=[0.3, 0.5, 0.7])
    metric.dataset_meta = {'classes': classes}
    outputs = _predict_outputs(pred, thumos_gt, classes)
    metric.process({}, outputs)
    metrics = metric.compute_metrics(metric.results)
    # ground truth = the processed videos only
    sub = {'database': {v: thumos_gt['database'][v] for v in pred['results']}}
    ref_res = evaluate_detection(sub, pred, tiou_thresholds=[0.3, 0.5, 0.7], subset='test')
    assert metrics['mAP@0.5'] == pytest.approx(ref_res.mAP[1], abs=1e-12)
    assert set(metrics) == {'mAP@0.3', 'mAP@0.5', 'mAP@0.7', 'avg_mAP_0.3-0.7'}


def test_detection_map_errors_are_clear():
    metric = DetectionMAP()
    with pytest.raises(ValueError, match="video 'x' has no 'detections' field"):
        metric.process({}, [{'video_id': 'x'}])
    metric.process({}, [{'video_id': 'x', 'detections': {
        'segments': torch.zeros(0, 2), 'scores': torch.zeros(0), 'labels': torch.zeros(0)},
        'gt_segments': torch.tensor([[0., 1.]]), 'gt_labels': torch.tensor([0])}])
    with pytest.raises(ValueError, match=r"dataset_meta\['classes'\]"):
        metric.compute_metrics(metric.results)


def test_classification_map_hand_computed():
    metric = ClassificationMAP()
    scores = [[0.9, 0.1], [0.8, 0.7], [0.3, 0.2], [0.1, 0.6]]
    labels = [[1, 0], [0, 1], [1, 0], [0, 0]]
    metric.process({}, [{'video_id': str(i), 'video_scores': torch.tensor(s),
                         'label': torch.tensor(lab, dtype=torch.float)}
                        for i, (s, lab) in enumerate(zip(scores, labels))])
    out = metric.compute_metrics(metric.results)
    # class 0: ranks 1 (pos), 2, 3 (pos): AP = (1 + 2/3) / 2; class 1: rank 1 (pos): AP = 1
    assert out['mAP'] == pytest.approx(((1 + 2 / 3) / 2 + 1.0) / 2)
    assert out['num_classes'] == 2


def test_classification_ties_do_not_depend_on_order():
    from wsal.evaluation import ranked_ap
    s = np.array([[0.5], [0.5], [0.1]])
    a = ranked_ap(s, np.array([[1], [0], [1]]))
    b = ranked_ap(s, np.array([[0], [1], [1]]))
    assert a[0] == pytest.approx(b[0]) == pytest.approx(0.5 * 0.5 + 0.5 * 2 / 3)


def _health_samples(lams, gt=((2.0, 4.0),), sps=0.5):
    return [{'video_id': f'v{i}', 'attention': torch.tensor(lam, dtype=torch.float32),
             'gt_segments': torch.tensor(gt), 'seconds_per_segment': sps}
            for i, lam in enumerate(lams)]


def test_attention_health_statistics():
    lam = np.full(10, 0.1)
    lam[4:8] = 0.9  # frames 4..7 have centres 2.25..3.75 s, inside [2, 4]
    metric = AttentionHealth()
    metric.process({}, _health_samples([lam]))
    out = metric.compute_metrics(metric.results)
    assert out['lambda_in'] == pytest.approx(0.9)
    assert out['lambda_out'] == pytest.approx(0.1)
    assert out['in_out_ratio'] == pytest.approx(9.0)
    assert out['frac_above_0.5'] == pytest.approx(0.4)
    assert (out['lambda_min'], out['lambda_max']) == pytest.approx((0.1, 0.9))
    assert out['collapsed'] == 0.0 and out['saturated'] == 0.0


def test_attention_health_auc_within_videos_ignores_the_level_across_videos():
    """Two videos, each ordered perfectly (inside above outside) but the second at a
    level above the first everywhere: pooled, the first video's action frames rank
    below the second's background; within each video the order is perfect."""
    low, high = np.full(10, 0.1), np.full(10, 0.8)
    low[4:8], high[4:8] = 0.3, 0.9
    no_gt = np.linspace(0.0, 1.0, 10)                    # no frame inside: left out
    samples = _health_samples([low, high, no_gt])
    samples[2]['gt_segments'] = torch.zeros(0, 2)
    metric = AttentionHealth()
    metric.process({}, samples)
    out = metric.compute_metrics(metric.results)
    assert out['auc_video'] == pytest.approx(1.0)
    # pooled over 30 frames: 8 inside against 22 outside, of which the 6 + 10
    # frames above 0.3 outrank the first video's actions
    assert out['auc'] < 0.9
    flipped = _health_samples([1.0 - low, high])
    metric = AttentionHealth()
    metric.process({}, flipped)
    assert metric.compute_metrics(metric.results)['auc_video'] == pytest.approx(0.5)


@pytest.mark.parametrize('value,flag', [(1e-4, 'collapsed'), (0.999, 'saturated')])
def test_attention_health_flags_degenerate_attention(value, flag):
    ev = Evaluator(dict(type='AttentionHealth', _scope_='wsal'))
    ev.process(_health_samples([np.full(20, value), np.full(30, value)]))
    out = ev.evaluate(2)
    assert out[f'health/{flag}'] == 1.0
    other = {'collapsed': 'saturated', 'saturated': 'collapsed'}[flag]
    assert out[f'health/{other}'] == 0.0


def test_attention_health_missing_field():
    with pytest.raises(ValueError, match="video 'v0' has no 'seconds_per_segment' field"):
        AttentionHealth().process({}, [{'video_id': 'v0', 'attention': torch.zeros(3),
                                        'gt_segments': torch.zeros(0, 2)}])


def test_attention_health_reports_each_stream(caplog):
    """rgb collapsed at 0 and flow saturated at 1 average to a plausible 0.5:
    only the per-stream keys reveal it."""
    samples = _health_samples([np.full(10, 0.5), np.full(12, 0.5)])
    for s, T in zip(samples, (10, 12)):
        s['stream_attention'] = {'rgb': torch.full((T,), 1e-4), 'flow': torch.full((T,), 0.9999)}
    ev = Evaluator(dict(type='AttentionHealth', _scope_='wsal'))
    ev.process(samples)
    out = ev.evaluate(2)
    assert out['health/collapsed'] == 0.0 and out['health/saturated'] == 0.0
    assert out['health/rgb/collapsed'] == 1.0 and out['health/rgb/saturated'] == 0.0
    assert out['health/flow/saturated'] == 1.0 and out['health/flow/collapsed'] == 0.0
    assert out['health/rgb/lambda_max'] == pytest.approx(1e-4)
    assert out['health/flow/lambda_in'] == pytest.approx(0.9999)
    assert out['health/rgb/auc_video'] == pytest.approx(0.5)   # constant λ: ties count half


def test_class_aucs_compare_the_class_map_and_lambda_on_each_class_frames():
    """Two classes in one video: class 3 on frames 0-3, class 5 on frames 6-9 (sps 1).
    λ is high on both; the class-3 column is high only on class 3's frames and the
    class-5 column is reversed, so against class 5's frames it ranks them last."""
    lam = np.array([.9, .9, .9, .9, .1, .1, .8, .8, .8, .8])
    cmap = np.stack([np.r_[np.full(4, 2.0), np.zeros(6)],          # class 3
                     np.r_[np.full(6, 1.0), np.zeros(4)]], 1)      # class 5, reversed
    gt = np.array([[0.0, 3.9], [6.0, 9.9]])
    rows = class_aucs(lam, cmap, np.array([3, 5]), gt, np.array([3, 5]), 1.0)
    # class 3: map perfect; λ ranks frames 0-3 (0.9) above 6-9 (0.8) and 4-5 (0.1)
    # class 5: map inverted (0); λ: 0.8 below the four 0.9 frames, above the two 0.1
    assert rows.ravel().tolist() == pytest.approx([1.0, 1.0, 0.0, 8 / 24])
    whole = class_aucs(lam, cmap[:, :1], np.array([3]), np.array([[0.0, 10.0]]),
                       np.array([3]), 1.0)
    assert whole.shape == (0, 2)                     # every frame inside: no AUC


def test_attention_health_reports_class_map_and_lambda_aucs_when_given():
    lam = np.array([.9, .9, .9, .9, .1, .1, .8, .8, .8, .8])
    samples = _health_samples([lam, lam], gt=((0.0, 3.9), (6.0, 9.9)), sps=1.0)
    for s in samples:
        s['gt_labels'] = torch.tensor([3, 5])
    plain = AttentionHealth()
    plain.process({}, samples)
    out = plain.compute_metrics(plain.results)
    assert 'auc_class_map' not in out and 'auc_class_lambda' not in out
    samples[0]['class_map'] = torch.tensor(np.stack([np.r_[np.full(4, 2.0), np.zeros(6)],
                                                     np.r_[np.zeros(6), np.ones(4)]], 1))
    samples[0]['class_map_labels'] = torch.tensor([3, 5])
    samples[1]['class_map'] = torch.zeros(10, 1)     # one column, constant: AUC 0.5
    samples[1]['class_map_labels'] = torch.tensor([5])
    ev = Evaluator(dict(type='AttentionHealth', _scope_='wsal'))
    ev.process(samples)
    out = ev.evaluate(2)
    # pairs: (1, 1), (1, 1/3), (0.5, 1/3)
    assert out['health/auc_class_map'] == pytest.approx(2.5 / 3)
    assert out['health/auc_class_lambda'] == pytest.approx((1 + 2 / 3) / 3)
    bad = _health_samples([lam], sps=1.0)
    bad[0]['class_map'], bad[0]['class_map_labels'] = torch.zeros(9, 1), torch.tensor([3])
    bad[0]['gt_labels'] = torch.tensor([3])
    with pytest.raises(ValueError, match=r"video 'v0': class_map \[9, 1\] for 10 frames"):
        AttentionHealth().process({}, bad)
    del bad[0]['gt_labels']
    with pytest.raises(ValueError, match="video 'v0': class_map without gt_labels"):
        AttentionHealth().process({}, bad)


def test_stream_agreement_is_the_mean_within_video_correlation():
    t = np.linspace(0, 1, 20)
    same = {'rgb': t, 'flow': 0.5 * t + 0.2}               # correlation 1
    mirror = {'rgb': 1 - t, 'flow': t}                     # correlation -1
    flat = {'rgb': np.full(20, 0.7), 'flow': t}            # undefined: left out
    assert stream_agreement([same, mirror, flat], ['rgb', 'flow']) == pytest.approx(0.0)
    assert stream_agreement([same, flat], ['rgb', 'flow']) == pytest.approx(1.0)
    assert np.isnan(stream_agreement([flat], ['rgb', 'flow']))


def test_attention_health_reports_stream_agreement_only_when_defined():
    samples = _health_samples([np.full(10, 0.5), np.full(12, 0.5)])
    rng = np.random.default_rng(0)
    for s, T in zip(samples, (10, 12)):
        x = rng.random(T)
        s['stream_attention'] = {'rgb': torch.tensor(x), 'flow': torch.tensor(1 - x)}
    ev = Evaluator(dict(type='AttentionHealth', _scope_='wsal'))
    ev.process(samples)
    assert ev.evaluate(2)['health/stream_agreement'] == pytest.approx(-1.0)
    for s in samples:
        s['stream_attention']['rgb'] = torch.full_like(s['stream_attention']['rgb'], 0.3)
    ev = Evaluator(dict(type='AttentionHealth', _scope_='wsal'))
    ev.process(samples)
    assert 'health/stream_agreement' not in ev.evaluate(2)


@pytest.mark.parametrize('kwargs,key', [
    (dict(tiou_thresholds=[0.5, 1.5]), 'tiou_thresholds[1]'),
    (dict(tiou_thresholds=[0.0]), 'tiou_thresholds[0]'),
    (dict(tiou_thresholds=[float('nan')]), 'tiou_thresholds[0]'),
    (dict(tiou_thresholds=[0.5, 0.5]), 'tiou_thresholds repeats'),
    (dict(tiou_thresholds=[]), 'tiou_thresholds must not be empty'),
    (dict(tiou_thresholds=[0.3, 0.5], average_ranges=[(0.6, 0.9)]), 'average_ranges'),
    (dict(average_ranges=[(0.7, 0.1)]), 'average_ranges'),
    (dict(outside_videos='drop'), 'outside_videos'),
])
def test_detection_map_settings_checked_at_construction(kwargs, key):
    with pytest.raises(ValueError) as info:
        DetectionMAP(**kwargs)
    assert 'DetectionMAP' in str(info.value) and key in str(info.value)


@pytest.mark.parametrize('kwargs,key', [
    (dict(collapse_below=-0.1), 'collapse_below'), (dict(saturate_above=1.5), 'saturate_above'),
    (dict(collapse_below=float('nan')), 'collapse_below'),
    (dict(collapse_below=0.9, saturate_above=0.5), 'collapse_below'),
])
def test_attention_health_settings_checked_at_construction(kwargs, key):
    with pytest.raises(ValueError) as info:
        AttentionHealth(**kwargs)
    assert 'AttentionHealth' in str(info.value) and key in str(info.value)
