"""Results trees: one tree per profile, marked with its profile, one runner at a time, atomic writes.

A *results tree* is a folder of tables, figures, provenance records, executed notebooks and a
``claims.csv``. Every tree holds the results of exactly one profile, named in its ``PROFILE`` marker
file (one line: the profile's name). Where each profile's tree is when nobody says otherwise
(:func:`default_tree`):

==========  ==========================================================================================
smoke       ``$MASKEDAV_SCRATCH/results-smoke`` (default scratch: ``$XDG_CACHE_HOME/maskedav`` or
            ``~/.cache/maskedav``), outside the repository: a smoke run never touches ``results/``
main        ``<repo>/results`` for the profile its marker names (``cpu`` in this repository)
any other   ``<repo>/results/profiles/<profile>/`` (e.g. ``gpu``), shown by the book as a part of its own
==========  ==========================================================================================

``$MASKEDAV_RESULTS`` (like ``--results-dir``) names a tree explicitly, for every profile. Whatever
names the tree, :func:`claim_tree` refuses to put one profile's results into another's tree, and
:func:`runner_lock` lets only one runner work on a tree at a time.
"""
from __future__ import annotations

import csv
import fcntl
import json
import os
import secrets
from contextlib import contextmanager
from pathlib import Path

from .paths import repo_root

MARKER = "PROFILE"                 # <tree>/PROFILE: the profile whose results the tree holds
LOCK = ".runner.lock"              # <tree>/.runner.lock: held (fcntl) by the runner working on the tree
OTHER_PROFILES_DIR = "profiles"    # <main>/profiles/<profile>/: trees of the other profiles
SCRATCH_ENV = "MASKEDAV_SCRATCH"
MAIN_PROFILE = "cpu"               # the main tree's profile when it has no marker yet
SCRATCH_PROFILES = ("smoke",)      # profiles whose tree is outside the repository by default


class TreeError(RuntimeError):
    """A results tree cannot take this run: another profile's tree, or another runner is on it."""


# ----------------------------------------------------------------------------------------------
# atomic writes


def _temp_name(path: Path) -> Path:
    return path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")


@contextmanager
def atomic_path(path: str | os.PathLike):
    """Yield a temporary path in ``path``'s folder; when the block succeeds, move it onto ``path``
    with :func:`os.replace` (readers see the old file or the new one, never a partial one); when it
    fails, remove the temporary file and leave ``path`` as it was."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _temp_name(path)
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_text(text)
    return Path(path)


# ----------------------------------------------------------------------------------------------
# where each profile's tree is


def scratch_root() -> Path:
    """``$MASKEDAV_SCRATCH``, else ``$XDG_CACHE_HOME/maskedav``, else ``~/.cache/maskedav``."""
    env = os.environ.get(SCRATCH_ENV)
    if env:
        return Path(env).expanduser().resolve()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return (base / "maskedav").resolve()


def main_tree() -> Path:
    """The repository's published tree, ``<repo>/results``."""
    return repo_root() / "results"


def default_tree(profile: str) -> Path:
    """The tree a run at ``profile`` uses when no ``--results-dir`` is given (see the module doc)."""
    env = os.environ.get("MASKEDAV_RESULTS")
    if env:
        return Path(env).resolve()
    if profile in SCRATCH_PROFILES:
        return scratch_root() / f"results-{profile}"
    main = main_tree()
    if profile == (read_marker(main) or MAIN_PROFILE):
        return main
    return main / OTHER_PROFILES_DIR / profile


def book_tree(profile: str | None) -> Path:
    """The tree whose book shows ``profile``'s run: its own tree, or the main tree when the
    profile's tree is one of the main tree's ``profiles/<name>/`` parts."""
    if profile is None:
        env = os.environ.get("MASKEDAV_RESULTS")
        return Path(env).resolve() if env else main_tree()
    tree = default_tree(profile)
    if tree.parent.name == OTHER_PROFILES_DIR and tree.parent.parent == main_tree():
        return main_tree()
    return tree


def display_path(path: Path) -> str:
    """``path`` relative to the repository when inside it (``results/profiles/gpu``), else absolute."""
    try:
        return str(Path(path).resolve().relative_to(repo_root()))
    except ValueError:
        return str(path)


# ----------------------------------------------------------------------------------------------
# which profile a tree belongs to


def read_marker(tree: str | os.PathLike) -> str | None:
    """The profile named in ``<tree>/PROFILE`` (None when there is no marker)."""
    try:
        name = (Path(tree) / MARKER).read_text().strip()
    except OSError:
        return None
    return name or None


def recorded_profiles(tree: str | os.PathLike) -> set[str]:
    """The profiles named by what the tree already holds: provenance records ``<paper>/<id>.json``,
    run records ``notebooks/<chapter>/<name>.run.json`` and the rows of ``claims.csv`` (the
    ``profiles/`` sub-trees are trees of their own and not looked at)."""
    tree = Path(tree)
    found: set[str] = set()
    if not tree.is_dir():
        return found
    files = [p for sub in tree.iterdir() if sub.is_dir() and sub.name not in ("notebooks", OTHER_PROFILES_DIR)
             for p in sub.glob("*.json")]
    files += list((tree / "notebooks").glob("*/*.run.json"))
    for p in files:
        try:
            prof = json.loads(p.read_text()).get("profile")
        except (OSError, ValueError, AttributeError):
            continue
        if isinstance(prof, str) and prof:
            found.add(prof)
    try:
        with open(tree / "claims.csv", newline="") as f:
            found.update(r["profile"] for r in csv.DictReader(f) if r.get("profile"))
    except (OSError, KeyError, csv.Error):
        pass
    return found


def tree_profile(tree: str | os.PathLike) -> str | None:
    """The tree's profile: its marker, else the one profile its records name (None if unknown)."""
    marker = read_marker(tree)
    if marker:
        return marker
    found = recorded_profiles(tree)
    return next(iter(found)) if len(found) == 1 else None


def check_tree(tree: str | os.PathLike, profile: str) -> Path:
    """Raise :class:`TreeError` unless ``tree`` holds (or may hold) the results of ``profile``: when
    the tree's marker names another profile, when a tree without a marker already holds another
    profile's results, or when a ``<main>/profiles/<name>/`` tree is asked to take a profile other than
    ``name``. Writes nothing; returns the resolved tree."""
    tree = Path(tree).resolve()
    marker = read_marker(tree)
    if marker is not None:
        if marker != profile:
            problem = f"holds the {marker} profile's results ({MARKER} file)"
        else:
            return tree
    elif others := recorded_profiles(tree) - {profile}:
        problem = f"already holds results of profile {', '.join(sorted(others))} (and no {MARKER} file)"
    elif (tree.parent.name == OTHER_PROFILES_DIR and read_marker(tree.parent.parent) is not None
            and tree.name != profile):
        problem = f"is the tree of the {tree.name} profile"
    else:
        return tree
    own = default_tree(profile)
    if own != tree:
        hint = (f"{profile} results go to {display_path(own)} (leave out --results-dir; in a notebook, "
                f"set results_dir to it) or to another folder")
    elif os.environ.get("MASKEDAV_RESULTS"):
        hint = "$MASKEDAV_RESULTS names it: unset it or name another folder"
    else:
        hint = "name another folder with --results-dir"
    raise TreeError(f"{display_path(tree)} {problem}; refusing to write {profile} results there: {hint}")


def claim_tree(tree: str | os.PathLike, profile: str) -> Path:
    """:func:`check_tree`, then write the marker (``<tree>/PROFILE``) when it is missing."""
    tree = check_tree(tree, profile)
    if read_marker(tree) is None:
        atomic_write_text(tree / MARKER, profile + "\n")
    return tree


# ----------------------------------------------------------------------------------------------
# one runner per tree


@contextmanager
def runner_lock(tree: str | os.PathLike):
    """Hold ``<tree>/.runner.lock`` (``fcntl.flock``, exclusive, not waiting) for the block; raise
    :class:`TreeError` at once when another runner holds it. The lock goes with the process (a killed
    runner leaves no stale lock behind); the file itself stays, naming its last holder."""
    tree = Path(tree)
    tree.mkdir(parents=True, exist_ok=True)
    f = open(tree / LOCK, "a+")
    try:
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        f.seek(0)
        holder = f.read().strip() or "unknown process"
        f.close()
        raise TreeError(f"another runner is working on {display_path(tree)} ({holder}); wait for it to "
                        f"finish, or run into another tree") from None
    try:
        from .provenance import now_iso

        f.seek(0)
        f.truncate()
        f.write(f"pid {os.getpid()} since {now_iso()}\n")
        f.flush()
        yield tree
    finally:
        fcntl.flock(f, fcntl.LOCK_UN)
        f.close()
