"""Post-processing: proposals, scoring, NMS and the detection pipeline (any device).

Public API (see docs/design.md, "Post-processing" and "IoU convention"):

* :func:`temporal_nms`, :func:`soft_nms`: exact, vectorized greedy NMS / soft-NMS;
* proposal generators :class:`AttentionThresholdProposals`,
  :class:`TCAMThresholdProposals`, :class:`FusedRankProposals`; scorers
  :class:`WeightedLogitScorer` (formerly ``WeightedTCAMScorer``, still accepted),
  :class:`OuterInnerContrastScorer`; NMS modules :class:`TemporalNMS`,
  :class:`SoftNMS`; the :class:`DetectionPipeline` (all in ``POSTPROCESSORS``);
* :func:`localize_batch`: the whole procedure for a batch on plain tensors;
* :func:`to_activitynet` / :func:`save_activitynet`: ActivityNet result format.
"""
from .class_scores import ClassScoreContrastScorer, ClassScoreThresholdProposals, class_score_map
from .formats import save_activitynet, to_activitynet
from .fused_ranks import FusedRankProposals, fused_ranks
from .iou import (intersection_union, iou_exceeds, pairwise_segment_iou, segment_iou,
                  threshold_fraction)
from .nms import (SoftNMS, TemporalNMS, classwise_nms, shared_proposal_nms, soft_nms,
                  temporal_nms)
from .pipeline import (DetectionPipeline, Detections, expand_proposals, localize, localize_batch,
                       select_classes, unique_proposals)
from .proposals import (AttentionThresholdProposals, Proposals, TCAMThresholdProposals,
                        attention_proposals, attention_weighted_probabilities,
                        default_thresholds, stream_weighted_sum, threshold_runs, weighted_tcam)
from .scoring import (OuterInnerContrastScorer, WeightedLogitScorer, WeightedTCAMScorer,
                      attention_weighted_logits, interval_means, interval_sums, prefix_sums,
                      rescaled_attention, scale_by_video_score, weighted_cas)
from .threads import op_threads

__all__ = [
    'temporal_nms', 'soft_nms', 'shared_proposal_nms', 'classwise_nms', 'TemporalNMS', 'SoftNMS',
    'Proposals', 'default_thresholds', 'threshold_runs', 'attention_proposals',
    'stream_weighted_sum', 'attention_weighted_probabilities', 'weighted_tcam',
    'AttentionThresholdProposals', 'TCAMThresholdProposals', 'FusedRankProposals', 'fused_ranks',
    'attention_weighted_logits', 'weighted_cas', 'prefix_sums', 'interval_sums',
    'interval_means', 'rescaled_attention', 'scale_by_video_score', 'WeightedLogitScorer',
    'WeightedTCAMScorer', 'OuterInnerContrastScorer',
    'op_threads',
    'Detections', 'select_classes', 'unique_proposals', 'expand_proposals', 'localize',
    'localize_batch', 'DetectionPipeline',
    'to_activitynet', 'save_activitynet',
    'threshold_fraction', 'intersection_union', 'iou_exceeds', 'segment_iou',
    'pairwise_segment_iou',
    'class_score_map', 'ClassScoreThresholdProposals', 'ClassScoreContrastScorer',
]
