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
arms = baselines.arms(study, "audiomae")
for arm in arms:
    print(arm.name, {k: v for k, v in arm.config.to_dict().items() if k not in ("vit", "audio", "video")})

# %% [markdown]
# ## Pre-training
#
# One run per seed of the profile: weights from the seed, masks from the method's generator seeded with it,
# batches deterministic in the step; every `eval_every` steps the masked-reconstruction loss on held-out
# inputs under fixed masks. Checkpoints are cached by content key and handed to later chapters.

# %%
results = baselines.pretrain(study, "audiomae")
result = results["audiomae"]
print({a: round(sum(r.train_s for r in res.runs), 1) for a, res in results.items()}, "s of training")

# %% [markdown]
# ## Held-out reconstruction loss

# %%
fig = baselines.curves_figure(result)
rec.figure(fig, "audiomae_curves", seeds=result.seeds,
           caption="AudioMAE: masked-patch MSE on held-out inputs under fixed masks, and the smoothed training "
                   "loss; mean ± std over seeds; dashed: the trivial prediction")
print(baselines.describe_curves(result))
for other in list(results.values())[1:]:
    print(other.label + ":")
    print(baselines.describe_curves(other))

# %% [markdown]
# ## Reconstructions

# %%
for suffix, fig in baselines.reconstruction_figures(result).items():
    rec.figure(fig, f"audiomae_recon{suffix}", seeds=result.seeds[:1],
               caption="AudioMAE reconstructions of held-out fbank under a fixed random mask")

# %% [markdown]
# ## Does pre-training beat random init?
#
# Frozen encoder, layout readout over the fbank's (time, frequency) grid; SynthAV's `sound` task is the material's timbre.
# Each arm is compared with the same network at random init (same seed: a paired test), with the test
# set's own standard error of the difference as a floor; an arm *passes* when the one-sided paired test
# at α = 0.1 says pre-training wins. MDE is the smallest gain these seeds and this test set would detect
# with 80 % power.

# %%
frame, table = baselines.evaluate(study, results, "audiomae", protocols=("probe", "knn"),
                                  finetune_tasks=())
rec.table(table, "audiomae_probe", seeds=result.seeds,
          caption="AudioMAE: test accuracy (%) of pre-trained vs random-init encoders, mean ± sd over seeds, "
                  "paired gain with its 80 % interval, minimum detectable effect and the learning gate")
format_gate(table)

# %%
display(Markdown(baselines.describe_gate(table)))
