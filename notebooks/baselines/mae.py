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
from maskedav import viz
from maskedav.methods import recipes
from maskedav.profiles import get_profile
from maskedav.results import Recorder

P = get_profile(profile)
rec = Recorder("baselines", profile=profile, results_dir=results_dir, parameters=dict(profile=profile))
viz.set_style()

# %% [markdown]
# ## Configuration

# %%
config = recipes.build_config("mae", P)
print(config.vit)
print({k: v for k, v in config.to_dict().items() if k != "vit"})

# %% [markdown]
# ## Pre-training and probes
#
# One run per seed; the held-out curve is measured on frames that pre-training never sees, under fixed masks.

# %%
result = recipes.run_baseline("mae", P, profile_name=profile, config=config)
print({k: round(v, 1) for k, v in result.timing.items()})

# %% [markdown]
# ## Held-out reconstruction loss

# %%
fig = recipes.curves_figure(result)
rec.figure(fig, "mae_curves", seeds=result.seeds,
           caption="MAE: masked-patch MSE (per-patch norm-pix target) on held-out frames under fixed "
                   "masks, and the smoothed training loss; mean ± std over seeds")
print(recipes.describe_curves(result))

# %% [markdown]
# ## Reconstructions
#
# The prediction is de-normalised with each hidden patch's *true* mean and std (VideoMAE's
# visualisation), so even the trivial prediction 0 shows the right mean colour per patch: judge the model by
# its MSE against the trivial level printed under the curves, not by the picture alone.

# %%
for suffix, fig in recipes.reconstruction_figures(result).items():
    rec.figure(fig, f"mae_recon{suffix}", seeds=result.seeds[:1],
               caption="MAE reconstructions of held-out frames under a fixed 75 % random mask")

# %% [markdown]
# ## Linear probes on every SynthAV task
#
# An image model sees the *set* of frames of a clip, not their order: the `motion` task's time-reversal
# pairs are out of its reach, and the audio tasks are out of reach of any video-only model.

# %%
table = recipes.probe_table(result)
rec.table(table, "mae_probe", seeds=result.seeds,
          caption="MAE (frame by frame) linear-probe test accuracy (%) on SynthAV tasks: pre-trained vs "
                  "random init, mean ± std over seeds; chance = majority class")
table.round(1)

# %%
print(recipes.describe_probes(result))
