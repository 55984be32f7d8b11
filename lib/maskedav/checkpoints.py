"""Checkpoints that notebooks hand to each other (teachers, baselines) through the git-ignored cache.

``save_checkpoint("baselines/videomae", model, profile=..., seed=...)`` writes
``<cache>/checkpoints/<profile>/baselines/videomae-s<seed>.pt`` and, when the notebook runs under
the book's runner, lists the file in the run's cache manifest: the runner then re-executes the
notebook if the file has gone (a fresh clone has the committed results but not the cache), so that
a notebook that loads it never finds it missing.
"""
from __future__ import annotations

import os
from pathlib import Path

import torch

from . import provenance
from .paths import cache_root

CACHE_MANIFEST_ENV = "MASKEDAV_CACHE_MANIFEST"


def checkpoint_path(name: str, *, profile: str, seed: int | None = None) -> Path:
    suffix = f"-s{seed}" if seed is not None else ""
    return cache_root() / "checkpoints" / profile / f"{name}{suffix}.pt"


def _note_cache_file(path: Path) -> None:
    manifest = os.environ.get(CACHE_MANIFEST_ENV)
    if not manifest:
        return
    with open(manifest, "a") as f:  # relative to the cache root: the record is committed
        f.write(str(path.relative_to(cache_root())) + "\n")


def save_checkpoint(name: str, model: torch.nn.Module | dict, *, profile: str,
                    seed: int | None = None, config=None, extra: dict | None = None) -> Path:
    """Save a model's ``state_dict`` (or a dict) with its config and the run's provenance."""
    path = checkpoint_path(name, profile=profile, seed=seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = model.state_dict() if isinstance(model, torch.nn.Module) else model
    ctx = provenance.run_context() or {}
    payload = {"state_dict": state, "config": config, "name": name, "profile": profile,
               "seed": seed, "notebook": ctx.get("notebook"), "cache_key": ctx.get("cache_key"),
               "git": provenance.git_state(), "extra": extra or {}}
    tmp = path.with_suffix(".tmp")
    torch.save(payload, tmp)
    tmp.replace(path)
    _note_cache_file(path)
    return path


def load_checkpoint(name: str, *, profile: str, seed: int | None = None,
                    map_location="cpu") -> dict:
    """The payload written by :func:`save_checkpoint` (raises a clear error if it is missing)."""
    path = checkpoint_path(name, profile=profile, seed=seed)
    if not path.exists():
        raise FileNotFoundError(
            f"checkpoint {path} not found: run the notebook that writes {name!r} at profile "
            f"{profile!r} first (python -m maskedav.book run --profile {profile} --only ...)")
    return torch.load(path, map_location=map_location, weights_only=False)


def read_cache_manifest(path: Path) -> list[str]:
    try:
        return sorted(set(Path(path).read_text().split()))
    except OSError:
        return []


