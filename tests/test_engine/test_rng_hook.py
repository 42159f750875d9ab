"""``set_rng_state`` restores what ``get_rng_state`` saved, from any device."""
import io
import random

import numpy as np
import pytest
import torch

from wsal.engine.rng_hook import _plain, get_rng_state, set_rng_state


def _draws():
    out = [torch.rand(3).tolist(), np.random.rand(3).tolist(), random.random()]
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        out.append(torch.rand(3, device='cuda').tolist())
    return out


def _through_checkpoint(state, map_location):
    buffer = io.BytesIO()
    torch.save(state, buffer)
    buffer.seek(0)
    return torch.load(buffer, map_location=map_location, weights_only=True)


@pytest.mark.parametrize('device', ['cpu'] + (['cuda'] if torch.cuda.is_available() else []))
def test_state_saved_in_a_checkpoint_restores_the_same_draws(device):
    if device == 'cuda':
        torch.rand(1, device='cuda')  # CUDA initialised: its generator is saved too
    torch.manual_seed(3)
    np.random.seed(3)
    random.seed(3)
    saved = _through_checkpoint(_plain(get_rng_state()), device)
    if device == 'cuda':  # a resume maps the checkpoint's tensors to the training device
        assert saved['torch'].device.type == 'cuda' and saved['cuda'][0].device.type == 'cuda'
    expected = _draws()
    _draws()
    set_rng_state(saved)
    assert _draws() == expected


def test_state_of_plain_lists_restores():
    state = get_rng_state()
    plain = _plain(state)
    plain['torch'] = plain['torch'].tolist()
    plain['numpy'][1] = plain['numpy'][1].tolist()
    expected = _draws()
    set_rng_state(plain)
    assert _draws() == expected
