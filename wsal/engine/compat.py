"""The one place for mmengine 0.10.7 × torch 2.13 quirks.

Two things do not work out of the box with this pair of versions:

1. **Resume.** Since torch 2.6 ``torch.load`` defaults to ``weights_only=True``.
   mmengine's checkpoints hold its message hub: ``HistoryBuffer`` objects
   (whose pickled state includes *bound statistics methods*, pickled as
   ``getattr(HistoryBuffer, 'mean')``) and numpy arrays / scalars. The safe
   unpickler rejects all of them. Instead of turning ``weights_only`` off, we
   allow exactly those globals (:data:`CHECKPOINT_SAFE_GLOBALS`, found by
   saving a real wsal checkpoint and listing its globals with
   ``torch.serialization.get_unsafe_globals_in_checkpoint``) and map the
   pickled ``builtins.getattr`` onto :func:`_history_buffer_getattr`, which only
   resolves ``HistoryBuffer``'s registered statistics methods and refuses
   everything else. The allowance is active only inside
   :func:`safe_checkpoint_loading`; the CLI and the API wrap training, testing
   and checkpoint loading in it.

2. **collate_fn lookup.** ``Runner.build_dataloader`` resolves
   ``collate_fn=dict(type='wsal_collate')`` with ``FUNCTIONS.get`` on
   mmengine's *root* registry, which ignores ``default_scope`` and never
   searches the ``wsal`` child: the lookup returns None and fails with
   "the first argument must be callable". :func:`scope_collate_fns` rewrites
   such names to ``'wsal.wsal_collate'`` (a scoped key the root resolves).

3. **Distributed training on CPU** (``torchrun --nproc_per_node=2 -m wsal train``).
   mmengine's ``init_dist('pytorch')`` calls ``torch.cuda.set_device`` first,
   which raises ``AttributeError`` on a CPU build of torch, and the Runner
   wraps the model in ``MMDistributedDataParallel(device_ids=[LOCAL_RANK])``,
   which DDP rejects for a CPU module. :func:`prepare_distributed` initialises
   the process group itself (gloo) so the Runner skips ``init_dist``, and
   sets ``model_wrapper_cfg`` with ``device_ids=None``.
"""
from __future__ import annotations

import atexit
import contextlib
import datetime
import os
import pickle
from typing import Any, Iterator, List

import numpy as np
import torch
import torch.distributed as torch_dist
from mmengine.logging.history_buffer import HistoryBuffer

from wsal.engine.dist_timeout import dist_timeout_seconds

__all__ = ['CHECKPOINT_SAFE_GLOBALS', 'safe_checkpoint_loading', 'load_checkpoint_file',
           'prepare_distributed', 'end_distributed', 'distributed_launcher',
           'scope_collate_fns']

_LOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader')


_BUILTIN_STATISTICS = frozenset({'min', 'max', 'mean', 'current'})


def _history_buffer_getattr(obj: Any, name: str) -> Any:
    """Restricted stand-in for ``builtins.getattr`` during checkpoint loading.

    mmengine pickles ``HistoryBuffer._statistics_methods`` (a dict of functions)
    as ``getattr(HistoryBuffer, '<name>')``. Only that lookup is allowed.
    """
    allowed = _BUILTIN_STATISTICS | set(HistoryBuffer._statistics_methods)
    if (isinstance(obj, type) and issubclass(obj, HistoryBuffer)
            and name in allowed and not name.startswith('_')):
        return getattr(obj, name)
    raise pickle.UnpicklingError(
        f'checkpoint asks for getattr({getattr(obj, "__name__", type(obj).__name__)}, '
        f'{name!r}); wsal only allows HistoryBuffer statistics methods')


def _numpy_globals() -> List[Any]:
    multiarray = getattr(np, '_core', None)
    multiarray = getattr(multiarray, 'multiarray', None) or np.core.multiarray
    out: List[Any] = [np.ndarray, np.dtype, multiarray._reconstruct, multiarray.scalar]
    # numpy >= 1.25 also names the per-dtype classes (numpy.dtypes.Float64DType, ...)
    dtypes = getattr(np, 'dtypes', None)
    if dtypes is not None:
        out += [getattr(dtypes, n) for n in dir(dtypes)
                if n.endswith('DType') and isinstance(getattr(dtypes, n), type)]
    return out


#: Globals a wsal / mmengine checkpoint may reference, beyond torch's defaults.
CHECKPOINT_SAFE_GLOBALS: List[Any] = [
    HistoryBuffer,
    (_history_buffer_getattr, 'builtins.getattr'),
    (_history_buffer_getattr, '__builtin__.getattr'),
    *_numpy_globals(),
]


@contextlib.contextmanager
def safe_checkpoint_loading() -> Iterator[None]:
    """Let ``torch.load(weights_only=True)`` read mmengine checkpoints.

    Inside this context, mmengine's ``load_checkpoint`` / ``Runner.resume``
    work on torch ≥ 2.6 without ``weights_only=False``: only the globals in
    :data:`CHECKPOINT_SAFE_GLOBALS` are added to the allow-list.

    Example:
        >>> with safe_checkpoint_loading():
        ...     runner.train()          # resume=True works
    """
    with torch.serialization.safe_globals(CHECKPOINT_SAFE_GLOBALS):
        yield


def load_checkpoint_file(path: str, map_location: Any = 'cpu') -> dict:
    """``torch.load`` a wsal/mmengine checkpoint safely (``weights_only=True``).

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ValueError: the file is not a loadable checkpoint (message names it).
    """
    if not os.path.isfile(path):
        raise FileNotFoundError(f'checkpoint not found: {path}')
    with safe_checkpoint_loading():
        try:
            ckpt = torch.load(path, map_location=map_location, weights_only=True)
        except (pickle.UnpicklingError, RuntimeError, EOFError) as exc:
            raise ValueError(f'cannot read checkpoint {path}: {_short_reason(exc)}') from exc
    if not isinstance(ckpt, dict):
        raise ValueError(f'checkpoint {path} holds a {type(ckpt).__name__}, not a dict')
    return ckpt


def _short_reason(exc: BaseException) -> str:
    """The informative line of a (long, multi-paragraph) torch.load error."""
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    for i, ln in enumerate(lines):
        if 'WeightsUnpickler error:' in ln:
            rest = ln.split('WeightsUnpickler error:', 1)[1].strip()
            return rest or (lines[i + 1] if i + 1 < len(lines) else ln)
    return lines[0] if lines else type(exc).__name__


# --------------------------------------------------------------------------
# distributed on CPU
# --------------------------------------------------------------------------
def distributed_launcher() -> str:
    """``'pytorch'`` when started by torchrun (``WORLD_SIZE`` set), else ``'none'``."""
    return 'pytorch' if int(os.environ.get('WORLD_SIZE', '1')) > 1 else 'none'


def prepare_distributed(cfg, launcher: str) -> None:
    """Make a config and the process ready for the Runner's ``launcher``.

    On a machine without CUDA (or when ``env_cfg.dist_cfg.backend`` is
    ``'gloo'``), this initialises the default process group with gloo (the
    Runner then skips mmengine's ``init_dist``, whose ``torch.cuda.set_device``
    fails on CPU) and makes DDP wrap the CPU module with ``device_ids=None``.
    With CUDA and nccl it leaves everything to mmengine.

    Args:
        cfg: The mmengine ``Config`` (edited in place: ``launcher``,
            ``env_cfg.dist_cfg.backend`` and ``model_wrapper_cfg``).
        launcher: ``'none'`` or ``'pytorch'`` (torchrun).
    """
    cfg.launcher = launcher
    if launcher == 'none':
        return
    if launcher != 'pytorch':
        raise ValueError(f"wsal supports launcher 'none' or 'pytorch' (torchrun), got {launcher!r}")
    _own_process_group()
    env_cfg = cfg.setdefault('env_cfg', {})
    dist_cfg = env_cfg.setdefault('dist_cfg', {})
    # a finite timeout, so that a frozen rank ends the job (wsal.engine.dist_timeout)
    dist_cfg['timeout'] = dist_timeout_seconds(dist_cfg.get('timeout'))
    use_cuda = torch.cuda.is_available()
    if not use_cuda:
        dist_cfg['backend'] = 'gloo'
    if dist_cfg.get('backend', 'nccl') != 'gloo':
        return  # GPU + nccl: mmengine's own path works
    if not torch_dist.is_initialized():
        kwargs = {k: v for k, v in dist_cfg.items() if k != 'backend'}
        if kwargs.get('timeout') is not None:
            kwargs['timeout'] = datetime.timedelta(seconds=kwargs['timeout'])
        if use_cuda:
            torch.cuda.set_device(int(os.environ.get('LOCAL_RANK', 0)))
        torch_dist.init_process_group(backend='gloo', **kwargs)
    if not use_cuda:
        wrapper = cfg.get('model_wrapper_cfg') or dict(
            type='MMDistributedDataParallel', broadcast_buffers=False,
            find_unused_parameters=cfg.get('find_unused_parameters', False))
        wrapper['device_ids'] = None  # DDP rejects device ids for a CPU module
        cfg.model_wrapper_cfg = wrapper


_ENDS_PROCESS_GROUP = False


def _own_process_group() -> None:
    """Make this process end the default process group before it exits.

    A process that exits with a gloo group still alive can abort in the
    interpreter's finalisation (SIGABRT, "terminate called without an active
    exception"): gloo's worker threads are destroyed while still joinable.
    torchrun then reports the whole job as failed although training
    finished. :func:`end_distributed` is registered to run at interpreter
    exit, before that finalisation (``wsal train``/``wsal test`` and API
    users alike go through :func:`prepare_distributed`).
    """
    global _ENDS_PROCESS_GROUP
    if not _ENDS_PROCESS_GROUP:
        _ENDS_PROCESS_GROUP = True
        atexit.register(end_distributed)


def end_distributed(*, barrier: bool = False) -> bool:
    """Destroy the default process group of a distributed wsal run.

    Acts only in a process whose config went through
    :func:`prepare_distributed` with the ``'pytorch'`` launcher (a group
    the host set up for its own use is left alone), and only once the
    group exists. Safe to call more than once.

    Args:
        barrier: Wait for every rank first. For a run that finished on every
            rank (``wsal train`` and ``wsal test`` do this on success): a rank
            that destroyed its group and exited early closes connections the
            others' gloo threads still hold, and one of them can abort
            (SIGABRT) after the work is done. The call registered for
            interpreter exit does not wait: after an error a rank that failed
            must not hold the others for the collective timeout.

    Returns:
        True when a process group was destroyed.
    """
    if not (_ENDS_PROCESS_GROUP and torch_dist.is_available() and torch_dist.is_initialized()):
        return False
    if barrier:
        torch_dist.barrier()
    torch_dist.destroy_process_group()
    return True


# --------------------------------------------------------------------------
# collate_fn scope
# --------------------------------------------------------------------------
def scope_collate_fns(cfg) -> None:
    """Prefix unscoped wsal collate function names with ``'wsal.'`` (in place).

    Names registered in wsal's ``FUNCTIONS`` (its own and plugins') get the
    prefix; mmengine's (``pseudo_collate``, ``default_collate``) and already
    scoped names are left alone. (``wsal_collate`` is also registered in
    mmengine's root ``FUNCTIONS`` so that a host building the Runner itself
    finds it; see :mod:`wsal.datasets.collate`.)
    """
    from wsal.registry import FUNCTIONS
    FUNCTIONS.import_from_location()
    for key in _LOADERS:
        loader = cfg.get(key)
        if not isinstance(loader, dict) or not isinstance(loader.get('collate_fn'), dict):
            continue
        name = loader['collate_fn'].get('type')
        if not isinstance(name, str) or '.' in name:
            continue
        # wsal's own (and plugins') collate functions; mmengine's stay unscoped
        if FUNCTIONS.get(name) is not None and name in FUNCTIONS.module_dict:
            loader['collate_fn']['type'] = f'{FUNCTIONS.scope}.{name}'
