"""wsal.evaluation: detection mAP (ActivityNet semantics), classification mAP, attention health.

Functional API (ActivityNet-format files or dicts)::

    from wsal.evaluation import evaluate_detection, format_map_table
    res = evaluate_detection('wsal/data/thumos14_gt.json', 'pred.json', subset='test',
                             video_list='wsal/data/thumos14_split_test.txt', preset='thumos14')
    print(format_map_table(res))          # percent, with the protocol
    res.ap, res.mAP, res.averages         # [T, C], [T], {'0.1-0.7': ..., '0.1-0.9': ...}

mmengine metrics (registered in ``wsal.registry.METRICS``): ``DetectionMAP``,
``ClassificationMAP``, ``AttentionHealth``, ``CollectDetections``.
"""
from .attention_health import AttentionHealth, attention_health, frame_auc, frames_in_segments
from .average_precision import interpolated_ap, ranked_ap
from .classification_metric import ClassificationMAP, classification_map
from .convergence import loss_still_falling
from .detection import DetectionResult, compute_detection_ap, evaluate_detection
from .detection_metric import DetectionMAP
from .detection_records import CollectDetections, detection_records, predictions_to_activitynet
from .ground_truth import GroundTruth, load_ground_truth, read_video_list
from .matching import greedy_match
from .predictions import Predictions, load_predictions
from .protocols import PRESETS, get_preset, parse_tiou
from .report import describe_protocol, format_map_comparison, format_map_table
from .tiou import paired_tiou, segment_tiou

__all__ = [
    'AttentionHealth', 'attention_health', 'frame_auc', 'frames_in_segments',
    'loss_still_falling', 'CollectDetections', 'detection_records', 'predictions_to_activitynet',
    'interpolated_ap', 'ranked_ap', 'ClassificationMAP', 'classification_map',
    'DetectionResult', 'compute_detection_ap', 'evaluate_detection', 'DetectionMAP',
    'GroundTruth', 'load_ground_truth', 'read_video_list', 'greedy_match',
    'Predictions', 'load_predictions', 'PRESETS', 'get_preset', 'parse_tiou',
    'describe_protocol', 'format_map_comparison', 'format_map_table',
    'paired_tiou', 'segment_tiou',
]
