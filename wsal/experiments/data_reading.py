"""What each seed's data lets class scores localize, read once before its cells train.

A campaign (``wsal ablate``, ``wsal compare``) trains every method on the same
data root per seed. Whether any of them can localize there through class
scores is a property of the data, not of the methods: where a linear
classifier of the videos' mean features (video labels only) scores the
frames outside the actions as high as the frames inside, every class-score
localizer is expected near the floor, and its attention can settle on the
background. :func:`data_reading` measures that (the video-label probe of
:func:`wsal.apis.data_report.inspect_data`, the first line of ``wsal
inspect``; seconds per data root), stores it beside the cells and the tables
print it, so that a table of low numbers says whether the data or the methods
made them.
"""
from __future__ import annotations

import json
import os
import os.path as osp
from typing import Any, Callable, Dict, List, Mapping, Optional

__all__ = ['data_reading', 'format_data_readings', 'READING_FILE']

#: File of a seed's reading, under ``<work dir>/seed<k>/``.
READING_FILE = 'data_reading.json'
#: Training frames drawn for the action shift ρ that ``inspect_data`` also measures.
_SHIFT_FRAMES = 2000


def _stamp(root: str) -> Dict[str, Any]:
    st = os.stat(osp.join(root, 'gt.json'))
    return {'data_root': osp.abspath(root), 'gt_size': int(st.st_size),
            'gt_mtime_ns': int(st.st_mtime_ns)}


def data_reading(root: str, *, seed: int, work_dir: str,
                 log: Optional[Callable[[str], None]] = None) -> Optional[Dict[str, Any]]:
    """The video-label probe of ``root``, cached in ``<work_dir>/seed<seed>/data_reading.json``.

    Args:
        root: The seed's canonical-layout data root.
        seed: The campaign seed (names the cache folder).
        work_dir: The campaign's work dir.
        log: Progress printer.

    Returns:
        dict or None: ``data_root``, ``video_label_auc`` ``{view: mean frame
        AUC within the test videos}`` (views ``all`` and each stream),
        ``below_chance`` ``{view: share of (video, class) pairs below 0.5}``,
        ``reading`` (one sentence, :func:`wsal.apis.data_report.reading`);
        None when the test split has no annotated segment to read against
        (the campaign's own evaluation then says so).
    """
    from wsal.apis.data_report import UnannotatedTestSplit, inspect_data, reading
    from wsal.utils import atomic_write_json, nonfinite_to_none
    path = osp.join(work_dir, f'seed{seed}', READING_FILE)
    stamp = _stamp(root)
    if osp.isfile(path):
        try:
            with open(path, encoding='utf-8') as f:
                cached = json.load(f)
        except (OSError, ValueError):
            cached = None
        if isinstance(cached, dict) and all(cached.get(k) == v for k, v in stamp.items()):
            return cached
    if log is not None:
        log(f'reading what the video labels teach about where the actions are: {root}')
    try:
        report = inspect_data(root, max_frames=0, max_shift_frames=_SHIFT_FRAMES, seed=seed)
    except UnannotatedTestSplit:
        return None
    probes = report['probes']
    out = dict(stamp)
    out['video_label_auc'] = {v: p['video_label']['mean'] for v, p in probes.items()}
    out['below_chance'] = {v: p['video_label']['below_chance'] for v, p in probes.items()}
    out['reading'] = reading(report)
    os.makedirs(osp.dirname(path), exist_ok=True)
    out = nonfinite_to_none(out)
    atomic_write_json(path, out)
    return out


def format_data_readings(meta: Mapping[str, Any]) -> List[str]:
    """Markdown lines on each seed's data reading (empty when the campaign has none)."""
    readings = {k: v for k, v in (meta.get('data_readings') or {}).items() if v}
    if not readings:
        return []
    from wsal.apis.data_report import format_auc
    views = list(next(iter(readings.values()))['video_label_auc'])
    lines = ['What the video labels teach about where the actions are (`wsal inspect`): the '
             'frame ROC AUC, within each test video, of a linear classifier fitted on the '
             "training videos' mean features and video labels (" + ' / '.join(views) + '):']
    for seed, r in readings.items():
        aucs = ' / '.join(format_auc(r['video_label_auc'].get(v)) for v in views)
        lines.append(f'- seed {seed}: {aucs}; {r["reading"]}.')
    return lines + ['']
