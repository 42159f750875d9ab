"""Fixed-length sampling collate and the class-pair sampler."""
import itertools

import pytest
import torch
from mmengine.registry import DATA_SAMPLERS

from wsal.datasets import (ClassPairSampler, WSALFeatureDataset, bin_indices, class_pairs,
                           crop_indices, wsal_sampled_collate)


def test_bin_indices_by_hand():
    # 10 snippets into 4 bins: edges 0, 2, 5, 7, 10
    assert bin_indices(10, 4, random=False).tolist() == [0, 2, 5, 7]
    # a shorter video repeats snippets: 3 into 5 bins, edges 0, 0, 1, 1, 2, 3
    assert bin_indices(3, 5, random=False).tolist() == [0, 0, 1, 1, 2]
    g = torch.Generator().manual_seed(0)
    for _ in range(20):
        idx = bin_indices(10, 4, random=True, generator=g).tolist()
        assert all(lo <= i < hi for i, lo, hi in zip(idx, [0, 2, 5, 7], [2, 5, 7, 10]))


def test_crop_indices():
    assert crop_indices(5, 8).tolist() == list(range(5))
    g = torch.Generator().manual_seed(0)
    starts = set()
    for _ in range(30):
        idx = crop_indices(10, 4, generator=g)
        assert idx.tolist() == list(range(int(idx[0]), int(idx[0]) + 4))
        starts.add(int(idx[0]))
    assert starts <= set(range(7)) and len(starts) > 1


def _item(vid, T, label):
    x = torch.arange(T, dtype=torch.float32)[:, None].expand(T, 2).clone()
    return {'inputs': {'rgb': x, 'flow': x + 100},
            'data_sample': {'video_id': vid, 'label': torch.tensor(label), 'num_segments': T}}


def test_sampled_collate_brings_videos_to_one_length():
    batch = [_item('a', 20, [1.0, 0.0]), _item('b', 3, [0.0, 1.0])]
    out = wsal_sampled_collate(batch, num_segments=5, mode='uniform')
    assert out['inputs']['rgb'].shape == (2, 5, 2) and out['inputs']['mask'].all()
    assert out['inputs']['rgb'][0, :, 0].tolist() == [0, 4, 8, 12, 16]
    assert out['inputs']['rgb'][1, :, 0].tolist() == [0, 0, 1, 1, 2]
    assert torch.equal(out['inputs']['flow'] - 100, out['inputs']['rgb'])  # same snippets
    assert [s['num_segments'] for s in out['data_samples']] == [5, 5]
    # crop keeps a short video whole and pads it
    out = wsal_sampled_collate(batch, num_segments=5, mode='crop')
    assert out['inputs']['mask'].sum(1).tolist() == [5, 3]
    assert batch[0]['data_sample']['num_segments'] == 20  # items are not modified
    with pytest.raises(ValueError, match="mode must be one of"):
        wsal_sampled_collate(batch, mode='stride')
    bad = _item('c', 4, [1.0, 0.0])
    bad['inputs']['flow'] = bad['inputs']['flow'][:3]
    with pytest.raises(ValueError, match="video 'c' has streams of different lengths"):
        wsal_sampled_collate([bad])


def test_class_pairs_share_a_class():
    import random
    labels = [(0,), (0, 1), (1,), (2,), ()]
    stream = class_pairs(labels, random.Random(0))
    pairs = [(next(stream), next(stream)) for _ in range(200)]
    for a, b in pairs:
        assert set(labels[a]) & set(labels[b])
    assert {a for pair in pairs for a in pair} == {0, 1, 2, 3}  # the unlabelled video never
    assert (3, 3) in pairs                                       # a lone class pairs with itself
    with pytest.raises(ValueError, match='no video'):
        next(class_pairs([(), ()], random.Random(0)))


def test_class_pair_sampler_on_a_dataset(tiny_root):
    ds = WSALFeatureDataset(data_root=str(tiny_root), ann_file='gt.json', subset='validation',
                            modalities=('rgb', 'flow'), stride=16)
    sampler = DATA_SAMPLERS.build(dict(type='wsal.ClassPairSampler', dataset=ds, seed=1))
    assert isinstance(sampler, ClassPairSampler)
    records = ds.records
    idx = list(itertools.islice(iter(sampler), 40))
    for a, b in zip(idx[::2], idx[1::2]):
        assert set(records[a].label_indices) & set(records[b].label_indices)
    assert list(itertools.islice(iter(ClassPairSampler(ds, seed=1)), 40)) == idx  # seeded
