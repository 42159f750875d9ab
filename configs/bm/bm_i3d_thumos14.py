# Background modeling (Nguyen et al., ICCV 2019), full model of Table 1's last
# row: L_fg + 0.1 L_bg + 0.1 L_guide + 0.1 L_cluster (eq. 11) plus wsal's
# 0.1 L_consensus (bm_paper-loss_i3d_thumos14.py leaves it out), two-stream
# I3D, THUMOS14, Adam 1e-4. Everything lives in the base files.
_base_ = [
    '../_base_/models/wsal_i3d_two_stream.py',
    '../_base_/datasets/thumos14_i3d.py',
    '../_base_/schedules/adam_1e-4.py',
    '../_base_/default_runtime.py',
]
