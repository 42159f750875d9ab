"""wsal: weakly-supervised temporal action localization with background modeling.

``import wsal`` is cheap: it imports neither torch nor mmengine and loads no
plugins. The registries and ``build_*`` helpers below are imported on first
access (``wsal.MODELS``, ``from wsal import build_model``).
"""
from .version import __version__

__all__ = [
    '__version__', 'MODELS', 'LOSSES', 'POSTPROCESSORS', 'METRICS', 'DATASETS',
    'build_model', 'build_loss', 'build_postprocessor', 'build_metric', 'build_dataset',
]

_FROM_REGISTRY = frozenset(__all__[1:])


_SUBMODULES = frozenset(['apis', 'cli', 'datasets', 'engine', 'evaluation', 'experiments',
                         'losses', 'models', 'postprocess', 'registry', 'utils',
                         'visualization'])


def __getattr__(name: str):
    if name in _FROM_REGISTRY:
        from . import registry
        return getattr(registry, name)
    if name in _SUBMODULES:  # ``import wsal; wsal.registry`` as before
        import importlib
        return importlib.import_module(f'{__name__}.{name}')
    raise AttributeError(f"module 'wsal' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | _FROM_REGISTRY)
