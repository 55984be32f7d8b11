"""``python -m maskedav.book {run,status,build,list,timings}``: the book's command line.

Exit status: 0 success; 1 some notebook failed or was blocked (``run``); 2 a usage error or a refused
run (bad arguments, an ``--only`` that names no notebook, a results tree of another profile or in
use by another runner), in which case nothing was run.
"""
from __future__ import annotations

import argparse
import sys

from ..profiles import PROFILE_NAMES

#: The ``--only`` examples of ``--help``; a test checks that each one names notebooks.
ONLY_EXAMPLES = ("mvd", "av-maskenhancer", "data/tour")

USAGE_ERROR = 2


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python -m maskedav.book", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    run = sub.add_parser("run", help="execute notebooks in dependency order (cached)")
    run.add_argument("--profile", choices=PROFILE_NAMES, default=None,
                     help="default: gpu when CUDA is available, else cpu")
    run.add_argument("--only", action="append", default=None,
                     help=f"a chapter (e.g. {', '.join(ONLY_EXAMPLES[:-1])}; hyphens or underscores) or "
                          f"a notebook id (e.g. {ONLY_EXAMPLES[-1]}); repeatable or comma-separated; "
                          "dependencies are included")
    run.add_argument("--force", action="store_true", help="ignore the cache")
    run.add_argument("--without-needs", action="store_true",
                     help="run only the --only notebooks, not what they need (recorded in each run record "
                          "as needs_skipped; for notebooks that read nothing of their upstream)")
    run.add_argument("--results-dir", default=None,
                     help="the results tree (default: the profile's own: smoke in $MASKEDAV_SCRATCH/"
                          "results-smoke, default ~/.cache/maskedav/results-smoke; cpu in results/; "
                          "another profile in results/profiles/<profile>/). A tree holds one profile only")
    run.add_argument("--notebooks-dir", default=None)
    st = sub.add_parser("status", help="every manifest artifact: present / missing / stale")
    st.add_argument("--profile", choices=PROFILE_NAMES, default=None,
                    help="the tree of this profile (default: results/)")
    st.add_argument("--results-dir", default=None)
    st.add_argument("--notebooks-dir", default=None)
    bd = sub.add_parser("build", help="build the HTML book from executed notebooks (no execution)")
    bd.add_argument("--profile", choices=PROFILE_NAMES, default=None,
                    help="the book that shows this profile's run: results/ (with its results/profiles/* "
                         "parts) unless the profile's tree is elsewhere (smoke); default: results/")
    bd.add_argument("--results-dir", default=None)
    bd.add_argument("--output-dir", default=None)
    bd.add_argument("--notebooks-dir", default=None)
    tm = sub.add_parser("timings", help="record a run's wall times (and compare its tables with another "
                                        "tree's) in <tree>/performance/book_runs/<date>-<commit>.json")
    tm.add_argument("--results-dir", required=True, help="the tree of the run to record")
    tm.add_argument("--compare", default=None, help="a tree of the same profile whose tables to compare with")
    tm.add_argument("--cache-state", default=None,
                    help="what the cache held when the run began, for records that do not say it")
    tm.add_argument("--note", default=None, help="what else to know about the run (shown with its times)")
    tm.add_argument("--out", default=None, help="where to write the record (default: in the run's tree)")
    ls = sub.add_parser("list", help="notebooks in execution order with their dependencies")
    ls.add_argument("--notebooks-dir", default=None)
    return ap


def main(argv: list[str] | None = None) -> int:
    ap = _parser()
    args = ap.parse_args(argv)
    if args.cmd == "run" and args.without_needs and not args.only:
        ap.error("--without-needs needs --only")

    from ..trees import TreeError
    from .registry import SelectionError

    try:
        return _dispatch(args)
    except (SelectionError, TreeError) as exc:
        print(f"python -m maskedav.book {args.cmd}: error: {exc}", file=sys.stderr)
        return USAGE_ERROR


def _dispatch(args) -> int:
    if args.cmd == "run":
        from .runner import run_book

        only = [x for item in args.only for x in item.split(",") if x.strip()] if args.only else None
        results = run_book(args.profile, only, args.force, args.results_dir, args.notebooks_dir,
                           without_needs=args.without_needs)
        return 1 if any(r.status in ("failed", "blocked") for r in results) else 0
    if args.cmd == "status":
        from ..trees import default_tree
        from .status import artifact_status

        results_dir = args.results_dir or (default_tree(args.profile) if args.profile else None)
        rows = artifact_status(results_dir, args.notebooks_dir)
        for r in rows:
            extra = f"  [{r['profile']}]" if r["profile"] else ""
            reason = f"  ({r['reason']})" if r["reason"] else ""
            print(f"{r['status']:<8} {r['paper']}/{r['id']}{extra}{reason}")
        n = {s: sum(r["status"] == s for r in rows) for s in ("present", "stale", "missing")}
        print(f"{n['present']} present, {n['stale']} stale, {n['missing']} missing of {len(rows)}")
        return 0
    if args.cmd == "build":
        from pathlib import Path

        from ..trees import book_tree
        from .build import build

        results_dir = args.results_dir or (book_tree(args.profile) if args.profile else None)
        index = build(results_dir, Path(args.output_dir) if args.output_dir else None,
                      args.notebooks_dir)
        print(f"book: {index}")
        return 0
    if args.cmd == "timings":
        from .timings import chapter_times, read_record, write_record

        try:
            path = write_record(args.results_dir, args.out, args.compare, args.cache_state, args.note)
        except ValueError as exc:              # no run record, or a cache state nobody stated
            print(f"python -m maskedav.book timings: error: {exc}", file=sys.stderr)
            return USAGE_ERROR
        rec = read_record(path)
        print(chapter_times(rec["times"]).to_string(index=False))
        if rec["tables"] is not None:
            print(f"{int(rec['tables'].identical.sum())} of {len(rec['tables'])} tables identical")
        print(f"record: {path}")
        return 0
    if args.cmd == "list":
        from .registry import discover, execution_order

        nbs = discover(args.notebooks_dir)
        for nb in execution_order(nbs):
            print(f"{nb.id:<40} needs: {', '.join(nb.needs) or '-'}")
        return 0
    return USAGE_ERROR


if __name__ == "__main__":
    sys.exit(main())
