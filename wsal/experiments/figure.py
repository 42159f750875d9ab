"""One Figure-4-style plot of several trained models on the same test video."""
from __future__ import annotations

from typing import Optional, Sequence, Tuple

__all__ = ['save_models_figure']


def save_models_figure(path: str, models: Sequence[Tuple[str, object]], *,
                       dataset_cfg) -> Optional[str]:
    """Plot each model on one test video (one row block per model); return ``path``.

    The video is the first one of the dataset with several instances of one
    class (:func:`wsal.visualization.pick_figure_video`).

    Args:
        path: PNG to write (atomically).
        models: ``(name, localizer)`` pairs (trained models, eval mode or not).
        dataset_cfg: Config of the test dataset.

    Returns:
        ``path``, or None without models.
    """
    from wsal.datasets.collate import wsal_collate
    from wsal.registry import build_dataset
    from wsal.visualization import (figure_video_reason, pick_figure_video,
                                    save_localization_figure, trace_videos)
    if not models:
        return None
    dataset = build_dataset(dataset_cfg)
    index = pick_figure_video(dataset.records)
    batch = wsal_collate([dataset[index]])
    traces = []
    for _, model in models:
        traces += trace_videos(model, batch)
    save_localization_figure(path, traces, model_names=[name for name, _ in models],
                             classes=dataset.metainfo.get('classes'),
                             reason=figure_video_reason(dataset.records, index))
    return path
