"""Build the HTML book from what papermill executed (the book never executes anything).

The sources in ``book/`` (``_config.yml``, hand-written pages) are staged together with the executed
notebooks from ``<results>/notebooks/`` and a generated status page; ``_toc.yml`` is generated from
the notebook registry, so a chapter appears once its notebooks have been executed.

Every part of the table of contents names the results tree its pages come from: the main tree's
chapters carry its profile (from the tree's ``PROFILE`` marker, :mod:`maskedav.trees`), and each
``<results>/profiles/<name>/`` tree is a part "Runs at the <profile> profile" of its own.
"""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from ..paths import repo_root, results_root
from ..trees import OTHER_PROFILES_DIR, display_path, tree_profile
from .registry import CHAPTERS, discover, execution_order
from .status import artifact_status

BOOK_PAGES = ("intro.md",)


def _trees_table(results: Path) -> str:
    """Which results trees this build shows: path, profile and where in the book."""
    import pandas as pd

    main = tree_profile(results)
    rows = [{"results tree": f"`{display_path(results)}/`", "profile": main or "unknown",
             "in the book": "the chapters under the paper captions"
                            + (f" (captions end in '{main} profile')" if main else "")}]
    root = results / OTHER_PROFILES_DIR
    for tree in sorted(root.iterdir()) if root.exists() else []:
        if tree.is_dir():
            prof = tree_profile(tree) or tree.name
            rows.append({"results tree": f"`{display_path(tree)}/`", "profile": prof,
                         "in the book": f"the part 'Runs at the {prof} profile'"})
    return pd.DataFrame(rows).to_markdown(index=False)


def _status_page(results: Path, notebooks_dir) -> str:
    import pandas as pd

    rows = artifact_status(results, notebooks_dir)
    df = pd.DataFrame(rows)[["paper", "id", "kind", "status", "profile", "what"]]
    counts = df.groupby(["paper", "status"]).size().unstack(fill_value=0)
    lines = ["# Where the book stands", "",
             "Every table and figure of the five papers that the book must regenerate, with its "
             "state in this build: *present* (written by the runner from the current sources), "
             "*stale* (the notebook or the library changed since) or *missing* (not produced yet).",
             "", f"**{(df.status == 'present').sum()} of {len(df)} present**, "
             f"{(df.status == 'stale').sum()} stale, {(df.status == 'missing').sum()} missing "
             f"(in the main tree).", "", "Results trees in this build (each holds one profile, named "
             "in its `PROFILE` file):", "", _trees_table(results), "",
             counts.reset_index().to_markdown(index=False), "", "## Every artifact", "",
             df.fillna("").to_markdown(index=False), ""]
    return "\n".join(lines)


def _claims_page(results: Path) -> str:
    import pandas as pd

    from ..claims import read_claims

    lines = ["# Claims and verdicts", "",
             "Each claim a paper draws from a table, tested on this book's data at the profile named "
             "in its row. The verdict comes from the rule fixed in `maskedav.claims.verdict` before "
             "the runs (one-sided Welch test at the stated alpha, at least 3 seeds per arm; "
             "equivalence claims by TOST): *reproduced*, *contradicted* or *inconclusive*. The "
             "paper's effect is the paper's number on its own dataset; the measured effect is on "
             "SynthAV, so only directions are comparable.", ""]
    df = read_claims(results)
    if df is None or len(df) == 0:
        lines.append("_No claim has been tested in this build yet._")
        return "\n".join(lines) + "\n"
    df = pd.DataFrame(df)
    counts = df.groupby(["paper", "verdict"]).size().unstack(fill_value=0).reset_index()
    lines += [counts.to_markdown(index=False), ""]
    for paper, sub in df.groupby("paper"):
        lines += [f"## {paper}", "", sub.drop(columns=["paper"]).to_markdown(index=False), ""]
    return "\n".join(lines)


def _profiles_page() -> str:
    import pandas as pd

    from ..profiles import PROFILES

    rows = []
    for p in PROFILES.values():
        rows.append({"profile": p.name, "device": p.device, "seeds": p.seeds, "data": p.dataset,
                     "clip": f"{p.data.frames}x{p.data.image_size}^2 @ {p.data.fps:g} fps",
                     "clips (pretrain/train/test)": f"{p.data.n_pretrain}/{p.data.n_train}/{p.data.n_test}",
                     "ViT (dim x depth, patch)": f"{p.model.dim}x{p.model.depth}, {p.model.patch_size}",
                     "steps x batch": f"{p.train.steps}x{p.train.batch_size}",
                     "precision": p.train.precision, "what it is for": p.description})
    return "\n".join([
        "# Profiles", "",
        "The same notebooks run at four named profiles, defined in one table in "
        "`maskedav.profiles` (this page is generated from it). Only the sizes change, never the code.",
        "", pd.DataFrame(rows).to_markdown(index=False), "",
        "Every measured table and figure records the profile, data and device that produced it "
        "in its provenance file `results/<paper>/<id>.json`.", ""])


# ``<results>/profiles/<profile>/`` (``OTHER_PROFILES_DIR``) holds complete results trees of runs at
# other profiles than the main one (e.g. ``gpu`` on a lent H100: ``scripts/gpu_book.sh``); the book
# shows them as parts of their own.


def _stage_other_profiles(results: Path, notebooks: dict, stage_dir: Path) -> list[dict]:
    """Stage the executed notebooks of every ``<results>/profiles/<name>/`` tree (runs that ended ok)
    and return one TOC part per tree, captioned with the profile (its marker) and the device of its runs."""
    parts = []
    root = results / OTHER_PROFILES_DIR
    for tree in sorted(root.iterdir()) if root.exists() else []:
        if not tree.is_dir():
            continue
        files, devices = [], set()
        for nb in execution_order(notebooks):
            src = tree / "notebooks" / f"{nb.id}.ipynb"
            rec = tree / "notebooks" / f"{nb.id}.run.json"
            if not (src.exists() and rec.exists()):
                continue
            run = json.loads(rec.read_text())
            if run.get("status") != "ok":
                continue
            devices.add((run.get("device") or {}).get("gpu") or (run.get("device") or {}).get("cpu") or "?")
            dst = stage_dir / OTHER_PROFILES_DIR / tree.name / "notebooks" / f"{nb.id}.ipynb"
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dst)
            files.append(f"{OTHER_PROFILES_DIR}/{tree.name}/notebooks/{nb.id}")
        if files:
            prof = tree_profile(tree) or tree.name
            parts.append({"caption": f"Runs at the {prof} profile ({', '.join(sorted(devices))}; "
                                     f"{display_path(tree)}/)",
                          "chapters": [{"file": f} for f in files]})
    return parts


def stage(results_dir=None, stage_dir: Path | None = None, notebooks_dir=None) -> Path:
    """Copy book sources and executed notebooks into ``stage_dir`` and write ``_toc.yml``."""
    root = repo_root()
    results = results_root(results_dir)
    stage_dir = Path(stage_dir or root / "book" / "_stage")
    if stage_dir.exists():
        shutil.rmtree(stage_dir)
    stage_dir.mkdir(parents=True)
    book_src = root / "book"
    for name in ("_config.yml", *BOOK_PAGES):
        shutil.copy2(book_src / name, stage_dir / name)
    (stage_dir / "status.md").write_text(_status_page(results, notebooks_dir))
    (stage_dir / "profiles.md").write_text(_profiles_page())
    (stage_dir / "claims.md").write_text(_claims_page(results))

    notebooks = discover(Path(notebooks_dir) if notebooks_dir else None)
    chapters: dict[str, list[str]] = {}
    for nb in execution_order(notebooks):
        src = results / "notebooks" / f"{nb.id}.ipynb"
        rec = results / "notebooks" / f"{nb.id}.run.json"
        if not src.exists():
            continue
        ok = rec.exists() and json.loads(rec.read_text()).get("status") == "ok"
        dst = stage_dir / "notebooks" / f"{nb.id}.ipynb"
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, dst)
        if not ok:
            continue  # a failed run's copy is kept for debugging but not published
        chapters.setdefault(nb.folder, []).append(f"notebooks/{nb.id}")
    # figures the notebooks wrote, so that pages may link them
    for sub in results.iterdir() if results.exists() else []:
        if sub.is_dir() and sub.name not in ("notebooks", OTHER_PROFILES_DIR):
            shutil.copytree(sub, stage_dir / "results" / sub.name,
                            ignore=shutil.ignore_patterns(".*"))  # no lock or temporary files
    if (results / "claims.csv").exists():
        shutil.copy2(results / "claims.csv", stage_dir / "results" / "claims.csv")

    parts = [{"caption": "About this book", "chapters": [{"file": "profiles"}, {"file": "status"},
                                                          {"file": "claims"}]}]
    main_profile = tree_profile(results)
    suffix = f" ({main_profile} profile)" if main_profile else ""
    for folder, files in sorted(chapters.items(), key=lambda kv: list(CHAPTERS).index(kv[0])
                                if kv[0] in CHAPTERS else 99):
        parts.append({"caption": CHAPTERS.get(folder, (folder, folder))[1] + suffix,
                      "chapters": [{"file": f} for f in files]})
    parts += _stage_other_profiles(results, notebooks, stage_dir)
    toc = {"format": "jb-book", "root": "intro", "parts": parts}
    (stage_dir / "_toc.yml").write_text(yaml.safe_dump(toc, sort_keys=False))
    return stage_dir


def build(results_dir=None, output_dir: Path | None = None, notebooks_dir=None,
          stage_dir: Path | None = None, strict: bool = False) -> Path:
    """Stage and run ``jupyter-book build``; return the path of ``index.html``."""
    root = repo_root()
    output_dir = Path(output_dir or root / "book")
    staged = stage(results_dir, stage_dir or output_dir / "_stage", notebooks_dir)
    jb = Path(sys.executable).with_name("jupyter-book")
    cmd = [str(jb) if jb.exists() else "jupyter-book", "build", str(staged), "--path-output",
           str(output_dir)]
    if strict:
        cmd.append("-W")
    proc = subprocess.run(cmd, capture_output=True, text=True)
    index = output_dir / "_build" / "html" / "index.html"
    if proc.returncode != 0 or not index.exists():
        raise RuntimeError(f"jupyter-book build failed ({proc.returncode}):\n"
                           f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return index
