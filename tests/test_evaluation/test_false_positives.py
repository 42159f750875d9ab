"""The false-positive profile of a ranked detection list (``wsal.evaluation.false_positives``)."""
from __future__ import annotations

import json

import numpy as np
import pytest

from wsal.cli.main import main
from wsal.evaluation import evaluate_detection
from wsal.evaluation.false_positives import (FP_CATEGORIES, false_positive_profile,
                                             format_false_positive_table)

from .conftest import GT_FILE, TEST_LIST


def _hand_case():
    # video 0: class 0 at [0, 10] and [20, 30], class 1 at [40, 50]; video -1 has no ground truth
    gt = dict(gt_video=np.array([0, 0, 0]), gt_class=np.array([0, 0, 1]),
              gt_segments=np.array([[0., 10.], [20., 30.], [40., 50.]]))
    pred = dict(
        pred_video=np.array([0, 0, 0, 0, 0, 0, -1, 0, 0]),
        pred_class=np.array([0, 0, 0, 0, 0, 0, 0, 0, 1]),
        pred_segments=np.array([[0., 10.], [0., 10.], [40., 50.], [20., 24.], [40., 43.],
                                [60., 70.], [0., 5.], [20., 30.], [40., 50.]]),
        pred_scores=np.array([.9, .8, .7, .6, .5, .4, .3, .2, .5]))
    return gt, pred


def test_profile_by_hand():
    gt, pred = _hand_case()
    fp = false_positive_profile(**gt, **pred, tiou_thresholds=[0.5, 0.3], num_classes=2)
    # at 0.5: [0, 10] twice (a true positive, then a double detection), class 1's
    # instance (wrong label), [20, 24] (tIoU 0.4: localization), [40, 43] (0.3 with
    # class 1: confusion), [60, 70] and the video without ground truth (background)
    assert {c: v[0] for c, v in fp['counts'].items()} == {
        'double_detection': 1, 'wrong_label': 1, 'localization': 1, 'confusion': 1,
        'background': 2}
    # at 0.3 (exactly 3/10 counts): [20, 24] takes the instance, so [20, 30]
    # becomes a double detection, and [40, 43] a wrong label
    assert {c: v[1] for c, v in fp['counts'].items()} == {
        'double_detection': 2, 'wrong_label': 2, 'localization': 0, 'confusion': 0,
        'background': 2}
    # class 0 at 0.5: hits at ranks 1 and 8 of 8, AP = 0.5 + 0.5 * 2/8; deleting
    # one false positive: 0.5 + 0.5 * 2/7; both background ones: 0.5 + 0.5 * 2/6
    one = (0.5 * 2 / 7 - 0.5 * 2 / 8) / 2
    assert fp['map_gain']['double_detection'][0] == pytest.approx(one)
    assert fp['map_gain']['confusion'][0] == pytest.approx(one)
    assert fp['map_gain']['background'][0] == pytest.approx((0.5 * 2 / 6 - 0.5 * 2 / 8) / 2)
    # the top of each list: class 0's first 2 (true positive, double), class 1's first 1
    assert fp['num_profiled'] == 3
    assert fp['true_positive'][0] == pytest.approx(2 / 3)
    assert fp['shares']['double_detection'][0] == pytest.approx(1 / 3)
    assert fp['shares']['background'] == [0.0, 0.0]
    wide = false_positive_profile(**gt, **pred, tiou_thresholds=[0.5], num_classes=2, top=10)
    assert wide['num_profiled'] == 9           # every detection (fewer than 10·G)
    assert wide['shares']['background'][0] == pytest.approx(2 / 9)
    assert fp['map_gain']['localization'][0] == pytest.approx(one)
    # only the detection in the video without ground truth lies in a video without its class
    assert fp['class_absent']['count'] == [1, 1]
    assert fp['class_absent']['map_gain'][0] == pytest.approx(one)
    strict = false_positive_profile(**gt, **pred, tiou_thresholds=[0.5], num_classes=2,
                                    min_overlap=0.45)
    assert strict['counts']['localization'] == [0] and strict['counts']['background'] == [4]


def test_profile_errors():
    gt, pred = _hand_case()
    with pytest.raises(ValueError, match='pred_scores has 2 rows, expected 9'):
        false_positive_profile(**gt, **dict(pred, pred_scores=np.ones(2)), tiou_thresholds=[0.5],
                               num_classes=2)
    with pytest.raises(ValueError, match=r'classes \[2\] have no ground truth'):
        false_positive_profile(**gt, **pred, tiou_thresholds=[0.5], num_classes=3)
    with pytest.raises(ValueError, match='top must be > 0'):
        false_positive_profile(**gt, **pred, tiou_thresholds=[0.5], num_classes=2, top=0)
    with pytest.raises(ValueError, match='min_overlap must be in'):
        false_positive_profile(**gt, **pred, tiou_thresholds=[0.5], num_classes=2,
                               min_overlap=1.5)


def _loop_counts(ref, database, results, thresholds, videos):
    """False positives per type, written from the definition with plain loops."""
    gt = {}
    for v in videos:
        for a in database[v]['annotations']:
            gt.setdefault(v, []).append((a['label'], tuple(float(x) for x in a['segment'])))
    classes = {lab for inst in gt.values() for lab, _ in inst}
    out = []
    for thr in thresholds:
        counts = dict.fromkeys(FP_CATEGORIES + ('class_absent',), 0)
        for c in sorted(classes):
            plist = sorted(((v, tuple(e['segment']), e['score']) for v, es in results.items()
                            for e in es if e['label'] == c), key=lambda p: -p[2])
            matched = set()
            for v, seg, _ in plist:
                insts = gt.get(v, []) if v in videos else []
                best, best_iou = None, -1.0
                for j, (lab, g) in enumerate(insts):
                    o = ref.tiou(seg, g)
                    if lab == c and (v, j) not in matched and o >= thr and o > best_iou:
                        best, best_iou = j, o
                if best is not None:
                    matched.add((v, best))
                    continue
                same = max([ref.tiou(seg, g) for lab, g in insts if lab == c], default=0.0)
                other = max([ref.tiou(seg, g) for lab, g in insts if lab != c], default=0.0)
                kind = ('double_detection' if same >= thr else 'wrong_label' if other >= thr
                        else 'localization' if same >= 0.1 else 'confusion' if other >= 0.1
                        else 'background')
                counts[kind] += 1
                counts['class_absent'] += not any(lab == c for lab, _ in insts)
        out.append(counts)
    return out


def test_profile_matches_a_loop_reading_of_the_definition(ref, thumos_gt):
    db = thumos_gt['database']
    pred = ref.generate_predictions(db, 1200, seed=3, outside_frac=0.2)
    res = evaluate_detection(GT_FILE, pred, subset='test', video_list=TEST_LIST, diagnose=True)
    fp = res.to_dict()['diagnostics']['false_positives']
    videos = set(TEST_LIST.read_text().split())
    loop = _loop_counts(ref, db, pred['results'], list(res.tiou_thresholds), videos)
    for ti in range(len(res.tiou_thresholds)):
        assert {c: fp['counts'][c][ti] for c in FP_CATEGORIES} == \
            {c: loop[ti][c] for c in FP_CATEGORIES}
        assert fp['class_absent']['count'][ti] == loop[ti]['class_absent'] > 0
        assert fp['class_absent']['map_gain'][ti] >= 0
        assert fp['true_positive'][ti] + sum(fp['shares'][c][ti] for c in FP_CATEGORIES) == \
            pytest.approx(1.0)
        assert all(fp['map_gain'][c][ti] >= 0 for c in FP_CATEGORIES)
        for c in FP_CATEGORIES:          # nothing to delete, nothing gained
            if fp['counts'][c][ti] == 0:
                assert fp['map_gain'][c][ti] == 0.0
    assert fp['counts']['background'][0] > 0 and fp['counts']['double_detection'][0] > 0
    json.dumps(fp)
    text = format_false_positive_table(fp)
    assert 'wrong label' in text and 'no class' in text
    assert text.count('\n') == 2 + len(fp['tiou'])


def test_eval_cli_diagnose_prints_the_profile(tmp_path, ref, thumos_gt, capsys):
    pred = ref.generate_predictions(thumos_gt['database'], 600, seed=11)
    pred_file = tmp_path / 'pred.json'
    pred_file.write_text(json.dumps(pred))
    out = tmp_path / 'metrics.json'
    assert main(['eval', str(GT_FILE), str(pred_file), '--subset', 'test', '--diagnose',
                 '--out', str(out)]) == 0
    assert 'double' in capsys.readouterr().out
    saved = json.loads(out.read_text())['diagnostics']['false_positives']
    assert set(saved['map_gain']) == set(FP_CATEGORIES)
