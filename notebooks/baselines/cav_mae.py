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

from maskedav.chapters.baselines import Page

page = Page("cav_mae", profile, results_dir)
page.config()

# %% [markdown]
# ## Pre-training
#
# One run per seed; how the runs, the held-out curve and the raw-pixel target are set up: the
# {doc}`gate` page of this part.

# %%
print(page.pretrain(), "s of training per arm")

# %%
print(page.curves("CAV-MAE: masked-patch MSE on held-out inputs under fixed masks, and the smoothed training "
                  "loss; mean ± std over seeds; dashed: the trivial prediction"))

# %%
page.reconstructions("CAV-MAE reconstructions of held-out inputs under fixed masks")

# %% [markdown]
# ## Does pre-training beat random init?
#
# The joint representation (audio and video tokens through the shared block), each modality's layout readout side by side. `av_event` asks which shape is sounding: it needs both modalities. Protocols and the gate's rule: the {doc}`gate` page.

# %%
table, sentences = page.gate("CAV-MAE: test accuracy (%) of pre-trained vs random-init encoders, mean ± sd over "
                             "seeds, paired gain with its 80 % interval, minimum detectable effect and the "
                             "learning gate")
display(table, Markdown(sentences))
