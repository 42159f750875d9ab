"""``wsal`` children of mmengine's engine registries (loops, optimizers, ...).

With ``default_scope='wsal'`` mmengine looks for a ``wsal`` child in every
registry it builds from and, for each root without one, logs "Failed to search
registry with scope 'wsal' ..." before falling back to the root. wsal adds no
loops, optimizers or samplers of its own, so empty children that defer to the
roots silence those warnings without changing what gets built.
"""
from __future__ import annotations

from mmengine import registry as mm

__all__ = ['ENGINE_CHILDREN']

_ROOTS = ('RUNNERS', 'RUNNER_CONSTRUCTORS', 'LOOPS', 'DATA_SAMPLERS', 'TRANSFORMS',
          'MODEL_WRAPPERS', 'WEIGHT_INITIALIZERS', 'OPTIMIZERS', 'OPTIM_WRAPPERS',
          'OPTIM_WRAPPER_CONSTRUCTORS', 'PARAM_SCHEDULERS', 'EVALUATOR', 'TASK_UTILS',
          'VISUALIZERS', 'VISBACKENDS', 'LOG_PROCESSORS', 'INFERENCERS', 'STRATEGIES')


def _children() -> dict:
    out = {}
    for name in _ROOTS:
        root = getattr(mm, name, None)
        if root is None or 'wsal' in root.children:
            continue  # absent in this mmengine, or wsal.registry made one
        out[name] = mm.Registry(root.name, parent=root, scope='wsal')
    return out


ENGINE_CHILDREN = _children()
