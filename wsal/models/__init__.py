"""wsal.models: the localizer and its swappable parts (registered in MODELS)."""
from .attention import MLPAttention
from .classifier import LinearClassifier
from .cluster_head import ClusterHead
from .localizer import WeaklySupervisedLocalizer
from .pooling import AttentionAvgPool, TopKPool

__all__ = ['WeaklySupervisedLocalizer', 'MLPAttention', 'AttentionAvgPool', 'TopKPool',
           'LinearClassifier', 'ClusterHead']
