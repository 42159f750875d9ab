"""``TrainProgressHook``: tell the model where training is (loss ramps)."""
from __future__ import annotations

from typing import Optional

from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from wsal.registry import HOOKS

__all__ = ['TrainProgressHook']


@HOOKS.register_module()
class TrainProgressHook(Hook):
    """Call ``model.set_train_progress(iteration, max_iters)`` before every iteration.

    Models whose loss terms follow a schedule (``loss_warmup`` of
    :class:`~wsal.models.localizers.StreamLocalizer`) need the iteration and
    the run's length. The hook reads both from the Runner, so a resumed run
    continues the schedule where it stopped. Models without
    ``set_train_progress`` are left alone.
    """

    priority = 'VERY_HIGH'

    def before_train_iter(self, runner, batch_idx: int, data_batch: Optional[dict] = None
                          ) -> None:
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        setter = getattr(model, 'set_train_progress', None)
        if setter is not None:
            setter(runner.iter, runner.max_iters)
