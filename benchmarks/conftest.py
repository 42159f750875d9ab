"""Shared fixtures for ``benchmarks/bench_*.py`` (pytest-benchmark).

Run: ``python -m pytest benchmarks -p no:cacheprovider --benchmark-columns=median,iqr,rounds``.
CI runs them once as correctness checks with ``--benchmark-disable``.
"""
from __future__ import annotations

import os
import subprocess
import sys

import pytest
import torch

DEVICES = ['cpu'] + (['cuda'] if torch.cuda.is_available() else [])


@pytest.fixture(params=DEVICES)
def device(request) -> torch.device:
    """Every device present: cpu, plus cuda when available."""
    return torch.device(request.param)


def synchronize(device: torch.device) -> None:
    """Wait for queued kernels so a timed call measures the work it launched."""
    if device.type == 'cuda':
        torch.cuda.synchronize(device)


@pytest.fixture(scope='session')
def timing(pytestconfig) -> bool:
    """True when the benchmarks time; False in the suite's single correctness pass
    (``--benchmark-disable``), where some of them check smaller inputs."""
    return not pytestconfig.getoption('benchmark_disable', default=False)


@pytest.fixture
def torch_threads():
    """Run with ``WSAL_BENCH_THREADS`` (default 1) torch CPU threads, restored afterwards.

    On a shared 2-core machine torch's 2-thread OpenMP pool spins on every op
    while other processes hold a core (25-40x slower small ops); one thread
    gives stable numbers. Set ``WSAL_BENCH_THREADS=2`` on an idle machine.
    Benchmark modules opt in with ``pytestmark = pytest.mark.usefixtures('torch_threads')``.
    """
    before = torch.get_num_threads()
    torch.set_num_threads(int(os.environ.get('WSAL_BENCH_THREADS', '1')))
    yield
    torch.set_num_threads(before)


@pytest.fixture
def timed(benchmark, device):
    """``timed(fn, *args)``: benchmark ``fn`` on ``device`` with synchronisation.

    Returns ``fn``'s result from the benchmark run, for the equality assertion
    every benchmark makes against its reference.
    """
    def run(fn, *args, **kwargs):
        def call():
            out = fn(*args, **kwargs)
            synchronize(device)
            return out
        return benchmark(call)
    return run


@pytest.fixture
def busy_cores():
    """One spinning process per core for the duration of the benchmark."""
    procs = [subprocess.Popen([sys.executable, '-c', 'while True: pass'])
             for _ in range(os.cpu_count() or 1)]
    try:
        yield
    finally:
        for p in procs:
            p.kill()
        for p in procs:
            p.wait()
