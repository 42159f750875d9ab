# BaS-Net (Lee, Uh, Byun, AAAI 2020) on THUMOS14 two-stream I3D features: a CAS
# module (temporal conv embedding + classifier with a background class) applied to
# the features (base branch: background present in every video) and to the
# filtered features a ⊙ x (suppression branch: background absent), k = T // 8
# top-k pooling, L = L_base + L_supp + α L_norm with α = 1e-4 (L1 sum of a).
# Batches of 16 videos, 750 snippets per video (random snippet per bin), Adam 1e-4,
# weight decay 5e-4, 1500 iterations (the authors' schedule). Localization: the
# suppression branch's softmax thresholded at 0..0.225, outer-inner contrast
# + 0.2 x video score, NMS 0.7.
_base_ = ['../_base_/methods/head_i3d_thumos14.py']

model = dict(
    head=dict(
        type='BaSNetHead',
        attention=dict(type='MLPAttention', hidden_channels=512),   # the filtering module
        embedding=dict(num_layers=2, negative_slope=0.01),
        topk_ratio=8),
    losses=dict(
        base=dict(type='VideoBCELoss', key='base_video_probs', background='present',
                  name='base', weight=1.0),
        supp=dict(type='VideoBCELoss', key='supp_video_probs', background='absent',
                  name='supp', weight=1.0),
        norm=dict(type='SparsityLoss', reduction='sum', weight=1e-4)),
    test_cfg=dict(
        scorer=dict(video_score_weight=0.2),
        nms=dict(iou_threshold=0.7),
        class_threshold=0.25))

train_cfg = dict(max_iters=1500, val_interval=100)
default_hooks = dict(checkpoint=dict(interval=100))
