"""Post-processing: proposals, scoring, NMS and the detection pipeline (any device).

Public API (see docs/design.md, "Post-processing" and "IoU convention"):

* :func:`temporal_nms`, :func:`soft_nms`: exact, vectorized greedy NMS / soft-NMS;
* proposal generators :class:`AttentionThresholdProposals`,
  :class:`TCAMThresholdProposals`; scorers :class:`WeightedTCAMScorer`,
  :class:`OuterInnerContrastScorer`; NMS modules :class:`TemporalNMS`,
  :class:`SoftNMS`; the :class:`DetectionPipeline` (all in ``POSTPROCESSORS``);
* :func:`localize_batch`: the whole procedure for a batch on plain tensors;
* :func:`to_activitynet` / :func:`save_activitynet`: ActivityNet result format.
"""
from .class_scores import ClassScoreContrastScorer, ClassScoreThresholdProposals, class_score_map
from .formats import save_activitynet, to_activitynet
from .iou import (intersection_union, iou_exceeds, pairwise_segment_iou, segment_iou,
                  threshold_fraction)
from .nms import SoftNMS, TemporalNMS, soft_nms, temporal_nms
from .pipeline import (DetectionPipeline, Detections, expand_proposals, localize, localize_batch,
                       select_classes, unique_proposals)
from .proposals import (AttentionThresholdProposals, Proposals, TCAMThresholdProposals,
                        attention_proposals, default_thresholds, threshold_runs, weighted_tcam)
from .scoring import (OuterInnerContrastScorer, WeightedTCAMScorer, interval_means,
                      interval_sums, prefix_sums, weighted_cas)

__all__ = [
    'temporal_nms', 'soft_nms', 'TemporalNMS', 'SoftNMS',
    'Proposals', 'default_thresholds', 'threshold_runs', 'attention_proposals', 'weighted_tcam',
    'AttentionThresholdProposals', 'TCAMThresholdProposals',
    'weighted_cas', 'prefix_sums', 'interval_sums', 'interval_means',
    'WeightedTCAMScorer', 'OuterInnerContrastScorer',
    'Detections', 'select_classes', 'unique_proposals', 'expand_proposals', 'localize',
    'localize_batch', 'DetectionPipeline',
    'to_activitynet', 'save_activitynet',
    'threshold_fraction', 'intersection_union', 'iou_exceeds', 'segment_iou',
    'pairwise_segment_iou',
    'class_score_map', 'ClassScoreThresholdProposals', 'ClassScoreContrastScorer',
]
