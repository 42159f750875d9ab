"""wsal.models: localizers and their swappable parts (registered in MODELS)."""
from .actionness import MagnitudeActionness
from .attention import MLPAttention
from .classifier import LinearClassifier
from .cluster_head import ClusterHead
from .embedding import ConvEmbedding
from .input_norm import FeatureStandardizer
from .localizers import (BaSNetHead, CoLAHead, HeadLocalizer, StreamLocalizer, UMHead,
                         WeaklySupervisedLocalizer, WTALCHead)
from .pooling import AttentionAvgPool, TopKPool

__all__ = ['StreamLocalizer', 'WeaklySupervisedLocalizer', 'HeadLocalizer', 'MLPAttention',
           'AttentionAvgPool', 'TopKPool', 'LinearClassifier', 'ClusterHead', 'ConvEmbedding',
           'WTALCHead', 'BaSNetHead', 'UMHead', 'CoLAHead', 'MagnitudeActionness',
           'FeatureStandardizer']
