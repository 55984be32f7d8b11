"""What every chapter module does with its runs, in one place: the runs by arm, a budget's training
overrides, reading a run through another representation, the measured-time table, per-arm summaries
for the tables and held-out curves.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .runs import Run, Study

__all__ = ["ArmRuns", "budget_overrides", "with_rep", "timing_table", "mean_sd", "cell", "curve"]


@dataclass
class ArmRuns:
    """A chapter's study, its arms and its runs (seed order), by arm name."""

    P: object
    study: Study
    arms: dict = field(default_factory=dict)
    runs: dict = field(default_factory=dict)

    def seeds(self, name: str) -> list[int]:
        return [r.seed for r in self.runs[name]]

    def label(self, name: str) -> str:
        return self.arms[name].label

    def model(self, name: str, seed_index: int = 0):
        return self.runs[name][seed_index].model()


def budget_overrides(P, steps: int) -> tuple:
    """TrainConfig overrides of a run of ``steps`` steps at profile ``P``: the profile's warm-up fraction
    and a held-out evaluation every tenth of the run."""
    warm = max(1, int(round(P.train.warmup_steps * steps / P.train.steps)))
    return (("eval_every", max(steps // 10, 1)), ("warmup_steps", warm))


def with_rep(run: Run, rep: str, label: str | None = None) -> Run:
    """``run`` read through representation ``rep``: its arm renamed ``<arm>@<rep>`` (so that the
    study's caches and the tidy frame keep the representations apart) and labelled ``label``."""
    a = run.arm
    arm = dataclasses.replace(a, name=f"{a.name}@{rep}", rep=rep, label=label or f"{a.label} [{rep}]",
                              init_id=f"{a.init_id}@{rep}" if a.init_id else None)
    return dataclasses.replace(run, arm=arm)


def timing_table(runs: ArmRuns) -> pd.DataFrame:
    """Measured pre-training time per arm (a cached run reports the time it took when it was trained)."""
    rows = []
    for name, rs in runs.runs.items():
        steps = runs.arms[name].steps or runs.P.train.steps
        t = np.array([r.train_s for r in rs], float)
        rows.append(dict(arm=name, seeds=len(rs), steps=steps, s_per_run=float(t.mean()),
                         s_per_step=float(t.mean()) / steps, total_s=float(t.sum()),
                         trained_now=sum(not r.cached for r in rs)))
    return pd.DataFrame(rows)


def mean_sd(frame: pd.DataFrame, arm: str, task: str, protocol: str) -> tuple[float, float, int]:
    """Mean, sd and number of seeds of a pre-trained arm's accuracy on ``task`` by ``protocol``."""
    g = frame[(frame.arm == arm) & (frame.task == task) & (frame.protocol == protocol) & (frame.init == "pretrained")]
    x = g.accuracy.to_numpy(float)
    return (float(x.mean()) if len(x) else math.nan, float(x.std(ddof=1)) if len(x) > 1 else math.nan, len(x))


def cell(m: float, s: float, n: int) -> str:
    """A table cell ``mean ± sd (seeds)``; ``"not run"`` without a value."""
    if n == 0 or math.isnan(m):
        return "not run"
    return f"{m:.1f}" + ("" if math.isnan(s) else f" ± {s:.1f}") + f" ({n})"


def curve(runs: ArmRuns, name: str, key: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Steps, mean and sd over seeds of logged term ``key`` of arm ``name``'s held-out evaluations."""
    hs = [[(e["step"], e[key]) for e in r.eval_history if key in e] for r in runs.runs.get(name, [])]
    hs = [h for h in hs if h]
    if not hs:
        return np.array([]), np.array([]), np.array([])
    n = min(len(h) for h in hs)
    steps = np.array([s for s, _ in hs[0][:n]])
    vals = np.array([[v for _, v in h[:n]] for h in hs])
    return steps, vals.mean(0), vals.std(0)
