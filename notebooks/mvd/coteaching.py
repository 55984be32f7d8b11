# ---
# jupyter:
#   maskedav:
#     needs:
#     - mvd/gate
#     order: 20
#     title: 'MVD 2: co-teaching (Tables 1 and 2)'
# ---

# %% [markdown]
# # MVD 2 — spatial-temporal co-teaching: Tables 1 and 2
#
# * **Table 1** — students of the image teacher only, the video teacher only, and both (co-teaching), each
#   from the teachers of its own seed; claims E1 (co-teaching beats the better single-teacher student —
#   the comparator chosen by mean over seeds) and E2 (the image teacher's student is better on the
#   spatially heavy `appearance`, the video teacher's on the temporally heavy `motion`);
# * **Table 2** — co-teaching from the base and from the larger teachers, against VideoMAE trained for the
#   teachers' full schedule (the paper: MVD 400 epochs vs VideoMAE 1600; here 750 vs 3,000 steps at `cpu`);
#   claims E3 and E4.
#
# Every claim compares two arms on one task by the linear probe on frozen features (the paper fine-tunes),
# paired by seed, with the test set's standard error as a floor; it is *untestable* when an arm fails the
# learning gate (MVD 0), and the ledger adjusts the chapter's p-values by Holm.

# %% tags=["parameters"]
profile = "cpu"
results_dir = None

# %%
from IPython.display import Markdown, display

from maskedav.chapters import mvd as chapter
from maskedav.study import claims_table, decide, format_claims, gate, record

P, study, rec = chapter.session(profile, results_dir)
plan = chapter.plan(P)
runs = chapter.pretrain(study)                    # the cached runs of the gate page
frame = chapter.evaluate(study, runs)
gates = gate(frame)

# %% [markdown]
# ## Table 1 — image teacher, video teacher, co-teaching

# %%
t1 = chapter.table1(frame, profile)
rec.table(t1, "table1", seeds=P.seed_list,
          caption="Table 1: students of the image teacher, the video teacher and both (co-teaching). Paper: K400 / "
                  "SSv2 fine-tuning top-1; this book: SynthAV appearance / motion linear probe (layout readout), "
                  "mean ± sd over seeds",
          extra=dict(student_steps=plan.student_steps, teacher_steps=plan.teacher_steps))
display(*chapter.paper_and_measured(t1, "Table 1: image teacher, video teacher, co-teaching (top-1, %)"))

# %%
claims1 = chapter.claims(frame, plan, ["E1.appearance", "E1.motion", "E2.appearance", "E2.motion"])
verdicts1 = decide(frame, claims1, gates)
ledger1 = record("mvd", claims1, verdicts1, results_dir=results_dir, profile=profile)
display(format_claims(claims_table(claims1, verdicts1), "Claims E1-E2: measured effect in probe accuracy points, "
                                                        "its 80 % interval and the rule's verdict"))
display(Markdown(chapter.describe_claims(ledger1)))

# %% [markdown]
# ## Table 2 — MVD vs VideoMAE, and teacher size
#
# E3: the co-teaching student (a quarter of the teachers' steps) against the baselines' VideoMAE of the same
# seed — which is also that student's video teacher, so the pair shares a network. E4: students of the one
# larger teacher pair against students of the base teachers; the seeds vary the students, not the large
# teachers (the verdict is capped at that instance).

# %%
t2 = chapter.table2(frame, profile, plan)
rec.table(t2, "table2", seeds=P.seed_list,
          caption="Table 2: MVD (co-teaching) vs VideoMAE across teacher sizes. Paper: MVD 400 ep vs VideoMAE 1600 "
                  "ep; this book: MVD students for a quarter of the teachers' steps vs the baselines' VideoMAE",
          extra=dict(student_steps=plan.student_steps, teacher_steps=plan.teacher_steps, large=plan.large,
                     large_seeds=list(plan.large_seeds)))
display(*chapter.paper_and_measured(t2, "Table 2: MVD vs VideoMAE across teacher sizes (top-1, %)"))

# %%
claims2 = chapter.claims(frame, plan, ["E3.appearance", "E3.motion", "E4.appearance", "E4.motion"])
verdicts2 = decide(frame, claims2, gates)
ledger2 = record("mvd", claims2, verdicts2, results_dir=results_dir, profile=profile)
display(format_claims(claims_table(claims2, verdicts2), "Claims E3-E4: measured effect in probe accuracy points, "
                                                        "its 80 % interval and the rule's verdict"))
display(Markdown(chapter.describe_claims(ledger2)))
