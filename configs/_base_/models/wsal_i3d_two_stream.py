# The shared two-stream I3D localizer of "Weakly-supervised Action Localization
# with Background Modeling" (Nguyen, Ramanan, Fowlkes, ICCV 2019), section 3.
# Method configs change `losses` (and the proposal scheme) on top of this file.
#
# Settings the paper leaves open or that we changed, and why (README, "Model
# settings the configs use"; numbers in docs/ablation.md):
#
# * Pooling: 1/T as printed (eqs. 1, 4: normalize='length').
# * The stored features, as the paper feeds them (input_norm=None). An
#   option standardizes each stream per dimension before every part
#   (input_norm=dict(type='FeatureStandardizer'): (x - m) / s over the
#   training split's frames, fitted before the first iteration by
#   InputStatisticsHook and kept in the checkpoint). It passed its rule on two
#   unseen generators (the full model 18.9 against 12.9 and 52.6 against 46.4
#   mAP@0.5) but costs the full model on wsal's own generator (48.2 -> 44.1 on
#   the demo's data; STPN's printed thresholds fail with it, 24.0 -> 2.2), so
#   it is not the default. The scaling alone (center=False) costs the full
#   model 3-5 points on scene_heavy (README, "Model settings the configs
#   use"; docs/ablation.md, "Each stream's features standardized", "The
#   scaling alone, where the ranked list goes wrong").
# * A per-frame embedding between each stream's features and the pools, the
#   classifier and the clustering head (ConvEmbedding: 512 channels, kernel
#   1, ReLU, dropout 0.7; W-TALC's form), instead of the classifier reading
#   the features (eqs. 1-3 as printed). λ still reads the features. The
#   class map is linear in the features as printed; the guide copies its
#   1 - p_0 into λ and the proposals are scored on it. Through the embedding
#   the class evidence of a frame is a non-linear function of its features,
#   and the class map orders each video's frames of its classes better
#   (frame AUC 0.736 -> 0.761 and 0.809 -> 0.841 on two generators), λ with
#   it. Adopted on an unseen generator by a rule written before its runs
#   (the full model 38.9 against 35.6 mAP@0.5, higher in 3 of 3 seeds; README,
#   "Model settings the configs use"; docs/ablation.md, "A per-frame
#   embedding before the classifier", "A forty-fourth generator, built
#   blind"). It costs about 1.4-1.5x the training time, and it fits the training
#   videos' labels further (L_fg 0.16-0.28 at the end against 0.55-0.79):
#   in four of six runs the test videos' classification fell after 8000
#   iterations, and their mAP ended 2.5-7.4 below its best (`declined:mAP`
#   marks such runs). Ten times the weight decay on the embedding keeps that
#   classification level and the mAP falls as much: the class map's order
#   of the frames within each video falls, not yet explained.
#   `model.embedding=None` restores the printed classifier; the STPN base
#   does so.
# * Loss schedule: every term at its weight from the first iteration, as the
#   paper trains (`loss_warmup=dict()`). A ramp that let L_fg alone learn the
#   video labels first (sec. 4.2's account of the weights) was the default
#   until four blind generators out of four scored the full model higher
#   without it (+0.5 to +1.1 on the mean; on one of them the ramp left λ on
#   the mirror solution, 0.4-7.7 mAP@0.5 against 57.8-64.6), against 1.6
#   points for it on six development cells (README, "Model settings the
#   configs use"; docs/ablation.md, "The loss ramp and λ's orientation", "A
#   twenty-fifth independent generator"). Without it λ can start near
#   collapse and orient only after 8000-16000 iterations: train to a plateau.
#   `model.loss_warmup.bg=0.5` (and guide, cluster, consensus) ramps a term
#   in over that share of the run; a length of 2 or more counts iterations.
# * Proposals threshold each frame's quantile of λ in its video (the fraction
#   of the video's frames with a lower λ), at 0, 0.05, ..., 0.95
#   (AttentionThresholdProposals(normalize='quantile'), `attention_thresholds`
#   below), instead of λ itself at 0, 0.025, ..., 0.5. The classification terms
#   set which frames λ ranks high, not its level: with 1/T pooling L_fg pushes
#   λ up and L_bg down, and the level settles where they balance (0.6-1 on our
#   data: background frames at 0.65, actions at 0.99), above every printed
#   threshold, while λ's ranking of frames is good (frame AUC 0.9-0.98).
#   Rescaling λ to each video's range (normalize='minmax', the earlier rule)
#   removes the level but not the sigmoid's saturation: trained long, λ sits
#   at 0.95-1 over the actions and the short gaps between them alike, those
#   frames share the top few thresholds and neighbouring instances come out
#   merged. Quantiles depend only on how λ orders the frames, so the
#   thresholds fall wherever the frames are. normalize=None with
#   `proposal_thresholds` restores the printed rule.
# * Proposal scores: outer-inner contrast of the weighted logits θ·λ·w_c·x
#   (OuterInnerContrastScorer: mean inside minus mean over a margin of a
#   quarter of the length on each side, AutoLoc's rule) instead of the printed
#   mean inside. Thresholds over the whole range pool fragments of an action
#   (high thresholds) with complete instances; the mean inside is highest for
#   the fragment around the peak, so fragments outrank whole instances and
#   count as false positives at tIoU 0.5. A fragment's surroundings are the
#   rest of the action, so its contrast is low; a complete instance is
#   surrounded by background. WeightedLogitScorer restores the printed score.
# * The score map weights the logits with each stream's λ rescaled to its
#   video's range (normalize='minmax' on the scorer; the proposals' rule
#   before they moved to quantiles), instead of λ itself. λ's level is set by the balance of the
#   loss terms, not by the actions; where it sits near 1 on every frame (0.9
#   to 1 on our generator and on independent data) θ·λ·w_c·x is θ·w_c·x up to
#   a few percent, and the proposals are ranked by the class logits alone,
#   which rank the frames worse than λ does. normalize=None restores λ.
# * The proposal score is scaled by its class's video-level probability p_fg[c]
#   (video_score='scale' on the scorer; sign-safe: s·p for s >= 0, s/p below).
#   The contrast is measured inside one video, in that video's logit units,
#   and says nothing about whether the class is in the video; average
#   precision ranks a class's proposals across videos, where a confident class
#   should outrank one that only passed the 0.1 class threshold.
#   video_score=None restores the unscaled score.
# * Gaussian soft-NMS (SoftNMS(sigma=0.5, unique=True): every proposal kept,
#   its score lowered by exp(-IoU^2 / 0.5) for each higher-ranked proposal of
#   its class that overlaps it; exact duplicates dropped first) instead of the
#   printed greedy NMS at 0.5. The quantile thresholds propose several extents
#   of each instance. Greedy NMS deletes every extent that overlaps the top one
#   by more than 0.5, so where the top one is too long, too short or merges two
#   instances the right extent is gone; and it keeps, at full score, proposals
#   of the same instance that overlap the top one by less than 0.5, which rank
#   as double detections. Soft-NMS keeps the other extents lower in the list and
#   lowers the near-duplicates. Adopted on an unseen generator by a rule written
#   before its runs had finished (+0.7 to +0.9 mAP@0.5 in every seed; README,
#   "Model settings the configs use"; docs/ablation.md, "Soft-NMS").
#   TemporalNMS(iou_threshold=0.5) restores the printed rule.
# * L_guide distance: cross-entropy to the same soft targets λ̂fg, λ̂bg
#   (distance='bce') instead of the printed L1 |λ - λ̂|. Through the sigmoid
#   L1's gradient on the attention logit is ±λ(1-λ), which vanishes as λ
#   nears 1: with L1 both streams saturated (λ 1.00 in and out of actions) and
#   the results swung from seed to seed. distance='l1' restores the printed form.
# * Guide targets are detached (λ̂ supervises λ, never the reverse).
# * Cross-stream consensus (not in the paper): StreamConsensusLoss trains each
#   stream's λ to rank frames like the streams' mean λ (one minus their
#   correlation within each video; blind to λ's level and spread, so it does
#   not move the level the classification terms set). An action happens at
#   the same time in both streams, but nothing in eq. 11 ties the two
#   attentions together: trained long enough, the rgb stream settles on the
#   *mirror solution* (λ on the class's scene, i.e. the background, while its
#   classifier calls the action frames "background"), on the training videos
#   as well as on the test videos. Weight 0.1 like the other added terms,
#   ramped in with them. `consensus=None` restores eq. 11.
# * Class logits centred on their mean and a background logit of 0
#   (LinearClassifier(background='centred'): z_c - (1/C) Σ_k z_k; under the
#   softmax the same as z_0 = +(1/C) Σ_c w_c·x) instead of a row w_0 of its
#   own (eq. 2). A frame is background where no class stands out, and no
#   output depends on the mean class row ū. Under the tie below (the default
#   until the twenty-ninth generator) every decision that reads z_0 contains
#   ū: L_bg's push into λ at its chance level is (2C/(C+1)) ū·x/T whatever the
#   labels, and where ū scores the venue or scene that several classes share,
#   λ followed it late in training and lost the actions. Centred logits sum
#   to zero, so p_0 <= 1/(C+1): L_bg's floor is its chance level and the term
#   is inert (`idle:bg`); what models the background is L_cluster's split and
#   the guide's 1 - p_0 (how much one class stands out). Adopted on an unseen
#   generator by a rule written before its runs (+2.9 mAP@0.5 on the mean,
#   STPN + 5 in 2 seeds against 1; README, "Model settings the configs use";
#   docs/ablation.md, "Class logits centred on their mean"). background='tied'
#   restores the tie, background='row' eq. 2. background_logit='learned'
#   makes the background logit a learned scalar (from ln C), so that L_bg
#   acts without the mean class row; it lost 1.8 mAP@0.5 on four development
#   cells and is not used (docs/ablation.md, "A learned background logit").
# * (Before: the background logit tied to the class rows, LinearClassifier(
#   background='tied'): z_0 = -(1/C) Σ_c w_c·x, instead of a row of its own.)
#   A free row is trained only to score the foreground pools low (L_fg) and,
#   once L_bg acts, the background pools high; it settles on minus the mean
#   feature (a class-blind "how average is this frame") or on the
#   background's own largest change within a video, and the guide's target
#   1 - p_bg copies that into λ. Tied, a frame is background exactly where the
#   class rows score it low, so 1 - p_bg is class evidence.
# * L_cluster's two directions read from the classifier (ClusterLoss(head=
#   'classifier'): u_fg the mean class row, u_bg the background row) instead
#   of a clustering head of their own (eqs. 8, 9). The head of its own is
#   trained by L_cluster alone and no label reaches it: it settles on a
#   class-blind split of the two pools, and the term then raises λ on every
#   frame that split scores above zero, most of the short gaps between
#   neighbouring instances included (they merge). Read from the classifier,
#   the split is the one the class rows make (class evidence against the tied
#   background logit), and the term trains the class rows. head='cluster'
#   with classes='all' and background='classifier' restores eqs. 8-9
#   (`cluster_head` below is then built).
# * u_fg is the mean of the rows of the video's own classes (classes=
#   'labelled'), not of every class row. The paper's L_cluster uses no label;
#   read from all class rows its push into λ follows the sign of the mean
#   class row's score, a class-blind split: where the venue or scene is shared
#   by several classes (the background carries it on every frame) λ moves onto
#   the background, and trained long the full model lost λ's frame ranking
#   while fg+guide kept it. With the video's own rows the split is the one its
#   labels make, as the guide's targets are. Adopted on an unseen generator by
#   a rule written before its data existed (+2.1 mAP@0.5 on the mean, higher
#   in 3 of 3 seeds; README, "Model settings the configs use"; docs/
#   ablation.md, "A twenty-sixth independent generator"). classes='all'
#   restores the class-blind split.
# * L_cluster's background logit is minus u_fg (ClusterLoss(background=
#   'negated')), the tie's form over the same rows, instead of the
#   classifier's z_0 (minus the mean of every class row). With z_0 the term's
#   background side still trains every class row, class-blind: each one is
#   pushed up on λ's pool and down on (1 - λ)'s, whatever the video's
#   classes. Negated, the cluster logits are [m, -m] for the mean m of the
#   video's own rows, and the term trains those rows only. With every class
#   row and the tie the two are the same. Adopted on an unseen generator by a
#   rule written before its data existed (+1.0 mAP@0.5 on the mean, higher in
#   2 of 3 seeds; docs/ablation.md, "A twenty-seventh independent
#   generator"). background='classifier' restores z_0.
# * L_cluster trains the classifier only (ClusterLoss(detach_attention=True):
#   both pools rebuilt from the frame logits with λ detached; the same value).
#   Through the 1/T pools its push on λ's logit is λ(1 - λ) times the
#   video's class evidence on the frame, which the class's scene carries on
#   the background too: in every full model measured on a development
#   generator it raised λ, on average 1.1-2 times more on the background
#   frames than inside the actions (λ(1 - λ) is larger where λ is lower),
#   and kept λ near 1. λ is then ordered by L_fg, the guide and the consensus term,
#   and L_cluster still trains the rows of the video's classes up on λ's pool
#   and down on the rest. Adopted on an unseen generator by a rule written
#   before its runs (+5.7 mAP@0.5 on the mean, higher in 3 of 3 seeds; README,
#   "Model settings the configs use"; docs/ablation.md, "L_cluster without its
#   push into λ"). detach_attention=False restores the printed path.
# The paper's proposal thresholds, 0 to 0.5 in steps of 0.025 (the same list as
# wsal.postprocess.default_thresholds(), the generators' default); the STPN base
# reuses this variable.
proposal_thresholds = [round(0.025 * i, 3) for i in range(21)]
# Thresholds on λ's quantiles per video (see above): 0 to 0.95 in steps of 0.05.
attention_thresholds = [round(0.05 * i, 3) for i in range(20)]

model = dict(
    type='WeaklySupervisedLocalizer',
    num_classes=20,                                  # THUMOS14
    streams=dict(rgb=1024, flow=1024),               # I3D feature dims per stream
    fusion='late',                                   # one attention/classifier per stream
    stream_weights=dict(rgb=0.5, flow=0.5),          # θ = 0.5 (sec. 3.2)
    attention=dict(type='MLPAttention', hidden_channels=256, dropout=0.0),
    # per stream, before the pools, the classifier and the clustering head (see above)
    embedding=dict(type='ConvEmbedding', out_channels=512, kernel_size=1, dropout=0.7),
    pooling=dict(type='AttentionAvgPool', normalize='length'),   # 1/T, eqs. 1 and 4
    classifier=dict(type='LinearClassifier', bias=False, dropout=0.0, background='centred',
                    background_logit='zero'),
    cluster_head=dict(type='ClusterHead'),           # built only with ClusterLoss(head='cluster')
    # eq. 11: L_fg + α L_bg + β L_guide + γ L_cluster, α = β = γ = 0.1 (sec. 4.2),
    # plus 0.1 L_consensus
    losses=dict(
        fg=dict(type='ForegroundLoss', weight=1.0),
        bg=dict(type='BackgroundLoss', weight=0.1),
        # target detached: λ̂ supervises λ, never the reverse (see SelfGuideLoss)
        guide=dict(type='SelfGuideLoss', weight=0.1, sigma=1.0, detach_target=True,
                   distance='bce'),
        # u_fg from the rows of the video's classes, u_bg the background row (see
        # above; its background logit minus u_fg; eqs. 8-9: head='cluster',
        # classes='all', background='classifier')
        # classifier only: λ detached in its pools (see above)
        cluster=dict(type='ClusterLoss', weight=0.1, head='classifier', classes='labelled',
                     background='negated', detach_attention=True),
        # not in eq. 11: the streams' attentions rank frames alike (see above)
        consensus=dict(type='StreamConsensusLoss', weight=0.1, form='correlation')),
    # every term from the first iteration (see above); {term: length} ramps terms in
    loss_warmup=dict(),
    # A child switches a term off with `name=None` and adds one (e.g. STPN's
    # `sparsity=dict(type='SparsityLoss', ...)`, or a plugin's) by naming it.
    # Terms are left out here rather than set to None: mmengine cannot merge a
    # child's dict into a base None without `_delete_=True`.
    # sec. 3.2 / 4.2: classes with p_fg >= 0.1 (else the top class), proposals
    # from the stream-averaged attention (its quantiles per video, thresholds
    # 0..0.95 step 0.05; the paper: λ at 0..0.5 step 0.025), outer-inner contrast of the
    # weighted logits θ·λ̃·w_c·x with λ̃ rescaled per video and stream, scaled by
    # the class's video probability (the paper: the mean of θ·λ·w_c·x), class-wise
    # Gaussian soft-NMS over the distinct proposals (the paper: greedy NMS at 0.5).
    test_cfg=dict(
        type='DetectionPipeline',
        proposal=dict(type='AttentionThresholdProposals', thresholds=attention_thresholds,
                      normalize='quantile'),
        scorer=dict(type='OuterInnerContrastScorer', inflation=0.25, normalize='minmax',
                    video_score='scale'),
        nms=dict(type='SoftNMS', method='gaussian', sigma=0.5, unique=True),
        class_threshold=0.1),
    data_preprocessor=None)
