# ---
# jupyter:
#   maskedav:
#     needs: []
#     order: 40
#     title: CAV-MAE on SynthAV
# ---

# %% [markdown]
# # CAV-MAE on SynthAV
#
# CAV-MAE (Gong et al., ICLR 2023) joins masked autoencoding and contrastive learning of audio and video:
# both modalities are masked (75 % each), encoded by modality-specific Transformers, fused by a shared
# block and reconstructed by one decoder, while an InfoNCE term pulls each clip's audio and video
# representations together. It is the starting point of KDC-MAE.
#
# The implementation, `maskedav.methods.cav_mae`, follows `src/models/cav_mae.py` (reference notes §1.6):
#
# * audio: fbank transposed to a `[freq, time]` patch grid; video: **one frame** (a random frame of the clip
#   in training, the middle frame in evaluation), ImageNet-normalised; learned modality embeddings;
# * `depth − 1` modality-specific blocks per stream and **one shared block** run three times with separate
#   LayerNorms: (i) audio + video tokens together → decoder, (ii) audio alone, (iii) video alone;
# * shared decoder with per-modality mask tokens re-inserted through each modality's own restore indices,
#   decoder positions and modality embeddings, and one head per modality;
# * loss (paper Eq. 4) `L = λ_r·(L_r^a + L_r^v) + λ_c·L_c`: per-patch norm-pix MSE on masked patches, and a
#   **single-direction** InfoNCE on the mean-pooled (ii) and (iii) representations with τ = 0.05 and
#   λ_c = 0.01 (the code's `bidirect_contrast=False`).

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
# The fbank statistics are filled in from the pre-training split (CAV-MAE normalises `(x − mean)/std`,
# without AudioMAE's factor 2).

# %%
config = recipes.build_config("cav_mae", P)
print("audio:", config.audio)
print("video:", config.video)
print({k: v for k, v in config.to_dict().items() if k not in ("audio", "video")})

# %% [markdown]
# ## Pre-training and probes

# %%
result = recipes.run_baseline("cav_mae", P, profile_name=profile, config=config)
print({k: round(v, 1) for k, v in result.timing.items()})
print(f"fbank statistics of the pre-training split: mean {result.config.fbank_mean:.3f}, "
      f"std {result.config.fbank_std:.3f}")

# %% [markdown]
# ## Held-out losses
#
# Each term on the validation clips under fixed masks (middle frame), and the smoothed training terms.

# %%
fig = recipes.curves_figure(result)
rec.figure(fig, "cav_mae_curves", seeds=result.seeds,
           caption="CAV-MAE: audio and frame masked-patch MSE and the contrastive InfoNCE on held-out clips "
                   "under fixed masks, and the smoothed training terms; mean ± std over seeds")
print(recipes.describe_curves(result))

# %% [markdown]
# ## Reconstructions of both modalities
#
# The prediction is de-normalised with each hidden patch's *true* mean and std (VideoMAE's
# visualisation), so even the trivial prediction 0 shows the right mean colour per patch: judge the model by
# its MSE against the trivial level printed under the curves, not by the picture alone.

# %%
for suffix, fig in recipes.reconstruction_figures(result).items():
    rec.figure(fig, f"cav_mae_recon{suffix}", seeds=result.seeds[:1],
               caption=f"CAV-MAE reconstructions of held-out {'frames' if 'frames' in suffix else 'fbank'} "
                       "under fixed 75 % random masks")

# %% [markdown]
# ## Linear probes on every SynthAV task
#
# Three representations: (ii) audio, (iii) the middle frame, and the joint pass (i) over both. In SynthAV
# the `av_event` label (the shape of the sounding object) needs both: the audio says which object sounds,
# the frame shows its shape.

# %%
table = recipes.probe_table(result)
rec.table(table, "cav_mae_probe", seeds=result.seeds,
          caption="CAV-MAE linear-probe test accuracy (%) of the audio (ii), frame (iii) and joint (i) "
                  "representations on SynthAV tasks: pre-trained vs random init, mean ± std over seeds; "
                  "chance = majority class")
table.round(1)

# %%
print(recipes.describe_probes(result))
