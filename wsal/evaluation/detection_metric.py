"""``DetectionMAP``: the detection mAP as an mmengine metric."""
from __future__ import annotations

import logging
from typing import Any, Dict, Iterable, List, Optional, Sequence

from mmengine.evaluator import BaseMetric
from mmengine.logging import print_log

from wsal.registry import METRICS
from wsal.utils import atomic_write_json
from wsal.utils.ranges import check_number_list

from .detection import evaluate_detection
from .ground_truth import GroundTruth
from .metric_utils import dataset_classes, get_field, to_numpy
from .predictions import Predictions
from .protocols import as_pairs, get_preset, resolve_average_ranges
from .report import format_map_table

__all__ = ['DetectionMAP']


@METRICS.register_module()
class DetectionMAP(BaseMetric):
    """Detection mAP (ActivityNet semantics, see :mod:`wsal.evaluation.detection`).

    Consumes the model's ``predict`` outputs (``docs/design.md``): per video
    ``video_id`` and ``detections`` (``segments [N, 2]`` seconds, ``scores [N]``,
    ``labels [N]`` in 0..C-1), and, without ``ann_file``, ``gt_segments [K, 2]``
    and ``gt_labels [K]``. Class names come from ``self.dataset_meta['classes']``.

    Reported keys (fractions): ``detection/mAP@<t>`` per threshold,
    ``detection/avg_mAP_<lo>-<hi>`` per averaging range (the range of all
    thresholds always included). The percent table with its protocol is logged.

    Args:
        preset: ``'thumos14'`` (tIoU 0.1:0.1:0.9, averages 0.1-0.7 and 0.1-0.9,
            subset ``test``) or ``'activitynet'`` (0.5:0.05:0.95, subset ``validation``).
        tiou_thresholds: Override the preset's thresholds.
        average_ranges: Override the preset's averaging ranges (``[(lo, hi)]``).
        ann_file: ActivityNet-format ground truth. None: use the
            ``gt_segments``/``gt_labels`` of the predict outputs (all processed videos).
        subset: Subset of ``ann_file`` (default: the preset's).
        video_list: Restrict ``ann_file`` to these videos (file or ids).
        ignore_unknown_labels: See :func:`evaluate_detection`.
        outside_videos: Predictions for videos outside the evaluated set:
            ``'ignore'``, ``'false_positive'`` or ``'error'``.
        prediction_file: Also write the detections (ActivityNet results JSON).
        metrics_file: Also write the result JSON (fractions, with protocol).
        diagnose: Also compute the score-free recall and the breakdown of
            missed instances (:mod:`wsal.evaluation.diagnostics`): reported as
            ``detection/recall@<t>`` and kept in ``last_result.diagnostics``.
        collect_device: mmengine's ``collect_device``.
        prefix: Key prefix (default ``'detection'``).

    Example:
        >>> val_evaluator = dict(type='DetectionMAP', preset='thumos14',
        ...                      ann_file='wsal/data/thumos14_gt.json',
        ...                      video_list='wsal/data/thumos14_split_test.txt')
    """

    default_prefix = 'detection'

    def __init__(self, *, preset: str = 'thumos14',
                 tiou_thresholds: Optional[Sequence[float]] = None,
                 average_ranges: Optional[Iterable] = None,
                 ann_file: Optional[str] = None, subset: Optional[str] = None,
                 video_list: Optional[Any] = None, ignore_unknown_labels: bool = False,
                 outside_videos: str = 'false_positive', prediction_file: Optional[str] = None,
                 metrics_file: Optional[str] = None, diagnose: bool = False,
                 collect_device: str = 'cpu', prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        p = get_preset(preset)
        self.preset = preset
        self.tiou_thresholds = list(tiou_thresholds) if tiou_thresholds is not None \
            else p['tiou_thresholds']
        if average_ranges is not None:
            self.average_ranges = list(average_ranges)
        elif tiou_thresholds is None:
            self.average_ranges = p['average_ranges']
        else:
            self.average_ranges = None
        owner = type(self).__name__
        self.tiou_thresholds = list(check_number_list(
            self.tiou_thresholds, owner=owner, key='tiou_thresholds', low=0.0, high=1.0,
            open_low=True))
        try:
            resolve_average_ranges(self.tiou_thresholds, as_pairs(self.average_ranges)
                                   if self.average_ranges is not None else None)
        except ValueError as exc:
            raise ValueError(f'{owner}: average_ranges: {exc}') from None
        if outside_videos not in ('false_positive', 'ignore', 'error'):
            raise ValueError(f"{owner}: outside_videos must be 'false_positive', 'ignore' or "
                             f"'error', got {outside_videos!r}")
        self.ann_file = ann_file
        self.subset = subset if subset is not None else (p['subset'] if ann_file else None)
        self.video_list = video_list
        self.ignore_unknown_labels = ignore_unknown_labels
        self.outside_videos = outside_videos
        self.prediction_file = prediction_file
        self.metrics_file = metrics_file
        self.diagnose = bool(diagnose)
        self.last_result = None

    def process(self, data_batch: Any, data_samples: Sequence[dict]) -> None:
        """Keep each video's detections (and ground truth without ``ann_file``) as numpy."""
        name = type(self).__name__
        for s in data_samples:
            det = get_field(s, 'detections', name)
            vid = str(get_field(s, 'video_id', name))
            item = {'video_id': vid}
            for key in ('segments', 'scores', 'labels'):
                if key not in det:
                    raise ValueError(f"{name}: detections of video '{vid}' have no '{key}' field")
            item['segments'] = to_numpy(det['segments'], 'float64').reshape(-1, 2)
            item['scores'] = to_numpy(det['scores'], 'float64').reshape(-1)
            item['labels'] = to_numpy(det['labels'], 'int64').reshape(-1)
            if self.ann_file is None:
                item['gt_segments'] = to_numpy(get_field(s, 'gt_segments', name),
                                               'float64').reshape(-1, 2)
                item['gt_labels'] = to_numpy(get_field(s, 'gt_labels', name), 'int64').reshape(-1)
            self.results.append(item)

    def compute_metrics(self, results: List[dict]) -> Dict[str, float]:
        """Evaluate the collected detections; log the table; write the optional files."""
        name = type(self).__name__
        classes = dataset_classes(self.dataset_meta, name)
        if not results:
            raise ValueError(f'{name}: no predict outputs were processed')
        pred = Predictions.from_arrays(
            videos=[r['video_id'] for r in results], segments=[r['segments'] for r in results],
            scores=[r['scores'] for r in results], labels=[r['labels'] for r in results],
            class_names=classes)
        if self.ann_file is None:
            gt = GroundTruth.from_arrays(
                videos=[r['video_id'] for r in results],
                segments=[r['gt_segments'] for r in results],
                labels=[r['gt_labels'] for r in results], class_names=classes,
                source='<gt_segments/gt_labels of the predict outputs>')
            kwargs = {}
        else:
            gt = self.ann_file
            kwargs = dict(subset=self.subset, video_list=self.video_list, classes=classes)
        res = evaluate_detection(
            gt, pred, tiou_thresholds=self.tiou_thresholds, average_ranges=self.average_ranges,
            ignore_unknown_labels=self.ignore_unknown_labels,
            outside_videos=self.outside_videos, diagnose=self.diagnose, **kwargs)
        res.protocol['preset'] = self.preset
        self.last_result = res
        print_log('\n' + format_map_table(res), logger='current', level=logging.INFO)
        if self.prediction_file:
            atomic_write_json(self.prediction_file, pred.to_results())
        if self.metrics_file:
            atomic_write_json(self.metrics_file, res.to_dict())
        out = {f'mAP@{t:g}': float(v) for t, v in zip(res.tiou_thresholds, res.mAP)}
        out.update({f'avg_mAP_{k}': v for k, v in res.averages.items()})
        if res.diagnostics is not None:
            out.update({f'recall@{t:g}': float(r) for t, r in
                        zip(res.diagnostics['tiou'], res.diagnostics['recall'])})
        return out
