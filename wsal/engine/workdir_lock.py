"""One run per work directory.

Every wsal command that writes into a work dir (``train``, ``test``'s
outputs, ``demo``, ``ablate`` and its cells) holds an exclusive OS lock on
``<work dir>/.wsal.lock`` for its whole life:

* the lock is ``fcntl.flock`` on that file, so the operating system drops it
  when the process ends, however it ends (a ``SIGKILL`` included);
* the file also holds an owner record (pid, host, start time, command), which
  a second run prints when it refuses, before it has written anything:
  ``work dir D is in use by pid 123 on host h since 2026-... (lock file
  D/.wsal.lock); wait for that run to end or choose another work dir``;
* a record left behind by a run that was killed (the lock itself is free) is
  taken over with a one-line note naming the old owner;
* in a distributed run, rank 0 owns the lock (the other ranks write nothing
  of their own into the work dir); if rank 0 is refused, it exits and
  ``torchrun`` stops the other ranks;
* locks are re-entrant within a process (``wsal demo`` trains and then tests
  in the same folder), and the lock file is never deleted (deleting it would
  let two runs lock two different files of the same name); a run that ends
  normally empties the record.

Where the file system has no ``flock`` (some network file systems), the
record alone decides: a run refuses when the record names a live process on
the same host.
"""
from __future__ import annotations

import contextlib
import datetime
import errno
import json
import os
import socket
import sys
from pathlib import Path
from typing import Callable, Dict, Iterator, Optional, Union

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None

__all__ = ['LOCK_NAME', 'WorkDirInUseError', 'WorkDirLock', 'hold_work_dir']

LOCK_NAME = '.wsal.lock'
PathLike = Union[str, os.PathLike]


class WorkDirInUseError(ValueError):
    """Another run owns the work dir (one-line message naming it and the lock file).

    A ``ValueError`` so that the command line reports it like any other bad
    argument: one line, exit status 2.
    """


def _owner_record() -> dict:
    return {'pid': os.getpid(), 'host': socket.gethostname(),
            'started': datetime.datetime.now(datetime.timezone.utc)
            .isoformat(timespec='seconds').replace('+00:00', 'Z'),
            'command': ' '.join(sys.argv)[:300]}


def _describe(record: Optional[dict]) -> str:
    if not record:
        return 'another process (no owner record)'
    return (f"pid {record.get('pid', '?')} on host {record.get('host', '?')} "
            f"since {record.get('started', '?')}")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _is_rank_zero() -> bool:
    try:
        return int(os.environ.get('RANK', '0') or 0) == 0
    except ValueError:
        return True


class WorkDirLock:
    """The exclusive lock of one work dir (see the module docstring).

    Args:
        work_dir: The folder (created if missing).
        log: Where the takeover note goes (None: silent).

    Example:
        >>> with WorkDirLock('work_dirs/bm'):
        ...     runner.train()
    """

    def __init__(self, work_dir: PathLike, *, log: Optional[Callable[[str], None]] = None) -> None:
        self.work_dir = Path(os.fspath(work_dir))
        self.path = self.work_dir / LOCK_NAME
        self.log = log
        self._fd: Optional[int] = None

    def _read_record(self, fd: int) -> Optional[dict]:
        try:
            data = os.pread(fd, 1 << 16, 0)
        except OSError:
            return None
        if not data.strip():
            return None
        try:
            record = json.loads(data.decode('utf-8'))
        except (UnicodeDecodeError, json.JSONDecodeError):
            return {'pid': '?', 'host': '?', 'started': '? (unreadable owner record)'}
        return record if isinstance(record, dict) else None

    def _refuse(self, record: Optional[dict]) -> WorkDirInUseError:
        return WorkDirInUseError(
            f'work dir {self.work_dir} is in use by {_describe(record)} (lock file {self.path}); '
            'wait for that run to end or choose another work dir (--work-dir)')

    def acquire(self) -> 'WorkDirLock':
        """Take the lock or raise :class:`WorkDirInUseError` (nothing written then)."""
        if self._fd is not None:
            return self
        self.work_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | getattr(os, 'O_CLOEXEC', 0), 0o666)
        try:
            record = self._read_record(fd)
            if fcntl is not None:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    locked = True
                except OSError as exc:
                    if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                        raise self._refuse(self._read_record(fd) or record) from None
                    locked = False  # ENOLCK / EINVAL: no flock on this file system
            else:
                locked = False
            record = self._read_record(fd)
            if record and not locked and record.get('host') == socket.gethostname() \
                    and isinstance(record.get('pid'), int) and record['pid'] != os.getpid() \
                    and _pid_alive(record['pid']):
                raise self._refuse(record)
            if record and self.log is not None:
                self.log(f'wsal: note: work dir {self.work_dir} was left locked by '
                         f'{_describe(record)}, which is no longer running; taking it over')
            data = json.dumps(_owner_record()).encode('utf-8') + b'\n'
            os.ftruncate(fd, 0)
            os.pwrite(fd, data, 0)
            os.fsync(fd)
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd
        return self

    def release(self) -> None:
        """Empty the owner record and drop the lock (the file stays)."""
        fd, self._fd = self._fd, None
        if fd is None:
            return
        try:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)
            if fcntl is not None:
                with contextlib.suppress(OSError):
                    fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)

    def __enter__(self) -> 'WorkDirLock':
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()


#: realpath -> [lock, depth] of the locks this process holds
_HELD: Dict[str, list] = {}


@contextlib.contextmanager
def hold_work_dir(work_dir: PathLike, *,
                  log: Optional[Callable[[str], None]] = None) -> Iterator[Optional[WorkDirLock]]:
    """Hold the lock of ``work_dir`` for the ``with`` block (re-entrant; rank 0 only).

    Args:
        work_dir: The work dir.
        log: Where a takeover note goes (default: standard error).

    Yields:
        WorkDirLock | None: the lock (None on ranks other than 0).

    Raises:
        WorkDirInUseError: another run owns it.
    """
    if not _is_rank_zero():
        yield None
        return
    if log is None:
        def log(msg: str) -> None:
            print(msg, file=sys.stderr)
    Path(os.fspath(work_dir)).mkdir(parents=True, exist_ok=True)
    key = os.path.realpath(os.fspath(work_dir))
    if key in _HELD:
        _HELD[key][1] += 1
        try:
            yield _HELD[key][0]
        finally:
            _HELD[key][1] -= 1
        return
    lock = WorkDirLock(work_dir, log=log).acquire()
    _HELD[key] = [lock, 1]
    try:
        yield lock
    finally:
        del _HELD[key]
        lock.release()
