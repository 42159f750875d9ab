# Table 1, row 5: L_fg + L_bg + L_guide.
_base_ = ['../bm/bm_i3d_thumos14.py']

model = dict(losses=dict(cluster=None))
