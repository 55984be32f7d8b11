# ---
# jupyter:
#   maskedav:
#     needs:
#     - xkd/pretrain
#     order: 30
#     title: 'XKD 3: the figures'
# ---

# %% [markdown]
# # XKD 3 — the figures
#
# Computed from this book's trained XKD models at this profile: how sharp each teacher's output distribution is
# (Fig. 2), which visual tokens refine weighs (Fig. 3) and every loss term of the default run (Fig. S2). Fig. S1
# (collapse) is on the first page, Fig. 1 (the model as implemented) on the model page.

# %% tags=["parameters"]
profile = "cpu"
results_dir = None

# %%
import math

import matplotlib.pyplot as plt
import pandas as pd
from IPython.display import Markdown, display

from maskedav import viz
from maskedav.chapters import xkd as ch
from maskedav.chapters import xkd_figures as figs
from maskedav.study import format_table, session

P, study, rec = session(ch.PAPER, ch.CHAPTER, profile, results_dir)
viz.set_style()
runs = ch.pretrain(study)                      # cached runs of the first page
models = [r.model() for r in runs.runs["xkd"]]
seeds = [r.seed for r in runs.runs["xkd"]]
val = study.split("val", ("fbank", "video", "source_mask"))
n_clips = min(512, len(val["video"]))
batch = {k: v[:n_clips] for k, v in val.items() if k != "labels"}

# %% [markdown]
# ## Fig. 2: how sharp are the two teachers?
#
# The paper argues that audio is the better teacher because its distribution is "sharper", and gives the audio
# teacher a lower temperature. It does not say which quantity it plots; this book takes the entropy of each
# teacher's centred softmax output (Eq. 10) per validation clip. Since the audio teacher's lower temperature
# (0.07 against 0.1) sharpens its softmax by construction, the figure also compares both at one temperature.

# %%
ent = pd.concat([figs.teacher_entropies(m, batch).assign(seed=s) for m, s in zip(models, seeds)], ignore_index=True)
log_k = math.log(models[0].config.proj_out)
sharp = figs.sharpness_table(ent)
rec.table(sharp, "fig2_entropy", seeds=seeds,
          caption=f"Median entropy (nats; uniform = log K = {log_k:.2f}) and largest probability of the teachers' "
                  f"softmax over {n_clips} validation clips, per seed, at each teacher's own temperature and at τ = "
                  f"{figs.COMMON_TEMP:g}")
display(format_table(sharp, {"tau": "{:g}", "median_entropy": "{:.3f}", "median_max_p": "{:.3f}"},
                     caption="Teachers' output sharpness per seed"))
fig = figs.fig2_figure(ent, log_k)
rec.figure(fig, "fig2", seeds=seeds,
           caption=f"Fig. 2 — entropy of the audio and video teachers' softmax outputs per validation clip "
                   f"({n_clips} clips × {len(seeds)} seeds), at each teacher's own temperature and at a common one")
plt.show()

# %%
common = sharp[sharp.temperature == "common"].pivot(index="seed", columns="modality", values="median_entropy")
sharper = int((common["audio"] < common["video"]).sum())
display(Markdown(
    f"At a common temperature the audio teacher's median entropy is below the video teacher's in {sharper} of "
    f"{len(common)} seeds (audio {common['audio'].mean():.3f}, video {common['video'].mean():.3f} nats on average): "
    + ("the audio teacher is the sharper one here too, as the paper argues." if sharper == len(common) else
       "the paper's \"audio is sharper\" does not hold in every seed at this profile." if sharper else
       "at this profile the **video** teacher is the sharper one, against the paper's argument.")))

# %% [markdown]
# ## Fig. 3: which visual tokens does refine weigh?
#
# Without refine the teacher mean-pools its tokens, so each token counts by its norm; refine re-weights them by
# the cross-modal attention of Eq. 4 (the video teacher's cls attention scaled per head by the audio teacher's
# attention mass, Eqs. 5–6). The paper shows heat maps "without" and "with" refinement on Kinetics clips. SynthAV
# knows which object sounds, so the book also counts how often each weighting's top token lies on the sounding
# object (a pointing game; chance is the share of tokens that touch it).

# %%
sal = figs.refine_saliency(models[0], batch)
fig = figs.fig3_figure(batch, sal)
rec.figure(fig, "fig3", seeds=seeds[:1],
           caption="Fig. 3 — the video teacher's token weights without refine (token norm: mean pooling) and with "
                   "refine (Eqs. 4–6), on the first validation clips (two temporal slots each; each panel's colours "
                   "span its own range, bright = most weight); cyan: the sounding object")
plt.show()

# %%
point = figs.saliency_table(models, batch, seeds)
rec.table(point, "fig3_pointing", seeds=seeds,
          caption=f"Pointing game on {n_clips} validation clips: % of clips whose most-weighted video token touches "
                  "the sounding object, without and with refine, and chance")
display(format_table(point, {"without_refine": "{:.1f}", "with_refine": "{:.1f}", "chance": "{:.1f}"},
                     caption="Refine's pointing game per seed"))
better = int((point.with_refine > point.without_refine).sum())
display(Markdown(
    f"Refine's top token lies on the sounding object in {point.with_refine.mean():.1f} % of clips against "
    f"{point.without_refine.mean():.1f} % without (chance {point.chance.mean():.1f} %); refine points better in "
    f"{better} of {len(point)} seeds. A descriptive check, not a claim of the paper's tables."))

# %% [markdown]
# ## Fig. S2: every loss term of the default run
#
# The paper's Fig. S2 shows stable curves of every term in the default set-up. Held-out values every tenth of the
# run on 256 validation clips under fixed masks, mean ± sd over seeds.

# %%
fig = ch.loss_terms_figure(runs)
rec.figure(fig, "figS2", seeds=P.seed_list,
           caption="Fig. S2 — held-out loss terms of the default XKD during pre-training (mean ± sd over seeds)")
plt.show()

# %% [markdown]
# ## Figs. S3 and S4: mask ratios and pre-training length
#
# Fig. S3: the paper's 3 × 3 grid of video (0.80, 0.85, 0.90) × audio (0.75, 0.80, 0.85) mask ratios, one arm per
# cell (the default 0.85 / 0.80 is XKD itself). Fig. S4: the student and the teacher after a third, two thirds and
# all of the pre-training steps (separate runs with their own schedules: the study layer keeps only a run's final
# checkpoint). Both are arms of the `gpu` profile; at `cpu` the chapter's budget does not train them.

# %%
frame = ch.evaluate(runs)                      # cached evaluations of the first page
for fig_id, fig, what in (("figS3", ch.mask_grid_figure(frame, runs),
                           "Fig. S3 — linear-probe accuracy (%) over the video × audio mask-ratio grid, mean over seeds"),
                          ("figS4", ch.length_figure(frame, runs),
                           "Fig. S4 — linear-probe accuracy (%) of the student and the teacher against the pre-training "
                           "steps, mean ± sd over seeds")):
    if fig is None:
        display(Markdown(f"**{fig_id.replace('fig', 'Fig. ')}**: not run at the `{profile}` profile (its arms are the "
                         "`gpu` profile's)."))
        continue
    rec.figure(fig, fig_id, seeds=P.seed_list, caption=what)
    plt.show()
