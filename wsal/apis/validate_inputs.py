"""Up-front checks of ``wsal localize``'s inputs: nothing runs on bad input.

Every feature file is checked before a model is built or a video is
localized, with the same header and NaN/Inf checks the datasets use
(:mod:`wsal.datasets.validation`): a readable numeric ``.npy``, 2-D
``[T, D]``, ``T >= 2`` segments, ``D`` equal to the model's dimension of that
stream, and finite values. Output paths are checked too (``--out`` is not a
folder and its folder exists or can be created). Each error is one line
naming the file (and video and stream).
"""
from __future__ import annotations

from collections import Counter

import os
from pathlib import Path
from typing import Any, Dict, Mapping, Optional, Union

from wsal.datasets.validation import read_npy_header, scan_npy

__all__ = ['MIN_SEGMENTS', 'config_stream_dims', 'check_feature_files', 'check_output_file',
           'check_output_folder', 'check_localize_inputs']

PathLike = Union[str, os.PathLike]

#: Fewest feature segments a video needs to be localized.
MIN_SEGMENTS = 2


def config_stream_dims(config: Any, cfg_options: Optional[dict] = None) -> Dict[str, int]:
    """``{stream: feature dim}`` of the config's model (``model.streams``).

    Returns:
        dict: empty when the config does not state the dimensions.
    """
    from wsal.apis.inference import load_config
    cfg = load_config(config, cfg_options)
    model = cfg.get('model') or {}
    streams = model.get('streams') if isinstance(model, Mapping) else None
    if isinstance(streams, Mapping) and all(isinstance(v, int) for v in streams.values()):
        return {str(k): int(v) for k, v in streams.items()}
    return {}


def majority_dims(files: Mapping[str, Mapping[str, PathLike]]) -> Dict[str, int]:
    """``{stream: D}`` that most of the given feature files have (headers only).

    A file that cannot be read as a 2-D ``.npy`` raises an error naming it.
    """
    counts: Dict[str, Counter] = {}
    for vid, streams in files.items():
        for stream, path in streams.items():
            shape = read_npy_header(path).shape
            if len(shape) != 2:
                raise ValueError(f"feature file {path} (video '{vid}', stream '{stream}'): "
                                 f'expected a 2-D [T, D] array, got shape {shape}')
            counts.setdefault(stream, Counter())[int(shape[1])] += 1
    return {stream: c.most_common(1)[0][0] for stream, c in counts.items()}


def check_feature_files(files: Mapping[str, Mapping[str, PathLike]],
                        dims: Mapping[str, int], *, min_segments: int = MIN_SEGMENTS) -> None:
    """Check every ``files[video][stream]`` ``.npy`` before any inference.

    Args:
        files: ``{video_id: {stream: path}}``.
        dims: ``{stream: D}`` the model expects (streams missing here are not
            checked for their dimension).
        min_segments: Smallest ``T`` accepted.

    Raises:
        FileNotFoundError: a file is missing.
        ValueError: the first bad file, named with its video and stream.
    """
    for vid, streams in files.items():
        for stream, path in streams.items():
            where = f"feature file {path} (video '{vid}', stream '{stream}')"
            header = read_npy_header(path)  # its errors name the file
            shape = header.shape
            if len(shape) != 2:
                raise ValueError(f'{where}: expected a 2-D [T, D] array, got shape {shape}')
            length, dim = shape
            if length < min_segments:
                raise ValueError(f'{where} has T = {length} segment(s); localizing needs at '
                                 f'least {min_segments}')
            if stream in dims and dim != dims[stream]:
                raise ValueError(f"{where} has feature dim {dim}, but the model's stream "
                                 f"'{stream}' takes {dims[stream]}")
            bad = scan_npy(path, header)
            if bad:
                raise ValueError(f'{where} has non-finite values: {bad}')


def _nearest_existing(path: Path) -> Path:
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def check_output_file(path: PathLike, *, option: str = '--out') -> None:
    """``path`` can be written: not a folder, its folder exists or can be created.

    Raises:
        IsADirectoryError / NotADirectoryError / ValueError: one line naming ``option`` and the path.
    """
    p = Path(os.fspath(path)).expanduser()
    if p.is_dir():
        raise IsADirectoryError(f'{option} {p} is a folder; give a file name, e.g. '
                                f'{p / "predictions.json"}')
    base = _nearest_existing(p.parent.absolute())
    if not base.is_dir():
        raise NotADirectoryError(f'{option} {p}: {base} is a file, so the folder cannot be created')
    if not os.access(base, os.W_OK | os.X_OK):
        raise ValueError(f'{option} {p}: no permission to write in {base}')


def check_output_folder(path: PathLike, *, option: str = '--plot') -> None:
    """``path`` is a folder or can be created as one (one-line error otherwise)."""
    p = Path(os.fspath(path)).expanduser()
    base = _nearest_existing(p.absolute())
    if not base.is_dir():
        raise NotADirectoryError(f'{option} {p}: {base} is a file, not a folder')
    if not os.access(base, os.W_OK | os.X_OK):
        raise ValueError(f'{option} {p}: no permission to write in {base}')


def check_localize_inputs(files: Optional[Mapping[str, Mapping[str, PathLike]]],
                          dims: Mapping[str, int], *, out: Optional[PathLike] = None,
                          plot: Optional[PathLike] = None) -> None:
    """All of ``wsal localize``'s checks: outputs first (cheap), then every feature file.

    Args:
        files: ``{video_id: {stream: path}}`` (None: only the outputs are checked).
        dims: ``{stream: D}`` of the model.
        out: The predictions file (``--out``), if any.
        plot: The figure folder (``--plot``), if any.
    """
    if out is not None:
        check_output_file(out, option='--out')
    if plot is not None:
        check_output_folder(plot, option='--plot')
    if files is not None:
        check_feature_files(files, dims)
