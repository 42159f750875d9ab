"""Cost of the feature-file checks at dataset construction, THUMOS14-sized.

Data: the packaged THUMOS14 durations (412 videos), 25 fps, 16 frames per
segment, two float32 ``[T, 1024]`` streams per video (1.1 GB on disk), one NaN
planted in one test video. Both splits are built, as ``wsal train`` does.

* ``headers``: ``check_finite=False`` (every header, no values read): the
  reference for what the value scan adds;
* ``scan``: the default (headers plus the chunked NaN/Inf scan);
* ``naive``: ``np.load`` of every whole file plus ``np.isfinite``, the plain
  way of doing the same check.

``scan`` and ``naive`` must find the same bad video. The files sit in the page
cache after the first round (warm numbers); the ``*_cold`` variants drop them
from it (``posix_fadvise(DONTNEED)``, where available) before each round.
``WSAL_BENCH_CHECK_VIDEOS`` uses the first N videos only (e.g. 40 for a quick
run; runs with ``--benchmark-disable`` default to 24).

Run: ``python -m pytest benchmarks/bench_feature_checks.py -p no:cacheprovider
--benchmark-columns=median,iqr,rounds``.
"""
from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import numpy as np
import pytest

GROUP = 'feature-checks-thumos14-cpu'
STREAMS = ('rgb', 'flow')


@pytest.fixture(scope='module')
def thumos_sized(tmp_path_factory, timing):
    from mmengine.logging import MMLogger
    MMLogger.get_current_instance().setLevel(logging.ERROR)  # out-of-range notes of the real gt
    src = Path(__file__).resolve().parents[1] / 'wsal' / 'data' / 'thumos14_gt.json'
    gt = json.loads(src.read_text())
    # correctness-only runs (--benchmark-disable, as in the test suite) use 24 videos
    quick = '0' if timing else '24'
    limit = int(os.environ.get('WSAL_BENCH_CHECK_VIDEOS', quick)) or None
    gt['database'] = dict(list(gt['database'].items())[:limit])
    root = tmp_path_factory.mktemp('thumos_sized')
    block = np.random.default_rng(0).random((2700, 1024), dtype=np.float32)
    for m in STREAMS:
        (root / 'features' / m).mkdir(parents=True)
    for i, (vid, entry) in enumerate(gt['database'].items()):
        t = int(entry['duration'] * 25 / 16)
        for m in STREAMS:
            np.save(root / 'features' / m / f'{vid}.npy', np.roll(block, i, axis=0)[:t])
    bad = next(v for v, e in gt['database'].items() if e['subset'] == 'test')
    x = np.load(root / 'features' / 'flow' / f'{bad}.npy')
    x[len(x) // 2, 17] = np.nan
    np.save(root / 'features' / 'flow' / f'{bad}.npy', x)
    (root / 'gt.json').write_text(json.dumps(gt))
    return root, gt, bad


def _build(root, **kwargs):
    from wsal.datasets import WSALFeatureDataset
    kept = set()
    for subset in ('validation', 'test'):
        kept |= set(WSALFeatureDataset(data_root=root, subset=subset, skip_invalid=True,
                                       **kwargs).video_ids)
    return kept


def _naive(root, gt):
    bad = set()
    for vid in gt['database']:
        for m in STREAMS:
            if not np.isfinite(np.load(root / 'features' / m / f'{vid}.npy')).all():
                bad.add(vid)
    return bad


@pytest.mark.benchmark(group=GROUP)
def bench_headers(benchmark, thumos_sized):
    root, gt, _ = thumos_sized
    assert benchmark(_build, root, check_finite=False) == set(gt['database'])


@pytest.mark.benchmark(group=GROUP)
def bench_scan(benchmark, thumos_sized):
    root, gt, bad = thumos_sized
    kept = benchmark(_build, root, check_finite=True)
    assert set(gt['database']) - kept == _naive(root, gt) == {bad}


@pytest.mark.benchmark(group=GROUP)
def bench_naive(benchmark, thumos_sized):
    root, gt, bad = thumos_sized
    assert benchmark(_naive, root, gt) == {bad}


def _evict(root):
    for path in root.glob('features/*/*.npy'):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)


cold = pytest.mark.skipif(not hasattr(os, 'posix_fadvise'), reason='needs posix_fadvise')


@cold
@pytest.mark.benchmark(group=GROUP + '-cold')
def bench_headers_cold(benchmark, thumos_sized):
    root, gt, _ = thumos_sized
    kept = benchmark.pedantic(_build, args=(root,), kwargs=dict(check_finite=False),
                              setup=lambda: _evict(root), rounds=3)
    assert kept == set(gt['database'])


@cold
@pytest.mark.benchmark(group=GROUP + '-cold')
def bench_scan_cold(benchmark, thumos_sized):
    root, gt, bad = thumos_sized
    kept = benchmark.pedantic(_build, args=(root,), kwargs=dict(check_finite=True),
                              setup=lambda: _evict(root), rounds=3)
    assert set(gt['database']) - kept == {bad}
