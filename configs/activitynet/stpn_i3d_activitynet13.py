# STPN on ActivityNet1.3 (200 classes): the STPN model recipe
# (configs/_base_/models/stpn_i3d_two_stream.py) on the ActivityNet base files.
_base_ = [
    '../_base_/models/stpn_i3d_two_stream.py',
    '../_base_/datasets/activitynet13_i3d.py',
    '../_base_/schedules/adam_1e-4.py',
    '../_base_/default_runtime.py',
]

model = dict(num_classes=200)
