# CoLA (Zhang, Cao, Yang, Chen, Zou, CVPR 2021) on THUMOS14 two-stream I3D features:
# temporal conv embedding, class activations, actionness = their class sum; easy
# action/background = T // 5 highest/lowest actionness, hard ones from the rings
# between erosions / dilations (m = 3, M = 6) of the above-median actionness,
# T // 20 each; L = L_cls + λ L_SniCo with λ = 0.01, τ = 0.07. Batches of 16,
# 750 snippets (random snippet per bin), Adam 1e-4, 6000 iterations.
# Localization: sigmoid CAS x normalised actionness thresholded at 0..0.225,
# outer-inner contrast, NMS 0.6, class threshold 0.2.
_base_ = ['../_base_/methods/head_i3d_thumos14.py']

model = dict(
    head=dict(
        type='CoLAHead',
        classifier=dict(background=False),
        ratio_easy=5, ratio_hard=20, m=3, M=6),
    losses=dict(
        cls=dict(type='VideoBCELoss', key='video_scores', name='cls', weight=1.0),
        snico=dict(type='SnippetContrastLoss', temperature=0.07, weight=0.01)))

optim_wrapper = dict(optimizer=dict(weight_decay=0.0))
train_cfg = dict(max_iters=6000, val_interval=100)
default_hooks = dict(checkpoint=dict(interval=100))
