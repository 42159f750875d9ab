"""Helpers shared by the mmengine metrics: field access and tensor conversion."""
from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np

__all__ = ['to_numpy', 'get_field', 'dataset_classes']


def to_numpy(x: Any, dtype=None) -> np.ndarray:
    """A tensor (any device), array or list as a numpy array."""
    if hasattr(x, 'detach'):
        x = x.detach().cpu().numpy()
    arr = np.asarray(x)
    return arr.astype(dtype) if dtype is not None else arr


def get_field(sample: Mapping[str, Any], name: str, metric: str) -> Any:
    """``sample[name]``, or a ValueError naming the metric, video and field."""
    if not isinstance(sample, Mapping):
        # mmengine data samples (BaseDataElement) expose fields as attributes
        if hasattr(sample, name):
            return getattr(sample, name)
        raise ValueError(f"{metric}: a predict output of type {type(sample).__name__} has no "
                         f"'{name}' field")
    if name not in sample:
        vid = sample.get('video_id', '?')
        raise ValueError(f"{metric}: predict output of video '{vid}' has no '{name}' field "
                         f'(fields: {sorted(sample)})')
    return sample[name]


def dataset_classes(meta: Any, metric: str) -> Sequence[str]:
    """``dataset_meta['classes']`` or a clear error."""
    if not meta or 'classes' not in meta:
        raise ValueError(f"{metric}: dataset_meta['classes'] is not set; the Runner sets it "
                         "from the dataset's metainfo (or set metric.dataset_meta = "
                         "{'classes': [...]})")
    return [str(c) for c in meta['classes']]
