import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))  # wsal_e2e_support


@pytest.fixture(scope='session')
def tiny_root(tmp_path_factory):
    from wsal_e2e_support import tiny_data
    return tiny_data(tmp_path_factory.getbasetemp())
