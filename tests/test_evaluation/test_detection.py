"""Detection mAP: equality with the loop reference on real THUMOS14 ground truth, edge cases."""
from __future__ import annotations

import numpy as np
import pytest

from wsal.evaluation import evaluate_detection, get_preset, load_ground_truth

from .conftest import TEST_LIST

TH = get_preset('thumos14')['tiou_thresholds']


def _compare(res, ref_classes, ref_ap):
    assert res.classes == ref_classes
    ref_ap = np.asarray(ref_ap)
    assert res.ap.shape == ref_ap.shape
    assert np.abs(res.ap - ref_ap).max() <= 1e-9


def test_thumos14_distinct_scores_match_loop_reference(ref, thumos_gt):
    pred = ref.generate_predictions(thumos_gt['database'], 12000, seed=1, outside_frac=0.2)
    res = evaluate_detection(thumos_gt, pred, subset='test', preset='thumos14')
    # default policy = the official evaluator's: other videos' predictions are false positives
    classes, ap = ref.loop_detection_ap(thumos_gt['database'], pred['results'], TH, subset='test',
                                        outside='fp')
    _compare(res, classes, ap)
    assert res.ap.shape == (9, 20)
    assert 0.05 < res.mAP[4] < 0.9  # a non-trivial operating point, not all 0 or 1
    assert res.protocol['num_videos'] == 212
    assert res.protocol['num_predictions_outside_videos'] > 0
    np.testing.assert_allclose(res.averages['0.1-0.7'], res.mAP[:7].mean(), rtol=0, atol=1e-15)
    np.testing.assert_allclose(res.average_mAP, res.mAP.mean(), rtol=0, atol=1e-15)


def test_thumos14_tied_scores_and_video_list_match_loop_reference(ref, thumos_gt):
    # scores on a coarse grid: many ties, resolved by input order in both implementations
    pred = ref.generate_predictions(thumos_gt['database'], 4000, seed=2, distinct=False,
                                    outside_frac=0.3)
    videos = TEST_LIST.read_text().split()
    for policy, outside in (('ignore', 'ignore'), ('false_positive', 'fp')):
        res = evaluate_detection(thumos_gt, pred, subset='test', video_list=TEST_LIST,
                                 tiou_thresholds=TH, outside_videos=policy)
        classes, ap = ref.loop_detection_ap(thumos_gt['database'], pred['results'], TH,
                                            subset='test', videos=videos, outside=outside)
        _compare(res, classes, ap)
        assert res.protocol['num_videos'] == 210
        assert sorted(res.protocol['videos_left_out_by_list']) == [
            'video_test_0000270', 'video_test_0001496']


def _random_case(rng):
    """A small dense case: few videos, overlapping GT, duplicates, zero-length, ties."""
    labels = ['a', 'b', 'c']
    db = {}
    for v in range(4):
        anns = []
        for _ in range(rng.integers(0, 6)):
            s = float(rng.integers(0, 20))
            e = s + float(rng.integers(0, 6))  # zero-length allowed
            anns.append({'segment': [s, e], 'label': labels[rng.integers(0, 2)]})
        db[f'v{v}'] = {'subset': 'test', 'annotations': anns}
    db['v0']['annotations'].append({'segment': [1.0, 4.0], 'label': 'a'})
    results = {}
    for v in list(db) + ['elsewhere']:
        dets = []
        for _ in range(rng.integers(0, 12)):
            s = float(rng.integers(0, 20)) + rng.choice([0.0, 0.5])
            e = s + float(rng.integers(0, 6))
            dets.append({'label': labels[rng.integers(0, 3)],
                         'score': float(rng.integers(0, 4)) / 4, 'segment': [s, e]})
        if dets:
            dets.append(dict(dets[0]))  # an exact duplicate
        results[v] = dets
    return {'database': db}, {'results': results}


@pytest.mark.parametrize('seed', range(40))
def test_random_small_cases_match_loop_reference(ref, seed):
    rng = np.random.default_rng(seed)
    gt, pred = _random_case(rng)
    # with threshold 0 every same-group pair is a candidate; without it the
    # overlap window prunes pairs: exercise both paths
    ths = [0.0, 0.1, 0.25, 1 / 3, 0.5, 0.75, 1.0] if seed % 2 else [0.1, 0.25, 1 / 3, 0.5, 1.0]
    for policy, outside in (('ignore', 'ignore'), ('false_positive', 'fp')):
        res = evaluate_detection(gt, pred, tiou_thresholds=ths, outside_videos=policy,
                                 classes=['a', 'b', 'c'])  # 'c' has predictions, never GT
        classes, ap = ref.loop_detection_ap(gt['database'], pred['results'], ths,
                                            outside=outside)
        _compare(res, classes, ap)


def _gt(*anns, video='v1', extra=None):
    db = {video: {'subset': 'test', 'annotations': [
        {'segment': list(s), 'label': lab} for lab, s in anns]}}
    db.update(extra or {})
    return {'database': db}


def _pred(*dets):
    results = {}
    for video, lab, score, seg in dets:
        results.setdefault(video, []).append({'label': lab, 'score': score, 'segment': list(seg)})
    return {'results': results}


def test_hand_computed_ap_with_duplicate_detection():
    gt = _gt(('A', (0, 10)), ('A', (20, 30)))
    pred = _pred(('v1', 'A', 0.9, (0, 10)), ('v1', 'A', 0.8, (0, 10)),  # duplicate -> FP
                 ('v1', 'A', 0.7, (21, 30)))                         # tIoU 0.9
    res = evaluate_detection(gt, pred, tiou_thresholds=[0.5, 0.95])
    # precision 1, 1/2, 2/3 at recall 1/2, 1/2, 1 -> 0.5 * 1 + 0.5 * 2/3
    np.testing.assert_allclose(res.ap[:, 0], [0.5 + 1 / 3, 0.5], rtol=0, atol=1e-12)


def test_class_without_predictions_has_zero_ap_and_counts_in_map():
    gt = _gt(('A', (0, 10)), ('B', (20, 30)))
    pred = _pred(('v1', 'A', 0.9, (0, 10)))
    res = evaluate_detection(gt, pred, tiou_thresholds=[0.5])
    assert res.classes == ['A', 'B']
    np.testing.assert_allclose(res.ap[0], [1.0, 0.0])
    assert res.mAP[0] == pytest.approx(0.5)


def test_predictions_in_video_without_ground_truth_are_false_positives():
    extra = {'v2': {'subset': 'test', 'annotations': []}}
    gt = _gt(('A', (0, 10)), extra=extra)
    pred = _pred(('v2', 'A', 0.9, (0, 10)), ('v1', 'A', 0.5, (0, 10)))
    res = evaluate_detection(gt, pred, tiou_thresholds=[0.5])
    assert res.ap[0, 0] == pytest.approx(0.5)  # precision 1/2 at recall 1
    assert res.protocol['num_videos'] == 2


def test_outside_video_policies():
    gt = {'database': {'v1': {'subset': 'test', 'annotations': [
        {'segment': [0, 10], 'label': 'A'}]}, 'w1': {'subset': 'val', 'annotations': []}}}
    pred = _pred(('w1', 'A', 0.9, (0, 10)), ('v1', 'A', 0.5, (0, 10)))
    ign = evaluate_detection(gt, pred, subset='test', tiou_thresholds=[0.5],
                             outside_videos='ignore')
    assert ign.ap[0, 0] == 1.0 and ign.protocol['num_predictions_outside_videos'] == 1
    fp = evaluate_detection(gt, pred, subset='test', tiou_thresholds=[0.5])  # default: official
    assert fp.ap[0, 0] == pytest.approx(0.5)
    assert fp.protocol['outside_videos'] == 'false_positive'
    with pytest.raises(ValueError, match="outside the evaluated set.*w1"):
        evaluate_detection(gt, pred, subset='test', outside_videos='error')


def test_zero_length_segments_never_match():
    gt = _gt(('A', (5, 5)), ('A', (0, 10)))
    pred = _pred(('v1', 'A', 0.9, (5, 5)), ('v1', 'A', 0.8, (3, 3)))
    res = evaluate_detection(gt, pred, tiou_thresholds=[0.0, 0.5])
    # tIoU is 0 for every pair (union 0 or intersection 0): at threshold 0 a
    # zero tIoU still qualifies, at 0.5 nothing matches
    assert res.ap[1, 0] == 0.0
    assert res.ap[0, 0] == pytest.approx(1.0)


def test_equal_tiou_takes_first_listed_ground_truth():
    # p1 overlaps g0 and g1 with tIoU 1/3 each: g0 (listed first) is taken, so the
    # later p2 (a perfect copy of g0) is a false positive at 0.3
    gt = _gt(('A', (0, 10)), ('A', (10, 20)))
    pred = _pred(('v1', 'A', 0.9, (5, 15)), ('v1', 'A', 0.8, (0, 10)))
    res = evaluate_detection(gt, pred, tiou_thresholds=[0.3])
    assert res.ap[0, 0] == pytest.approx(0.5)
    # listing the instances the other way round makes p2 a true positive
    gt2 = _gt(('A', (10, 20)), ('A', (0, 10)))
    assert evaluate_detection(gt2, pred, tiou_thresholds=[0.3]).ap[0, 0] == pytest.approx(1.0)


def test_equal_scores_keep_input_order():
    gt = _gt(('A', (0, 10)))
    miss_first = _pred(('v1', 'A', 0.5, (30, 40)), ('v1', 'A', 0.5, (0, 10)))
    hit_first = _pred(('v1', 'A', 0.5, (0, 10)), ('v1', 'A', 0.5, (30, 40)))
    assert evaluate_detection(gt, miss_first, tiou_thresholds=[0.5]).ap[0, 0] == pytest.approx(0.5)
    assert evaluate_detection(gt, hit_first, tiou_thresholds=[0.5]).ap[0, 0] == pytest.approx(1.0)


def test_highest_tiou_unmatched_wins_and_threshold_is_inclusive():
    gt = _gt(('A', (0, 10)), ('A', (4, 14)))
    # tIoU with g0 = 0.5 exactly, with g1 = 6/14
    pred = _pred(('v1', 'A', 0.9, (0, 10 - 0)), ('v1', 'A', 0.8, (0, 5)))
    res = evaluate_detection(gt, pred, tiou_thresholds=[0.5])
    # p1 -> g0 (tIoU 1); p2: g0 taken, g1 tIoU 1/14 -> FP
    assert res.ap[0, 0] == pytest.approx(0.5)
    pred = _pred(('v1', 'A', 0.9, (0, 5)))
    assert evaluate_detection(gt, pred, tiou_thresholds=[0.5]).ap[0, 0] == pytest.approx(0.5)


def test_presets_and_ranges():
    assert get_preset('thumos14')['tiou_thresholds'] == [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7,
                                                         0.8, 0.9]
    anet = get_preset('activitynet')['tiou_thresholds']
    assert len(anet) == 10 and anet[0] == 0.5 and anet[-1] == 0.95 and anet[1] == 0.55
    gt = _gt(('A', (0, 10)))
    res = evaluate_detection(gt, _pred(('v1', 'A', 1.0, (0, 8))), preset='activitynet')
    assert list(res.averages) == ['0.5-0.95']
    np.testing.assert_allclose(res.mAP, [1.0] * 7 + [0.0] * 3)  # tIoU 0.8
    res = evaluate_detection(gt, _pred(('v1', 'A', 1.0, (0, 8))), tiou_thresholds=[0.3, 0.5],
                             average_ranges=['0.3-0.3'])
    assert res.averages == {'0.3-0.3': 1.0, '0.3-0.5': 1.0}
    with pytest.raises(ValueError, match='contains none'):
        evaluate_detection(gt, _pred(), tiou_thresholds=[0.5], average_ranges=[(0.6, 0.7)])


def test_result_json_form(thumos_gt, ref):
    pred = ref.generate_predictions(thumos_gt['database'], 500, seed=5)
    res = evaluate_detection(thumos_gt, pred, subset='test', video_list=TEST_LIST)
    d = res.to_dict()
    assert set(d) == {'tiou', 'mAP', 'average_mAP', 'averages', 'per_class_AP', 'protocol'}
    assert len(d['per_class_AP']) == 20 and all(len(v) == 9 for v in d['per_class_AP'].values())
    p = d['protocol']
    assert p['subset'] == 'test' and p['num_videos'] == 210 and p['values'].startswith('fraction')
    assert p['tiou_thresholds'] == d['tiou'] and p['video_list'].endswith('thumos14_split_test.txt')


def test_classes_argument_orders_columns():
    gt = _gt(('A', (0, 10)), ('B', (20, 30)))
    res = evaluate_detection(gt, _pred(('v1', 'B', 1.0, (20, 30))), tiou_thresholds=[0.5],
                             classes=['C', 'B', 'A'])
    assert res.classes == ['B', 'A'] and res.protocol['classes_without_ground_truth'] == ['C']
    np.testing.assert_allclose(res.ap[0], [1.0, 0.0])


def test_loaded_ground_truth_is_reusable(thumos_gt, ref):
    gt = load_ground_truth(thumos_gt, subset='test', video_list=TEST_LIST)
    pred = ref.generate_predictions(thumos_gt['database'], 300, seed=7)
    a = evaluate_detection(gt, pred)
    b = evaluate_detection(thumos_gt, pred, subset='test', video_list=TEST_LIST)
    np.testing.assert_array_equal(a.ap, b.ap)
    with pytest.raises(ValueError, match='already loaded'):
        evaluate_detection(gt, pred, subset='test')
