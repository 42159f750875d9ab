"""``LossCurveHook``: the training-loss learning curve (total and each term)."""
from __future__ import annotations

from typing import Dict, List, Optional

import numpy as np
from mmengine.hooks import Hook

from wsal.registry import HOOKS

__all__ = ['LossCurveHook']


@HOOKS.register_module()
class LossCurveHook(Hook):
    """Record window means of every loss term, and each validation's metrics.

    Every ``interval`` iterations (None: the ``LoggerHook``'s interval) it
    appends ``{'iter': n, 'loss': mean, 'loss_fg': mean, ...}`` to
    :attr:`train` (means over the iterations since the previous row); after
    each validation it appends the numeric metrics to :attr:`val`.
    :attr:`total` keeps the total loss of every iteration (for
    :func:`wsal.evaluation.loss_still_falling`).

    Args:
        interval: Iterations per curve point (None: the logger's interval).
    """

    priority = 'VERY_LOW'

    def __init__(self, *, interval: Optional[int] = None) -> None:
        if interval is not None and interval < 1:
            raise ValueError(f'interval must be >= 1, got {interval}')
        self.interval = interval
        self._acc: Dict[str, List[float]] = {}
        self.train: List[Dict[str, float]] = []
        self.val: List[Dict[str, float]] = []
        self.total: List[float] = []

    def before_train(self, runner) -> None:  # noqa: D102
        if self.interval is None:
            logger = next((h for h in runner.hooks if type(h).__name__ == 'LoggerHook'), None)
            self.interval = int(getattr(logger, 'interval', 50) or 50)

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:  # noqa: D102
        for k, v in (outputs or {}).items():
            if k.startswith('loss'):
                value = float(v.detach()) if hasattr(v, 'detach') else float(v)
                self._acc.setdefault(k, []).append(value)
                if k == 'loss':
                    self.total.append(value)
        if (runner.iter + 1) % max(1, int(self.interval or 1)) == 0 and self._acc:
            row = {'iter': runner.iter + 1}
            row.update({k: float(np.mean(v)) for k, v in self._acc.items()})
            self.train.append(row)
            self._acc = {}

    def after_train(self, runner) -> None:  # noqa: D102 - the last, partial window
        if self._acc:
            row = {'iter': runner.iter}
            row.update({k: float(np.mean(v)) for k, v in self._acc.items()})
            self.train.append(row)
            self._acc = {}

    def after_val_epoch(self, runner, metrics=None) -> None:  # noqa: D102
        row = {'iter': runner.iter}
        row.update({k: float(v) for k, v in (metrics or {}).items()
                    if isinstance(v, (int, float)) and not isinstance(v, bool)})
        self.val.append(row)
