"""``wsal eval``: table, JSON output with protocol, one-line errors."""
from __future__ import annotations

import json

import numpy as np
import pytest

from wsal.cli.main import main
from wsal.evaluation import evaluate_detection

from .conftest import GT_FILE, TEST_LIST


@pytest.fixture(scope='module')
def pred_file(tmp_path_factory, ref, thumos_gt):
    pred = ref.generate_predictions(thumos_gt['database'], 2000, seed=21, outside_frac=0.1)
    path = tmp_path_factory.mktemp('eval_cli') / 'pred.json'
    path.write_text(json.dumps(pred))
    return path


def test_eval_prints_percent_table_and_writes_fractions(pred_file, tmp_path, capsys):
    out = tmp_path / 'metrics.json'
    rc = main(['eval', str(GT_FILE), str(pred_file), '--subset', 'test',
               '--videos', str(TEST_LIST), '--out', str(out), '--per-class'])
    assert rc == 0
    text = capsys.readouterr().out
    assert "subset 'test', 210 videos" in text and 'leaves out 2' in text
    assert 'values in percent' in text and 'avg 0.1-0.7' in text and 'HighJump' in text
    saved = json.loads(out.read_text())
    ref_res = evaluate_detection(GT_FILE, pred_file, subset='test', video_list=TEST_LIST)
    np.testing.assert_allclose(saved['mAP'], ref_res.mAP, rtol=0, atol=1e-12)
    assert saved['average_mAP'] == pytest.approx(ref_res.average_mAP)
    assert saved['tiou'] == [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]
    assert set(saved['per_class_AP']) == set(ref_res.classes)
    p = saved['protocol']
    assert p['num_videos'] == 210 and p['subset'] == 'test' and p['values'].startswith('fraction')
    mAP_line = next(line for line in text.splitlines() if line.startswith('mAP'))
    assert float(mAP_line.split()[5]) == pytest.approx(100 * ref_res.mAP[4], abs=0.006)


def test_eval_custom_thresholds_and_ranges(pred_file, tmp_path, capsys):
    out = tmp_path / 'm.json'
    assert main(['eval', str(GT_FILE), str(pred_file), '--subset', 'test', '--tiou',
                 '0.3:0.1:0.7', '--average-range', '0.3-0.5', '--out', str(out)]) == 0
    saved = json.loads(out.read_text())
    assert saved['tiou'] == [0.3, 0.4, 0.5, 0.6, 0.7]
    assert set(saved['averages']) == {'0.3-0.5', '0.3-0.7'}
    assert saved['protocol']['num_videos'] == 212


@pytest.mark.parametrize('extra,needle', [
    ([], 'several subsets'),
    (['--subset', 'testing'], "subset 'testing' has no videos"),
    (['--subset', 'test', '--tiou', '2'], '[0, 1]'),
    (['--subset', 'test', '--outside-videos', 'error'], 'outside the evaluated set'),
])
def test_eval_errors_are_one_line(pred_file, capsys, extra, needle):
    rc = main(['eval', str(GT_FILE), str(pred_file)] + extra)
    err = capsys.readouterr().err
    assert rc == 2 and needle in err and err.startswith('wsal eval: error:')
    assert len(err.strip().splitlines()) == 1


def test_eval_unknown_labels_flag(tmp_path, capsys):
    pred = tmp_path / 'p.json'
    pred.write_text(json.dumps({'results': {'video_test_0000004': [
        {'label': 'Dunking', 'score': 0.9, 'segment': [1.0, 2.0]},
        {'label': 'HighJump', 'score': 0.8, 'segment': [1.0, 2.0]}]}}))
    assert main(['eval', str(GT_FILE), str(pred), '--subset', 'test']) == 2
    assert "'Dunking' (1)" in capsys.readouterr().err
    out = tmp_path / 'm.json'
    assert main(['eval', str(GT_FILE), str(pred), '--subset', 'test',
                 '--ignore-unknown-labels', '--out', str(out)]) == 0
    assert 'with unknown labels ignored' in capsys.readouterr().out
    assert json.loads(out.read_text())['protocol']['num_predictions_unknown_label_ignored'] == 1


def test_eval_missing_file(tmp_path, capsys):
    assert main(['eval', str(tmp_path / 'gt.json'), str(tmp_path / 'p.json')]) == 2
    assert 'ground truth file not found' in capsys.readouterr().err


def test_eval_accepts_a_listed_class_without_instances(tmp_path, capsys):
    """A label of gt.json's own class list with no instance is known: its predictions
    are evaluated (no class to match: they change nothing), not rejected as unknown."""
    gt = {'classes': ['Jump', 'Ghost'], 'database': {
        'v1': {'subset': 'test', 'annotations': [{'label': 'Jump', 'segment': [1.0, 3.0]}]},
        'v2': {'subset': 'test', 'annotations': [{'label': 'Jump', 'segment': [4.0, 9.0]}]}}}
    pred = {'results': {'v1': [{'label': 'Jump', 'score': 0.9, 'segment': [1.0, 3.0]},
                               {'label': 'Ghost', 'score': 0.8, 'segment': [1.0, 3.0]}],
                        'v2': [{'label': 'Ghost', 'score': 0.7, 'segment': [4.0, 9.0]}]}}
    gt_file, pred_file = tmp_path / 'gt.json', tmp_path / 'pred.json'
    gt_file.write_text(json.dumps(gt))
    pred_file.write_text(json.dumps(pred))
    out = tmp_path / 'm.json'
    assert main(['eval', str(gt_file), str(pred_file), '--out', str(out)]) == 0
    saved = json.loads(out.read_text())
    assert saved['protocol']['classes_without_ground_truth'] == ['Ghost']
    assert list(saved['per_class_AP']) == ['Jump']
    assert saved['mAP'][0] == pytest.approx(0.5)  # v2's Jump instance is missed
    capsys.readouterr()
    # a label in no list stays an error, naming it
    pred['results']['v2'][0]['label'] = 'Ghoul'
    pred_file.write_text(json.dumps(pred))
    assert main(['eval', str(gt_file), str(pred_file)]) == 2
    assert "Ghoul" in capsys.readouterr().err
    # a malformed class list is named
    gt['classes'] = 'Jump'
    gt_file.write_text(json.dumps(gt))
    assert main(['eval', str(gt_file), str(pred_file)]) == 2
    assert "'classes' must be a list" in capsys.readouterr().err


def test_eval_and_help_do_not_import_torch_or_mmengine(tmp_path):
    """Start-up of ``wsal eval`` and of every ``--help``: neither torch nor mmengine."""
    import subprocess
    import sys
    from wsal.cli.main import COMMANDS
    gt = {'database': {'v1': {'subset': 'test',
                              'annotations': [{'label': 'Jump', 'segment': [1.0, 3.0]}]}}}
    (tmp_path / 'gt.json').write_text(json.dumps(gt))
    (tmp_path / 'pred.json').write_text(json.dumps({'results': {'v1': [
        {'label': 'Jump', 'score': 0.9, 'segment': [1.0, 3.0]}]}}))
    names = [m.rsplit('.', 1)[1].replace('_cmd', '').replace('_', '-') for m in COMMANDS]
    calls = [['--help']] + [[n, '--help'] for n in names]
    calls.append(['eval', str(tmp_path / 'gt.json'), str(tmp_path / 'pred.json')])
    script = ('import sys\nfrom wsal.cli.main import main\n'
              'import json\nfor argv in json.loads(sys.argv[1]):\n'
              '    try:\n        main(argv)\n    except SystemExit:\n        pass\n'
              'heavy = sorted(m for m in ("torch", "mmengine") if m in sys.modules)\n'
              'print("HEAVY", heavy)\n')
    out = subprocess.run([sys.executable, '-c', script, json.dumps(calls)], capture_output=True,
                         text=True, check=True).stdout
    assert 'usage: wsal' in out and 'mAP' in out
    assert out.strip().splitlines()[-1] == 'HEAVY []'
