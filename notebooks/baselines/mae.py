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

from maskedav.chapters.baselines import Page

page = Page("mae", profile, results_dir)
page.config()

# %% [markdown]
# ## Pre-training
#
# One run per seed; how the runs, the held-out curve and the raw-pixel target are set up: the
# {doc}`gate` page of this part.

# %%
print(page.pretrain(), "s of training per arm")

# %%
print(page.curves("MAE: masked-patch MSE on held-out inputs under fixed masks, and the smoothed training "
                  "loss; mean ± std over seeds; dashed: the trivial prediction"))

# %%
page.reconstructions("MAE reconstructions of held-out frames under a fixed 75 % random mask")

# %% [markdown]
# ## Does pre-training beat random init?
#
# An image model sees each frame alone; the layout readout keeps the frames' order, so `motion` is within reach only through what the frames show in turn. The audio tasks are out of reach of any video-only model. Protocols and the gate's rule: the {doc}`gate` page.

# %%
table, sentences = page.gate("MAE: test accuracy (%) of pre-trained vs random-init encoders, mean ± sd over "
                             "seeds, paired gain with its 80 % interval, minimum detectable effect and the "
                             "learning gate")
display(table, Markdown(sentences))
