# Synthetic THUMOS14 + synthetic micro-videos ("Ours + MV" on synthetic data):
# the `validation` split concatenated with the generator's micro_videos.json
# (presets small: 200 clips, full: 915 as in the paper). Evaluation unchanged.
_base_ = ['./thumos14_synthetic.py']

train_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type='ConcatDataset',
        datasets=[
            {{_base_.train_dataloader.dataset}},  # the THUMOS14 `validation` split
            dict(type='WeakLabelFeatureDataset',
                 data_root={{_base_.data_root}},
                 label_file='micro_videos.json',
                 classes={{_base_.thumos14_classes}},
                 stride=16,
                 default_fps=25.0,
                 cache=True),
        ]))
