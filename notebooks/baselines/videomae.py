# ---
# jupyter:
#   maskedav:
#     needs: []
#     order: 20
#     title: VideoMAE on SynthAV
# ---

# %% [markdown]
# # VideoMAE on SynthAV
#
# VideoMAE (Tong et al., NeurIPS 2022) masks 90 % of a clip's tubelets with **tube masking** (the same
# spatial mask in every time slice, so a hidden patch cannot be copied from the neighbouring frame) and
# reconstructs the hidden tubelets from the visible 10 %. It is the video teacher of MVD and the
# baseline of every video paper in this book.
#
# The implementation, `maskedav.methods.videomae`, follows the released code where the paper is silent
# (reference notes §1.1):
#
# * tubelets `2 × p × p` (Conv3d), tokens in `(t, h, w)` order, fixed 1-D sinusoid positions, no cls token;
# * tube mask: `int(0.9 · H'W')` positions masked per slice (the code's floor);
# * encoder on the visible tokens only, a bias-free `encoder_to_decoder` projection, a shallow decoder that
#   predicts **only the masked** tubelets;
# * loss (paper Eq. 2): MSE against the target normalised **per colour channel** over the tubelet's pixels,
#   `(x − mean)/(std + 1e-6)` (MAE normalises jointly over the whole patch; `norm_pix="per_patch"` switches).
#
# This notebook pre-trains the profile's small VideoMAE on SynthAV's unlabeled clips for each seed, saves
# the checkpoints for the later chapters (`baselines/videomae`), and evaluates the frozen encoder with
# linear probes on every SynthAV task, beside the same network before pre-training (random init) and chance.

# %% tags=["parameters"]
profile = "cpu"
results_dir = None

# %%
from IPython.display import Markdown, display

from maskedav import viz
from maskedav.chapters import baselines
from maskedav.profiles import get_profile
from maskedav.results import Recorder
from maskedav.study import Study, format_gate

P = get_profile(profile)
study = Study(P, "baselines")
rec = Recorder("baselines", profile=profile, results_dir=results_dir, parameters=dict(profile=profile))
viz.set_style()

# %% [markdown]
# ## Configuration
#
# The profile's sizes with the method's recipe; every config field is an ablation switch. At the small
# profiles the reconstruction target is **raw pixels** (`norm_pix=None`), a documented deviation: with a
# normalised target SynthAV's smooth patches become unpredictable texture and pre-training learns nothing
# measurable (the learning gate below, and the summary page of this part).

# %%
arms = baselines.arms(study, "videomae")
for arm in arms:
    print(arm.name, {k: v for k, v in arm.config.to_dict().items() if k not in ("vit", "audio", "video")})

# %% [markdown]
# ## Pre-training
#
# One run per seed of the profile: weights from the seed, masks from the method's generator seeded with it,
# batches deterministic in the step; every `eval_every` steps the masked-reconstruction loss on held-out
# inputs under fixed masks. Checkpoints are cached by content key and handed to later chapters.

# %%
results = baselines.pretrain(study, "videomae")
result = results["videomae"]
print({a: round(sum(r.train_s for r in res.runs), 1) for a, res in results.items()}, "s of training")

# %% [markdown]
# ## Held-out reconstruction loss

# %%
fig = baselines.curves_figure(result)
rec.figure(fig, "videomae_curves", seeds=result.seeds,
           caption="VideoMAE: masked-patch MSE on held-out inputs under fixed masks, and the smoothed training "
                   "loss; mean ± std over seeds; dashed: the trivial prediction")
print(baselines.describe_curves(result))
for other in list(results.values())[1:]:
    print(other.label + ":")
    print(baselines.describe_curves(other))

# %% [markdown]
# ## Reconstructions

# %%
for suffix, fig in baselines.reconstruction_figures(result).items():
    rec.figure(fig, f"videomae_recon{suffix}", seeds=result.seeds[:1],
               caption="VideoMAE reconstructions of held-out clips under a fixed tube mask")

# %% [markdown]
# ## Does pre-training beat random init?
#
# Frozen encoder, the layout readout (tokens pooled 2 × 2 per time step, in time order), logistic regression and kNN; and few-label fine-tuning of the whole encoder (the papers report fine-tuning first), from the profile's labelled subset. The raw-pixel arm is the profile's; the per-channel normalised arm is the paper's target, shown beside it.
# Each arm is compared with the same network at random init (same seed: a paired test), with the test
# set's own standard error of the difference as a floor; an arm *passes* when the one-sided paired test
# at α = 0.1 says pre-training wins. MDE is the smallest gain these seeds and this test set would detect
# with 80 % power.

# %%
frame, table = baselines.evaluate(study, results, "videomae", protocols=("probe", "knn", "finetune"),
                                  finetune_tasks=("appearance", "motion"))
rec.table(table, "videomae_probe", seeds=result.seeds,
          caption="VideoMAE: test accuracy (%) of pre-trained vs random-init encoders, mean ± sd over seeds, "
                  "paired gain with its 80 % interval, minimum detectable effect and the learning gate")
format_gate(table)

# %%
display(Markdown(baselines.describe_gate(table)))
