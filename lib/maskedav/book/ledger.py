"""The book's claims ledger: every claim of ``claims.csv`` (:mod:`maskedav.claims`) as a page a reader
scans in a minute, with a forest plot of the measured effects and their intervals.

The page states the decision rule once, counts the verdicts per paper and profile, then gives per
paper one row per claim: the statement, the paper's effect, the measured effect with its interval in
the claim's unit, the seeds and a coloured verdict badge, linked to the notebook that decided it.
"""
from __future__ import annotations

import json
import math
import re
from pathlib import Path

from ..claims import VERDICTS, read_claims
from ..trees import OTHER_PROFILES_DIR

# Okabe-Ito colours (colour-blind safe), one per verdict.
VERDICT_COLOURS = {"reproduced": "#009E73", "contradicted": "#D55E00", "inconclusive": "#7A7A7A",
                   "untestable": "#CC79A7"}
FOREST_FIGURE = "claims_forest.png"

# The unit of a claim's measured effect when its row has none (claims.csv written before its ``unit``
# column): from the words of its statement, else of the paper's effect; the first match wins.
_UNITS = (("100·", "% (relative gain)"), ("relative", "% (relative gain)"), ("cosine", "cosine similarity"),
          ("MSE", "MSE"), ("top-1", "top-1 points"))


def claim_unit(statement: str, paper_effect: str = "") -> str:
    """A claim's unit inferred from its wording (:data:`_UNITS`); blank when nothing matches."""
    for text in (statement, paper_effect):
        unit = next((unit for word, unit in _UNITS if word in str(text)), "")
        if unit:
            return unit
    return ""


def number(x: float) -> str:
    """Three significant digits, a real minus sign; blank for a missing value."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return ""
    return f"{x:.3g}".replace("-", "−")


def badge(verdict: str) -> str:
    colour = VERDICT_COLOURS.get(verdict, "#444444")
    return (f'<span style="background:{colour};color:#fff;border-radius:0.6em;padding:0.1em 0.5em;'
            f'white-space:nowrap;font-size:0.85em">{verdict}</span>')


def all_claims(results: Path):
    """The claims of the main tree and of every ``<results>/profiles/<name>/`` tree, in one frame;
    column ``tree``: the tree's path relative to ``results`` ("" for the main tree)."""
    import pandas as pd

    trees = [results] + sorted(p for p in (results / OTHER_PROFILES_DIR).glob("*") if p.is_dir())
    frames = [read_claims(t).assign(tree="" if t == results else f"{t.relative_to(results).as_posix()}/")
              for t in trees]
    frames = [f for f in frames if len(f)]
    return with_units(pd.concat(frames, ignore_index=True) if frames else read_claims(results).assign(tree=""))


def with_units(df):
    """``df`` with a ``unit`` on every row: the claim's own (claims.csv's ``unit`` column), else the one
    :func:`claim_unit` infers from its wording (rows written before the column existed)."""
    given = df["unit"] if "unit" in df else [None] * len(df)
    return df.assign(unit=[u if isinstance(u, str) and u else claim_unit(s, p)
                           for u, s, p in zip(given, df.statement, df.paper_effect)])


def rule_once(rules) -> list[str]:
    """The decision rules of the ledger without their direction ("(a < b)"), each stated once."""
    return sorted({re.sub(r"\s*\(a [<>] b\)", "", r) for r in rules if isinstance(r, str) and r})


def notebook_page(results: Path, stage_dir: Path, row) -> str | None:
    """The staged page of the notebook that wrote the claim's table (from the table's provenance in
    the claim's tree), if that page is published in this build."""
    try:
        prov = json.loads((results / row.tree / row.paper / f"{row.table}.json").read_text())
    except (OSError, ValueError):
        return None
    page = f"{row.tree}notebooks/{prov.get('notebook')}.ipynb"
    return page if prov.get("notebook") and (stage_dir / page).exists() else None


def measured_cell(row) -> str:
    """The effect, its interval, the unit and the seeds, one per line (``row`` of :func:`all_claims`)."""
    effect = number(row.measured_effect)
    interval = f"[{number(row.ci_low)}, {number(row.ci_high)}]" if not math.isnan(row.ci_low) else "no interval"
    seeds = f"{int(row.n_seeds)} seed{'s' if int(row.n_seeds) != 1 else ''}"
    return "<br>".join(x for x in (f"**{effect}**" if effect else "", interval, row.unit, seeds) if x)


def _cell(text) -> str:
    return "" if text is None or (isinstance(text, float) and math.isnan(text)) else \
        str(text).replace("|", "\\|").replace("\n", " ")


def forest_plot(df, path: Path) -> None:
    """Effects with their intervals, one panel per paper and unit (each in its own unit: ``df`` as
    :func:`all_claims` returns it), points coloured by verdict; claims decided on one seed have no
    interval and a hollow marker."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    groups = [(key, sub) for key, sub in df.groupby(["paper", "profile", "unit"], sort=True)]
    heights = [len(sub) + 1.2 for _, sub in groups]
    fig, axes = plt.subplots(len(groups), 1, figsize=(8, 0.32 * sum(heights) + 0.6),
                             gridspec_kw={"height_ratios": heights}, squeeze=False)
    for ax, ((paper, profile, unit), sub) in zip(axes[:, 0], groups):
        ys = range(len(sub))[::-1]
        for y, row in zip(ys, sub.itertuples()):
            colour = VERDICT_COLOURS.get(row.verdict, "#444444")
            if not math.isnan(row.ci_low):
                ax.plot([row.ci_low, row.ci_high], [y, y], color=colour, lw=2)
            ax.plot(row.measured_effect, y, "o", color=colour, ms=6,
                    mfc=colour if not math.isnan(row.ci_low) else "white")
        ax.axvline(0, color="black", lw=0.8)
        ax.set_yticks(list(ys), list(sub.claim_id), fontsize=10)
        ax.set_ylim(-0.7, len(sub) - 0.3)
        ax.set_title(f"{paper} ({profile} profile): {unit or 'effect'}", fontsize=10, loc="left")
        ax.tick_params(axis="x", labelsize=10)
        ax.grid(axis="x", alpha=0.3)
    handles = [plt.Line2D([], [], color=c, marker="o", lw=2, label=v) for v, c in VERDICT_COLOURS.items()]
    fig.legend(handles=handles, loc="lower center", ncol=len(handles), fontsize=10, frameon=False)
    fig.tight_layout(rect=(0, 0.6 / fig.get_figheight(), 1, 1))
    fig.savefig(path, dpi=120)
    plt.close(fig)


def claims_page(results: Path, stage_dir: Path) -> str:
    """The ledger's markdown (and its forest plot, written into ``stage_dir``)."""
    lines = ["# Claims and verdicts", "",
             "Each claim a paper draws from a table, tested on this book's data at the profile named "
             "beside it. The paper's effect is the paper's number on its own dataset; the measured "
             "effect is on SynthAV, so only directions are comparable.", ""]
    df = all_claims(results)
    if len(df) == 0:
        return "\n".join(lines + ["_No claim has been tested in this build yet._", ""])
    rules = rule_once(df.get("rule", []))
    level = ", ".join(sorted({f"{100 * (1 - 2 * a):g} %" for a in df.alpha.dropna()}))
    lines += ["**The rule**, fixed in `maskedav.claims.verdict` before the runs (the direction of the "
              "test is each claim's; the verdict uses the Holm-adjusted p-value): "
              + "; or ".join(f"{r}." for r in rules), "",
              "**Verdicts**: " + " ".join(badge(v) for v in VERDICTS) + f". Intervals are two-sided "
              f"{level}; a claim measured on fewer seeds than the rule needs has no interval and stays "
              "inconclusive.", "",
              "## Verdicts per paper and profile", ""]
    counts = (df.groupby(["paper", "profile", "verdict"]).size().unstack(fill_value=0)
              .reindex(columns=list(VERDICTS), fill_value=0))
    counts["claims"] = counts.sum(axis=1)
    lines += [counts.reset_index().to_markdown(index=False), ""]
    forest_plot(df, stage_dir / FOREST_FIGURE)
    lines += ["## Effects and intervals", "",
              f"![Measured effect of every claim with its interval, by paper and unit]({FOREST_FIGURE})", "",
              "One panel per paper and unit; the dot is the measured effect, the bar its interval, the "
              "colour the verdict. A hollow dot: fewer seeds than the rule needs (no interval).", ""]
    for paper, sub in df.groupby("paper"):
        lines += [f"## {paper}", "",
                  "| claim | paper's effect | measured | verdict |", "|:--|:--|:--|:--|"]
        for row in sub.itertuples():
            page = notebook_page(results, stage_dir, row)
            claim = f"[{row.claim_id}]({page})" if page else row.claim_id
            note = f" *({_cell(row.note)})*" if _cell(row.note) else ""
            lines.append(f"| **{claim}** ({_cell(row.table)}, {_cell(row.profile)} profile): "
                         f"{_cell(row.statement)}{note} | {_cell(row.paper_effect)} | {measured_cell(row)} | "
                         f"{badge(row.verdict)} |")
        lines.append("")
    return "\n".join(lines)
