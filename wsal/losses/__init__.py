"""wsal.losses: loss terms of every method (registered in LOSSES)."""
from .base import LossTerm, foreground_target
from .classification import BackgroundLoss, ForegroundLoss
from .coactivity import CoActivitySimilarityLoss
from .cluster import ClusterLoss
from .consensus import StreamConsensusLoss
from .guide import ActionnessGuideLoss, SelfGuideLoss
from .magnitude import FeatureMagnitudeLoss
from .smoothing import gaussian_kernel1d, masked_gaussian_smooth
from .snippet_contrast import SnippetContrastLoss, info_nce
from .sparsity import SparsityLoss
from .video_classification import MILCrossEntropyLoss, VideoBCELoss, normalized_labels

__all__ = ['LossTerm', 'foreground_target', 'ForegroundLoss', 'BackgroundLoss', 'ClusterLoss',
           'SelfGuideLoss', 'SparsityLoss', 'gaussian_kernel1d', 'masked_gaussian_smooth',
           'MILCrossEntropyLoss', 'VideoBCELoss', 'normalized_labels', 'CoActivitySimilarityLoss',
           'FeatureMagnitudeLoss', 'SnippetContrastLoss', 'info_nce', 'StreamConsensusLoss',
           'ActionnessGuideLoss']
