# UM (Lee, Wang, Lu, Byun, AAAI 2021) on THUMOS14 two-stream I3D features: temporal
# conv embedding whose feature magnitudes separate action from background; pseudo
# action / background snippets = the T // 9 largest / T // 4 smallest magnitudes
# (70 % of snippets hidden from the ranking at random each step);
# L = L_cls + α L_um + β L_be with α = 5e-4, β = 1, margin 100. Batches of 16,
# 750 snippets (random snippet per bin), Adam 1e-4, weight decay 5e-4.
# Localization: softmax CAS x normalised magnitude thresholded at 0..0.225,
# outer-inner contrast + 0.2 x video score, NMS 0.6.
_base_ = ['../_base_/methods/head_i3d_thumos14.py']

model = dict(
    head=dict(
        type='UMHead',
        classifier=dict(background=False),
        ratio_act=9, ratio_bg=4, drop=0.7),
    losses=dict(
        cls=dict(type='VideoBCELoss', key='video_scores', name='cls', weight=1.0),
        um=dict(type='FeatureMagnitudeLoss', margin=100.0, weight=5e-4),
        be=dict(type='VideoBCELoss', key='bg_video_probs', uniform=True, name='be',
                weight=1.0)),
    test_cfg=dict(scorer=dict(video_score_weight=0.2)))

train_cfg = dict(max_iters=10000, val_interval=500)
