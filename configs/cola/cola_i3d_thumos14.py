# CoLA (Zhang, Cao, Yang, Chen, Zou, CVPR 2021) on THUMOS14 two-stream I3D features:
# temporal conv embedding, class activations, actionness = their class sum; easy
# action/background = T // 5 highest/lowest actionness, hard ones from the rings
# between erosions / dilations (m = 3, M = 6) of the above-median actionness,
# T // 20 each; L = L_cls + λ L_SniCo with λ = 0.01, τ = 0.07. Batches of 16,
# 750 snippets (random snippet per bin), Adam 1e-4, 6000 iterations.
# Localization: sigmoid CAS x normalised actionness thresholded at 0..0.225,
# outer-inner contrast, NMS 0.6, class threshold 0.2.
_base_ = [
    '../_base_/datasets/thumos14_i3d.py',
    '../_base_/schedules/adam_1e-4.py',
    '../_base_/default_runtime.py',
]

model = dict(
    type='HeadLocalizer',
    num_classes=20,
    streams=dict(rgb=1024, flow=1024),
    fusion='early',
    head=dict(
        type='CoLAHead',
        embedding=dict(type='ConvEmbedding', out_channels=2048, kernel_size=3),
        classifier=dict(type='LinearClassifier', bias=False, dropout=0.7, background=False),
        ratio_easy=5, ratio_hard=20, m=3, M=6),
    losses=dict(
        cls=dict(type='VideoBCELoss', key='video_scores', name='cls', weight=1.0),
        snico=dict(type='SnippetContrastLoss', temperature=0.07, weight=0.01)),
    test_cfg=dict(
        type='DetectionPipeline',
        proposal=dict(type='ClassScoreThresholdProposals',
                      thresholds=[round(0.025 * i, 3) for i in range(10)]),
        scorer=dict(type='ClassScoreContrastScorer', inflation=0.25),
        nms=dict(type='TemporalNMS', iou_threshold=0.6),
        class_threshold=0.2))

train_dataloader = dict(
    batch_size=16,
    collate_fn=dict(type='wsal_sampled_collate', num_segments=750, mode='random'))

optim_wrapper = dict(optimizer=dict(lr=1e-4, weight_decay=0.0))
train_cfg = dict(max_iters=6000, val_interval=100)
default_hooks = dict(checkpoint=dict(interval=100))
