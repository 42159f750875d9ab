# The full background-modeling model plus a class-agnostic actionness that no
# class score sets: UM's feature magnitude (Lee et al., AAAI 2021) per stream,
# a fully-connected embedding whose norm is trained by UM's magnitude term on
# each video's T // 9 largest against its T // 4 smallest magnitudes (ranked
# by the streams' mean magnitude, so that both streams pick the same
# segments), and an extra guide that pulls the stream's λ towards that
# magnitude rescaled to the video's range. Proposals still come from λ;
# `--cfg-options model.actionness_in_proposals=True` proposes from λ times the
# actionness. Not in the paper; an option, not the default (README, "Model
# settings the configs use"; docs/ablation.md, "A class-agnostic actionness
# beside the paper's terms"). The Table 1 rows take the same parts with
# `wsal ablate --cfg-options`, as written there.
_base_ = ['./bm_i3d_thumos14.py']

model = dict(
    actionness=dict(type='MagnitudeActionness',
                    embedding=dict(type='ConvEmbedding', out_channels=256, kernel_size=1),
                    ratio_act=9, ratio_bg=4, drop=0.7),
    actionness_ranking='mean',
    losses=dict(
        magnitude=dict(type='FeatureMagnitudeLoss', weight=5e-4, margin=100.0,
                       keys=('magnitude_act_feature', 'magnitude_bg_feature')),
        actionness=dict(type='ActionnessGuideLoss', weight=0.1, sigma=1.0)),
    loss_warmup=dict(actionness=0.5))
