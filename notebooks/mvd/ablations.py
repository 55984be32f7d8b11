# ---
# jupyter:
#   maskedav:
#     needs:
#     - mvd/gate
#     order: 30
#     title: 'MVD 3: training time and ablations (Tables 6-9)'
# ---

# %% [markdown]
# # MVD 3 — training time, pixel branch, bootstrapped teachers, per-token distillation (Tables 6–9)
#
# * **Table 6 (E9)** — wall-clock on this machine: a VideoMAE video teacher trained for half of the
#   baselines' schedule plus an MVD student of that teacher, against VideoMAE trained for the full
#   schedule. The student's steps are set so that teacher + student take no more wall-clock than the full
#   VideoMAE, from step times measured here, now (the student's cost includes computing its teacher's
#   targets). The half-schedule teacher is trained per seed, so each seed's MVD has its own teacher.
# * **Table 7 (E6)** — an extra decoder reconstructing pixels during distillation (the profile's pixel
#   target: raw pixels at the small profiles; the paper's is VideoMAE's normalised pixels).
# * **Table 8 (E7)** — a bootstrapped teacher: an EMA (momentum) copy of the student's encoder gives the
#   targets, trained twice as long. The paper's second row (the EMA student initialised from an image
#   model) is not run at this budget (MVD 0).
# * **Table 9 (E5)** — per-token distillation: no masking, an MLP head regresses the video teacher's
#   features of every token.
#
# The frozen-teacher rows (image / video / co-teaching) are the students of MVD 0, at the same 750 steps.

# %% tags=["parameters"]
profile = "cpu"
results_dir = None

# %%
from IPython.display import Markdown, display

from maskedav.chapters import mvd as chapter
from maskedav.study import claims_table, decide, format_claims, format_gate, gate, record

P, study, rec = chapter.session(profile, results_dir)
plan = chapter.plan(P)

# %% [markdown]
# ## Table 6: step times on this machine
#
# One training step (forward, backward, AdamW; one thread) of VideoMAE and of the video-teacher student
# (from cached targets), measured alternately three times, and the time to compute the video teacher's
# targets per clip. The student gets the wall-clock of the VideoMAE steps the half-schedule teacher does not
# use, less its targets, rounded down. At the `cpu` profile that number of steps is fixed from one measurement on
# the book's machine (`chapter.T6_STUDENT_STEPS`), so that every re-run trains the same arm; what the step times
# measured now would give is shown beside it.

# %%
costs = chapter.step_costs(P, ["videomae", "video"], steps=6, warmup=2, rounds=3)
t6_steps, timing = chapter.time_matched_steps(P, costs)
display(Markdown(
      f"Step time: VideoMAE {1000 * timing['videomae_step_s']:.1f} ms, student {1000 * timing['student_step_s']:.1f} ms, "
      f"targets {1000 * timing['target_s_per_clip']:.2f} ms per clip. The full VideoMAE takes {timing['videomae_s']:.0f} s, "
      f"the half-schedule teacher {timing['short_teacher_s']:.0f} s, its targets {timing['targets_s']:.0f} s, leaving "
      f"{timing['measured_steps']} student steps"
      + (f"; the arm trains the {t6_steps} steps fixed for this profile ({timing['student_s']:.0f} s at the step time "
         "measured now)" if timing["fixed"] else f" ({timing['student_s']:.0f} s)")
      + f". The paper's ratio would give {plan.student_steps}."))

# %%
runs = chapter.pretrain(study)                                        # cached runs of the gate page
runs.update({k: v for k, v in chapter.pretrain(study, ["mvd_t6"], t6_steps=t6_steps).items() if k == "mvd_t6"})
frame = chapter.evaluate(study, runs)
gates = gate(frame)
format_gate(chapter.gate_table(study, frame[frame.arm.isin(["mvd_t6", "videomae", "videomae_short"])]),
            "The learning gate of Table 6's arms: test accuracy (%) pre-trained vs at random init")

# %% [markdown]
# ## Table 6 — training time (teacher included)

# %%
train_s = {a: sum(r.cost_s for r in runs[a]) / len(runs[a]) for a in ("videomae", "videomae_short", "mvd_t6")}
t6 = chapter.table6(frame, profile, plan, timing, train_s)
rec.table(t6, "table6", seeds=P.seed_list,
          caption="Table 6: accuracy at equal wall-clock, teacher training included (paper: 32 V100 hours; this "
                  "book: seconds on this machine, planned from measured step times and measured on the runs)",
          extra=dict(timing=timing, step_costs=costs, measured_train_s=train_s))
display(*chapter.paper_and_measured(t6, "Table 6: accuracy at equal wall-clock, teacher included (top-1, %)"))

# %%
c9 = [chapter.e9_claim(plan, t6_steps)]
v9 = decide(frame, c9, gates)
display(Markdown(chapter.describe_claims(record("mvd", c9, v9, results_dir=results_dir, profile=profile))))
print(f"Measured on the runs: the half-schedule teacher took {train_s['videomae_short']:.0f} s and the student "
      f"{train_s['mvd_t6']:.0f} s (targets included), {train_s['videomae_short'] + train_s['mvd_t6']:.0f} s together, "
      f"against {train_s['videomae']:.0f} s for the full VideoMAE (CPU seconds of each run's worker, mean over "
      "seeds; the runs of different pages can meet different loads on the machine).")

# %% [markdown]
# ## Table 7 — an extra pixel-reconstruction branch

# %%
t7 = chapter.table7(frame, profile)
rec.table(t7, "table7", seeds=P.seed_list,
          caption="Table 7: distillation with an extra pixel-reconstruction decoder (paper: SSv2, ViT-S, 300 ep; this "
                  "book: motion, with appearance alongside; raw-pixel target at the small profiles)")
display(*chapter.paper_and_measured(t7, "Table 7: an extra pixel-reconstruction decoder (top-1, %)"))

# %%
c6 = chapter.claims(frame, plan, ["E6.image", "E6.coteach"])
v6 = decide(frame, c6, gates)
display(format_claims(claims_table(c6, v6), "Claims E6: measured effect in probe accuracy points"))
display(Markdown(chapter.describe_claims(record("mvd", c6, v6, results_dir=results_dir, profile=profile))))

# %% [markdown]
# ## Table 8 — bootstrapped (EMA) teachers vs frozen teachers

# %%
t8 = chapter.table8(frame, profile, plan)
rec.table(t8, "table8", seeds=P.seed_list,
          caption="Table 8: momentum-encoder (EMA) targets, trained twice as long, vs frozen teachers",
          extra=dict(ema_momentum=chapter.MVDConfig().ema_momentum, ema_schedule="cosine to 1 over the run"))
display(*chapter.paper_and_measured(t8, "Table 8: bootstrapped (EMA) vs frozen teachers (top-1, %)"))

# %%
c7 = chapter.claims(frame, plan, ["E7.appearance", "E7.motion", "E7.init.appearance", "E7.init.motion"])
v7 = decide(frame, c7, gates)
display(format_claims(claims_table(c7, v7), "Claims E7: measured effect in probe accuracy points"))
display(Markdown(chapter.describe_claims(record("mvd", c7, v7, results_dir=results_dir, profile=profile))))

# %% [markdown]
# ## Table 9 — per-token distillation vs masked feature reconstruction

# %%
t9 = chapter.table9(frame, profile)
rec.table(t9, "table9", seeds=P.seed_list,
          caption="Table 9: per-token feature distillation (no mask, MLP head) vs masked reconstruction, video teacher")
display(*chapter.paper_and_measured(t9, "Table 9: per-token distillation vs masked reconstruction (top-1, %)"))

# %%
c5 = chapter.claims(frame, plan, ["E5.appearance", "E5.motion"])
v5 = decide(frame, c5, gates)
display(format_claims(claims_table(c5, v5), "Claims E5: measured effect in probe accuracy points"))
display(Markdown(chapter.describe_claims(record("mvd", c5, v5, results_dir=results_dir, profile=profile))))
