# Table 1, row 7: L_fg + L_guide + L_cluster.
_base_ = ['../bm/bm_i3d_thumos14.py']

model = dict(losses=dict(bg=None))
