"""``LocalizationHealthHook``: attention health and a Figure-4 plot per validation."""
from __future__ import annotations

import os.path as osp
from typing import Any, List, Optional, Sequence

from mmengine.dist import is_main_process
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from wsal.registry import HOOKS, METRICS, build_component

__all__ = ['LocalizationHealthHook']


@HOOKS.register_module()
class LocalizationHealthHook(Hook):
    """Watch whether the attention localizes, while training.

    During each validation (and test) run it

    * feeds the predictions to an attention-health metric (default
      ``AttentionHealth``: mean λ inside vs outside the ground truth, λ range)
      and logs its values as ``val/<key>`` next to the detection mAP (they can
      also drive ``CheckpointHook(save_best=...)``), unless the evaluator
      already has a metric of that type;
    * on the main process, traces the first ``num_videos`` videos (or those in
      ``video_ids``) and writes a Figure-4-style PNG for each under
      ``<work_dir>/<out_dir>/iter_<n>/<video_id>.png`` (``test/`` at test
      time): ground truth, attention λ per stream and mean, T-CAM of the true
      class, detections.

    Args:
        num_videos: How many validation videos to plot (ignored when
            ``video_ids`` is given). 0 disables plotting.
        video_ids: Plot these videos instead of the first ones.
        out_dir: Folder, relative to the work dir unless absolute.
        health: Config (or built ``BaseMetric``) of the health metric;
            None = ``dict(type='AttentionHealth')``, False disables it.
        on_test: Also run during ``runner.test()``.
        dpi: PNG resolution.
    """

    priority = 'NORMAL'  # after RuntimeInfoHook, before LoggerHook/CheckpointHook

    def __init__(self, *, num_videos: int = 1, video_ids: Optional[Sequence[str]] = None,
                 out_dir: str = 'vis', health: Any = None, on_test: bool = True,
                 dpi: int = 100) -> None:
        if num_videos < 0:
            raise ValueError(f'num_videos must be >= 0, got {num_videos}')
        self.num_videos = int(num_videos)
        self.video_ids = None if video_ids is None else [str(v) for v in video_ids]
        self.out_dir = out_dir
        self._health_cfg = dict(type='AttentionHealth') if health is None else health
        self._use_health = health is not False
        self.on_test = on_test
        self.dpi = dpi
        self._metric = None
        self._skip_health = False
        self._traces: List[dict] = []

    # ------------------------------------------------------------------ helpers
    def _health_metric(self):
        if not self._use_health or self._skip_health:
            return None
        if self._metric is None:
            self._metric = build_component(self._health_cfg, METRICS)
        return self._metric

    def _wanted(self, video_id: str) -> bool:
        if self.video_ids is not None:
            return video_id in self.video_ids and all(
                t['video_id'] != video_id for t in self._traces)
        return len(self._traces) < self.num_videos

    def _start(self, runner, mode: str) -> None:
        # the evaluator may already compute attention health: don't do it twice
        evaluator = getattr(getattr(runner, f'{mode}_loop', None), 'evaluator', None)
        name = (self._health_cfg.get('type') if isinstance(self._health_cfg, dict)
                else type(self._health_cfg).__name__)
        self._skip_health = any(type(m).__name__ == name
                                for m in getattr(evaluator, 'metrics', ()) or ())
        metric = self._health_metric()
        if metric is not None:
            metric.results.clear()
        self._traces = []

    def _iter(self, runner, data_batch, outputs) -> None:
        metric = self._health_metric()
        if metric is not None:
            metric.process(data_batch, outputs)
        if not is_main_process() or (self.num_videos == 0 and self.video_ids is None):
            return
        wanted = [i for i, out in enumerate(outputs) if self._wanted(str(out['video_id']))]
        if not wanted:
            return
        from wsal.visualization import trace_videos
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        traces = trace_videos(model, data_batch, outputs)
        self._traces += [traces[i] for i in wanted]

    def _finish(self, runner, metrics: Optional[dict], mode: str) -> None:
        metric = self._health_metric()
        if metric is not None:
            size = len(getattr(runner, f'{mode}_dataloader').dataset)
            values = metric.evaluate(size)
            for key, value in values.items():
                runner.message_hub.update_scalar(f'{mode}/{key}', value)
            if metrics is not None:
                metrics.update(values)
        if is_main_process() and self._traces:
            from wsal.visualization import save_localization_figure
            base = self.out_dir if osp.isabs(self.out_dir) else osp.join(runner.work_dir, self.out_dir)
            sub = f'iter_{runner.iter}' if mode == 'val' else 'test'
            classes = (getattr(runner.model, 'dataset_meta', None) or {}).get('classes')
            if classes is None:
                loader = getattr(runner, f'{mode}_dataloader')
                classes = getattr(loader.dataset, 'metainfo', {}).get('classes')
            try:
                for trace in self._traces:
                    path = osp.join(base, sub, f'{trace["video_id"]}.png')
                    save_localization_figure(
                        path, [trace], classes=classes, dpi=self.dpi,
                        model_names=[f'{_config_name(runner)}, iteration {runner.iter}'],
                        reason=('shown: named in video_ids' if self.video_ids is not None
                                else f'shown: one of the first {self.num_videos} videos '
                                + ('validated' if mode == 'val' else 'tested')))
            except Exception as exc:  # noqa: BLE001 - a plot must never end a training run
                runner.logger.warning(f'LocalizationHealthHook: plotting failed '
                                      f'({type(exc).__name__}: {exc}); training continues')
            else:
                runner.logger.info(f'localization plots of {len(self._traces)} video(s) '
                                   f'saved under {osp.join(base, sub)}')
        self._traces = []

    # -------------------------------------------------------------------- hooks
    def before_val_epoch(self, runner) -> None:  # noqa: D102
        self._start(runner, 'val')

    def after_val_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:  # noqa: D102
        self._iter(runner, data_batch, outputs)

    def after_val_epoch(self, runner, metrics: Optional[dict] = None) -> None:  # noqa: D102
        self._finish(runner, metrics, 'val')

    def before_test_epoch(self, runner) -> None:  # noqa: D102
        if self.on_test:
            self._start(runner, 'test')

    def after_test_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:  # noqa: D102
        if self.on_test:
            self._iter(runner, data_batch, outputs)

    def after_test_epoch(self, runner, metrics: Optional[dict] = None) -> None:  # noqa: D102
        if self.on_test:
            self._finish(runner, metrics, 'test')


def _config_name(runner) -> str:
    """The name of the runner's config (its file stem), for figure titles."""
    filename = getattr(getattr(runner, 'cfg', None), 'filename', None)
    return osp.splitext(osp.basename(filename))[0] if filename else 'model'
