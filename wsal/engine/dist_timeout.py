"""The finite default timeout of wsal's distributed runs.

torch waits 30 minutes (10 for nccl in some versions) for a rank that
stopped answering; a frozen rank then holds every GPU of the job idle for
that long. wsal sets a shorter default, and lets it be changed:

1. ``env_cfg.dist_cfg.timeout`` in the config (seconds, as mmengine reads it),
   e.g. ``--cfg-options env_cfg.dist_cfg.timeout=1800``;
2. else the ``WSAL_DIST_TIMEOUT`` environment variable (seconds);
3. else :data:`DEFAULT_DIST_TIMEOUT_S` (10 minutes).

The timeout bounds every collective (gradient all-reduce, the gathering of
validation results, barriers): a collective that waits longer fails, the
rank exits with an error and ``torchrun`` ends the job. Validation and
checkpoint saving on rank 0 must fit in it.
"""
from __future__ import annotations

import os
from typing import Optional

__all__ = ['DEFAULT_DIST_TIMEOUT_S', 'DIST_TIMEOUT_ENV', 'dist_timeout_seconds']

#: Default timeout of collectives, in seconds (10 minutes).
DEFAULT_DIST_TIMEOUT_S = 600
#: Environment variable overriding the default (seconds).
DIST_TIMEOUT_ENV = 'WSAL_DIST_TIMEOUT'


def dist_timeout_seconds(configured: Optional[float] = None) -> float:
    """The timeout to use, in seconds.

    Args:
        configured: ``env_cfg.dist_cfg.timeout`` (None when unset).

    Raises:
        ValueError: a value that is not a positive number (naming where it came from).
    """
    if configured is not None:
        value, where = configured, 'env_cfg.dist_cfg.timeout'
    elif os.environ.get(DIST_TIMEOUT_ENV, '').strip():
        value, where = os.environ[DIST_TIMEOUT_ENV].strip(), DIST_TIMEOUT_ENV
    else:
        return float(DEFAULT_DIST_TIMEOUT_S)
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        seconds = float('nan')
    if not seconds > 0 or seconds == float('inf'):
        raise ValueError(f'{where} must be a positive number of seconds, got {value!r}')
    return seconds
