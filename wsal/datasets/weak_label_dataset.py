"""``WeakLabelFeatureDataset``: videos with video-level labels only
(the paper's micro-videos, "+MV"), concatenated with a training split by config."""
from __future__ import annotations

import os
from typing import Iterable, List, Optional, Sequence, Tuple, Union

from wsal.registry import DATASETS

from .annotations import (VideoRecord, _unknown_label, load_json_strict, load_video_list,
                          load_weak_labels, resolve_classes)
from .base import FeatureDatasetBase, resolve_path

__all__ = ['WeakLabelFeatureDataset']

PathLike = Union[str, os.PathLike]


@DATASETS.register_module()
class WeakLabelFeatureDataset(FeatureDatasetBase):
    """Features with video-level labels and no temporal annotations.

    Items have the same form as :class:`WSALFeatureDataset`'s, with empty
    ``gt_segments`` / ``gt_labels`` (``[0, 2]`` / ``[0]``) and, when the label
    file gives no duration, ``duration = T * stride / fps``. Use it for
    training only, concatenated with the main split::

        train_dataloader = dict(dataset=dict(type='ConcatDataset', datasets=[
            dict(type='WSALFeatureDataset', ...),
            dict(type='WeakLabelFeatureDataset', label_file='micro_videos.json', ...)]))

    Args:
        data_root: Root the label file and feature template are relative to.
        label_file: JSON (``{video_id: [labels]}`` or ActivityNet-style with
            ``labels``) or CSV/TSV (``video_id,label;label``); see
            :func:`~wsal.datasets.annotations.load_weak_labels`.
        classes: Class names in label order (must match the main split's
            for concatenation), or a text file; None: the file's ``classes``
            key, else its sorted labels.
        video_list: Optional file restricting the videos.
        ignore_labels: Labels dropped silently; other unknown labels are errors.
        **kwargs: :class:`~wsal.datasets.base.FeatureDatasetBase` options.
    """

    def __init__(self, *, data_root: Optional[PathLike] = None,
                 label_file: PathLike = 'micro_videos.json',
                 classes: Union[Sequence[str], PathLike, None] = None,
                 video_list: Optional[PathLike] = None,
                 ignore_labels: Iterable[str] = (), **kwargs) -> None:
        self.label_file = resolve_path(label_file, data_root)
        self._classes_arg = classes
        self.video_list = resolve_path(video_list, data_root)
        self.ignore_labels = tuple(ignore_labels)
        super().__init__(data_root=data_root, **kwargs)

    def _describe(self) -> str:
        return f'{self.label_file} (weak labels)'

    def _load_records(self) -> Tuple[Tuple[str, ...], List[VideoRecord]]:
        entries = load_weak_labels(self.label_file)
        meta = {}
        if self.label_file.suffix.lower() == '.json':
            data = load_json_strict(self.label_file)
            if isinstance(data, dict) and isinstance(data.get('classes'), list):
                meta['classes'] = data['classes']
        pseudo = {'database': {v: {'labels': e['labels']} for v, e in entries.items()}, **meta}
        classes = resolve_classes(self._classes_arg, pseudo, self.label_file)
        index = {c: i for i, c in enumerate(classes)}
        ids = list(entries)
        if self.video_list is not None:
            ids = load_video_list(self.video_list)
            missing = [v for v in ids if v not in entries]
            if missing:
                raise ValueError(f'video list {self.video_list}: {len(missing)} id(s) not in '
                                 f'{self.label_file}: {missing[:5]}')
        records = []
        for vid in ids:
            e = entries[vid]
            labs = set()
            for lab in e['labels']:
                if lab in self.ignore_labels:
                    continue
                if lab not in index:
                    raise _unknown_label(lab, classes, f"{self.label_file}: video '{vid}', field 'labels'")
                labs.add(index[lab])
            fps = float(e['fps']) if e.get('fps') is not None else self.default_fps
            dur = float(e['duration']) if e.get('duration') is not None else None
            if fps <= 0 or (dur is not None and dur <= 0):
                raise ValueError(f"{self.label_file}: video '{vid}': fps and duration must be > 0")
            records.append(VideoRecord(video_id=vid, subset=None, duration=dur, fps=fps,
                                       label_indices=tuple(sorted(labs))))
        return classes, records
