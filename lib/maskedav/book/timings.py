"""What re-running the book costs, and whether a re-run gives the same numbers.

:func:`run_times` reads the runner's records (``<tree>/notebooks/<id>.run.json``) of a results tree:
one row per notebook with its wall time. :func:`chapter_times` sums them per chapter against the
budgets of the study-layer issue (a chapter ≤ 30 min, the whole book ≤ 3 h on the profile's machine).
:func:`compare_tables` compares every table (``<paper>/<id>.csv``) of two trees of one profile: a run
from an empty cache against the committed tree says whether the cache changed any number.

``python -m maskedav.book timings`` writes both into ``<tree>/performance/book_runs/<date>-<commit>.json``
(:func:`record_path`), one file per recorded run, which the performance page "What re-running the book
costs" shows: the latest run in full, and every recorded run's minutes per chapter side by side
(:func:`history_table`), so that a chapter measured by an earlier run keeps its number, with its commit.
The record says what the cache held when the run began (the runner notes the number of cache files at the
start of each run; ``--cache-state`` states it for records older than that).
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from .. import provenance
from ..trees import atomic_write_text, display_path, tree_profile

#: Budgets of the study-layer issue at the ``cpu`` profile (2 cores).
CHAPTER_BUDGET_MIN = 30
BOOK_BUDGET_MIN = 180
RECORDS_DIR = "book_runs"          # <tree>/performance/book_runs/<date>-<commit>.json


def run_times(tree: str | Path) -> pd.DataFrame:
    """One row per run record of ``tree``: notebook, chapter, status, minutes, start, commit, device and
    the number of cache files when its run began (``None`` for records older than that field)."""
    rows = []
    for path in sorted(Path(tree, "notebooks").glob("*/*.run.json")):
        rec = json.loads(path.read_text())
        dev = rec.get("device") or {}
        rows.append({"notebook": rec["notebook"], "chapter": rec["notebook"].split("/")[0],
                     "status": rec.get("status"), "minutes": (rec.get("duration_s") or 0.0) / 60,
                     "started_at": rec.get("started_at"), "commit": (rec.get("git") or {}).get("commit"),
                     "device": dev.get("gpu") or dev.get("cpu"), "cpu_count": dev.get("cpu_count"),
                     "cache_files_at_start": rec.get("cache_files_at_start")})
    cols = ["notebook", "chapter", "status", "minutes", "started_at", "commit", "device", "cpu_count",
            "cache_files_at_start"]
    return pd.DataFrame(rows, columns=cols).sort_values("started_at", kind="stable").reset_index(drop=True)


def chapter_times(times: pd.DataFrame, budget_min: float = CHAPTER_BUDGET_MIN) -> pd.DataFrame:
    """Minutes per chapter (sum over its notebooks) and whether it is within ``budget_min``."""
    g = times.groupby("chapter", sort=False)
    out = pd.DataFrame({"notebooks": g.size(), "minutes": g.minutes.sum(),
                        "all ok": g.status.apply(lambda s: bool((s == "ok").all()))})
    out["within budget"] = out.minutes <= budget_min
    return out.reset_index()


def _tables(tree: Path) -> dict[str, Path]:
    return {f"{p.parent.name}/{p.stem}": p for p in sorted(tree.glob("*/*.csv"))
            if p.parent.name not in ("notebooks", "profiles")}


def compare_tables(run: str | Path, reference: str | Path) -> pd.DataFrame:
    """Every table that both trees hold: rows, whether the two CSVs are identical, and where they
    differ the largest absolute difference over the numeric cells (NaN when the shapes, columns or a
    text cell differ)."""
    a, b = _tables(Path(run)), _tables(Path(reference))
    rows = []
    for name in sorted(set(a) & set(b)):
        x, y = pd.read_csv(a[name]), pd.read_csv(b[name])
        same = x.equals(y)
        diff, cols = (0.0, "") if same else (np.nan, "")
        if not same and x.shape == y.shape and list(x.columns) == list(y.columns):
            cols = ", ".join(c for c in x.columns if not x[c].equals(y[c]))
            num = x.select_dtypes("number").columns.intersection(y.select_dtypes("number").columns)
            text = [c for c in x.columns if c not in num]
            if x[text].astype(str).equals(y[text].astype(str)) and len(num):
                diff = float(np.nanmax(np.abs(x[num].to_numpy(float) - y[num].to_numpy(float))))
        rows.append({"table": name, "rows": len(x), "identical": same, "max abs difference": diff,
                     "columns that differ": cols})
    return pd.DataFrame(rows, columns=["table", "rows", "identical", "max abs difference", "columns that differ"])


def _label(tree: Path) -> str:
    """The tree relative to the repository, or "a scratch tree" (no machine path in a committed file)."""
    shown = display_path(tree)
    return shown if not Path(shown).is_absolute() else "a scratch tree outside the repository"


def write_record(run: str | Path, out: str | Path | None = None, reference: str | Path | None = None,
                 cache_state: str | None = None, note: str | None = None) -> Path:
    """Write the record of tree ``run`` to :func:`record_path` in it (or ``out``): the run's times and, with ``reference``,
    the comparison of its tables with the reference tree's; ``note``: what else the reader should know
    about the run (e.g. other work that shared the machine for part of it)."""
    run = Path(run).resolve()
    times = run_times(run)
    if times.empty:
        raise ValueError(f"{display_path(run)} holds no run record")
    known = times.cache_files_at_start.dropna()
    if cache_state is None:
        if known.empty:
            raise ValueError("the records do not say what the cache held: pass cache_state")
        cache_state = f"{int(known.iloc[0])} cache files when the run began"
    rec = {"what": "wall time of each notebook of one run of the book's runner",
           "profile": tree_profile(run), "tree": _label(run), "cache_at_start": cache_state,
           "written_at": provenance.now_iso(), "note": note, "notebooks": times.to_dict("records")}
    if reference is not None:
        rec["reference"] = _label(Path(reference).resolve())
        rec["tables"] = compare_tables(run, reference).to_dict("records")
    path = Path(out) if out else record_path(run, rec["written_at"], times.commit.dropna())
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, json.dumps(rec, indent=2, default=str) + "\n")
    return path


def record_path(tree: str | Path, written_at: str, commits) -> Path:
    """``<tree>/performance/book_runs/<date>-<commit>.json``: the date the record was written and the
    first 7 characters of the (first) commit that ran its notebooks (``unknown`` when none is known)."""
    commit = next(iter(_short_commits(commits)), "unknown")
    return Path(tree) / "performance" / RECORDS_DIR / f"{written_at[:10]}-{commit}.json"


def _short_commits(commits) -> list[str]:
    """The distinct commits among ``commits`` (``None`` skipped), 7 characters each, sorted."""
    return sorted({c[:7] for c in commits if c})


def read_records(tree: str | Path) -> list[dict]:
    """Every record under ``<tree>/performance/book_runs/``, oldest first (by the time it was written)."""
    recs = [read_record(p) for p in sorted(Path(tree, "performance", RECORDS_DIR).glob("*.json"))]
    return sorted(recs, key=lambda r: r["written_at"])


def run_label(rec: dict) -> str:
    """``"run of 2026-12-07, commit b1e6c78"``: how a record is named in tables."""
    return f"run of {rec['written_at'][:10]}, commit {', '.join(_short_commits(rec['times'].commit.dropna())) or 'unknown'}"


def history_table(records: list[dict], expected: dict[str, int] | None = None) -> pd.DataFrame:
    """Minutes per chapter (rows, in the book's order) of each recorded run (columns, :func:`run_label`):
    ``"77.6"``, ``"≥ 31.5 (4 of 5 notebooks)"`` for a chapter the run did not finish, ``"—"`` for one it did
    not run; a last column for the chapter budget."""
    from .registry import CHAPTERS

    cols = {}
    chapters: list[str] = []
    for rec in records:
        per = chapter_times(rec["times"]).set_index("chapter")
        cells = {}
        for c, r in per.iterrows():
            want = (expected or {}).get(c, r.notebooks)
            cells[c] = (f"{r.minutes:.1f}" if r.notebooks >= want else
                        f"≥ {r.minutes:.1f} ({r.notebooks} of {want} notebooks)")
            if c not in chapters:
                chapters.append(c)
        cols[run_label(rec)] = cells
    order = {k: i for i, k in enumerate(CHAPTERS)}
    chapters.sort(key=lambda c: order.get(c, len(order)))
    rows = [{"chapter": CHAPTERS.get(c, (None, c))[1], **{k: v.get(c, "—") for k, v in cols.items()},
             "budget (min)": CHAPTER_BUDGET_MIN} for c in chapters]
    return pd.DataFrame(rows)


def latest_per_chapter(records: list[dict], expected: dict[str, int] | None = None) -> pd.DataFrame:
    """Per chapter of the book (in its order): its latest measurement from the recorded runs (oldest
    first) — the latest run that finished it (``complete``), else the largest lower bound among runs
    that stopped inside it — with that run's :func:`run_label`; ``minutes`` NaN when no run measured it.
    ``notebooks`` is how many notebooks the chapter has (``expected``; 0: none written yet)."""
    from .registry import CHAPTERS

    best: dict[str, dict] = {}
    for rec in records:
        for _, r in chapter_times(rec["times"]).iterrows():
            done = bool(r.notebooks >= (expected or {}).get(r.chapter, r.notebooks))
            prev = best.get(r.chapter)
            if done or prev is None or (not prev["complete"] and r.minutes > prev["minutes"]):
                best[r.chapter] = dict(minutes=float(r.minutes), complete=done, run=run_label(rec))
    return pd.DataFrame([dict(key=c, chapter=title, notebooks=(expected or {}).get(c, 0),
                              **best.get(c, dict(minutes=np.nan, complete=False, run=None)))
                         for c, (_, title) in CHAPTERS.items()])


def describe_budget(records: list[dict], expected: dict[str, int] | None = None) -> str:
    """Whether the book meets its budgets, from each chapter's latest measurement (:func:`latest_per_chapter`):
    the chapters within and over :data:`CHAPTER_BUDGET_MIN`, those measured only in part (a lower bound) or
    not at all, and their sum against :data:`BOOK_BUDGET_MIN`."""
    t = latest_per_chapter(records, expected)
    measured = t[t.minutes.notna()]
    fmt = lambda r: f"{r.chapter} ({'' if r.complete else '≥ '}{r.minutes:.1f} min)"  # noqa: E731
    within = [fmt(r) for r in measured.itertuples() if r.complete and r.minutes <= CHAPTER_BUDGET_MIN]
    over = [fmt(r) for r in measured.itertuples() if r.minutes > CHAPTER_BUDGET_MIN]
    partial = [fmt(r) for r in measured.itertuples() if not r.complete and r.minutes <= CHAPTER_BUDGET_MIN]
    unmeasured = [r.chapter for r in t[t.minutes.isna()].itertuples() if r.notebooks]
    unwritten = [r.chapter for r in t[t.minutes.isna()].itertuples() if not r.notebooks]
    total, lower = float(measured.minutes.sum()), not measured.complete.all() or bool(unmeasured)
    parts = [f"**Budget, from each chapter's latest run from an empty cache.** Within {CHAPTER_BUDGET_MIN} "
             f"minutes: {', '.join(within) or 'none'}. Over: {', '.join(over) or 'none'}."]
    if partial:
        parts.append(f"Measured only in part (a lower bound): {', '.join(partial)}.")
    if unmeasured:
        parts.append(f"Not yet run from an empty cache: {', '.join(unmeasured)}.")
    if unwritten:
        parts.append(f"Not written yet: {', '.join(unwritten)}.")
    verdict = ("**not met**" if total > BOOK_BUDGET_MIN or over else
               "met so far" if lower else "**met**")
    parts.append(f"The measured chapters add up to {'at least ' if lower else ''}{total:.0f} minutes against "
                 f"{BOOK_BUDGET_MIN} for the whole book: the budget is {verdict}.")
    return " ".join(parts)


def read_record(path: str | Path) -> dict | None:
    """The record written by :func:`write_record` with its frames (``times``, ``tables``), or ``None``."""
    path = Path(path)
    if not path.exists():
        return None
    rec = json.loads(path.read_text())
    rec["times"] = pd.DataFrame(rec.pop("notebooks"))
    rec["tables"] = pd.DataFrame(rec["tables"]) if "tables" in rec else None
    return rec


def notebooks_per_chapter(notebooks_dir: str | Path | None = None) -> dict[str, int]:
    """How many notebooks each chapter of the book has (the registry's count)."""
    from .registry import discover

    counts: dict[str, int] = {}
    for nb in discover(notebooks_dir).values():
        counts[nb.folder] = counts.get(nb.folder, 0) + 1
    return counts


def budget_table(times: pd.DataFrame, expected: dict[str, int] | None = None) -> pd.DataFrame:
    """Per chapter (in the book's order, with its title) minutes against :data:`CHAPTER_BUDGET_MIN`,
    and a last row for the whole run against :data:`BOOK_BUDGET_MIN`. A chapter the run did not finish
    (fewer run records than ``expected[chapter]`` notebooks) is marked incomplete, not within budget."""
    from .registry import CHAPTERS

    ch = chapter_times(times)
    ch["order"] = ch.chapter.map({k: i for i, k in enumerate(CHAPTERS)}).fillna(len(CHAPTERS))
    ch = ch.sort_values("order")
    rows = []
    for _, c in ch.iterrows():
        want = (expected or {}).get(c.chapter, c.notebooks)
        verdict = ("yes" if c["within budget"] else "no") if c.notebooks >= want else \
            f"incomplete run ({c.notebooks} of {want} notebooks)"
        rows.append({"chapter": CHAPTERS.get(c.chapter, (None, c.chapter))[1], "notebooks": c.notebooks,
                     "minutes": c.minutes, "budget (min)": CHAPTER_BUDGET_MIN, "within budget": verdict})
    total = float(times.minutes.sum())
    rows.append({"chapter": "the whole run", "notebooks": len(times), "minutes": total,
                 "budget (min)": BOOK_BUDGET_MIN, "within budget": "yes" if total <= BOOK_BUDGET_MIN else "no"})
    return pd.DataFrame(rows)


def describe(rec: dict, expected: dict[str, int] | None = None) -> str:
    """A paragraph on the record: machine, commit, what the cache held, which chapters it covers, left
    unfinished (fewer records than ``expected`` notebooks) or does not cover, and how many of its tables
    equal the reference tree's."""
    from .registry import CHAPTERS

    t = rec["times"]
    per = chapter_times(t)
    over = per.query("not `within budget`")
    unfinished = [f"{CHAPTERS.get(c, (0, c))[1]} ({n} of {expected[c]} notebooks)"
                  for c, n in zip(per.chapter, per.notebooks) if expected and n < expected.get(c, n)]
    cores = t.cpu_count.dropna()
    commits = sorted(set(t.commit.dropna().str[:7]))
    missing = [title for key, (_, title) in CHAPTERS.items() if key not in set(t.chapter)]
    parts = [f"One run of the book's runner at the `{rec['profile']}` profile on {t.device.iloc[0]}"
             + (f" ({int(cores.iloc[0])} cores)" if len(cores) else "")
             + f", code at commit {', '.join(commits)}, starting with {rec['cache_at_start']}: "
             f"{len(t)} notebooks, {t.minutes.sum():.0f} minutes of wall time. "
             + ("Every chapter of it stays within its 30 minutes." if over.empty and not unfinished else
               "" if over.empty else
                "Over the 30-minute budget: " + ", ".join(f"{CHAPTERS.get(c, (0, c))[1]} ({m:.0f} min)"
                                                          for c, m in zip(over.chapter, over.minutes)) + ".")]
    if unfinished:
        parts.append(" Stopped before the end of: " + "; ".join(unfinished) + " (a lower bound on its time).")
    if missing:
        parts.append(" Not in this run: " + "; ".join(missing) + ".")
    if rec.get("note"):
        parts.append(f" {rec['note'].rstrip('.')}.")
    tables = rec.get("tables")
    if tables is not None and len(tables):
        same = int(tables.identical.sum())
        parts.append(f" Of the {len(tables)} tables that this run and the committed tree both hold, "
                     f"**{same} are identical**, cell for cell")
        differ = tables[~tables.identical]
        if len(differ):
            def how(r):
                d, cols = r["max abs difference"], r.get("columns that differ") or ""
                where = f" in {cols}" if isinstance(cols, str) and cols else ""
                return (f"largest difference {d:.3g}{where}" if pd.notna(d) else
                        f"a text cell differs{where}" if where else "the shape or columns differ")
            parts.append("; the others differ: "
                         + ", ".join(f"`{r.table}` ({how(r)})" for _, r in differ.iterrows()) + ".")
        else:
            parts.append(".")
    return "".join(parts)


def read_steps_levers(tree: str | Path) -> list[pd.DataFrame]:
    """The learning gates measured at other pre-training budgets by ``scripts/regime_gate.py`` (one frame
    per ``performance/regime/gate-<steps>-steps.csv`` of the tree, by steps)."""
    files = sorted(Path(tree).glob("performance/regime/gate-*-steps.csv"),
                   key=lambda p: int(p.stem.split("-")[1]))
    return [pd.read_csv(f) for f in files]


def steps_lever_table(gate: pd.DataFrame, reduced: pd.DataFrame) -> pd.DataFrame:
    """The book's learning gate (``gate``: the baselines' table, the profile's steps) beside the same
    cells at fewer pre-training steps (``reduced``, :func:`read_steps_levers`): per (task, protocol, arm)
    present in both, the paired gain over random init with its interval and the gate at each budget, and
    whether the cell keeps the gate. The random-init reference is the same network in both."""
    keys = ["task", "protocol", "arm"]
    steps = int(reduced["steps"].iloc[0])
    cols = ["pre-trained", "gain", "80% CI", "gate"]
    t = gate[keys + cols].merge(reduced[keys + cols + ["pretrain_cost_s"]], on=keys, suffixes=("", f" @{steps}"))
    t["kept"] = np.where(t["gate"] != "passes", "—",
                         np.where(t[f"gate @{steps}"] == "passes", "yes", "no"))
    return t.rename(columns={"pretrain_cost_s": f"cost per run @{steps} (s)"})


def describe_steps_lever(table: pd.DataFrame, full_steps: int) -> str:
    """One paragraph on :func:`steps_lever_table`: how many cells that pass at the profile's steps fail at
    the reduced budget, and which."""
    reduced = [c for c in table.columns if c.startswith("gate @")][0].split("@")[1]
    passing = table[table["gate"] == "passes"]
    lost = passing[passing["kept"] == "no"]
    names = "; ".join(f"{r.arm} {r.protocol} on {r.task}" for r in lost.itertuples())
    return (f"Of the {len(passing)} cells that pass the gate at {full_steps:,} pre-training steps, "
            f"{len(passing) - len(lost)} still pass at {int(reduced):,} steps and {len(lost)} fail"
            + (f": {names}." if len(lost) else ".")
            + (f" Pre-training for {int(reduced) / full_steps:.0%} of the steps cuts its time in proportion and "
               "turns those cells — and every claim that rests on them — *untestable at this profile*."
               if len(lost) else ""))
