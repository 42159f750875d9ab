# Table 1, row 8: the full model, L_fg + L_bg + L_guide + L_cluster (configs/bm/bm_i3d_thumos14.py).
_base_ = ['../bm/bm_i3d_thumos14.py']

