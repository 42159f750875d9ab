"""Reading and validating annotation files: ActivityNet-style ``gt.json``,
video lists and weak-label (micro-video) files.

Every error names the file, the video and the field at fault, so a broken
annotation file is reported when the dataset is built, not hours into training.
"""
from __future__ import annotations

import csv
import difflib
import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Sequence, Tuple, Union

import numpy as np
from mmengine.logging import print_log

from wsal.utils.ranges import check_choice

PathLike = Union[str, os.PathLike]

__all__ = [
    'VideoRecord', 'load_json_strict', 'load_activitynet_gt', 'load_video_list',
    'load_weak_labels', 'resolve_classes', 'parse_annotations', 'SEGMENT_POLICIES',
]

SEGMENT_POLICIES = ('keep', 'clip', 'drop', 'error')


@dataclass
class VideoRecord:
    """Everything a dataset knows about one video before its features are read.

    Attributes:
        video_id: Identifier used in the feature path template.
        subset: Subset name from the annotation file (None for weak-label sets).
        duration: Seconds; None when unknown (micro-video lists), then
            ``num_segments * seconds_per_segment`` is used.
        fps: Feature-extraction frame rate of this video.
        label_indices: Sorted class indices present in the video.
        gt_segments: float32 ``[N, 2]`` instance boundaries in seconds.
        gt_labels: int64 ``[N]`` class index of each instance.
    """

    video_id: str
    subset: Optional[str]
    duration: Optional[float]
    fps: float
    label_indices: Tuple[int, ...]
    gt_segments: np.ndarray = field(default_factory=lambda: np.zeros((0, 2), np.float32))
    gt_labels: np.ndarray = field(default_factory=lambda: np.zeros((0,), np.int64))


def _no_duplicate_keys(path: PathLike):
    def hook(pairs):
        seen = {}
        for key, value in pairs:
            if key in seen:
                raise ValueError(f"{path}: duplicate key '{key}' in a JSON object "
                                 '(duplicate video ids?)')
            seen[key] = value
        return seen
    return hook


def load_json_strict(path: PathLike) -> object:
    """Load JSON, refusing duplicate keys (``json`` silently keeps the last).

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ValueError: not valid JSON, or an object has a duplicate key.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f'annotation file not found: {path}')
    try:
        with open(path, encoding='utf-8') as fh:
            return json.load(fh, object_pairs_hook=_no_duplicate_keys(path))
    except json.JSONDecodeError as exc:
        raise ValueError(f'{path}: not valid JSON ({exc})') from None
    except UnicodeDecodeError as exc:
        raise ValueError(f'{path}: not UTF-8 text ({exc})') from None


def load_activitynet_gt(path: PathLike) -> Dict[str, dict]:
    """Return the ``database`` mapping of an ActivityNet-style annotation file."""
    data = load_json_strict(path)
    if not isinstance(data, dict) or not isinstance(data.get('database'), dict):
        raise ValueError(f"{path}: expected an object with a 'database' object "
                         '({video_id: {"subset", "duration", "annotations"}}), '
                         f'got keys {sorted(data) if isinstance(data, dict) else type(data).__name__}')
    return data


def load_video_list(path: PathLike) -> List[str]:
    """Read a video list: one id per line; blank lines and ``#`` comments ignored.

    A line may hold a path or a file name (``.../video_test_0000004.npy``): the
    stem is used. Duplicates are an error.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f'video list not found: {path}')
    ids: List[str] = []
    seen: Dict[str, int] = {}
    with open(path, encoding='utf-8') as fh:
        for lineno, line in enumerate(fh, 1):
            line = line.split('#', 1)[0].strip()
            if not line:
                continue
            vid = Path(line.split()[0]).name
            for ext in ('.npy', '.mp4', '.avi', '.mkv', '.webm'):
                if vid.endswith(ext):
                    vid = vid[:-len(ext)]
            if vid in seen:
                raise ValueError(f"{path}:{lineno}: duplicate video id '{vid}' "
                                 f'(first on line {seen[vid]})')
            seen[vid] = lineno
            ids.append(vid)
    if not ids:
        raise ValueError(f'video list {path} is empty')
    return ids


def resolve_classes(classes: Optional[Sequence[str]], data: dict,
                    ann_file: PathLike) -> Tuple[str, ...]:
    """The class list: explicit, else the file's ``classes`` key, else sorted labels.

    ``classes`` may also be a path to a text file with one class name per line.
    """
    if isinstance(classes, (str, os.PathLike)):
        cpath = Path(classes)
        if not cpath.is_file():
            raise FileNotFoundError(f'class list file not found: {cpath}')
        classes = [ln.strip() for ln in cpath.read_text(encoding='utf-8').splitlines()
                   if ln.strip()]
    if classes is None:
        if isinstance(data.get('classes'), list):
            classes = data['classes']
        else:
            names = set()
            for vid, info in data['database'].items():
                for ann in (info or {}).get('annotations', []) or []:
                    if isinstance(ann, dict) and isinstance(ann.get('label'), str):
                        names.add(ann['label'])
                for lab in (info or {}).get('labels', []) or []:
                    if isinstance(lab, str):
                        names.add(lab)
            classes = sorted(names)
    classes = tuple(str(c) for c in classes)
    if not classes:
        raise ValueError(f'{ann_file}: no class names (no labels in the file and no '
                         "'classes' given)")
    dup = sorted({c for c in classes if classes.count(c) > 1})
    if dup:
        raise ValueError(f'class list has duplicate names: {dup}')
    return classes


def _unknown_label(name: str, classes: Sequence[str], where: str) -> ValueError:
    close = difflib.get_close_matches(name, list(classes), n=3, cutoff=0.6)
    hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ''
    return ValueError(f"{where}: label '{name}' is not in the class list "
                      f'({len(classes)} classes: {", ".join(classes[:8])}'
                      f'{", ..." if len(classes) > 8 else ""}).{hint} '
                      "Add it to 'classes' or list it in 'ignore_labels'.")


def _as_float(value, where: str) -> float:
    try:
        out = float(value)
    except (TypeError, ValueError):
        raise ValueError(f'{where}: expected a number, got {value!r}') from None
    if not np.isfinite(out):
        raise ValueError(f'{where}: expected a finite number, got {value!r}')
    return out


def parse_annotations(data: dict, *, ann_file: PathLike, classes: Sequence[str],
                      subsets: Optional[Sequence[str]], default_fps: float,
                      ignore_labels: Iterable[str] = (),
                      out_of_range: str = 'keep',
                      range_tolerance: float = 0.0) -> List[VideoRecord]:
    """Turn an ActivityNet ``database`` into validated :class:`VideoRecord` s.

    Args:
        data: The loaded annotation file (with ``database``).
        ann_file: Its path, for messages.
        classes: Class names; label index i = ``classes[i]``.
        subsets: Keep videos of these subsets (None: all).
        default_fps: fps of videos without an ``fps`` field.
        ignore_labels: Instance labels dropped silently (e.g. ``'Ambiguous'``).
        out_of_range: What to do with instances ending after the video's
            duration: ``'keep'`` (default; logged; the official THUMOS14
            evaluation counts them too, and its ground truth has 92 such
            instances), ``'clip'`` (cut at the duration; instances starting at or
            after it are dropped), ``'drop'`` or ``'error'``.
        range_tolerance: Seconds past the duration still accepted silently.

    Returns:
        list[VideoRecord] in file order.

    Raises:
        ValueError: naming file, video and field for a malformed entry, an
            unknown label, a segment with start >= end or start < 0, or (with
            ``out_of_range='error'``) a segment past the duration.
    """
    check_choice(out_of_range, owner='parse_annotations', key='out_of_range',
                 choices=SEGMENT_POLICIES)
    index = {c: i for i, c in enumerate(classes)}
    ignore = set(ignore_labels)
    wanted = None if subsets is None else set(subsets)
    records: List[VideoRecord] = []
    beyond: List[str] = []
    for vid, info in data['database'].items():
        where = f"{ann_file}: video '{vid}'"
        if not isinstance(info, dict):
            raise ValueError(f'{where}: expected an object, got {type(info).__name__}')
        subset = info.get('subset')
        if wanted is not None and subset not in wanted:
            continue
        if 'duration' not in info:
            raise ValueError(f"{where}: missing field 'duration'")
        duration = _as_float(info['duration'], f"{where}, field 'duration'")
        if duration <= 0:
            raise ValueError(f"{where}, field 'duration': must be > 0, got {duration}")
        fps = default_fps
        if info.get('fps') is not None:
            fps = _as_float(info['fps'], f"{where}, field 'fps'")
            if fps <= 0:
                raise ValueError(f"{where}, field 'fps': must be > 0, got {fps}")
        anns = info.get('annotations', [])
        if anns is None:
            anns = []
        if not isinstance(anns, list):
            raise ValueError(f"{where}, field 'annotations': expected a list, "
                             f'got {type(anns).__name__}')
        segs, labs = [], []
        label_set = set()
        for k, ann in enumerate(anns):
            fwhere = f"{where}, field 'annotations[{k}]"
            if not isinstance(ann, dict) or 'label' not in ann or 'segment' not in ann:
                raise ValueError(f"{fwhere}': expected {{'segment': [start, end], 'label': name}}, "
                                 f'got {ann!r}')
            name = ann['label']
            if name in ignore:
                continue
            if name not in index:
                raise _unknown_label(str(name), classes, f"{fwhere}.label'")
            seg = ann['segment']
            if not isinstance(seg, (list, tuple)) or len(seg) != 2:
                raise ValueError(f"{fwhere}.segment': expected [start, end], got {seg!r}")
            start = _as_float(seg[0], f"{fwhere}.segment'")
            end = _as_float(seg[1], f"{fwhere}.segment'")
            if start < 0:
                raise ValueError(f"{fwhere}.segment': start {start} < 0")
            if start >= end:
                raise ValueError(f"{fwhere}.segment': start {start} >= end {end}")
            if end > duration + range_tolerance:
                if out_of_range == 'error':
                    raise ValueError(f"{fwhere}.segment': [{start}, {end}] ends after the "
                                     f"video's duration {duration:.3f} s (set "
                                     "out_of_range='keep'|'clip'|'drop' to accept it)")
                beyond.append(f'{vid} [{start}, {end}] > {duration:.2f}')
                if out_of_range == 'drop':
                    continue
                if out_of_range == 'clip':
                    if start >= duration:
                        continue
                    end = duration
            segs.append((start, end))
            labs.append(index[name])
            label_set.add(index[name])
        for lab in info.get('labels', []) or []:  # extra video-level labels
            if lab in ignore:
                continue
            if lab not in index:
                raise _unknown_label(str(lab), classes, f"{where}, field 'labels'")
            label_set.add(index[lab])
        records.append(VideoRecord(
            video_id=str(vid), subset=subset, duration=duration, fps=fps,
            label_indices=tuple(sorted(label_set)),
            gt_segments=np.asarray(segs, np.float32).reshape(-1, 2),
            gt_labels=np.asarray(labs, np.int64)))
    if beyond:
        shown = '; '.join(beyond[:3]) + (' ...' if len(beyond) > 3 else '')
        print_log(f'{ann_file}: {len(beyond)} instance(s) end after their video\'s duration '
                  f"({shown}); out_of_range='{out_of_range}'.",
                  logger='current', level=logging.INFO if out_of_range == 'keep'
                  else logging.WARNING)
    return records


def _split_labels(text: str) -> List[str]:
    for sep in (';', '|', ','):
        if sep in text:
            return [t.strip() for t in text.split(sep) if t.strip()]
    return [text.strip()] if text.strip() else []


def load_weak_labels(path: PathLike) -> Dict[str, Dict[str, object]]:
    """Read a weak-label (video-level tags only) file.

    Accepted forms:

    * JSON ``{video_id: ["label", ...]}`` or ``{video_id: "label"}``;
    * JSON ActivityNet-style ``{"database": {video_id: {"labels": [...]} }}``
      (or ``annotations`` whose labels are used, segments ignored), optionally
      with ``duration`` and ``fps`` per video;
    * CSV / TSV with a ``video_id`` column and a ``label(s)`` column whose
      labels are separated by ``;`` or ``|`` (a header row is optional), or one
      ``video_id,label`` row per (video, label) pair.

    Returns:
        ``{video_id: {'labels': [name, ...], 'duration': float|None, 'fps': float|None}}``.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f'weak-label file not found: {path}')
    out: Dict[str, Dict[str, object]] = {}
    if path.suffix.lower() == '.json':
        data = load_json_strict(path)
        if isinstance(data, dict) and isinstance(data.get('database'), dict):
            for vid, info in data['database'].items():
                if not isinstance(info, dict):
                    raise ValueError(f"{path}: video '{vid}': expected an object")
                labels = list(info.get('labels', []) or [])
                for ann in info.get('annotations', []) or []:
                    if isinstance(ann, dict) and 'label' in ann:
                        labels.append(ann['label'])
                out[str(vid)] = {'labels': labels, 'duration': info.get('duration'),
                                 'fps': info.get('fps')}
        elif isinstance(data, dict):
            for vid, labels in data.items():
                if isinstance(labels, str):
                    labels = [labels]
                if not isinstance(labels, list):
                    raise ValueError(f"{path}: video '{vid}': expected a label or a list "
                                     f'of labels, got {labels!r}')
                out[str(vid)] = {'labels': labels, 'duration': None, 'fps': None}
        else:
            raise ValueError(f'{path}: expected a JSON object, got {type(data).__name__}')
    else:
        delim = '\t' if path.suffix.lower() in ('.tsv', '.txt') else ','
        with open(path, encoding='utf-8', newline='') as fh:
            rows = [r for r in csv.reader(fh, delimiter=delim) if r and any(c.strip() for c in r)]
        if rows and rows[0][0].strip().lower() in ('video_id', 'video', 'id', 'name'):
            rows = rows[1:]
        for lineno, row in enumerate(rows, 1):
            if len(row) < 2:
                raise ValueError(f'{path}: row {lineno}: expected video_id{delim}labels, got {row!r}')
            vid = row[0].strip()
            labels = [lab for cell in row[1:] for lab in _split_labels(cell)]
            entry = out.setdefault(vid, {'labels': [], 'duration': None, 'fps': None})
            entry['labels'] = list(entry['labels']) + labels
    for vid, entry in out.items():
        if not entry['labels']:
            raise ValueError(f"{path}: video '{vid}' has no labels")
        bad = [lab for lab in entry['labels'] if not isinstance(lab, str)]
        if bad:
            raise ValueError(f"{path}: video '{vid}': labels must be strings, got {bad!r}")
    if not out:
        raise ValueError(f'weak-label file {path} lists no videos')
    return out
