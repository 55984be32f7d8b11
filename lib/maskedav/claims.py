"""Claim verdicts: a rule fixed in code, applied to per-seed results of two arms.

A paper's claim compares two arms (e.g. "complementary masks beat random masks": arm ``a`` =
complementary, arm ``b`` = random), each measured over several seeds. :func:`verdict` turns the two
lists into ``"reproduced"``, ``"contradicted"`` or ``"inconclusive"`` by this rule:

* **Effect** = ``mean(a) - mean(b)``; its interval is the two-sided Welch confidence interval at level
  ``1 - 2 * alpha`` (80 % for ``alpha = 0.1``), the interval that matches one-sided tests at ``alpha``.
* **Too few seeds**: fewer than ``min_seeds`` values in either arm -> ``inconclusive`` (effect, interval
  and p-value are still reported when each arm has >= 2 values).
* ``direction="greater"`` (the paper says a > b): one-sided Welch t-test (``scipy.stats.ttest_ind``,
  ``equal_var=False``). ``p`` of H1 "a > b" < alpha -> ``reproduced``; ``p`` of H1 "a < b" < alpha ->
  ``contradicted``; otherwise ``inconclusive``. ``direction="less"`` mirrors it.
* ``direction="equal"`` with a ``margin`` d > 0 (the paper says "about the same", e.g. "joint AE alone
  does not help"): TOST equivalence test, ``p = max(p(H1: effect > -d), p(H1: effect < d))``.
  ``p < alpha`` (the interval lies inside ``(-d, d)``) -> ``reproduced``; the effect is significantly
  outside the margin (``p(H1: effect > d) < alpha`` or ``p(H1: effect < -d) < alpha``: the interval lies
  outside ``[-d, d]``) -> ``contradicted``; otherwise ``inconclusive``.
* ``direction="not_greater"`` (a is *not better* than b by more than d; worse is fine): ``p`` of
  H1 "effect < d" < alpha -> ``reproduced``; ``p`` of H1 "effect > d" < alpha -> ``contradicted``.
  ``"not_less"`` mirrors it.
* Zero spread in both arms (identical values per arm): the test is decided by the sign of
  ``effect - shift`` (p = 0 or 1), the interval is the single point ``effect``.

``p_value`` in the result is the p-value of the claim's own hypothesis (TOST's for ``"equal"``).
Non-finite values (a diverged run) are an error: the notebook must decide what they mean.

:func:`record_claim` writes one row per (paper, claim_id, profile) to ``results/claims.csv``.
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
VERDICTS = ("reproduced", "contradicted", "inconclusive")
CLAIM_COLUMNS = ("paper", "claim_id", "table", "statement", "paper_effect", "measured_effect",
                 "ci_low", "ci_high", "p_value", "n_seeds", "verdict", "profile", "rule")


@dataclass(frozen=True)
class Verdict:
    verdict: str              # reproduced / contradicted / inconclusive
    effect: float             # mean(a) - mean(b)
    ci_low: float             # two-sided Welch interval at level 1 - 2 alpha
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

    @property
    def n_seeds(self) -> int:
        """Seeds of the smaller arm."""
        return min(self.n_a, self.n_b)

    @property
    def confidence(self) -> float:
        return 1.0 - 2.0 * self.alpha

    @property
    def rule(self) -> str:
        return rule_text(self.direction, self.alpha, self.min_seeds, self.margin)


def rule_text(direction: str, alpha: float, min_seeds: int, margin: float | None = None) -> str:
    """One line naming the decision rule (written to ``claims.csv``)."""
    test = {"greater": "one-sided Welch t (a > b)", "less": "one-sided Welch t (a < b)",
            "equal": f"TOST Welch equivalence, margin {margin:g}" if margin else "TOST",
            "not_greater": f"one-sided Welch t (a - b < {margin:g})" if margin else "",
            "not_less": f"one-sided Welch t (a - b > -{margin:g})" if margin else ""}[direction]
    return f"{test}; alpha={alpha:g}; >= {min_seeds} seeds per arm; CI {100 * (1 - 2 * alpha):g}%"


def _p_greater(a: np.ndarray, b: np.ndarray, shift: float = 0.0) -> float:
    """One-sided Welch p-value of H1: mean(a) - mean(b) > shift."""
    if len(a) < 2 or len(b) < 2:
        return math.nan
    if np.var(a) == 0 and np.var(b) == 0:
        return 0.0 if a.mean() - b.mean() > shift else 1.0
    return float(stats.ttest_ind(a - shift, b, equal_var=False, alternative="greater").pvalue)


def _p_less(a: np.ndarray, b: np.ndarray, shift: float = 0.0) -> float:
    """One-sided Welch p-value of H1: mean(a) - mean(b) < shift."""
    return _p_greater(b, a, -shift)


def welch_interval(a: np.ndarray, b: np.ndarray, confidence: float) -> tuple[float, float]:
    """Two-sided Welch confidence interval of ``mean(a) - mean(b)``."""
    if len(a) < 2 or len(b) < 2:
        return math.nan, math.nan
    effect = float(a.mean() - b.mean())
    if np.var(a) == 0 and np.var(b) == 0:
        return effect, effect
    ci = stats.ttest_ind(a, b, equal_var=False).confidence_interval(confidence)
    return float(ci.low), float(ci.high)


def verdict(arm_a: Sequence[float], arm_b: Sequence[float], direction: str = "greater",
            alpha: float = 0.1, min_seeds: int = 3, margin: float | None = None) -> Verdict:
    """Decide a claim about ``arm_a`` vs ``arm_b`` (one value per seed) by the module's rule."""
    if direction not in DIRECTIONS:
        raise ValueError(f"direction must be one of {DIRECTIONS}, not {direction!r}")
    needs_margin = direction in ("equal", "not_greater", "not_less")
    if needs_margin and not (margin and margin > 0):
        raise ValueError(f"direction {direction!r} needs a margin > 0")
    if not needs_margin and margin is not None:
        raise ValueError("margin only applies to 'equal', 'not_greater', 'not_less'")
    a, b = np.asarray(arm_a, dtype=float), np.asarray(arm_b, dtype=float)
    if len(a) == 0 or len(b) == 0 or not (np.isfinite(a).all() and np.isfinite(b).all()):
        raise ValueError(f"both arms need finite values, got {list(a)} and {list(b)}")

    if direction == "greater":
        p, p_opp = _p_greater(a, b), _p_less(a, b)
    elif direction == "less":
        p, p_opp = _p_less(a, b), _p_greater(a, b)
    elif direction == "equal":
        p = max(_p_greater(a, b, -margin), _p_less(a, b, margin))
        p_opp = min(_p_greater(a, b, margin), _p_less(a, b, -margin))
    elif direction == "not_greater":
        p, p_opp = _p_less(a, b, margin), _p_greater(a, b, margin)
    else:  # not_less
        p, p_opp = _p_greater(a, b, -margin), _p_less(a, b, -margin)

    if min(len(a), len(b)) < min_seeds or math.isnan(p):
        outcome = "inconclusive"
    elif p < alpha:
        outcome = "reproduced"
    elif p_opp < alpha:
        outcome = "contradicted"
    else:
        outcome = "inconclusive"
    low, high = welch_interval(a, b, 1.0 - 2.0 * alpha)
    std = lambda x: float(x.std(ddof=1)) if len(x) > 1 else math.nan  # noqa: E731
    return Verdict(outcome, float(a.mean() - b.mean()), low, high, p, p_opp, len(a), len(b),
                   float(a.mean()), float(b.mean()), std(a), std(b), direction, alpha, min_seeds,
                   margin)


# ----------------------------------------------------------------------------------------------
# results/claims.csv


def claims_path(results_dir=None) -> Path:
    return results_root(results_dir) / "claims.csv"


def _fmt(x) -> str:
    if isinstance(x, float):
        return "" if math.isnan(x) else f"{x:.6g}"
    return "" if x is None else str(x)


def record_claim(results_dir, paper: str, claim_id: str, table: str, statement: str, paper_effect,
                 measured: Verdict, profile: str) -> dict:
    """Add or replace the row of (paper, claim_id, profile) in ``<results>/claims.csv``.

    Idempotent, and safe from several processes: the read-modify-write runs under an exclusive
    ``fcntl`` lock on ``claims.csv.lock`` and the file is replaced atomically. Rows are kept sorted
    by (paper, claim_id, profile) so the file does not depend on which notebook ran first.
    ``paper_effect`` is written as given (a number or the paper's wording, e.g. ``"+1.4 top-1"``).
    """
    path = claims_path(results_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    row = {"paper": paper, "claim_id": claim_id, "table": table, "statement": statement,
           "paper_effect": paper_effect, "measured_effect": measured.effect,
           "ci_low": measured.ci_low, "ci_high": measured.ci_high, "p_value": measured.p_value,
           "n_seeds": measured.n_seeds, "verdict": measured.verdict, "profile": profile,
           "rule": measured.rule}
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
        rows = sorted(rows + [row], key=key)
        tmp = path.with_name(f"{path.name}.tmp{os.getpid()}")
        with open(tmp, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=columns, restval="")
            writer.writeheader()
            writer.writerows(rows)
        os.replace(tmp, path)
    return row


def read_claims(results_dir=None):
    """``results/claims.csv`` as a DataFrame (empty, with the columns, when there is none)."""
    import pandas as pd

    path = claims_path(results_dir)
    if not path.exists():
        return pd.DataFrame(columns=list(CLAIM_COLUMNS))
    return pd.read_csv(path, dtype={"paper_effect": str})
