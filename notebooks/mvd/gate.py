# ---
# jupyter:
#   maskedav:
#     needs:
#     - baselines/mae
#     - baselines/videomae
#     - baselines/gate
#     order: 5
#     title: 'MVD 0: the runs and the learning gate'
# ---

# %% [markdown]
# # MVD 0 — the runs and the learning gate
#
# MVD (Wang et al., CVPR 2023) distils a student video ViT from two **frozen** stage-1 teachers, an image
# MAE and a VideoMAE: tube-masked at 90 %, the student predicts the teachers' last-block features of the
# masked tokens through one shallow decoder per teacher (smooth-L1; Eqs. 1–3, `maskedav.methods.mvd`).
# This page trains every run of the chapter and shows, first, whether each one learned anything: the
# **learning gate** — per task, the supervised ceiling, chance, and each arm pre-trained against the
# *same network at random init* (paired by seed). A claim whose arms fail the gate on its task is
# *untestable at this profile*. The later pages read these runs from the cache.
#
# **Teachers.** The base teachers are the baselines chapter's MAE and VideoMAE of the student's own seed
# (raw-pixel targets, the profile's full schedule): independent teachers per seed. The chapter trains
# its own: a **larger** MAE / VideoMAE pair (Table 2, E4; width about 4/3, one more block, the same steps)
# — one instance, seed 0, shared by every student seed, so E4's verdict is capped at that instance — and a
# **half-schedule** VideoMAE per seed (Table 6, E9).
#
# **Students** distil for a quarter of the teachers' steps (the paper's 400 of 1600 epochs), the
# bootstrapped (EMA) students for twice that (Table 8's 800 epochs), all with the profile's warm-up
# fraction. The teachers' targets are computed once per teacher and seed (the teachers are frozen and
# SynthAV clips carry no augmentation) and shared by the students of that teacher.

# %% tags=["parameters"]
profile = "cpu"
results_dir = None

# %%
import pandas as pd
from IPython.display import Markdown, display

from maskedav.chapters import baselines
from maskedav.chapters import mvd as chapter
from maskedav.study import format_gate, format_table

P, study, rec = chapter.session(profile, results_dir)
plan = chapter.plan(P)
format_table(pd.DataFrame(vars(plan).items(), columns=["", "value"]).astype(str),
             caption="The chapter's plan at this profile: steps of the teachers (the profile's schedule, the "
                     "paper's 1600 epochs), the students (a quarter), the bootstrapped students (twice that) and "
                     "Table 6's teacher (half); the larger and the base teachers' sizes")

# %% [markdown]
# ## The budget
#
# The chapter must fit 30 minutes on 2 cores (two worker processes of one thread each), pre-training
# included. Below, every training step of the chapter is timed now, on this machine (one thread, batch of
# the profile, random inputs; `chapter.step_costs`), and the chapter's cost is added up from those times by
# block: the chapter's own teachers, the students, the teachers' targets (computed once per teacher and
# seed) and the evaluations. The sentence and the summary are computed from the measurement; the table
# after them is the same arithmetic per arm.

# %%
costs = chapter.step_costs(P, evaluation=True)
arms = list(chapter.teacher_arms(study).values()) + list(chapter.student_arms(study).values())
budget = chapter.budget_table(study, costs, arms, eval_s=costs["eval_model"])
display(Markdown(chapter.budget_prose(study, costs, budget)))
display(format_table(budget, {"runs": "{:.0f}", "steps (clips)": "{:,.0f}", "s per step (clip, model)": "{:.3f}",
                             "core-seconds": "{:,.1f}"},
                     caption="The budget per block: runs, steps (or clips), measured seconds per step on one "
                             "thread, core-seconds"))

# %% [markdown]
# ## Pre-training
#
# The baselines' teachers come from their cache; the chapter's teachers train first, then the students
# (each loads its frozen teachers). Every run is cached by a content key that includes its teachers'.

# %%
runs = chapter.pretrain(study)
train_s = pd.DataFrame([dict(arm=a, seeds=len(rs), steps=rs[0].arm.steps or P.train.steps,
                             train_s=sum(r.cost_s for r in rs), cached=all(r.cached for r in rs))
                        for a, rs in runs.items()])
display(format_table(train_s, {"train_s": "{:.1f}"},
                     caption="Pre-training per arm: seeds, steps, seconds of compute (a CPU run's process time) summed over the seeds "
                             "(cached: read from the cache, not trained now)"))

# %% [markdown]
# ## The learning gate
#
# Frozen encoders, the layout readout (tokens pooled 2 × 2 per time step, in time order), logistic
# regression (`probe`) and kNN, on `appearance` (the K400 analogue) and `motion` (the SSv2 analogue).
# Each arm against the same network at random init (every student of a seed starts from the same
# encoder; the EMA student initialised from the image teacher would start from the inflated MAE), with the
# test set's standard error of the difference as a floor. The supervised ceilings are the baselines'.
# The single larger-teacher pair has one seed and no random-init reference: it is described on the next
# page, not gated.

# %%
frame = chapter.evaluate(study, runs)
ceiling = chapter.ceiling(P)
table = chapter.gate_table(study, frame, ceiling)
caption = ("MVD learning gate: test accuracy (%) per task and protocol — chance, supervised ceiling, each arm at "
           "random init and pre-trained (mean ± sd over seeds), the paired gain with its 80 % interval, the test "
           "set's standard error, the minimum detectable effect")
rec.table(table, "learning_gate", seeds=P.seed_list, caption=caption,
          extra=dict(student_steps=plan.student_steps, teacher_steps=plan.teacher_steps,
                     bootstrap_steps=plan.bootstrap_steps, short_teacher_steps=plan.short_teacher_steps,
                     large=plan.large, large_seeds=list(plan.large_seeds)))
format_gate(table, caption)

# %%
display(Markdown(baselines.describe_gate(table[table.protocol == chapter.CLAIM_PROTOCOL])))
