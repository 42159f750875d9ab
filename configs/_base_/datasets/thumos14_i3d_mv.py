# THUMOS14 + micro-videos ("Ours + MV", paper sec. 4.1 / Table 2): the training
# split is the THUMOS14 `validation` set concatenated with weakly-labelled
# micro-videos (video-level tags only, no segments). Evaluation is unchanged.
#   DATA_ROOT/micro_videos.json   {"database": {id: {"labels": [...]}}} or {id: [labels]} or CSV
#   DATA_ROOT/features/{rgb,flow}/<micro id>.npy
# (`wsal make-synthetic` writes both for its synthetic micro-videos.) The
# micro-videos may live elsewhere: set the second dataset's data_root.
_base_ = ['./thumos14_i3d.py']

micro_label_file = 'micro_videos.json'

train_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type='ConcatDataset',
        datasets=[
            {{_base_.train_dataloader.dataset}},  # the THUMOS14 `validation` split
            dict(type='WeakLabelFeatureDataset',
                 data_root={{_base_.data_root}},
                 label_file=micro_label_file,
                 classes={{_base_.thumos14_classes}},
                 modalities=('rgb', 'flow'),
                 feature_template='features/{modality}/{video_id}.npy',
                 feature_dims=dict(rgb=1024, flow=1024),
                 stride=16,
                 default_fps=25.0,
                 cache=True),
        ]))
