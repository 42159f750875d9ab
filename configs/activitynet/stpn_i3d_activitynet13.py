# STPN on ActivityNet1.3 (200 classes): the THUMOS14 STPN model and proposals
# (see configs/stpn/stpn_i3d_thumos14.py) on the ActivityNet base files.
_base_ = [
    '../_base_/models/wsal_i3d_two_stream.py',
    '../_base_/datasets/activitynet13_i3d.py',
    '../_base_/schedules/adam_1e-4.py',
    '../_base_/default_runtime.py',
]

model = dict(
    num_classes=200,
    pooling=dict(normalize='length'),
    losses=dict(
        bg=None,
        guide=None,
        cluster=None,
        sparsity=dict(type='SparsityLoss', weight=0.04, reduction='mean')),
    test_cfg=dict(
        proposal=dict(
            _delete_=True,
            type='TCAMThresholdProposals',
            thresholds=[round(0.025 * i, 3) for i in range(21)],
            activation='sigmoid')))
