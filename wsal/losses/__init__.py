"""wsal.losses: the loss terms of eq. 11 and STPN's sparsity loss (registered in LOSSES)."""
from .base import LossTerm, foreground_target
from .classification import BackgroundLoss, ForegroundLoss
from .cluster import ClusterLoss
from .guide import SelfGuideLoss
from .smoothing import gaussian_kernel1d, masked_gaussian_smooth
from .sparsity import SparsityLoss

__all__ = ['LossTerm', 'foreground_target', 'ForegroundLoss', 'BackgroundLoss', 'ClusterLoss',
           'SelfGuideLoss', 'SparsityLoss', 'gaussian_kernel1d', 'masked_gaussian_smooth']
