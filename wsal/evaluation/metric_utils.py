"""Helpers shared by the mmengine metrics: field access and tensor conversion."""
from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np

__all__ = ['to_numpy', 'get_field', 'dataset_classes', 'check_rows',
           'check_detection_arrays']


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


def check_rows(name: str, a: Any, ndim: int, n: int = None, *, owner: str) -> np.ndarray:
    """``a`` as an array of shape ``[N]`` (``ndim=1``) or ``[N, 2]`` (``ndim=2``), else a
    ValueError naming ``owner`` and the argument; ``n``: the rows it must have."""
    a = np.asarray(a)
    if a.ndim != ndim or (ndim == 2 and a.shape[1] != 2):
        want = '[N, 2]' if ndim == 2 else '[N]'
        raise ValueError(f'{owner}: {name} must have shape {want}, got {tuple(a.shape)}')
    if n is not None and a.shape[0] != n:
        raise ValueError(f'{owner}: {name} has {a.shape[0]} rows, expected {n}')
    return a


def check_detection_arrays(*, gt_video, gt_class, gt_segments, pred_video, pred_class,
                           pred_segments, owner: str):
    """The flat ground-truth and detection arrays of the diagnostics, checked and typed.

    Returns:
        tuple: ``gt_video [M]``, ``gt_class [M]`` (int64), ``gt_segments [M, 2]``
        (float64), ``pred_video [N]``, ``pred_class [N]`` (int64), ``pred_segments
        [N, 2]`` (float64).

    Raises:
        ValueError: a wrong shape or row count, naming ``owner`` and the argument.
    """
    gt_video = check_rows('gt_video', gt_video, 1, owner=owner).astype(np.int64)
    m = gt_video.shape[0]
    pred_video = check_rows('pred_video', pred_video, 1, owner=owner).astype(np.int64)
    n = pred_video.shape[0]
    return (gt_video, check_rows('gt_class', gt_class, 1, m, owner=owner).astype(np.int64),
            check_rows('gt_segments', gt_segments, 2, m, owner=owner).astype(np.float64),
            pred_video, check_rows('pred_class', pred_class, 1, n, owner=owner).astype(np.int64),
            check_rows('pred_segments', pred_segments, 2, n, owner=owner).astype(np.float64))
