"""Provenance of every measured artifact: who made it, from what, where, when.

The runner (``maskedav.book``) hands each notebook a *run context* through the environment
variable ``MASKEDAV_RUN`` (JSON: notebook, profile, parameters, cache key, start time). When a
notebook is run by hand in JupyterLab there is no context and the record says ``"runner": null``.
"""
from __future__ import annotations

import datetime as _dt
import json
import os
import platform
import subprocess
import time
from functools import lru_cache

from .paths import repo_root

RUN_ENV = "MASKEDAV_RUN"
_IMPORT_TIME = time.time()

LIBRARIES = ("torch", "torchvision", "torchaudio", "timm", "numpy", "pandas", "matplotlib",
             "scikit-learn", "av", "papermill", "jupytext")


def now_iso() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


@lru_cache(maxsize=1)
def git_state() -> dict:
    """Commit hash and whether the work tree differs from it (``dirty``)."""
    root = repo_root()

    def _git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True,
                              timeout=20).stdout.strip()

    try:
        commit = _git("rev-parse", "HEAD") or None
        dirty = bool(_git("status", "--porcelain", "--untracked-files=no"))
    except (OSError, subprocess.SubprocessError):
        commit, dirty = None, None
    return {"commit": commit, "dirty": dirty}


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def device_info(device: str | None = None) -> dict:
    """The CPU model and core count, and the GPU name when CUDA is (to be) used."""
    info = {"cpu": cpu_model(), "cpu_count": os.cpu_count(), "gpu": None}
    try:
        import torch

        if torch.cuda.is_available() and (device is None or str(device).startswith("cuda")):
            info["gpu"] = torch.cuda.get_device_name(0)
            info["gpu_count"] = torch.cuda.device_count()
    except ImportError:
        pass
    info["device"] = device or ("cuda" if info["gpu"] else "cpu")
    return info


@lru_cache(maxsize=1)
def library_versions() -> dict:
    from importlib import metadata

    out = {"python": platform.python_version()}
    for name in LIBRARIES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def run_context() -> dict | None:
    """The runner's context for the current notebook, or ``None`` when run by hand."""
    raw = os.environ.get(RUN_ENV)
    return json.loads(raw) if raw else None


def record(*, paper: str, artifact_id: str, files: list[str], profile: str, parameters: dict,
           seeds: list[int] | None, device: str | None, extra: dict | None = None) -> dict:
    """The provenance dictionary written next to an artifact as ``<id>.json``."""
    ctx = run_context()
    started = ctx["started_at"] if ctx else None
    t0 = ctx["started_unix"] if ctx else _IMPORT_TIME
    rec = {
        "paper": paper,
        "id": artifact_id,
        "files": files,
        "profile": profile,
        "dataset": extra.pop("dataset", None) if extra else None,
        "parameters": parameters,
        "seeds": seeds,
        "git": git_state(),
        "cache_key": ctx["cache_key"] if ctx else None,
        "notebook": ctx["notebook"] if ctx else None,
        "runner": "maskedav.book" if ctx else None,
        "device": device_info(device),
        "versions": library_versions(),
        "started_at": started or _dt.datetime.fromtimestamp(t0, _dt.timezone.utc).isoformat(
            timespec="seconds"),
        "written_at": now_iso(),
        "duration_s": round(time.time() - t0, 3),
    }
    if extra:
        rec.update(extra)
    return rec
