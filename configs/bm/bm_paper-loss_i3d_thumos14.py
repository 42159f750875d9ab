# The full background-modeling model with the paper's loss as printed (eq. 11:
# L_fg + 0.1 L_bg + 0.1 L_guide + 0.1 L_cluster): bm_i3d_thumos14.py without
# the cross-stream consensus term wsal adds (README, "Model settings the
# configs use"; docs/ablation.md, "Cross-stream consensus"). The Table 1 rows
# take the same switch: `wsal ablate --cfg-options model.losses.consensus=None`.
# The classifier keeps the base's embedding before it and its centred class
# logits, and L_cluster keeps reading its two directions from the classifier,
# with λ detached in its pools; add `--cfg-options model.embedding=None
# model.classifier.background=row
# model.losses.cluster.head=cluster model.losses.cluster.classes=all
# model.losses.cluster.background=classifier
# model.losses.cluster.detach_attention=False` for eqs. 1-2 and 8-9 as printed
# as well.
_base_ = ['./bm_i3d_thumos14.py']

model = dict(losses=dict(consensus=None))
