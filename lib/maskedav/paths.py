"""Where things live: the repository root, the results tree, the git-ignored cache."""
from __future__ import annotations

import os
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent


def repo_root() -> Path:
    """The checkout that holds ``lib/maskedav`` (the package is installed editable)."""
    env = os.environ.get("MASKEDAV_ROOT")
    if env:
        return Path(env).resolve()
    root = PACKAGE_DIR.parent.parent
    if (root / "pyproject.toml").exists():
        return root
    return Path.cwd()


def results_root(results_dir: str | os.PathLike | None = None) -> Path:
    """``results_dir`` if given (a relative path is taken from the repository root, as the runner
    injects it), else ``$MASKEDAV_RESULTS``, else ``<repo>/results``."""
    if results_dir:
        path = Path(results_dir)
        return (path if path.is_absolute() else repo_root() / path).resolve()
    env = os.environ.get("MASKEDAV_RESULTS")
    return Path(env).resolve() if env else repo_root() / "results"


def cache_root() -> Path:
    """Git-ignored cache for checkpoints and generated data (``$MASKEDAV_CACHE`` or ``<repo>/.cache``)."""
    env = os.environ.get("MASKEDAV_CACHE")
    path = Path(env) if env else repo_root() / ".cache"
    path.mkdir(parents=True, exist_ok=True)
    return path.resolve()


def notebooks_root() -> Path:
    return repo_root() / "notebooks"


def manifest_path() -> Path:
    """The book's copy of the manifest (kept identical to ``../shared/manifest.yaml`` by a test)."""
    return PACKAGE_DIR / "manifest.yaml"
