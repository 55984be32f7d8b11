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

from maskedav.chapters.baselines import Page

page = Page("videomae", profile, results_dir)
page.config()

# %% [markdown]
# ## Pre-training
#
# One run per seed; how the runs, the held-out curve and the raw-pixel target are set up: the
# {doc}`gate` page of this part.

# %%
print(page.pretrain(), "s of training per arm")

# %%
print(page.curves("VideoMAE: masked-patch MSE on held-out inputs under fixed masks, and the smoothed training "
                  "loss; mean ± std over seeds; dashed: the trivial prediction"))

# %%
page.reconstructions("VideoMAE reconstructions of held-out clips under a fixed tube mask")

# %% [markdown]
# ## Does pre-training beat random init?
#
# Besides the frozen probes, few-label fine-tuning of the whole encoder (the papers report fine-tuning first). The raw-pixel arm is the profile's; the per-channel normalised arm is the paper's target, shown beside it. Protocols and the gate's rule: the {doc}`gate` page.

# %%
table, sentences = page.gate("VideoMAE: test accuracy (%) of pre-trained vs random-init encoders, mean ± sd over "
                             "seeds, paired gain with its 80 % interval, minimum detectable effect and the "
                             "learning gate")
display(table, Markdown(sentences))
