"""Execute the book's notebooks with papermill, in dependency order, with a content-hash cache.

For each notebook (see :mod:`maskedav.book.registry` for discovery and cache keys):

1. compute its cache key; if ``<results>/notebooks/<id>.run.json`` records a successful run with
   the same key and the executed notebook is there, skip it (unless ``force``);
2. if a notebook it needs failed, mark it ``blocked`` and go on with the others;
3. else convert the ``.py`` source to a notebook, execute it with papermill (kernel, working
   directory, per-cell timeout and progress bar set explicitly), injecting ``profile`` and
   ``results_dir``, and pass the run context (cache key, start time, ...) to the kernel through
   the ``MASKEDAV_RUN`` environment variable so that every artifact's provenance names it;
4. write the run record. A failure is reported with the path of its executed copy.

The results tree is ``results_dir`` when given, else the profile's own tree
(:func:`maskedav.trees.default_tree`: ``smoke`` outside the repository, the main profile in
``results/``, any other in ``results/profiles/<profile>/``). The runner refuses
(:class:`maskedav.trees.TreeError`) a tree that holds another profile's results and a tree that
another runner is working on.
"""
from __future__ import annotations

import json
import os
import sys
import tempfile
import time
import traceback
from dataclasses import asdict, dataclass
from pathlib import Path

from .. import provenance
from ..checkpoints import CACHE_MANIFEST_ENV, read_cache_manifest
from ..paths import repo_root, cache_root
from ..profiles import get_profile
from ..trees import atomic_write_text, check_tree, claim_tree, default_tree, display_path, runner_lock
from .registry import Notebook, cache_key, discover, execution_order, select

KERNEL_NAME = "python3"
# The kernel's own log (ipykernel's "Kernel is running over TCP without encryption" at start and the
# "KeyboardInterrupt caught in kernel" of its shutdown) is noise in a runner's output: errors in a
# notebook reach the runner as cell errors, a dead kernel as an exception.
KERNEL_ARGUMENTS = ("--log-level=CRITICAL",)
# What the runner injects into every notebook's papermill parameters cell (a test checks that
# each notebook defines them: papermill itself only warns about unknown parameters).
INJECTED_PARAMETERS = ("profile", "results_dir")


def display_results_dir(tree: Path) -> str:
    """The ``results_dir`` injected into a notebook: relative to the repository root when the tree lies
    inside it (no machine's absolute path in the executed notebooks; :func:`maskedav.paths.results_root`
    resolves it against the root), else absolute."""
    try:
        return Path(tree).resolve().relative_to(repo_root()).as_posix()
    except ValueError:
        return str(Path(tree).resolve())


@dataclass
class RunResult:
    notebook: str
    status: str            # "ok", "cached", "failed", "blocked"
    cache_key: str
    output: str            # executed notebook path
    duration_s: float = 0.0
    error: str | None = None


def executed_path(results: Path, nb: Notebook) -> Path:
    return results / "notebooks" / f"{nb.id}.ipynb"


def record_path(results: Path, nb: Notebook) -> Path:
    return results / "notebooks" / f"{nb.id}.run.json"


def read_record(results: Path, nb: Notebook) -> dict | None:
    path = record_path(results, nb)
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def is_cached(results: Path, nb: Notebook, key: str) -> bool:
    rec = read_record(results, nb)
    return bool(rec and rec.get("status") == "ok" and rec.get("cache_key") == key
                and executed_path(results, nb).exists()
                and all((cache_root() / f).exists() for f in rec.get("cache_files", [])))


def _execute(nb: Notebook, output: Path, parameters: dict, timeout: int | None,
             progress_bar: bool, context: dict) -> None:
    import jupytext
    import papermill

    source = jupytext.read(nb.path)
    source.metadata["kernelspec"] = {"name": KERNEL_NAME, "display_name": "Python 3",
                                     "language": "python"}
    output.parent.mkdir(parents=True, exist_ok=True)
    saved = {k: os.environ.get(k) for k in (provenance.RUN_ENV, CACHE_MANIFEST_ENV)}
    os.environ[provenance.RUN_ENV] = json.dumps(context)
    os.environ[CACHE_MANIFEST_ENV] = context["cache_manifest"]
    try:
        with tempfile.TemporaryDirectory(prefix="maskedav-nb-") as tmp:
            src = Path(tmp) / f"{nb.path.stem}.ipynb"
            jupytext.write(source, src, fmt="ipynb")
            papermill.execute_notebook(
                str(src), str(output), parameters=parameters, kernel_name=KERNEL_NAME,
                cwd=str(nb.path.parent), execution_timeout=timeout, progress_bar=progress_bar,
                log_output=False, request_save_on_cell_execute=True,
                extra_arguments=list(KERNEL_ARGUMENTS),
            )
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        _drop_machine_paths(output)


def _drop_machine_paths(executed: Path) -> None:
    """Remove papermill's ``input_path`` / ``output_path`` (a temporary file and this machine's checkout)
    from an executed notebook's metadata: the committed notebook names no machine's folders."""
    try:
        nb = json.loads(executed.read_text())
    except (OSError, ValueError):
        return
    meta = nb.get("metadata", {}).get("papermill", {})
    if {"input_path", "output_path"} & set(meta):
        for k in ("input_path", "output_path"):
            meta.pop(k, None)
        atomic_write_text(executed, json.dumps(nb, indent=1, ensure_ascii=False) + "\n")


def run_book(profile: str | None = None, only: list[str] | None = None, force: bool = False,
             results_dir: str | os.PathLike | None = None, notebooks_dir: str | None = None,
             progress_bar: bool | None = None, log=print,
             package_dir: Path | None = None, without_needs: bool = False) -> list[RunResult]:
    """Run every notebook (or those of ``only`` and their dependencies); return one result each.

    ``package_dir`` overrides the library whose source enters the cache key (tests use a copy).
    ``without_needs``: run only the notebooks ``only`` names, not their dependencies; each run record
    lists the dependencies it ran without (``needs_skipped``).

    Raises :class:`~maskedav.book.registry.SelectionError` when ``only`` names no notebook and
    :class:`~maskedav.trees.TreeError` when the tree is another profile's or is in use, before running
    anything.
    """
    prof = get_profile(profile)
    if without_needs and not only:
        raise ValueError("without_needs needs `only`")
    notebooks = discover(Path(notebooks_dir) if notebooks_dir else None)
    order = execution_order(notebooks, only)
    if without_needs:
        named = select(notebooks, only)
        order = [nb for nb in order if nb.id in named]
    results = Path(results_dir).resolve() if results_dir else default_tree(prof.name)
    if progress_bar is None:
        progress_bar = sys.stderr.isatty()
    check_tree(results, prof.name)       # refuse another profile's tree before touching it
    with runner_lock(results):           # one runner per tree
        claim_tree(results, prof.name)   # checked again under the lock, then marked
        return _run(prof, notebooks, order, results, force, progress_bar, log, package_dir, without_needs)


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:.0f} min" if seconds >= 90 else f"{seconds:.0f} s"


def estimate(results: Path, order: list[Notebook], keys: dict[str, str], force: bool) -> str:
    """One line before a run: how many notebooks will run and for about how long, from the duration
    of each one's last recorded run in this tree; how many are cached."""
    todo = [nb for nb in order if force or not is_cached(results, nb, keys[nb.id])]
    known = [rec["duration_s"] for nb in todo if (rec := read_record(results, nb)) and rec.get("duration_s")]
    unknown = len(todo) - len(known)
    line = f"{len(todo)} to run, {len(order) - len(todo)} cached"
    if known:
        line += f"; about {_minutes(sum(known))} by the last recorded runs"
        line += f" of {len(known)} of them" if unknown else ""
    elif todo:
        line += "; no recorded run to estimate the duration from"
    return line


def summary(results: Path, outcomes: list[RunResult], profile: str, started: float) -> list[str]:
    """The lines that end a run: notebooks by outcome with their times, the artifacts written by the
    run (provenance files newer than its start) and the claims of this profile by paper and verdict."""
    from ..claims import VERDICTS, read_claims

    lines = [f"maskedav.book: done in {_minutes(time.time() - started)}"]
    for status in ("ok", "cached", "failed", "blocked"):
        runs = [r for r in outcomes if r.status == status]
        if runs:
            times = ", ".join(f"{r.notebook} {_minutes(r.duration_s)}" if r.duration_s else r.notebook
                              for r in runs)
            lines.append(f"  {'run' if status == 'ok' else status:<8}{len(runs):>3}: {times}")
    written: dict[str, int] = {}
    for prov in results.glob("*/*.json"):
        if prov.parent.name != "notebooks" and prov.stat().st_mtime >= started:
            written[prov.parent.name] = written.get(prov.parent.name, 0) + 1
    lines.append("  artifacts written: " + (", ".join(f"{k} {v}" for k, v in sorted(written.items()))
                                            or "none"))
    claims = read_claims(results)
    claims = claims[claims.profile == profile]
    for paper, sub in claims.groupby("paper"):
        counts = sub.verdict.value_counts()
        lines.append(f"  claims {paper}: " + ", ".join(f"{counts[v]} {v}" for v in VERDICTS if v in counts))
    return lines


def _run(prof, notebooks, order, results: Path, force: bool, progress_bar: bool, log,
         package_dir: Path | None, without_needs: bool) -> list[RunResult]:
    memo: dict[str, str] = {}
    outcomes: dict[str, RunResult] = {}
    run_started = time.time()
    parameters = dict(zip(INJECTED_PARAMETERS, (prof.name, display_results_dir(results))))
    keys = {nb.id: cache_key(nb, notebooks, prof.name, parameters, _memo=memo,
                             **({"package_dir": Path(package_dir)} if package_dir else {}))
            for nb in order}
    log(f"maskedav.book: profile {prof.name}, {len(order)} notebook(s), results in {display_path(results)}: "
        f"{estimate(results, order, keys, force)}")
    for nb in order:
        key = keys[nb.id]
        out = executed_path(results, nb)
        bad = [d for d in nb.needs if outcomes.get(d) and outcomes[d].status in ("failed", "blocked")]
        if bad:
            res = RunResult(nb.id, "blocked", key, str(out), error=f"needs failed: {', '.join(bad)}")
        elif not force and is_cached(results, nb, key):
            res = RunResult(nb.id, "cached", key, str(out))
        else:
            started = time.time()
            n_cached = sum(1 for f in cache_root().rglob("*") if f.is_file())
            context = {"notebook": nb.id, "profile": prof.name, "parameters": parameters,
                       "cache_key": key, "started_at": provenance.now_iso(),
                       "started_unix": started,
                       "cache_manifest": str(record_path(results, nb).with_suffix(".cache.txt"))}
            Path(context["cache_manifest"]).parent.mkdir(parents=True, exist_ok=True)
            Path(context["cache_manifest"]).write_text("")
            log(f"  run    {nb.id} ...")
            try:
                _execute(nb, out, parameters, prof.cell_timeout_s, progress_bar, context)
                res = RunResult(nb.id, "ok", key, str(out), time.time() - started)
            except Exception as exc:  # one failing notebook must not stop the others
                msg = f"{type(exc).__name__}: {exc}".strip()
                if not out.exists():
                    msg += "\n" + traceback.format_exc()
                res = RunResult(nb.id, "failed", key, str(out), time.time() - started, msg[-4000:])
            used = read_cache_manifest(Path(context["cache_manifest"]))
            Path(context["cache_manifest"]).unlink(missing_ok=True)
            rec = {**asdict(res), "output": display_path(out), "profile": prof.name, "parameters": parameters,
                   "cache_files": used,
                   "cache_files_at_start": n_cached,
                   "needs_skipped": [d for d in nb.needs if d not in outcomes] if without_needs else [],
                   "started_at": context["started_at"], "git": provenance.git_state(),
                   "device": provenance.device_info(prof.resolve_device()),
                   "versions": provenance.library_versions()}
            atomic_write_text(record_path(results, nb), json.dumps(rec, indent=2, default=str) + "\n")
        outcomes[nb.id] = res
        log(f"  {res.status:<6} {nb.id}" + (f" ({res.duration_s:.1f} s)" if res.duration_s else ""))
    failed = [r for r in outcomes.values() if r.status in ("failed", "blocked")]
    for r in failed:
        first = (r.error or "").splitlines()[0] if r.error else ""
        log(f"FAILED {r.notebook}: {first}\n       executed copy: {r.output}")
    for line in summary(results, list(outcomes.values()), prof.name, run_started):
        log(line)
    return list(outcomes.values())
