import os

import pytest

# Small, reproducible CPU runs: the machine has 2 cores shared by the kernel and pytest.
os.environ.setdefault("OMP_NUM_THREADS", "2")


@pytest.fixture(scope="session")
def repo_root():
    from maskedav.paths import repo_root

    return repo_root()
