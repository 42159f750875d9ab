# THUMOS14 with two-stream I3D features in wsal's canonical layout:
#   DATA_ROOT/gt.json                        ActivityNet-style annotations (subsets validation/test)
#   DATA_ROOT/features/{rgb,flow}/<id>.npy   float32 [T, 1024], 16 frames per segment
# Weakly-supervised practice: train on the 200 `validation` videos (video-level
# labels only), evaluate on the `test` videos. Override the root with
# `wsal train CONFIG --data-root DIR` (sets every dataset's data_root).
# Per-split layouts of other codebases load by template alone, e.g.
# feature_template='features/{subset}/{modality}/{video_id}.npy'.
data_root = 'data/thumos14'
dataset_type = 'WSALFeatureDataset'
thumos14_classes = [
    'BaseballPitch', 'BasketballDunk', 'Billiards', 'CleanAndJerk', 'CliffDiving',
    'CricketBowling', 'CricketShot', 'Diving', 'FrisbeeCatch', 'GolfSwing', 'HammerThrow',
    'HighJump', 'JavelinThrow', 'LongJump', 'PoleVault', 'Shotput', 'SoccerPenalty',
    'TennisSwing', 'ThrowDiscus', 'VolleyballSpiking']
# None: every test video of gt.json (212). 'wsal-data:thumos14_split_test.txt' is the
# 210-video list most weakly-supervised papers report on (packaged with wsal).
test_video_list = None

_common = dict(
    type=dataset_type,
    data_root=data_root,
    ann_file='gt.json',
    classes=thumos14_classes,
    modalities=('rgb', 'flow'),
    feature_template='features/{modality}/{video_id}.npy',
    feature_dims=dict(rgb=1024, flow=1024),
    stride=16,                # frames per I3D segment
    default_fps=25.0,         # extraction fps of videos without their own `fps`
    ignore_labels=('Ambiguous',),
    out_of_range='keep',      # the official ground truth has instances past the video end
    check_finite=True,        # NaN/Inf scan at construction; False skips it
    cache=True)               # THUMOS14 features fit in memory (~1 GB)

train_dataloader = dict(
    batch_size=1,             # one whole video per iteration (paper sec. 4.2)
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    collate_fn=dict(type='wsal_collate'),
    dataset=dict(_common, subset='validation'))
val_dataloader = dict(
    batch_size=1,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='wsal_collate'),
    dataset=dict(_common, subset='test', video_list=test_video_list))
test_dataloader = val_dataloader

val_evaluator = [
    dict(type='DetectionMAP', preset='thumos14'),
    dict(type='ClassificationMAP'),
    dict(type='AttentionHealth'),
]
test_evaluator = val_evaluator
