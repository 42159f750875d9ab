# Generator settings for `wsal ablate --settings-file` (sweep mode): each entry
# is a name and overrides of wsal.datasets.synthetic.SyntheticConfig. They
# vary what makes weak supervision hard, one family of knobs at a time, so a
# method setting that only works on the default generator shows up as a
# failing setting:
#
#   base           the generator's defaults
#   scene_heavy    strong class-specific scene context on every frame (both
#                  streams): the background alone predicts the class
#   weak_cue       weak class-agnostic actionness in both streams
#   flow_cue       the actionness cue only in flow, RGB appearance weaker
#   noisy          few background modes, more background and frame noise
#   sparse_scaled  actions cover about half as much of each video, features
#                  three times larger
#   dense_flowlow  actions cover about twice as much of each video, the flow
#                  stream's features three times smaller than RGB's
#
#   wsal ablate --preset small --settings-file configs/sweeps/generator_settings.py \
#       --seeds 0 1 2 --configs r2 r8 --iters 4000 --no-figure
SETTINGS = {
    'base': {},
    'scene_heavy': dict(context_rgb=1.2, context_flow=0.8),
    'weak_cue': dict(actionness_rgb=0.1, actionness_flow=0.3),
    'flow_cue': dict(actionness_rgb=0.0, actionness_flow=1.5, action_rgb=0.6),
    'noisy': dict(num_background_modes=8, background_noise=1.0, frame_noise=0.6,
                  observation_noise=0.6),
    'sparse_scaled': dict(background_scale=2.0, feature_scale=3.0),
    'dense_flowlow': dict(background_scale=0.5, feature_scale_flow=0.33),
}
