"""Atomic file output: a killed run never leaves a truncated file behind.

Everything wsal writes for a user (predictions, metrics, tables, figures,
converted features) goes through :func:`atomic_write`: the content is written
to a temporary file in the destination folder, flushed and fsync'ed, then
renamed over the destination in one ``os.replace``, and the folder is fsync'ed
so the rename itself survives a power cut (where the platform allows it).

Files and folders get ordinary permissions: ``0o666 & ~umask`` and
``0o777 & ~umask`` (0644 / 0755 under the usual umask 022), as a plain
``open`` or ``mkdir`` would give, not the owner-only modes of
:func:`tempfile.mkstemp` / :func:`tempfile.mkdtemp`.
"""
from __future__ import annotations

import contextlib
import json
import math
import os
import secrets
import shutil
from pathlib import Path
from typing import Any, Iterator, Tuple, Union

__all__ = ['atomic_write', 'atomic_write_text', 'atomic_write_json', 'atomic_directory',
           'fsync_dir']

PathLike = Union[str, os.PathLike]

_TRIES = 100


def _temp_name(parent: Path, stem: str, suffix: str) -> Path:
    return parent / f'.{stem}.{secrets.token_hex(4)}{suffix}'


def _make_temp_file(parent: Path, stem: str) -> Tuple[int, Path]:
    """Create a new empty file next to the destination, mode ``0o666 & ~umask``.

    Returns:
        ``(fd, path)``: a descriptor open for writing and the file's path.
    """
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, 'O_CLOEXEC', 0) | getattr(
        os, 'O_BINARY', 0)
    for _ in range(_TRIES):
        tmp = _temp_name(parent, stem, '.tmp')
        try:
            return os.open(tmp, flags, 0o666), tmp
        except FileExistsError:
            continue
    raise FileExistsError(f'could not create a temporary file in {parent}')


def _make_temp_dir(parent: Path, stem: str) -> Path:
    """Create a new empty folder next to the destination, mode ``0o777 & ~umask``."""
    for _ in range(_TRIES):
        tmp = _temp_name(parent, stem, '.tmp-dir')
        try:
            os.mkdir(tmp, 0o777)
            return tmp
        except FileExistsError:
            continue
    raise FileExistsError(f'could not create a temporary folder in {parent}')


def fsync_dir(path: PathLike) -> None:
    """Flush a folder's entries (renames, new files) to disk; a no-op where
    folders cannot be opened (Windows) or fsync'ed (some network file systems)."""
    flags = os.O_RDONLY | getattr(os, 'O_DIRECTORY', 0)
    try:
        fd = os.open(path, flags)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _fsync_tree(root: Path) -> None:
    """fsync every file and folder under ``root`` (deepest first)."""
    for folder, _, files in os.walk(root, topdown=False):
        for name in files:
            path = os.path.join(folder, name)
            if os.path.islink(path):
                continue
            with open(path, 'rb') as fh:
                os.fsync(fh.fileno())
        fsync_dir(folder)


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
    fd, tmp = _make_temp_file(path.parent, path.name)
    try:
        fh = os.fdopen(fd, mode, **open_kwargs)
    except BaseException:
        with contextlib.suppress(OSError):  # open() may have closed it already
            os.close(fd)
        os.unlink(tmp)
        raise
    try:
        with fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
        fsync_dir(path.parent)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def atomic_write_text(path: PathLike, text: str) -> Path:
    """Write ``text`` to ``path`` atomically and return the path."""
    with atomic_write(path, 'w') as fh:
        fh.write(text)
    return Path(path)


def nonfinite_to_none(x: Any) -> Any:
    """JSON-safe copy: NaN and inf floats become None (through dicts, lists and tuples)."""
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if isinstance(x, dict):
        return {k: nonfinite_to_none(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [nonfinite_to_none(v) for v in x]
    return x


def atomic_write_json(path: PathLike, obj: Any, *, indent: int = 2) -> Path:
    """Serialise ``obj`` to JSON (fully, before touching disk) and write atomically."""
    text = json.dumps(obj, indent=indent, allow_nan=False) + '\n'
    return atomic_write_text(path, text)


@contextlib.contextmanager
def atomic_directory(path: PathLike) -> Iterator[Path]:
    """Build a folder in a temporary sibling; swap it onto ``path`` on success.

    On success every file in the folder is fsync'ed and an existing ``path``
    is replaced (moved aside, the new folder renamed in, the old one
    removed); on an exception the temporary folder is removed and ``path`` is
    left untouched. Callers decide beforehand whether replacing an existing
    ``path`` is allowed. The folder gets mode ``0o777 & ~umask``.

    Yields:
        Path: the temporary folder to fill.
    """
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = _make_temp_dir(out.parent, out.name)
    try:
        yield tmp
        _fsync_tree(tmp)
        if out.exists():
            old = out.parent / f'.{out.name}.old-{os.getpid()}'
            os.rename(out, old)
            os.rename(tmp, out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.rename(tmp, out)
        fsync_dir(out.parent)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
