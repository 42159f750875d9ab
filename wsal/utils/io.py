"""Atomic file output: a killed run never leaves a truncated file behind.

Everything wsal writes for a user (predictions, metrics, tables, figures,
converted features) goes through :func:`atomic_write`: the content is written
to a temporary file in the destination folder, flushed and fsync'ed, then
renamed over the destination in one ``os.replace``.
"""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Iterator, Union

PathLike = Union[str, os.PathLike]


@contextlib.contextmanager
def atomic_write(path: PathLike, mode: str = 'w', **open_kwargs) -> Iterator[Any]:
    """Open a temporary sibling of ``path``; rename it over ``path`` on success.

    On an exception inside the ``with`` block the temporary file is removed and
    ``path`` is left as it was (absent or with its previous content).

    Args:
        path: Destination file. Its parent folder is created if missing.
        mode: ``'w'`` (text) or ``'wb'`` (binary).
        **open_kwargs: Passed to ``open`` (e.g. ``encoding``).

    Yields:
        The open temporary file object.
    """
    if mode not in ('w', 'wb'):
        raise ValueError(f"atomic_write mode must be 'w' or 'wb', got {mode!r}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if 'b' not in mode:
        open_kwargs.setdefault('encoding', 'utf-8')
    fd, tmp = tempfile.mkstemp(prefix=f'.{path.name}.', suffix='.tmp', dir=path.parent)
    try:
        with os.fdopen(fd, mode, **open_kwargs) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def atomic_write_text(path: PathLike, text: str) -> Path:
    """Write ``text`` to ``path`` atomically and return the path."""
    with atomic_write(path, 'w') as fh:
        fh.write(text)
    return Path(path)


def atomic_write_json(path: PathLike, obj: Any, *, indent: int = 2) -> Path:
    """Serialise ``obj`` to JSON (fully, before touching disk) and write atomically."""
    text = json.dumps(obj, indent=indent, allow_nan=False) + '\n'
    return atomic_write_text(path, text)


@contextlib.contextmanager
def atomic_directory(path: PathLike) -> Iterator[Path]:
    """Build a folder in a temporary sibling; swap it onto ``path`` on success.

    On success an existing ``path`` is replaced (moved aside, the new folder
    renamed in, the old one removed); on an exception the temporary folder is
    removed and ``path`` is left untouched. Callers decide beforehand whether
    replacing an existing ``path`` is allowed.

    Yields:
        Path: the temporary folder to fill.
    """
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f'.{out.name}.tmp-', dir=out.parent))
    try:
        yield tmp
        if out.exists():
            old = out.parent / f'.{out.name}.old-{os.getpid()}'
            os.rename(out, old)
            os.rename(tmp, out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.rename(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
