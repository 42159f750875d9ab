# The shared two-stream I3D localizer of "Weakly-supervised Action Localization
# with Background Modeling" (Nguyen, Ramanan, Fowlkes, ICCV 2019), section 3.
# Method configs change `losses` (and the proposal scheme) on top of this file.
#
# Settings the paper leaves open or that we changed, and why (measured on the
# synthetic THUMOS14-structured data of wsal.datasets.synthetic; README,
# "Model settings the configs use"):
#
# * Pooling normalisation. The paper prints 1/T (eqs. 1, 4: normalize='length').
#   With 1/T the pooled features scale with λ's level; adding L_bg collapsed
#   λ≈0 and the T-CAM to background on every frame (mAP 0.0, small preset).
#   normalize='mass' (Σλx/Σλ, Σ(1-λ)x/Σ(1-λ)) is invariant to λ's level, so
#   the classification terms decide *which* frames are attended and L_guide
#   sets the level.
# * L_guide distance. The paper prints an L1 distance |λ - λ̂|. Through the
#   sigmoid its gradient on the attention logit is ±λ(1-λ), which vanishes once
#   the level-invariant L_fg has pushed λ towards 0 (or 1): λ inside actions
#   stayed at 0.06-0.20 and whole streams saturated, so the fixed 0-0.5
#   proposal thresholds failed (full model mAP@0.5 3.1 at 1k iterations, 15.4
#   at 6k). distance='bce' (cross-entropy to the same soft targets λ̂fg, λ̂bg)
#   has logit gradient λ - λ̂ and keeps λ at the T-CAM's level: λ 0.55 inside
#   vs 0.09 outside actions, mAP@0.5 21.7 at 2k iterations (same data, seed).
#   distance='l1' restores the printed form.
# * Guide targets are detached (λ̂ supervises λ, never the reverse).
# The paper's proposal thresholds, 0 to 0.5 in steps of 0.025 (the same list as
# wsal.postprocess.default_thresholds(), the generators' default); the STPN base
# reuses this variable.
proposal_thresholds = [round(0.025 * i, 3) for i in range(21)]

model = dict(
    type='WeaklySupervisedLocalizer',
    num_classes=20,                                  # THUMOS14
    streams=dict(rgb=1024, flow=1024),               # I3D feature dims per stream
    fusion='late',                                   # one attention/classifier per stream
    stream_weights=dict(rgb=0.5, flow=0.5),          # θ = 0.5 (sec. 3.2)
    attention=dict(type='MLPAttention', hidden_channels=256, dropout=0.0),
    pooling=dict(type='AttentionAvgPool', normalize='mass'),
    classifier=dict(type='LinearClassifier', bias=False, dropout=0.0),
    cluster_head=dict(type='ClusterHead'),
    # eq. 11: L_fg + α L_bg + β L_guide + γ L_cluster, α = β = γ = 0.1 (sec. 4.2)
    losses=dict(
        fg=dict(type='ForegroundLoss', weight=1.0),
        bg=dict(type='BackgroundLoss', weight=0.1),
        # target detached: λ̂ supervises λ, never the reverse (see SelfGuideLoss)
        guide=dict(type='SelfGuideLoss', weight=0.1, sigma=1.0, detach_target=True,
                   distance='bce'),
        cluster=dict(type='ClusterLoss', weight=0.1)),
    # A child switches a term off with `name=None` and adds one (e.g. STPN's
    # `sparsity=dict(type='SparsityLoss', ...)`, or a plugin's) by naming it.
    # Terms are left out here rather than set to None: mmengine cannot merge a
    # child's dict into a base None without `_delete_=True`.
    # sec. 3.2 / 4.2: classes with p_fg >= 0.1 (else the top class), proposals
    # from the stream-averaged attention at thresholds 0..0.5 step 0.025,
    # weighted-T-CAM scores, class-wise NMS at IoU 0.5.
    test_cfg=dict(
        type='DetectionPipeline',
        proposal=dict(type='AttentionThresholdProposals', thresholds=proposal_thresholds),
        scorer=dict(type='WeightedLogitScorer'),
        nms=dict(type='TemporalNMS', iou_threshold=0.5),
        class_threshold=0.1),
    data_preprocessor=None)
