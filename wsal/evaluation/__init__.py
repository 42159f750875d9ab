"""wsal.evaluation: detection mAP (ActivityNet semantics), classification mAP, attention health.

Functional API (ActivityNet-format files or dicts)::

    from wsal.evaluation import evaluate_detection, format_map_table
    res = evaluate_detection('wsal/data/thumos14_gt.json', 'pred.json', subset='test',
                             video_list='wsal/data/thumos14_split_test.txt', preset='thumos14')
    print(format_map_table(res))          # percent, with the protocol
    res.ap, res.mAP, res.averages         # [T, C], [T], {'0.1-0.7': ..., '0.1-0.9': ...}

mmengine metrics (registered in ``wsal.registry.METRICS``): ``DetectionMAP``,
``ClassificationMAP``, ``AttentionHealth``, ``CollectDetections``. They (and the
helpers of their modules) are imported on first access or by the registry, so
that ``wsal eval`` and the functional API above need neither torch nor mmengine.
"""
import importlib

from .average_precision import interpolated_ap, ranked_ap
from .convergence import (attention_declined, attention_still_moving, detection_declined,
                          loss_still_falling, terms_at_chance)
from .detection import DetectionResult, compute_detection_ap, evaluate_detection
from .ground_truth import GroundTruth, load_ground_truth, read_video_list
from .matching import greedy_match
from .predictions import Predictions, load_predictions
from .protocols import PRESETS, get_preset, parse_tiou
from .report import describe_protocol, format_map_comparison, format_map_table
from .tiou import paired_tiou, segment_tiou

__all__ = [
    'AttentionHealth', 'attention_health', 'class_aucs', 'frame_auc', 'frames_in_segments',
    'loss_still_falling', 'attention_still_moving', 'attention_declined', 'detection_declined',
    'terms_at_chance',
    'CollectDetections',
    'detection_records',
    'predictions_to_activitynet',
    'interpolated_ap', 'ranked_ap', 'ClassificationMAP', 'classification_map',
    'DetectionResult', 'compute_detection_ap', 'evaluate_detection', 'DetectionMAP',
    'GroundTruth', 'load_ground_truth', 'read_video_list', 'greedy_match',
    'Predictions', 'load_predictions', 'PRESETS', 'get_preset', 'parse_tiou',
    'describe_protocol', 'format_map_comparison', 'format_map_table',
    'paired_tiou', 'segment_tiou',
]

#: Names served lazily: ``{name: module}`` (these modules import mmengine).
_LAZY = {
    'AttentionHealth': 'attention_health', 'attention_health': 'attention_health',
    'frame_auc': 'attention_health', 'frames_in_segments': 'attention_health',
    'class_aucs': 'attention_health',
    'ClassificationMAP': 'classification_metric', 'classification_map': 'classification_metric',
    'DetectionMAP': 'detection_metric',
    'CollectDetections': 'detection_records', 'detection_records': 'detection_records',
    'predictions_to_activitynet': 'detection_records',
}


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(f'{__name__}.{_LAZY[name]}'), name)
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')
