"""Score-free recall and the missed-instance breakdown (``wsal.evaluation.diagnostics``)."""
from __future__ import annotations

import json

import numpy as np
import pytest

from wsal.cli.main import main
from wsal.evaluation import evaluate_detection
from wsal.evaluation.diagnostics import MISS_CATEGORIES, format_error_table, localization_errors
from wsal.evaluation.tiou import segment_tiou

from .conftest import GT_FILE, TEST_LIST


def _hand_case():
    # video 0: two class-0 instances side by side and a class-1 instance
    # video 1: one long class-0 instance; video 2: a class-1 instance
    gt = dict(gt_video=np.array([0, 0, 0, 1, 2]), gt_class=np.array([0, 0, 1, 0, 1]),
              gt_segments=np.array([[0., 4.], [5., 9.], [20., 30.], [0., 10.], [3., 6.]]))
    pred = dict(pred_video=np.array([0, 0, 0, 1, 1, 2]), pred_class=np.array([0, 0, 1, 0, 0, 0]),
                pred_segments=np.array([[0., 9.], [0.5, 4.], [21., 29.], [0., 4.], [12., 14.],
                                        [3., 6.]]))
    return gt, pred


def test_breakdown_by_hand():
    gt, pred = _hand_case()
    d = localization_errors(**gt, **pred, tiou_thresholds=[0.5, 0.9])
    # tIoU of the best same-class detection: 3.5/4, 4/9 ([0, 9] joins both
    # instances of video 0), 8/10, 4/10, none (video 2 has only class 0)
    assert d['num_ground_truth'] == 5
    assert d['recall'] == [pytest.approx(2 / 5), 0.0]
    assert d['recall_any_class'] == [pytest.approx(3 / 5), pytest.approx(1 / 5)]
    assert d['missed'] == {'class_not_predicted': [1, 1], 'no_overlap': [0, 0], 'merged': [1, 1],
                           'too_long': [0, 0], 'too_short': [1, 3], 'shifted': [0, 0]}


def test_too_long_shifted_no_overlap_and_touching():
    gt = dict(gt_video=np.array([0, 1, 2]), gt_class=np.array([0, 0, 0]),
              gt_segments=np.array([[10., 12.], [0., 4.], [0., 4.]]))
    pred = dict(pred_video=np.array([0, 1, 2]), pred_class=np.array([0, 0, 0]),
                pred_segments=np.array([[8., 16.], [3., 7.], [4., 6.]]))  # [4, 6] only touches
    d = localization_errors(**gt, **pred, tiou_thresholds=[0.5])
    assert d['missed']['too_long'] == [1]
    assert d['missed']['shifted'] == [1]
    assert d['missed']['no_overlap'] == [1]
    assert d['recall'] == [0.0]


def test_an_instance_labelled_twice_is_not_a_neighbour():
    # one span labelled with two classes, a detection of class 0 that is too long
    gt = dict(gt_video=np.array([0, 0]), gt_class=np.array([0, 1]),
              gt_segments=np.array([[10., 14.], [10., 14.]]))
    pred = dict(pred_video=np.array([0]), pred_class=np.array([0]),
                pred_segments=np.array([[6., 20.]]))
    d = localization_errors(**gt, **pred, tiou_thresholds=[0.5])
    assert d['missed']['too_long'] == [1] and d['missed']['merged'] == [0]
    assert d['missed']['class_not_predicted'] == [1]


def test_empty_inputs():
    z = np.zeros(0, np.int64)
    d = localization_errors(gt_video=np.array([0]), gt_class=np.array([3]),
                            gt_segments=np.array([[0., 1.]]), pred_video=z, pred_class=z,
                            pred_segments=np.zeros((0, 2)), tiou_thresholds=[0.5])
    assert d['recall'] == [0.0] and d['missed']['class_not_predicted'] == [1]
    d = localization_errors(gt_video=z, gt_class=z, gt_segments=np.zeros((0, 2)), pred_video=z,
                            pred_class=z, pred_segments=np.zeros((0, 2)), tiou_thresholds=[0.5])
    assert d['num_ground_truth'] == 0 and d['recall'] == [0.0]


def test_shapes_are_checked():
    with pytest.raises(ValueError, match='gt_segments must have shape'):
        localization_errors(gt_video=np.array([0]), gt_class=np.array([0]),
                            gt_segments=np.array([0., 1.]), pred_video=np.array([0]),
                            pred_class=np.array([0]), pred_segments=np.array([[0., 1.]]),
                            tiou_thresholds=[0.5])
    with pytest.raises(ValueError, match='pred_class has 2 rows'):
        localization_errors(gt_video=np.array([0]), gt_class=np.array([0]),
                            gt_segments=np.array([[0., 1.]]), pred_video=np.array([0]),
                            pred_class=np.array([0, 1]), pred_segments=np.array([[0., 1.]]),
                            tiou_thresholds=[0.5])


def _brute_force(gt, pred, t):
    """Per-instance definition, written out with a loop."""
    m = len(gt['gt_video'])
    recalled = 0
    cats = dict.fromkeys(MISS_CATEGORIES, 0)
    for g in range(m):
        v, c, seg = gt['gt_video'][g], gt['gt_class'][g], gt['gt_segments'][g]
        same = [i for i in range(len(pred['pred_video']))
                if pred['pred_video'][i] == v and pred['pred_class'][i] == c]
        ious = [segment_tiou(seg[None], pred['pred_segments'][i][None])[0, 0] for i in same]
        if same and max(ious) >= t:
            recalled += 1
            continue
        if not same:
            cats['class_not_predicted'] += 1
            continue
        if max(ious) <= 0:
            cats['no_overlap'] += 1
            continue
        b = pred['pred_segments'][same[int(np.argmax(ious))]]
        others = [o for o in range(m) if o != g and gt['gt_video'][o] == v
                  and min(seg[1], gt['gt_segments'][o][1])
                  - max(seg[0], gt['gt_segments'][o][0]) <= 0]
        if any(min(b[1], gt['gt_segments'][o][1]) - max(b[0], gt['gt_segments'][o][0]) > 0
               for o in others):
            cats['merged'] += 1
        elif b[1] - b[0] > seg[1] - seg[0]:
            cats['too_long'] += 1
        elif b[1] - b[0] < seg[1] - seg[0]:
            cats['too_short'] += 1
        else:
            cats['shifted'] += 1
    return recalled / m, cats


@pytest.mark.parametrize('seed', [0, 1, 2])
def test_matches_the_per_instance_definition(seed):
    rng = np.random.default_rng(seed)
    m, n = 60, 200
    starts = rng.integers(0, 100, m).astype(float)
    gt = dict(gt_video=rng.integers(0, 6, m), gt_class=rng.integers(0, 3, m),
              gt_segments=np.stack([starts, starts + rng.integers(1, 20, m)], 1))
    ps = rng.integers(0, 100, n).astype(float)
    pred = dict(pred_video=rng.integers(0, 7, n), pred_class=rng.integers(0, 3, n),
                pred_segments=np.stack([ps, ps + rng.integers(1, 30, n)], 1))
    ths = [0.3, 0.5, 0.7]
    d = localization_errors(**gt, **pred, tiou_thresholds=ths)
    for ti, t in enumerate(ths):
        recall, cats = _brute_force(gt, pred, t)
        assert d['recall'][ti] == pytest.approx(recall)
        assert {k: v[ti] for k, v in d['missed'].items()} == cats
        assert sum(cats.values()) == round((1 - recall) * m)
    assert d['recall'] == sorted(d['recall'], reverse=True)
    assert all(a >= r for a, r in zip(d['recall_any_class'], d['recall']))


def test_recall_bounds_the_matched_true_positives(ref, thumos_gt):
    pred = ref.generate_predictions(thumos_gt['database'], 1500, seed=5, outside_frac=0.0)
    res = evaluate_detection(GT_FILE, pred, subset='test', video_list=TEST_LIST, diagnose=True)
    d = res.to_dict()['diagnostics']
    assert d['tiou'] == [float(t) for t in res.tiou_thresholds]
    for ti, t in enumerate(res.tiou_thresholds):
        assert sum(d['missed'][c][ti] for c in MISS_CATEGORIES) == \
            round((1 - d['recall'][ti]) * d['num_ground_truth'])
    # without diagnose the result carries none
    assert 'diagnostics' not in evaluate_detection(GT_FILE, pred, subset='test').to_dict()
    text = format_error_table(d)
    assert 'merged' in text and text.count('\n') == 1 + len(d['tiou'])


def test_eval_cli_diagnose(tmp_path, ref, thumos_gt, capsys):
    pred = ref.generate_predictions(thumos_gt['database'], 800, seed=9, outside_frac=0.0)
    pred_file = tmp_path / 'pred.json'
    pred_file.write_text(json.dumps(pred))
    out = tmp_path / 'metrics.json'
    assert main(['eval', str(GT_FILE), str(pred_file), '--subset', 'test', '--diagnose',
                 '--out', str(out)]) == 0
    text = capsys.readouterr().out
    assert 'class not predicted' in text and 'too short' in text
    saved = json.loads(out.read_text())
    assert set(saved['diagnostics']['missed']) == set(MISS_CATEGORIES)
