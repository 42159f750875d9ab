# ActivityNet1.3 with two-stream I3D features (as STPN), canonical layout:
#   DATA_ROOT/gt.json                        official ActivityNet JSON (subsets training/validation/testing)
#   DATA_ROOT/features/{rgb,flow}/<id>.npy   float32 [T, 1024]
# Train on `training`, evaluate on `validation` (test labels are not public).
# Videos vary from seconds to minutes: `num_segments` resamples every video
# to a fixed T (None keeps each video's length; `resample` picks the method).
data_root = 'data/activitynet13'
dataset_type = 'WSALFeatureDataset'
num_segments = None           # e.g. 100 for a fixed length
resample = 'interpolate'      # 'interpolate' | 'pool' | 'nearest'

_common = dict(
    type=dataset_type,
    data_root=data_root,
    ann_file='gt.json',
    classes=None,             # the 200 sorted label names of gt.json
    modalities=('rgb', 'flow'),
    feature_template='features/{modality}/{video_id}.npy',
    feature_dims=dict(rgb=1024, flow=1024),
    stride=16,
    default_fps=25.0,
    num_segments=num_segments,
    resample=resample,
    out_of_range='clip',      # a few official segments end slightly after the video
    check_finite=True,
    cache=False)              # ~20k videos: rely on the OS page cache

train_dataloader = dict(
    batch_size=1,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    collate_fn=dict(type='wsal_collate'),
    dataset=dict(_common, subset='training'))
val_dataloader = dict(
    batch_size=1,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='wsal_collate'),
    dataset=dict(_common, subset='validation'))
test_dataloader = val_dataloader

val_evaluator = [
    dict(type='DetectionMAP', preset='activitynet'),
    dict(type='ClassificationMAP'),
    dict(type='AttentionHealth'),
]
test_evaluator = val_evaluator
