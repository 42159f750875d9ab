# BaS-Net (Lee, Uh, Byun, AAAI 2020) on THUMOS14 two-stream I3D features: a CAS
# module (temporal conv embedding + classifier with a background class) applied to
# the features (base branch: background present in every video) and to the
# filtered features a ⊙ x (suppression branch: background absent), k = T // 8
# top-k pooling, L = L_base + L_supp + α L_norm with α = 1e-4 (L1 sum of a).
# Batches of 16 videos, 750 snippets per video (random snippet per bin), Adam 1e-4,
# weight decay 5e-4, 1500 iterations (the authors' schedule). Localization: the
# suppression branch's softmax thresholded at 0..0.225, outer-inner contrast
# + 0.2 x video score, NMS 0.7.
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
        type='BaSNetHead',
        attention=dict(type='MLPAttention', hidden_channels=512),   # the filtering module
        embedding=dict(type='ConvEmbedding', out_channels=2048, kernel_size=3, num_layers=2,
                       negative_slope=0.01),
        classifier=dict(type='LinearClassifier', bias=False, dropout=0.7),
        topk_ratio=8),
    losses=dict(
        base=dict(type='VideoBCELoss', key='base_video_probs', background='present',
                  name='base', weight=1.0),
        supp=dict(type='VideoBCELoss', key='supp_video_probs', background='absent',
                  name='supp', weight=1.0),
        norm=dict(type='SparsityLoss', reduction='sum', weight=1e-4)),
    test_cfg=dict(
        type='DetectionPipeline',
        proposal=dict(type='ClassScoreThresholdProposals',
                      thresholds=[round(0.025 * i, 3) for i in range(10)]),
        scorer=dict(type='ClassScoreContrastScorer', inflation=0.25, video_score_weight=0.2),
        nms=dict(type='TemporalNMS', iou_threshold=0.7),
        class_threshold=0.25))

train_dataloader = dict(
    batch_size=16,
    collate_fn=dict(type='wsal_sampled_collate', num_segments=750, mode='random'))

optim_wrapper = dict(optimizer=dict(lr=1e-4, weight_decay=5e-4))
train_cfg = dict(max_iters=1500, val_interval=100)
default_hooks = dict(checkpoint=dict(interval=100))
