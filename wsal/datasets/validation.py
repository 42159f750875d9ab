"""Checks of feature files that run at dataset construction, before training.

Three layers, cheapest first:

* :func:`read_npy_header`: the ``.npy`` header only (a few hundred bytes):
  magic string, dtype (numeric, not a pickled object array), shape, and
  whether the file is as long as the header promises (a truncated copy is
  caught here without reading its data).
* :func:`majority_dims`: the feature dimension each stream is expected to
  have when the config does not set ``feature_dims``: the one most videos
  agree on (a tie is an error that asks for ``feature_dims``).
* :func:`scan_npy` / :func:`nonfinite_summary`: NaN/Inf over the data, in
  chunks of a few MB read into one reused buffer, so memory stays flat
  whatever the file size and a file is read once, sequentially.

Cost of the full scan on THUMOS14-sized data is given in the README's data
section and in :class:`~wsal.datasets.base.FeatureDatasetBase`.
"""
from __future__ import annotations

import os
import re
import struct
from collections import Counter
from pathlib import Path
from typing import Dict, List, Mapping, NamedTuple, Optional, Sequence, Tuple, Union

import numpy as np

__all__ = ['NpyHeader', 'read_npy_header', 'nonfinite_summary', 'scan_npy', 'majority_dims',
           'CHUNK_BYTES']

PathLike = Union[str, os.PathLike]

#: Bytes of data checked per step of the NaN/Inf scan (large enough for fast
#: vectorised reductions, small enough to keep the temporary mask in cache).
CHUNK_BYTES = 4 << 20


# The header dict exactly as numpy writes it; anything else goes through numpy's parser.
_HEADER_RE = re.compile(r"\{'descr': '([<>|=]?[a-zA-Z]\d*)', 'fortran_order': (True|False), "
                        r"'shape': \(((?:\d+, )*\d*,?)\), \} *\n?$")


class NpyHeader(NamedTuple):
    """What a ``.npy`` header says about its array.

    Attributes:
        shape: Array shape, e.g. ``(T, D)``.
        dtype: Element type.
        fortran_order: Whether the data are stored column-major.
        offset: Byte offset of the data in the file.
    """

    shape: Tuple[int, ...]
    dtype: np.dtype
    fortran_order: bool
    offset: int


def read_npy_header(path: PathLike) -> NpyHeader:
    """Parse and check the header of a ``.npy`` file without reading its data.

    Args:
        path: The ``.npy`` file.

    Returns:
        NpyHeader: shape, dtype, order and data offset.

    Raises:
        FileNotFoundError: the file is missing.
        ValueError: the file is not a ``.npy`` array (e.g. a text file), holds
            a pickled object array or a non-numeric dtype, or is shorter than
            its header promises (truncated copy or interrupted write).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f'feature file not found: {path}')
    try:
        with open(path, 'rb') as fh:
            version = np.lib.format.read_magic(fh)
            parsed = _parse_header_fast(fh, version)
            if parsed is None:
                fh.seek(np.lib.format.MAGIC_LEN)
                if version == (1, 0):
                    parsed = np.lib.format.read_array_header_1_0(fh)
                else:
                    parsed = np.lib.format.read_array_header_2_0(fh)
            shape, fortran, dtype = parsed
            offset = fh.tell()
            size = os.fstat(fh.fileno()).st_size
    except Exception as exc:  # noqa: BLE001 - any parse failure means unreadable
        raise ValueError(f'feature file {path} is not a readable .npy array ({exc})') from None
    if dtype.hasobject:
        raise ValueError(f'feature file {path} holds a pickled object array; wsal reads '
                         'numeric arrays only (for the STPN/W-TALC layout use '
                         'STPNFeatureDataset or `wsal convert`)')
    if dtype.kind not in 'fiu':
        raise ValueError(f'feature file {path}: dtype {dtype} is not numeric')
    shape = tuple(int(s) for s in shape)
    expected = offset + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if size < expected:
        raise ValueError(f'feature file {path} is truncated: {size} bytes, but its header '
                         f'({dtype} {shape}) needs {expected}')
    return NpyHeader(shape, dtype, bool(fortran), offset)


class _Tally:
    """NaN/Inf counts and first bad row, accumulated over chunks."""

    def __init__(self) -> None:
        self.nan = self.inf = 0
        self.first: Optional[int] = None

    def add(self, chunk: np.ndarray, finite: np.ndarray, start: int) -> None:
        """Count ``chunk`` (rows ``start...``) given its ``np.isfinite`` mask."""
        if finite.all():
            return
        if self.first is None:
            self.first = start + int(np.nonzero(~finite.all(axis=1))[0][0])
        nan = int(np.count_nonzero(np.isnan(chunk)))
        self.nan += nan
        self.inf += int(finite.size - np.count_nonzero(finite)) - nan

    def summary(self, unit: str = 'segment') -> Optional[str]:
        if self.first is None:
            return None
        return f'{self.nan} NaN and {self.inf} Inf value(s), first at {unit} {self.first}'


def _rows_per_chunk(row_bytes: int, chunk_bytes: int) -> int:
    return max(1, chunk_bytes // max(1, row_bytes))


def _parse_header_fast(fh, version: Tuple[int, int]):
    """``(shape, fortran_order, dtype)`` when the header has numpy's own layout
    (parsed with a regular expression, about 20x cheaper than numpy's
    ``ast``-based parser), else None with the position undefined."""
    size_fmt = '<H' if version == (1, 0) else '<I'
    raw = fh.read(struct.calcsize(size_fmt))
    if len(raw) != struct.calcsize(size_fmt):
        return None
    text = fh.read(struct.unpack(size_fmt, raw)[0])
    try:
        match = _HEADER_RE.match(text.decode('latin1' if version < (3, 0) else 'utf8'))
    except UnicodeDecodeError:
        return None
    if match is None:
        return None
    try:
        dtype = np.dtype(match.group(1))
    except TypeError:
        return None
    shape = tuple(int(x) for x in match.group(3).replace(',', ' ').split())
    return shape, match.group(2) == 'True', dtype


def nonfinite_summary(arr: np.ndarray, *, chunk_bytes: int = CHUNK_BYTES) -> Optional[str]:
    """Describe the NaN/Inf values of ``arr``, or None when all are finite.

    Integer arrays are always finite. The check walks ``arr`` along its first
    axis in chunks of about ``chunk_bytes``, so the temporary mask stays small
    and a memory-mapped array is never copied whole.

    Args:
        arr: Array of shape ``[T, ...]`` (a ``[T, D]`` feature array, possibly
            memory-mapped).
        chunk_bytes: Approximate bytes per chunk.

    Returns:
        str | None: e.g. ``'1 NaN and 2 Inf value(s), first at segment 4'``.
    """
    if arr.dtype.kind != 'f' or arr.size == 0:
        return None
    if arr.ndim == 2:
        flat = arr
    else:
        flat = arr.reshape(arr.shape[0], -1) if arr.ndim > 1 else arr.reshape(-1, 1)
    step = _rows_per_chunk(flat.itemsize * flat.shape[1], chunk_bytes)
    tally = _Tally()
    for start in range(0, flat.shape[0], step):
        chunk = np.asarray(flat[start:start + step])
        tally.add(chunk, np.isfinite(chunk), start)
    return tally.summary('segment' if arr.ndim > 1 else 'index')


def scan_npy(path: PathLike, header: Optional[NpyHeader] = None, *,
             chunk_bytes: int = CHUNK_BYTES) -> Optional[str]:
    """NaN/Inf check of a ``.npy`` file, read sequentially in chunks.

    A C-ordered ``[T, D]`` file is read with ``readinto`` into one reused
    buffer of about ``chunk_bytes`` (memory stays flat and the buffer stays
    in the CPU cache; on THUMOS14-sized data this is about twice as fast as
    walking a ``np.load(mmap_mode='r')`` map, whose 4 KB page faults cost more
    than the copy). Other layouts are walked through a read-only memory map.

    Args:
        path: The ``.npy`` file.
        header: Its already checked header (:func:`read_npy_header` runs when
            None).
        chunk_bytes: Approximate bytes checked per step.

    Returns:
        str | None: the :func:`nonfinite_summary` text, None when all finite.

    Raises:
        FileNotFoundError, ValueError: as :func:`read_npy_header`, or when the
            data cannot be read (e.g. the file shrank since its header was read).
    """
    path = Path(path)
    header = header or read_npy_header(path)
    if header.dtype.kind != 'f' or 0 in header.shape:
        return None
    try:
        if len(header.shape) == 2 and not header.fortran_order:
            return _scan_sequential(path, header, chunk_bytes)
        arr = np.load(path, mmap_mode='r', allow_pickle=False)
    except (OSError, ValueError, EOFError) as exc:
        raise ValueError(f'feature file {path} could not be read '
                         f'({type(exc).__name__}: {exc})') from None
    try:
        return nonfinite_summary(arr, chunk_bytes=chunk_bytes)
    finally:
        mm = getattr(arr, '_mmap', None)
        del arr
        if mm is not None:
            mm.close()


def _scan_sequential(path: Path, header: NpyHeader, chunk_bytes: int) -> Optional[str]:
    t, d = header.shape
    rows = min(t, _rows_per_chunk(header.dtype.itemsize * d, chunk_bytes))
    buf = np.empty((rows, d), header.dtype)
    mask = np.empty((rows, d), bool)
    tally = _Tally()
    with open(path, 'rb', buffering=0) as fh:
        fh.seek(header.offset)
        for start in range(0, t, rows):
            n = min(rows, t - start)
            view = buf[:n]
            raw = memoryview(view).cast('B')
            got = 0
            while got < len(raw):
                k = fh.readinto(raw[got:])
                if not k:
                    raise EOFError(f'the data end inside rows {start}-{start + n - 1} of {t}')
                got += k
            finite = np.isfinite(view, out=mask[:n])
            tally.add(view, finite, start)
    return tally.summary()


def majority_dims(dims: Mapping[str, Sequence[Tuple[str, int]]]
                  ) -> Tuple[Dict[str, Tuple[int, str]], List[str]]:
    """The feature dimension most videos of each stream agree on.

    Args:
        dims: ``{modality: [(video_id, D), ...]}`` over the videos whose
            header could be read.

    Returns:
        ``(chosen, ties)``: ``chosen[modality] = (D, how)`` with ``how`` a
        phrase for messages (``'the majority of the split (7 of 8 videos)'``);
        ``ties`` one message per modality whose most common dimensions are
        tied (those modalities are not in ``chosen``).
    """
    chosen: Dict[str, Tuple[int, str]] = {}
    ties: List[str] = []
    for m, pairs in dims.items():
        if not pairs:
            continue
        counts = Counter(d for _, d in pairs)
        ranked = counts.most_common()
        top = ranked[0][1]
        best = [d for d, c in ranked if c == top]
        if len(best) == 1:
            d = best[0]
            if len(counts) == 1:
                how = f'every other video of the split ({len(pairs)} videos)'
            else:
                how = f'the majority of the split ({top} of {len(pairs)} videos)'
            chosen[m] = (d, how)
            continue
        parts = []
        for d, c in ranked:
            ids = [v for v, dv in pairs if dv == d]
            shown = ', '.join(f"'{v}'" for v in ids[:3]) + (', ...' if len(ids) > 3 else '')
            parts.append(f'D={d} in {c} video(s) ({shown})')
        ties.append(f'{m}: the videos disagree on the feature dim with no majority: '
                    f'{"; ".join(parts)}; set feature_dims in the dataset config')
    return chosen, ties
