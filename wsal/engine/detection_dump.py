"""Collect per-video detections during ``runner.test()`` (all ranks gathered)."""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence

import torch
from mmengine.evaluator import BaseMetric

from wsal.registry import METRICS

__all__ = ['CollectDetections', 'predictions_to_activitynet']


def _list(x: Any) -> list:
    if torch.is_tensor(x):
        return x.detach().cpu().tolist()
    return list(x) if x is not None else []


@METRICS.register_module()
class CollectDetections(BaseMetric):
    """Keeps the detections of every test video; computes no metric.

    ``wsal test`` appends it to the test evaluator and reads :attr:`collected`
    (on rank 0, gathered over ranks by mmengine) to write the predictions file.
    """

    default_prefix = 'collect'

    def __init__(self, *, collect_device: str = 'cpu', prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.collected: List[dict] = []

    def process(self, data_batch: Any, data_samples: Sequence[dict]) -> None:  # noqa: D102
        for pred in data_samples:
            det = pred.get('detections') or {}
            self.results.append({
                'video_id': str(pred['video_id']),
                'segments': _list(det.get('segments')),
                'scores': _list(det.get('scores')),
                'labels': [int(v) for v in _list(det.get('labels'))],
            })

    def compute_metrics(self, results: list) -> Dict[str, float]:  # noqa: D102
        self.collected = list(results)
        return {}


def predictions_to_activitynet(records: Sequence[dict], classes: Sequence[str], *,
                               version: str = 'wsal') -> dict:
    """ActivityNet result format (seconds) from :class:`CollectDetections` records.

    Videos without detections get an empty list (so every evaluated video is
    present); detections are sorted by descending score.
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
