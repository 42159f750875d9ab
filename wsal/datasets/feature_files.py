"""Feature files of new videos: ``{video_id: {stream: path}}`` from files and folders.

Accepted: ``.npy`` files named ``<video>_<stream>.npy`` (or ``-``/``.`` before
the stream) or kept in a ``<stream>/`` folder, and folders in the canonical
layout (``features/<stream>/<video>.npy`` or ``<stream>/<video>.npy``).
"""
from __future__ import annotations

from pathlib import Path
from typing import Dict, Sequence

__all__ = ['collect_feature_files']


def _stream_of_file(path: Path, streams: Sequence[str]):
    """(video_id, stream) of a feature file, from its folder or name suffix."""
    if path.parent.name in streams:
        return path.stem, path.parent.name
    for s in streams:
        for sep in ('_', '-', '.'):
            if path.stem.endswith(sep + s) and len(path.stem) > len(s) + 1:
                return path.stem[:-len(s) - 1], s
    raise ValueError(f'cannot tell which stream {path} holds: name it <video>_'
                     f'{streams[0]}.npy, put it in a {streams[0]}/ folder, or pass a folder '
                     f'in the canonical layout (streams: {", ".join(streams)})')


def collect_feature_files(paths: Sequence[str], streams: Sequence[str]) -> Dict[str, Dict[str, Path]]:
    """``{video_id: {stream: path}}`` from files and canonical-layout folders.

    Raises:
        FileNotFoundError: a path does not exist.
        ValueError: a video lacks a stream, a stream is given twice, or a
            folder holds no features.
    """
    videos: Dict[str, Dict[str, Path]] = {}

    def add(vid: str, stream: str, f: Path) -> None:
        have = videos.setdefault(vid, {})
        if stream in have and have[stream] != f:
            raise ValueError(f"video '{vid}' has two {stream} feature files: {have[stream]} and {f}")
        have[stream] = f

    for text in paths:
        p = Path(text).expanduser()
        if p.is_dir():
            root = p / 'features' if (p / 'features').is_dir() else p
            dirs = {s: root / s for s in streams if (root / s).is_dir()}
            if not dirs:
                raise ValueError(f'folder {p} has no {"/".join(streams)} feature folders '
                                 f'(expected {p}/features/<stream>/<video>.npy)')
            for s, d in dirs.items():
                for f in sorted(d.glob('*.npy')):
                    add(f.stem, s, f)
        elif p.is_file():
            vid, s = _stream_of_file(p, streams)
            add(vid, s, p)
        else:
            raise FileNotFoundError(f'features not found: {p}')
    if not videos:
        raise ValueError(f'no feature files found in {", ".join(paths)}')
    for vid, have in videos.items():
        missing = [s for s in streams if s not in have]
        if missing:
            raise ValueError(f"video '{vid}' has no {', '.join(missing)} features "
                             f'(the model needs {", ".join(streams)}; got {", ".join(map(str, have.values()))})')
    return videos
