"""Which checkpoint ``--resume`` continues from.

mmengine's auto-resume trusts the ``last_checkpoint`` file blindly: an empty
or stale one makes it fail with "can not be found" although valid checkpoints
exist, and a truncated checkpoint ends in a raw ``PytorchStreamReader``
traceback. :func:`resolve_resume` decides before the Runner is built:

* ``resume=True`` without a file (``wsal train --resume``): the newest
  *readable* checkpoint of the work dir, by training step, among
  ``iter_*.pth`` / ``epoch_*.pth`` and the file ``last_checkpoint`` names;
  unreadable files and a missing, empty or garbled ``last_checkpoint`` are
  skipped and named in the one-line note; with none readable, training
  starts from scratch (as mmengine does when there is no checkpoint).
* ``resume=True`` with ``load_from`` (``--resume FILE``): the file must be a
  readable checkpoint, else a one-line ``ValueError`` naming it.

Either way the config's learning-rate schedule must be the checkpoint's
(:func:`check_schedule`): mmengine restores the schedulers' state, their
``begin`` and ``end`` included, over the config's, so a run resumed with
another length (``--iters``) under a schedule that follows the run length
would go on at the rate the old schedule ended with (0 for a cosine
annealed to 0), and a changed schedule would be ignored.
"""
from __future__ import annotations

import os
import os.path as osp
import re
from typing import Callable, List, Optional, Tuple

from wsal.engine.compat import load_checkpoint_file

__all__ = ['find_resumable_checkpoint', 'resolve_resume', 'check_schedule']

_STEP_RE = re.compile(r'^(?:iter|epoch)_(\d+)\.pth$')


def _step(path: str) -> int:
    m = _STEP_RE.match(osp.basename(path))
    return int(m.group(1)) if m else -1


def _read_last_checkpoint(work_dir: str) -> Tuple[Optional[str], Optional[str]]:
    """``(path, problem)`` from ``work_dir/last_checkpoint``."""
    record = osp.join(work_dir, 'last_checkpoint')
    if not osp.isfile(record):
        return None, None
    try:
        with open(record, encoding='utf-8') as fh:
            text = fh.read().strip()
    except (OSError, UnicodeDecodeError):
        return None, 'last_checkpoint (unreadable)'
    if not text:
        return None, 'last_checkpoint (empty)'
    if '\n' in text or '\x00' in text or not text.endswith('.pth'):
        return None, 'last_checkpoint (garbled)'
    path = text if osp.isabs(text) else osp.join(work_dir, text)
    if not osp.isfile(path):
        return None, f'last_checkpoint (names missing {osp.basename(path)})'
    return path, None


def find_resumable_checkpoint(work_dir: str) -> Tuple[Optional[str], List[str]]:
    """The newest readable checkpoint of ``work_dir``.

    Args:
        work_dir: The training work dir.

    Returns:
        ``(path or None, skipped)``: ``skipped`` lists what was passed over
        and why, e.g. ``['iter_9.pth (cannot read ...)', 'last_checkpoint (empty)']``.
    """
    path, _, skipped = _newest_readable(work_dir)
    return path, skipped


def _newest_readable(work_dir: str) -> Tuple[Optional[str], Optional[dict], List[str]]:
    """:func:`find_resumable_checkpoint` and the checkpoint it read: ``(path, ckpt, skipped)``."""
    work_dir = os.fspath(work_dir)
    skipped: List[str] = []
    candidates = {}
    if osp.isdir(work_dir):
        for name in os.listdir(work_dir):
            path = osp.join(work_dir, name)
            if _STEP_RE.match(name) and osp.isfile(path):
                candidates[osp.realpath(path)] = path
    named, problem = _read_last_checkpoint(work_dir)
    if problem:
        skipped.append(problem)
    if named is not None:
        candidates.setdefault(osp.realpath(named), named)
    ordered = sorted(candidates.values(),
                     key=lambda p: (_step(p), osp.getmtime(p)), reverse=True)
    for path in ordered:
        try:
            checkpoint = load_checkpoint_file(path)
        except (ValueError, OSError) as exc:
            reason = str(exc).replace(f'{path}: ', '').replace(path, '').strip()
            skipped.append(f'{osp.basename(path)} ({reason})')
            continue
        return path, checkpoint, skipped
    return None, None, skipped


#: Scheduler keys that fix where a schedule runs; the checkpoint's must equal the config's.
_SCHEDULE_KEYS = ('begin', 'end', 'T_max')


def check_schedule(cfg, checkpoint: dict, path: str) -> None:
    """Refuse to resume under a learning-rate schedule other than the checkpoint's.

    Compares the config's ``param_scheduler`` (run length already resolved,
    :func:`wsal.apis.schedule.resolve_run_length`) with the scheduler states
    saved in ``checkpoint``: their number, and each of ``begin``, ``end``
    and ``T_max`` that the config sets. A checkpoint saved
    without scheduler states is not checked.

    Args:
        cfg: The run's config.
        checkpoint: The loaded checkpoint (``param_schedulers``: the saved states).
        path: The checkpoint's path, for the message.

    Raises:
        ValueError: one line naming the checkpoint, the scheduler and the values.
    """
    saved = checkpoint.get('param_schedulers') if isinstance(checkpoint, dict) else None
    if saved is None:
        return
    wanted = cfg.get('param_scheduler') or []
    if not isinstance(wanted, (list, tuple)):
        wanted = [wanted]
    saved = list(saved) if isinstance(saved, (list, tuple)) else [saved]
    how = 'resume with the same --iters and schedule, or start a new run in another work dir'
    if len(saved) != len(wanted):
        raise ValueError(f'{path} was trained with {len(saved)} learning-rate scheduler(s), '
                         f'the config has {len(wanted)}: mmengine would keep the '
                         f"checkpoint's; {how}")
    for i, (state, entry) in enumerate(zip(saved, wanted)):
        if not (isinstance(state, dict) and hasattr(entry, 'get')):
            continue
        for key in _SCHEDULE_KEYS:
            if key not in entry or key not in state:
                continue
            if state[key] != entry[key]:
                raise ValueError(f'{path} was trained with param_scheduler[{i}].{key} = '
                                 f'{state[key]!r}, the config asks for {entry[key]!r} (a '
                                 f"schedule that follows the run length changes with --iters); "
                                 f"mmengine would keep the checkpoint's schedule; {how}")


def resolve_resume(cfg, *, log: Optional[Callable[[str], None]] = print) -> Optional[str]:
    """Set ``cfg.load_from`` to the checkpoint a resumed run continues from.

    Args:
        cfg: A config from :func:`wsal.apis.prepare_config` (edited in place).
        log: Where the one-line note goes (None: silent).

    Returns:
        str | None: the checkpoint, or None when not resuming (or nothing
        readable was found: training starts from scratch).

    Raises:
        ValueError: an explicitly named checkpoint cannot be read, or its
            learning-rate schedule is not the config's (:func:`check_schedule`;
            one line).
        FileNotFoundError: an explicitly named checkpoint does not exist.
    """
    if not cfg.get('resume'):
        return None
    if cfg.get('load_from'):
        path = os.fspath(cfg.load_from)
        # one-line error for a missing / unreadable file
        check_schedule(cfg, load_checkpoint_file(path), path)
        return path
    work_dir = os.fspath(cfg.work_dir)
    path, checkpoint, skipped = _newest_readable(work_dir)
    note = f'; skipped {", ".join(skipped)}' if skipped else ''
    if path is None:
        cfg.resume = False
        if log:
            log(f'wsal: no readable checkpoint in {work_dir} to resume from; training from '
                f'scratch{note}')
        return None
    check_schedule(cfg, checkpoint, path)
    cfg.load_from = path
    if log:
        log(f'wsal: resuming from {osp.basename(path)}, the newest readable checkpoint in '
            f'{work_dir}{note}')
    return path
