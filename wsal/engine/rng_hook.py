"""``RNGStateHook``: resumed training continues the random stream exactly."""
from __future__ import annotations

import random
from typing import Optional

import numpy as np
import torch
from mmengine.hooks import Hook

from wsal.registry import HOOKS

__all__ = ['RNGStateHook', 'get_rng_state', 'set_rng_state']


def get_rng_state() -> dict:
    """torch (CPU and CUDA), numpy and ``random`` generator states."""
    state = {'torch': torch.get_rng_state(), 'numpy': np.random.get_state(),
             'random': random.getstate()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state['cuda'] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    """Restore a :func:`get_rng_state` result.

    The state may come from a checkpoint loaded onto any device (a resume
    maps its tensors to the GPU it trains on): every part is brought back to
    the CPU form the generators take. CUDA states are restored for the
    devices present, at most as many as were saved.
    """
    torch.set_rng_state(_cpu_bytes(state['torch']))
    np_state = state['numpy']
    key = np_state[1]
    key = key.detach().cpu().numpy() if torch.is_tensor(key) else np.asarray(key)
    np.random.set_state((str(np_state[0]), key.astype(np.uint32),
                         *[int(x) if i < 2 else float(x) for i, x in enumerate(np_state[2:])]))
    rnd = state['random']
    random.setstate((int(rnd[0]), tuple(int(x) for x in rnd[1]), rnd[2]))
    if 'cuda' in state and torch.cuda.is_available():
        saved = list(state['cuda'])[:torch.cuda.device_count()]
        for index, cuda_state in enumerate(saved):
            torch.cuda.set_rng_state(_cpu_bytes(cuda_state), index)


def _cpu_bytes(value) -> torch.Tensor:
    """A generator state as the CPU ``uint8`` tensor ``set_rng_state`` takes."""
    if torch.is_tensor(value):
        return value.detach().to(device='cpu', dtype=torch.uint8)
    return torch.as_tensor(value, dtype=torch.uint8)


@HOOKS.register_module()
class RNGStateHook(Hook):
    """Save the global RNG states in checkpoints and restore them on resume.

    Without it a resumed run re-seeds and its dropout masks differ from the
    uninterrupted run's. Validation is made RNG-neutral (the state is put
    back after it), so the state saved after iteration ``k`` is exactly the
    one iteration ``k + 1`` starts from; it is restored just before the first
    iteration after resuming (after the dataloader has skipped ``k`` batches).
    """

    priority = 'VERY_LOW'

    def __init__(self) -> None:
        self._pending: Optional[dict] = None
        self._before_val: Optional[dict] = None

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:  # noqa: D102
        checkpoint['rng_state'] = _plain(get_rng_state())

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:  # noqa: D102
        self._pending = checkpoint.get('rng_state')

    def before_train_iter(self, runner, batch_idx: int, data_batch=None) -> None:  # noqa: D102
        if self._pending is not None:
            set_rng_state(self._pending)
            self._pending = None

    def before_val(self, runner) -> None:  # noqa: D102
        self._before_val = get_rng_state()

    def after_val(self, runner) -> None:  # noqa: D102
        if self._before_val is not None:
            set_rng_state(self._before_val)
            self._before_val = None


def _plain(state: dict) -> dict:
    """Only tensors, lists, ints, floats and str: loadable with ``weights_only``."""
    np_state = state['numpy']
    out = {'torch': state['torch'].clone(),
           'numpy': [str(np_state[0]), torch.from_numpy(np_state[1].astype(np.int64)),
                     *[int(x) if i < 2 else float(x) for i, x in enumerate(np_state[2:])]],
           'random': [int(state['random'][0]), list(state['random'][1]),
                      state['random'][2]]}
    if 'cuda' in state:
        out['cuda'] = [s.clone() for s in state['cuda']]
    return out
