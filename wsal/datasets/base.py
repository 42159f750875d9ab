"""Shared machinery of wsal's feature datasets: probing, validation, loading.

A feature dataset is a list of :class:`~wsal.datasets.annotations.VideoRecord`
plus, per video and modality, a ``[T, D]`` feature array. Subclasses supply the
records (:meth:`FeatureDatasetBase._load_records`) and, when features do not
live in one ``.npy`` file per video and modality, :meth:`_probe` / :meth:`_read`.
"""
from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from mmengine.logging import print_log
from torch.utils.data import Dataset

from wsal.utils.ranges import check_choice

from .annotations import VideoRecord
from .resample import RESAMPLE_MODES, resample_features
from .validation import majority_dims, nonfinite_summary, read_npy_header, scan_npy

__all__ = ['FeatureDatasetBase', 'probe_npy', 'read_npy', 'resolve_path', 'video_item',
           'PACKAGE_PREFIX']

PathLike = Union[str, os.PathLike]
CHECK_FINITE = ('init', 'load', 'off')
_CHECK_FINITE_ALIASES = {True: 'init', False: 'off'}
PACKAGE_PREFIX = 'wsal-data:'
_MAX_LISTED = 10


def resolve_path(path: Optional[PathLike], data_root: Optional[PathLike]) -> Optional[Path]:
    """Resolve ``path``: absolute as is, ``wsal-data:NAME`` in the package's
    ``wsal/data``, else relative to ``data_root`` (falling back to the cwd when
    only the latter exists)."""
    if path is None:
        return None
    text = os.fspath(path)
    if text.startswith(PACKAGE_PREFIX):
        return Path(__file__).resolve().parent.parent / 'data' / text[len(PACKAGE_PREFIX):]
    p = Path(text).expanduser()
    if p.is_absolute() or data_root is None:
        return p
    rooted = Path(data_root).expanduser() / p
    if not rooted.exists() and p.exists():
        return p
    return rooted


def video_item(inputs: Mapping[str, torch.Tensor], *, video_id: str, seconds_per_segment: float,
               num_segments: Optional[int] = None, resample: str = 'interpolate',
               duration: Optional[float] = None) -> dict:
    """The model input of one video: its streams on one time axis, and the time scale.

    Every stream is cut to the shortest stream's length ``T`` (I3D often has
    one extra RGB segment), then resampled to ``num_segments`` when given;
    ``seconds_per_segment`` is rescaled with it. Datasets and
    :func:`wsal.apis.localize` both build their items here.

    Args:
        inputs: ``{stream: [T_s, D_s]}`` features.
        video_id: Name of the video.
        seconds_per_segment: Time of one input segment (``stride / fps``).
        num_segments: Resample every stream to this many segments (None: keep T).
        resample: Resampling mode (see :func:`resample_features`).
        duration: Video length in seconds (default ``T * seconds_per_segment``).

    Returns:
        dict: ``{'inputs': {stream: [N, D_s]}, 'data_sample': {'video_id',
        'num_segments', 'duration', 'seconds_per_segment'}}``.
    """
    t = min(int(x.shape[0]) for x in inputs.values())
    sps = float(seconds_per_segment)
    out = {}
    for m, x in inputs.items():
        x = x[:t]
        if num_segments is not None:
            x = resample_features(x, num_segments, mode=resample)
        out[m] = x
    n = t
    if num_segments is not None:
        sps, n = t * sps / num_segments, int(num_segments)
    sample = {'video_id': video_id, 'num_segments': int(n),
              'duration': float(duration if duration is not None else t * float(seconds_per_segment)),
              'seconds_per_segment': float(sps)}
    return {'inputs': out, 'data_sample': sample}


def probe_npy(path: Path) -> Tuple[Tuple[int, ...], np.dtype]:
    """Shape and dtype of a ``.npy`` file from its header (no data read).

    Raises:
        FileNotFoundError: the file is missing.
        ValueError: the file is not a readable numeric ``.npy`` array, or is
            shorter than its header promises (see
            :func:`~wsal.datasets.validation.read_npy_header`).
    """
    header = read_npy_header(path)
    return header.shape, header.dtype


def read_npy(path: Path) -> np.ndarray:
    """Load a numeric ``.npy`` array, turning every failure into a clear error."""
    if not path.is_file():
        raise FileNotFoundError(f'feature file not found: {path}')
    try:
        return np.load(path, allow_pickle=False)
    except Exception as exc:  # noqa: BLE001
        raise ValueError(f'feature file {path} could not be read ({type(exc).__name__}: {exc})') from None


class FeatureDatasetBase(Dataset):
    """Base of the wsal feature datasets (a torch ``Dataset`` with ``metainfo``).

    Items follow docs/design.md "Dataset item". Construction checks every
    feature file before any training iteration (the Runner builds the
    training and validation datasets first), and lists every problem found in
    one error naming file, video and field:

    * headers (always; about 0.15 ms per file): missing files, text or other
      non-``.npy`` files, pickled object arrays, non-numeric dtypes, arrays
      that are not ``[T, D]``, files shorter than their header promises
      (truncated copies), ``T < min_segments``, stream lengths that differ,
      and feature dims that differ from ``feature_dims`` or, when that is
      unset, from the dim most videos of the split have;
    * values (``check_finite=True``, the default): NaN/Inf, read in chunks
      of a few MB into one reused buffer. On THUMOS14-sized data (412 videos
      x 2 streams, float32 [T, 1024], 1.1 GB) headers and values of both
      splits take 0.3-0.5 s with the files in the page cache and 0.7-1.3 s
      with it dropped (headers alone: 0.1 s); README, "Data". With
      ``cache=True`` the arrays are read whole once at construction,
      checked in memory and kept, so the scan adds no measurable cost.

    Args:
        data_root: Folder the relative paths are resolved against.
        modalities: Streams to return, e.g. ``('rgb', 'flow')``.
        feature_template: Path of one feature file relative to ``data_root``;
            placeholders ``{modality}``, ``{video_id}`` (alias ``{video}``) and
            ``{subset}``.
        stride: Frames per feature segment.
        default_fps: Feature-extraction fps of videos without their own ``fps``.
        feature_dims: Expected channels, an int for every modality or a
            ``{modality: D}`` dict; None: the dim most videos of the split
            have (videos with another dim are invalid; a tie is an error
            asking for ``feature_dims``).
        num_segments: Resample every video to this fixed T (ActivityNet); None
            keeps each video's own length.
        resample: ``'interpolate'``, ``'pool'`` or ``'nearest'``
            (see :func:`~wsal.datasets.resample.resample_features`).
        min_segments: Videos with fewer segments are invalid (default 2: a
            one-segment video has no background to model).
        max_length_mismatch: Streams whose lengths differ by at most this many
            segments are cut to the shorter one (I3D extractors often emit one
            more RGB than flow segment); a larger difference is an error.
        check_finite: True (default, alias ``'init'``): scan every file for
            NaN/Inf at construction; False (alias ``'off'``): skip the scan
            (headers are still checked); ``'load'``: check each array when
            an item is read instead (errors then come mid-training).
        cache: Keep loaded features in memory after first use (with
            ``check_finite=True`` they are loaded, checked and kept at
            construction).
        skip_invalid: Drop invalid videos (missing/unreadable file, too short,
            wrong dims, non-finite values found at init) with one logged
            warning listing them, instead of raising.
        lazy_init: Defer reading annotations and headers to :meth:`full_init`
            (mmengine's Runner calls it when it builds the dataloader).
    """

    def __init__(self, *, data_root: Optional[PathLike] = None,
                 modalities: Sequence[str] = ('rgb', 'flow'),
                 feature_template: str = 'features/{modality}/{video_id}.npy',
                 stride: int = 16, default_fps: float = 25.0,
                 feature_dims: Union[int, Mapping[str, int], None] = None,
                 num_segments: Optional[int] = None, resample: str = 'interpolate',
                 min_segments: int = 2, max_length_mismatch: int = 1,
                 check_finite: Union[bool, str] = True, cache: bool = False,
                 skip_invalid: bool = False, lazy_init: bool = False) -> None:
        super().__init__()
        if isinstance(modalities, str):
            modalities = (modalities,)
        self.modalities = tuple(modalities)
        if not self.modalities or len(set(self.modalities)) != len(self.modalities):
            raise ValueError(f'modalities must be non-empty and unique, got {modalities!r}')
        self.data_root = None if data_root is None else Path(data_root).expanduser()
        self.feature_template = feature_template
        if stride <= 0:
            raise ValueError(f'stride must be > 0, got {stride}')
        if default_fps <= 0:
            raise ValueError(f'default_fps must be > 0, got {default_fps}')
        self.stride = stride
        self.default_fps = float(default_fps)
        if isinstance(feature_dims, int):
            feature_dims = {m: feature_dims for m in self.modalities}
        self.feature_dims = None if feature_dims is None else dict(feature_dims)
        if num_segments is not None and num_segments < 1:
            raise ValueError(f'num_segments must be >= 1 or None, got {num_segments}')
        check_choice(resample, owner=type(self).__name__, key='resample', choices=RESAMPLE_MODES)
        self.num_segments = num_segments
        self.resample = resample
        self.min_segments = int(min_segments)
        self.max_length_mismatch = int(max_length_mismatch)
        if isinstance(check_finite, bool):
            check_finite = _CHECK_FINITE_ALIASES[check_finite]
        if check_finite not in CHECK_FINITE:
            raise ValueError(f'check_finite must be True, False or one of {CHECK_FINITE}, '
                             f'got {check_finite!r}')
        self.check_finite = check_finite
        self.cache = bool(cache)
        self.skip_invalid = bool(skip_invalid)
        self._cache: Dict[int, Dict[str, np.ndarray]] = {}
        self._headers: Dict[Tuple[str, str], tuple] = {}
        self._classes: Tuple[str, ...] = ()
        self._records: List[VideoRecord] = []
        self._lengths: List[int] = []
        self._dims: Dict[str, int] = {}
        self._fully_initialized = False
        if not lazy_init:
            self.full_init()

    # ------------------------------------------------------------------ hooks
    def _load_records(self) -> Tuple[Tuple[str, ...], List[VideoRecord]]:
        """Return (class names, records); subclasses implement it."""
        raise NotImplementedError

    def _describe(self) -> str:
        """A short description of the split for messages (file and subset)."""
        return type(self).__name__

    def feature_path(self, record: VideoRecord, modality: str) -> Path:
        """Feature file of ``record`` / ``modality`` from the template."""
        try:
            rel = self.feature_template.format(modality=modality, video_id=record.video_id,
                                               video=record.video_id, subset=record.subset or '')
        except (KeyError, IndexError) as exc:
            raise ValueError(f'feature_template {self.feature_template!r} has an unknown '
                             f'placeholder {exc}; use {{modality}}, {{video_id}}, {{subset}}') from None
        return resolve_path(rel, self.data_root)

    def _probe(self, record: VideoRecord, modality: str) -> Tuple[int, ...]:
        path = self.feature_path(record, modality)
        header = read_npy_header(path)
        self._headers[(record.video_id, modality)] = (path, header)  # for _scan
        return header.shape

    def _read(self, record: VideoRecord, modality: str) -> np.ndarray:
        return read_npy(self.feature_path(record, modality))

    def _where(self, record: VideoRecord, modality: str) -> str:
        return f"{self.feature_path(record, modality)} (video '{record.video_id}', {modality})"

    # ------------------------------------------------------------------ init
    @property
    def metainfo(self) -> dict:
        """``{'classes': tuple of C names}`` (index i of ``label`` = ``classes[i]``)."""
        self.full_init()
        return {'classes': self._classes}

    @property
    def classes(self) -> Tuple[str, ...]:
        return self.metainfo['classes']

    def full_init(self) -> None:
        """Read annotations and feature headers and validate them (idempotent).

        Every problem of every video is collected first and reported in one
        error (at most ``10`` lines listed), or, with ``skip_invalid``, in one
        warning; the scan of values follows ``check_finite``.
        """
        if self._fully_initialized:
            return
        classes, records = self._load_records()
        self._classes = tuple(classes)
        if not records:
            raise ValueError(f'{self._describe()}: the split is empty (no videos selected)')
        shapes = [self._probe_video(rec) for rec in records]
        dims = self._expected_dims(records, shapes)
        problems: List[Tuple[VideoRecord, List[str]]] = []
        kept: List[VideoRecord] = []
        lengths: List[int] = []
        cache: Dict[int, Dict[str, np.ndarray]] = {}
        for rec, shape in zip(records, shapes):
            found, length = self._check_video(rec, shape, dims)
            scanned, arrays = self._check_values(rec, shape, length)
            found += scanned
            if found:
                problems.append((rec, found))
                continue
            if arrays:
                cache[len(kept)] = arrays
            kept.append(rec)
            lengths.append(length)
        if problems:
            lines = [line for _, found in problems for line in found]
            listed = '\n  '.join(lines[:_MAX_LISTED])
            more = (f'\n  ... and {len(lines) - _MAX_LISTED} more problem(s)'
                    if len(lines) > _MAX_LISTED else '')
            head = f'{self._describe()}: {len(problems)} of {len(records)} video(s) are invalid'
            if not self.skip_invalid:
                raise ValueError(f'{head}:\n  {listed}{more}\n(set skip_invalid=True to skip them)')
            print_log(f'{head} and were skipped (skip_invalid=True):\n  {listed}{more}',
                      logger='current', level=logging.WARNING)
            if not kept:
                raise ValueError(f'{self._describe()}: the split is empty after skipping '
                                 f'{len(problems)} invalid video(s)')
        self._records = kept
        self._lengths = lengths
        self._dims = {m: d for m, (d, _) in dims.items()}
        self._cache = cache
        self._headers = {}
        self._warn_time_scale()
        self._fully_initialized = True

    def _probe_video(self, rec: VideoRecord) -> Dict[str, Union[Tuple[int, ...], str]]:
        """``{modality: shape}``, or the problem text where the header is unusable."""
        out: Dict[str, Union[Tuple[int, ...], str]] = {}
        for m in self.modalities:
            try:
                shape = tuple(self._probe(rec, m))
            except (FileNotFoundError, ValueError) as exc:
                out[m] = f"video '{rec.video_id}' ({m}): {exc}"
                continue
            if len(shape) != 2:
                out[m] = f'{self._where(rec, m)}: expected a [T, D] array, got shape {shape}'
                continue
            out[m] = shape
        return out

    def _expected_dims(self, records: Sequence[VideoRecord],
                       shapes: Sequence[Mapping[str, Union[Tuple[int, ...], str]]]
                       ) -> Dict[str, Tuple[int, str]]:
        """``{modality: (D, where it comes from)}``: the config's or the majority's."""
        if self.feature_dims is not None:
            unknown = set(self.feature_dims) - set(self.modalities)
            if unknown:
                raise ValueError(f'feature_dims names modalities {sorted(unknown)} that are not in '
                                 f'modalities {self.modalities}')
            return {m: (d, 'the config (feature_dims)') for m, d in self.feature_dims.items()}
        seen: Dict[str, List[Tuple[str, int]]] = {m: [] for m in self.modalities}
        for rec, shape in zip(records, shapes):
            for m, s in shape.items():
                if isinstance(s, tuple):
                    seen[m].append((rec.video_id, s[1]))
        chosen, ties = majority_dims(seen)
        if ties:
            raise ValueError(f'{self._describe()}: ' + '\n  '.join(ties))
        return chosen

    def _check_video(self, rec: VideoRecord, shape: Mapping[str, Union[Tuple[int, ...], str]],
                     dims: Mapping[str, Tuple[int, str]]) -> Tuple[List[str], int]:
        """Problems of ``rec``'s headers (a list of lines) and its usable length."""
        found: List[str] = []
        lengths = {}
        for m in self.modalities:
            s = shape[m]
            if isinstance(s, str):
                found.append(s)
                continue
            where = self._where(rec, m)
            t, d = s
            if t < self.min_segments:
                found.append(f'{where}: T={t} segment(s); at least '
                             f'min_segments={self.min_segments} are needed')
            if m in dims and dims[m][0] != d:
                found.append(f'{where}: feature dim D={d} differs from D={dims[m][0]} set by '
                             f'{dims[m][1]}')
            lengths[m] = t
        if found or not lengths:
            return found, 0
        lo, hi = min(lengths.values()), max(lengths.values())
        if hi - lo > self.max_length_mismatch:
            found.append(f"video '{rec.video_id}': stream lengths differ ({lengths}) by more "
                         f'than max_length_mismatch={self.max_length_mismatch}')
        return found, lo

    def _check_values(self, rec: VideoRecord, shape: Mapping[str, Union[Tuple[int, ...], str]],
                      length: int) -> Tuple[List[str], Dict[str, np.ndarray]]:
        """NaN/Inf problems of ``rec`` (per ``check_finite``) and, with ``cache``,
        its loaded ``{modality: float32 [length, D]}`` arrays."""
        found: List[str] = []
        arrays: Dict[str, np.ndarray] = {}
        if self.check_finite != 'init':
            return found, arrays
        for m in self.modalities:
            if not isinstance(shape[m], tuple):
                continue
            try:
                if self.cache:
                    arr = self._read(rec, m)
                    bad = nonfinite_summary(arr)
                    arrays[m] = np.ascontiguousarray(arr[:length], dtype=np.float32)
                else:
                    bad = self._scan(rec, m)
            except (FileNotFoundError, ValueError) as exc:
                found.append(f"video '{rec.video_id}' ({m}): {exc}")
                continue
            if bad:
                found.append(f'{self._where(rec, m)}: field features: {bad}')
        if found or len(arrays) != len(self.modalities) or length == 0:
            arrays = {}
        return found, arrays

    def _scan(self, record: VideoRecord, modality: str) -> Optional[str]:
        """NaN/Inf summary of one feature file (read in chunks)."""
        path, header = self._headers.pop((record.video_id, modality), (None, None))
        if path is None:
            path = self.feature_path(record, modality)
        return scan_npy(path, header)

    @staticmethod
    def _nonfinite(arr: np.ndarray) -> Optional[str]:
        return nonfinite_summary(arr)

    def _warn_time_scale(self) -> None:
        """Warn when T is far from duration*fps/stride (wrong fps or stride?)."""
        off = []
        for rec, t in zip(self._records, self._lengths):
            if rec.duration is None:
                continue
            expected = rec.duration * rec.fps / self.stride
            if expected > 0 and not 0.5 <= t / expected <= 2.0:
                off.append(f"'{rec.video_id}' T={t} vs duration*fps/stride={expected:.1f}")
        if off and len(off) >= max(1, len(self._records) // 10):
            print_log(f'{self._describe()}: {len(off)} video(s) have a feature length far '
                      f'from duration*fps/stride (stride={self.stride}); check stride and '
                      f'(default_)fps, or time conversion will be wrong: {"; ".join(off[:3])}',
                      logger='current', level=logging.WARNING)

    # ------------------------------------------------------------------ items
    def __len__(self) -> int:
        self.full_init()
        return len(self._records)

    @property
    def video_ids(self) -> List[str]:
        self.full_init()
        return [r.video_id for r in self._records]

    @property
    def records(self) -> List[VideoRecord]:
        self.full_init()
        return list(self._records)

    @property
    def lengths(self) -> List[int]:
        """Segments of each video's feature files (streams cut to one length), in ``records`` order."""
        self.full_init()
        return [int(n) for n in self._lengths]

    @property
    def dims(self) -> Dict[str, int]:
        """``{stream: D}``: the feature dim of each stream (found, or fixed by ``feature_dims``)."""
        self.full_init()
        return {m: int(d) for m, d in self._dims.items()}

    def get_features(self, index: int) -> Dict[str, np.ndarray]:
        """Raw validated ``{modality: float32 [T, D]}`` arrays of video ``index``."""
        self.full_init()
        if index in self._cache:
            return self._cache[index]
        rec, t = self._records[index], self._lengths[index]
        out = {}
        for m in self.modalities:
            arr = self._read(rec, m)
            if arr.ndim != 2 or arr.shape[0] < t or (m in self._dims and arr.shape[1] != self._dims[m]):
                raise ValueError(f'{self._where(rec, m)}: shape changed since the dataset was '
                                 f'built (now {arr.shape})')
            if self.check_finite == 'load':
                bad = self._nonfinite(arr)
                if bad:
                    raise ValueError(f'{self._where(rec, m)}: field features: {bad}')
            out[m] = np.ascontiguousarray(arr[:t], dtype=np.float32)
        if self.cache:
            self._cache[index] = out
        return out

    def __getitem__(self, index: int) -> dict:
        self.full_init()
        if not -len(self._records) <= index < len(self._records):
            raise IndexError(f'index {index} out of range for {len(self._records)} videos')
        index %= len(self._records)
        rec = self._records[index]
        feats = self.get_features(index)
        item = video_item({m: torch.from_numpy(feats[m].copy() if self.cache else feats[m])
                           for m in self.modalities},
                          video_id=rec.video_id, seconds_per_segment=self.stride / rec.fps,
                          num_segments=self.num_segments, resample=self.resample,
                          duration=rec.duration)
        label = torch.zeros(len(self._classes), dtype=torch.float32)
        if rec.label_indices:
            label[list(rec.label_indices)] = 1.0
        item['data_sample'].update(
            label=label,
            gt_segments=torch.from_numpy(rec.gt_segments.astype(np.float32).reshape(-1, 2)),
            gt_labels=torch.from_numpy(rec.gt_labels.astype(np.int64).reshape(-1)))
        return item

    def __repr__(self) -> str:
        state = (f'{len(self._records)} videos, {len(self._classes)} classes'
                 if self._fully_initialized else 'not initialised')
        return f'{type(self).__name__}({self._describe()}: {state}, modalities={self.modalities})'
