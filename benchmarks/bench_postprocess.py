"""Full detection procedure: vectorized batched pipeline vs the per-video loop reference.

Three procedures: the paper's printed one (λ thresholds 0-0.5, mean of the
weighted logits), the one the background-aware configs run (thresholds on
each frame's quantile of λ in its video, outer-inner contrast of the logits
weighted with λ rescaled per video and stream, scaled by the class's video
probability; ``configs/_base_/models/wsal_i3d_two_stream.py``), and the same
with proposals per class from fused ranks (``FusedRankProposals``, an option).

Sizes: one 750-segment video, and the THUMOS14 test-set shape (the real
durations of the ``test`` subset of ``wsal/data/thumos14_gt.json`` at 0.64 s
per segment, two streams, all 20 classes scored, 21 thresholds). Attention
and CAS come from a seed with realistic temporal smoothness (a slow
component plus flicker; ~3,200 proposals on the 750-segment video).

The loop reference is the common reference-code pipeline: per video, per
class and per threshold in Python with numpy inside (connected components by
``np.diff``, one ``mean`` per proposal, numpy greedy NMS, all with the wsal
IoU convention). Every benchmark asserts equal detections (segments and
labels exactly, scores to 1e-9).

Run: ``python -m pytest benchmarks/bench_postprocess.py --benchmark-columns=median,iqr,rounds``.
"""
from __future__ import annotations

import json
import math
import os
from pathlib import Path

import numpy as np
import pytest
import torch

from wsal.postprocess import DetectionPipeline, default_thresholds, threshold_fraction

pytestmark = pytest.mark.usefixtures('torch_threads')


SPS = 0.64
THRESHOLDS = default_thresholds()
GT = Path(__file__).resolve().parents[1] / 'wsal' / 'data' / 'thumos14_gt.json'


# ------------------------------------------------------------------ data
def _smooth(x: torch.Tensor, sigma: float) -> torch.Tensor:
    r = int(3 * sigma) + 1
    k = torch.exp(-0.5 * (torch.arange(-r, r + 1, dtype=torch.float32) / sigma) ** 2)
    k = k / k.sum()
    lead = x.shape[:-1]
    y = torch.nn.functional.conv1d(x.reshape(-1, 1, x.shape[-1]), k.view(1, 1, -1), padding=r)
    return y.reshape(*lead, -1)


def _attention(n: int, t: int, g: torch.Generator) -> torch.Tensor:
    slow = _smooth(torch.randn(n, t, generator=g), 10.0) * 3.0   # action-scale structure
    flicker = _smooth(torch.randn(n, t, generator=g), 0.3) * 2.0  # segment-scale noise
    return torch.sigmoid(slow + flicker - 1.3)


def make_batch(lengths, *, num_classes: int = 20, seed: int = 0):
    """Model-output-like dict + data samples for videos of the given lengths."""
    g = torch.Generator().manual_seed(seed)
    b, t = len(lengths), max(lengths)
    mask = torch.arange(t)[None] < torch.tensor(lengths)[:, None]
    streams = {}
    for name in ('rgb', 'flow'):
        att = _attention(b, t, g) * mask
        cas = _smooth(torch.randn(b, num_classes + 1, t, generator=g), 3.0).transpose(1, 2) * 4.0
        streams[name] = {'attention': att.contiguous(), 'cas': cas.contiguous()}
    outputs = {'streams': streams, 'stream_weights': {'rgb': 0.5, 'flow': 0.5},
               'attention': (streams['rgb']['attention'] + streams['flow']['attention']) / 2,
               'video_scores': torch.rand(b, num_classes, generator=g), 'mask': mask}
    samples = [{'video_id': f'video_{i:04d}', 'seconds_per_segment': SPS,
                'duration': n * SPS} for i, n in enumerate(lengths)]
    return outputs, samples


def thumos14_test_lengths():
    db = json.loads(GT.read_text())['database']
    return [max(1, round(v['duration'] / SPS)) for v in db.values() if v['subset'] == 'test']


def to_device(outputs, device):
    out = {k: v.to(device) for k, v in outputs.items() if isinstance(v, torch.Tensor)}
    out['streams'] = {n: {k: v.to(device) for k, v in s.items()} for n, s in outputs['streams'].items()}
    out['stream_weights'] = dict(outputs['stream_weights'])
    return out


# ------------------------------------------------------------------ references
def numpy_greedy_nms(segments: np.ndarray, scores: np.ndarray, iou_threshold: float) -> np.ndarray:
    """Textbook numpy greedy NMS with the wsal convention (exact on integer segments)."""
    num, den = threshold_fraction(iou_threshold)
    s, e = segments[:, 0], segments[:, 1]
    order = np.argsort(-scores, kind='stable')
    keep = []
    while order.size:
        i = order[0]
        keep.append(i)
        rest = order[1:]
        inter = np.maximum(0, np.minimum(e[i], e[rest]) - np.maximum(s[i], s[rest]))
        union = (e[i] - s[i]) + (e[rest] - s[rest]) - inter
        order = rest[~(inter * den > num * union)]
    return np.asarray(keep, dtype=np.int64)


def numpy_soft_nms(segments: np.ndarray, scores: np.ndarray, sigma: float):
    """Textbook Gaussian soft-NMS in numpy: ``(kept indices, decayed scores)`` in pick order.

    Repeatedly picks the highest current score (lower index on ties) and
    lowers every remaining one by the fraction ``1 - exp(-IoU^2 / sigma)`` of
    its magnitude (a negative score moves down as well).
    """
    s, e = segments[:, 0].astype(np.float64), segments[:, 1].astype(np.float64)
    rest = np.arange(scores.shape[0])
    cur = scores.astype(np.float64).copy()
    keep, kept = [], []
    while rest.size:
        j = int(np.argmax(cur))
        i = rest[j]
        keep.append(i)
        kept.append(cur[j])
        rest, cur = np.delete(rest, j), np.delete(cur, j)
        inter = np.maximum(0.0, np.minimum(e[i], e[rest]) - np.maximum(s[i], s[rest]))
        union = (e[i] - s[i]) + (e[rest] - s[rest]) - inter
        iou = np.where(union > 0, inter / np.where(union > 0, union, 1.0), 0.0)
        w = np.exp(-(iou * iou) / sigma)
        cur = np.where(cur >= 0, cur * w, cur * (2.0 - w))
    return np.asarray(keep, dtype=np.int64), np.asarray(kept, dtype=np.float64)


def reference_inputs(outputs):
    """The model outputs as numpy: streams, θ, the mean λ (float64), video scores, lengths."""
    streams = {n: {k: v.cpu().numpy() for k, v in s.items()} for n, s in outputs['streams'].items()}
    return (streams, outputs['stream_weights'],
            outputs['attention'].cpu().numpy().astype(np.float64),
            outputs['video_scores'].cpu().numpy(), outputs['mask'].sum(1).cpu().numpy())


def selected_classes(scores: np.ndarray, class_threshold: float):
    """Classes with a video score >= the threshold, else the top one."""
    classes = [c for c in range(scores.shape[0]) if scores[c] >= class_threshold]
    return classes or [int(np.argmax(scores))]


def class_detections(segs: np.ndarray, scores: np.ndarray, label: int, iou_threshold: float):
    """``(start, end, score, label)`` of the proposals one class keeps after numpy greedy NMS."""
    return [(segs[i, 0], segs[i, 1], scores[i], label)
            for i in numpy_greedy_nms(segs, scores, iou_threshold)]


def class_soft_detections(segs: np.ndarray, scores: np.ndarray, label: int, sigma: float):
    """``(start, end, score, label)`` of one class's proposals after numpy Gaussian soft-NMS."""
    keep, kept = numpy_soft_nms(segs, scores, sigma)
    return [(segs[i, 0], segs[i, 1], score, label) for i, score in zip(keep, kept)]


def in_seconds(dets, sample):
    """A video's detections by decreasing score, segments in seconds (clipped to its duration)."""
    dets = sorted(dets, key=lambda x: -x[2])
    sps, dur = sample['seconds_per_segment'], sample['duration']
    return [(min(s * sps, dur), min(e * sps, dur), sc, c) for s, e, sc, c in dets]


def loop_reference(outputs, samples, *, class_threshold=0.1, iou_threshold=0.5):
    """Per video, per class, per threshold: the reference-code procedure."""
    streams, weights, attention, video_scores, lengths = reference_inputs(outputs)
    results = []
    for b, sample in enumerate(samples):
        n = int(lengths[b])
        classes = selected_classes(video_scores[b], class_threshold)
        proposals = []
        for thr in THRESHOLDS:
            above = (attention[b, :n] > thr).astype(np.int8)
            d = np.diff(np.concatenate([[0], above, [0]]))
            for s, e in zip(np.flatnonzero(d == 1), np.flatnonzero(d == -1) - 1):
                proposals.append((int(s), int(e)))
        segs = np.array([(s, e + 1) for s, e in proposals], dtype=np.int64).reshape(-1, 2)
        dets = []
        for c in classes:
            m = sum(w * streams[name]['attention'][b, :n].astype(np.float64)
                    * streams[name]['cas'][b, :n, c + 1].astype(np.float64)
                    for name, w in weights.items())
            scores = np.array([m[s:e + 1].mean() for s, e in proposals], dtype=np.float64)
            dets += class_detections(segs, scores, c, iou_threshold)
        results.append(in_seconds(dets, sample))
    return results


def loop_reference_configs(outputs, samples, *, class_threshold=0.0, iou_threshold=0.5,
                           inflation=0.25, pipeline=None):
    """The configs' procedure per video, per class and per threshold in Python with numpy inside.

    Proposals: each frame's quantile of the mean λ in its video (the fraction
    of the video's frames with a lower λ, by a sort), thresholded at 0..0.95;
    where the configs use ``FusedRankProposals``, per class the quantile of the
    sum of λ's rank and the class map's rank (frames with a lower value, by a
    sort each), thresholded alike; score: mean inside minus mean over
    ``ceil(inflation · length)`` frames on each side (clipped to the video) of
    ``Σ_s θ_s λ̃_s w_c·x_s``, with λ̃ each stream's λ rescaled to the video's
    range; ``s·p`` (``s/p`` below 0) with ``p`` the class's video probability;
    per class the configs' NMS: numpy greedy NMS, or Gaussian soft-NMS after
    dropping repeated proposals (the first of each kept) where the configs use
    ``SoftNMS(unique=True)``.
    ``pipeline`` (default the configs') is the procedure to follow.
    """
    pipeline = CONFIGS_PIPELINE if pipeline is None else pipeline
    nms = pipeline.nms
    soft = type(nms).__name__ == 'SoftNMS'
    if soft and (nms.method != 'gaussian' or nms.score_threshold is not None
                 or not nms.drop_duplicates):
        raise NotImplementedError(f'loop reference for {nms!r}')
    fused = type(pipeline.proposal).__name__ == 'FusedRankProposals'
    if fused and pipeline.proposal.normalize != 'minmax':
        raise NotImplementedError(f'loop reference for {pipeline.proposal!r}')
    thresholds = list(pipeline.proposal.thresholds)
    streams, weights, attention, video_scores, lengths = reference_inputs(outputs)

    def below(x):  # how many frames have a lower value
        return np.searchsorted(np.sort(x), x, side='left')

    def runs_of(quantile):
        proposals = []
        for thr in thresholds:
            above = (quantile > thr).astype(np.int8)
            d = np.diff(np.concatenate([[0], above, [0]]))
            proposals += list(zip(np.flatnonzero(d == 1), np.flatnonzero(d == -1) - 1))
        if soft:
            proposals = list(dict.fromkeys(proposals))  # the first of repeated proposals
        return proposals

    results = []
    for b, sample in enumerate(samples):
        n = int(lengths[b])
        classes = selected_classes(video_scores[b], class_threshold)
        lam = attention[b, :n]
        lam_rank = below(lam)
        shared = None if fused else runs_of(lam_rank / n)
        rescaled = {}
        for name, st in streams.items():
            a = st['attention'][b, :n]                     # float32, like the pipeline
            lo, hi = a.min(), a.max()
            span = (a - lo) / (hi - lo) if hi > lo else np.zeros_like(a)
            rescaled[name] = span.astype(np.float64)
        dets = []
        for c in classes:
            m = sum(w * rescaled[name] * streams[name]['cas'][b, :n, c + 1].astype(np.float64)
                    for name, w in weights.items())
            proposals = runs_of(below(lam_rank + below(m)) / n) if fused else shared
            segs = np.array([(s, e + 1) for s, e in proposals], dtype=np.int64).reshape(-1, 2)
            p = max(float(video_scores[b, c]), 1e-12)
            scores = []
            for s, e in proposals:
                margin = math.ceil((e - s + 1) * inflation)
                outer = np.concatenate([m[max(0, s - margin):s], m[e + 1:min(n, e + 1 + margin)]])
                score = m[s:e + 1].mean() - (outer.mean() if outer.size else 0.0)
                scores.append(score * p if score >= 0 else score / p)
            scores = np.array(scores, dtype=np.float64)
            if soft:
                dets += class_soft_detections(segs, scores, c, nms.sigma)
            else:
                dets += class_detections(segs, scores, c, iou_threshold)
        results.append(in_seconds(dets, sample))
    return results


def assert_same(got, expected):
    assert len(got) == len(expected)
    for det, ref in zip(got, expected):
        seg = det['segments'].double().cpu().numpy()
        assert len(ref) == seg.shape[0]
        if not ref:
            continue
        ref_seg = np.array([(r[0], r[1]) for r in ref])
        np.testing.assert_allclose(seg, ref_seg, rtol=1e-6)  # float32 seconds
        assert det['labels'].cpu().tolist() == [r[3] for r in ref]
        np.testing.assert_allclose(det['scores'].double().cpu().numpy(), [r[2] for r in ref],
                                   rtol=1e-6, atol=1e-6)  # float32 output of float64 scores


# ------------------------------------------------------------------ fixtures
_CACHE: dict = {}
_FULL = True


@pytest.fixture(autouse=True)
def _full_size_when_timing(timing):
    """Timing runs use all THUMOS14 test videos. The suite's single correctness
    pass (``--benchmark-disable``) uses every sixteenth of them by length, the
    longest included: the Python reference loop takes minutes on all of them.
    """
    global _FULL
    _FULL = timing


def _case(size: str):
    key = (size, _FULL)
    if key not in _CACHE:
        if size == '750seg':
            lengths = [750]
        else:
            lengths = thumos14_test_lengths()
            if not _FULL:
                lengths = sorted(lengths, reverse=True)[::16]
        outputs, samples = make_batch(lengths, seed=0 if size == '750seg' else 1)
        _CACHE[key] = {'outputs': outputs, 'samples': samples}
    return _CACHE[key]


#: ``WSAL_BENCH_REFERENCE=cpu``: the expected detections of every timed row are the
#: library's own CPU output (which the suite checks against the loop reference on
#: every sixteenth THUMOS14 test video), and the loop-reference rows are skipped. The
#: whole-set loop reference takes minutes; this is for a short run on a GPU machine,
#: where the CUDA rows' ratio is read against the CPU row of the same run.
REFERENCE = os.environ.get('WSAL_BENCH_REFERENCE', 'loop')
if REFERENCE not in ('loop', 'cpu'):
    raise ValueError(f"WSAL_BENCH_REFERENCE must be 'loop' or 'cpu', got {REFERENCE!r}")


def skip_without_loop_reference():
    if REFERENCE == 'cpu':
        pytest.skip('WSAL_BENCH_REFERENCE=cpu: the loop reference is not run')


def _reference(size: str, procedure: str = 'printed'):
    case = _case(size)
    key = f'reference-{procedure}'
    if key not in case:
        pipeline, loop = PROCEDURES[procedure][:2]
        if REFERENCE == 'cpu':
            case[key] = [[(s, e, score, label) for (s, e), score, label in
                          zip(d['segments'].double().tolist(), d['scores'].double().tolist(),
                              d['labels'].tolist())]
                         for d in pipeline(case['outputs'], case['samples'])]
        else:
            case[key] = loop(case['outputs'], case['samples'], class_threshold=0.0)
    return case[key]


PIPELINE = DetectionPipeline(class_threshold=0.0)  # all 20 classes scored


def configs_pipeline() -> DetectionPipeline:
    """The background-aware configs' ``test_cfg``, all 20 classes scored."""
    from mmengine.config import Config

    from wsal.engine.config_paths import resolve_config
    cfg = Config.fromfile(str(resolve_config('_base_/models/wsal_i3d_two_stream.py')))
    test_cfg = cfg.model.test_cfg.to_dict()
    test_cfg.pop('type')
    test_cfg['class_threshold'] = 0.0
    return DetectionPipeline(**test_cfg)


CONFIGS_PIPELINE = configs_pipeline()
#: The configs' thresholds on λ's quantiles: 0 to 0.95 step 0.05.
QUANTILE_THRESHOLDS = list(CONFIGS_PIPELINE.proposal.thresholds)


def fused_pipeline() -> DetectionPipeline:
    """The configs' procedure with proposals from fused ranks (``FusedRankProposals``)."""
    from wsal.postprocess import FusedRankProposals
    pipeline = configs_pipeline()
    pipeline.proposal = FusedRankProposals(thresholds=QUANTILE_THRESHOLDS)
    return pipeline


FUSED_PIPELINE = fused_pipeline()


def loop_reference_fused(outputs, samples, **kwargs):
    """:func:`loop_reference_configs` following :data:`FUSED_PIPELINE`."""
    return loop_reference_configs(outputs, samples, pipeline=FUSED_PIPELINE, **kwargs)


# ------------------------------------------------------------------ benchmarks
#: ``{procedure: (pipeline, loop reference, benchmark group prefix)}``.
PROCEDURES = {'printed': (PIPELINE, loop_reference, 'postprocess'),
              'configs': (CONFIGS_PIPELINE, loop_reference_configs, 'postprocess-configs'),
              'fused': (FUSED_PIPELINE, loop_reference_fused, 'postprocess-fused')}


@pytest.mark.parametrize('procedure', list(PROCEDURES))
@pytest.mark.parametrize('size', ['750seg', 'thumos14test'])
def bench_loop_reference(benchmark, size, procedure):
    skip_without_loop_reference()
    pipeline, loop, group = PROCEDURES[procedure]
    case = _case(size)
    benchmark.group = f'{group}-{size}-cpu'
    got = benchmark.pedantic(loop, args=(case['outputs'], case['samples']),
                             kwargs={'class_threshold': 0.0},
                             rounds=1 if size == 'thumos14test' else 5, iterations=1)
    case[f'reference-{procedure}'] = got
    assert_same(pipeline(case['outputs'], case['samples']), got)


@pytest.mark.parametrize('procedure', list(PROCEDURES))
@pytest.mark.parametrize('size', ['750seg', 'thumos14test'])
def bench_vectorized_batched(timed, benchmark, device, size, procedure):
    pipeline, _, group = PROCEDURES[procedure]
    case = _case(size)
    benchmark.group = f'{group}-{size}-{device.type}'
    outputs = to_device(case['outputs'], device)
    got = timed(pipeline, outputs, case['samples'])
    assert_same(got, _reference(size, procedure))


def bench_vectorized_per_video(timed, benchmark, device):
    """The same code called once per video (what a per-video predict loop does)."""
    case = _case('thumos14test')
    benchmark.group = f'postprocess-thumos14test-{device.type}'
    outputs = to_device(case['outputs'], device)
    singles = []
    for b, sample in enumerate(case['samples']):
        n = int(case['outputs']['mask'][b].sum())
        one = {k: outputs[k][b:b + 1, :n] for k in ('attention', 'mask')}
        one['video_scores'] = outputs['video_scores'][b:b + 1]
        one['stream_weights'] = outputs['stream_weights']
        one['streams'] = {name: {k: v[b:b + 1, :n] for k, v in s.items()}
                          for name, s in outputs['streams'].items()}
        singles.append((one, [sample]))

    def per_video():
        return [PIPELINE(o, s)[0] for o, s in singles]

    got = timed(per_video)
    assert_same(got, _reference('thumos14test'))


@pytest.mark.parametrize('impl', ['vectorized_batched', 'loop_reference'])
def bench_busy_machine(benchmark, busy_cores, impl):
    """The 750-segment video while every core is busy, torch at its default thread count
    (the pipeline picks its own threads)."""
    if impl == 'loop_reference':
        skip_without_loop_reference()
    case = _case('750seg')
    benchmark.group = 'postprocess-750seg-busy-cpu'
    before = torch.get_num_threads()
    torch.set_num_threads(os.cpu_count() or 1)
    try:
        if impl == 'vectorized_batched':
            got = benchmark(PIPELINE, case['outputs'], case['samples'])
        else:
            got = benchmark.pedantic(loop_reference, args=(case['outputs'], case['samples']),
                                     kwargs={'class_threshold': 0.0}, rounds=2, iterations=1)
            got = [{'segments': torch.tensor([(r[0], r[1]) for r in ref]).reshape(-1, 2),
                    'labels': torch.tensor([r[3] for r in ref], dtype=torch.long),
                    'scores': torch.tensor([r[2] for r in ref])} for ref in got]
    finally:
        torch.set_num_threads(before)
    assert_same(got, _reference('750seg'))


def test_reference_matches_pure_python_loop_on_a_short_video():
    """The numpy loop reference agrees with the tests' pure-Python definition."""
    import sys
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / 'tests' / 'test_postprocess'))
    import pp_reference as ref
    outputs, samples = make_batch([120, 80], num_classes=4, seed=3)
    streams = {n: {k: v.tolist() for k, v in s.items()} for n, s in outputs['streams'].items()}
    expected = ref.detect(attention=outputs['attention'].tolist(),
                          score_map=ref.weighted_cas(streams, outputs['stream_weights']),
                          video_scores=outputs['video_scores'].tolist(),
                          mask=outputs['mask'].tolist(), thresholds=THRESHOLDS, class_threshold=0.0,
                          sps=[SPS, SPS], durations=[s['duration'] for s in samples])
    got = loop_reference(outputs, samples, class_threshold=0.0)
    for a, b in zip(got, expected):
        assert [(x[0], x[1], x[3]) for x in a] == [(x[0], x[1], x[3]) for x in b]
        assert all(math.isclose(x[2], y[2], rel_tol=1e-9, abs_tol=1e-12) for x, y in zip(a, b))
