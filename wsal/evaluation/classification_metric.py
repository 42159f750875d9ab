"""``ClassificationMAP``: video-level classification mAP as an mmengine metric."""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence

import numpy as np
from mmengine.evaluator import BaseMetric

from wsal.registry import METRICS

from .average_precision import ranked_ap
from .metric_utils import get_field, to_numpy

__all__ = ['ClassificationMAP', 'classification_map']


def classification_map(scores: np.ndarray, labels: np.ndarray) -> Dict[str, Any]:
    """Video-level classification mAP.

    AP per class is the non-interpolated ranked AP over videos
    (:func:`~wsal.evaluation.average_precision.ranked_ap`, tied scores form
    one threshold); mAP averages the classes with at least one positive video.

    Args:
        scores: ``[V, C]`` video-level class scores.
        labels: ``[V, C]`` multi-hot labels.

    Returns:
        dict: ``mAP`` (fraction), ``ap`` ``[C]`` (NaN where a class has no
        positive), ``num_videos``, ``num_classes_evaluated``.

    Raises:
        ValueError: shape mismatch, non-finite scores, or no positive at all.
    """
    scores = np.asarray(scores, dtype=np.float64)
    labels = np.asarray(labels, dtype=np.float64)
    if scores.ndim != 2 or scores.shape != labels.shape:
        raise ValueError(f'video_scores {scores.shape} and label {labels.shape} must both be '
                         '[videos, classes]')
    if not np.isfinite(scores).all():
        raise ValueError('video_scores contain NaN or infinite values')
    ap = ranked_ap(scores, labels)
    valid = ~np.isnan(ap)
    if not valid.any():
        raise ValueError(f'no class has a positive video among the {scores.shape[0]} videos; '
                         'classification mAP is undefined')
    return {'mAP': float(ap[valid].mean()), 'ap': ap, 'num_videos': int(scores.shape[0]),
            'num_classes_evaluated': int(valid.sum())}


@METRICS.register_module()
class ClassificationMAP(BaseMetric):
    """Video-level classification mAP from ``video_scores [C]`` vs ``label [C]``.

    Reported keys: ``classification/mAP`` (fraction) and
    ``classification/num_classes`` (classes with a positive video).

    Args:
        collect_device: mmengine's ``collect_device``.
        prefix: Key prefix (default ``'classification'``).
    """

    default_prefix = 'classification'

    def __init__(self, *, collect_device: str = 'cpu', prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.last_result = None

    def process(self, data_batch: Any, data_samples: Sequence[dict]) -> None:
        """Keep ``video_scores`` and ``label`` of each video."""
        name = type(self).__name__
        for s in data_samples:
            sc = to_numpy(get_field(s, 'video_scores', name), 'float64').reshape(-1)
            lab = to_numpy(get_field(s, 'label', name), 'float64').reshape(-1)
            if sc.shape != lab.shape:
                vid = s.get('video_id', '?') if isinstance(s, dict) else '?'
                raise ValueError(f"{name}: video '{vid}': video_scores has {sc.shape[0]} classes, "
                                 f'label {lab.shape[0]}')
            self.results.append((sc, lab))

    def compute_metrics(self, results: List[tuple]) -> Dict[str, float]:
        """mAP over the classes with at least one positive video."""
        if not results:
            raise ValueError(f'{type(self).__name__}: no predict outputs were processed')
        res = classification_map(np.stack([r[0] for r in results]),
                                 np.stack([r[1] for r in results]))
        self.last_result = res
        return {'mAP': res['mAP'], 'num_classes': res['num_classes_evaluated']}
