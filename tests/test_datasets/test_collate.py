import pytest
import torch

from wsal.datasets import wsal_collate
from wsal.registry import FUNCTIONS


def _item(t, d=4, vid='v'):
    return {'inputs': {'rgb': torch.rand(t, d) + 1, 'flow': torch.rand(t, d + 1) + 1},
            'data_sample': {'video_id': vid}}


def test_pads_with_zeros_and_masks():
    items = [_item(3, vid='a'), _item(5, vid='b')]
    out = wsal_collate(items)
    assert out['inputs']['rgb'].shape == (2, 5, 4) and out['inputs']['flow'].shape == (2, 5, 5)
    assert out['inputs']['mask'].tolist() == [[True] * 3 + [False] * 2, [True] * 5]
    torch.testing.assert_close(out['inputs']['rgb'][0, :3], items[0]['inputs']['rgb'])
    assert (out['inputs']['rgb'][0, 3:] == 0).all() and (out['inputs']['flow'][0, 3:] == 0).all()
    assert [s['video_id'] for s in out['data_samples']] == ['a', 'b']


def test_single_video_batch_is_all_true():
    item = _item(6)
    out = wsal_collate([item])
    assert out['inputs']['rgb'].shape == (1, 6, 4) and out['inputs']['mask'].all()
    torch.testing.assert_close(out['inputs']['rgb'][0], item['inputs']['rgb'])


def test_registered_and_errors():
    assert FUNCTIONS.get('wsal_collate') is wsal_collate
    with pytest.raises(ValueError, match='empty batch'):
        wsal_collate([])
    bad = _item(3)
    bad['inputs']['flow'] = torch.rand(4, 5)
    with pytest.raises(ValueError, match="video 'v' has streams of different lengths"):
        wsal_collate([bad])
    other = _item(3, d=7)
    with pytest.raises(ValueError, match='different feature dims'):
        wsal_collate([_item(3), other])
