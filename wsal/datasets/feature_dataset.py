"""``WSALFeatureDataset``: the canonical layout (ActivityNet-style gt.json +
one ``.npy`` per video and stream)."""
from __future__ import annotations

import os
from typing import Iterable, List, Optional, Sequence, Tuple, Union

from wsal.registry import DATASETS

from .annotations import (VideoRecord, load_activitynet_gt, load_video_list,
                          parse_annotations, resolve_classes)
from .base import FeatureDatasetBase, resolve_path

__all__ = ['WSALFeatureDataset']

PathLike = Union[str, os.PathLike]


@DATASETS.register_module()
class WSALFeatureDataset(FeatureDatasetBase):
    """Pre-extracted two-stream features in wsal's canonical layout.

    ::

        DATA_ROOT/gt.json                       {"database": {video_id: {"subset", "duration",
                                                 "fps" (optional), "annotations": [...]}},
                                                 "classes": [...] (optional)}
        DATA_ROOT/features/rgb/<video_id>.npy   float32 [T, D_rgb]
        DATA_ROOT/features/flow/<video_id>.npy  float32 [T, D_flow]

    Segment t covers seconds ``[t * stride / fps, (t + 1) * stride / fps)``;
    a video's own ``fps`` in gt.json wins over ``default_fps``.

    ``dataset[i]`` returns ``{'inputs': {modality: FloatTensor[T, D]},
    'data_sample': {'video_id', 'label' [C] multi-hot, 'num_segments',
    'duration', 'seconds_per_segment', 'gt_segments' [N, 2] seconds,
    'gt_labels' [N]}}`` (docs/design.md "Dataset item").

    Args:
        data_root: Root folder of the layout.
        ann_file: Annotation file, relative to ``data_root`` (or absolute).
        subset: Subset name(s) to keep (``'validation'``, ``['train', 'val']``);
            None keeps every video.
        classes: Class names in label order, or a text file with one per line;
            None: the file's ``classes`` list if present, else its sorted labels.
        video_list: File of video ids (one per line) restricting the split;
            relative to ``data_root``, or ``'wsal-data:thumos14_split_test.txt'``
            for the packaged 210-video THUMOS14 test list. Every listed id must
            be in the selected subset.
        ignore_labels: Instance labels to drop (e.g. ``('Ambiguous',)``).
        out_of_range: Instances ending after the video duration: ``'keep'``
            (default, logged; matches the official THUMOS14 evaluation),
            ``'clip'``, ``'drop'`` or ``'error'``.
        range_tolerance: Seconds past the duration accepted silently.
        **kwargs: :class:`~wsal.datasets.base.FeatureDatasetBase` options
            (``modalities``, ``feature_template``, ``stride``, ``default_fps``,
            ``feature_dims``, ``num_segments``, ``resample``, ``min_segments``,
            ``max_length_mismatch``, ``check_finite``, ``cache``,
            ``skip_invalid``, ``lazy_init``).

    Example:
        >>> ds = WSALFeatureDataset(data_root='data/thumos14', subset='validation')
        >>> item = ds[0]; item['inputs']['rgb'].shape
        torch.Size([T, 1024])
    """

    def __init__(self, *, data_root: Optional[PathLike] = None, ann_file: PathLike = 'gt.json',
                 subset: Union[str, Sequence[str], None] = None,
                 classes: Union[Sequence[str], PathLike, None] = None,
                 video_list: Optional[PathLike] = None,
                 ignore_labels: Iterable[str] = (), out_of_range: str = 'keep',
                 range_tolerance: float = 0.0, **kwargs) -> None:
        self.ann_file = resolve_path(ann_file, data_root)
        self.subset = (None if subset is None else
                       (subset,) if isinstance(subset, str) else tuple(subset))
        self._classes_arg = classes
        self.video_list = resolve_path(video_list, data_root)
        self.ignore_labels = tuple(ignore_labels)
        self.out_of_range = out_of_range
        self.range_tolerance = float(range_tolerance)
        super().__init__(data_root=data_root, **kwargs)

    def _describe(self) -> str:
        sub = 'all subsets' if self.subset is None else f"subset {'/'.join(self.subset)}"
        lst = f', list {self.video_list}' if self.video_list is not None else ''
        return f'{self.ann_file} ({sub}{lst})'

    def _load_records(self) -> Tuple[Tuple[str, ...], List[VideoRecord]]:
        data = load_activitynet_gt(self.ann_file)
        classes = resolve_classes(self._classes_arg, data, self.ann_file)
        records = parse_annotations(
            data, ann_file=self.ann_file, classes=classes, subsets=self.subset,
            default_fps=self.default_fps, ignore_labels=self.ignore_labels,
            out_of_range=self.out_of_range, range_tolerance=self.range_tolerance)
        if not records:
            present = sorted({str(v.get('subset')) for v in data['database'].values()
                              if isinstance(v, dict)})
            raise ValueError(f'{self._describe()}: the split is empty; subsets in the file: '
                             f'{present}')
        if self.video_list is not None:
            wanted = load_video_list(self.video_list)
            by_id = {r.video_id: r for r in records}
            missing = [v for v in wanted if v not in by_id]
            if missing:
                other = {v: data['database'][v].get('subset') for v in missing
                         if v in data['database']}
                detail = (f' ({len(other)} of them are in other subsets, e.g. '
                          f"'{next(iter(other))}' in '{next(iter(other.values()))}')" if other else '')
                raise ValueError(f'video list {self.video_list}: {len(missing)} id(s) not in '
                                 f'{self._describe()}: {missing[:5]}{detail}')
            records = [by_id[v] for v in wanted]
        return classes, records
