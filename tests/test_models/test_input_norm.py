"""FeatureStandardizer, FeatureMoments and the localizers' ``input_norm``."""
import numpy as np
import pytest
import torch

from wsal.models.input_norm import FeatureMoments, FeatureStandardizer
from wsal.models.localizers import HeadLocalizer, WeaklySupervisedLocalizer
from wsal.registry import MODELS


class _Frames:
    """A minimal dataset: items with ``inputs`` ``{stream: [T, D]}`` (no get_features)."""

    def __init__(self, videos):
        self.videos = videos

    def __len__(self):
        return len(self.videos)

    def __getitem__(self, i):
        return {'inputs': dict(self.videos[i], mask=torch.ones(5, dtype=torch.bool))}


def _videos(seed=0, dims=(6, 4), lengths=(7, 3, 11)):
    g = torch.Generator().manual_seed(seed)
    scale = torch.tensor([0.1, 1.0, 10.0, 3.0, 0.5, 2.0])
    return [{'rgb': torch.randn(t, dims[0], generator=g) * scale[:dims[0]] + 5.0,
             'flow': torch.randn(t, dims[1], generator=g) * 4.0 - 1.0} for t in lengths]


def test_moments_merge_batches_exactly():
    rng = np.random.default_rng(0)
    parts = [rng.normal(3.0, 2.0, size=(n, 5)) * rng.uniform(0.1, 10, 5) for n in (1, 40, 7, 0)]
    m = FeatureMoments(5)
    for p in parts:
        m.update(p)
    allx = np.concatenate(parts)
    mean, std = m.result()
    assert m.count == len(allx)
    np.testing.assert_allclose(mean, allx.mean(0), rtol=1e-12)
    np.testing.assert_allclose(std, allx.std(0), rtol=1e-10)
    with pytest.raises(ValueError, match=r'\[T, 5\]'):
        m.update(np.zeros((3, 4)))
    with pytest.raises(ValueError, match='no frames'):
        FeatureMoments(2).result()


def test_standardizer_refuses_to_run_unfitted_and_standardizes_after_fit():
    norm = MODELS.build(dict(type='FeatureStandardizer', in_channels=3))
    x = torch.tensor([[[1.0, 2.0, 3.0]]])
    with pytest.raises(RuntimeError, match='never fitted.*InputStatisticsHook'):
        norm(x)
    frames = [torch.tensor([[0.0, 2.0, 1.0], [2.0, 2.0, 5.0]]), torch.tensor([[1.0, 2.0, 9.0]])]
    norm.fit(frames)
    assert norm.is_fitted and int(norm.num_frames) == 3
    allx = torch.cat(frames)
    out = norm(allx)
    torch.testing.assert_close(out.mean(0), torch.zeros(3), atol=1e-6, rtol=0)
    torch.testing.assert_close(out[:, [0, 2]].std(0, unbiased=False), torch.ones(2))
    assert torch.isfinite(out).all() and (out[:, 1] == 0).all()      # a constant dimension
    with pytest.raises(ValueError, match=r'std must have shape \(3,\)'):
        norm.set_statistics(mean=np.zeros(3), std=np.ones(2), num_frames=1)
    with pytest.raises(ValueError, match='non-finite'):
        norm.set_statistics(mean=np.array([0.0, np.nan, 0.0]), std=np.ones(3), num_frames=1)
    with pytest.raises(ValueError, match='negative'):
        norm.set_statistics(mean=np.zeros(3), std=-np.ones(3), num_frames=1)
    with pytest.raises(ValueError, match='in_channels'):
        FeatureStandardizer(in_channels=0)


def test_standardizer_without_centring_only_equalizes_the_scales():
    frames = [torch.tensor([[1.0, 10.0], [3.0, 30.0], [5.0, 20.0]])]
    scaled = FeatureStandardizer(in_channels=2, center=False)
    scaled.fit(frames)
    full = FeatureStandardizer(in_channels=2)
    full.fit(frames)
    x = frames[0]
    out = scaled(x)
    torch.testing.assert_close(out.std(0, unbiased=False), torch.ones(2))
    torch.testing.assert_close(out, x / scaled.std)           # the mean stays in
    torch.testing.assert_close(out - out.mean(0), full(x))
    assert 'center=False' in repr(scaled)


@pytest.mark.parametrize('fusion', ['late', 'early'])
def test_localizer_standardizes_each_input_stream_before_its_parts(fusion):
    videos = _videos()
    kw = dict(num_classes=3, streams=dict(rgb=6, flow=4), fusion=fusion)
    torch.manual_seed(0)
    plain = WeaklySupervisedLocalizer(**kw)
    normed = WeaklySupervisedLocalizer(**kw, input_norm=dict(type='FeatureStandardizer'))
    assert normed.needs_input_statistics
    with pytest.raises(RuntimeError, match='never fitted'):
        normed.extract({k: v[None] for k, v in videos[0].items()})
    counts = normed.fit_input_norm(_Frames(videos))
    assert counts == {'rgb': 21, 'flow': 21} and not normed.needs_input_statistics
    missing, unexpected = normed.load_state_dict(plain.state_dict(), strict=False)
    assert not unexpected and all(k.startswith('input_norm.') for k in missing)
    stats = {}
    for s in ('rgb', 'flow'):
        allx = torch.cat([v[s] for v in videos]).double()
        stats[s] = (allx.mean(0).float(), allx.std(0, unbiased=False).float() + 1e-6)
    x = {k: v[None] for k, v in videos[1].items()}
    by_hand = {s: (x[s] - stats[s][0]) / stats[s][1] for s in x}
    plain.eval()
    normed.eval()
    a, b = normed.extract(x), plain.extract(by_hand)
    torch.testing.assert_close(a['attention'], b['attention'])
    torch.testing.assert_close(a['video_scores'], b['video_scores'])

    # the statistics travel with the state dict
    again = WeaklySupervisedLocalizer(**kw, input_norm=dict(type='FeatureStandardizer')).eval()
    again.load_state_dict(normed.state_dict())
    assert not again.needs_input_statistics
    torch.testing.assert_close(again.extract(x)['attention'], a['attention'])


def test_input_norm_specs_and_errors():
    kw = dict(num_classes=2, streams=dict(rgb=4, flow=3))
    model = WeaklySupervisedLocalizer(**kw, input_norm=dict(
        rgb=dict(type='FeatureStandardizer'), flow=FeatureStandardizer(in_channels=3)))
    assert set(model.input_norm) == {'rgb', 'flow'}
    with pytest.raises(ValueError, match="keys \\['rgb'\\], expected exactly the input streams"):
        WeaklySupervisedLocalizer(**kw, input_norm=dict(rgb=dict(type='FeatureStandardizer')))
    with pytest.raises(ValueError, match="'flow' has in_channels=4 but the stream has 3"):
        WeaklySupervisedLocalizer(**kw, input_norm=dict(
            rgb=dict(type='FeatureStandardizer'), flow=FeatureStandardizer(in_channels=4)))
    with pytest.raises(TypeError, match='input_norm must be a config dict'):
        WeaklySupervisedLocalizer(**kw, input_norm='standardize')
    assert WeaklySupervisedLocalizer(**kw).fit_input_norm(_Frames([])) == {}
    empty = WeaklySupervisedLocalizer(**kw, input_norm=dict(type='FeatureStandardizer'))
    with pytest.raises(ValueError, match="no training frames to fit input_norm\\['rgb'\\]"):
        empty.fit_input_norm(_Frames([]))
    one_stream = [{'rgb': torch.randn(3, 4), 'flow': torch.randn(3, 3)}, {'rgb': torch.randn(2, 4)}]
    with pytest.raises(ValueError, match="training video #1 has no stream 'flow'"):
        empty.fit_input_norm(_Frames(one_stream))
    named = _Frames(one_stream)
    named.video_ids = ['v_a', 'v_b']
    with pytest.raises(ValueError, match="training video 'v_b' has no stream 'flow'"):
        empty.fit_input_norm(named)
    head = HeadLocalizer(num_classes=2, streams=dict(rgb=4, flow=3),
                         head=dict(type='WTALCHead'), losses=dict(mil=dict(type='MILCrossEntropyLoss')),
                         input_norm=dict(type='FeatureStandardizer'))
    assert head.needs_input_statistics
