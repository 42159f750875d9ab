# Table 1, row 4: L_fg + L_bg.
_base_ = ['../bm/bm_i3d_thumos14.py']

model = dict(losses=dict(guide=None, cluster=None))
