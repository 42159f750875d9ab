"""Ground truth in ActivityNet JSON form: loading, validation, subset and video-list selection.

An ActivityNet ground-truth file is
``{"database": {video_id: {"subset": str,
"annotations": [{"segment": [s, e], "label": str}, ...], ...}}, ...}``.
The evaluated videos are those of one ``subset``, optionally restricted to a
video list (THUMOS14: 212 test videos in the annotation, 210 in the list most
weakly-supervised codebases use). Every problem raises an error naming the
file, video and field.
"""
from __future__ import annotations

import contextlib
import gc
import json
import math
import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

try:  # a fast parser (several times faster than json on large prediction files)
    import orjson as _orjson
except ImportError:  # pragma: no cover - optional speed-up
    _orjson = None

__all__ = ['GroundTruth', 'load_ground_truth', 'read_video_list', 'load_json_source']

Source = Union[str, os.PathLike, Mapping]


@contextlib.contextmanager
def _no_cyclic_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector (JSON trees hold no cycles)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def load_json_source(source: Source, what: str) -> Tuple[Any, str]:
    """Return ``(parsed JSON, display name)`` for a path or an already parsed dict."""
    if isinstance(source, Mapping):
        return source, f'<{what} dict>'
    if not isinstance(source, (str, os.PathLike)):
        raise TypeError(f'{what}: expected a path or a dict, got {type(source).__name__}')
    path = Path(source)
    if not path.is_file():
        raise FileNotFoundError(f'{what} file not found: {path}')
    raw = path.read_bytes()
    with _no_cyclic_gc():  # a million new containers would trigger it again and again
        if _orjson is not None:
            try:
                return _orjson.loads(raw), str(path)
            except _orjson.JSONDecodeError:
                pass  # the standard parser decides (it also reads NaN / Infinity literals)
        try:
            return json.loads(raw.decode('utf-8')), str(path)
        except UnicodeDecodeError as exc:
            raise ValueError(f'{path}: not UTF-8 text ({exc})') from None
        except json.JSONDecodeError as exc:
            raise ValueError(f'{path}: not valid JSON ({exc})') from None


def read_video_list(source: Union[str, os.PathLike, Iterable[str]]) -> Tuple[List[str], str]:
    """Read a video list: a text file with one video id per line, or an iterable of ids.

    Blank lines and lines starting with ``#`` are skipped.

    Returns:
        tuple: ``(video ids in file order, display name of the list)``.

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: the list is empty or names a video twice.
    """
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if not path.is_file():
            raise FileNotFoundError(f'video list not found: {path}')
        lines = path.read_text(encoding='utf-8').splitlines()
        ids = [ln.strip() for ln in lines if ln.strip() and not ln.strip().startswith('#')]
        name = str(path)
    else:
        ids = [str(v) for v in source]
        name = f'<list of {len(ids)} videos>'
    if not ids:
        raise ValueError(f'video list {name} is empty')
    dup = [v for v, n in Counter(ids).items() if n > 1]
    if dup:
        raise ValueError(f'video list {name} names {len(dup)} video(s) more than once: '
                         + _few(dup))
    return ids, name


def _few(items: Sequence[Any], n: int = 5) -> str:
    items = list(items)
    head = ', '.join(str(x) for x in items[:n])
    return head + (f', ... ({len(items)} in all)' if len(items) > n else '')


@dataclass
class GroundTruth:
    """Ground-truth instances of the evaluated videos, as flat arrays.

    Attributes:
        source: File name (or ``<... dict>``) the annotations came from.
        subset: The selected subset, or None when the database has only one.
        videos: Evaluated video ids (database order).
        classes: Evaluated classes: those with at least one instance in ``videos``.
        known_labels: Every label a prediction may use (the class list given,
            or every label anywhere in the database).
        video_index: ``[M]`` int64 index into ``videos``.
        class_index: ``[M]`` int64 index into ``classes``.
        segments: ``[M, 2]`` float64 seconds.
        video_list: Display name of the video list used, or None.
        num_subset_videos: Videos in the subset before the video list.
        excluded_videos: Subset videos left out by the video list.
        classes_without_gt: Known classes with no instance in ``videos``.
    """

    source: str
    subset: Optional[str]
    videos: List[str]
    classes: List[str]
    known_labels: frozenset
    video_index: np.ndarray
    class_index: np.ndarray
    segments: np.ndarray
    video_list: Optional[str] = None
    num_subset_videos: int = 0
    excluded_videos: List[str] = field(default_factory=list)
    classes_without_gt: List[str] = field(default_factory=list)

    @property
    def num_instances(self) -> int:
        """Number of ground-truth instances ``M``."""
        return int(self.segments.shape[0])

    @classmethod
    def from_arrays(cls, *, videos: Sequence[str], segments: Sequence[np.ndarray],
                    labels: Sequence[np.ndarray], class_names: Sequence[str],
                    source: str = '<predict outputs>') -> 'GroundTruth':
        """Ground truth from per-video arrays (``gt_segments``/``gt_labels`` of predict outputs).

        Args:
            videos: Video ids, one per entry.
            segments: Per video, ``[N_v, 2]`` seconds.
            labels: Per video, ``[N_v]`` class indices into ``class_names``.
            class_names: The C class names.
            source: Display name.
        """
        database = {}
        names = list(class_names)
        if not len(videos) == len(segments) == len(labels):
            raise ValueError(f'{source}: {len(videos)} videos but {len(segments)} segment arrays '
                             f'and {len(labels)} label arrays')
        for vid, seg, lab in zip(videos, segments, labels):
            seg = np.asarray(seg, dtype=np.float64).reshape(-1, 2)
            lab = np.asarray(lab).reshape(-1)
            if lab.shape[0] != seg.shape[0]:
                raise ValueError(f"{source}: video '{vid}': {seg.shape[0]} gt_segments but "
                                 f'{lab.shape[0]} gt_labels')
            bad = (lab < 0) | (lab >= len(names))
            if bad.any():
                raise ValueError(f"{source}: video '{vid}': gt_labels {lab[bad].tolist()} outside "
                                 f'0..{len(names) - 1} ({len(names)} classes)')
            if vid in database:
                raise ValueError(f"{source}: video '{vid}' appears twice")
            database[vid] = {'subset': 'evaluated', 'annotations': [
                {'segment': [float(s), float(e)], 'label': names[int(c)]}
                for (s, e), c in zip(seg.tolist(), lab.tolist())]}
        return load_ground_truth({'database': database}, classes=names, name=source)


def _check_segment(seg: Any, where: str) -> Tuple[float, float]:
    if not isinstance(seg, (list, tuple)) or len(seg) != 2:
        raise ValueError(f"{where}: 'segment' must be [start, end], got {seg!r}")
    try:
        s, e = float(seg[0]), float(seg[1])
    except (TypeError, ValueError):
        raise ValueError(f"{where}: 'segment' must hold two numbers, got {seg!r}") from None
    if not (math.isfinite(s) and math.isfinite(e)):
        raise ValueError(f"{where}: 'segment' is not finite: {seg!r}")
    if s > e:
        raise ValueError(f"{where}: 'segment' starts after it ends: {seg!r}")
    return s, e


def _file_classes(data: Mapping, src: str) -> frozenset:
    """Class names the file lists itself, including classes without instances.

    ``"classes": [name, ...]`` (wsal's files) and the ``nodeName`` of every
    ``"taxonomy"`` node (ActivityNet's files).
    """
    names = set()
    listed = data.get('classes')
    if listed is not None:
        if not isinstance(listed, list) or not all(isinstance(c, str) for c in listed):
            raise ValueError(f"{src}: 'classes' must be a list of class names (str), "
                             f'got {str(listed)[:200]}')
        names.update(listed)
    taxonomy = data.get('taxonomy')
    if isinstance(taxonomy, list):
        names.update(str(node['nodeName']) for node in taxonomy
                     if isinstance(node, Mapping) and 'nodeName' in node)
    return frozenset(names)


def load_ground_truth(source: Source, *, subset: Optional[str] = None,
                      video_list: Union[None, str, os.PathLike, Iterable[str]] = None,
                      classes: Optional[Sequence[str]] = None,
                      name: Optional[str] = None) -> GroundTruth:
    """Load and validate ActivityNet-format ground truth.

    Args:
        source: Path of a JSON file or the parsed dict.
        subset: Subset to evaluate (e.g. ``'test'``). None is allowed when every
            video has the same subset (or none), or with a ``video_list``
            (which then alone defines the evaluated videos).
        video_list: Restrict to these videos (a text file, one id per line, or
            an iterable). Every id must be a database video of ``subset``.
        classes: Class names, in the order results should use. Ground-truth
            labels outside it are an error; predictions may use only these.
            Default: every label of the database, evaluated classes sorted by name.
        name: Display name overriding the file name in messages.

    Returns:
        GroundTruth: the flat instance arrays of the evaluated videos.

    Raises:
        FileNotFoundError: missing file or video list.
        ValueError: no ``database``, unknown subset, empty selection, video-list
            ids absent from the database or from the subset, malformed or
            reversed segments, labels outside ``classes``.
    """
    data, src = load_json_source(source, 'ground truth')
    src = name or src
    if not isinstance(data, Mapping) or 'database' not in data:
        raise ValueError(f"{src}: no 'database' field; an ActivityNet ground-truth file is "
                         "{\"database\": {video_id: {\"subset\": ..., \"annotations\": [...]}}}")
    db = data['database']
    if not isinstance(db, Mapping) or not db:
        raise ValueError(f"{src}: 'database' must be a non-empty mapping video_id -> entry")
    for vid, entry in db.items():
        if not isinstance(entry, Mapping):
            raise ValueError(f"{src}: database['{vid}'] must be a mapping, got "
                             f'{type(entry).__name__}')
    subsets = Counter(str(entry.get('subset')) for entry in db.values())
    listing = ', '.join(f'{k} ({n} videos)' for k, n in sorted(subsets.items()))
    if subset is None:
        if len(subsets) > 1 and video_list is None:
            raise ValueError(f'{src}: the database has several subsets ({listing}); '
                             'choose one with subset=... (CLI: --subset) or give a video list')
        selected = list(db)
    else:
        selected = [vid for vid, entry in db.items() if entry.get('subset') == subset]
        if not selected:
            raise ValueError(f"{src}: subset '{subset}' has no videos; subsets present: {listing}")
    num_subset = len(selected)

    list_name, excluded = None, []
    if video_list is not None:
        ids, list_name = read_video_list(video_list)
        missing = [v for v in ids if v not in db]
        if missing:
            raise ValueError(f'video list {list_name}: {len(missing)} video(s) not in the '
                             f'ground truth {src}: {_few(missing)}')
        if subset is not None:
            other = [f"{v} (subset '{db[v].get('subset')}')" for v in ids
                     if db[v].get('subset') != subset]
            if other:
                raise ValueError(f"video list {list_name}: {len(other)} video(s) not in subset "
                                 f"'{subset}' of {src}: {_few(other)}")
        keep = set(ids)
        if subset is not None:  # without a subset the list alone defines the videos
            excluded = [v for v in selected if v not in keep]
        selected = [v for v in selected if v in keep]
        num_subset = num_subset if subset is not None else len(selected)

    known: Optional[dict] = None
    if classes is not None:
        classes = [str(c) for c in classes]
        if len(set(classes)) != len(classes):
            dup = [c for c, n in Counter(classes).items() if n > 1]
            raise ValueError(f'class list names {_few(dup)} more than once')
        known = {c: i for i, c in enumerate(classes)}

    vids: List[int] = []
    labs: List[str] = []
    segs: List[Tuple[float, float]] = []
    for vi, vid in enumerate(selected):
        anns = db[vid].get('annotations')
        if anns is None:
            raise ValueError(f"{src}: video '{vid}' has no 'annotations' field")
        if not isinstance(anns, list):
            raise ValueError(f"{src}: video '{vid}': 'annotations' must be a list")
        for ai, ann in enumerate(anns):
            where = f"{src}: video '{vid}', annotation {ai}"
            if not isinstance(ann, Mapping) or 'segment' not in ann or 'label' not in ann:
                raise ValueError(f"{where}: needs 'segment' and 'label' fields, got {ann!r}")
            segs.append(_check_segment(ann['segment'], where))
            labs.append(str(ann['label']))
            vids.append(vi)

    if known is not None:
        unknown = sorted({lab for lab in labs if lab not in known})
        if unknown:
            raise ValueError(f'{src}: ground-truth label(s) not in the class list: {_few(unknown)}')
        present = set(labs)
        evaluated = [c for c in classes if c in present]
        known_labels = frozenset(classes)
    else:
        evaluated = sorted(set(labs))
        known_labels = frozenset(str(a.get('label')) for e in db.values()
                                 for a in (e.get('annotations') or []) if isinstance(a, Mapping))
        known_labels |= _file_classes(data, src)
    if not labs:
        what = f"subset '{subset}'" if subset is not None else 'the database'
        raise ValueError(f'{src}: the {len(selected)} evaluated video(s) of {what} have no '
                         'ground-truth instances; nothing to evaluate')
    cls_index = {c: i for i, c in enumerate(evaluated)}
    return GroundTruth(
        source=src, subset=subset, videos=selected, classes=evaluated,
        known_labels=known_labels,
        video_index=np.asarray(vids, dtype=np.int64),
        class_index=np.asarray([cls_index[lab] for lab in labs], dtype=np.int64),
        segments=np.asarray(segs, dtype=np.float64).reshape(-1, 2),
        video_list=list_name, num_subset_videos=num_subset, excluded_videos=excluded,
        classes_without_gt=sorted(known_labels - set(evaluated)) if known is None
        else [c for c in classes if c not in cls_index])
