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

__all__ = ["ArmRuns", "by_arm", "budget_overrides", "with_rep", "timing_table", "mean_sd", "cell", "curve", "plan_frame",
           "format_plan", "budget_sentence"]


@dataclass
class ArmRuns:
    """A chapter's study, its arms and its runs (seed order), by arm name."""

    P: object
    study: Study
    arms: dict = field(default_factory=dict)
    runs: dict = field(default_factory=dict)

    @classmethod
    def pretrain(cls, study: Study, arms: dict, names=None, **fields) -> "ArmRuns":
        """Train (or read from the cache) ``arms`` (``{name: Arm}``) — or only those of ``names`` — on the study's
        executor workers, their runs by arm in seed order. A notebook can train a chapter's arms in parts, a cell
        each, to keep every cell under the profile's cell time limit: the runs are cached, so the full call then
        reads them. ``fields``: further fields of a subclass."""
        if names is not None:
            arms = {n: a for n, a in arms.items() if n in names}
        runs = study.pretrain(list(arms.values()), study.P.seed_list)
        return cls(study.P, study, dict(arms), by_arm(runs, arms), **fields)

    def seeds(self, name: str) -> list[int]:
        return [r.seed for r in self.runs[name]]

    def label(self, name: str) -> str:
        return self.arms[name].label

    def model(self, name: str, seed_index: int = 0):
        return self.runs[name][seed_index].model()


def by_arm(runs, names) -> dict:
    """``{name: [runs of arm name, in the order given]}`` for each of ``names``."""
    return {name: [r for r in runs if r.arm.name == name] for name in names}


def budget_overrides(P, steps: int) -> tuple:
    """TrainConfig overrides of a run of ``steps`` steps at profile ``P``: the profile's warm-up fraction
    and a held-out evaluation every tenth of the run."""
    warm = max(1, int(round(P.train.warmup_steps * steps / P.train.steps)))
    return (("eval_every", max(steps // 10, 1)), ("warmup_steps", warm))


def plan_frame(rows: list[dict], *, extra_eval_s: float = 0.0, extra_label: str = "", workers: int = 2) -> pd.DataFrame:
    """A chapter's budget as planned: ``rows`` (per arm: ``arm, label, seeds, steps, s_per_step, eval_cpu_s,
    note``) with ``pretrain_cpu_s = seeds x steps x s_per_step``, and a total row whose label ends with the
    wall time on ``workers`` single-threaded workers (``extra_eval_s``: evaluation outside the arms, e.g.
    the random-init references, named by ``extra_label``)."""
    t = pd.DataFrame(rows)
    t.insert(list(t.columns).index("s_per_step") + 1, "pretrain_cpu_s", t.seeds * t.steps * t.s_per_step)
    pre, ev = t.pretrain_cpu_s.sum(), t.eval_cpu_s.sum() + extra_eval_s
    label = (f"{extra_label}; " if extra_label else "") + f"wall time on {workers} workers ≈ {(pre + ev) / workers / 60:.0f} min"
    t.loc[len(t)] = dict(arm="total", label=label, seeds=int(t.seeds.sum()), steps=np.nan, s_per_step=np.nan,
                         pretrain_cpu_s=pre, eval_cpu_s=ev, note="")
    return t


def format_plan(plan: pd.DataFrame):
    """:func:`plan_frame`'s table as a page shows it."""
    from .gate import format_table

    return format_table(plan.drop(columns=["label"]), {"s_per_step": "{:.3f}", "pretrain_cpu_s": "{:,.0f}",
                                                       "eval_cpu_s": "{:,.0f}", "steps": "{:,.0f}"},
                        caption="The budget as planned: seeds, steps, measured seconds per step, estimated CPU seconds")


def budget_sentence(plan: pd.DataFrame, core) -> str:
    """The closing sentence of a chapter's budget prose: what the core arms and everything cost, and the
    wall time (from :func:`plan_frame`'s table, so the prose cannot drift from it)."""
    total = plan.iloc[-1]
    c = plan[plan.arm.isin(core)]
    return (f"The core arms ({', '.join(core)}) on {int(c.seeds.max())} seeds cost {c.pretrain_cpu_s.sum():,.0f} "
            f"CPU s; in all {total.pretrain_cpu_s:,.0f} CPU s of pre-training and {total.eval_cpu_s:,.0f} CPU s of "
            f"evaluation: {total.label.split('; ')[-1]}.")


def with_rep(run: Run, rep: str, label: str | None = None) -> Run:
    """``run`` read through representation ``rep``: its arm renamed ``<arm>@<rep>`` (so that the
    study's caches and the tidy frame keep the representations apart) and labelled ``label``."""
    a = run.arm
    arm = dataclasses.replace(a, name=f"{a.name}@{rep}", rep=rep, label=label or f"{a.label} [{rep}]",
                              init_id=f"{a.init_id}@{rep}" if a.init_id else None)
    return dataclasses.replace(run, arm=arm)


def timing_table(runs: ArmRuns) -> pd.DataFrame:
    """Measured pre-training time per arm: seconds of compute (:attr:`Run.cost_s`: a CPU run's process
    time) per run, per step and in all (a cached run reports the time it took when it was trained)."""
    rows = []
    for name, rs in runs.runs.items():
        steps = runs.arms[name].steps or runs.P.train.steps
        t = np.array([r.cost_s for r in rs], float)
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
