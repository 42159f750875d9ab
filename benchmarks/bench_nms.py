"""Greedy temporal NMS: wsal's vectorized ``temporal_nms`` vs numpy greedy vs a Python loop.

Inputs are real multi-threshold proposals: the 21-threshold connected
components of a seeded, realistically smooth attention curve (1,000 segments,
~4,300 proposals with the duplicates several thresholds produce), scored by
one class's weighted-CAS interval mean; 50 / 500 / 3,500 of them drawn with a
fixed seed. Segments are integer segment units, so ``IoU == 0.5`` ties occur
and all implementations apply the exact rule ``2 * inter > union``. Every
benchmark asserts the same kept indices, in the same order, as numpy greedy NMS.

Run: ``python -m pytest benchmarks/bench_nms.py --benchmark-columns=median,iqr,rounds``.
"""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest
import torch

from wsal.postprocess import attention_proposals, temporal_nms
from wsal.postprocess.scoring import WeightedLogitScorer

_HERE = Path(__file__).resolve().parent
_spec = importlib.util.spec_from_file_location('_bench_postprocess_data', _HERE / 'bench_postprocess.py')
_data = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_data)
sys.path.insert(0, str(_HERE.parent / 'tests' / 'test_postprocess'))
import pp_reference  # noqa: E402  (the tests' pure-Python loop reference)

pytestmark = pytest.mark.usefixtures('torch_threads')


SIZES = [50, 500, 3500]
IOU = 0.5
_POOL: dict = {}


def _pool():
    if not _POOL:
        outputs, _ = _data.make_batch([1000], seed=2)
        props = attention_proposals(outputs['attention'], outputs['mask'])
        from wsal.postprocess import Proposals
        labelled = Proposals(props.video, props.start, props.end, torch.zeros_like(props.video))
        scores = WeightedLogitScorer()(outputs, labelled)
        _POOL['segments'] = torch.stack([props.start, props.end + 1], 1)
        _POOL['scores'] = scores
    return _POOL


def _case(n):
    pool = _pool()
    assert pool['segments'].shape[0] >= n, 'proposal pool too small'
    g = torch.Generator().manual_seed(n)
    pick = torch.randperm(pool['segments'].shape[0], generator=g)[:n].sort().values
    seg, sc = pool['segments'][pick], pool['scores'][pick]
    expected = _data.numpy_greedy_nms(seg.numpy(), sc.numpy(), IOU).tolist()
    return seg, sc, expected


@pytest.mark.parametrize('n', SIZES)
def bench_nms_vectorized(timed, benchmark, device, n):
    seg, sc, expected = _case(n)
    benchmark.group = f'nms-{n}-{device.type}'
    seg, sc = seg.to(device), sc.to(device)
    got = timed(temporal_nms, seg, sc, IOU)
    assert got.cpu().tolist() == expected


@pytest.mark.parametrize('n', SIZES)
def bench_nms_numpy_greedy(benchmark, n):
    seg, sc, expected = _case(n)
    benchmark.group = f'nms-{n}-cpu'
    s, c = seg.numpy(), sc.numpy()
    got = benchmark(_data.numpy_greedy_nms, s, c, IOU)
    assert got.tolist() == expected


@pytest.mark.parametrize('n', SIZES)
def bench_nms_python_loop(benchmark, n):
    seg, sc, expected = _case(n)
    benchmark.group = f'nms-{n}-cpu'
    segs, scores = seg.tolist(), sc.tolist()
    got = benchmark.pedantic(pp_reference.greedy_nms, args=(segs, scores, IOU),
                             rounds=3 if n > 500 else 20, iterations=1)
    assert got == expected
