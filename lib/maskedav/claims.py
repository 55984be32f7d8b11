"""Claim verdicts: a rule fixed in code, applied to per-seed results of two arms.

A paper's claim compares two arms (e.g. "complementary masks beat random masks": arm ``a`` =
complementary, arm ``b`` = random), each measured over several seeds. :func:`verdict` turns the two
lists into ``"reproduced"``, ``"contradicted"``, ``"inconclusive"`` or ``"untestable"`` by this rule:

* **Effect** = ``mean(a) - mean(b)``.
* **Paired or not.** ``paired=True`` (the study layer's default: arms that share seeds share the
  initialisation, masks and data order) tests the per-seed differences ``d_s = a_s - b_s`` with a
  one-sample t-test (``n - 1`` degrees of freedom); ``paired=False`` uses Welch's two-sample test.
* **Resolution floor.** ``floor_se`` (>= 0) is the standard error that the *test set* alone puts on
  the effect (e.g. of an accuracy difference measured on a finite test set, which every seed shares);
  the effect's standard error is ``sqrt(se_seeds^2 + floor_se^2)``. It keeps a claim from being
  decided on arms that differ by a test clip.
* **Zero variance** (standard error 0: identical values per seed and no floor): no test is possible,
  ``p = nan`` and the verdict is ``inconclusive`` (the old rule returned p = 0: "reproduced" for arms
  one clip apart).
* **Too few seeds**: fewer than ``min_seeds`` values in either arm -> ``inconclusive``.
* **Untestable**: ``testable=False`` (an arm failed the learning gate: its encoder does not beat the
  same encoder at random init, :mod:`maskedav.study.gate`) -> ``untestable`` whatever the numbers; a
  claim about representations is not decided on encoders no better than random ones.
* ``direction="greater"`` (the paper says a > b): one-sided t-test; ``p`` of H1 "a > b" < alpha ->
  ``reproduced``; ``p`` of H1 "a < b" < alpha -> ``contradicted``; otherwise ``inconclusive``.
  ``direction="less"`` mirrors it.
* ``direction="equal"`` with a ``margin`` d > 0: TOST equivalence, ``p = max(p(effect > -d),
  p(effect < d))``; the effect significantly outside the margin -> ``contradicted``.
* ``direction="not_greater"`` (a is not better than b by more than d): ``p`` of H1 "effect < d" <
  alpha -> ``reproduced``; ``p`` of H1 "effect > d" < alpha -> ``contradicted``. ``"not_less"``
  mirrors it.
* **Interval**: two-sided at level ``1 - 2 alpha`` (80 % for alpha = 0.1), matching one-sided tests.
* **Minimum detectable effect** (``mde``): the smallest true effect the one-sided test at ``alpha``
  detects with power 0.8 at this standard error, ``(t_{1-alpha} + t_{0.8}) * se`` (df as the test).
* **Multiplicity**: the claims of one paper at one profile form a family; :func:`holm` adjusts their
  p-values (Holm's step-down), and the ledger's verdict uses the adjusted p (``p_adjusted``), the raw p
  shown beside it. :func:`record_claim` recomputes the adjustment of the whole family on every write.

Non-finite values (a diverged run) are an error: the notebook must decide what they mean.
"""
from __future__ import annotations

import csv
import fcntl
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
from scipy import stats

from .paths import results_root

DIRECTIONS = ("greater", "less", "equal", "not_greater", "not_less")
VERDICTS = ("reproduced", "contradicted", "inconclusive", "untestable")
CLAIM_COLUMNS = ("paper", "claim_id", "table", "statement", "paper_effect", "unit", "measured_effect",
                 "ci_low", "ci_high", "mde", "p_value", "p_opposite", "p_adjusted", "n_seeds", "test",
                 "alpha", "note", "verdict", "raw_verdict", "profile", "rule")
POWER = 0.8


@dataclass(frozen=True)
class Verdict:
    verdict: str              # reproduced / contradicted / inconclusive / untestable
    effect: float             # mean(a) - mean(b)
    ci_low: float             # two-sided interval at level 1 - 2 alpha
    ci_high: float
    p_value: float            # p of the claim's hypothesis (see module docstring)
    p_opposite: float         # p of the hypothesis that contradicts the claim
    n_a: int
    n_b: int
    mean_a: float
    mean_b: float
    std_a: float
    std_b: float
    direction: str
    alpha: float
    min_seeds: int
    margin: float | None = None
    paired: bool = False
    se: float = math.nan      # standard error of the effect (seeds and test-set floor)
    df: float = math.nan      # degrees of freedom of the t reference
    mde: float = math.nan     # minimum detectable effect at power 0.8 (see module docstring)
    floor_se: float = 0.0
    note: str = ""            # why a test was not made ("zero variance", "too few seeds", "gate: ...")

    @property
    def n_seeds(self) -> int:
        """Seeds of the smaller arm."""
        return min(self.n_a, self.n_b)

    @property
    def confidence(self) -> float:
        return 1.0 - 2.0 * self.alpha

    @property
    def test(self) -> str:
        return "paired t" if self.paired else "Welch t"

    @property
    def rule(self) -> str:
        return rule_text(self.direction, self.alpha, self.min_seeds, self.margin, self.paired)


def rule_text(direction: str, alpha: float, min_seeds: int, margin: float | None = None,
              paired: bool = False) -> str:
    """One line naming the decision rule (written to ``claims.csv``)."""
    t = "paired t" if paired else "Welch t"
    test = {"greater": f"one-sided {t} (a > b)", "less": f"one-sided {t} (a < b)",
            "equal": f"TOST {t} equivalence, margin {margin:g}" if margin else "TOST",
            "not_greater": f"one-sided {t} (a - b < {margin:g})" if margin else "",
            "not_less": f"one-sided {t} (a - b > -{margin:g})" if margin else ""}[direction]
    return (f"{test}; alpha={alpha:g}, Holm within the paper; >= {min_seeds} seeds per arm; "
            f"CI {100 * (1 - 2 * alpha):g}%; untestable when an arm fails the learning gate")


def _standard_error(a: np.ndarray, b: np.ndarray, paired: bool, floor_se: float) -> tuple[float, float]:
    """``(se, df)`` of ``mean(a) - mean(b)``: paired (one-sample on the differences) or Welch, with the
    test-set floor added in quadrature. ``(nan, nan)`` with fewer than 2 values in an arm."""
    if len(a) < 2 or len(b) < 2:
        return math.nan, math.nan
    if paired:
        d = a - b
        se2, df = float(d.var(ddof=1)) / len(d), len(d) - 1.0
    else:
        va, vb = float(a.var(ddof=1)) / len(a), float(b.var(ddof=1)) / len(b)
        se2 = va + vb
        df = (se2 ** 2 / (va ** 2 / (len(a) - 1) + vb ** 2 / (len(b) - 1))) if se2 > 0 else len(a) + len(b) - 2.0
    return math.sqrt(se2 + floor_se ** 2), df


def _p_greater(effect: float, se: float, df: float, shift: float = 0.0) -> float:
    """One-sided p-value of H1: true effect > shift (t reference with ``df`` degrees of freedom)."""
    if not (se > 0) or math.isnan(df):
        return math.nan
    return float(stats.t.sf((effect - shift) / se, df))


def _p_less(effect: float, se: float, df: float, shift: float = 0.0) -> float:
    """One-sided p-value of H1: true effect < shift."""
    if not (se > 0) or math.isnan(df):
        return math.nan
    return float(stats.t.cdf((effect - shift) / se, df))


def minimum_detectable_effect(se: float, df: float, alpha: float = 0.1, power: float = POWER) -> float:
    """Smallest true effect a one-sided t-test at ``alpha`` detects with probability ``power``:
    ``(t_{1-alpha, df} + t_{power, df}) * se``."""
    if not (se > 0) or math.isnan(df):
        return math.nan
    return float((stats.t.ppf(1 - alpha, df) + stats.t.ppf(power, df)) * se)


def welch_interval(a: np.ndarray, b: np.ndarray, confidence: float) -> tuple[float, float]:
    """Two-sided Welch confidence interval of ``mean(a) - mean(b)`` (no floor)."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    se, df = _standard_error(a, b, False, 0.0)
    effect = float(a.mean() - b.mean())
    if math.isnan(se):
        return math.nan, math.nan
    if se == 0:
        return effect, effect
    half = float(stats.t.ppf(0.5 + confidence / 2, df)) * se
    return effect - half, effect + half


def _decide(p: float, p_opp: float, alpha: float) -> str:
    if math.isnan(p) or math.isnan(p_opp):
        return "inconclusive"
    if p < alpha:
        return "reproduced"
    if p_opp < alpha:
        return "contradicted"
    return "inconclusive"


def verdict(arm_a: Sequence[float], arm_b: Sequence[float], direction: str = "greater",
            alpha: float = 0.1, min_seeds: int = 3, margin: float | None = None, *,
            paired: bool = False, floor_se: float = 0.0, testable: bool = True,
            gate_note: str = "") -> Verdict:
    """Decide a claim about ``arm_a`` vs ``arm_b`` (one value per seed) by the module's rule.

    ``paired=True``: ``arm_a[i]`` and ``arm_b[i]`` come from the same seed (same initialisation, masks
    and data order); the arms must then have equal length. ``floor_se``: the test set's standard error
    of the effect. ``testable=False``: an arm failed the learning gate (``gate_note`` says which).
    """
    if direction not in DIRECTIONS:
        raise ValueError(f"direction must be one of {DIRECTIONS}, not {direction!r}")
    needs_margin = direction in ("equal", "not_greater", "not_less")
    if needs_margin and not (margin and margin > 0):
        raise ValueError(f"direction {direction!r} needs a margin > 0")
    if not needs_margin and margin is not None:
        raise ValueError("margin only applies to 'equal', 'not_greater', 'not_less'")
    if not floor_se >= 0:
        raise ValueError(f"floor_se must be >= 0, got {floor_se}")
    a, b = np.asarray(arm_a, dtype=float), np.asarray(arm_b, dtype=float)
    if len(a) == 0 or len(b) == 0 or not (np.isfinite(a).all() and np.isfinite(b).all()):
        raise ValueError(f"both arms need finite values, got {list(a)} and {list(b)}")
    if paired and len(a) != len(b):
        raise ValueError(f"paired arms need one value per shared seed, got {len(a)} and {len(b)}")

    effect = float(a.mean() - b.mean())
    se, df = _standard_error(a, b, paired, floor_se)
    if direction == "greater":
        p, p_opp = _p_greater(effect, se, df), _p_less(effect, se, df)
    elif direction == "less":
        p, p_opp = _p_less(effect, se, df), _p_greater(effect, se, df)
    elif direction == "equal":
        p = max(_p_greater(effect, se, df, -margin), _p_less(effect, se, df, margin))
        p_opp = min(_p_greater(effect, se, df, margin), _p_less(effect, se, df, -margin))
    elif direction == "not_greater":
        p, p_opp = _p_less(effect, se, df, margin), _p_greater(effect, se, df, margin)
    else:  # not_less
        p, p_opp = _p_greater(effect, se, df, -margin), _p_less(effect, se, df, -margin)

    note = ""
    if min(len(a), len(b)) < min_seeds:
        outcome, note = "inconclusive", f"fewer than {min_seeds} seeds"
    elif se == 0:
        outcome, note = "inconclusive", "zero variance: no test"
    else:
        outcome = _decide(p, p_opp, alpha)
    if not testable:
        outcome, note = "untestable", gate_note or "an arm fails the learning gate"
    if se > 0:
        half = float(stats.t.ppf(1 - alpha, df)) * se
        low, high = effect - half, effect + half
    elif se == 0:
        low = high = effect
    else:
        low = high = math.nan
    std = lambda x: float(x.std(ddof=1)) if len(x) > 1 else math.nan  # noqa: E731
    return Verdict(outcome, effect, low, high, p, p_opp, len(a), len(b), float(a.mean()),
                   float(b.mean()), std(a), std(b), direction, alpha, min_seeds, margin, paired, se,
                   df, minimum_detectable_effect(se, df, alpha), floor_se, note)


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm's step-down adjusted p-values (NaN entries stay NaN and do not count in the family)."""
    p = np.asarray(p_values, dtype=float)
    out = np.full(len(p), np.nan)
    idx = [i for i in np.argsort(p, kind="stable") if not np.isnan(p[i])]
    m, running = len(idx), 0.0
    for rank, i in enumerate(idx):
        running = max(running, min(1.0, (m - rank) * p[i]))
        out[i] = running
    return out.tolist()


def _num(x) -> float:
    try:
        return float(x)
    except (TypeError, ValueError):
        return math.nan


def adjusted_verdicts(rows: Sequence[dict]) -> list[dict]:
    """Re-decide one family of claim rows (one paper at one profile; dicts with ``p_value``,
    ``p_opposite``, ``alpha``, ``note``, ``verdict``) with Holm-adjusted p-values: returns copies with
    ``p_adjusted`` set and ``verdict`` decided from it. Rows without a test (``untestable``, or a
    ``note`` such as too few seeds or zero variance) keep their verdict and are not in the family."""
    rows = [dict(r) for r in rows]
    tested = [i for i, r in enumerate(rows) if r.get("verdict") != "untestable" and not r.get("note")
              and not math.isnan(_num(r.get("p_value")))]
    adj = holm([_num(rows[i]["p_value"]) for i in tested])
    adj_opp = holm([_num(rows[i]["p_opposite"]) for i in tested])
    for r in rows:
        r["p_adjusted"] = math.nan
    for j, i in enumerate(tested):
        alpha = _num(rows[i].get("alpha"))
        rows[i]["p_adjusted"] = adj[j]
        rows[i]["verdict"] = _decide(adj[j], adj_opp[j], 0.1 if math.isnan(alpha) else alpha)
    return rows


# ----------------------------------------------------------------------------------------------
# results/claims.csv


def claims_path(results_dir=None) -> Path:
    return results_root(results_dir) / "claims.csv"


def _fmt(x) -> str:
    if isinstance(x, float):
        return "" if math.isnan(x) else f"{x:.6g}"
    return "" if x is None else str(x)


def record_claim(results_dir, paper: str, claim_id: str, table: str, statement: str, paper_effect,
                 measured: Verdict, profile: str, unit: str = "") -> dict:
    """Add or replace the row of (paper, claim_id, profile) in ``<results>/claims.csv``, then re-decide
    the paper's family at that profile with Holm-adjusted p-values (:func:`adjusted_verdicts`).

    ``raw_verdict`` is the verdict before the adjustment; ``verdict`` the ledger's. Idempotent, and
    safe from several processes: the read-modify-write runs under an exclusive ``fcntl`` lock on
    ``claims.csv.lock`` and the file is replaced atomically. Rows are kept sorted by (paper, claim_id,
    profile). ``paper_effect`` is written as given (a number or the paper's wording); ``unit`` is the
    unit of the measured effect (e.g. "accuracy points", "MSE"; blank: the ledger infers it from the
    wording, as for rows written before the column existed).
    """
    from .trees import claim_tree

    path = claims_path(results_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    claim_tree(path.parent, profile)          # never a claim of one profile in another profile's tree
    row = {"paper": paper, "claim_id": claim_id, "table": table, "statement": statement,
           "paper_effect": paper_effect, "unit": unit, "measured_effect": measured.effect,
           "ci_low": measured.ci_low, "ci_high": measured.ci_high, "mde": measured.mde,
           "p_value": measured.p_value, "p_opposite": measured.p_opposite, "p_adjusted": math.nan,
           "n_seeds": measured.n_seeds, "test": measured.test, "alpha": measured.alpha,
           "note": measured.note, "verdict": measured.verdict, "raw_verdict": measured.verdict,
           "profile": profile, "rule": measured.rule}
    row = {k: _fmt(v) for k, v in row.items()}
    key = lambda r: (r["paper"], r["claim_id"], r["profile"])  # noqa: E731
    with open(path.with_name(path.name + ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        rows, columns = [], list(CLAIM_COLUMNS)
        if path.exists():
            with open(path, newline="") as f:
                reader = csv.DictReader(f)
                columns += [c for c in (reader.fieldnames or []) if c not in columns]
                rows = [r for r in reader if key(r) != key(row)]
        rows = rows + [row]
        for r in rows:                         # rows written by the rule before the adjustment
            r.setdefault("raw_verdict", r.get("verdict", ""))
            r["raw_verdict"] = r["raw_verdict"] or r.get("verdict", "")
        family = [i for i, r in enumerate(rows) if (r["paper"], r["profile"]) == (paper, profile)]
        fam = [dict(rows[i], verdict=rows[i]["raw_verdict"]) for i in family]
        for i, r in zip(family, adjusted_verdicts(fam)):
            rows[i] = {k: _fmt(v) for k, v in r.items()}
        rows = sorted(rows, key=key)
        tmp = path.with_name(f"{path.name}.tmp{os.getpid()}")
        with open(tmp, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=columns, restval="")
            writer.writeheader()
            writer.writerows(rows)
        os.replace(tmp, path)
    return next(r for r in rows if key(r) == key(row))


def read_claims(results_dir=None):
    """``results/claims.csv`` as a DataFrame (empty, with the columns, when there is none)."""
    import pandas as pd

    path = claims_path(results_dir)
    if not path.exists():
        return pd.DataFrame(columns=list(CLAIM_COLUMNS))
    return pd.read_csv(path, dtype={"paper_effect": str, "unit": str})
