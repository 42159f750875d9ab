"""torch CPU thread counts for post-processing, chosen by work size.

Post-processing runs many small tensor operations. torch's default
multi-threaded CPU kernels pay a synchronisation cost per operation that
dominates small ones, and on a busy machine (data loaders, training jobs,
shared servers) waiting for a descheduled thread makes them many times slower
than a single thread. :func:`op_threads` therefore runs small post-processing
work with one thread and leaves larger work to torch's own setting.

Override, strongest first:

* the ``num_threads`` argument (e.g. ``DetectionPipeline(num_threads=4)``);
* the environment variable ``WSAL_POSTPROCESS_THREADS``: a positive integer
  (that many threads), or ``torch`` (never change torch's setting);
* default ``auto``: one thread below :data:`SMALL_WORK` elements of work,
  torch's current setting at and above it.
"""
from __future__ import annotations

import contextlib
import os
from typing import Iterator, Optional

import torch

__all__ = ['ENV', 'SMALL_WORK', 'resolve_threads', 'op_threads']

#: Environment variable overriding the automatic choice.
ENV = 'WSAL_POSTPROCESS_THREADS'
#: Work (elements) below which one thread is used.
SMALL_WORK = 1 << 24


def resolve_threads(work: int, *, num_threads: Optional[int] = None) -> Optional[int]:
    """Threads to use for ``work`` elements, or None to leave torch's setting.

    Raises:
        ValueError: ``num_threads`` or ``WSAL_POSTPROCESS_THREADS`` is not a
            positive integer (or ``auto`` / ``torch`` for the variable).
    """
    if num_threads is not None:
        if isinstance(num_threads, bool) or not isinstance(num_threads, int) or num_threads < 1:
            raise ValueError(f'num_threads must be a positive integer, got {num_threads!r}')
        return num_threads
    value = os.environ.get(ENV, 'auto').strip().lower() or 'auto'
    if value == 'torch':
        return None
    if value != 'auto':
        if not value.isdigit() or int(value) < 1:
            raise ValueError(f"{ENV} must be 'auto', 'torch' or a positive integer, got {value!r}")
        return int(value)
    return 1 if work < SMALL_WORK else None


@contextlib.contextmanager
def op_threads(work: int, *, device=None, num_threads: Optional[int] = None) -> Iterator[None]:
    """Run the block with the thread count :func:`resolve_threads` picks (CPU only).

    Args:
        work: Size of the work in tensor elements (e.g. ``B * T * C``).
        device: The tensors' device; nothing changes off the CPU.
        num_threads: Explicit thread count (overrides the variable).
    """
    want = resolve_threads(work, num_threads=num_threads)
    if want is None or (device is not None and torch.device(device).type != 'cpu'):
        yield
        return
    before = torch.get_num_threads()
    if want == before:
        yield
        return
    torch.set_num_threads(want)
    try:
        yield
    finally:
        torch.set_num_threads(before)
