# The shared two-stream I3D localizer of "Weakly-supervised Action Localization
# with Background Modeling" (Nguyen, Ramanan, Fowlkes, ICCV 2019), section 3.
# Method configs change `losses` (and the proposal scheme) on top of this file.
#
# Pooling normalisation: the paper prints 1/T (eqs. 1, 4, normalize='length').
# With 1/T the pooled features grow with the attention level, so the
# classification losses move all λ together: on synthetic data (wsal model,
# 400 Adam steps) λ saturated at ≈1 on foreground AND background frames for
# fg, fg+bg and the full model (frame AUC of λ 0.50 for fg+bg). normalize='mass'
# (Σλx/Σλ, Σ(1-λ)x/Σ(1-λ)) is invariant to the attention level, so the
# classification terms only shape *which* frames are attended, and the
# self-guided loss anchors the level to the T-CAM: full model λ≈0.81 on
# foreground and ≈0.00 on background frames, fitting the fixed 0-0.5 proposal
# thresholds. Without a guide term the level drifts low (fg only: λ≈0.05).
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
        guide=dict(type='SelfGuideLoss', weight=0.1, sigma=1.0, detach_target=True),
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
        proposal=dict(type='AttentionThresholdProposals',
                      thresholds=[round(0.025 * i, 3) for i in range(21)]),
        scorer=dict(type='WeightedTCAMScorer'),
        nms=dict(type='TemporalNMS', iou_threshold=0.5),
        class_threshold=0.1),
    data_preprocessor=None)
