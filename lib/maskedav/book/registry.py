"""Notebook discovery, dependencies and cache keys.

Every notebook is a percent-format ``notebooks/<folder>/<name>.py`` (jupytext). Its header
metadata carries a ``maskedav`` block::

    # ---
    # jupyter:
    #   maskedav:
    #     title: SynthAV tour
    #     paper: data            # results/<paper>/ (manifest key); default: the folder name
    #     needs: [data/tour]     # notebooks whose outputs this one reads
    #     order: 10              # position inside its chapter
    # ---

The cache key of a notebook hashes its source, the source of the ``lib/maskedav`` modules it imports
(transitively: editing the library invalidates exactly the results that depend on the edit), its
parameters, the profile and the keys of the notebooks it needs.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from ..paths import PACKAGE_DIR, notebooks_root

# Chapters in book order: folder -> (results key, chapter title).
CHAPTERS: dict[str, tuple[str, str]] = {
    "data": ("data", "SynthAV: the book's benchmark"),
    "baselines": ("baselines", "Baselines: MAE, VideoMAE, AudioMAE, CAV-MAE"),
    "mvd": ("mvd", "MVD: masked video distillation"),
    "xkd": ("xkd", "XKD: cross-modal knowledge distillation"),
    "kdc_mae": ("kdc-mae", "KDC-MAE: complementary masks and self-distillation"),
    "crossvideomae": ("crossvideomae", "CrossVideoMAE: video and sampled-frame MAE"),
    "av_maskenhancer": ("av-maskenhancer", "AV-MaskEnhancer: audio-visual cross-attention"),
    "performance": ("performance", "Performance: throughput and numerics"),
}

PACKAGE_NAME = __name__.split(".")[0]  # "maskedav", whatever folder package_dir is

# Parameters whose value does not change what a notebook computes (only where it writes).
NON_SEMANTIC_PARAMETERS = frozenset({"results_dir"})


@dataclass(frozen=True)
class Notebook:
    id: str                  # "data/tour"
    path: Path               # notebooks/data/tour.py
    folder: str              # "data"
    paper: str               # results key, e.g. "kdc-mae"
    title: str
    needs: tuple[str, ...] = ()
    order: int = 0
    meta: dict = field(default_factory=dict, compare=False, hash=False)

    @property
    def chapter_index(self) -> int:
        keys = list(CHAPTERS)
        return keys.index(self.folder) if self.folder in keys else len(keys)


def _read_meta(path: Path) -> tuple[dict, str]:
    import jupytext

    nb = jupytext.read(path)
    meta = dict(nb.metadata.get("maskedav", {}))
    title = meta.get("title")
    if not title:
        for cell in nb.cells:
            if cell.cell_type == "markdown":
                for line in cell.source.splitlines():
                    if line.startswith("# "):
                        title = line[2:].strip()
                        break
            if title:
                break
    return meta, title or path.stem


def discover(root: Path | None = None) -> dict[str, Notebook]:
    """All notebooks under ``root`` (default ``notebooks/``), keyed by id."""
    root = Path(root or notebooks_root())
    out: dict[str, Notebook] = {}
    for path in sorted(root.glob("*/*.py")):
        if ".ipynb_checkpoints" in path.parts or path.name.startswith("_"):
            continue
        folder = path.parent.name
        meta, title = _read_meta(path)
        nb_id = f"{folder}/{path.stem}"
        paper = meta.get("paper") or CHAPTERS.get(folder, (folder.replace("_", "-"), ""))[0]
        out[nb_id] = Notebook(id=nb_id, path=path, folder=folder, paper=paper, title=title,
                              needs=tuple(meta.get("needs", ())), order=int(meta.get("order", 0)),
                              meta=meta)
    for nb in out.values():
        for dep in nb.needs:
            if dep not in out:
                raise ValueError(f"{nb.path}: needs unknown notebook {dep!r}")
    return out


class SelectionError(ValueError):
    """An ``--only`` item that names no notebook (unknown, or a chapter without notebooks yet)."""


def spelling(name: str) -> str:
    """One spelling for names that mix hyphens and underscores (folder ``av_maskenhancer``, results
    key ``av-maskenhancer``; ``baselines/cav_mae`` or ``baselines/cav-mae``): both are accepted."""
    return name.strip().strip("/").replace("_", "-").lower()


def chapter_name(folder: str) -> str:
    """A chapter's name as the README and the results tree spell it (its results key)."""
    return CHAPTERS.get(folder, (folder.replace("_", "-"), ""))[0]


def select(notebooks: dict[str, Notebook], only: list[str]) -> set[str]:
    """The ids of the notebooks that ``only`` names: chapters (folder or results key) or notebook ids,
    hyphens and underscores alike. Raises :class:`SelectionError` naming every item that matches
    nothing: a chapter with no notebooks yet, or an unknown name (with the valid chapters)."""
    roots: set[str] = set()
    problems: list[str] = []
    for item in only:
        want = spelling(item)
        hits = {i for i, nb in notebooks.items()
                if want in (spelling(i), spelling(nb.folder), spelling(nb.paper))}
        if hits:
            roots |= hits
            continue
        known = {spelling(name): chapter_name(f) for f in CHAPTERS for name in (f, chapter_name(f))}
        if want in known:
            problems.append(f"chapter {known[want]} has no notebooks yet")
        else:
            problems.append(f"unknown chapter or notebook {item!r}")
    if problems:
        have = sorted({nb.folder for nb in notebooks.values()},
                      key=lambda f: (list(CHAPTERS).index(f) if f in CHAPTERS else len(CHAPTERS), f))
        raise SelectionError(f"--only: {'; '.join(problems)} (chapters with notebooks: "
                             f"{', '.join(chapter_name(f) for f in have) or 'none'}; or a notebook id "
                             f"such as {min(notebooks) if notebooks else 'data/tour'}, "
                             f"see `python -m maskedav.book list`)")
    return roots


def execution_order(notebooks: dict[str, Notebook], only: list[str] | None = None) -> list[Notebook]:
    """Topological order (dependencies first; chapter, order, name otherwise).

    ``only`` restricts to the given chapters (folder or results key) or notebook ids plus
    everything they transitively need (see :func:`select`).
    """
    wanted = set(notebooks)
    if only:
        roots = select(notebooks, only)
        wanted, stack = set(), list(roots)
        while stack:
            i = stack.pop()
            if i not in wanted:
                wanted.add(i)
                stack.extend(notebooks[i].needs)

    def sort_key(i: str):
        nb = notebooks[i]
        return (nb.chapter_index, nb.order, nb.id)

    order: list[Notebook] = []
    state: dict[str, int] = {}  # 1 = visiting, 2 = done

    def visit(i: str, chain: tuple[str, ...]):
        if state.get(i) == 2:
            return
        if state.get(i) == 1:
            raise ValueError("dependency cycle: " + " -> ".join(chain + (i,)))
        state[i] = 1
        for dep in sorted(notebooks[i].needs, key=sort_key):
            visit(dep, chain + (i,))
        state[i] = 2
        order.append(notebooks[i])

    for i in sorted(wanted, key=sort_key):
        visit(i, ())
    return order


def library_files(package_dir: Path = PACKAGE_DIR) -> list[Path]:
    return sorted(p for p in package_dir.rglob("*")
                  if p.is_file() and p.suffix in {".py", ".yaml", ".yml", ".json", ".toml"}
                  and "__pycache__" not in p.parts)


def _module_file(package_dir: Path, dotted: str) -> Path | None:
    """``maskedav.a.b`` -> ``<package_dir>/a/b.py`` or ``a/b/__init__.py`` (None if not ours)."""
    parts = dotted.split(".")
    if parts[0] != PACKAGE_NAME:
        return None
    base = package_dir.joinpath(*parts[1:])
    for cand in (base.with_suffix(".py"), base / "__init__.py"):
        if cand.is_file():
            return cand
    return None


def _imports(source: str, module: str | None, is_package: bool) -> set[str]:
    """Dotted names imported by ``source`` (relative imports resolved against ``module``)."""
    import ast

    try:
        tree = ast.parse(source)
    except SyntaxError:
        return set()
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level and module:
                pkg = module.split(".")
                pkg = pkg if is_package else pkg[:-1]
                pkg = pkg[:len(pkg) - (node.level - 1)]
                base = ".".join(pkg + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            out.add(base)
            out.update(f"{base}.{a.name}" for a in node.names if a.name != "*")
    return out


def library_closure(sources: list[str], package_dir: Path = PACKAGE_DIR) -> list[Path]:
    """The library files that ``sources`` (notebook code) import, transitively, with every parent
    package's ``__init__.py`` and the package's data files (``*.yaml``). A notebook's cache key
    hashes exactly these, so editing one chapter's method does not invalidate another chapter."""
    name = PACKAGE_NAME
    todo = [d for src in sources for d in _imports(src, None, False)]
    seen: set[Path] = set()
    while todo:
        dotted = todo.pop()
        parts = dotted.split(".")
        if parts[0] != name:
            continue
        for i in range(1, len(parts) + 1):  # parents first: importing a.b.c runs a and a.b
            path = _module_file(package_dir, ".".join(parts[:i]))
            if path is None or path in seen:
                continue
            seen.add(path)
            rel = path.relative_to(package_dir).with_suffix("")
            mod = ".".join((name, *rel.parts))
            is_pkg = path.name == "__init__.py"
            if is_pkg:
                mod = mod[: -len(".__init__")]
            todo.extend(_imports(path.read_text(), mod, is_pkg))
    data = {p for p in package_dir.glob("*") if p.suffix in {".yaml", ".yml", ".json", ".toml"}}
    return sorted(seen | data)


@lru_cache(maxsize=256)
def _files_digest(files: tuple[Path, ...], root: Path, stamp: tuple) -> str:
    h = hashlib.sha256()
    for p in files:
        h.update(str(p.relative_to(root)).encode())
        h.update(b"\0")
        h.update(p.read_bytes())
        h.update(b"\0")
    return h.hexdigest()


def files_digest(files: list[Path], root: Path) -> str:
    """Hash of files' names and bytes (re-read whenever a file's size or mtime changes)."""
    stamp = tuple((str(p), p.stat().st_mtime_ns, p.stat().st_size) for p in files)
    return _files_digest(tuple(files), root, stamp)


def library_digest(package_dir: Path = PACKAGE_DIR) -> str:
    """Hash of the whole library's source."""
    return files_digest(library_files(package_dir), package_dir)


def notebook_code(path: Path) -> list[str]:
    import jupytext

    return [c.source for c in jupytext.read(path).cells if c.cell_type == "code"]


def semantic_parameters(parameters: dict) -> dict:
    return {k: v for k, v in sorted(parameters.items()) if k not in NON_SEMANTIC_PARAMETERS}


def cache_key(nb: Notebook, notebooks: dict[str, Notebook], profile: str,
              parameters: dict | None = None, package_dir: Path = PACKAGE_DIR,
              _memo: dict | None = None) -> str:
    """sha256 over notebook source, library source, parameters, profile and upstream keys."""
    memo = {} if _memo is None else _memo
    if nb.id in memo:
        return memo[nb.id]
    h = hashlib.sha256()
    h.update(b"notebook\0" + nb.path.read_bytes())
    closure = library_closure(notebook_code(nb.path), package_dir)
    h.update(b"library\0" + files_digest(closure, package_dir).encode())
    h.update(b"profile\0" + profile.encode())
    params = semantic_parameters(parameters or {})
    h.update(b"parameters\0" + json.dumps(params, sort_keys=True, default=str).encode())
    for dep in sorted(nb.needs):
        h.update(b"needs\0" + dep.encode() + b"=" +
                 cache_key(notebooks[dep], notebooks, profile, parameters, package_dir, memo).encode())
    memo[nb.id] = h.hexdigest()
    return memo[nb.id]
