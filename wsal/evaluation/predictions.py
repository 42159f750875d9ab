"""Detections in ActivityNet result form: loading, validation, conversion.

The result format is
``{"version": ..., "results": {video_id: [{"label": str, "score": float, "segment": [s, e]}, ...]},
"external_data": {}}``. Only ``results`` is required. The *input order* of
predictions (videos in ``results`` order, then list order) is what breaks
ties between equal scores (see :mod:`wsal.evaluation.detection`).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Dict, List, Mapping, Sequence, Union

import numpy as np

from .ground_truth import load_json_source

__all__ = ['Predictions', 'load_predictions']


@dataclass
class Predictions:
    """Detections as flat arrays, in input order.

    Attributes:
        source: File name (or ``<... dict>``).
        videos: Distinct video ids, in input order.
        labels: Distinct label names, in order of first use.
        video_index: ``[N]`` int64 index into ``videos``.
        label_index: ``[N]`` int64 index into ``labels``.
        segments: ``[N, 2]`` float64 seconds.
        scores: ``[N]`` float64 confidences.
    """

    source: str
    videos: List[str]
    labels: List[str]
    video_index: np.ndarray
    label_index: np.ndarray
    segments: np.ndarray
    scores: np.ndarray

    def __post_init__(self) -> None:
        n = self.scores.shape[0]
        for name, arr, shape in (('video_index', self.video_index, (n,)),
                                 ('label_index', self.label_index, (n,)),
                                 ('segments', self.segments, (n, 2)),
                                 ('scores', self.scores, (n,))):
            if arr.shape != shape:
                raise ValueError(f'{self.source}: {name} has shape {arr.shape}, expected {shape}')
        self._validate()

    def __len__(self) -> int:
        return int(self.scores.shape[0])

    def _where(self, i: int) -> str:
        vid = self.videos[self.video_index[i]]
        k = int(np.count_nonzero(self.video_index[:i] == self.video_index[i]))
        return f"{self.source}: video '{vid}', prediction {k}"

    def _validate(self) -> None:
        bad = np.flatnonzero(~np.isfinite(self.scores))
        if bad.size:
            raise ValueError(f"{self._where(bad[0])}: 'score' is {self.scores[bad[0]]} "
                             f'({bad.size} non-finite score(s) in all)')
        bad = np.flatnonzero(~np.isfinite(self.segments).all(axis=1))
        if bad.size:
            raise ValueError(f"{self._where(bad[0])}: 'segment' is not finite: "
                             f'{self.segments[bad[0]].tolist()} ({bad.size} in all)')
        bad = np.flatnonzero(self.segments[:, 0] > self.segments[:, 1])
        if bad.size:
            raise ValueError(f"{self._where(bad[0])}: 'segment' starts after it ends: "
                             f'{self.segments[bad[0]].tolist()} '
                             f'({bad.size} such segment(s) in all)')

    @classmethod
    def from_arrays(cls, *, videos: Sequence[str], segments: Sequence[Any],
                    scores: Sequence[Any], labels: Sequence[Any], class_names: Sequence[str],
                    source: str = '<predict outputs>') -> 'Predictions':
        """Predictions from per-video arrays (e.g. ``detections`` of predict outputs).

        Args:
            videos: Video ids, one per entry (distinct).
            segments: Per video, ``[N_v, 2]`` seconds.
            scores: Per video, ``[N_v]``.
            labels: Per video, ``[N_v]`` class indices into ``class_names``.
            class_names: The C class names.
            source: Display name.
        """
        if not len(videos) == len(segments) == len(scores) == len(labels):
            raise ValueError(f'{source}: {len(videos)} videos but {len(segments)} segment, '
                             f'{len(scores)} score and {len(labels)} label arrays')
        if len(set(videos)) != len(videos):
            raise ValueError(f'{source}: a video id appears twice')
        segs, scs, labs, vidx = [], [], [], []
        for i, (vid, seg, sc, lab) in enumerate(zip(videos, segments, scores, labels)):
            seg = np.asarray(seg, dtype=np.float64).reshape(-1, 2)
            sc = np.asarray(sc, dtype=np.float64).reshape(-1)
            lab = np.asarray(lab).reshape(-1).astype(np.int64)
            if not seg.shape[0] == sc.shape[0] == lab.shape[0]:
                raise ValueError(f"{source}: video '{vid}': {seg.shape[0]} segments, "
                                 f'{sc.shape[0]} scores, {lab.shape[0]} labels')
            bad = (lab < 0) | (lab >= len(class_names))
            if bad.any():
                raise ValueError(f"{source}: video '{vid}': labels {lab[bad].tolist()} outside "
                                 f'0..{len(class_names) - 1}')
            segs.append(seg)
            scs.append(sc)
            labs.append(lab)
            vidx.append(np.full(sc.shape[0], i, dtype=np.int64))
        cat = (lambda xs, shape: np.concatenate(xs) if xs else np.zeros(shape))
        return cls(source=source, videos=list(videos), labels=[str(c) for c in class_names],
                   video_index=cat(vidx, (0,)).astype(np.int64),
                   label_index=cat(labs, (0,)).astype(np.int64),
                   segments=cat(segs, (0, 2)).astype(np.float64),
                   scores=cat(scs, (0,)).astype(np.float64))

    def to_results(self, *, version: str = 'wsal') -> Dict[str, Any]:
        """The ActivityNet result dict (videos without detections are kept, with [])."""
        results: Dict[str, list] = {v: [] for v in self.videos}
        for vi, li, (s, e), sc in zip(self.video_index.tolist(), self.label_index.tolist(),
                                      self.segments.tolist(), self.scores.tolist()):
            results[self.videos[vi]].append({'label': self.labels[li], 'score': sc,
                                             'segment': [s, e]})
        return {'version': version, 'results': results, 'external_data': {}}


def _locate_bad_entry(src: str, vid: str, entries: list) -> None:
    for k, e in enumerate(entries):
        where = f"{src}: video '{vid}', prediction {k}"
        if not isinstance(e, Mapping):
            raise ValueError(f'{where}: must be a mapping with label/score/segment, got {e!r}')
        for key in ('label', 'score', 'segment'):
            if key not in e:
                raise ValueError(f"{where}: missing '{key}' field (has {sorted(e)})")
        seg = e['segment']
        if not isinstance(seg, (list, tuple)) or len(seg) != 2:
            raise ValueError(f"{where}: 'segment' must be [start, end], got {seg!r}")
        try:
            float(seg[0]), float(seg[1])
        except (TypeError, ValueError):
            raise ValueError(f"{where}: 'segment' must hold two numbers, got {seg!r}") from None
        if isinstance(e['score'], (bool, str)) or not isinstance(e['score'], (int, float)):
            try:
                float(e['score'])
            except (TypeError, ValueError):
                raise ValueError(f"{where}: 'score' must be a number, got {e['score']!r}") from None
        if not isinstance(e['label'], str):
            raise ValueError(f"{where}: 'label' must be a class name (str), got {e['label']!r}")


def load_predictions(source: Union[str, os.PathLike, Mapping]) -> Predictions:
    """Load and validate ActivityNet-format detections.

    Args:
        source: Path of a JSON file or the parsed dict.

    Returns:
        Predictions: flat arrays in input order.

    Raises:
        FileNotFoundError: missing file.
        ValueError: no ``results``; an entry without label/score/segment; a
            NaN or infinite score or time; a segment with start > end. The
            message names the file, video and prediction index.
    """
    data, src = load_json_source(source, 'predictions')
    if not isinstance(data, Mapping) or 'results' not in data:
        raise ValueError(f"{src}: no 'results' field; an ActivityNet prediction file is "
                         '{"results": {video_id: [{"label": ..., "score": ..., '
                         '"segment": [s, e]}]}}')
    results = data['results']
    if not isinstance(results, Mapping):
        raise ValueError(f"{src}: 'results' must be a mapping video_id -> list of detections")
    videos: List[str] = []
    counts: List[int] = []
    labs: List[Any] = []
    scs: List[Any] = []
    starts: List[Any] = []
    ends: List[Any] = []
    for vid, entries in results.items():
        if not isinstance(entries, list):
            raise ValueError(f"{src}: results['{vid}'] must be a list of detections, "
                             f'got {type(entries).__name__}')
        try:  # comprehensions: the cheapest way through 1e5 dicts
            labs += [e['label'] for e in entries]
            scs += [e['score'] for e in entries]
            pairs = [e['segment'] for e in entries]
            starts += [s for s, _ in pairs]  # unpacking checks [start, end]
            ends += [t for _, t in pairs]
        except (KeyError, TypeError, ValueError):
            _locate_bad_entry(src, vid, entries)
            raise
        videos.append(str(vid))
        counts.append(len(entries))
    try:
        n = len(scs)  # np.fromiter: much faster than np.array on long lists of floats
        scores = np.fromiter(scs, dtype=np.float64, count=n)
        segments = np.stack([np.fromiter(starts, dtype=np.float64, count=n),
                             np.fromiter(ends, dtype=np.float64, count=n)], axis=1)
    except (TypeError, ValueError):
        for vid in results:
            _locate_bad_entry(src, vid, results[vid])
        raise ValueError(f'{src}: malformed score or segment values') from None
    try:
        lut = {lab: i for i, lab in enumerate(dict.fromkeys(labs))}
        bad = [x for x in lut if not isinstance(x, str)]
    except TypeError:  # an unhashable label
        bad = [None]
    if bad:
        for vid in results:
            _locate_bad_entry(src, vid, results[vid])
    label_index = np.fromiter(map(lut.__getitem__, labs), dtype=np.int64, count=len(labs))
    video_index = np.repeat(np.arange(len(videos), dtype=np.int64), counts)
    return Predictions(source=src, videos=videos, labels=list(lut), video_index=video_index,
                       label_index=label_index, segments=segments, scores=scores)
