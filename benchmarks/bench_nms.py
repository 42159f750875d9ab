"""Greedy temporal NMS: wsal's vectorized ``temporal_nms`` vs numpy greedy vs a Python loop.

Inputs are real multi-threshold proposals: the 21-threshold connected
components of a seeded, realistically smooth attention curve (1,000 segments,
~4,300 proposals with the duplicates several thresholds produce), scored by
one class's weighted-CAS interval mean; 50 / 500 / 3,500 of them drawn with a
fixed seed. Segments are integer segment units, so ``IoU == 0.5`` ties occur
and all implementations apply the exact rule ``2 * inter > union``. Every
benchmark asserts the same kept indices, in the same order, as numpy greedy NMS.

Other distributions at 3,500 boxes (``nms-<dist>-3500-cpu``), each against a
labelled numpy greedy reference: ``dense`` random segments (starts uniform
over 480 s, lengths exponential with mean 8 s, distinct scores), ``nested``
chains (35 nested segments per centre, length ratio 0.7, scores falling along
the chain: each box suppresses the next, half are kept), ``duplicates`` (350
integer segments, 10 exact copies each), ``hugeclass`` (3,400 boxes in one
class, 100 over 20 others) and ``tinyclasses`` (1,000 classes). ``busy``
groups repeat the dense case while one busy process per core runs.

Run: ``python -m pytest benchmarks/bench_nms.py --benchmark-columns=median,iqr,rounds``.
"""
from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from wsal.postprocess import attention_proposals, soft_nms, temporal_nms
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
    _data.skip_without_loop_reference()
    seg, sc, expected = _case(n)
    benchmark.group = f'nms-{n}-cpu'
    segs, scores = seg.tolist(), sc.tolist()
    got = benchmark.pedantic(pp_reference.greedy_nms, args=(segs, scores, IOU),
                             rounds=3 if n > 500 else 20, iterations=1)
    assert got == expected


# ------------------------------------------------------------------ other distributions
DISTS = ['dense', 'nested', 'duplicates', 'hugeclass', 'tinyclasses']


def numpy_greedy_labelled(segments, scores, iou_threshold, labels=None):
    """Numpy greedy NMS (wsal convention), class-wise when labels are given."""
    num, den = _data.threshold_fraction(iou_threshold)
    s, e = segments[:, 0], segments[:, 1]
    order = np.argsort(-scores, kind='stable')
    keep = []
    while order.size:
        i = order[0]
        keep.append(i)
        rest = order[1:]
        inter = np.maximum(0, np.minimum(e[i], e[rest]) - np.maximum(s[i], s[rest]))
        union = (e[i] - s[i]) + (e[rest] - s[rest]) - inter
        hit = inter * den > num * union
        if labels is not None:
            hit &= labels[rest] == labels[i]
        order = rest[~hit]
    return np.asarray(keep, dtype=np.int64)


def distribution(name, n=3500, seed=0):
    """``(segments [n, 2], scores [n], labels [n] | None)`` as numpy arrays."""
    r = np.random.default_rng(seed)
    scores = r.permutation(n).astype(np.float64)
    if name == 'dense':
        st = r.uniform(0, 480, n)
        return np.stack([st, st + r.exponential(8.0, n)], 1), scores, None
    if name == 'nested':
        per = 35
        k = np.tile(np.arange(per), n // per)
        centre = r.uniform(0, 480, n // per).repeat(per)
        length = 60.0 * 0.7 ** k
        chain_rank = np.repeat(r.permutation(n // per), per)
        return (np.stack([centre - length / 2, centre + length / 2], 1),
                (chain_rank * per + (per - k)).astype(np.float64), None)
    st = r.integers(0, 750, n)
    seg = np.stack([st, st + 1 + r.geometric(1 / 12, n)], 1)
    if name == 'duplicates':
        return seg[: n // 10].repeat(10, 0), scores, None
    if name == 'hugeclass':
        labels = np.zeros(n, np.int64)
        labels[:100] = r.integers(1, 21, 100)
        return seg, scores, labels
    return seg, scores, r.integers(0, 1000, n)


_DIST_CACHE: dict = {}


def _dist_case(name):
    if name not in _DIST_CACHE:
        seg, sc, lab = distribution(name)
        _DIST_CACHE[name] = (seg, sc, lab, numpy_greedy_labelled(seg, sc, IOU, lab).tolist())
    return _DIST_CACHE[name]


@pytest.mark.parametrize('dist', DISTS)
def bench_nms_dist_vectorized(timed, benchmark, device, dist):
    seg, sc, lab, expected = _dist_case(dist)
    benchmark.group = f'nms-{dist}-3500-{device.type}'
    args = [torch.from_numpy(seg).to(device), torch.from_numpy(sc).to(device), IOU,
            None if lab is None else torch.from_numpy(lab).to(device)]
    got = timed(temporal_nms, *args)
    assert got.cpu().tolist() == expected


@pytest.mark.parametrize('dist', DISTS)
def bench_nms_dist_numpy_greedy(benchmark, dist):
    seg, sc, lab, expected = _dist_case(dist)
    benchmark.group = f'nms-{dist}-3500-cpu'
    got = benchmark(numpy_greedy_labelled, seg, sc, IOU, lab)
    assert got.tolist() == expected


@pytest.mark.parametrize('impl', ['vectorized', 'numpy_greedy'])
def bench_nms_dense_busy(benchmark, busy_cores, impl):
    """Dense random segments while every core is busy (torch threads as the library picks)."""
    seg, sc, lab, expected = _dist_case('dense')
    benchmark.group = 'nms-dense-3500-busy-cpu'
    before = torch.get_num_threads()
    torch.set_num_threads(os.cpu_count() or 1)  # torch's default; the library decides
    try:
        if impl == 'vectorized':
            got = benchmark(temporal_nms, torch.from_numpy(seg), torch.from_numpy(sc), IOU)
        else:
            got = benchmark(numpy_greedy_labelled, seg, sc, IOU)
    finally:
        torch.set_num_threads(before)
    assert np.asarray(got).tolist() == expected


# ------------------------------------------------------------------ soft-NMS
SOFT_DISTS = ['attention', 'dense', 'nested', 'hugeclass', 'tinyclasses']
SOFT_SIGMA = 0.5
SOFT_SIZE = 2000
#: The suite's single correctness pass (``--benchmark-disable``) uses fewer boxes:
#: the whole-label reference's rounds grow with the square of a label's size.
SOFT_SIZE_CHECK = 600


@pytest.fixture
def soft_size(timing):
    """Boxes per soft-NMS case: SOFT_SIZE when timing, SOFT_SIZE_CHECK in the suite."""
    return SOFT_SIZE if timing else SOFT_SIZE_CHECK


def whole_label_soft_nms(segments, scores, labels):
    """Soft-NMS with every label as one group, all labels advancing together
    (no split into overlap runs): the batched algorithm before the split."""
    from wsal.postprocess.nms import _soft_runs_batched, by_decreasing_score
    return by_decreasing_score(*_soft_runs_batched(segments, scores, labels, 'gaussian',
                                                    SOFT_SIGMA, 0.5, None))


_SOFT_CACHE: dict = {}


def _soft_case(name, n):
    """``(segments, scores, labels)`` tensors (labels always given) and the reference."""
    if (name, n) not in _SOFT_CACHE:
        if name == 'attention':
            seg, sc, _ = _case(n)
            lab = torch.zeros(seg.shape[0], dtype=torch.long)
            sc = sc.double()
        else:
            s, c, lab = distribution(name, n=n)
            seg, sc = torch.from_numpy(s), torch.from_numpy(c)
            lab = torch.zeros(seg.shape[0], dtype=torch.long) if lab is None else \
                torch.from_numpy(lab)
        _SOFT_CACHE[name, n] = (seg, sc, lab, whole_label_soft_nms(seg, sc, lab))
    return _SOFT_CACHE[name, n]


def _same_soft(got, expected):
    assert got[0].cpu().tolist() == expected[0].tolist()
    torch.testing.assert_close(got[1].cpu().double(), expected[1].double(), rtol=1e-12, atol=0)


@pytest.mark.parametrize('dist', SOFT_DISTS)
def bench_soft_nms_runs_numpy(benchmark, dist, soft_size):
    seg, sc, lab, expected = _soft_case(dist, soft_size)
    benchmark.group = f'soft-nms-{dist}-{soft_size}-cpu'
    got = benchmark(soft_nms, seg, sc, sigma=SOFT_SIGMA, labels=lab, backend='numpy')
    _same_soft(got, expected)


@pytest.mark.parametrize('dist', SOFT_DISTS)
def bench_soft_nms_runs_batched(timed, benchmark, device, dist, soft_size):
    seg, sc, lab, expected = _soft_case(dist, soft_size)
    benchmark.group = f'soft-nms-{dist}-{soft_size}-{device.type}'
    got = timed(soft_nms, seg.to(device), sc.to(device), sigma=SOFT_SIGMA, labels=lab.to(device),
                backend='batched')
    _same_soft(got, expected)


@pytest.mark.parametrize('dist', SOFT_DISTS)
def bench_soft_nms_whole_labels(timed, benchmark, device, dist, soft_size):
    seg, sc, lab, expected = _soft_case(dist, soft_size)
    benchmark.group = f'soft-nms-{dist}-{soft_size}-{device.type}'
    got = timed(whole_label_soft_nms, seg.to(device), sc.to(device), lab.to(device))
    _same_soft(got, expected)


def bench_soft_nms_python_loop(benchmark):
    """The tests' loop reference on 500 of the attention proposals (one round)."""
    _data.skip_without_loop_reference()
    seg, sc, _ = _case(500)
    benchmark.group = 'soft-nms-attention-500-cpu'
    idx, _ = benchmark.pedantic(pp_reference.soft_nms, args=(seg.tolist(), sc.double().tolist()),
                                kwargs=dict(sigma=SOFT_SIGMA), rounds=1, iterations=1)
    keep, _ = soft_nms(seg, sc.double(), sigma=SOFT_SIGMA)
    assert keep.tolist() == idx
