"""Detection mAP on the real THUMOS14 test ground truth with generated predictions.

Implementations, each asserted equal (|Δ| <= 1e-9 on every AP) to the loop
reference of ``tests/test_evaluation/loop_reference.py``:

* ``wsal``: ``evaluate_detection`` from parsed ActivityNet dicts (validation,
  conversion, matching, AP: what ``wsal eval`` does after ``json.load``);
* ``wsal-file``: the same from the JSON files (parsing included: what ``wsal
  eval`` does beyond start-up);
* ``wsal-loaded``: the same from already loaded ``GroundTruth``/``Predictions``;
* ``loop``: the straightforward per-prediction loop (timed with one round; in
  the test run, ``--benchmark-disable``, the 200k case's reference covers every
  fourth class).

Target: 200k predictions in < 1 s (``wsal``) on a 2-core CPU. Evaluation is
numpy on the CPU, so the cuda parametrization of ``device`` is skipped.

Run: ``python -m pytest benchmarks/bench_evaluation.py -p no:cacheprovider
--benchmark-columns=median,iqr,rounds``.
"""
from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

import wsal
from wsal.evaluation import evaluate_detection, get_preset, load_ground_truth, load_predictions

GT_FILE = Path(wsal.__file__).parent / 'data' / 'thumos14_gt.json'
TH = get_preset('thumos14')['tiou_thresholds']
SIZES = {'20k': 20_000, '200k': 200_000}


def _reference_module():
    path = Path(__file__).resolve().parents[1] / 'tests' / 'test_evaluation' / 'loop_reference.py'
    spec = importlib.util.spec_from_file_location('wsal_eval_loop_reference', path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


REF = _reference_module()
_CACHE: dict = {}


def _case(size: str):
    """(gt dict, prediction dict, loop-reference AP [T, C]) per size, computed once."""
    if size not in _CACHE:
        gt = json.loads(GT_FILE.read_text())
        pred = REF.generate_predictions(gt['database'], SIZES[size], seed=2024, outside_frac=0.1)
        _CACHE[size] = {'gt': gt, 'pred': pred, 'ref': None}
    return _CACHE[size]


def _loop_ap(case, every: int = 1):
    """The loop reference's AP [T, C] on every ``every``-th class (sorted by name) and
    a mask of the classes it covers. AP is computed per class from that class's
    predictions alone, so the predictions of the other classes are left out."""
    classes = sorted({a['label'] for v in case['gt']['database'].values()
                      if v.get('subset') == 'test' for a in v['annotations']})
    kept = set(classes[::every])
    results = {v: [e for e in entries if e['label'] in kept]
               for v, entries in case['pred']['results'].items()}
    # wsal's default for predictions on videos outside the subset = the official
    # evaluator's: false positives
    got, ap = REF.loop_detection_ap(case['gt']['database'], results, TH,
                                    subset='test', outside='fp')
    assert got == classes
    return classes, np.asarray(ap), np.array([c in kept for c in classes])


#: With ``--benchmark-disable`` (the test run) the loop reference of the 200k case
#: covers every fourth class: still 200k predictions through each wsal path, a
#: quarter of the pure-Python loop.
REFERENCE_CLASS_STRIDE = {'20k': 1, '200k': 4}


@pytest.mark.parametrize('size', list(SIZES))
@pytest.mark.parametrize('impl', ['loop', 'wsal', 'wsal-file', 'wsal-loaded'])  # loop first: the others reuse its AP
def bench_detection_map(benchmark, device, impl, size, tmp_path):
    if device.type != 'cpu':
        pytest.skip('evaluation runs on the CPU (numpy)')
    benchmark.group = f'detection-map-{size}-{device.type}'
    case = _case(size)
    every = REFERENCE_CLASS_STRIDE[size] if benchmark.disabled else 1
    if impl == 'loop':
        case['ref'] = benchmark.pedantic(_loop_ap, args=(case, every), rounds=1, iterations=1)
        return
    if case['ref'] is None:
        case['ref'] = _loop_ap(case, every)
    if impl == 'wsal':
        res = benchmark(evaluate_detection, case['gt'], case['pred'], subset='test',
                        tiou_thresholds=TH)
    elif impl == 'wsal-file':
        pred_file = tmp_path / 'pred.json'
        pred_file.write_text(json.dumps(case['pred']))
        res = benchmark(evaluate_detection, GT_FILE, pred_file, subset='test', tiou_thresholds=TH)
    else:
        gt = load_ground_truth(case['gt'], subset='test')
        pred = load_predictions(case['pred'])
        res = benchmark(evaluate_detection, gt, pred, tiou_thresholds=TH)
    classes, ap, covered = case['ref']
    assert res.classes == classes
    assert np.abs(res.ap - ap)[:, covered].max() <= 1e-9
