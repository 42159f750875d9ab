"""Detections as plain records, and the ActivityNet result format written from them.

A *detection record* is one video's detections as plain Python lists::

    {'video_id': str, 'segments': [[s, e], ...] (seconds), 'scores': [...], 'labels': [...]}

:class:`CollectDetections` gathers them during ``runner.test()`` (over all
ranks); :func:`detection_records` makes them from a model's ``predict``
output directly; :func:`predictions_to_activitynet` turns them into the
ActivityNet result format that :func:`wsal.evaluation.evaluate_detection` reads.
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence

import torch
from mmengine.evaluator import BaseMetric

from wsal.registry import METRICS

__all__ = ['CollectDetections', 'detection_records', 'predictions_to_activitynet']


def _list(x: Any) -> list:
    if torch.is_tensor(x):
        return x.detach().cpu().tolist()
    return list(x) if x is not None else []


def detection_records(predictions: Sequence[dict]) -> List[dict]:
    """One record per prediction (``video_id`` and ``detections`` of ``predict``).

    Args:
        predictions: The localizer's ``predict`` output, one dict per video with
            ``detections = {'segments': [N, 2], 'scores': [N], 'labels': [N]}``.

    Returns:
        list[dict]: ``{'video_id', 'segments', 'scores', 'labels'}`` per video.
    """
    out = []
    for pred in predictions:
        det = pred.get('detections') or {}
        out.append({'video_id': str(pred['video_id']),
                    'segments': _list(det.get('segments')),
                    'scores': _list(det.get('scores')),
                    'labels': [int(v) for v in _list(det.get('labels'))]})
    return out


@METRICS.register_module()
class CollectDetections(BaseMetric):
    """Keeps the detection records of every test video; computes no metric.

    :func:`wsal.apis.run_test` adds it to the test evaluator and reads
    :attr:`collected` (on rank 0, gathered over ranks by mmengine) to write
    the predictions file.
    """

    default_prefix = 'collect'

    def __init__(self, *, collect_device: str = 'cpu', prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.collected: List[dict] = []

    def process(self, data_batch: Any, data_samples: Sequence[dict]) -> None:  # noqa: D102
        self.results.extend(detection_records(data_samples))

    def compute_metrics(self, results: list) -> Dict[str, float]:  # noqa: D102
        self.collected = list(results)
        return {}


def predictions_to_activitynet(records: Sequence[dict], classes: Sequence[str], *,
                               version: str = 'wsal') -> dict:
    """ActivityNet result format (seconds) from detection records.

    Videos without detections get an empty list (so every evaluated video is
    present); detections are sorted by descending score.

    Raises:
        ValueError: a label is not a class index (the message names the video).
    """
    results: Dict[str, list] = {}
    for rec in records:
        entries = results.setdefault(rec['video_id'], [])
        for (s, e), score, label in zip(rec['segments'], rec['scores'], rec['labels']):
            if not 0 <= label < len(classes):
                raise ValueError(f"video '{rec['video_id']}': detection label {label} is not a "
                                 f'class index (0..{len(classes) - 1})')
            entries.append({'label': classes[label], 'score': float(score),
                            'segment': [float(s), float(e)]})
        entries.sort(key=lambda d: -d['score'])
    return {'version': version, 'results': results, 'external_data': {}}
