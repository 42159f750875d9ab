# Table 1, row 7: L_fg + L_guide + L_cluster.
# Like every guided background-aware row it also carries the base's
# cross-stream consensus term (not in the paper); `wsal ablate --cfg-options
# model.losses.consensus=None` runs the rows as printed.
_base_ = ['../bm/bm_i3d_thumos14.py']

model = dict(losses=dict(bg=None))
