# The full background-modeling model (configs/bm/bm_i3d_thumos14.py) plus a
# cross-stream consensus term: each stream's attention λ is supervised by
# binary targets from the streams' mean λ (above its per-video mean: 1).
# Not in the paper; what it repairs and what it costs are in docs/ablation.md
# ("Cross-stream consensus").
_base_ = ['./bm_i3d_thumos14.py']

model = dict(
    losses=dict(consensus=dict(type='StreamConsensusLoss', weight=0.1)),
    # ramped in with the other added terms, over the first half of the run
    loss_warmup=dict(consensus=0.5))
