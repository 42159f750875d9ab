# Background modeling with early fusion: one attention head and classifier on
# the concatenated RGB+flow features (stream 'fused', 2048-d) instead of one
# model per stream. With one attention there is nothing for the cross-stream
# consensus term to compare, so it is off.
_base_ = ['./bm_i3d_thumos14.py']

model = dict(fusion='early', stream_weights=None, losses=dict(consensus=None))
