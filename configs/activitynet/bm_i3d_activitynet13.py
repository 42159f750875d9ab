# Background modeling (full model, eq. 11) on ActivityNet1.3 (200 classes),
# two-stream I3D features as in STPN (paper sec. 4.1).
_base_ = [
    '../_base_/models/wsal_i3d_two_stream.py',
    '../_base_/datasets/activitynet13_i3d.py',
    '../_base_/schedules/adam_1e-4.py',
    '../_base_/default_runtime.py',
]

model = dict(num_classes=200)
