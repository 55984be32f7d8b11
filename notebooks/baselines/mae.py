# ---
# jupyter:
#   maskedav:
#     needs: []
#     order: 10
#     title: MAE on SynthAV frames
# ---

# %% [markdown]
# # MAE on SynthAV frames
#
# MAE (He et al., CVPR 2022) hides 75 % of an image's patches and reconstructs their pixels from the
# visible quarter. In this book it is the **image teacher** of MVD and the image branch of CrossVideoMAE,
# so it is pre-trained here on single frames: SynthAV's `frames` image set (one frame of clips from their
# own seed stream, with the actor visible), as many images as the profile has pre-training clips.
#
# The implementation, `maskedav.methods.mae`, follows `models_mae.py` (reference notes §1.3):
# per-sample random masking by argsort of noise keeping `int(N·(1−r))` tokens; a cls token and fixed 2-D
# sin-cos positions; the decoder un-shuffles with the mask's own `ids_restore` and predicts **every**
# patch; the loss is the per-patch MSE averaged over the **masked** patches only, against the patch
# normalised jointly over its `p·p·3` values (`norm_pix_loss`).
#
# The probes encode each frame of a clip as an image and average the patch tokens over space and time.

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
arms = baselines.arms(study, "mae")
for arm in arms:
    print(arm.name, {k: v for k, v in arm.config.to_dict().items() if k not in ("vit", "audio", "video")})

# %% [markdown]
# ## Pre-training
#
# One run per seed of the profile: weights from the seed, masks from the method's generator seeded with it,
# batches deterministic in the step; every `eval_every` steps the masked-reconstruction loss on held-out
# inputs under fixed masks. Checkpoints are cached by content key and handed to later chapters.

# %%
results = baselines.pretrain(study, "mae")
result = results["mae"]
print({a: round(sum(r.train_s for r in res.runs), 1) for a, res in results.items()}, "s of training")

# %% [markdown]
# ## Held-out reconstruction loss

# %%
fig = baselines.curves_figure(result)
rec.figure(fig, "mae_curves", seeds=result.seeds,
           caption="MAE: masked-patch MSE on held-out inputs under fixed masks, and the smoothed training "
                   "loss; mean ± std over seeds; dashed: the trivial prediction")
print(baselines.describe_curves(result))
for other in list(results.values())[1:]:
    print(other.label + ":")
    print(baselines.describe_curves(other))

# %% [markdown]
# ## Reconstructions

# %%
for suffix, fig in baselines.reconstruction_figures(result).items():
    rec.figure(fig, f"mae_recon{suffix}", seeds=result.seeds[:1],
               caption="MAE reconstructions of held-out frames under a fixed 75 % random mask")

# %% [markdown]
# ## Does pre-training beat random init?
#
# An image model sees each frame alone (the readout keeps the frames' order, so `motion` is within its reach only through what each frame shows); the audio tasks are out of reach of any video-only model.
# Each arm is compared with the same network at random init (same seed: a paired test), with the test
# set's own standard error of the difference as a floor; an arm *passes* when the one-sided paired test
# at α = 0.1 says pre-training wins. MDE is the smallest gain these seeds and this test set would detect
# with 80 % power.

# %%
frame, table = baselines.evaluate(study, results, "mae", protocols=("probe", "knn"),
                                  finetune_tasks=())
rec.table(table, "mae_probe", seeds=result.seeds,
          caption="MAE: test accuracy (%) of pre-trained vs random-init encoders, mean ± sd over seeds, "
                  "paired gain with its 80 % interval, minimum detectable effect and the learning gate")
format_gate(table)

# %%
display(Markdown(baselines.describe_gate(table)))
