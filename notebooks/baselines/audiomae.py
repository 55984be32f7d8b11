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

from maskedav.chapters.baselines import Page

page = Page("audiomae", profile, results_dir)
page.config()

# %% [markdown]
# ## Pre-training
#
# One run per seed; how the runs, the held-out curve and the raw-pixel target are set up: the
# {doc}`gate` page of this part.

# %%
print(page.pretrain(), "s of training per arm")

# %%
print(page.curves("AudioMAE: masked-patch MSE on held-out inputs under fixed masks, and the smoothed training "
                  "loss; mean ± std over seeds; dashed: the trivial prediction"))

# %%
page.reconstructions("AudioMAE reconstructions of held-out fbank under a fixed random mask")

# %% [markdown]
# ## Does pre-training beat random init?
#
# The layout readout pools the fbank's (time, frequency) grid; SynthAV's `sound` task is the material's timbre. Protocols and the gate's rule: the {doc}`gate` page.

# %%
table, sentences = page.gate("AudioMAE: test accuracy (%) of pre-trained vs random-init encoders, mean ± sd over "
                             "seeds, paired gain with its 80 % interval, minimum detectable effect and the "
                             "learning gate")
display(table, Markdown(sentences))
