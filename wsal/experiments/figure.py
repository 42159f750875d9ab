"""One Figure-4-style plot of several trained models on the same test video."""
from __future__ import annotations

import os.path as osp
from typing import Any, Callable, Iterable, Mapping, Optional, Sequence, Tuple

__all__ = ['save_models_figure', 'save_cells_figure']


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


def save_cells_figure(path: str,
                      entries: Iterable[Tuple[str, Optional[Mapping[str, Any]],
                                              Callable[[str], Any]]], *,
                      log: Callable[[str], None]) -> bool:
    """Plot the trained cells of an experiment with :func:`save_models_figure`.

    Cells without a checkpoint on disk are left out. Any error is logged as a
    warning and swallowed (a figure must never cost the tables).

    Args:
        path: PNG to write (atomically).
        entries: ``(name, cell, config_for)`` per model: ``cell`` is the
            cell's result (None when not run), ``config_for(work_dir)`` the
            cell's resolved config with that work dir. Consumed lazily, so
            errors while building configs are caught too.
        log: Printer of ``figure: <path>`` or of the warning.

    Returns:
        bool: True when the figure was written.
    """
    from wsal.apis.inference import init_localizer
    try:
        models, dataset_cfg = [], None
        for name, cell, config_for in entries:
            if not cell or not osp.isfile(cell['checkpoint']):
                continue
            cfg = config_for(osp.dirname(cell['checkpoint']))
            dataset_cfg = dataset_cfg or cfg.test_dataloader.dataset
            models.append((name, init_localizer(cfg, cell['checkpoint'])))
        if save_models_figure(path, models, dataset_cfg=dataset_cfg):
            log(f'figure: {path}')
            return True
    except Exception as exc:  # noqa: BLE001 - the figure must not lose the table
        log(f'warning: figure not written: {type(exc).__name__}: {exc}')
    return False
