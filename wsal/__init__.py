"""wsal: weakly-supervised temporal action localization with background modeling.

``import wsal`` is cheap: it loads no plugins and imports models lazily.
"""
from .registry import (DATASETS, LOSSES, METRICS, MODELS, POSTPROCESSORS, build_dataset,
                       build_loss, build_metric, build_model, build_postprocessor)
from .version import __version__

__all__ = [
    '__version__', 'MODELS', 'LOSSES', 'POSTPROCESSORS', 'METRICS', 'DATASETS',
    'build_model', 'build_loss', 'build_postprocessor', 'build_metric', 'build_dataset',
]
