# W-TALC (Paul, Roy, Roy-Chowdhury, ECCV 2018) on THUMOS14 two-stream I3D features:
# FC embedding + class activations over the concatenated RGB/flow features,
# L = λ L_MIL + (1 - λ) L_CASL with λ = 0.5, k = ceil(T / 8) MIL pooling, batches
# of 10 videos made of pairs sharing a class, 750-snippet random crops, Adam 1e-4,
# weight decay 5e-4. Localization: each selected class's activations thresholded
# halfway between their min and max, segments scored by their mean activation.
# docs/methods.md lists what follows the paper and where wsal differs.
_base_ = ['../_base_/methods/head_i3d_thumos14.py']

model = dict(
    head=dict(
        type='WTALCHead',
        embedding=dict(kernel_size=1, dropout=0.7),
        classifier=dict(_delete_=True, type='LinearClassifier', bias=True, background=False),
        topk_ratio=8),
    losses=dict(
        mil=dict(type='MILCrossEntropyLoss', weight=0.5),
        casl=dict(type='CoActivitySimilarityLoss', weight=0.5, margin=0.5)),
    test_cfg=dict(
        proposal=dict(thresholds=[0.5], relative=True),
        scorer=dict(inflation=0.0),
        nms=dict(iou_threshold=0.5),
        class_threshold=0.1))

train_dataloader = dict(
    batch_size=10,                        # 5 pairs of videos sharing a class
    sampler=dict(_delete_=True, type='ClassPairSampler'),
    collate_fn=dict(mode='crop'))

train_cfg = dict(max_iters=100000, val_interval=500)   # the authors' default
