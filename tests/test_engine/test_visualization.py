"""wsal.visualization: Figure-4-style plots."""
import pytest
import torch

from wsal.visualization import pick_class, plot_localization, save_localization_figure


def _trace(shift=0.0):
    t = 50
    att = torch.zeros(t)
    att[10:20] = 0.9
    tcam = torch.softmax(torch.randn(t, 4, generator=torch.Generator().manual_seed(0)), -1)
    return {'video_id': 'v1', 'seconds_per_segment': 0.5, 'duration': 25.0,
            'attention': att + shift, 'stream_attention': {'rgb': att, 'flow': att + 2 * shift},
            'tcam': {'rgb': tcam, 'flow': tcam}, 'stream_weights': {'rgb': 0.5, 'flow': 0.5},
            'detections': {'segments': torch.tensor([[5.0, 10.0], [1.0, 2.0]]),
                           'scores': torch.tensor([0.9, 0.2]), 'labels': torch.tensor([2, 0])},
            'gt_segments': torch.tensor([[5.0, 10.0], [15.0, 16.0]]),
            'gt_labels': torch.tensor([2, 2]), 'video_scores': torch.tensor([0.1, 0.2, 0.7])}


def test_pick_class_prefers_ground_truth_then_scores():
    tr = _trace()
    assert pick_class(tr) == 2
    tr.pop('gt_labels')
    tr['video_scores'] = torch.tensor([0.8, 0.1, 0.1])
    assert pick_class(tr) == 0


def test_one_row_block_per_model(tmp_path):
    fig = plot_localization([_trace(), _trace(0.05)], model_names=['STPN', 'BM'],
                            classes=['a', 'b', 'c'])
    assert len(fig.axes) == 1 + 3 * 2  # ground truth + (attention, T-CAM, detections) per model
    labels = [ax.get_ylabel() for ax in fig.axes]
    assert labels[0] == 'ground truth\nc'
    assert labels[1].startswith('STPN') and labels[4].startswith('BM')
    assert fig._suptitle.get_text() == 'v1: c — STPN vs BM'
    # the detections row says which class, top-k of what, and what the shading means
    det_title = fig.axes[3].get_title(loc='left')
    assert det_title.startswith('c: top 1 of 1 detections of this class (2 of all classes)')
    assert 'darker = higher score' in det_title
    titled = plot_localization([_trace()], model_names=['BM'], classes=['a', 'b', 'c'],
                               reason='shown: because')
    assert titled._suptitle.get_text() == 'v1: c — BM\nshown: because'
    no_gt = _trace()
    no_gt.pop('gt_segments')
    assert len(plot_localization([no_gt]).axes) == 3
    path = save_localization_figure(tmp_path / 'sub' / 'fig.png', [_trace()])
    data = (tmp_path / 'sub' / 'fig.png').read_bytes()
    assert data[:8] == b'\x89PNG\r\n\x1a\n' and str(path).endswith('fig.png')
    assert [p.name for p in (tmp_path / 'sub').iterdir()] == ['fig.png']  # no temp file left


def test_bad_input():
    with pytest.raises(ValueError, match='at least one trace'):
        plot_localization([])
    with pytest.raises(ValueError, match='2 model names for 1 traces'):
        plot_localization([_trace()], model_names=['a', 'b'])


def test_score_scale_whole_video_and_labels_inside():
    tr = _trace()
    tr['scorer'] = 'WeightedTCAMScorer'
    tr['detections'] = {'segments': torch.tensor([[0.0, 25.0], [20.0, 24.9]]),
                        'scores': torch.tensor([-0.4, -0.9]), 'labels': torch.tensor([2, 2])}
    fig = plot_localization([tr], model_names=['BM'], classes=['a', 'b', 'c'])
    assert 'can be negative' in fig.axes[-1].get_xlabel()  # negative scores are explained
    texts = [t for t in fig.axes[-1].texts]
    assert [t.get_text().strip() for t in texts] == ['-0.40  (whole video)', '-0.90']
    assert all(t.get_ha() == 'right' for t in texts)  # bars ending at the right edge: inside
    tr['scorer'] = 'OuterInnerContrastScorer:minmax'
    label = plot_localization([tr], classes=['a', 'b', 'c']).axes[-1].get_xlabel()
    assert 'inner minus outer mean of Σθ·λ̃·' in label and "λ rescaled to its video's" in label
    assert 'video probability' not in label
    tr['scorer'] = 'OuterInnerContrastScorer:minmax+video'
    label = plot_localization([tr], classes=['a', 'b', 'c']).axes[-1].get_xlabel()
    assert 'inner minus outer mean of Σθ·λ̃·' in label and "× the class's video probability" in label
    tr['scorer'] = 'OuterInnerContrastScorer:minmax:softmax+video'
    label = plot_localization([tr], classes=['a', 'b', 'c']).axes[-1].get_xlabel()
    assert 'Σθ·λ̃·(class probability' in label and "× the class's video probability" in label
    assert 'class logit' not in label
    tr['scorer'] = 'SomeoneElsesScorer+video'  # unknown scorer: the generic caption
    label = plot_localization([tr], classes=['a', 'b', 'c']).axes[-1].get_xlabel()
    assert "the post-processor's" in label and 'video probability' not in label
    none = _trace()
    none['detections']['labels'] = torch.tensor([0, 0])
    fig = plot_localization([none], classes=['a', 'b', 'c'])
    assert fig.axes[-1].texts[0].get_text() == 'no detection of c (2 of other classes)'


@pytest.mark.parametrize('config,key', [
    ('bm/bm_i3d_thumos14.py', 'OuterInnerContrastScorer:minmax+video'),
    ('stpn/stpn_i3d_thumos14.py', 'WeightedLogitScorer'),
    (('bm/bm_i3d_thumos14.py', 'model.test_cfg.scorer.activation=softmax'),
     'OuterInnerContrastScorer:minmax:softmax+video')])
def test_traces_name_the_configs_scorer(config, key):
    from wsal.apis import init_localizer
    from wsal.apis.inference import video_items
    from wsal.datasets import wsal_collate
    from wsal.visualization import trace_videos
    config, *options = config if isinstance(config, tuple) else (config,)
    if options:
        from wsal.apis import load_config
        config = load_config(config, cfg_options=dict(o.split('=') for o in options))
    model = init_localizer(config, feature_dims=dict(rgb=6, flow=4))
    g = torch.Generator().manual_seed(0)
    feats = {'rgb': torch.rand(12, 6, generator=g), 'flow': torch.rand(12, 4, generator=g)}
    batch = wsal_collate(video_items(model, feats, seconds_per_segment=0.64))
    (trace,) = trace_videos(model, batch)
    assert trace['scorer'] == key
    label = plot_localization([trace], classes=[str(c) for c in range(20)]).axes[-1].get_xlabel()
    assert ("video probability" in label) == key.endswith('+video')
