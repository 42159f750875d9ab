"""Learning-rate schedules that span the whole run, whatever its length.

A config cannot know the run length it will be trained for: ``wsal ablate
--iters N`` and ``--cfg-options train_cfg.max_iters=N`` change it after the
config was written. A scheduler that should end with the run names the
length symbolically::

    param_scheduler = [dict(type='CosineAnnealingLR', by_epoch=False, begin=0,
                            end='max_iters', eta_min=0.0)]

and :func:`resolve_run_length` (called by :func:`wsal.apis.prepare_config`
after every override) replaces ``'max_iters'`` in ``begin``, ``end`` and
``T_max`` by ``train_cfg.max_iters``. mmengine computes ``T_max`` from
``end - begin`` when it is left out.
"""
from __future__ import annotations

from typing import Any, List

__all__ = ['RUN_LENGTH', 'resolve_run_length', 'describe_schedule']

#: The symbolic run length a scheduler's ``begin``, ``end`` or ``T_max`` may name.
RUN_LENGTH = 'max_iters'
_KEYS = ('begin', 'end', 'T_max')


def _schedulers(cfg) -> List[Any]:
    entries = cfg.get('param_scheduler')
    if entries is None:
        return []
    if isinstance(entries, (list, tuple)):
        return list(entries)
    return [entries]


def resolve_run_length(cfg) -> None:
    """Replace ``'max_iters'`` in the schedulers by ``train_cfg.max_iters`` (in place).

    Args:
        cfg: An mmengine ``Config`` (or dict) with ``param_scheduler`` (a
            dict or a list of dicts) and ``train_cfg``.

    Raises:
        ValueError: a scheduler names the run length but counts epochs
            (``by_epoch`` true, mmengine's default), or ``train_cfg`` has no
            ``max_iters``; another string stands in one of those keys. The
            message names the entry and key.
    """
    for i, sched in enumerate(_schedulers(cfg)):
        if not hasattr(sched, 'get'):
            continue
        for key in _KEYS:
            value = sched.get(key)
            if not isinstance(value, str):
                continue
            where = f'param_scheduler[{i}].{key}'
            if value != RUN_LENGTH:
                raise ValueError(f"{where} = {value!r}: a number or {RUN_LENGTH!r} (the "
                                 'run length, train_cfg.max_iters)')
            if sched.get('by_epoch', True):
                raise ValueError(f"{where} = {RUN_LENGTH!r} counts iterations; set "
                                 f'param_scheduler[{i}].by_epoch=False')
            max_iters = (cfg.get('train_cfg') or {}).get('max_iters')
            if max_iters is None:
                raise ValueError(f"{where} = {RUN_LENGTH!r} but train_cfg has no max_iters "
                                 '(an iteration-based training loop is needed)')
            sched[key] = int(max_iters)


def describe_schedule(param_scheduler: Any, *, max_iters: Any = None) -> str:
    """A few words on a learning-rate schedule, for tables: ``'constant'``,
    ``'cosine to 0 over the run'``, or the schedulers' types in order.

    Args:
        param_scheduler: A config's ``param_scheduler`` (None, a dict or a list).
        max_iters: The run length; an entry that ends there (or names
            ``'max_iters'``) and starts at 0 spans the run.
    """
    entries = [] if param_scheduler is None else (
        list(param_scheduler) if isinstance(param_scheduler, (list, tuple)) else [param_scheduler])
    if not entries:
        return 'constant'
    if len(entries) == 1 and entries[0].get('type') == 'CosineAnnealingLR':
        e = entries[0]
        spans = e.get('begin', 0) == 0 and e.get('end') in (RUN_LENGTH, max_iters) \
            and e.get('end') is not None and e.get('T_max') in (None, e.get('end'))
        if spans:
            return f"cosine to {float(e.get('eta_min') or 0.0):g} over the run"
    return ' then '.join(str(e.get('type')) for e in entries)
