# Table 1, row 3: L_fg + L_guide (background-modeling proposals and scoring).
_base_ = ['../bm/bm_i3d_thumos14.py']

model = dict(losses=dict(bg=None, cluster=None))
