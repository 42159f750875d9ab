"""``inspect_data``: what a data set's video labels can teach about where its actions are.

Reads a canonical-layout data root (the same checks as training: every file
and field is validated first), then runs the linear probes of
:mod:`wsal.evaluation.label_probes` on the concatenated streams and on each
stream alone, and summarizes the splits. It takes seconds to a minute and
answers, before any training, whether a weakly-supervised localizer that
follows class scores has anything to follow on this data.
"""
from __future__ import annotations

import math
import os
from typing import Any, Dict, List, Optional, Sequence, Union

import numpy as np

__all__ = ['inspect_data', 'format_data_report', 'format_auc', 'UnannotatedTestSplit',
           'LOW_LABEL_AUC', 'HIGH_LABEL_AUC']

PathLike = Union[str, os.PathLike]

#: Below this mean video-label frame AUC the labels' class evidence is about as high outside the
#: actions as inside (wsal's generator with all its confounds on: 0.45-0.58, where every method
#: scored at most 13 mAP@0.5; docs/ablation.md).
LOW_LABEL_AUC = 0.6
#: At or above it the evidence sits in the actions (wsal's default generator: 0.84-0.87).
HIGH_LABEL_AUC = 0.75


class UnannotatedTestSplit(ValueError):
    """The test split has no annotated segment: nothing to measure localization against."""


def _percentiles(values: Sequence[float]) -> Dict[str, float]:
    a = np.asarray(values, dtype=np.float64)
    if a.size == 0:
        return {}
    p10, p50, p90 = np.percentile(a, [10, 50, 90])
    return {'mean': float(a.mean()), 'p10': float(p10), 'p50': float(p50), 'p90': float(p90),
            'min': float(a.min()), 'max': float(a.max())}


def _action_frames(frames: Dict[int, np.ndarray]) -> np.ndarray:
    """Bool ``[T]``: a video's frames inside any annotated instance (its share is the coverage)."""
    return np.logical_or.reduce(list(frames.values()))


def _touching(num_frames: int, seconds_per_segment: float, segments) -> np.ndarray:
    """Bool ``[T]``: frames whose span ``[t, t + 1)·sps`` overlaps an annotated segment."""
    start = np.arange(num_frames, dtype=np.float64) * float(seconds_per_segment)
    segs = np.asarray(segments, dtype=np.float64).reshape(-1, 2)
    if segs.shape[0] == 0:
        return np.zeros(num_frames, dtype=bool)
    return ((start[:, None] < segs[None, :, 1])
            & (start[:, None] + seconds_per_segment > segs[None, :, 0])).any(1)


def _split(data_root: PathLike, subset: str, streams: Sequence[str],
           classes: Optional[Sequence[str]], video_list: Optional[PathLike]):
    from wsal.datasets import WSALFeatureDataset
    ds = WSALFeatureDataset(data_root=data_root, subset=subset, modalities=tuple(streams),
                            classes=None if classes is None else list(classes),
                            video_list=video_list)
    ds.full_init()
    return ds


def _videos(ds, streams: Sequence[str], *, sample_rate: float = 1.0, seed: int = 0,
            clear: bool = True):
    """Yield ``({view: ProbeVideo}, T, {class: bool [T]}, ({stream: [T, D]}, bool [T]))``.

    One item per video. The views are ``all`` (the streams concatenated,
    with two or more) and each stream; the third item marks each annotated
    class's frames (a frame is inside when its centre is); the last holds
    every frame of each stream and the frames that touch no annotated
    segment (None with ``clear=False``).

    With ``sample_rate < 1`` each view's ``features`` keep that share of the
    frames (drawn with ``seed``) and ``mean`` holds the whole video's mean.
    """
    from wsal.evaluation.attention_health import frames_in_segments
    from wsal.evaluation.label_probes import ProbeVideo
    rng = np.random.default_rng(seed)
    num_classes = len(ds.classes)
    lengths = ds.lengths
    for i, rec in enumerate(ds.records):
        feats = ds.get_features(i)  # every stream already cut to the video's length
        t = lengths[i]
        sps = ds.stride / rec.fps
        segs = np.asarray(rec.gt_segments, dtype=np.float64).reshape(-1, 2)
        labels = np.asarray(rec.gt_labels, dtype=np.int64).reshape(-1)
        frames = {c: frames_in_segments(t, sps, segs[labels == c])
                  for c in sorted(set(labels.tolist()))}
        label = np.zeros(num_classes, dtype=np.float64)
        if rec.label_indices:
            label[list(rec.label_indices)] = 1.0
        keep = None
        if sample_rate < 1.0:
            keep = np.flatnonzero(rng.random(t) < sample_rate)
        views = {s: feats[s] for s in streams}
        if len(streams) > 1:
            views = {'all': np.concatenate([views[s] for s in streams], 1), **views}
        out = {}
        for name, x in views.items():
            if keep is None:
                out[name] = ProbeVideo(rec.video_id, x, label, frames)
            else:
                out[name] = ProbeVideo(rec.video_id, x[keep], label,
                                       {c: m[keep] for c, m in frames.items()},
                                       mean=x.mean(0, dtype=np.float64))
        yield out, t, frames, (feats, ~_touching(t, sps, segs) if clear else None)


def inspect_data(data_root: PathLike, *, train_subset: str = 'validation',
                 test_subset: str = 'test', streams: Sequence[str] = ('rgb', 'flow'),
                 test_video_list: Optional[PathLike] = None, max_frames: int = 20000,
                 max_shift_frames: int = 20000, seed: int = 0) -> Dict[str, Any]:
    """Probe a canonical-layout data root (see :mod:`wsal.evaluation.label_probes`).

    Args:
        data_root: Folder with ``gt.json`` and ``features/<stream>/<video>.npy``.
        train_subset: Subset the probes are fitted on (THUMOS14: ``validation``).
        test_subset: Subset they are evaluated on; it needs annotated segments.
        streams: The feature streams.
        test_video_list: Restrict the test split to these ids (file, as the datasets take it).
        max_frames: Training frames drawn for the supervised frame probe (0 skips it).
        max_shift_frames: Training frames drawn for the background's spread
            in the action shift ρ (:class:`wsal.evaluation.action_shift.ActionShift`;
            its cost grows with frames × D²). The shift itself uses every frame.
        seed: Seed of those draws.

    Returns:
        dict: ``data_root``, ``classes``, ``dims`` ``{stream: D}``, ``splits``
        (per split: ``subset``, ``videos``, ``segments`` and ``coverage``
        percentiles, coverage being each video's share of frames inside an
        annotated instance) and ``probes`` (per view, ``all`` and each
        stream: ``video_label`` frame-AUC summary, ``classification_map``,
        ``frame_probe`` summary or None, and for each stream ``norm`` and
        ``action_shift``, ρ on the training split: ``rho``, ``shift``,
        ``sigma1``, ``videos``, ``frames``; see
        :mod:`wsal.evaluation.action_shift`).

    Raises:
        ValueError: invalid data (named file, video and field).
        UnannotatedTestSplit: a test split without annotated segments (a
            ValueError).
    """
    from wsal.evaluation.action_shift import ActionShift
    from wsal.evaluation.attention_health import frame_auc
    from wsal.evaluation.classification_metric import classification_map
    from wsal.evaluation.label_probes import (class_frame_aucs, fit_frame_probe,
                                              fit_video_label_probe, norm_auc, summarize_aucs)
    if max_frames < 0:
        raise ValueError(f'max_frames must be >= 0, got {max_frames}')
    if max_shift_frames < 1:
        raise ValueError(f'max_shift_frames must be >= 1, got {max_shift_frames}')
    streams = tuple(streams)
    train_ds = _split(data_root, train_subset, streams, None, None)
    test_ds = _split(data_root, test_subset, streams, train_ds.classes, test_video_list)
    if not any(len(r.gt_segments) for r in test_ds.records):
        raise UnannotatedTestSplit(f'{data_root}: no video of subset {test_subset!r} has '
                                   'annotated segments; '
                         'the probes need them to measure localization')
    total = sum(train_ds.lengths)
    rate = min(1.0, max(max_frames, 1) / max(total, 1))
    views = (('all',) if len(streams) > 1 else ()) + streams
    train: Dict[str, list] = {v: [] for v in views}
    splits: Dict[str, Any] = {}
    shift_rate = min(1.0, max_shift_frames / max(total, 1))
    shift_rng = np.random.default_rng([seed, 1])
    shifts = {s: ActionShift() for s in streams}
    lengths, coverage = [], []
    for per_view, t, frames, (feats, clear) in _videos(train_ds, streams, sample_rate=rate,
                                                       seed=seed):
        for v in views:
            train[v].append(per_view[v])
        lengths.append(t)
        if frames:
            action = _action_frames(frames)
            coverage.append(float(action.mean()))
            sample = (None if shift_rate >= 1.0
                      else np.flatnonzero(shift_rng.random(t) < shift_rate))
            background = clear & ~action
            for s in streams:
                shifts[s].update(feats[s], action, background_frames=background, sample=sample)
    splits['train'] = {'subset': train_subset, 'videos': len(lengths),
                       'segments': _percentiles(lengths), 'coverage': _percentiles(coverage)}
    label_probes = {v: fit_video_label_probe(train[v]) for v in views}
    frame_probes = {v: (fit_frame_probe(train[v], max_frames=max_frames, seed=seed)
                        if max_frames > 0 else None) for v in views}
    del train
    aucs: Dict[str, List[float]] = {v: [] for v in views}
    frame_aucs: Dict[str, List[float]] = {v: [] for v in views}
    norms: Dict[str, List[float]] = {s: [] for s in streams}
    video_scores: Dict[str, List[np.ndarray]] = {v: [] for v in views}
    labels: List[np.ndarray] = []
    lengths, coverage = [], []
    for per_view, t, frames, _ in _videos(test_ds, streams, clear=False):
        lengths.append(t)
        if frames:
            coverage.append(float(_action_frames(frames).mean()))
        labels.append(next(iter(per_view.values())).label)
        for v in views:
            pv = per_view[v]
            aucs[v] += class_frame_aucs(label_probes[v], pv)
            video_scores[v].append(label_probes[v](pv.features.mean(0, keepdims=True))[0])
            if frame_probes[v] is not None and frames:
                frame_aucs[v].append(frame_auc(frame_probes[v](pv.features)[:, 0],
                                               pv.action_frames))
            if v in norms and frames:
                norms[v].append(norm_auc(pv))
    splits['test'] = {'subset': test_subset, 'videos': len(lengths),
                      'segments': _percentiles(lengths), 'coverage': _percentiles(coverage)}
    label_arr = np.stack(labels)
    probes: Dict[str, Any] = {}
    for v in views:
        cls = (classification_map(np.stack(video_scores[v]), label_arr)['mAP']
               if label_arr.any() else float('nan'))
        probes[v] = {'video_label': summarize_aucs(aucs[v]), 'classification_map': cls,
                     'frame_probe': (summarize_aucs(frame_aucs[v])
                                     if frame_probes[v] is not None else None)}
        if v in norms:
            probes[v]['norm'] = summarize_aucs(norms[v])
            probes[v]['action_shift'] = shifts[v].result()
    return {'data_root': os.fspath(data_root), 'classes': list(train_ds.classes),
            'dims': {s: train_ds.dims[s] for s in streams}, 'splits': splits,
            'probes': probes, 'max_frames': int(max_frames),
            'max_shift_frames': int(max_shift_frames), 'seed': int(seed)}


def format_auc(x: Optional[float]) -> str:
    """An AUC (or ρ) with two decimals; '–' for None or a non-finite value."""
    return '–' if x is None or not math.isfinite(x) else f'{x:.2f}'


def reading(report: Dict[str, Any]) -> str:
    """One sentence on what the video-label probe means for weakly-supervised localizers."""
    view = 'all' if 'all' in report['probes'] else next(iter(report['probes']))
    auc = report['probes'][view]['video_label']['mean']
    if not math.isfinite(auc):
        return 'no (video, class) pair of the test split could be scored'
    if auc < LOW_LABEL_AUC:
        return (f'video-label AUC {auc:.2f} < {LOW_LABEL_AUC}: the class evidence the labels teach '
                'is about as high outside the actions as inside (the scene tells the class). '
                'Methods that localize through class scores are expected near the floor and can '
                'settle on the background (inverted attention); train every compared method to '
                'its plateau before comparing them')
    if auc < HIGH_LABEL_AUC:
        return (f'video-label AUC {auc:.2f}: the labels point at the actions only weakly. Expect '
                'slow, seed-dependent training; compare methods at equal, long training lengths')
    return (f'video-label AUC {auc:.2f}: the class evidence the labels teach sits in the actions; '
            'class-score localizers have something to follow')


def format_data_report(report: Dict[str, Any]) -> str:
    """The report of :func:`inspect_data` as text."""
    dims = ', '.join(f'{s} {d}-d' for s, d in report['dims'].items())
    lines = [f"data {report['data_root']}: {len(report['classes'])} classes, {dims}"]
    for key in ('train', 'test'):
        sp = report['splits'][key]
        seg, cov = sp['segments'], sp['coverage']
        line = (f"  {key:5s} subset {sp['subset']!r}: {sp['videos']} videos, "
                f"{seg['min']:.0f}-{seg['max']:.0f} segments (median {seg['p50']:.0f})")
        if cov:
            line += (f"; share of frames in actions {cov['mean']:.2f} "
                     f"(per video p10/p50/p90 {cov['p10']:.2f}/{cov['p50']:.2f}/{cov['p90']:.2f})")
        else:
            line += '; no annotated segments'
        lines.append(line)
    views = list(report['probes'])
    lines.append('')
    lines.append('frame ROC AUC against the annotated actions, within each test video '
                 '(mean; median; share below 0.5):')
    width = 34
    lines.append(' ' * width + ''.join(f'{v:>20s}' for v in views))

    def row(name, get):
        cells = []
        for v in views:
            s = get(report['probes'][v])
            if s is None:
                cells.append(f'{"–":>20s}')
            elif isinstance(s, dict):
                cells.append(f"{format_auc(s['mean'])}; {format_auc(s['median'])}; {format_auc(s['below_chance'])}"
                             .rjust(20))
            else:
                cells.append(f'{format_auc(s):>20s}')
        lines.append(f'{name:{width}s}' + ''.join(cells))

    row('video-label classifier (weak)', lambda p: p['video_label'])
    row('row norm', lambda p: p.get('norm'))
    row('supervised frame probe (reference)', lambda p: p['frame_probe'])
    row('video classification mAP (test)', lambda p: p['classification_map'])
    shift = {v: p['action_shift'] for v, p in report['probes'].items() if 'action_shift' in p}
    if shift:
        lines.append('')
        lines.append('action shift ρ on the training split (how far an action moves the features, '
                     "against the background's largest change within a video): "
                     + ', '.join(f"{v} {format_auc(r['rho'])}" for v, r in shift.items()))
    lines.append('')
    legend = ("video-label classifier: linear, fitted on the training videos' mean features and "
              'video labels, scored per frame (AUC per test video and present class). ')
    if report['max_frames'] > 0:
        legend += ('Supervised frame probe: linear action-vs-background, fitted on the training '
                   f"split's annotated frames (at most {report['max_frames']}); a reference for "
                   'what the features allow, not a weakly-supervised number.')
    else:
        legend += 'Supervised frame probe: skipped (max_frames 0).'
    lines.append(legend)
    lines.append(reading(report))
    return '\n'.join(lines)
