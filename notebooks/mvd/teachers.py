# ---
# jupyter:
#   maskedav:
#     needs:
#     - baselines/mae
#     - baselines/videomae
#     - mvd/gate
#     order: 10
#     title: 'MVD 1: the teachers and Fig. 3'
# ---

# %% [markdown]
# # MVD 1 — the teachers: probes and Fig. 3
#
# Before any distillation: what the teachers know. The base teachers are the baselines' MAE (image) and
# VideoMAE (video), one per seed; the larger pair (Table 2) and the half-schedule VideoMAE (Table 6) are
# the chapter's (trained on the previous page). Spec §10.3's caveat: if the video teacher does not beat
# the image teacher on `motion`, the spatial/temporal claim E2 cannot be expected.
#
# Fig. 3 (claim E8): frame-by-frame similarity of the teachers' target features — for every held-out
# (validation) clip and teacher seed, the targets MVD distils (last block, before the final norm), cut
# into time slices; `S[i, j]` = cosine similarity of slice `i` and slice `j` at the same spatial position,
# averaged over positions (spec §7), then over clips and seeds.

# %% tags=["parameters"]
profile = "cpu"
results_dir = None

# %%
import pandas as pd
import torch
from IPython.display import Markdown, display

from maskedav.chapters import mvd as chapter
from maskedav.claims import record_claim
from maskedav.study import format_table, gate

P, study, rec = chapter.session(profile, results_dir)
runs = chapter.pretrain(study)                    # the cached runs of the gate page
frame = chapter.evaluate(study, runs)

# %% [markdown]
# ## The teachers' probes

# %%
teachers = ["mae", "videomae", "mae_large", "videomae_large", "videomae_short"]
rows = frame[frame.arm.isin(teachers) & (frame.init == "pretrained")]
summary = (rows.groupby(["arm", "label", "task", "protocol"]).accuracy.agg(["mean", "std", "count"])
           .reset_index().rename(columns={"count": "seeds"}))
display(format_table(summary, {"mean": "{:.1f}", "std": "{:.1f}"},
                     caption="The teachers' test accuracy (%) per task and protocol, mean and std over seeds"))
display(Markdown(chapter.describe_teachers(frame, {t: study.chance(t) for t in chapter.TASKS})))

# %% [markdown]
# ## Fig. 3 — feature similarity across time
#
# The image teacher is shown on the frames the student's targets use (the first frame of each tubelet)
# and on every frame. E8 compares the mean off-diagonal similarity of the two teachers, one value per
# teacher seed (independent teachers), paired by seed; the clips' standard error of the difference is
# the floor. It is decided only if both teachers pass the learning gate on some task.

# %%
sims = chapter.similarity(P)
clips = len(next(iter(sims.values()))["offdiag"]["image"])
matrices = {k: torch.stack([s["matrix"][k] for s in sims.values()]).mean(0) for k in next(iter(sims.values()))["matrix"]}
fig = chapter.fig3_figure(matrices, seeds=len(sims), clips=clips, tubelet=P.model.tubelet)
rec.figure(fig, "fig3", seeds=sorted(sims),
           caption="Feature similarity across time slices of the image (MAE) and video (VideoMAE) teachers",
           extra=dict(formula="S[i,j] = mean over positions of cos(F[i,n], F[j,n]); targets = last block, pre-norm",
                      clips=clips, split="val"))

# %%
off = pd.DataFrame([{"seed": s, **{k: float(v.mean()) for k, v in d["offdiag"].items()}} for s, d in sims.items()])
display(format_table(off, {k: "{:.3f}" for k in off.columns if k != "seed"},
                     caption="Mean off-diagonal cosine similarity of Fig. 3, per teacher seed"))
v = chapter.e8_verdict(sims, gate(frame))
E8 = chapter.E8
row = record_claim(results_dir, "mvd", E8["id"], E8["table"], E8["statement"], E8["paper_effect"], v, profile,
                   E8["unit"])
print(f"E8: image teacher {v.mean_a:.3f} vs video teacher {v.mean_b:.3f} mean off-diagonal similarity "
      f"({v.n_seeds} teacher seeds; effect {v.effect:+.3f}, 80 % interval [{v.ci_low:+.3f}, {v.ci_high:+.3f}], "
      f"floor {v.floor_se:.4f}) → {row['verdict']}{' (' + v.note + ')' if v.note else ''}.")
