"""One executor for every chapter: independent runs on worker processes.

Every run seeds itself (weights, masks, data order), so results never depend on how many workers ran
them. On the CPU: up to 2 spawned workers, one torch thread each (the book's machine has 2 cores; an
oversubscribed OpenMP pool was measured 5-20x slower per step). On CUDA: up to 4 processes share the
device, since the book's small models leave most of it idle. ``MASKEDAV_WORKERS`` overrides.
"""
from __future__ import annotations

import os
from typing import Callable

import torch

__all__ = ["default_workers", "parallel_map", "cpu_threads"]


def default_workers(device=None, n_jobs: int = 2, work: float = 1.0) -> int:
    """Worker processes for ``n_jobs`` independent jobs of about ``work`` seconds each: 1 (in-process)
    for a single job or jobs too short to pay for starting workers (< 20 s)."""
    env = os.environ.get("MASKEDAV_WORKERS")
    if env:
        return max(1, int(env))
    if n_jobs < 2 or work < 20:
        return 1
    dev = torch.device(device) if device is not None else torch.device("cpu")
    if dev.type == "cuda":
        return max(1, min(4, n_jobs, (os.cpu_count() or 2) // 2))
    return max(1, min(2, os.cpu_count() or 1, n_jobs))


def cpu_threads(device, threads: int = 1) -> int:
    """On CPU, run torch with ``threads`` intra-op threads and return the number set."""
    if torch.device(device).type == "cpu":
        torch.set_num_threads(threads)
    return torch.get_num_threads()


def _worker_init(preload: dict, env: dict) -> None:
    torch.set_num_threads(1)
    os.environ.update(env)
    from . import data

    data.preload(preload)


def parallel_map(fn: Callable, jobs: list[dict], workers: int = 1, preload: dict | None = None) -> list:
    """``[fn(**job) for job in jobs]``, on ``workers`` spawned processes when ``workers > 1``.

    Each worker gets one torch thread and the loaded SynthAV splits (``preload``, default: every split
    this process holds; shared memory, not regenerated). ``fn`` must be importable (a library
    function). Spawned workers re-import the caller's ``__main__``: call this from a notebook or under
    ``if __name__ == "__main__":``.
    """
    if workers <= 1 or len(jobs) <= 1:
        return [fn(**job) for job in jobs]
    import torch.multiprocessing as tmp
    from concurrent.futures import ProcessPoolExecutor

    from . import data
    from ..checkpoints import CACHE_MANIFEST_ENV
    from ..provenance import RUN_ENV

    preload = data.loaded() if preload is None else preload
    env = {k: os.environ[k] for k in (CACHE_MANIFEST_ENV, RUN_ENV) if k in os.environ}
    with ProcessPoolExecutor(workers, mp_context=tmp.get_context("spawn"), initializer=_worker_init,
                             initargs=(preload, env)) as ex:
        futures = [ex.submit(fn, **job) for job in jobs]
        return [f.result() for f in futures]
