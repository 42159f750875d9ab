"""``ProgressHook``: one progress line with ETA on the console, during train/val/test.

The full mmengine log goes to the work dir's log file; the console gets one
line per phase that updates in place on a terminal (carriage returns), and a
few plain lines (each tenth of the run, at most one per ``min_interval_s``)
when the output is a file or a pipe. Experiments that chain several runs
(``wsal demo``, ``wsal ablate``) open a :func:`campaign` so that each line also
shows the overall position and ETA.
"""
from __future__ import annotations

import contextlib
import math
import sys
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Optional, TextIO

from mmengine.hooks import Hook

from wsal.registry import HOOKS

__all__ = ['ProgressHook', 'campaign', 'current_campaign', 'Campaign', 'format_duration']


def format_duration(seconds: float) -> str:
    """``75`` -> ``'1:15'``, ``3700`` -> ``'1:01:40'``; ``'?'`` when unknown."""
    if seconds is None or not math.isfinite(seconds) or seconds < 0:
        return '?'
    s = int(round(seconds))
    h, rem = divmod(s, 3600)
    m, s = divmod(rem, 60)
    return f'{h}:{m:02d}:{s:02d}' if h else f'{m}:{s:02d}'


@dataclass
class Campaign:
    """Several training runs reported as one: ``total`` iterations in all."""

    total: int
    label: str = ''
    done: int = 0
    cell: str = ''
    #: Shown before the cell name (e.g. a sweep's setting).
    prefix: str = ''
    #: Iterations trained (not skipped) in finished runs, and their seconds.
    trained: int = 0
    train_seconds: float = 0.0
    started: float = field(default_factory=time.perf_counter)

    def begin(self, cell: str) -> None:
        """Name the run that starts now (shown in front of its progress line)."""
        self.cell = f'{self.prefix} {cell}'.strip()

    def advance(self, iters: int) -> None:
        """Count ``iters`` finished (or skipped) training iterations."""
        self.done += int(iters)

    def record(self, iters: int, seconds: float) -> None:
        """A run trained ``iters`` iterations in ``seconds`` (the rate behind the ETA)."""
        self.trained += int(iters)
        self.train_seconds += float(seconds)

    def eta(self, current: int, ran: int = 0, elapsed: float = 0.0,
            run_total: Optional[int] = None) -> float:
        """Seconds left for the whole campaign, ``current`` iterations into this run.

        The rate is that of the iterations actually trained (``ran`` of this
        run in ``elapsed`` seconds plus the finished runs'), so runs reused
        from an earlier invocation do not make the estimate optimistic. Given
        the run's length ``run_total``, the rest of this run goes at its own
        rate and only the runs after it at the campaign's: models of one
        campaign train at different rates (STPN about three times as fast as
        the background-aware model).
        """
        trained = self.trained + ran
        if trained <= 0:
            return float('nan')
        rate = (self.train_seconds + elapsed) / trained        # seconds per iteration
        left = max(0, self.total - self.done - current)
        if run_total is None or ran <= 0 or elapsed <= 0:
            return rate * left
        this_run = min(left, max(0, int(run_total) - current))
        return elapsed / ran * this_run + rate * (left - this_run)


_CAMPAIGN: Optional[Campaign] = None


@contextlib.contextmanager
def campaign(total_iters: int, label: str = '') -> Iterator[Campaign]:
    """Report the training runs started inside as one campaign of ``total_iters``.

    Inside an open campaign (a sweep of ablations), the outer one is reused.

    Example:
        >>> with campaign(2 * 2000, 'demo') as c:
        ...     for name in ('STPN', 'BM'):
        ...         c.begin(name); train(...); c.advance(2000)
    """
    global _CAMPAIGN
    if _CAMPAIGN is not None:
        yield _CAMPAIGN
        return
    previous, _CAMPAIGN = _CAMPAIGN, Campaign(total=int(total_iters), label=label)
    try:
        yield _CAMPAIGN
    finally:
        _CAMPAIGN = previous


def current_campaign() -> Optional[Campaign]:
    """The open :func:`campaign`, if any."""
    return _CAMPAIGN


@HOOKS.register_module()
class ProgressHook(Hook):
    """Print training / validation / test progress with rate and ETA.

    Args:
        stream: Where to print (default ``sys.stderr`` at print time).
        min_interval_s: Least seconds between two updates (None: 0.5 s on a
            terminal, 15 s otherwise). The last iteration is always shown.
        tty: Update one line in place (None: ``stream.isatty()``).
        clock: Seconds counter (tests pass a fake one).
    """

    priority = 'VERY_LOW'

    def __init__(self, *, stream: Optional[TextIO] = None, min_interval_s: Optional[float] = None,
                 tty: Optional[bool] = None, clock: Callable[[], float] = time.perf_counter) -> None:
        self._stream = stream
        self._tty = tty
        self._min_interval = min_interval_s
        self._clock = clock
        self._phase = ''
        self._total = 0
        self._start = 0.0
        self._first = 0
        self._last_t = -math.inf
        self._last_decile = -1
        self._open = False

    # ------------------------------------------------------------------ output
    @property
    def stream(self) -> TextIO:
        return self._stream if self._stream is not None else sys.stderr

    def _is_tty(self) -> bool:
        if self._tty is not None:
            return self._tty
        isatty = getattr(self.stream, 'isatty', None)
        return bool(isatty and isatty())

    def _interval(self) -> float:
        if self._min_interval is not None:
            return self._min_interval
        return 0.5 if self._is_tty() else 15.0

    def _begin(self, phase: str, total: int, first: int = 0) -> None:
        self._phase, self._total, self._first = phase, max(0, int(total)), int(first)
        self._start = self._clock()
        self._last_t = self._start
        self._last_decile = 0

    def _line(self, done: int, extra: str) -> str:
        elapsed = self._clock() - self._start
        ran = done - self._first
        rate = ran / elapsed if elapsed > 0 and ran > 0 else float('nan')
        eta = (self._total - done) / rate if rate and math.isfinite(rate) else float('nan')
        camp = current_campaign()
        head = f'[{camp.cell}] ' if camp is not None and camp.cell else ''
        text = f'{head}{self._phase} {done}/{self._total}{extra}'
        if math.isfinite(rate):
            text += f'  {rate:.2f} it/s'
        if done < self._total:
            text += f'  ETA {format_duration(eta)}'
        else:
            text += f'  done in {format_duration(elapsed)}'
        if camp is not None and self._phase == 'train':
            overall = camp.done + done
            text += (f'  | {camp.label or "all"} {overall}/{camp.total}'
                     f' ETA {format_duration(camp.eta(done, ran, elapsed, self._total))}')
        return text

    def _update(self, done: int, extra: str = '') -> None:
        final = done >= self._total
        now = self._clock()
        if self._is_tty():
            if not final and now - self._last_t < self._interval():
                return
            self.stream.write('\r' + self._line(done, extra) + '\x1b[K')
            self._open = True
            if final:
                self.stream.write('\n')
                self._open = False
        else:
            decile = int(10 * done / self._total) if self._total else 10
            if not final and (decile <= max(0, self._last_decile)
                              or now - self._last_t < self._interval()):
                return
            self._last_decile = decile
            self.stream.write(self._line(done, extra) + '\n')
        self._last_t = now
        self.stream.flush()

    def close(self) -> None:
        """End the progress line being updated in place, if any."""
        self._close()

    def _close(self) -> None:
        if self._open:
            self.stream.write('\n')
            self.stream.flush()
            self._open = False

    # ------------------------------------------------------------------- hooks
    def before_train(self, runner) -> None:  # noqa: D102
        self._begin('train', runner.max_iters, first=runner.iter)

    def after_train_iter(self, runner, batch_idx: int, data_batch: Any = None,
                         outputs: Optional[dict] = None) -> None:  # noqa: D102
        loss = _scalar((outputs or {}).get('loss'))
        extra = f'  loss {loss:.4f}' if loss is not None else ''
        self._update(runner.iter + 1, extra)

    def after_train(self, runner) -> None:  # noqa: D102
        self._close()
        camp = current_campaign()
        if camp is not None:
            camp.record(runner.iter - self._first, self._clock() - self._start)

    def before_val_epoch(self, runner) -> None:  # noqa: D102
        self._close()
        self._saved = (self._phase, self._total, self._start, self._first, self._last_t,
                       self._last_decile)
        self._begin('validate', _length(runner.val_dataloader))

    def after_val_iter(self, runner, batch_idx: int, data_batch: Any = None,
                       outputs: Any = None) -> None:  # noqa: D102
        self._update(batch_idx + 1)

    def after_val_epoch(self, runner, metrics: Optional[dict] = None) -> None:  # noqa: D102
        self._close()
        saved = getattr(self, '_saved', None)
        if saved is not None:
            (self._phase, self._total, self._start, self._first, self._last_t,
             self._last_decile) = saved
            self._saved = None

    def before_test_epoch(self, runner) -> None:  # noqa: D102
        self._begin('test', _length(runner.test_dataloader))

    def after_test_iter(self, runner, batch_idx: int, data_batch: Any = None,
                        outputs: Any = None) -> None:  # noqa: D102
        self._update(batch_idx + 1)

    def after_test_epoch(self, runner, metrics: Optional[dict] = None) -> None:  # noqa: D102
        self._close()


def _length(loader) -> int:
    try:
        return len(loader)
    except TypeError:
        return 0


def _scalar(value: Any) -> Optional[float]:
    if value is None:
        return None
    try:
        out = float(value.item() if hasattr(value, 'item') else value)
    except (TypeError, ValueError):
        return None
    return out if math.isfinite(out) else None
