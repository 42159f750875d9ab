# Generator settings for `wsal ablate --settings-file` (sweep mode) that add,
# one family at a time, what in broadcast sports footage looks like an action
# without being one. They sit beside generator_settings.py (whose tables in
# docs/ablation.md they leave as they are):
#
#   drift           the background also changes slowly and continuously, not
#                   only at shot cuts (a drift as strong as a background
#                   mode, correlated over 30 s)
#   hard_negatives  unannotated stretches showing the video's class without
#                   its motion (replays, people standing in the action's
#                   pose; 2 per minute of background, 4 s, 0.7 of an
#                   instance's appearance) and bursts of class-agnostic
#                   motion without an action (camera pans, crowd; 3 per
#                   minute, 3 s)
#   heavy_tails     Student-t frame noise with 3 degrees of freedom, twice
#                   the default frame noise
#   confounded      all three, with the strong scene context of
#                   generator_settings.py's scene_heavy
#   subspace        each class's appearance is a rank-6 subspace and every
#                   instance a random non-negative mix of it
#   flat_norm       every segment's latent has the same norm, so the feature
#                   norm says nothing about actions
#   subspace_flat   both
#   all_confounds   subspace_flat, drift, hard negatives, heavy tails, the
#                   action cue in the other stream in half the videos, flow
#                   spikes at shot cuts, stronger scene context
#
#   wsal ablate --preset small --settings-file configs/sweeps/confound_settings.py \
#       --seeds 0 1 2 --configs r2 r3 r8 --iters 4000 --no-figure
_DRIFT = dict(drift_strength=1.0, drift_seconds=30.0)
_HARD_NEGATIVES = dict(lookalikes_per_minute=2.0, lookalike_seconds=4.0, lookalike_strength=0.7,
                       motion_bursts_per_minute=3.0, motion_burst_seconds=3.0)
_HEAVY_TAILS = dict(noise_dof=3.0, frame_noise=0.5)
_SUBSPACE = dict(action_rank=6)
_FLAT_NORM = dict(latent_norm=1.5)
SETTINGS = {
    'drift': _DRIFT,
    'hard_negatives': _HARD_NEGATIVES,
    'heavy_tails': _HEAVY_TAILS,
    'confounded': {**_DRIFT, **_HARD_NEGATIVES, **_HEAVY_TAILS,
                   'context_rgb': 1.2, 'context_flow': 0.8},
    'subspace': _SUBSPACE,
    'flat_norm': _FLAT_NORM,
    'subspace_flat': {**_SUBSPACE, **_FLAT_NORM},
    'all_confounds': {**_SUBSPACE, **_FLAT_NORM, **_DRIFT, **_HARD_NEGATIVES, 'noise_dof': 3.0,
                      'cue_swap': 0.5, 'cut_flow': 2.0, 'context_rgb': 1.0, 'context_flow': 0.6},
}
