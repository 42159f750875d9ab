# What the single-head methods (W-TALC, BaS-Net, UM, CoLA) share on THUMOS14
# two-stream I3D features: one HeadLocalizer over the 2048-d concatenation of the
# RGB and flow streams, a temporal conv embedding and a linear classifier, the
# class-score detection pipeline, and batches of 16 videos of 750 snippets (a
# random snippet per bin) trained with Adam 1e-4 and weight decay 5e-4.
# A method config adds its head type, its loss terms and its own settings.
# Partial on purpose (no head type, no losses), so it lives outside models/.
_base_ = [
    '../datasets/thumos14_i3d.py',
    '../schedules/adam_1e-4.py',
    '../default_runtime.py',
]

# The papers' constant rate. The shared schedule anneals it to 0 over the run,
# which was measured on STPN and the background-aware rows only.
param_scheduler = []

model = dict(
    type='HeadLocalizer',
    num_classes=20,
    streams=dict(rgb=1024, flow=1024),
    fusion='early',                       # one model over the 2048-d concatenation
    head=dict(
        embedding=dict(type='ConvEmbedding', out_channels=2048, kernel_size=3),
        classifier=dict(type='LinearClassifier', bias=False, dropout=0.7)),
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

optim_wrapper = dict(optimizer=dict(lr=1e-4, weight_decay=5e-4))
