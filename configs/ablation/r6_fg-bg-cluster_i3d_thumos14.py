# Table 1, row 6: L_fg + L_bg + L_cluster.
_base_ = ['../bm/bm_i3d_thumos14.py']

model = dict(losses=dict(guide=None))
