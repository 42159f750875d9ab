"""``AtomicCheckpointHook``: checkpoints that survive a kill at any moment.

mmengine's ``CheckpointHook`` writes ``iter_N.pth`` in place (a kill during
the write leaves a truncated file), rewrites ``last_checkpoint`` in place
(a kill can leave it empty), and deletes the previous best checkpoint before
writing the new one (a kill in between leaves no readable best model).

This subclass keeps mmengine's naming, intervals, ``max_keep_ckpts``,
``save_best`` rules and message-hub bookkeeping, and changes only how files
reach the disk:

* every checkpoint is saved by ``Runner.save_checkpoint`` under a hidden
  temporary name in the same folder (``.iter_N.pth.<hex>.tmp``), fsync'ed and
  renamed over its final name with ``os.replace``; the folder is fsync'ed;
* ``last_checkpoint`` is written atomically, and only after the checkpoint it
  names is complete;
* checkpoints beyond ``max_keep_ckpts`` and the previous best are removed
  only after the new checkpoint is complete;
* temporary files left by a killed run are removed when training starts
  (the work dir is owned by one run, see :mod:`wsal.engine.workdir_lock`).

Checkpoints on a non-local backend (``out_dir`` with ``scheme://``) are
saved by mmengine's code unchanged.

Example:
    >>> default_hooks = dict(checkpoint=dict(
    ...     type='AtomicCheckpointHook', by_epoch=False, interval=500,
    ...     save_best='detection/mAP@0.5', rule='greater', max_keep_ckpts=2))
"""
from __future__ import annotations

import os
import os.path as osp
import re
import secrets
import shutil
from typing import Any, List, Optional

from mmengine.dist import is_main_process
from mmengine.hooks import CheckpointHook

from wsal.registry import HOOKS
from wsal.utils.io import atomic_write_text, fsync_dir

__all__ = ['AtomicCheckpointHook', 'save_checkpoint_atomically', 'remove_stale_temporaries']

#: Hidden temporary names of checkpoints and ``last_checkpoint`` being written.
_TEMP_RE = re.compile(r'^\..+\.[0-9a-f]{8}\.tmp$')


def _is_local(path: Any) -> bool:
    return path is not None and '://' not in os.fspath(path)


def save_checkpoint_atomically(runner, out_dir: str, filename: str, **kwargs) -> str:
    """``runner.save_checkpoint`` to a temporary sibling, then rename it in place.

    Args:
        runner: The mmengine Runner.
        out_dir: Folder of the checkpoint (local).
        filename: Final file name, e.g. ``'iter_500.pth'``.
        **kwargs: Passed to ``Runner.save_checkpoint`` (``save_optimizer``, ``meta``...).

    Returns:
        str: the final path. On ranks other than 0 nothing is written
        (``Runner.save_checkpoint`` is rank-0 only).
    """
    final = osp.join(out_dir, filename)
    tmp_name = f'.{filename}.{secrets.token_hex(4)}.tmp'
    tmp = osp.join(out_dir, tmp_name)
    try:
        runner.save_checkpoint(out_dir, tmp_name, **kwargs)
        if not is_main_process():
            return final
        with open(tmp, 'rb') as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, final)
    except BaseException:
        if osp.exists(tmp):
            os.unlink(tmp)
        raise
    fsync_dir(out_dir)
    return final


def remove_stale_temporaries(folder: str) -> List[str]:
    """Delete the hidden temporary files a killed run left in ``folder``.

    Returns:
        list[str]: the names removed.
    """
    removed = []
    if not osp.isdir(folder):
        return removed
    for name in sorted(os.listdir(folder)):
        path = osp.join(folder, name)
        if _TEMP_RE.match(name) and osp.isfile(path) and not osp.islink(path):
            try:
                os.unlink(path)
                removed.append(name)
            except FileNotFoundError:
                pass
    return removed


def _remove_path(path: str) -> None:
    if osp.isfile(path) or osp.islink(path):
        os.remove(path)
    elif osp.isdir(path):  # checkpoints saved by deepspeed are folders
        shutil.rmtree(path)


class _AtomicSaveRunner:
    """The runner as seen by mmengine's best-checkpoint code: saves are atomic."""

    def __init__(self, runner, hook: 'AtomicCheckpointHook') -> None:
        self._runner = runner
        self._hook = hook

    def __getattr__(self, name: str) -> Any:
        return getattr(self._runner, name)

    def save_checkpoint(self, out_dir, filename, *args, **kwargs):
        return self._hook._save(self._runner, out_dir, filename, *args, **kwargs)


class _DeferredRemoval:
    """A file backend whose ``remove`` / ``rmtree`` only note the path."""

    def __init__(self, backend) -> None:
        self._backend = backend
        self.paths: List[str] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._backend, name)

    def remove(self, path) -> None:
        self.paths.append(os.fspath(path))

    def rmtree(self, path) -> None:
        self.paths.append(os.fspath(path))


@HOOKS.register_module()
class AtomicCheckpointHook(CheckpointHook):
    """mmengine's ``CheckpointHook`` with crash-safe writes (same arguments).

    See the module docstring for what changes; everything else (intervals,
    ``save_last``, ``save_best`` / ``rule``, ``max_keep_ckpts``, resuming the
    kept-checkpoint and best-score records) is mmengine's.
    """

    def before_train(self, runner) -> None:
        super().before_train(runner)
        if self._local() and is_main_process():
            folders = {os.fspath(self.out_dir), os.fspath(runner.work_dir)}
            for folder in sorted(folders):
                removed = remove_stale_temporaries(folder)
                if removed:
                    runner.logger.info(f'Removed {len(removed)} unfinished checkpoint '
                                       f'file(s) of an interrupted run from {folder}')

    # ------------------------------------------------------------------ helpers
    def _local(self) -> bool:
        return _is_local(self.out_dir)

    def _save(self, runner, out_dir, filename, *args, **kwargs) -> Optional[str]:
        runner = getattr(runner, '_runner', runner)
        if args or not _is_local(out_dir):  # positional use / remote backend: mmengine's way
            return runner.save_checkpoint(out_dir, filename, *args, **kwargs)
        return save_checkpoint_atomically(runner, os.fspath(out_dir), filename, **kwargs)

    # ------------------------------------------------------------- overrides
    def _save_checkpoint_with_step(self, runner, step, meta):
        if not self._local():
            return super()._save_checkpoint_with_step(getattr(runner, '_runner', runner),
                                                      step, meta)
        runner = getattr(runner, '_runner', runner)
        outdated = None
        if self.max_keep_ckpts > 0 and not (self.keep_ckpt_ids
                                            and self.keep_ckpt_ids[-1] == step):
            if len(self.keep_ckpt_ids) == self.max_keep_ckpts:
                outdated = self.keep_ckpt_ids.popleft()
            self.keep_ckpt_ids.append(step)
            runner.message_hub.update_info('keep_ckpt_ids', list(self.keep_ckpt_ids))

        ckpt_filename = self.filename_tmpl.format(step)
        self.last_ckpt = self.file_backend.join_path(self.out_dir, ckpt_filename)
        runner.message_hub.update_info('last_ckpt', self.last_ckpt)
        self._save(runner, self.out_dir, ckpt_filename,
                   file_client_args=self.file_client_args,
                   save_optimizer=self.save_optimizer,
                   save_param_scheduler=self.save_param_scheduler,
                   meta=meta, by_epoch=self.by_epoch, backend_args=self.backend_args,
                   **self.args)
        if not is_main_process():
            return
        # only now that the checkpoint is complete: point at it, drop the outdated one
        atomic_write_text(osp.join(runner.work_dir, 'last_checkpoint'), self.last_ckpt)
        if outdated is not None and outdated != step:
            _remove_path(self.file_backend.join_path(self.out_dir,
                                                     self.filename_tmpl.format(outdated)))

    def _save_best_checkpoint(self, runner, metrics) -> None:
        if not self._local():
            return super()._save_best_checkpoint(runner, metrics)
        # mmengine removes the previous best first; here the removal waits
        # until the new best (and the checkpoint recording it) is complete
        backend = self.file_backend
        deferred = _DeferredRemoval(backend)
        self.file_backend = deferred
        try:
            super()._save_best_checkpoint(_AtomicSaveRunner(runner, self), metrics)
        finally:
            self.file_backend = backend
        keep = {getattr(self, 'best_ckpt_path', None),
                *(getattr(self, 'best_ckpt_path_dict', None) or {}).values()}
        for path in deferred.paths:
            if path not in keep and is_main_process():
                _remove_path(path)
