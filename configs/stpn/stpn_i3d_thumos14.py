# STPN on THUMOS14: the STPN model recipe (configs/_base_/models/stpn_i3d_two_stream.py:
# L_fg + β L_sparsity, 1/T pooling, thresholded weighted-T-CAM proposals) on the shared
# THUMOS14 I3D data, Adam 1e-4 schedule and runtime.
_base_ = [
    '../_base_/models/stpn_i3d_two_stream.py',
    '../_base_/datasets/thumos14_i3d.py',
    '../_base_/schedules/adam_1e-4.py',
    '../_base_/default_runtime.py',
]
