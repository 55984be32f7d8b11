"""``python -m maskedav.book {run,status,build,list}``: the book's command line."""
from __future__ import annotations

import argparse
import sys

from ..profiles import PROFILE_NAMES


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m maskedav.book", description=__doc__)
    sub = ap.add_subparsers(dest="cmd", required=True)
    run = sub.add_parser("run", help="execute notebooks in dependency order (cached)")
    run.add_argument("--profile", choices=PROFILE_NAMES, default=None,
                     help="default: gpu when CUDA is available, else cpu")
    run.add_argument("--only", action="append", default=None,
                     help="a chapter (e.g. mvd, kdc-mae) or notebook id; repeatable; "
                          "dependencies are included")
    run.add_argument("--force", action="store_true", help="ignore the cache")
    run.add_argument("--without-needs", action="store_true",
                     help="run only the --only notebooks, not what they need (recorded in each run record "
                          "as needs_skipped; for notebooks that read nothing of their upstream)")
    run.add_argument("--results-dir", default=None)
    run.add_argument("--notebooks-dir", default=None)
    st = sub.add_parser("status", help="every manifest artifact: present / missing / stale")
    st.add_argument("--results-dir", default=None)
    st.add_argument("--notebooks-dir", default=None)
    bd = sub.add_parser("build", help="build the HTML book from executed notebooks (no execution)")
    bd.add_argument("--results-dir", default=None)
    bd.add_argument("--output-dir", default=None)
    bd.add_argument("--notebooks-dir", default=None)
    ls = sub.add_parser("list", help="notebooks in execution order with their dependencies")
    ls.add_argument("--notebooks-dir", default=None)
    args = ap.parse_args(argv)

    if args.cmd == "run":
        from .runner import run_book

        only = [x for item in args.only for x in item.split(",") if x] if args.only else None
        results = run_book(args.profile, only, args.force, args.results_dir, args.notebooks_dir,
                           without_needs=args.without_needs)
        bad = [r for r in results if r.status in ("failed", "blocked")]
        print(f"{len(results) - len(bad)} notebook(s) ok or cached, {len(bad)} failed or blocked")
        return 1 if bad else 0
    if args.cmd == "status":
        from .status import artifact_status

        rows = artifact_status(args.results_dir, args.notebooks_dir)
        for r in rows:
            extra = f"  [{r['profile']}]" if r["profile"] else ""
            reason = f"  ({r['reason']})" if r["reason"] else ""
            print(f"{r['status']:<8} {r['paper']}/{r['id']}{extra}{reason}")
        n = {s: sum(r["status"] == s for r in rows) for s in ("present", "stale", "missing")}
        print(f"{n['present']} present, {n['stale']} stale, {n['missing']} missing of {len(rows)}")
        return 0
    if args.cmd == "build":
        from pathlib import Path

        from .build import build

        index = build(args.results_dir, Path(args.output_dir) if args.output_dir else None,
                      args.notebooks_dir)
        print(f"book: {index}")
        return 0
    if args.cmd == "list":
        from .registry import discover, execution_order

        nbs = discover(args.notebooks_dir)
        for nb in execution_order(nbs):
            print(f"{nb.id:<40} needs: {', '.join(nb.needs) or '-'}")
        return 0
    return 2


if __name__ == "__main__":
    sys.exit(main())
