"""Bad input: clear errors naming the file, video and field; never a silent 0."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest

from wsal.evaluation import evaluate_detection, load_ground_truth, load_predictions, parse_tiou

from .conftest import GT_FILE, TEST_LIST

GOOD_GT = {'database': {
    'v1': {'subset': 'test', 'annotations': [{'segment': [0, 10], 'label': 'A'}]},
    'v2': {'subset': 'val', 'annotations': [{'segment': [0, 10], 'label': 'B'}]}}}


def _pred(label='A', score=0.5, segment=(0, 10), video='v1'):
    return {'results': {video: [{'label': label, 'score': score, 'segment': list(segment)}]}}


def test_unknown_labels_are_named_or_ignored_with_a_count():
    pred = {'results': {'v1': [{'label': 'A', 'score': 0.9, 'segment': [0, 10]},
                               {'label': 'Dunk', 'score': 0.8, 'segment': [0, 10]},
                               {'label': 'Dunk', 'score': 0.7, 'segment': [0, 10]}]}}
    with pytest.raises(ValueError, match=r"2 prediction\(s\) use label\(s\) unknown.*"
                                         r"'Dunk' \(2\).*--ignore-unknown-labels"):
        evaluate_detection(GOOD_GT, pred, subset='test')
    res = evaluate_detection(GOOD_GT, pred, subset='test', ignore_unknown_labels=True)
    assert res.protocol['num_predictions_unknown_label_ignored'] == 2
    assert res.ap[:, 0].min() == 1.0


def test_known_label_without_ground_truth_in_subset_is_counted_not_evaluated():
    res = evaluate_detection(GOOD_GT, _pred(label='B'), subset='test', tiou_thresholds=[0.5])
    assert res.classes == ['A'] and res.ap[0, 0] == 0.0
    assert res.protocol['num_predictions_class_without_ground_truth'] == 1
    assert res.protocol['classes_without_ground_truth'] == ['B']


def test_missing_database_and_results(tmp_path):
    f = tmp_path / 'gt.json'
    f.write_text(json.dumps({'taxonomy': []}))
    with pytest.raises(ValueError, match=r"gt\.json: no 'database' field"):
        load_ground_truth(f)
    p = tmp_path / 'pred.json'
    p.write_text(json.dumps({'version': 1}))
    with pytest.raises(ValueError, match=r"pred\.json: no 'results' field"):
        load_predictions(p)
    with pytest.raises(FileNotFoundError, match='nope.json'):
        load_predictions(tmp_path / 'nope.json')
    p.write_text('{"results": ')
    with pytest.raises(ValueError, match='not valid JSON'):
        load_predictions(p)


def test_reversed_segments_are_named():
    with pytest.raises(ValueError, match=r"video 'v1', prediction 0: 'segment' starts after"):
        load_predictions(_pred(segment=(5, 1)))
    gt = {'database': {'v9': {'subset': 'test', 'annotations': [
        {'segment': [0, 1], 'label': 'A'}, {'segment': [3, 2], 'label': 'A'}]}}}
    with pytest.raises(ValueError, match=r"video 'v9', annotation 1: 'segment' starts after"):
        load_ground_truth(gt)


@pytest.mark.parametrize('score', [math.nan, math.inf])
def test_non_finite_scores_are_named(score):
    pred = {'results': {'v1': [{'label': 'A', 'score': 0.3, 'segment': [0, 1]},
                               {'label': 'A', 'score': score, 'segment': [0, 1]}]}}
    with pytest.raises(ValueError, match=r"video 'v1', prediction 1: 'score' is (nan|inf)"):
        load_predictions(pred)


def test_malformed_entries_are_named():
    with pytest.raises(ValueError, match=r"video 'v1', prediction 0: missing 'score'"):
        load_predictions({'results': {'v1': [{'label': 'A', 'segment': [0, 1]}]}})
    with pytest.raises(ValueError, match=r"prediction 0: 'segment' must be \[start, end\]"):
        load_predictions({'results': {'v1': [{'label': 'A', 'score': 1, 'segment': [0, 1, 2]}]}})
    with pytest.raises(ValueError, match=r"prediction 0: 'label' must be a class name"):
        load_predictions({'results': {'v1': [{'label': 3, 'score': 1, 'segment': [0, 1]}]}})
    with pytest.raises(ValueError, match=r"results\['v1'\] must be a list"):
        load_predictions({'results': {'v1': {'label': 'A'}}})
    with pytest.raises(ValueError, match=r"video 'v1', annotation 0: needs 'segment' and 'label'"):
        load_ground_truth({'database': {'v1': {'annotations': [{'segment': [0, 1]}]}}})


def test_subset_selection_errors():
    with pytest.raises(ValueError, match=r"subset 'testing' has no videos; subsets present: "
                                         r'test \(1 videos\), val \(1 videos\)'):
        load_ground_truth(GOOD_GT, subset='testing')
    with pytest.raises(ValueError, match='several subsets.*--subset'):
        load_ground_truth(GOOD_GT)
    empty = {'database': {'v1': {'subset': 'test', 'annotations': []}}}
    with pytest.raises(ValueError, match="no ground-truth instances; nothing to evaluate"):
        load_ground_truth(empty, subset='test')


def test_video_list_errors(tmp_path):
    lst = tmp_path / 'videos.txt'
    lst.write_text('v1\nv_missing\n')
    with pytest.raises(ValueError, match=r'videos\.txt: 1 video\(s\) not in the ground truth.*'
                                         'v_missing'):
        load_ground_truth(GOOD_GT, subset='test', video_list=lst)
    lst.write_text('v1\nv2\n')
    with pytest.raises(ValueError, match=r"not in subset 'test'.*v2 \(subset 'val'\)"):
        load_ground_truth(GOOD_GT, subset='test', video_list=lst)
    lst.write_text('# comment\n\n')
    with pytest.raises(ValueError, match='is empty'):
        load_ground_truth(GOOD_GT, subset='test', video_list=lst)
    with pytest.raises(FileNotFoundError, match='video list not found'):
        load_ground_truth(GOOD_GT, subset='test', video_list=tmp_path / 'none.txt')


def test_bad_thresholds():
    with pytest.raises(ValueError, match=r'\[0, 1\]'):
        evaluate_detection(GOOD_GT, _pred(), subset='test', tiou_thresholds=[0.5, 1.5])
    with pytest.raises(ValueError, match='bad tIoU threshold'):
        parse_tiou(['0.1:x:0.9'])
    assert parse_tiou(['0.5:0.05:0.95']) == [0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95]
    assert parse_tiou('0.3,0.5 0.7') == [0.3, 0.5, 0.7]


def test_real_thumos14_file_loads_with_both_video_sets():
    full = load_ground_truth(GT_FILE, subset='test')
    listed = load_ground_truth(GT_FILE, subset='test', video_list=TEST_LIST)
    assert (len(full.videos), len(listed.videos)) == (212, 210)
    assert (full.num_instances, len(full.classes)) == (3358, 20)
    assert np.all(full.segments[:, 0] <= full.segments[:, 1])


def test_video_list_without_subset_defines_the_videos():
    gt = load_ground_truth(GOOD_GT, video_list=['v2', 'v1'])
    assert gt.videos == ['v1', 'v2'] and gt.subset is None and gt.excluded_videos == []
    gt = load_ground_truth(GOOD_GT, video_list=['v2'])
    assert gt.classes == ['B'] and gt.num_subset_videos == 1
