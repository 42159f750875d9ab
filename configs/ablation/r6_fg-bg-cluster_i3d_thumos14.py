# Table 1, row 6: L_fg + L_bg + L_cluster.
# Without L_guide nothing ties λ to the actions frame by frame: the
# classification terms see λ only through the pooled features, and λ mostly
# saturates (≈1 on every frame). The base's cross-stream consensus term would
# then align the two streams on whatever they share rather than on the
# actions (stream agreement up, frame AUC and mAP down: docs/ablation.md,
# "Every Table 1 row with the consensus term"), so this row keeps the
# paper's terms only.
_base_ = ['../bm/bm_i3d_thumos14.py']

model = dict(losses=dict(guide=None, consensus=None))
