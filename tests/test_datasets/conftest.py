"""Fixtures: a tiny synthetic THUMOS14-structured dataset and a hand-made layout."""
import json
from pathlib import Path

import numpy as np
import pytest

from wsal.datasets.synthetic import make_synthetic


@pytest.fixture(scope='session')
def tiny_root(tmp_path_factory) -> Path:
    """The ``tiny`` synthetic preset, seed 0, generated once per session (read only!)."""
    return make_synthetic(tmp_path_factory.mktemp('synthetic') / 'tiny', 'tiny', seed=0)


def write_layout(root: Path, videos: dict, *, dim: int = 8, classes=None,
                 template: str = 'features/{modality}/{video_id}.npy') -> Path:
    """Write gt.json and features for ``videos``.

    ``videos``: ``{video_id: dict(subset=..., duration=..., T=..., anns=[(s, e, label)],
    fps=optional)}``; features are deterministic positive values.
    """
    db = {}
    rng = np.random.default_rng(0)
    for vid, v in videos.items():
        entry = {'subset': v.get('subset', 'validation'), 'duration': v['duration'],
                 'annotations': [{'segment': [s, e], 'label': lab} for s, e, lab in v.get('anns', [])]}
        if 'fps' in v:
            entry['fps'] = v['fps']
        db[vid] = entry
        for m in ('rgb', 'flow'):
            path = root / template.format(modality=m, video_id=vid, subset=entry['subset'])
            path.parent.mkdir(parents=True, exist_ok=True)
            np.save(path, rng.random((v['T'], v.get('dim', dim))).astype(np.float32))
    gt = {'database': db}
    if classes is not None:
        gt['classes'] = list(classes)
    (root / 'gt.json').write_text(json.dumps(gt))
    return root


@pytest.fixture
def simple_root(tmp_path) -> Path:
    """Three validation videos and one test video, classes A, B, C."""
    return write_layout(tmp_path, {
        'v1': dict(duration=10.0, T=15, anns=[(1.0, 3.0, 'A'), (5.0, 6.5, 'B')]),
        'v2': dict(duration=8.0, T=12, anns=[(0.5, 2.0, 'B')], fps=25.0),
        'v3': dict(duration=20.0, T=20, anns=[(2.0, 4.0, 'C')], fps=16.0),
        't1': dict(subset='test', duration=6.4, T=10, anns=[(1.0, 2.0, 'A')]),
    })
