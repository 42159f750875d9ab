"""Greedy NMS and soft-NMS against the loop references."""
import math
from unittest import mock

import pp_reference as ref
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from pp_strategies import THRESHOLDS, integer_segments

from wsal.postprocess import (SoftNMS, TemporalNMS, pairwise_segment_iou, soft_nms,
                              temporal_nms, threshold_fraction)
from wsal.postprocess.iou import intersection_union, iou_exceeds
from wsal.registry import build_postprocessor

#: ``(backend, SMALL_RUN)``: the batched backend, the numpy one as shipped (runs of more than
#: SMALL_RUN boxes), and the numpy one on every run, so that hypothesis's small examples reach
#: the numpy loop too.
BACKENDS = (('numpy', None), ('numpy', 0), ('batched', None))


def _soft_nms_with(backend, small_run, *args, **kwargs):
    import wsal.postprocess.nms as nms_module
    with mock.patch.object(nms_module, 'SMALL_RUN',
                           nms_module.SMALL_RUN if small_run is None else small_run):
        return soft_nms(*args, backend=backend, **kwargs)


FAST = settings(max_examples=80, deadline=None)


def _tensors(segs, scores, labels, dtype=torch.long):
    seg = torch.tensor(segs, dtype=dtype).reshape(-1, 2)
    sc = torch.tensor(scores, dtype=torch.float32)
    lab = None if labels is None else torch.tensor(labels, dtype=torch.long)
    return seg, sc, lab


@FAST
@given(integer_segments(), st.sampled_from(THRESHOLDS))
def test_greedy_nms_matches_loop_reference(data, thr):
    segs, scores, labels = data
    seg, sc, lab = _tensors(segs, scores, labels)
    scores32 = [float(s) for s in sc]
    expected = ref.greedy_nms(segs, scores32, thr, labels)
    for method in ('dense', 'sparse', 'auto'):
        got = temporal_nms(seg, sc, thr, lab, method=method)
        assert got.dtype == torch.long
        assert got.tolist() == expected, method


@FAST
@given(integer_segments(max_n=20), st.sampled_from(THRESHOLDS))
def test_greedy_nms_float_segments_match_reference(data, thr):
    segs, scores, labels = data
    fsegs = [(s * 0.64, e * 0.64) for s, e in segs]
    seg = torch.tensor(fsegs, dtype=torch.float64).reshape(-1, 2)
    sc = torch.tensor(scores, dtype=torch.float64)
    lab = None if labels is None else torch.tensor(labels, dtype=torch.long)
    expected = ref.greedy_nms(fsegs, scores, thr, labels)
    assert temporal_nms(seg, sc, thr, lab, method='dense').tolist() == expected
    assert temporal_nms(seg, sc, thr, lab, method='sparse').tolist() == expected


def test_integer_iou_exactly_at_threshold_is_kept():
    # IoU([0,2],[0,4]) = 0.5 exactly: not > 0.5, both kept; 0.7 = 7/10 exactly.
    seg = torch.tensor([[0, 4], [0, 2], [0, 10], [0, 7]])
    sc = torch.tensor([1.0, 0.9, 0.8, 0.7])
    assert temporal_nms(seg[:2], sc[:2], 0.5).tolist() == [0, 1]
    assert temporal_nms(seg[2:], sc[2:], 0.7).tolist() == [0, 1]
    assert temporal_nms(seg[2:], sc[2:], 0.69).tolist() == [0]
    assert threshold_fraction(0.7) == (7, 10)
    assert threshold_fraction(0.5) == (1, 2)


def test_fraction_rule_equals_exact_rational_iou_on_integers():
    segs = [(s, s + ln) for s in range(0, 12) for ln in range(0, 9)]
    for thr in (0.1, 0.3, 1 / 3, 0.5, 0.55, 0.7, 0.75, 0.9):
        num, den = threshold_fraction(thr)
        a = torch.tensor(segs)
        inter, union = intersection_union(a[:, None, 0], a[:, None, 1], a[None, :, 0], a[None, :, 1])
        got = iou_exceeds(inter, union, thr)
        for i, x in enumerate(segs):
            for j, y in enumerate(segs):
                it, un = ref.inter_union(x, y)
                exact = un > 0 and (it * den > num * un)
                assert bool(got[i, j]) == exact


def test_ties_broken_by_lower_index_and_empty_input():
    seg = torch.tensor([[0, 10], [0, 10], [0, 10]])
    assert temporal_nms(seg, torch.ones(3), 0.5).tolist() == [0]
    assert temporal_nms(seg, torch.tensor([0.5, 0.9, 0.9]), 0.5).tolist() == [1]
    empty = temporal_nms(torch.zeros(0, 2), torch.zeros(0), 0.5)
    assert empty.shape == (0,) and empty.dtype == torch.long
    assert temporal_nms(torch.tensor([[3, 3]]), torch.tensor([1.0]), 0.0).tolist() == [0]


def test_classwise_labels_do_not_interact():
    seg = torch.tensor([[0, 10], [0, 10], [1, 10]])
    sc = torch.tensor([0.9, 0.8, 0.7])
    assert temporal_nms(seg, sc, 0.5, torch.tensor([0, 1, 0])).tolist() == [0, 1]


def test_sparse_path_matches_dense_on_large_random_input():
    g = torch.Generator().manual_seed(0)
    n = 1500
    start = torch.randint(0, 400, (n,), generator=g)
    seg = torch.stack([start, start + torch.randint(1, 40, (n,), generator=g)], 1)
    sc = torch.randint(0, 50, (n,), generator=g).float()  # many ties
    lab = torch.randint(0, 4, (n,), generator=g)
    dense = temporal_nms(seg, sc, 0.5, lab, method='dense')
    sparse = temporal_nms(seg, sc, 0.5, lab, method='sparse')
    assert torch.equal(dense, sparse)
    segs, scores = seg.tolist(), sc.tolist()
    assert sparse.tolist() == ref.greedy_nms(segs, scores, 0.5, lab.tolist())


@pytest.mark.parametrize('bad', [-0.1, 1.5, float('nan'), 'x'])
def test_bad_threshold_is_rejected(bad):
    with pytest.raises(ValueError, match='IoU threshold'):
        temporal_nms(torch.tensor([[0, 1]]), torch.tensor([1.0]), bad)


def test_shape_errors_are_clear():
    with pytest.raises(ValueError, match=r'\[N, 2\]'):
        temporal_nms(torch.zeros(3), torch.zeros(3), 0.5)
    with pytest.raises(ValueError, match='scores'):
        temporal_nms(torch.zeros(3, 2), torch.zeros(2), 0.5)


@FAST
@given(integer_segments(max_n=20), st.sampled_from([0.0, 0.3, 0.5]),
       st.sampled_from([None, 0.2]))
def test_linear_soft_nms_matches_reference_exactly(data, thr, score_thr):
    segs, scores, labels = data
    seg, _, lab = _tensors(segs, scores, labels)
    sc = torch.tensor(scores, dtype=torch.float64)
    e_idx, e_sc = ref.soft_nms(segs, scores, method='linear', threshold=thr,
                               score_threshold=score_thr, labels=labels)
    for backend, small_run in BACKENDS:
        keep, new = _soft_nms_with(backend, small_run, seg, sc, method='linear',
                                   iou_threshold=thr, score_threshold=score_thr, labels=lab)
        assert keep.tolist() == e_idx, (backend, small_run)
        assert new.tolist() == e_sc, (backend, small_run)


@FAST
@given(st.integers(0, 15), st.integers(0, 10_000), st.sampled_from([0.3, 0.5, 1.0]))
def test_gaussian_soft_nms_matches_reference(n, seed, sigma):
    g = torch.Generator().manual_seed(seed)
    start = torch.randint(0, 20, (n,), generator=g)
    seg = torch.stack([start, start + torch.randint(1, 10, (n,), generator=g)], 1)
    sc = torch.rand(n, generator=g, dtype=torch.float64)  # distinct: no near-ties
    lab = torch.randint(0, 2, (n,), generator=g)
    e_idx, e_sc = ref.soft_nms(seg.tolist(), sc.tolist(), method='gaussian', sigma=sigma,
                               labels=lab.tolist())
    for backend, small_run in BACKENDS:
        keep, new = _soft_nms_with(backend, small_run, seg, sc, method='gaussian', sigma=sigma,
                                   labels=lab)
        assert keep.tolist() == e_idx, (backend, small_run)
        assert all(math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-300)
                   for a, b in zip(new.tolist(), e_sc))


@FAST
@given(st.integers(0, 10_000), st.sampled_from(['gaussian', 'linear']),
       st.sampled_from([None, -0.5, 0.3]))
def test_soft_nms_over_runs_matches_reference_on_clustered_boxes(seed, method, score_thr):
    """Many boxes in a few overlapping clusters per label, scores of both signs."""
    g = torch.Generator().manual_seed(seed)
    n = int(torch.randint(1, 60, (1,), generator=g))
    centre = torch.randint(0, 4, (n,), generator=g) * 25
    start = centre + torch.randint(0, 8, (n,), generator=g)
    seg = torch.stack([start, start + torch.randint(0, 12, (n,), generator=g)], 1)
    sc = torch.randint(-8, 9, (n,), generator=g).double() / 4  # ties and negatives
    lab = torch.randint(0, 3, (n,), generator=g)
    e_idx, e_sc = ref.soft_nms(seg.tolist(), sc.tolist(), method=method, sigma=0.5,
                               threshold=0.3, score_threshold=score_thr, labels=lab.tolist())
    for backend, small_run in BACKENDS:
        keep, new = _soft_nms_with(backend, small_run, seg, sc, method=method, sigma=0.5,
                                   iou_threshold=0.3, score_threshold=score_thr, labels=lab)
        assert keep.tolist() == e_idx, (backend, small_run)
        assert all(math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-300)
                   for a, b in zip(new.tolist(), e_sc))


@FAST
@given(integer_segments(max_n=40, span=25))
def test_overlap_runs_never_split_an_overlapping_pair(data):
    from wsal.postprocess.nms import overlap_runs
    segs, _, labels = data
    seg = torch.tensor(segs, dtype=torch.long).reshape(-1, 2)
    lab = torch.tensor(labels if labels is not None else [0] * len(segs), dtype=torch.long)
    run = overlap_runs(seg, lab)
    for i, (a, b) in enumerate(segs):
        for j, (c, d) in enumerate(segs):
            if lab[i] != lab[j]:
                assert run[i] != run[j]
            elif min(b, d) - max(a, c) > 0:
                assert run[i] == run[j]


def test_overlap_runs_split_where_nothing_overlaps():
    from wsal.postprocess.nms import overlap_runs
    seg = torch.tensor([[0.0, 5.0], [5.0, 9.0], [2.0, 4.0], [20.0, 30.0], [0.0, 5.0]])
    run = overlap_runs(seg, torch.tensor([0, 0, 0, 0, 1]))
    assert run[0] == run[2] != run[1]           # [5, 9] only touches [0, 5]
    assert len({int(r) for r in run}) == 4       # label 1 is a run of its own


def test_soft_nms_lowers_negative_scores():
    seg = torch.tensor([[0.0, 10.0], [0.0, 10.0], [20.0, 30.0]])
    keep, new = soft_nms(seg, torch.tensor([-1.0, -2.0, -3.0], dtype=torch.float64), sigma=0.5)
    w = math.exp(-1 / 0.5)
    assert keep.tolist() == [0, 2, 1]            # the covered box falls below the lone one
    assert new.tolist() == pytest.approx([-1.0, -3.0, -2.0 * (2 - w)])


def test_soft_nms_backend_is_checked():
    seg, sc = torch.tensor([[0, 2]]), torch.tensor([1.0])
    with pytest.raises(ValueError, match='backend'):
        soft_nms(seg, sc, backend='gpu')


def test_soft_nms_unique_option():
    assert SoftNMS(unique=True).drop_duplicates and not SoftNMS().drop_duplicates
    with pytest.raises(TypeError, match='unique'):
        SoftNMS(unique='yes')


def test_gaussian_soft_nms_hand_example():
    seg = torch.tensor([[0.0, 10.0], [5.0, 10.0], [20.0, 30.0]])
    keep, new = soft_nms(seg, torch.tensor([0.9, 0.8, 0.7]), sigma=0.5)
    assert keep.tolist() == [0, 2, 1]
    assert new[2].item() == pytest.approx(0.8 * math.exp(-0.25 / 0.5))


def test_registered_nms_modules():
    nms = build_postprocessor(dict(type='TemporalNMS', iou_threshold=0.5))
    assert isinstance(nms, TemporalNMS) and nms.drop_duplicates
    seg = torch.tensor([[0, 10], [1, 10], [20, 30]])
    keep, sc = nms(seg, torch.tensor([0.9, 0.8, 0.7]))
    assert keep.tolist() == [0, 2] and sc.tolist() == pytest.approx([0.9, 0.7])
    soft = build_postprocessor(dict(type='SoftNMS', method='linear', score_threshold=0.01))
    assert isinstance(soft, SoftNMS) and not soft.drop_duplicates
    keep, sc = soft(seg, torch.tensor([0.9, 0.8, 0.7]))
    assert keep.tolist() == [0, 2, 1] and sc[2].item() == pytest.approx(0.8 * 0.1)
    with pytest.raises(ValueError, match='gaussian'):
        SoftNMS(method='box')


def test_pairwise_iou_values():
    a = torch.tensor([[0.0, 2.0], [1.0, 3.0]])
    out = pairwise_segment_iou(a, torch.tensor([[0.0, 2.0], [5.0, 5.0]]))
    assert out.tolist() == [[1.0, 0.0], [1 / 3, 0.0]]


@pytest.mark.skipif(not torch.cuda.is_available(), reason='needs a CUDA device')
def test_cuda_matches_cpu_bit_for_bit():
    g = torch.Generator().manual_seed(1)
    n = 3000
    start = torch.randint(0, 600, (n,), generator=g)
    seg = torch.stack([start, start + torch.randint(1, 30, (n,), generator=g)], 1)
    sc = torch.randint(0, 100, (n,), generator=g).float()
    lab = torch.randint(0, 5, (n,), generator=g)
    for method in ('dense', 'sparse'):
        cpu = temporal_nms(seg, sc, 0.5, lab, method=method)
        gpu = temporal_nms(seg.cuda(), sc.cuda(), 0.5, lab.cuda(), method=method)
        assert torch.equal(cpu, gpu.cpu())


@FAST
@given(integer_segments(max_n=40, span=20), st.sampled_from(THRESHOLDS),
       st.sampled_from([1, 3, 8]))
def test_blocked_greedy_matches_loop_reference_across_blocks(data, thr, block):
    """Small blocks: boxes decided across many blocks, exact IoU ties on a small grid."""
    from wsal.postprocess import greedy_blocks
    segs, scores, labels = data
    seg, sc, lab = _tensors(segs, scores, labels)
    expected = ref.greedy_nms(segs, [float(s) for s in sc], thr, labels)
    before = greedy_blocks.BLOCK
    greedy_blocks.BLOCK = block
    try:
        assert temporal_nms(seg, sc, thr, lab, method='blocks').tolist() == expected
    finally:
        greedy_blocks.BLOCK = before


@pytest.mark.parametrize('case', ['nested_chain', 'duplicates', 'ties', 'float_seconds',
                                  'all_empty', 'one_box'])
def test_blocked_greedy_on_structured_inputs(case):
    """Shapes the random property test rarely draws, against the loop reference."""
    g = torch.Generator().manual_seed(5)
    if case == 'nested_chain':  # each box suppresses only the next: half are kept
        lengths = [int(1000 * 0.7 ** k) for k in range(15)]
        segs = [(500 - n // 2, 500 - n // 2 + n) for n in lengths]
        scores = [float(15 - k) for k in range(15)]
    elif case == 'duplicates':
        base = torch.randint(0, 40, (30, 1), generator=g)
        segs = torch.cat([base, base + torch.randint(1, 9, (30, 1), generator=g)], 1)
        segs = segs.repeat(7, 1).tolist()
        scores = torch.randperm(len(segs), generator=g).float().tolist()
    elif case == 'ties':  # IoU exactly 1/2 everywhere on an integer grid, equal scores
        segs = [(0, 4), (0, 2), (2, 4), (1, 3), (0, 4), (0, 8), (4, 8)] * 20
        scores = [1.0] * len(segs)
    elif case == 'float_seconds':
        segs = [(s * 0.64, (s + n) * 0.64) for s, n in
                zip(torch.randint(0, 300, (500,), generator=g).tolist(),
                    torch.randint(0, 20, (500,), generator=g).tolist())]
        scores = torch.rand(500, generator=g, dtype=torch.float64).tolist()
    elif case == 'all_empty':
        segs, scores = [(3, 3)] * 200, [0.5] * 200
    else:
        segs, scores = [(0, 1)], [0.3]
    dtype = torch.float64 if case == 'float_seconds' else torch.long
    seg = torch.tensor(segs, dtype=dtype)
    sc = torch.tensor(scores, dtype=torch.float64)
    for thr in (0.0, 0.3, 0.5, 0.7):
        expected = ref.greedy_nms(segs, scores, thr)
        assert temporal_nms(seg, sc, thr, method='blocks').tolist() == expected, thr
        assert temporal_nms(seg, sc, thr, method='sparse').tolist() == expected, thr
