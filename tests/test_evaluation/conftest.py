"""Fixtures for the evaluation tests: the real THUMOS14 ground truth and the loop reference."""
from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

import wsal

DATA = Path(wsal.__file__).parent / 'data'
GT_FILE = DATA / 'thumos14_gt.json'
TEST_LIST = DATA / 'thumos14_split_test.txt'


def _load_reference():
    path = Path(__file__).with_name('loop_reference.py')
    spec = importlib.util.spec_from_file_location('wsal_eval_loop_reference', path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope='session')
def ref():
    """The loop implementation of the definition (``loop_reference.py``)."""
    return _load_reference()


@pytest.fixture(scope='session')
def thumos_gt():
    """The parsed THUMOS14 ground truth (do not mutate)."""
    with open(GT_FILE, encoding='utf-8') as fh:
        return json.load(fh)
