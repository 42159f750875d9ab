"""tIoU, interpolated AP, the matching core and the report tables."""
from __future__ import annotations

import numpy as np
import pytest

from wsal.evaluation import (evaluate_detection, format_map_comparison, format_map_table,
                             greedy_match, interpolated_ap, paired_tiou, segment_tiou)
from wsal.evaluation import matching


def test_tiou_hand_values():
    got = segment_tiou([[0.0, 2.0], [5.0, 5.0]], [[1.0, 3.0], [5.0, 6.0], [5.0, 5.0], [2.0, 4.0]])
    np.testing.assert_allclose(got, [[1 / 3, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0]])
    assert paired_tiou([0.0, 10.0], [0.0, 10.0]) == 1.0
    assert paired_tiou([0.0, 10.0], [2.0, 4.0]) == pytest.approx(0.2)


def test_interpolated_ap_hand_values():
    # TP, FP, TP with 2 positives: 0.5 * 1 + 0.5 * 2/3
    assert interpolated_ap(np.array([[1, 0, 1]], bool), 2)[0] == pytest.approx(0.5 + 1 / 3)
    # precision is made monotone from the right: FP, TP, TP -> max(1/2, 2/3) = 2/3 twice
    assert interpolated_ap(np.array([0, 1, 1], bool), 2)[0] == pytest.approx(2 / 3)
    # recall below 1 caps the area; no predictions -> 0
    assert interpolated_ap(np.array([1], bool), 4)[0] == pytest.approx(0.25)
    assert interpolated_ap(np.zeros((3, 0), bool), 4).tolist() == [0.0, 0.0, 0.0]
    with pytest.raises(ValueError):
        interpolated_ap(np.array([1], bool), 0)


def test_greedy_match_chunked_pairs_equal_unchunked(monkeypatch, ref, thumos_gt):
    pred = ref.generate_predictions(thumos_gt['database'], 1500, seed=3)
    full = evaluate_detection(thumos_gt, pred, subset='test')
    monkeypatch.setattr(matching, '_PAIR_CHUNK', 7)
    chunked = evaluate_detection(thumos_gt, pred, subset='test')
    np.testing.assert_array_equal(full.ap, chunked.ap)


def test_greedy_match_empty_inputs():
    th = np.array([0.5])
    assert greedy_match(np.zeros(0, np.int64), np.zeros((0, 2)), np.zeros(1, np.int64),
                        np.zeros((1, 2)), th).shape == (1, 0)
    tp = greedy_match(np.array([-1, 0]), np.array([[0., 1.], [0., 1.]]),
                      np.zeros(0, np.int64), np.zeros((0, 2)), th)
    assert not tp.any()


def _result(subset='test', videos=None):
    db = {'v1': {'subset': subset, 'annotations': [{'segment': [0, 10], 'label': 'A'}]},
          'v2': {'subset': subset, 'annotations': [{'segment': [0, 10], 'label': 'B'}]}}
    pred = {'results': {'v1': [{'label': 'A', 'score': 1.0, 'segment': [0, 6]}]}}
    return evaluate_detection({'database': db}, pred, video_list=videos, subset=subset)


def test_format_map_table_states_protocol():
    text = format_map_table(_result(), per_class=True)
    assert "subset 'test', 2 videos" in text and 'values in percent' in text
    lines = text.splitlines()
    mAP = next(line for line in lines if line.startswith('mAP')).split()
    # AP(A) = 1 up to tIoU 0.6, then 0; AP(B) = 0 -> mAP 50 then 0
    assert mAP[1:7] == ['50.00'] * 6 and mAP[7:10] == ['0.00'] * 3
    assert mAP[10] == f'{100 * (0.5 * 6 / 7):.2f}' and mAP[11] == f'{100 * (0.5 * 6 / 9):.2f}'
    assert format_map_table(_result().to_dict(), percent=False, digits=4).count('0.5000') == 6


def test_format_map_comparison_side_by_side():
    a, b = _result(), _result(videos=['v1'])
    same = format_map_comparison({'STPN': a, 'Ours': a.to_dict()})
    assert 'PROTOCOLS DIFFER' not in same and same.count('ground truth:') == 1
    assert [line.split()[0] for line in same.splitlines()[-2:]] == ['STPN', 'Ours']
    differ = format_map_comparison({'STPN': a, 'Ours': b})
    assert 'PROTOCOLS DIFFER' in differ and '[Ours] ground truth' in differ
    other = evaluate_detection({'database': {'v1': {'annotations': [
        {'segment': [0, 1], 'label': 'A'}]}}}, {'results': {}}, tiou_thresholds=[0.5])
    with pytest.raises(ValueError, match='not comparable'):
        format_map_comparison({'a': a, 'b': other})
