"""WeaklySupervisedLocalizer: tensor/loss/predict paths, masking, fusion, errors."""
import pytest
import torch
import torch.nn as nn
from mmengine.optim import OptimWrapper

from wsal.models import MLPAttention, WeaklySupervisedLocalizer
from wsal.registry import build_model

C = 3
ALL_LOSSES = dict(fg=dict(type='ForegroundLoss'), bg=dict(type='BackgroundLoss'),
                  guide=dict(type='SelfGuideLoss', sigma=1.0),
                  cluster=dict(type='ClusterLoss'), sparsity=dict(type='SparsityLoss'))


def make(**kw):
    cfg = dict(type='WeaklySupervisedLocalizer', num_classes=C, streams=dict(rgb=6, flow=4),
               attention=dict(type='MLPAttention', hidden_channels=5))
    cfg.update(kw)
    torch.manual_seed(0)
    return build_model(cfg)


def videos():
    g = torch.Generator().manual_seed(1)
    lengths, labels = [7, 4, 5], [[1.0, 0, 0], [0, 1.0, 1.0], [0, 0, 1.0]]
    return [({'rgb': torch.randn(1, T, 6, generator=g), 'flow': torch.randn(1, T, 4, generator=g)},
             {'video_id': f'v{i}', 'label': torch.tensor(lab), 'num_segments': T})
            for i, (T, lab) in enumerate(zip(lengths, labels))]


def collate(items):
    T = max(x['rgb'].shape[1] for x, _ in items)
    out = {k: torch.zeros(len(items), T, items[0][0][k].shape[-1], dtype=items[0][0][k].dtype)
           for k in ('rgb', 'flow')}
    mask = torch.zeros(len(items), T, dtype=torch.bool)
    for i, (x, _) in enumerate(items):
        n = x['rgb'].shape[1]
        for k in ('rgb', 'flow'):
            out[k][i, :n] = x[k][0]
        mask[i, :n] = True
    out['mask'] = mask
    return out, [s for _, s in items]


def test_tensor_path_contract():
    model = make()
    inputs, _ = collate(videos())
    out = model(inputs)  # mode='tensor'
    B, T = inputs['mask'].shape
    assert set(out) == {'streams', 'stream_weights', 'attention', 'video_scores', 'mask'}
    for name, dim in (('rgb', 6), ('flow', 4)):
        s = out['streams'][name]
        assert s['attention'].shape == (B, T) and (s['attention'][~inputs['mask']] == 0).all()
        assert s['cas'].shape == s['tcam'].shape == (B, T, C + 1)
        assert torch.allclose(s['tcam'], torch.softmax(s['cas'], -1))
        assert s['fg_feature'].shape == s['bg_feature'].shape == (B, dim)
        assert s['fg_logits'].shape == s['bg_logits'].shape == (B, C + 1)
        assert s['cluster_fg_logits'].shape == s['cluster_bg_logits'].shape == (B, 2)
    assert out['stream_weights'] == {'rgb': 0.5, 'flow': 0.5}
    mean = (out['streams']['rgb']['attention'] + out['streams']['flow']['attention']) / 2
    assert torch.allclose(out['attention'], mean)


def test_video_scores_are_theta_weighted():
    model = make(stream_weights=dict(rgb=3.0, flow=1.0))  # normalised to 0.75 / 0.25
    inputs, _ = collate(videos())
    out = model.extract(inputs)
    p = {n: torch.softmax(out['streams'][n]['fg_logits'], -1)[:, 1:] for n in ('rgb', 'flow')}
    assert out['stream_weights'] == {'rgb': 0.75, 'flow': 0.25}
    assert torch.allclose(out['video_scores'], 0.75 * p['rgb'] + 0.25 * p['flow'])


@pytest.mark.parametrize('pooling', [dict(type='AttentionAvgPool', normalize='length'),
                                     dict(type='AttentionAvgPool', normalize='mass'),
                                     dict(type='TopKPool', ratio=2)])
@pytest.mark.parametrize('fusion', ['late', 'early'])
def test_padded_batch_equals_videos_one_by_one(pooling, fusion):
    model = make(pooling=pooling, fusion=fusion, losses=ALL_LOSSES,
                 stream_weights=None).double()
    items = [({k: v.double() for k, v in x.items()}, s) for x, s in videos()]
    inputs, samples = collate(items)
    batch = model.loss(inputs, samples)
    single = [model.loss(*collate([item])) for item in items]
    assert set(batch) == {'loss_fg', 'loss_bg', 'loss_guide', 'loss_cluster', 'loss_sparsity'}
    for key, value in batch.items():
        expected = sum(s[key] for s in single) / len(single)
        assert value.item() == pytest.approx(expected.item(), rel=1e-9, abs=1e-12), key
    out = model.extract(inputs)
    for i, item in enumerate(items):
        one = model.extract(collate([item])[0])
        n = samples[i]['num_segments']
        assert torch.allclose(out['attention'][i, :n], one['attention'][0])
        assert torch.allclose(out['video_scores'][i], one['video_scores'][0])


def test_loss_terms_sum_over_streams_and_none_switches_off():
    model = make(losses=dict(fg=dict(type='ForegroundLoss', weight=2.0), bg=None))
    inputs, samples = collate(videos())
    losses = model.loss(inputs, samples)
    assert set(losses) == {'loss_fg'}
    out = model.extract(inputs)
    labels = torch.stack([s['label'] for s in samples])
    manual = 0.0
    for name in ('rgb', 'flow'):
        logp = torch.log_softmax(out['streams'][name]['fg_logits'], -1)[:, 1:]
        target = labels / labels.sum(1, keepdim=True)
        manual = manual + 2.0 * -(target * logp).sum(1).mean()
    assert losses['loss_fg'].item() == pytest.approx(manual.item(), rel=1e-6)
    # cluster head only exists when a loss may read it (DDP needs every parameter used)
    assert model.cluster_head is None
    assert 'cluster_fg_logits' not in out['streams']['rgb']
    with pytest.raises(ValueError, match='every loss term is switched off'):
        make(losses=dict(fg=None))


def test_every_parameter_gets_a_gradient():
    model = make(losses=ALL_LOSSES)
    inputs, samples = collate(videos())
    sum(model.loss(inputs, samples).values()).backward()
    unused = [n for n, p in model.named_parameters() if p.grad is None]
    assert not unused


def test_tied_background_trains_every_term():
    """With a tied background logit every loss term still reaches every parameter."""
    model = make(losses=ALL_LOSSES, classifier=dict(type='LinearClassifier', background='tied'))
    inputs, samples = collate(videos())
    out = model.extract(inputs)
    for s in out['streams'].values():
        assert s['cas'].shape[-1] == C + 1
        assert torch.allclose(s['cas'][..., 0], -s['cas'][..., 1:].mean(-1), atol=1e-5)
    losses = model.loss(inputs, samples)
    assert set(losses) >= {'loss_fg', 'loss_bg', 'loss_guide', 'loss_cluster'}
    sum(losses.values()).backward()
    assert not [n for n, p in model.named_parameters() if p.grad is None]


def test_cluster_loss_on_the_classifier_builds_no_cluster_head():
    """ClusterLoss(head='classifier') reads the classifier's pooled logits: no head of its own."""
    losses = dict(ALL_LOSSES, cluster=dict(type='ClusterLoss', head='classifier'))
    model = make(losses=losses, classifier=dict(type='LinearClassifier', background='tied'))
    assert model.cluster_head is None
    inputs, samples = collate(videos())
    losses = model.loss(inputs, samples)
    assert 'loss_cluster' in losses
    sum(losses.values()).backward()
    assert not [n for n, p in model.named_parameters() if p.grad is None]


def test_cluster_pooling_feeds_the_clustering_head_only():
    """``cluster_pooling`` changes the pools the clustering head reads, not the classifier's."""
    mass = dict(type='AttentionAvgPool', normalize='mass')
    model = make(losses=ALL_LOSSES, cluster_pooling=mass)
    plain = make(losses=ALL_LOSSES)
    assert not list(model.cluster_pooling['rgb'].parameters())
    inputs, samples = collate(videos())
    out, ref = model.extract(inputs), plain.extract(inputs)
    for name in ('rgb', 'flow'):
        s, r = out['streams'][name], ref['streams'][name]
        assert torch.allclose(s['fg_logits'], r['fg_logits'])
        m = inputs['mask'].float()
        lam, x = s['attention'] * m, inputs[name]
        fg = (lam.unsqueeze(-1) * x).sum(1) / lam.sum(1, keepdim=True)
        bg = (((1 - lam) * m).unsqueeze(-1) * x).sum(1) / ((1 - lam) * m).sum(1, keepdim=True)
        u = model.cluster_head[name].fc.weight
        assert torch.allclose(s['cluster_fg_logits'], fg @ u.T, atol=1e-5)
        assert torch.allclose(s['cluster_bg_logits'], bg @ u.T, atol=1e-5)
        assert not torch.allclose(s['cluster_fg_logits'], r['cluster_fg_logits'])
    sum(model.loss(inputs, samples).values()).backward()
    assert not [n for n, p in model.named_parameters() if p.grad is None]
    # no clustering term, no clustering pools
    assert make(losses=dict(fg=dict(type='ForegroundLoss')), cluster_pooling=mass).cluster_pooling is None


EMBED = dict(type='ConvEmbedding', out_channels=5, kernel_size=1)


def test_embedding_feeds_the_classification_path_and_not_the_attention():
    """With an embedding the pools, classifier and clustering head read it; λ reads x."""
    model = make(losses=ALL_LOSSES, embedding=EMBED)
    plain = make(losses=ALL_LOSSES)
    assert model.classifier['rgb'].in_channels == model.cluster_head['flow'].in_channels == 5
    assert model.attention['rgb'].in_channels == 6 and model.attention['flow'].in_channels == 4
    inputs, samples = collate(videos())
    out, ref = model.extract(inputs), plain.extract(inputs)
    mask = inputs['mask']
    B, T = mask.shape
    for name in ('rgb', 'flow'):
        s = out['streams'][name]
        # the attention is built first, from the same seed: the same λ as without it
        assert torch.equal(s['attention'], ref['streams'][name]['attention'])
        h = model.embedding[name](inputs[name], mask)
        assert h.shape == (B, T, 5)
        assert torch.allclose(s['cas'], model.classifier[name](h))
        lengths = mask.sum(1, keepdim=True).float()
        fg = (s['attention'].unsqueeze(-1) * h).sum(1) / lengths
        assert torch.allclose(s['fg_feature'], fg, atol=1e-6)
        assert s['bg_feature'].shape == (B, 5)
        assert torch.allclose(s['fg_logits'], model.classifier[name](s['fg_feature']))
        u = model.cluster_head[name].fc.weight
        assert torch.allclose(s['cluster_fg_logits'], s['fg_feature'] @ u.T, atol=1e-6)
    sum(model.loss(inputs, samples).values()).backward()
    assert not [n for n, p in model.named_parameters() if p.grad is None]
    assert plain.embedding is None


def test_embedded_padded_batch_equals_videos_one_by_one():
    embed = dict(type='ConvEmbedding', out_channels=5, kernel_size=3)
    model = make(losses=ALL_LOSSES, embedding=embed).double()
    items = [({k: v.double() for k, v in x.items()}, s) for x, s in videos()]
    inputs, samples = collate(items)
    batch = model.loss(inputs, samples)
    single = [model.loss(*collate([item])) for item in items]
    for key, value in batch.items():
        expected = sum(s[key] for s in single) / len(single)
        assert value.item() == pytest.approx(expected.item(), rel=1e-9, abs=1e-12), key


def test_embedding_errors_name_the_stream():
    class NoWidth(nn.Module):
        def forward(self, x, mask=None):
            return x

    with pytest.raises(ValueError, match="embedding for stream 'rgb' \\(NoWidth\\) must have a "
                                         'positive int out_channels, got None'):
        make(embedding=dict(rgb=NoWidth(), flow=NoWidth()))
    with pytest.raises(ValueError, match="classifier for stream 'rgb' has in_channels=6 but its "
                                         'input has 5 channels'):
        make(embedding=EMBED, classifier=dict(type='LinearClassifier', in_channels=6))
    with pytest.raises(KeyError, match='Did you mean: ConvEmbedding'):
        make(embedding=dict(type='ConvEmbeding'))


def test_foreground_video_scores_leave_the_background_out():
    """``video_score='foreground'``: softmax over the C class logits of the fg pool."""
    model = make(losses=ALL_LOSSES, video_score='foreground')
    printed = make(losses=ALL_LOSSES)
    inputs, _ = collate(videos())
    out, ref = model.extract(inputs), printed.extract(inputs)
    expect = sum(model.stream_weights[n] * torch.softmax(out['streams'][n]['fg_logits'][:, 1:], -1)
                 for n in ('rgb', 'flow'))
    assert torch.allclose(out['video_scores'], expect, atol=1e-6)
    assert torch.allclose(out['video_scores'].sum(1), torch.ones(3), atol=1e-6)
    # eq. 2 as printed keeps the background in the denominator
    p0 = sum(printed.stream_weights[n] * torch.softmax(ref['streams'][n]['fg_logits'], -1)[:, 0]
             for n in ('rgb', 'flow'))
    assert torch.allclose(ref['video_scores'].sum(1), 1 - p0, atol=1e-6)
    # the class ranking within a stream is the same; only the scale differs
    for n in ('rgb', 'flow'):
        a = torch.softmax(out['streams'][n]['fg_logits'][:, 1:], -1)
        b = torch.softmax(ref['streams'][n]['fg_logits'], -1)[:, 1:]
        assert torch.allclose(a, b / b.sum(1, keepdim=True), atol=1e-6)
    with pytest.raises(ValueError, match='video_score must be one of'):
        make(video_score='sigmoid')


def test_early_fusion_single_fused_stream():
    model = make(fusion='early', stream_weights=None)
    assert list(model.attention) == ['fused'] and model.attention['fused'].in_channels == 10
    inputs, _ = collate(videos())
    out = model.extract(inputs)
    assert list(out['streams']) == ['fused'] and out['stream_weights'] == {'fused': 1.0}
    # features are concatenated in the order of `streams`: rgb then flow
    w = model.classifier['fused'].fc.weight
    cat = torch.cat([inputs['rgb'], inputs['flow']], -1)
    assert torch.allclose(out['streams']['fused']['cas'], cat @ w.T, atol=1e-6)
    with pytest.raises(ValueError, match="single stream 'fused'"):
        make(fusion='early', stream_weights=dict(rgb=0.5, flow=0.5))


def _early(streams, **kw):
    return build_model(dict(type='WeaklySupervisedLocalizer', num_classes=3, streams=streams,
                            fusion='early', **kw))


def test_early_fusion_takes_the_stream_order_its_weights_were_trained_with():
    torch.manual_seed(0)
    trained = _early(dict(rgb=4, flow=4)).eval()
    x = {'rgb': torch.randn(2, 6, 4), 'flow': torch.randn(2, 6, 4)}
    reordered = _early(dict(flow=4, rgb=4)).eval()   # a config copy with sorted keys
    assert not torch.equal(trained.extract(x)['attention'], reordered.extract(x)['attention'])
    reordered.load_state_dict(trained.state_dict())
    assert list(reordered.input_streams) == ['rgb', 'flow']
    assert torch.equal(trained.extract(x)['attention'], reordered.extract(x)['attention'])
    assert torch.equal(reordered.state_dict()['input_order'], trained.state_dict()['input_order'])
    # late fusion has nothing to order: no record, state dicts as before
    assert 'input_order' not in build_model(dict(
        type='WeaklySupervisedLocalizer', num_classes=3, streams=dict(rgb=4, flow=4))).state_dict()


def test_early_fusion_state_dict_without_an_order_warns_and_other_streams_fail():
    trained = _early(dict(rgb=4, flow=4))
    old = {k: v for k, v in trained.state_dict().items() if k != 'input_order'}
    model = _early(dict(flow=4, rgb=4))
    with pytest.warns(UserWarning, match=r"config's order \(flow, rgb\)"):
        model.load_state_dict(old)
    assert list(model.input_streams) == ['flow', 'rgb']
    other = _early(dict(rgb=4, depth=4))
    with pytest.raises(RuntimeError, match=r"trained on the streams \['rgb', 'flow'\]"):
        other.load_state_dict(trained.state_dict())


def test_built_modules_are_accepted():
    att = MLPAttention(in_channels=6, hidden_channels=3)
    model = WeaklySupervisedLocalizer(num_classes=C, streams=dict(rgb=6), attention=att)
    assert model.attention['rgb'] is att
    per_stream = dict(rgb=MLPAttention(in_channels=6, hidden_channels=2),
                      flow=dict(type='MLPAttention', hidden_channels=7))
    model = make(attention=per_stream)
    assert model.attention['rgb'] is per_stream['rgb']
    assert model.attention['flow'].fc1.out_features == 7
    with pytest.raises(ValueError, match='built module but the model has 2 streams'):
        make(attention=att)
    with pytest.raises(ValueError, match="attention for stream 'flow' has in_channels=6"):
        make(attention=dict(rgb=att, flow=MLPAttention(in_channels=6)))


def test_wrong_feature_dim_and_missing_stream_are_clear():
    model = make()
    inputs, samples = collate(videos())
    bad = dict(inputs, flow=torch.zeros(3, inputs['mask'].shape[1], 5))
    with pytest.raises(ValueError, match="stream 'flow' expected feature dim 4, got 5"):
        model.loss(bad, samples)
    with pytest.raises(KeyError, match="input stream 'flow' is missing"):
        model.extract({'rgb': inputs['rgb'], 'mask': inputs['mask']})
    with pytest.raises(ValueError, match="label of video 'v0' has shape \\(2,\\)"):
        model.loss(inputs, [dict(s, label=torch.zeros(2)) for s in samples])


def test_bad_configs_are_clear():
    with pytest.raises(KeyError, match='Did you mean: MLPAttention'):
        make(attention=dict(type='MLPAtention'))
    with pytest.raises(KeyError, match='Did you mean: ForegroundLoss'):
        make(losses=dict(fg=dict(type='ForegroundLos')))
    with pytest.raises(TypeError, match='num_classes'):
        build_model(dict(type='WeaklySupervisedLocalizer'))
    with pytest.raises(ValueError, match="fusion must be 'late' or 'early'"):
        make(fusion='middle')
    with pytest.raises(ValueError, match="streams\\['rgb'\\] must be a positive int"):
        make(streams=dict(rgb='1024'))


class FakePostprocessor(nn.Module):
    """One detection per video: the first segment, scored by the top class."""

    def forward(self, outputs, data_samples):
        dets = []
        for i, s in enumerate(data_samples):
            score, label = outputs['video_scores'][i].max(0)
            sps = s['seconds_per_segment']
            dets.append({'segments': torch.tensor([[0.0, sps]]), 'scores': score.view(1),
                         'labels': label.view(1)})
        return dets


def test_predict_assembles_per_video_results():
    model = make(test_cfg=FakePostprocessor())
    inputs, samples = collate(videos())
    for i, s in enumerate(samples):
        s.update(seconds_per_segment=0.5, duration=0.5 * s['num_segments'],
                 gt_segments=torch.tensor([[0.0, 1.0]]), gt_labels=torch.tensor([i % C]))
    results = model(inputs, samples, mode='predict')
    out = model.extract(inputs)
    assert [r['video_id'] for r in results] == ['v0', 'v1', 'v2']
    for i, (r, s) in enumerate(zip(results, samples)):
        n = s['num_segments']
        assert r['attention'].shape == (n,) and set(r['stream_attention']) == {'rgb', 'flow'}
        assert torch.allclose(r['attention'], out['attention'][i, :n])
        assert torch.allclose(r['video_scores'], out['video_scores'][i])
        assert r['detections']['segments'].tolist() == [[0.0, 0.5]]
        assert r['detections']['labels'].item() == out['video_scores'][i].argmax().item()
        for key in ('label', 'gt_segments', 'gt_labels', 'duration', 'seconds_per_segment'):
            assert key in r
    with pytest.raises(RuntimeError, match='built without test_cfg'):
        make().predict(inputs, samples)


def test_predict_gives_the_scorer_class_map_for_the_ground_truth_classes():
    model = make(test_cfg=dict(type='DetectionPipeline', scorer=dict(type='WeightedLogitScorer')))
    inputs, samples = collate(videos())
    gt_labels = [torch.tensor([2, 0, 2]), torch.tensor([1]), torch.tensor([], dtype=torch.long)]
    for s, g in zip(samples, gt_labels):
        s.update(seconds_per_segment=0.5, gt_segments=torch.zeros(len(g), 2), gt_labels=g)
    results = model.predict(inputs, samples)
    expected = model.postprocessor.scorer.score_map(model.extract(inputs))
    for i, (r, s) in enumerate(zip(results, samples)):
        n, labels = s['num_segments'], torch.unique(gt_labels[i])
        assert r['class_map_labels'].tolist() == labels.tolist()
        assert r['class_map'].shape == (n, labels.numel())
        assert torch.allclose(r['class_map'].double(), expected[i, :n][:, labels], atol=1e-6)
    for s in samples:
        del s['gt_labels']
    assert all('class_map' not in r for r in model.predict(inputs, samples))
    plain = make(test_cfg=FakePostprocessor())          # no scorer: no class map
    for s in samples:
        s['gt_labels'] = torch.tensor([0])
    assert all('class_map' not in r for r in plain.predict(inputs, samples))
    samples[1]['gt_labels'] = torch.tensor([C])
    with pytest.raises(ValueError, match=f"video 'v1': gt_labels \\[{C}\\] outside the {C}"):
        model.predict(inputs, samples)


def test_mmengine_train_and_val_step():
    model = make(losses=ALL_LOSSES, test_cfg=FakePostprocessor())
    inputs, samples = collate(videos())
    for s in samples:
        s['seconds_per_segment'] = 1.0
    wrapper = OptimWrapper(torch.optim.Adam(model.parameters(), lr=1e-3))
    before = model.classifier['rgb'].fc.weight.clone()
    log_vars = model.train_step({'inputs': inputs, 'data_samples': samples}, wrapper)
    assert {'loss', 'loss_fg', 'loss_bg', 'loss_guide', 'loss_cluster'} <= set(log_vars)
    assert not torch.equal(before, model.classifier['rgb'].fc.weight)
    results = model.val_step({'inputs': inputs, 'data_samples': samples})
    assert len(results) == 3 and 'detections' in results[0]
    with pytest.raises(ValueError, match="unknown mode 'train'"):
        model(inputs, samples, mode='train')


def test_video_labels_are_checked_like_the_loss_checks_them():
    model = make(losses=ALL_LOSSES)
    _, samples = collate(videos())
    labels = model.video_labels(samples, batch=3, device=torch.device('cpu'))
    assert labels.shape == (3, C) and labels.dtype == torch.float32
    assert labels.tolist() == [[1.0, 0, 0], [0, 1.0, 1.0], [0, 0, 1.0]]
    with pytest.raises(ValueError, match='2 data samples for a batch of 3'):
        model.video_labels(samples[:2], batch=3, device=torch.device('cpu'))
    bad = [dict(samples[0]), {'video_id': 'v9', 'label': torch.ones(C + 1)}]
    with pytest.raises(ValueError, match="label of video 'v9' has shape"):
        model.video_labels(bad, batch=2, device=torch.device('cpu'))
    with pytest.raises(KeyError, match="video 'v8' has no 'label'"):
        model.video_labels([{'video_id': 'v8'}], batch=1, device=torch.device('cpu'))
