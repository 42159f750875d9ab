# Background modeling with early fusion: one attention head and classifier on
# the concatenated RGB+flow features (stream 'fused', 2048-d) instead of one
# model per stream.
_base_ = ['./bm_i3d_thumos14.py']

model = dict(fusion='early', stream_weights=None)
