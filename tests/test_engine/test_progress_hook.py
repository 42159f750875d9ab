"""ProgressHook: one updating line on a terminal, a few plain lines otherwise; campaign ETA."""
import io
import logging
from types import SimpleNamespace

import pytest

from wsal.engine.console import ConsoleRunner, level_number
from wsal.engine.progress_hook import ProgressHook, campaign, format_duration


class Clock:
    def __init__(self):
        self.t = 0.0

    def __call__(self):
        return self.t


def _runner(max_iters):
    return SimpleNamespace(max_iters=max_iters, iter=0, val_dataloader=[0] * 3,
                           test_dataloader=[0] * 5)


def _train(hook, runner, clock, n, step=1.0):
    hook.before_train(runner)
    for i in range(n):
        clock.t += step
        hook.after_train_iter(runner, i, outputs={'loss': 0.5})
        runner.iter += 1
    hook.after_train(runner)


def test_format_duration():
    assert format_duration(75) == '1:15' and format_duration(3700) == '1:01:40'
    assert format_duration(float('nan')) == '?'


def test_terminal_updates_one_line_in_place():
    out, clock = io.StringIO(), Clock()
    hook = ProgressHook(stream=out, tty=True, min_interval_s=0.0, clock=clock)
    _train(hook, _runner(4), clock, 4)
    text = out.getvalue()
    assert text.count('\n') == 1 and text.endswith('\n')  # one line, redrawn
    frames = [f.replace('\x1b[K', '') for f in text.rstrip('\n').split('\r')[1:]]
    assert frames[0] == 'train 1/4  loss 0.5000  1.00 it/s  ETA 0:03'
    assert frames[-1] == 'train 4/4  loss 0.5000  1.00 it/s  done in 0:04'


def test_pipe_gets_a_line_per_tenth_at_most():
    out, clock = io.StringIO(), Clock()
    hook = ProgressHook(stream=out, tty=False, min_interval_s=0.0, clock=clock)
    _train(hook, _runner(100), clock, 100)
    lines = out.getvalue().splitlines()
    assert '\r' not in out.getvalue()
    assert len(lines) == 10 and lines[0].startswith('train 10/100') and 'ETA 1:30' in lines[0]
    assert lines[-1].startswith('train 100/100') and lines[-1].endswith('done in 1:40')
    # and no more often than min_interval_s
    out, clock = io.StringIO(), Clock()
    _train(ProgressHook(stream=out, tty=False, min_interval_s=50.0, clock=clock), _runner(100),
           clock, 100)
    assert [ln.split()[1] for ln in out.getvalue().splitlines()] == ['50/100', '100/100']


def _two_runs(bm_step, check=None):
    """STPN's 10 iterations at 2 s each, then BM's first at ``bm_step`` s, in a campaign of 30
    (``check(campaign)`` runs inside it); returns the console text."""
    out, clock = io.StringIO(), Clock()
    hook = ProgressHook(stream=out, tty=False, min_interval_s=0.0, clock=clock)
    with campaign(30, 'demo') as c:
        c.begin('STPN')
        _train(hook, _runner(10), clock, 10, step=2.0)
        c.advance(10)
        c.begin('BM')
        runner = _runner(10)
        hook.before_train(runner)
        clock.t += bm_step
        hook.after_train_iter(runner, 0, outputs={'loss': 1.0})
        if check is not None:
            check(c)
    return out.getvalue()


def test_test_phase_and_campaign_eta():
    def nested(c):
        with campaign(99, 'inner') as inner:  # nested: the outer campaign goes on
            assert inner is c
    text = _two_runs(2.0, nested)
    last_stpn = [ln for ln in text.splitlines() if ln.startswith('[STPN]')][-1]
    assert last_stpn.endswith('done in 0:20  | demo 10/30 ETA 0:40')
    first_bm = text.splitlines()[-1]
    assert first_bm.startswith('[BM] train 1/10') and first_bm.endswith('| demo 11/30 ETA 0:38')

    # a slower second model: the rest of its run at its own rate, not at the first one's
    def rates(c):
        # 9 more BM iterations at 6 s, then 10 at the campaign's (20 + 6) / 11 s
        assert c.eta(1, 1, 6.0, 10) == pytest.approx(9 * 6.0 + 10 * 26 / 11)
        assert c.eta(1, 1, 6.0) == pytest.approx(19 * 26 / 11)   # without the run's length
    assert _two_runs(6.0, rates).splitlines()[-1].endswith('| demo 11/30 ETA 1:18')
    out, clock = io.StringIO(), Clock()
    hook = ProgressHook(stream=out, tty=False, min_interval_s=0.0, clock=clock)
    runner = _runner(1)
    hook.before_test_epoch(runner)
    for i in range(5):
        clock.t += 0.5
        hook.after_test_iter(runner, i)
    hook.after_test_epoch(runner)
    assert out.getvalue().splitlines()[-1] == 'test 5/5  2.00 it/s  done in 0:02'


def test_console_runner_keeps_the_file_complete(tmp_path):
    assert level_number('warning') == logging.WARNING
    runner = ConsoleRunner.__new__(ConsoleRunner)  # only what build_logger reads
    runner.cfg = {'console_log_level': 'ERROR'}
    runner._log_dir = str(tmp_path)
    runner._timestamp = 'ts'
    runner._experiment_name = f'console_runner_test_{id(runner)}'
    logger = runner.build_logger(log_level='WARNING')
    levels = {type(h).__name__: h.level for h in logger.handlers}
    assert levels == {'StreamHandler': logging.ERROR, 'FileHandler': logging.INFO}
    logger.info('to the file only')
    for h in logger.handlers:
        h.flush()
    assert 'to the file only' in (tmp_path / 'ts.log').read_text()


def test_an_error_ends_the_open_line():
    import pytest

    from wsal.apis.runner import progress_lines_closed
    out, clock = io.StringIO(), Clock()
    hook = ProgressHook(stream=out, tty=True, min_interval_s=0.0, clock=clock)
    runner = _runner(10)
    runner.hooks = [hook]
    with pytest.raises(RuntimeError):
        with progress_lines_closed(runner):
            hook.before_train(runner)
            clock.t += 1
            hook.after_train_iter(runner, 0, outputs={'loss': 1.0})
            raise RuntimeError('boom')
    assert out.getvalue().startswith('\rtrain 1/10') and out.getvalue().endswith('\n')
