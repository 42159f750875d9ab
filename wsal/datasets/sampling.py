"""Fixed-length snippet sampling for batched training (W-TALC, BaS-Net, UM, CoLA).

These methods train on batches of videos brought to one length ``N``
(THUMOS14: 750 snippets) before padding:

* ``'crop'`` (W-TALC): a video longer than ``N`` gives a random window of
  ``N`` consecutive snippets; a shorter one is kept whole (and padded).
* ``'random'`` (BaS-Net, UM, CoLA in training): the video is cut into ``N``
  equal bins and one random snippet is drawn from each bin; a shorter video
  repeats snippets, so every video has exactly ``N``.
* ``'uniform'``: the first snippet of each bin (deterministic).

``wsal_sampled_collate`` (``FUNCTIONS``) samples every item, then pads and
masks like ``wsal_collate``.
"""
from __future__ import annotations

from typing import Callable, Dict, Optional, Sequence

import torch

from mmengine.registry import FUNCTIONS as MMENGINE_FUNCTIONS

from wsal.registry import FUNCTIONS
from wsal.utils.ranges import check_choice

from .collate import wsal_collate

__all__ = ['crop_indices', 'bin_indices', 'sample_indices', 'wsal_sampled_collate']


def crop_indices(length: int, num_segments: int, *,
                 generator: Optional[torch.Generator] = None) -> torch.Tensor:
    """A random window of ``num_segments`` consecutive indices, or all of a shorter video."""
    if length <= num_segments:
        return torch.arange(length)
    start = int(torch.randint(0, length - num_segments + 1, (1,), generator=generator))
    return torch.arange(start, start + num_segments)


def bin_indices(length: int, num_segments: int, *, random: bool,
                generator: Optional[torch.Generator] = None) -> torch.Tensor:
    """One index per each of ``num_segments`` equal bins of ``[0, length)``.

    Bin ``i`` covers ``[floor(i L / N), max(floor(i L / N) + 1, floor((i + 1) L / N)))``;
    ``random`` draws uniformly inside it, otherwise its first index is taken.
    Shorter videos (``L < N``) repeat indices.
    """
    i = torch.arange(num_segments + 1, dtype=torch.int64)
    edges = (i * length) // num_segments
    lo = edges[:-1]
    hi = torch.maximum(edges[1:], lo + 1)
    if not random:
        return lo
    u = torch.rand(num_segments, generator=generator, dtype=torch.float64)
    return (lo + (u * (hi - lo).double()).long()).clamp(max=length - 1)


_MODES: Dict[str, Callable] = {
    'crop': lambda n, N, g: crop_indices(n, N, generator=g),
    'random': lambda n, N, g: bin_indices(n, N, random=True, generator=g),
    'uniform': lambda n, N, g: bin_indices(n, N, random=False, generator=g),
}


def sample_indices(length: int, num_segments: int, mode: str, *,
                   generator: Optional[torch.Generator] = None) -> torch.Tensor:
    """Snippet indices of one video under ``mode`` (``'crop'``, ``'random'``, ``'uniform'``)."""
    check_choice(mode, owner='sample_indices', key='mode', choices=sorted(_MODES))
    if length <= 0:
        raise ValueError(f'cannot sample from a video with {length} segments')
    return _MODES[mode](int(length), int(num_segments), generator)


@FUNCTIONS.register_module(name='wsal_sampled_collate')
def wsal_sampled_collate(batch: Sequence[dict], *, num_segments: int = 750,
                         mode: str = 'random', pad_value: float = 0.0) -> dict:
    """Bring every video of the batch to ``num_segments`` snippets, then pad and mask.

    Args:
        batch: Dataset items ``{'inputs': {modality: [T_i, D]}, 'data_sample': dict}``.
        num_segments: ``N`` (THUMOS14 in W-TALC, BaS-Net, UM, CoLA: 750).
        mode: ``'crop'``, ``'random'`` or ``'uniform'`` (module docstring).
        pad_value: Padding value (only ``'crop'`` leaves shorter videos).

    Returns:
        As :func:`~wsal.datasets.collate.wsal_collate`; each data sample's
        ``num_segments`` is the sampled length and ``sampled_indices`` holds
        the original snippet indices.
    """
    if int(num_segments) <= 0:
        raise ValueError(f'wsal_sampled_collate: num_segments must be positive, '
                         f'got {num_segments}')
    check_choice(mode, owner='wsal_sampled_collate', key='mode', choices=sorted(_MODES))
    items = []
    for i, item in enumerate(batch):
        inputs = item['inputs']
        sample = dict(item.get('data_sample', {}))
        lengths = {m: int(x.shape[0]) for m, x in inputs.items()}
        if len(set(lengths.values())) != 1:
            vid = sample.get('video_id', i)
            raise ValueError(f"wsal_sampled_collate: video '{vid}' has streams of different "
                             f'lengths {lengths}')
        length = next(iter(lengths.values()))
        if length == 0:
            raise ValueError(f"wsal_sampled_collate: video '{sample.get('video_id', i)}' has "
                             'no segment')
        idx = sample_indices(length, num_segments, mode)
        sample.update(num_segments=int(idx.numel()), sampled_indices=idx)
        items.append({'inputs': {m: x[idx] for m, x in inputs.items()}, 'data_sample': sample})
    return wsal_collate(items, pad_value=pad_value)


# see wsal.datasets.collate: mmengine resolves collate functions on its root registry
if MMENGINE_FUNCTIONS.get('wsal_sampled_collate') is None:
    MMENGINE_FUNCTIONS.register_module(name='wsal_sampled_collate', module=wsal_sampled_collate)
