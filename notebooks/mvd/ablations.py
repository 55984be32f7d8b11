# ---
# jupyter:
#   maskedav:
#     needs:
#     - mvd/teachers
#     - mvd/coteaching
#     order: 30
#     title: 'MVD 3: baselines and ablations (Tables 6-9)'
# ---

# %% [markdown]
# # MVD 3 — training time, pixel branch, bootstrapped teachers, per-token distillation (Tables 6–9)
#
# * **Table 6 (E9)** — wall-clock on this machine: a VideoMAE video teacher trained for half of VideoMAE's
#   schedule plus an MVD student (video teacher only, as the paper's Table 6) against VideoMAE trained for
#   the full schedule. The student's steps are set so that teacher + student take the same wall-clock as
#   the full VideoMAE, from step times measured here (MVD with the teacher run online, not cached).
# * **Table 7 (E6)** — an extra decoder reconstructing VideoMAE's normalised pixels during distillation.
# * **Table 8 (E7)** — a bootstrapped teacher: an EMA (momentum) copy of the student's encoder gives the
#   targets, trained twice as long; with and without initialising the student from the image teacher
#   (the paper initialises from an IN-1K-pretrained bootstrapped model; here the MAE image teacher,
#   inflated to tubelets, stands in for it).
# * **Table 9 (E5)** — per-token distillation: no masking, an MLP head regresses the video teacher's
#   features of every token.
#
# The frozen-teacher rows (image / video / co-teaching) are the students of the previous notebook.

# %% tags=["parameters"]
profile = "cpu"
results_dir = None

# %%
import time

import numpy as np
import torch

from maskedav.methods import mvd
from maskedav.methods import mvd_tables
from maskedav.methods.recipes import build_config, make_batch_fn
from maskedav.methods import VideoMAE
from maskedav.profiles import get_profile
from maskedav.results import Recorder

P = get_profile(profile)
rec = Recorder("mvd", profile=profile, results_dir=results_dir, parameters=dict(profile=profile))
device = P.resolve_device()
mvd.use_cpu_threads(device)
plan = mvd.run_plan(P)
data = mvd.load_data(P)
teacher_rows = mvd.load_runs("teachers", P)
cot_rows = mvd.load_runs("coteaching", P)
print(plan)

# %% [markdown]
# ## Table 6: step times on this machine
#
# One training step (forward, backward, AdamW) of VideoMAE and of the video-teacher MVD student (the
# teacher's forward included), measured alternately three times each; the median of each is used.

# %%
videos = data["pretrain"]["video"]
vm_batches = make_batch_fn({"video": videos}, plan.batch_size, ("video",), 0)
short_teacher = mvd.feature_teachers({"video": mvd.load_teacher(P, "video", "short", plan.seeds[0])},
                                     P.model.tubelet)
times = {"videomae": [], "mvd": []}
for _ in range(3):
    torch.manual_seed(0)
    times["videomae"].append(mvd.measure_step_time(VideoMAE(build_config("videomae", P)), vm_batches,
                                                   steps=4, device=device))
    torch.manual_seed(0)
    student = mvd.MVD(mvd.student_config(P, "video"), video_teacher=short_teacher["video"])
    times["mvd"].append(mvd.measure_step_time(student, vm_batches, steps=4, device=device))
t_v, t_m = float(np.median(times["videomae"])), float(np.median(times["mvd"]))
budget_s = plan.teacher_steps * t_v                             # the full VideoMAE's wall-clock
mvd_steps = int(max(1, min(plan.teacher_steps, (budget_s - plan.short_teacher_steps * t_v) // t_m)))
timing = dict(videomae_step_s=t_v, mvd_step_s=t_m, short_steps=plan.short_teacher_steps,
              full_steps=plan.teacher_steps, mvd_steps=mvd_steps)
print(f"step time: VideoMAE {1000 * t_v:.0f} ms, MVD (video teacher online) {1000 * t_m:.0f} ms; the full "
      f"VideoMAE takes {budget_s:.0f} s, the short teacher {plan.short_teacher_steps * t_v:.0f} s, leaving "
      f"{mvd_steps} MVD steps for equal wall-clock (the paper's ratio would be {plan.student_steps}).")

# %% [markdown]
# ## Runs

# %%
Arm = mvd.Arm
arms = [Arm("per_token", "per_token"),
        Arm("image_pixel", "image_pixel"), Arm("coteach_pixel", "coteach_pixel"),
        Arm("bootstrap", "bootstrap", teachers=None, steps=plan.bootstrap_steps),
        Arm("bootstrap_init", "bootstrap", teachers=None, steps=plan.bootstrap_steps, init="image"),
        Arm("mvd_t6", "video", teachers="short", steps=mvd_steps)]
t0 = time.perf_counter()
rows = mvd.run_arms(P, arms, data, device=device)
print(f"{len(rows)} runs in {time.perf_counter() - t0:.1f} s")
rows += mvd.probe_videomae(P, data, size="short", seeds=plan.extra_teacher_seeds, device=device)
rows += [r for r in cot_rows if r["arm"] in ("image", "video", "coteach", "videomae")]
mvd.summarize(rows, ["appearance", "motion", "motion_reversal", "initial_loss", "final_loss", "train_s"])

# %% [markdown]
# ## Table 6 — training time (teacher included)

# %%
t6 = mvd_tables.table6(rows, profile, timing)
rec.table(t6, "table6", seeds=list(plan.seeds),
          caption="Table 6: accuracy at equal wall-clock, teacher training included (paper: 32 V100 hours; "
                  "this book: seconds on this machine from measured step times)",
          extra=dict(timing=timing, times_measured=times))
t6

# %%
c9 = mvd.record_claims(["E9"], rows, results_dir=results_dir, profile=profile)
print(mvd.describe_verdicts(c9))
total = plan.short_teacher_steps * t_v + mvd_steps * t_m
print(f"MVD's teacher + student take {total:.0f} s against {budget_s:.0f} s for the full VideoMAE "
      f"({100 * total / budget_s:.0f} %); MVD reaches {mvd.pm(rows, 'mvd_t6', 'appearance')} % on appearance, "
      f"VideoMAE {mvd.pm(rows, 'videomae', 'appearance')} % (its half-schedule teacher "
      f"{mvd.pm(rows, 'videomae:short', 'appearance')} %).")

# %% [markdown]
# ## Table 7 — an extra pixel-reconstruction branch

# %%
t7 = mvd_tables.table7(rows, profile)
rec.table(t7, "table7", seeds=list(plan.seeds),
          caption="Table 7: distillation with an extra pixel-reconstruction decoder (paper: SSv2, ViT-S, 300 ep; "
                  "this book: motion, with appearance alongside)")
t7

# %%
c6 = mvd.record_claims(["E6.image", "E6.coteach"], rows, results_dir=results_dir, profile=profile)
print(mvd.describe_verdicts(c6))

# %% [markdown]
# ## Table 8 — bootstrapped (EMA) teachers vs frozen teachers

# %%
steps = {"bootstrap": plan.bootstrap_steps, "bootstrap_init": plan.bootstrap_steps, "image": plan.student_steps,
         "video": plan.student_steps, "coteach": plan.student_steps}
t8 = mvd_tables.table8(rows, profile, steps)
rec.table(t8, "table8", seeds=list(plan.seeds),
          caption="Table 8: momentum-encoder (EMA) targets, trained 2x longer, vs frozen teachers",
          extra=dict(ema_momentum=mvd.MVDConfig().ema_momentum, ema_schedule="cosine to 1 over the run",
                     init="MAE image teacher inflated to tubelets (stand-in for the IN-1K bootstrapped model)"))
t8

# %%
c7 = mvd.record_claims(["E7.appearance", "E7.motion", "E7.init.appearance", "E7.init.motion"], rows,
                       results_dir=results_dir, profile=profile)
print(mvd.describe_verdicts(c7))
for task in ("appearance", "motion"):
    a, b = mvd.values(rows, "bootstrap_init", task), mvd.values(rows, "bootstrap", task)
    print(f"Image initialisation moves the EMA student by {np.mean(a) - np.mean(b):+.1f} points on {task}.")

# %% [markdown]
# ## Table 9 — per-token distillation vs masked feature reconstruction

# %%
t9 = mvd_tables.table9(rows, profile)
rec.table(t9, "table9", seeds=list(plan.seeds),
          caption="Table 9: per-token feature distillation (no mask, MLP head) vs masked reconstruction, "
                  "video teacher")
t9

# %%
c5 = mvd.record_claims(["E5.appearance", "E5.motion"], rows, results_dir=results_dir, profile=profile)
print(mvd.describe_verdicts(c5))

# %%
mvd.save_runs("ablations", rows, P)
print(f"artifacts written: {rec.written}")
