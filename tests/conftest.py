import os
import tempfile

import pytest

# Tests never touch the real checkpoint cache (kernels started by the runner inherit this).
os.environ["MASKEDAV_CACHE"] = tempfile.mkdtemp(prefix="maskedav-test-cache-")

# Small, reproducible CPU runs: the machine has 2 cores shared by the kernel and pytest.
os.environ.setdefault("OMP_NUM_THREADS", "2")


@pytest.fixture(scope="module")
def one_torch_thread():
    """One torch thread for a module's tiny models (a second OpenMP thread only spins on a busy
    2-core machine); the previous count is restored after the module."""
    import torch

    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


@pytest.fixture(scope="session")
def repo_root():
    from maskedav.paths import repo_root

    return repo_root()


@pytest.fixture(scope="session")
def smoke_book(tmp_path_factory):
    """Every notebook executed once at `smoke` into a temporary results folder (never results/)."""
    from maskedav.book.runner import run_book

    results = tmp_path_factory.mktemp("smoke-results")
    outcomes = {r.notebook: r for r in run_book("smoke", results_dir=results, progress_bar=False,
                                                log=lambda *_: None)}
    durations = {k: r.duration_s for k, r in outcomes.items()}
    return results, outcomes, durations
