# ---
# jupyter:
#   maskedav:
#     needs: []
#     order: 30
#     title: AudioMAE on SynthAV
# ---

# %% [markdown]
# # AudioMAE on SynthAV
#
# AudioMAE (Huang et al., NeurIPS 2022) is MAE on the log-mel filterbank: 80 % of the spectrogram's
# patches are hidden (unstructured random masking in pre-training) and their values reconstructed.
#
# The implementation, `maskedav.methods.audiomae`, follows the released code (reference notes §1.5):
# Kaldi fbank (`maskedav.data.audio.fbank`, 10 ms hop, the profile's mel bins), normalised
# `(x − mean)/(2·std)` with the **pre-training split's** statistics (AudioMAE uses its datasets'), square
# patches in `(time, freq)` token order, fixed 2-D sin-cos positions, a cls token, per-patch norm-pix MSE
# on the masked patches.
#
# **Deviation:** AudioMAE's default decoder uses Swin-style *local* attention (`decoder_mode=1`). Only the
# global-attention decoder (`decoder_mode=0`, also in AudioMAE's code) is implemented here.

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
#
# The fbank statistics (`fbank_mean`, `fbank_std`) are filled in from the pre-training split by the recipe.

# %%
config = recipes.build_config("audiomae", P)
print(config.vit)
print({k: v for k, v in config.to_dict().items() if k != "vit"})

# %% [markdown]
# ## Pre-training and probes

# %%
result = recipes.run_baseline("audiomae", P, profile_name=profile, config=config)
print({k: round(v, 1) for k, v in result.timing.items()})
print(f"fbank statistics of the pre-training split: mean {result.config.fbank_mean:.3f}, "
      f"std {result.config.fbank_std:.3f}")

# %% [markdown]
# ## Held-out reconstruction loss

# %%
fig = recipes.curves_figure(result)
rec.figure(fig, "audiomae_curves", seeds=result.seeds,
           caption="AudioMAE: masked-patch MSE (per-patch norm-pix target) on held-out clips' fbank under "
                   "fixed masks, and the smoothed training loss; mean ± std over seeds")
print(recipes.describe_curves(result))

# %% [markdown]
# ## Reconstructions
#
# Spectrograms of held-out clips (time to the right, frequency up), the visible 20 % of patches, and the
# visible patches with the predicted ones pasted in, in fbank units (one colour scale per figure).
# The prediction is de-normalised with each hidden patch's *true* mean and std (VideoMAE's
# visualisation), so even the trivial prediction 0 shows the right mean colour per patch: judge the model by
# its MSE against the trivial level printed under the curves, not by the picture alone.

# %%
for suffix, fig in recipes.reconstruction_figures(result).items():
    rec.figure(fig, f"audiomae_recon{suffix}", seeds=result.seeds[:1],
               caption="AudioMAE reconstructions of held-out fbank under a fixed 80 % random mask")

# %% [markdown]
# ## Linear probes on every SynthAV task
#
# The sound of a SynthAV clip is the sounding object's timbre (its material): the `sound` task is the
# audio model's own. `av_event` (the *shape* of the sounding object) and the visual tasks need the video.

# %%
table = recipes.probe_table(result)
rec.table(table, "audiomae_probe", seeds=result.seeds,
          caption="AudioMAE linear-probe test accuracy (%) on SynthAV tasks: pre-trained vs random init, "
                  "mean ± std over seeds; chance = majority class")
table.round(1)

# %%
print(recipes.describe_probes(result))
