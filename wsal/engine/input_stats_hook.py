"""``InputStatisticsHook``: fit the model's input normalisation on the training split."""
from __future__ import annotations

from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from wsal.registry import HOOKS

__all__ = ['InputStatisticsHook']


@HOOKS.register_module()
class InputStatisticsHook(Hook):
    """Before training, fit ``input_norm`` statistics that are not set yet.

    A model built with ``input_norm=dict(type='FeatureStandardizer')`` needs
    each stream's per-dimension mean and spread over the training frames. The
    hook measures them once on the training dataloader's dataset (its stored
    frames, before the pipeline's resampling) and logs how many frames it
    read. A resumed run has them from its checkpoint (mmengine loads it
    before ``before_train``) and is left alone, so it continues with the
    statistics it started with. Models without ``fit_input_norm`` or whose
    normalisation is already fitted are left alone.
    """

    priority = 'VERY_HIGH'

    def before_train(self, runner) -> None:
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        if not getattr(model, 'needs_input_statistics', False):
            return
        dataset = runner.train_loop.dataloader.dataset
        counts = model.fit_input_norm(dataset)
        frames = ', '.join(f'{n} {c}' for n, c in counts.items())
        runner.logger.info(f'input_norm fitted on the training split ({frames} frames)')
