"""One executor for every chapter: independent runs on worker processes.

Every run seeds itself (weights, masks, data order), so results never depend on how many workers ran
them. On the CPU: spawned workers with one torch thread each (an oversubscribed OpenMP pool was
measured 5-20x slower per step), as many as make equal jobs finish together (:func:`cpu_workers`): three
runs on two cores go on three workers, each at two thirds of a core, instead of two rounds that leave a core
idle for the second (the performance chapter's CPU page measures both). On CUDA: up to 4 processes share
the device, since the book's small models leave most of it idle. ``MASKEDAV_WORKERS`` overrides.
"""
from __future__ import annotations

import math
import os
from typing import Callable

import torch

__all__ = ["default_workers", "cpu_workers", "pool_wall", "parallel_map", "cpu_threads", "MAX_CPU_WORKERS"]

#: At most this many single-threaded CPU workers (each holds its own torch and model copies).
MAX_CPU_WORKERS = 6


def pool_wall(n_jobs: int, workers: int, cores: int) -> float:
    """Ideal wall time, in job lengths, of ``n_jobs`` equal single-threaded jobs on ``workers`` workers
    sharing ``cores`` cores: ``ceil(n_jobs / workers)`` rounds, each slowed ``workers / cores`` times when the
    running jobs outnumber the cores. 3 jobs on 2 cores: 2.0 on 2 workers, 1.5 on 3."""
    running = min(workers, n_jobs)
    return math.ceil(n_jobs / workers) * max(running / cores, 1.0)


def cpu_workers(n_jobs: int, cores: int, cap: int = MAX_CPU_WORKERS) -> int:
    """Single-threaded workers for ``n_jobs`` equal jobs on ``cores`` cores: the ``w`` in ``[cores, cap]``
    (at most ``n_jobs``) of the least :func:`pool_wall`, the fewest on a tie. 3 jobs on 2 cores: 3 workers
    (1.5 job lengths, not 2); 4 jobs: 2; 5: 5; 9: 3."""
    if n_jobs <= cores:
        return max(1, n_jobs)
    candidates = range(cores, max(cores, min(cap, n_jobs)) + 1)
    return min(candidates, key=lambda w: (pool_wall(n_jobs, w, cores), w))


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
    return cpu_workers(n_jobs, os.cpu_count() or 1)


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
