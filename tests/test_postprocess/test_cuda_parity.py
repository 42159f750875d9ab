"""Post-processing on a CUDA device equals the CPU's, on the benchmarks' inputs.

NMS: the same kept indices in the same order on every proposal distribution
of ``benchmarks/bench_nms.py`` (integer-grid proposals with exact IoU ties,
dense float segments, nested chains, exact duplicates, one huge class, a
thousand classes), for every method a CUDA tensor can take. Detection: the
printed procedure and the background-aware configs' procedure on a batch of
real THUMOS14 test-video lengths: the same segments and labels, scores to
float32 rounding.
"""
import importlib.util
from pathlib import Path

import pytest
import torch

from wsal.postprocess import SoftNMS, temporal_nms

DEVICES = ['cuda'] if torch.cuda.is_available() else []
pytestmark = pytest.mark.skipif(not DEVICES, reason='needs a CUDA device')

BENCH = Path(__file__).resolve().parents[2] / 'benchmarks'


def _load(name):
    spec = importlib.util.spec_from_file_location(f'_parity_{name}', BENCH / f'{name}.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope='module')
def bench_nms():
    return _load('bench_nms')


@pytest.fixture(scope='module')
def bench_pp():
    return _load('bench_postprocess')


def _nms_inputs(bench_nms, dist):
    if dist == 'attention':
        pool = bench_nms._pool()
        return pool['segments'], pool['scores'], None
    seg, sc, lab = bench_nms.distribution(dist)
    return (torch.from_numpy(seg), torch.from_numpy(sc),
            None if lab is None else torch.from_numpy(lab))


@pytest.mark.parametrize('device', DEVICES)
@pytest.mark.parametrize('method', ['auto', 'dense', 'sparse'])
@pytest.mark.parametrize('dist', ['attention', 'dense', 'nested', 'duplicates', 'hugeclass',
                                  'tinyclasses'])
def test_nms_keeps_the_same_boxes_as_the_cpu(bench_nms, dist, method, device):
    seg, sc, lab = _nms_inputs(bench_nms, dist)
    expected = bench_nms.numpy_greedy_labelled(
        seg.numpy(), sc.numpy(), 0.5, None if lab is None else lab.numpy()).tolist()
    cpu = temporal_nms(seg, sc, 0.5, lab)
    got = temporal_nms(seg.to(device), sc.to(device), 0.5,
                       None if lab is None else lab.to(device), method=method)
    assert got.device.type == device
    assert cpu.tolist() == expected
    assert got.cpu().tolist() == expected


@pytest.mark.parametrize('device', DEVICES)
@pytest.mark.parametrize('threshold', [0.3, 0.5, 0.7])
def test_nms_thresholds_with_ties_match_the_cpu(bench_nms, threshold, device):
    seg, sc, _ = _nms_inputs(bench_nms, 'attention')
    sc = torch.round(sc * 8) / 8  # many equal scores: order by index decides
    cpu = temporal_nms(seg, sc, threshold)
    assert temporal_nms(seg.to(device), sc.to(device), threshold).cpu().tolist() == cpu.tolist()


@pytest.mark.parametrize('device', DEVICES)
@pytest.mark.parametrize('method', ['gaussian', 'linear'])
def test_soft_nms_matches_the_cpu(bench_nms, method, device):
    seg, sc, _ = _nms_inputs(bench_nms, 'attention')
    seg, sc = seg[:400].double(), sc[:400]
    soft = SoftNMS(method=method)
    keep, scores = soft(seg, sc, torch.zeros(len(sc), dtype=torch.long))
    keep_d, scores_d = soft(seg.to(device), sc.to(device),
                            torch.zeros(len(sc), dtype=torch.long, device=device))
    assert keep_d.cpu().tolist() == keep.tolist()
    torch.testing.assert_close(scores_d.cpu(), scores)


@pytest.mark.parametrize('device', DEVICES)
@pytest.mark.parametrize('procedure', ['printed', 'configs'])
def test_detections_match_the_cpu_on_thumos14_lengths(bench_pp, procedure, device):
    lengths = sorted(bench_pp.thumos14_test_lengths(), reverse=True)[::6]
    outputs, samples = bench_pp.make_batch(lengths, seed=1)
    pipeline = bench_pp.PIPELINE if procedure == 'printed' else bench_pp.CONFIGS_PIPELINE
    cpu = pipeline(outputs, samples)
    got = pipeline(bench_pp.to_device(outputs, device), samples)
    assert len(got) == len(cpu) == len(lengths)
    assert sum(len(d['labels']) for d in cpu) > 1000
    for video, (a, b) in enumerate(zip(cpu, got)):
        assert torch.equal(b['segments'].cpu(), a['segments']), video
        assert torch.equal(b['labels'].cpu(), a['labels']), video
        torch.testing.assert_close(b['scores'].cpu(), a['scores'], rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize('device', DEVICES)
def test_fused_rank_proposals_match_the_cpu(bench_pp, device):
    from wsal.postprocess import FusedRankProposals, select_classes
    lengths = sorted(bench_pp.thumos14_test_lengths(), reverse=True)[::6]
    outputs, _ = bench_pp.make_batch(lengths, seed=2)
    gen = FusedRankProposals(thresholds=[round(0.05 * i, 3) for i in range(20)])
    class_mask = select_classes(outputs['video_scores'], 0.1)
    cpu = gen(outputs, class_mask)
    got = gen(bench_pp.to_device(outputs, device), class_mask.to(device))
    assert cpu.start.numel() > 1000
    for a, b in zip(cpu, got):
        assert torch.equal(b.cpu(), a)
