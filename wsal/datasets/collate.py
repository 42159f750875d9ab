"""``wsal_collate``: batch dataset items with zero padding and a mask."""
from __future__ import annotations

from typing import Dict, List, Sequence

import torch

from mmengine.registry import FUNCTIONS as MMENGINE_FUNCTIONS

from wsal.registry import FUNCTIONS

__all__ = ['wsal_collate']


@FUNCTIONS.register_module(name='wsal_collate')
def wsal_collate(batch: Sequence[dict], *, pad_value: float = 0.0) -> dict:
    """Stack dataset items into a padded batch.

    Args:
        batch: Items ``{'inputs': {modality: [T_i, D]}, 'data_sample': dict}``.
        pad_value: Value written into padded positions of the features.

    Returns:
        ``{'inputs': {modality: FloatTensor[B, T, D], 'mask': BoolTensor[B, T]},
        'data_samples': [dict, ...]}`` with ``T = max T_i`` and ``mask`` False
        on padding (all True for one video per batch).

    Raises:
        ValueError: empty batch, items with different modalities, different
            feature dims, or streams of one item with different lengths.
    """
    if len(batch) == 0:
        raise ValueError('wsal_collate got an empty batch')
    names = list(batch[0]['inputs'])
    lengths: List[int] = []
    for i, item in enumerate(batch):
        inp = item['inputs']
        if list(inp) != names:
            raise ValueError(f'wsal_collate: item {i} has modalities {list(inp)}, item 0 has {names}')
        ts = {m: int(inp[m].shape[0]) for m in names}
        if len(set(ts.values())) != 1:
            vid = item.get('data_sample', {}).get('video_id', i)
            raise ValueError(f"wsal_collate: video '{vid}' has streams of different lengths {ts}")
        lengths.append(next(iter(ts.values())))
    t_max = max(lengths)
    out: Dict[str, torch.Tensor] = {}
    for m in names:
        first = batch[0]['inputs'][m]
        dims = {tuple(item['inputs'][m].shape[1:]) for item in batch}
        if len(dims) != 1:
            raise ValueError(f'wsal_collate: modality {m} has different feature dims in one batch: '
                             f'{sorted(dims)}')
        if len(batch) == 1:
            out[m] = first.unsqueeze(0)
            continue
        x = first.new_full((len(batch), t_max, *first.shape[1:]), pad_value)
        for b, item in enumerate(batch):
            x[b, :lengths[b]] = item['inputs'][m]
        out[m] = x
    lens = torch.tensor(lengths)
    out['mask'] = torch.arange(t_max)[None, :] < lens[:, None]
    return {'inputs': out, 'data_samples': [item['data_sample'] for item in batch]}


# mmengine's Runner resolves ``collate_fn=dict(type=...)`` with a plain
# ``FUNCTIONS.get`` on mmengine's root registry, which ignores the default
# scope; registering the (wsal-prefixed) name there too lets configs write
# ``collate_fn=dict(type='wsal_collate')`` as well as ``'wsal.wsal_collate'``.
if MMENGINE_FUNCTIONS.get('wsal_collate') is None:
    MMENGINE_FUNCTIONS.register_module(name='wsal_collate', module=wsal_collate)
