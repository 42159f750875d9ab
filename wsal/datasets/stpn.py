"""The STPN / W-TALC feature layout: reading it directly and converting it.

::

    ROOT/<Name>-I3D-JOINTFeatures.npy    object array, one float [T, 2048] per video
                                         (RGB channels first, then flow)
    ROOT/<Name>-Annotations/
        videoname.npy   names (byte strings)        subset.npy    subset per video
        duration.npy    seconds per video           classlist.npy class names
        segments.npy    per video, list of [s, e]   labels.npy    per video, label per instance
        labels_all.npy  (optional) per video, video-level labels
        extracted_fps.npy (optional) per video (or one) feature-extraction fps

These files are pickled object arrays, so they are loaded with
``allow_pickle=True``: only read files you trust. The public THUMOS14 features
of this layout were extracted at 10 fps, hence ``default_fps=10``.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

from wsal.registry import DATASETS
from wsal.utils.io import atomic_directory

from .annotations import (VideoRecord, load_video_list, parse_annotations, resolve_classes)
from .base import FeatureDatasetBase, resolve_path
from .validation import nonfinite_summary

__all__ = ['STPNFeatureDataset', 'load_stpn_layout', 'convert_stpn']

PathLike = Union[str, os.PathLike]
_REQUIRED = ('videoname', 'subset', 'duration', 'classlist', 'segments', 'labels')


def _text(x) -> str:
    if isinstance(x, (bytes, np.bytes_)):
        return bytes(x).decode('utf-8')
    return str(x)


def _find_one(root: Path, pattern: str, what: str) -> Path:
    hits = sorted(root.glob(pattern))
    if len(hits) != 1:
        raise FileNotFoundError(f'{root}: expected exactly one {what} matching {pattern!r}, '
                                f'found {[h.name for h in hits]}; pass it explicitly')
    return hits[0]


def _load_pickled(path: Path):
    if not path.is_file():
        raise FileNotFoundError(f'STPN layout file not found: {path}')
    try:
        return np.load(path, allow_pickle=True, encoding='bytes')
    except Exception as exc:  # noqa: BLE001
        raise ValueError(f'{path} could not be read ({type(exc).__name__}: {exc})') from None


def load_stpn_layout(root: PathLike, *, feature_file: Optional[PathLike] = None,
                     annotation_dir: Optional[PathLike] = None, default_fps: float = 10.0,
                     fps: Optional[float] = None
                     ) -> Tuple[dict, List[np.ndarray], Path]:
    """Read an STPN/W-TALC layout into an ActivityNet-style dict plus features.

    Each video's extraction fps is ``fps`` when given, else its entry of
    ``extracted_fps.npy``, else ``default_fps``. (The annotation folder of the
    public W-TALC release records 10 fps for every video, while its I3D
    features are evaluated as 16-frame snippets at 25 fps: pass ``fps=25``.)

    Returns:
        ``(gt, features, feature_path)``: ``gt`` as in ``gt.json`` (with
        ``classes`` and per-video ``fps``), ``features[i]`` the joint array of
        ``gt``'s i-th video (file order).
    """
    root = Path(root).expanduser()
    feat_path = (resolve_path(feature_file, root) if feature_file is not None
                 else _find_one(root, '*-JOINTFeatures.npy', 'feature file'))
    ann_dir = (resolve_path(annotation_dir, root) if annotation_dir is not None
               else _find_one(root, '*-Annotations', 'annotation folder'))
    arrays = {}
    for name in _REQUIRED:
        arrays[name] = _load_pickled(ann_dir / f'{name}.npy')
    for name in ('labels_all', 'extracted_fps'):
        if (ann_dir / f'{name}.npy').is_file():
            arrays[name] = _load_pickled(ann_dir / f'{name}.npy')
    names = [_text(v) for v in arrays['videoname']]
    n = len(names)
    for key in ('subset', 'duration', 'segments', 'labels', 'labels_all'):
        if key in arrays and len(arrays[key]) != n:
            raise ValueError(f'{ann_dir / (key + ".npy")}: {len(arrays[key])} entries but '
                             f'videoname.npy has {n}')
    seen: Dict[str, int] = {}
    for i, v in enumerate(names):
        if v in seen:
            raise ValueError(f"{ann_dir / 'videoname.npy'}: duplicate video id '{v}' "
                             f'(entries {seen[v]} and {i})')
        seen[v] = i
    fps_of = arrays.get('extracted_fps') if fps is None else np.full(n, float(fps))
    if fps is not None and not float(fps) > 0:
        raise ValueError(f'fps must be > 0, got {fps}')
    fps = fps_of
    if fps is not None:
        fps = np.asarray(fps, dtype=np.float64).reshape(-1)
        if fps.size == 1:
            fps = np.full(n, fps[0])
        elif fps.size != n:
            raise ValueError(f"{ann_dir / 'extracted_fps.npy'}: {fps.size} entries for {n} videos")
    db = {}
    for i, vid in enumerate(names):
        segs = list(arrays['segments'][i])
        labs = [_text(x) for x in arrays['labels'][i]]
        if len(segs) != len(labs):
            raise ValueError(f"{ann_dir}: video '{vid}': {len(segs)} segments but {len(labs)} labels")
        anns = [{'segment': [float(s[0]), float(s[1])], 'label': lab}
                for s, lab in zip(segs, labs)]
        entry = {'subset': _text(arrays['subset'][i]), 'duration': float(arrays['duration'][i]),
                 'fps': float(fps[i]) if fps is not None else float(default_fps),
                 'annotations': anns}
        if 'labels_all' in arrays:
            entry['labels'] = sorted({_text(x) for x in arrays['labels_all'][i]})
        db[vid] = entry
    gt = {'version': f'converted from {ann_dir.name}',
          'classes': [_text(c) for c in arrays['classlist']], 'database': db}
    feats = _load_pickled(feat_path)
    if len(feats) != n:
        raise ValueError(f'{feat_path}: {len(feats)} feature arrays but {n} videos in {ann_dir}')
    return gt, list(feats), feat_path


@DATASETS.register_module()
class STPNFeatureDataset(FeatureDatasetBase):
    """Features in the STPN / W-TALC layout, read directly (see module docs).

    Items are as :class:`~wsal.datasets.WSALFeatureDataset`'s; each joint
    ``[T, 2048]`` array is split into ``rgb`` (first ``split_dim`` channels)
    and ``flow`` (the rest). The whole feature file is loaded into memory.

    Args:
        data_root: Folder with the feature file and the annotation folder.
        feature_file: Feature file (default: the one ``*-JOINTFeatures.npy``).
        annotation_dir: Annotation folder (default: the one ``*-Annotations``).
        subset: Subset name(s) to keep; None keeps all.
        classes: Class names in label order; None: ``classlist.npy``.
        video_list: File of ids restricting the split.
        split_dim: Channels of the first stream in the joint array.
        stream_names: Names of the (first, second) channel blocks.
        default_fps: Extraction fps when ``extracted_fps.npy`` is absent (10).
        ignore_labels, out_of_range, range_tolerance: As WSALFeatureDataset.
        **kwargs: :class:`~wsal.datasets.base.FeatureDatasetBase` options.
    """

    def __init__(self, *, data_root: PathLike, feature_file: Optional[PathLike] = None,
                 annotation_dir: Optional[PathLike] = None,
                 subset: Union[str, Sequence[str], None] = None,
                 classes: Union[Sequence[str], PathLike, None] = None,
                 video_list: Optional[PathLike] = None, split_dim: int = 1024,
                 stream_names: Tuple[str, str] = ('rgb', 'flow'), default_fps: float = 10.0,
                 ignore_labels: Sequence[str] = (), out_of_range: str = 'keep',
                 range_tolerance: float = 0.0, **kwargs) -> None:
        self.feature_file = feature_file
        self.annotation_dir = annotation_dir
        self.subset = (None if subset is None else
                       (subset,) if isinstance(subset, str) else tuple(subset))
        self._classes_arg = classes
        self.video_list = resolve_path(video_list, data_root)
        self.split_dim = int(split_dim)
        self.stream_names = tuple(stream_names)
        self.ignore_labels = tuple(ignore_labels)
        self.out_of_range = out_of_range
        self.range_tolerance = float(range_tolerance)
        self._joint: Dict[str, np.ndarray] = {}
        self._feat_path: Optional[Path] = None
        kwargs.setdefault('modalities', self.stream_names)
        super().__init__(data_root=data_root, default_fps=default_fps, **kwargs)

    def _describe(self) -> str:
        sub = 'all subsets' if self.subset is None else f"subset {'/'.join(self.subset)}"
        return f'STPN layout {self.data_root} ({sub})'

    def _load_records(self) -> Tuple[Tuple[str, ...], List[VideoRecord]]:
        unknown = set(self.modalities) - set(self.stream_names)
        if unknown:
            raise ValueError(f'modalities {sorted(unknown)} are not in stream_names {self.stream_names}')
        gt, feats, self._feat_path = load_stpn_layout(
            self.data_root, feature_file=self.feature_file, annotation_dir=self.annotation_dir,
            default_fps=self.default_fps)
        classes = resolve_classes(self._classes_arg, gt, self._feat_path)
        records = parse_annotations(gt, ann_file=self._feat_path.parent, classes=classes,
                                    subsets=self.subset, default_fps=self.default_fps,
                                    ignore_labels=self.ignore_labels,
                                    out_of_range=self.out_of_range,
                                    range_tolerance=self.range_tolerance)
        index = {v: i for i, v in enumerate(gt['database'])}
        self._joint = {r.video_id: feats[index[r.video_id]] for r in records}
        if self.video_list is not None:
            wanted = load_video_list(self.video_list)
            by_id = {r.video_id: r for r in records}
            missing = [v for v in wanted if v not in by_id]
            if missing:
                raise ValueError(f'video list {self.video_list}: {len(missing)} id(s) not in '
                                 f'{self._describe()}: {missing[:5]}')
            records = [by_id[v] for v in wanted]
        return classes, records

    def _where(self, record: VideoRecord, modality: str) -> str:
        return f"{self._feat_path} (video '{record.video_id}', {modality})"

    def _block(self, record: VideoRecord, modality: str) -> np.ndarray:
        arr = self._joint[record.video_id]
        if not isinstance(arr, np.ndarray) or arr.dtype.kind not in 'fiu':
            raise ValueError(f'{self._where(record, modality)}: expected a numeric array, '
                             f'got {type(arr).__name__}')
        if arr.ndim != 2:
            raise ValueError(f'{self._where(record, modality)}: expected a [T, D] array, '
                             f'got shape {arr.shape}')
        if arr.shape[1] <= self.split_dim:
            raise ValueError(f'{self._where(record, modality)}: joint dim {arr.shape[1]} <= '
                             f'split_dim {self.split_dim}')
        first = self.stream_names.index(modality) == 0
        return arr[:, :self.split_dim] if first else arr[:, self.split_dim:]

    def _probe(self, record: VideoRecord, modality: str) -> Tuple[int, ...]:
        return tuple(self._block(record, modality).shape)

    def _read(self, record: VideoRecord, modality: str) -> np.ndarray:
        return self._block(record, modality)

    def _scan(self, record: VideoRecord, modality: str) -> Optional[str]:
        return nonfinite_summary(self._block(record, modality))


def convert_stpn(src: PathLike, out: PathLike, *, feature_file: Optional[PathLike] = None,
                 annotation_dir: Optional[PathLike] = None, default_fps: float = 10.0,
                 fps: Optional[float] = None,
                 split_dim: int = 1024, stream_names: Tuple[str, str] = ('rgb', 'flow'),
                 overwrite: bool = False) -> Path:
    """Convert an STPN/W-TALC layout to wsal's canonical layout.

    Writes ``OUT/gt.json`` (ActivityNet-style, with ``classes`` and per-video
    ``fps``) and ``OUT/features/{rgb,flow}/<video_id>.npy`` (float32) into a
    temporary sibling folder renamed onto ``OUT`` at the end. ``fps`` and
    ``default_fps``: as in :func:`load_stpn_layout`.

    Raises:
        ValueError / FileNotFoundError: naming the file and video at fault
            (non-numeric, non-2-D or too narrow arrays, non-finite values).
    """
    import json
    out = Path(out).expanduser().resolve()
    if out.exists() and (not out.is_dir() or (any(out.iterdir()) and not overwrite)):
        raise ValueError(f'{out} already exists and is not an empty folder (use --overwrite)')
    gt, feats, feat_path = load_stpn_layout(src, feature_file=feature_file,
                                            annotation_dir=annotation_dir, default_fps=default_fps,
                                            fps=fps)
    with atomic_directory(out) as tmp:
        for name in stream_names:
            (tmp / 'features' / name).mkdir(parents=True)
        for vid, arr in zip(gt['database'], feats):
            where = f"{feat_path} (video '{vid}')"
            if not isinstance(arr, np.ndarray) or arr.dtype.kind not in 'fiu' or arr.ndim != 2:
                raise ValueError(f'{where}: expected a numeric [T, D] array, got '
                                 f'{getattr(arr, "shape", type(arr).__name__)}')
            if arr.shape[1] <= split_dim:
                raise ValueError(f'{where}: joint dim {arr.shape[1]} <= split_dim {split_dim}')
            if arr.dtype.kind == 'f' and not np.isfinite(arr).all():
                raise ValueError(f'{where}: field features: non-finite values')
            blocks = (arr[:, :split_dim], arr[:, split_dim:])
            for name, block in zip(stream_names, blocks):
                np.save(tmp / 'features' / name / f'{vid}.npy',
                        np.ascontiguousarray(block, dtype=np.float32))
        (tmp / 'gt.json').write_text(json.dumps(gt, indent=1) + '\n', encoding='utf-8')
    return out
