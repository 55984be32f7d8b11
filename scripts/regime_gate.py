#!/usr/bin/env python3
"""The baselines' learning gate at another number of pre-training steps (a budget lever of the `cpu`
profile): each baseline's raw-target arm trained for STEPS steps on the profile's seeds, evaluated by the
gate page's protocols on the same test set, printed and written to OUT (CSV; ``pretrain_cost_s``: the
mean process time of one run's pre-training). The book's budget page reads
``results/performance/regime/gate-<steps>-steps.csv``. Checkpoints and evaluations
go to a study of their own (``regime-<steps>``), so the book's cached runs are never replaced.

    scripts/regime_gate.py [STEPS=1500] [OUT=regime-gate-<steps>.csv]
"""
import dataclasses
import sys
import time

import pandas as pd

from maskedav.chapters import baselines as B
from maskedav.profiles import get_profile
from maskedav.study import Study, gate_table
from maskedav.study.chapter import budget_overrides
from maskedav.study.executor import cpu_threads

if __name__ == "__main__":
    steps = int(sys.argv[1]) if len(sys.argv) > 1 else 1500
    P = get_profile("cpu")
    S = Study(P, f"regime-{steps}")
    cpu_threads(S.device)
    pd.set_option("display.width", 250)
    out = []
    for name in ("videomae", "mae", "audiomae", "cav_mae"):
        t0 = time.time()
        arm = B.arms(S, name)[0]
        arm = dataclasses.replace(arm, steps=steps, train_overrides=budget_overrides(P, steps))
        runs = S.pretrain([arm], P.seed_list)
        t1 = time.time()
        protocols, ft = B.PROTOCOLS[name]
        tasks = B.EVAL_TASKS[name]
        frame = S.evaluate(runs, tasks, protocols, finetune_tasks=ft)
        table = gate_table(frame, chance={t: S.chance(t) for t in tasks})
        table.insert(0, "steps", steps)
        table["pretrain_cost_s"] = sum(r.cost_s for r in runs) / len(runs)   # process time per run
        out.append(table)
        print(f"{name}: pretrain {t1 - t0:.0f} s, evaluate {time.time() - t1:.0f} s, "
              f"cpu_s per run {[round(r.cost_s) for r in runs]}", flush=True)
        print(table.to_string(), flush=True)
    pd.concat(out).to_csv(sys.argv[2] if len(sys.argv) > 2 else f"regime-gate-{steps}.csv", index=False)
