"""The learning gate and the claims of a study, decided from its tidy frame by rules fixed here.

**Gate** (every chapter shows it first): for each arm, task and protocol, the pre-trained encoder is
compared with the *same* network at random init (same seed: paired), with the claims' rule
(:func:`maskedav.claims.verdict`, one-sided paired t at alpha = 0.1, >= 3 seeds, the test set's
standard error of the difference as a floor). The arm **passes** when that verdict is
``reproduced``: pre-training measurably beat random init on that task and protocol. A claim whose
arms do not pass on its task and protocol is *untestable at this profile*.

**Claims** (:class:`Claim`) compare two arms on one task and protocol, paired by seed, with the
test-set floor, and are recorded to the claims ledger (Holm within the paper).
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import pandas as pd

from ..claims import Verdict, record_claim, verdict
from .evaluate import paired_test_se
from .runs import RANDOM_INIT, SUPERVISED

__all__ = ["arm_values", "gate", "gate_table", "Claim", "decide", "record", "claims_table", "floor_se",
           "format_gate", "format_table"]

ALPHA = 0.1


def _select(frame: pd.DataFrame, arm: str, task: str, protocol: str, init: str = "pretrained") -> pd.DataFrame:
    if arm == RANDOM_INIT:
        raise ValueError("name the arm whose random init you mean: ('<arm>', 'random init')")
    g = frame[(frame.arm == arm) & (frame.task == task) & (frame.protocol == protocol) & (frame.init == init)]
    return g.sort_values("seed")


def arm_values(frame: pd.DataFrame, arm: str, task: str, protocol: str, init: str = "pretrained") -> pd.DataFrame:
    """Rows of one arm (``init``: ``"pretrained"`` or :data:`RANDOM_INIT`) on one task and protocol,
    sorted by seed."""
    return _select(frame, arm, task, protocol, init)


def floor_se(a: pd.DataFrame, b: pd.DataFrame) -> float:
    """The test set's standard error of the difference of two arms' accuracies: the mean over shared
    seeds of the per-seed paired standard error (conservative: not divided by the seeds, because every
    seed is tested on the same clips)."""
    seeds = sorted(set(a.seed) & set(b.seed))
    ses = [paired_test_se(a[a.seed == s].correct.iloc[0], b[b.seed == s].correct.iloc[0]) for s in seeds]
    return float(np.mean(ses)) if ses else 0.0


def _paired(a: pd.DataFrame, b: pd.DataFrame) -> tuple[list[float], list[float]]:
    seeds = sorted(set(a.seed) & set(b.seed))
    return ([float(a[a.seed == s].accuracy.iloc[0]) for s in seeds],
            [float(b[b.seed == s].accuracy.iloc[0]) for s in seeds])


def gate(frame: pd.DataFrame, min_seeds: int = 3) -> pd.DataFrame:
    """One row per (arm, task, protocol): pre-trained vs the same network at random init, paired by
    seed: ``pretrained``, ``random_init`` (means), ``gain``, ``ci_low``/``ci_high``, ``floor_se``,
    ``mde``, ``p_value``, ``passes`` and ``status``: ``"passes"``, ``"fails"``, or ``"too few seeds"``
    (fewer than ``min_seeds``: the rule cannot decide, so the arm neither passes nor fails)."""
    rows = []
    pre = frame[frame.init == "pretrained"]
    for (arm, task, protocol), _ in pre.groupby(["arm", "task", "protocol"], sort=False):
        a = _select(frame, arm, task, protocol)
        b = _select(frame, arm, task, protocol, RANDOM_INIT)
        if b.empty:
            continue
        xa, xb = _paired(a, b)
        fse = floor_se(a, b)
        v = verdict(xa, xb, "greater", ALPHA, min_seeds, paired=True, floor_se=fse)
        rows.append(dict(arm=arm, label=a.label.iloc[0], task=task, protocol=protocol, seeds=len(xa),
                         pretrained=float(np.mean(xa)), pretrained_sd=_sd(xa), random_init=float(np.mean(xb)),
                         random_init_sd=_sd(xb), gain=v.effect, ci_low=v.ci_low, ci_high=v.ci_high,
                         floor_se=fse, mde=v.mde, p_value=v.p_value, passes=v.verdict == "reproduced",
                         status="passes" if v.verdict == "reproduced" else
                         "too few seeds" if len(xa) < min_seeds else "fails"))
    return pd.DataFrame(rows)


def _sd(x) -> float:
    return float(np.std(x, ddof=1)) if len(x) > 1 else math.nan


def gate_table(frame: pd.DataFrame, ceiling: pd.DataFrame | None = None, chance: dict | None = None,
               min_seeds: int = 3) -> pd.DataFrame:
    """The learning-gate table: per task and protocol, chance, the supervised ceiling, and each arm's
    random-init and pre-trained accuracy (mean ± sd over seeds), the paired gain with its 80 % interval,
    the minimum detectable effect, and whether the arm passes."""
    g = gate(frame, min_seeds)
    if g.empty:
        return g
    ceil = {} if ceiling is None or ceiling.empty else dict(zip(ceiling.task, ceiling.accuracy))
    out = pd.DataFrame({
        "task": g.task, "protocol": g.protocol, "arm": g.label,
        "chance": [(chance or {}).get(t, math.nan) for t in g.task],
        "supervised ceiling": [ceil.get(t, math.nan) for t in g.task],
        "random init": [_pm(m, s) for m, s in zip(g.random_init, g.random_init_sd)],
        "pre-trained": [_pm(m, s) for m, s in zip(g.pretrained, g.pretrained_sd)],
        "gain": g.gain, "80% CI": [f"[{lo:+.1f}, {hi:+.1f}]" for lo, hi in zip(g.ci_low, g.ci_high)],
        "test-set SE": g.floor_se, "MDE": g.mde, "seeds": g.seeds,
        "gate": g.status,
    })
    out = out.drop(columns=[c for c in ("chance", "supervised ceiling") if out[c].isna().all()])
    return out.sort_values(["task", "protocol"], kind="stable").reset_index(drop=True)


def _pm(m: float, s: float) -> str:
    return f"{m:.1f}" if math.isnan(s) else f"{m:.1f} ± {s:.1f}"


def format_table(table: pd.DataFrame, formats: dict | None = None, caption: str | None = None):
    """``table`` styled for the book: each column of ``formats`` present in it by its format (a format
    string or a callable), blank for not measured, no index, and ``caption`` above it."""
    style = table.style.format({k: v for k, v in (formats or {}).items() if k in table.columns}, na_rep="")
    style = style.hide(axis="index")
    return style.set_caption(caption) if caption else style


def format_claims(table: pd.DataFrame, caption: str | None = None):
    """A table of claims (:func:`claims_table`, or a chapter's with its columns) styled for the book
    (:func:`format_table`): effects and the arms' means to three significant digits, whatever the unit
    (accuracy points or MSE), p to three decimals."""
    fmt = {"measured": "{:+#.3g}", "effect": "{:+#.3g}", "a": "{:#.3g}", "b": "{:#.3g}", "mde": "{:#.3g}",
           "p": "{:.3f}"}
    return format_table(table, fmt, caption)


def format_gate(table: pd.DataFrame, caption: str | None = None):
    """The gate table styled for the book (:func:`format_table`: one decimal, blank for not measured)."""
    fmt = {"chance": "{:.1f}", "supervised ceiling": "{:.1f}", "gain": "{:+.1f}", "test-set SE": "{:.2f}",
           "MDE": "{:.1f}"}
    return format_table(table, fmt, caption)


@dataclass(frozen=True)
class Claim:
    """A paper's claim as a comparison of arm ``a`` with arm ``b`` on ``task`` under ``protocol``
    (``b`` may be ``(arm, RANDOM_INIT)`` for "pre-training helps"), decided by
    :func:`maskedav.claims.verdict` paired by seed. ``paper_effect``: the paper's number or wording;
    ``unit``: the unit of the measured effect ``a - b`` (the ledger shows it)."""

    id: str
    table: str
    statement: str
    paper_effect: object
    a: str
    b: str | tuple
    task: str
    protocol: str = "probe"
    direction: str = "greater"
    margin: float | None = None
    unit: str = "accuracy points"


def _rows(frame: pd.DataFrame, arm, task: str, protocol: str) -> pd.DataFrame:
    if isinstance(arm, tuple):
        return _select(frame, arm[0], task, protocol, arm[1])
    return _select(frame, arm, task, protocol)


def decide(frame: pd.DataFrame, claims: Sequence[Claim], gates: pd.DataFrame | None = None,
           min_seeds: int = 3) -> dict[str, Verdict]:
    """Verdicts of ``claims`` on ``frame``: paired by seed, test-set floor, and ``untestable`` when
    an arm (not a random-init reference) fails the gate on the claim's task and protocol (an arm with
    too few seeds for the gate leaves the claim to the seed rule: inconclusive)."""
    gates = gate(frame, min_seeds) if gates is None else gates
    out = {}
    for c in claims:
        a, b = _rows(frame, c.a, c.task, c.protocol), _rows(frame, c.b, c.task, c.protocol)
        if a.empty or b.empty:
            raise ValueError(f"claim {c.id}: no rows for {c.a!r} or {c.b!r} on {c.task}/{c.protocol}")
        failing = []
        for arm in (c.a, c.b):
            if isinstance(arm, tuple):
                continue
            g = gates[(gates.arm == arm) & (gates.task == c.task) & (gates.protocol == c.protocol)]
            status = g.status.iloc[0] if not g.empty and "status" in g else None
            if g.empty or (not bool(g.passes.iloc[0]) and status != "too few seeds"):
                failing.append(arm)
        xa, xb = _paired(a, b)
        out[c.id] = verdict(xa, xb, c.direction, ALPHA, min_seeds, c.margin, paired=True,
                            floor_se=floor_se(a, b), testable=not failing,
                            gate_note=f"fails the learning gate: {', '.join(failing)}" if failing else "")
    return out


def record(paper: str, claims: Sequence[Claim], verdicts: dict[str, Verdict], *, results_dir,
           profile: str) -> pd.DataFrame:
    """Write the verdicts to the claims ledger and return the rows as written (Holm-adjusted)."""
    rows = [record_claim(results_dir, paper, c.id, c.table, c.statement, c.paper_effect, verdicts[c.id],
                         profile, c.unit) for c in claims]
    from ..claims import read_claims

    ledger = read_claims(results_dir)
    ids = {c.id for c in claims}
    return ledger[(ledger.paper == paper) & (ledger.profile == profile) & ledger.claim_id.isin(ids)] if rows else ledger


def claims_table(claims: Sequence[Claim], verdicts: dict[str, Verdict]) -> pd.DataFrame:
    """One row per claim: statement, paper's effect, measured effect with its 80 % interval and its unit,
    the minimum detectable effect, seeds and the rule's (unadjusted) verdict."""
    return pd.DataFrame([dict(claim=c.id, statement=c.statement, task=c.task, protocol=c.protocol,
                              paper=c.paper_effect, measured=v.effect, unit=c.unit,
                              ci="" if math.isnan(v.ci_low) else f"[{v.ci_low:+#.3g}, {v.ci_high:+#.3g}]",
                              mde=v.mde, p=v.p_value, seeds=v.n_seeds, verdict=v.verdict, note=v.note)
                         for c in claims for v in [verdicts[c.id]]])


def describe_gate(table: pd.DataFrame) -> str:
    """One computed sentence per row of a gate table (:func:`gate_table`)."""
    lines = []
    for _, r in table.iterrows():
        verdict = ("passes the gate: pre-training beats random init" if r["gate"] == "passes" else
                   "fails the gate: pre-training does not measurably beat random init")
        chance = f" (chance {r['chance']:.1f} %)" if "chance" in r else ""
        lines.append(f"- {r['arm']}, {r['task']} ({r['protocol']}): {r['pre-trained']} % against "
                     f"{r['random init']} % at random init{chance}; paired gain "
                     f"{r['gain']:+.1f} points, 80 % interval {r['80% CI']}, minimum detectable effect "
                     f"{r['MDE']:.1f} — {verdict}.")
    return "\n".join(lines)


def describe_av_event_ceiling(ceiling: pd.DataFrame, synthav) -> str:
    """A sentence on ``av_event``: its supervised ceiling (a :meth:`Study.ceilings` frame) against the
    label-only rule "answer the actor's shape" on the test split of ``synthav``
    (:func:`maskedav.data.sanity.task_structure`). Below the rule, a model trained on every label has not
    bound a sound to its object, so the profile's av_event numbers describe and no claim rests on them."""
    from ..data.sanity import task_structure

    ceiling_av = float(ceiling.set_index("task").loc["av_event", "accuracy"])
    rule = float(task_structure(synthav).set_index("objects").loc["all", "actor_shape_rule"])
    below = ceiling_av < rule
    return (f"**av_event**: its supervised ceiling at this profile, {ceiling_av:.1f} %, is "
            f"{'below' if below else 'above'} the label-only rule \"answer the actor's shape\" ({rule:.1f} % "
            "on the test split; the data tour's table). "
            + ("The encoder trained on every label has not learned to bind a sound to its object, so the "
               "av_event rows describe and no claim rests on them." if below else
               "The rows above the rule measure binding of the sound to its object."))


def describe_claims(ledger: pd.DataFrame) -> str:
    """One computed sentence per claim row of the ledger (:func:`record`'s return): the measured effect
    with its interval and minimum detectable effect, raw and Holm-adjusted p, and the verdict."""
    def num(x):
        try:
            return float(x)
        except (TypeError, ValueError):
            return math.nan

    lines = []
    for r in ledger.sort_values("claim_id").itertuples():
        eff, lo, hi, mde = num(r.measured_effect), num(r.ci_low), num(r.ci_high), num(r.mde)
        ci = f", 80 % interval [{lo:+.3g}, {hi:+.3g}]" if math.isfinite(lo) else ""
        p, padj = num(r.p_value), num(r.p_adjusted)
        ps = f", p = {p:.3g}" + (f" (Holm {padj:.3g})" if math.isfinite(padj) else "") if math.isfinite(p) else ""
        note = f" ({r.note})" if isinstance(r.note, str) and r.note else ""
        mde_s = f"{mde:.3g}" if math.isfinite(mde) else "not estimable"
        lines.append(f"- **{r.claim_id}** ({r.table}): effect {eff:+.3g}{ci}; minimum detectable effect "
                     f"{mde_s}{ps}; {r.n_seeds} seeds → **{r.verdict}**{note}. _{r.statement}._")
    return "\n".join(lines)


def headline(ledger: pd.DataFrame) -> str:
    """A computed summary of a chapter's claims (the ledger rows of :func:`record`): how many got each
    verdict after Holm's adjustment, then the decided ones, then those decided only before the
    adjustment — each with its statement and measured effect."""
    from ..claims import VERDICTS

    counts = ledger.verdict.value_counts()
    parts = [f"Of the chapter's {len(ledger)} claims at this profile, "
             + ", ".join(f"{counts[v]} {'are' if counts[v] > 1 else 'is'} *{v}*" for v in VERDICTS if v in counts)
             + " (after Holm's adjustment within the paper)."]

    decisive = ["reproduced", "contradicted"]

    def line(r):
        unit = getattr(r, "unit", None)
        unit = unit if isinstance(unit, str) and unit else "accuracy points"
        verdict = r.verdict if r.verdict in decisive else r.raw_verdict
        return f"- **{r.claim_id}** ({r.table}) {verdict}: _{r.statement}_ — measured {float(r.measured_effect):+.3g} {unit}."

    def natural(ids):                     # X2 before X10
        return ids.map(lambda s: [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", str(s))])

    decided = ledger[ledger.verdict.isin(decisive)].sort_values("claim_id", key=natural)
    raw_only = ledger[~ledger.verdict.isin(decisive) & ledger.raw_verdict.isin(decisive)].sort_values(
        "claim_id", key=natural)
    if len(decided):
        parts += ["", "Decided:", ""] + [line(r) for r in decided.itertuples()]
    if len(raw_only):
        parts += ["", "Decided before the adjustment only (inconclusive after it):", ""] + \
                 [line(r) for r in raw_only.itertuples()]
    if not len(decided) and not len(raw_only):
        parts[0] += " None is decided at this profile."
    return "\n".join(parts)
