"""Detections to the ActivityNet result format (what the official evaluators read)."""
from __future__ import annotations

import math
from typing import Any, Dict, Mapping, Optional, Sequence, Union

from ..utils import atomic_write_json

__all__ = ['to_activitynet', 'save_activitynet']


def _as_list(value: Any, name: str, vid: str) -> list:
    if hasattr(value, 'detach'):
        value = value.detach().cpu().tolist()
    try:
        return list(value)
    except TypeError:
        raise TypeError(f"detections of video '{vid}': '{name}' is not a sequence") from None


def to_activitynet(detections: Union[Mapping[str, dict], Sequence[dict]],
                   class_names: Sequence[str], *, video_ids: Optional[Sequence[str]] = None,
                   version: str = 'wsal', external_data: Optional[dict] = None) -> Dict[str, Any]:
    """Build ``{"version", "results": {vid: [{"label", "score", "segment"}]}, "external_data"}``.

    Args:
        detections: ``{video_id: {'segments' [N, 2], 'scores' [N], 'labels' [N]}}``,
            or a list of such dicts with ``video_ids`` given, or a list of
            ``predict`` outputs (``{'video_id', 'detections': {...}}``).
        class_names: ``C`` class names; label ``i`` is ``class_names[i]``.
        video_ids: Video ids matching a list of detection dicts.
        version: The ``version`` field.
        external_data: The ``external_data`` field (default ``{}``).

    Returns:
        dict: JSON-serialisable results, per video by decreasing score.

    Raises:
        ValueError / KeyError / TypeError: naming the video and field at fault.
    """
    if isinstance(detections, Mapping):
        items = list(detections.items())
    else:
        detections = list(detections)
        if video_ids is not None:
            if len(video_ids) != len(detections):
                raise ValueError(f'{len(video_ids)} video ids for {len(detections)} detection dicts')
            items = list(zip(video_ids, detections))
        else:
            items = []
            for i, entry in enumerate(detections):
                if not isinstance(entry, Mapping) or 'video_id' not in entry or 'detections' not in entry:
                    raise KeyError(f"detections[{i}] needs 'video_id' and 'detections' "
                                   f"(or pass video_ids=)")
                items.append((entry['video_id'], entry['detections']))
    names = list(class_names)
    results: Dict[str, list] = {}
    for vid, det in items:
        vid = str(vid)
        if vid in results:
            raise ValueError(f"video '{vid}' appears twice in the detections")
        for key in ('segments', 'scores', 'labels'):
            if key not in det:
                raise KeyError(f"detections of video '{vid}' lack '{key}'")
        segs = _as_list(det['segments'], 'segments', vid)
        scores = _as_list(det['scores'], 'scores', vid)
        labels = _as_list(det['labels'], 'labels', vid)
        if not len(segs) == len(scores) == len(labels):
            raise ValueError(f"detections of video '{vid}': {len(segs)} segments, "
                             f'{len(scores)} scores, {len(labels)} labels')
        entries = []
        for seg, score, label in zip(segs, scores, labels):
            label = int(label)
            if not 0 <= label < len(names):
                raise ValueError(f"detections of video '{vid}': label {label} outside "
                                 f'0..{len(names) - 1} ({len(names)} class names)')
            seg = [float(x) for x in seg]
            if len(seg) != 2 or not all(math.isfinite(x) for x in seg) or not math.isfinite(float(score)):
                raise ValueError(f"detections of video '{vid}': bad segment {seg} / score {score}")
            entries.append({'label': names[label], 'score': float(score), 'segment': seg})
        entries.sort(key=lambda e: -e['score'])  # stable: equal scores keep their order
        results[vid] = entries
    return {'version': version, 'results': results,
            'external_data': dict(external_data) if external_data is not None else {}}


def save_activitynet(path, detections, class_names, **kwargs) -> Dict[str, Any]:
    """:func:`to_activitynet`, written atomically to ``path`` as JSON; returns the dict."""
    result = to_activitynet(detections, class_names, **kwargs)
    atomic_write_json(path, result)
    return result
