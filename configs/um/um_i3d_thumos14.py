# UM (Lee, Wang, Lu, Byun, AAAI 2021) on THUMOS14 two-stream I3D features: temporal
# conv embedding whose feature magnitudes separate action from background; pseudo
# action / background snippets = the T // 9 largest / T // 4 smallest magnitudes
# (70 % of snippets hidden from the ranking at random each step);
# L = L_cls + α L_um + β L_be with α = 5e-4, β = 1, margin 100. Batches of 16,
# 750 snippets (random snippet per bin), Adam 1e-4, weight decay 5e-4.
# Localization: softmax CAS x normalised magnitude thresholded at 0..0.225,
# outer-inner contrast + 0.2 x video score, NMS 0.6.
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
        type='UMHead',
        embedding=dict(type='ConvEmbedding', out_channels=2048, kernel_size=3),
        classifier=dict(type='LinearClassifier', bias=False, dropout=0.7, background=False),
        ratio_act=9, ratio_bg=4, drop=0.7),
    losses=dict(
        cls=dict(type='VideoBCELoss', key='video_scores', name='cls', weight=1.0),
        um=dict(type='FeatureMagnitudeLoss', margin=100.0, weight=5e-4),
        be=dict(type='VideoBCELoss', key='bg_video_probs', uniform=True, name='be',
                weight=1.0)),
    test_cfg=dict(
        type='DetectionPipeline',
        proposal=dict(type='ClassScoreThresholdProposals',
                      thresholds=[round(0.025 * i, 3) for i in range(10)]),
        scorer=dict(type='ClassScoreContrastScorer', inflation=0.25, video_score_weight=0.2),
        nms=dict(type='TemporalNMS', iou_threshold=0.6),
        class_threshold=0.2))

train_dataloader = dict(
    batch_size=16,
    collate_fn=dict(type='wsal_sampled_collate', num_segments=750, mode='random'))

optim_wrapper = dict(optimizer=dict(lr=1e-4, weight_decay=5e-4))
train_cfg = dict(max_iters=10000, val_interval=500)
