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
arms = baselines.arms(study, "cav_mae")
for arm in arms:
    print(arm.name, {k: v for k, v in arm.config.to_dict().items() if k not in ("vit", "audio", "video")})

# %% [markdown]
# ## Pre-training
#
# One run per seed of the profile: weights from the seed, masks from the method's generator seeded with it,
# batches deterministic in the step; every `eval_every` steps the masked-reconstruction loss on held-out
# inputs under fixed masks. Checkpoints are cached by content key and handed to later chapters.

# %%
results = baselines.pretrain(study, "cav_mae")
result = results["cav_mae"]
print({a: round(sum(r.train_s for r in res.runs), 1) for a, res in results.items()}, "s of training")

# %% [markdown]
# ## Held-out reconstruction loss

# %%
fig = baselines.curves_figure(result)
rec.figure(fig, "cav_mae_curves", seeds=result.seeds,
           caption="CAV-MAE: masked-patch MSE on held-out inputs under fixed masks, and the smoothed training "
                   "loss; mean ± std over seeds; dashed: the trivial prediction")
print(baselines.describe_curves(result))
for other in list(results.values())[1:]:
    print(other.label + ":")
    print(baselines.describe_curves(other))

# %% [markdown]
# ## Reconstructions

# %%
for suffix, fig in baselines.reconstruction_figures(result).items():
    rec.figure(fig, f"cav_mae_recon{suffix}", seeds=result.seeds[:1],
               caption="CAV-MAE reconstructions of held-out inputs under fixed masks")

# %% [markdown]
# ## Does pre-training beat random init?
#
# Frozen joint representation (audio and video tokens through the shared block), layout readout of each modality side by side. `av_event` asks which shape is sounding: it needs both modalities.
# Each arm is compared with the same network at random init (same seed: a paired test), with the test
# set's own standard error of the difference as a floor; an arm *passes* when the one-sided paired test
# at α = 0.1 says pre-training wins. MDE is the smallest gain these seeds and this test set would detect
# with 80 % power.

# %%
frame, table = baselines.evaluate(study, results, "cav_mae", protocols=("probe", "knn"),
                                  finetune_tasks=())
rec.table(table, "cav_mae_probe", seeds=result.seeds,
          caption="CAV-MAE: test accuracy (%) of pre-trained vs random-init encoders, mean ± sd over seeds, "
                  "paired gain with its 80 % interval, minimum detectable effect and the learning gate")
format_gate(table)

# %%
display(Markdown(baselines.describe_gate(table)))
