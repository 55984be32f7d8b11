"""Build the HTML book from what papermill executed (the book never executes anything).

The sources in ``book/`` (``_config.yml``, the hand-written part of ``intro.md``) are staged together
with the executed notebooks from ``<results>/notebooks/`` and pages generated from the results: the
intro's account of what the build holds (chapters, profile, device, the manifest's artifacts), the
status, profiles and claims pages (:mod:`maskedav.book.ledger`); ``_toc.yml`` is generated from the
notebook registry, so a chapter appears once its notebooks have been executed.

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
from .ledger import claims_page
from .registry import CHAPTERS, discover, execution_order
from .status import artifact_status


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


def _status_page(results: Path, rows: list[dict]) -> str:
    import pandas as pd

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


def _profiles_page() -> str:
    """One column per profile (a narrow table: nothing cut off); the `paper` profile reads your
    dataset from disk, so its sizes are the dataset's."""
    import pandas as pd

    from ..profiles import PROFILES

    def sizes(p):
        on_disk = "your dataset on disk"
        return {"what it is for": p.description, "device": p.device, "seeds": p.seeds,
                "data": on_disk if p.dataset == "disk" else p.dataset,
                "clip": f"{p.data.frames}x{p.data.image_size}² @ {p.data.fps:g} fps",
                "clips (pretrain / train / test)": on_disk if p.data.n_pretrain == 0 else
                f"{p.data.n_pretrain:,} / {p.data.n_train:,} / {p.data.n_test:,}",
                "ViT (dim x depth, patch)": f"{p.model.dim}x{p.model.depth}, {p.model.patch_size}",
                "steps x batch": f"the paper's schedule, batch {p.train.batch_size}" if p.train.steps == 0
                else f"{p.train.steps:,} x {p.train.batch_size}",
                "precision": p.train.precision}

    table = pd.DataFrame({p.name: sizes(p) for p in PROFILES.values()})
    return "\n".join([
        "# Profiles", "",
        f"The same notebooks run at {len(PROFILES)} named profiles, defined in one table in "
        "`maskedav.profiles` (this page is generated from it). Only the sizes change, never the code.",
        "", table.rename_axis("").reset_index().to_markdown(index=False), "",
        "Every measured table and figure records the profile, data and device that produced it "
        "in its provenance file `results/<paper>/<id>.json`.", ""])


def describe_device(device: dict | None) -> str:
    """A run record's device in words: the GPU, else the CPU and its cores."""
    device = device or {}
    if device.get("gpu"):
        return device["gpu"]
    cores = f", {device['cpu_count']} cores" if device.get("cpu_count") else ""
    return f"{device.get('cpu') or '?'}{cores}"


def _stage_tree(tree: Path, prefix: str, notebooks: dict, stage_dir: Path) -> tuple[dict, set]:
    """Stage the notebooks of one results tree whose runs ended ok, under ``stage_dir/prefix``;
    return ``({folder: [toc files]}, {devices})``. A failed run is not published."""
    chapters: dict[str, list[str]] = {}
    devices: set[str] = set()
    for nb in execution_order(notebooks):
        src = tree / "notebooks" / f"{nb.id}.ipynb"
        rec = tree / "notebooks" / f"{nb.id}.run.json"
        if not (src.exists() and rec.exists()):
            continue
        run = json.loads(rec.read_text())
        if run.get("status") != "ok":
            continue
        devices.add(describe_device(run.get("device")))
        dst = stage_dir / prefix / "notebooks" / f"{nb.id}.ipynb"
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, dst)
        chapters.setdefault(nb.folder, []).append(f"{prefix}notebooks/{nb.id}")
    return chapters, devices


def _chapter_order(folder: str) -> int:
    return list(CHAPTERS).index(folder) if folder in CHAPTERS else len(CHAPTERS)


def _intro_page(intro: str, parts: list[dict], status_rows: list[dict]) -> str:
    """``book/intro.md`` followed by what this build holds, generated from the results: the chapters
    with their profile and device, the chapters not written yet, and the manifest's artifacts."""
    import pandas as pd

    df = pd.DataFrame(status_rows)
    n = df.status.value_counts()
    have = {folder for p in parts for folder in p.get("folders", ())}
    rows = [{"part of the book": p["caption"], "notebooks": len(p["chapters"]), "profile": p["profile"],
             "device": p["device"]} for p in parts if p.get("folders")]
    lines = [intro.rstrip(), "", "## What this build holds", "",
             "Generated from the results trees when the book was built.", "",
             pd.DataFrame(rows).to_markdown(index=False) if rows else "_No notebook has been run yet._", "",
             f"**{n.get('present', 0) + n.get('stale', 0)} of the manifest's {len(df)} tables and figures** "
             f"are in the main results tree: {n.get('present', 0)} from the current sources, "
             f"{n.get('stale', 0)} stale (a notebook or the library changed since they were run); "
             f"{n.get('missing', 0)} are not produced yet. {{doc}}`status` lists each one."]
    missing = [title for folder, (_, title) in CHAPTERS.items() if folder not in have]
    if missing:
        lines += ["", "Not in this build yet (no executed notebooks): " + "; ".join(missing) + "."]
    return "\n".join(lines) + "\n"


def stage(results_dir=None, stage_dir: Path | None = None, notebooks_dir=None) -> Path:
    """Copy book sources and executed notebooks into ``stage_dir``, generate the intro's account of
    the build, the status, profiles and claims pages, and write ``_toc.yml``.

    The main tree's chapters are captioned with its profile; every ``<results>/profiles/<name>/``
    tree (e.g. ``gpu`` on a lent H100: ``scripts/gpu_book.sh``) is a part of its own."""
    root = repo_root()
    results = results_root(results_dir)
    stage_dir = Path(stage_dir or root / "book" / "_stage")
    if stage_dir.exists():
        shutil.rmtree(stage_dir)
    stage_dir.mkdir(parents=True)
    shutil.copy2(root / "book" / "_config.yml", stage_dir / "_config.yml")
    notebooks = discover(Path(notebooks_dir) if notebooks_dir else None)

    main_profile = tree_profile(results)
    suffix = f" ({main_profile} profile)" if main_profile else ""
    parts = [{"caption": "About this book", "chapters": [{"file": "profiles"}, {"file": "status"},
                                                          {"file": "claims"}]}]
    chapters, devices = _stage_tree(results, "", notebooks, stage_dir)
    for folder, files in sorted(chapters.items(), key=lambda kv: _chapter_order(kv[0])):
        parts.append({"caption": CHAPTERS.get(folder, (folder, folder))[1] + suffix, "folders": [folder],
                      "profile": main_profile or "unknown", "device": ", ".join(sorted(devices)),
                      "chapters": [{"file": f} for f in files]})
    root_other = results / OTHER_PROFILES_DIR
    for tree in sorted(p for p in root_other.iterdir() if p.is_dir()) if root_other.exists() else []:
        other, devices = _stage_tree(tree, f"{OTHER_PROFILES_DIR}/{tree.name}/", notebooks, stage_dir)
        if other:
            prof = tree_profile(tree) or tree.name
            parts.append({"caption": f"Runs at the {prof} profile ({', '.join(sorted(devices))}; "
                                     f"{display_path(tree)}/)", "profile": prof, "folders": list(other),
                          "device": ", ".join(sorted(devices)),
                          "chapters": [{"file": f} for _, files in sorted(
                              other.items(), key=lambda kv: _chapter_order(kv[0])) for f in files]})
    # figures the notebooks wrote, so that pages may link them
    for sub in results.iterdir() if results.exists() else []:
        if sub.is_dir() and sub.name not in ("notebooks", OTHER_PROFILES_DIR):
            shutil.copytree(sub, stage_dir / "results" / sub.name,
                            ignore=shutil.ignore_patterns(".*"))  # no lock or temporary files
    if (results / "claims.csv").exists():
        shutil.copy2(results / "claims.csv", stage_dir / "results" / "claims.csv")

    rows = artifact_status(results, notebooks_dir)
    pages = {"intro": _intro_page((root / "book" / "intro.md").read_text(), parts, rows),
             "status": _status_page(results, rows), "profiles": _profiles_page(),
             "claims": claims_page(results, stage_dir)}
    for name, text in pages.items():
        (stage_dir / f"{name}.md").write_text(text)
    toc_parts = [{k: v for k, v in p.items() if k in ("caption", "chapters")} for p in parts]
    toc = {"format": "jb-book", "root": "intro", "parts": toc_parts}
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
