# Synthetic THUMOS14-structured features (wsal.datasets.synthetic): real durations,
# instances and labels of THUMOS14, simulated two-stream features in the canonical
# layout. Generate the data first, then point data_root at it:
#   wsal make-synthetic data/thumos14_synthetic --preset small --seed 0
# Presets: tiny (32-d, tests), small (40 + 20 videos, 1024-d, the demo),
# full (412 videos, 1024-d). For `tiny`, also set feature_dims / the model's
# streams to 32. Use this file in place of thumos14_i3d.py in a config's _base_.
data_root = 'data/thumos14_synthetic'
dataset_type = 'WSALFeatureDataset'
thumos14_classes = [
    'BaseballPitch', 'BasketballDunk', 'Billiards', 'CleanAndJerk', 'CliffDiving',
    'CricketBowling', 'CricketShot', 'Diving', 'FrisbeeCatch', 'GolfSwing', 'HammerThrow',
    'HighJump', 'JavelinThrow', 'LongJump', 'PoleVault', 'Shotput', 'SoccerPenalty',
    'TennisSwing', 'ThrowDiscus', 'VolleyballSpiking']

_common = dict(
    type=dataset_type,
    data_root=data_root,
    ann_file='gt.json',       # per-video fps = 25, stride 16 -> 0.64 s per segment
    classes=thumos14_classes,
    modalities=('rgb', 'flow'),
    feature_template='features/{modality}/{video_id}.npy',
    stride=16,
    default_fps=25.0,
    out_of_range='keep',      # inherited from the real ground truth
    check_finite=True,
    cache=True)

train_dataloader = dict(
    batch_size=1,
    num_workers=0,            # small in-memory set: workers cost more than they save
    sampler=dict(type='InfiniteSampler', shuffle=True),
    collate_fn=dict(type='wsal_collate'),
    dataset=dict(_common, subset='validation'))
val_dataloader = dict(
    batch_size=1,
    num_workers=0,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='wsal_collate'),
    dataset=dict(_common, subset='test'))
test_dataloader = val_dataloader

val_evaluator = [
    dict(type='DetectionMAP', preset='thumos14'),
    dict(type='ClassificationMAP'),
    dict(type='AttentionHealth'),
]
test_evaluator = val_evaluator
