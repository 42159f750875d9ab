# The full background-modeling model (configs/bm/bm_i3d_thumos14.py) plus a
# cross-stream consensus term: each stream's attention λ is trained to rank
# frames like the streams' mean λ (StreamConsensusLoss, one minus their
# correlation within each video). Not in the paper; what it repairs and what
# it costs are in docs/ablation.md ("Cross-stream consensus").
_base_ = ['./bm_i3d_thumos14.py']

model = dict(
    losses=dict(consensus=dict(type='StreamConsensusLoss', weight=0.1, form='correlation')),
    # ramped in with the other added terms, over the first half of the run
    loss_warmup=dict(consensus=0.5))
