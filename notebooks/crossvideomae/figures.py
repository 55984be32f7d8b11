# ---
# jupyter:
#   maskedav:
#     needs:
#     - crossvideomae/pretrain
#     order: 30
#     title: 'CrossVideoMAE 3: Figs. 1-2 and the supplementary figures from the trained
#       model'
# ---

# %% [markdown]
# # CrossVideoMAE 3 — Figs. 1–2 and the supplementary figures from the trained model
#
# Every figure is computed from the model as implemented and trained at this profile (CrossVideoMAE at the
# paper's defaults, the first seed), on held-out SynthAV clips:
#
# * **Fig. 1** — six rows per clip: frames, the clip under a 95 % random mask, the reconstruction (visible
#   patches pasted back), self-attention, self-attention over the reconstruction, and semantic attention;
# * **Supp Figs. 1–18** — the same panel over several clips of both task families (one clip per motion class,
#   one per shape class);
# * **Supp Fig. 19** — the image branch's reconstructions of frames at 90 % masking;
# * **Fig. 2** — the framework, drawn from a traced training forward pass of the implemented model.
#
# The paper does not say which layer, head or token its maps show. The recipe here (spec §7, our choices):
# row 4 is the video encoder on the **unmasked** clip, the last block's attention averaged over heads, each token
# scored by the mean attention it receives (the encoder has no cls token); row 6 is option A, the cosine
# similarity between the image branch's embedding of the clip's middle frame and every video token's projected
# feature — the similarity the cross-modal loss trains. Both are upsampled bilinearly, repeated over the two
# frames of a tubelet and min-max normalised over the clip.

# %% tags=["parameters"]
profile = "cpu"
results_dir = None

# %%
import matplotlib.pyplot as plt
from IPython.display import Markdown, display

from maskedav import viz
from maskedav.chapters import crossvideomae as ch
from maskedav.chapters import crossvideomae_figures as figs
from maskedav.study import session

P, study, rec = session(ch.PAPER, ch.CHAPTER, profile, results_dir)
viz.set_style()
runs = ch.pretrain(study)                      # cached runs of the first page
model = runs.model("cvm")
test = study.split("test")
batch = {"video": test["video"][:256]}

# %% [markdown]
# ## Fig. 1: six rows for one clip

# %%
fig1 = figs.fig1_figure(model, batch, index=0)
rec.figure(fig1, "fig1", seeds=P.seed_list[:1],
           caption="Fig. 1 from the trained CrossVideoMAE (first seed) on a held-out clip: frames; the clip under a "
                   "random mask at the video branch's ratio; the reconstruction with visible patches pasted back; "
                   "self-attention (last block, mean over heads, attention received; unmasked clip); its overlay on the "
                   "reconstruction; semantic attention (cosine of the middle frame's image embedding with each video "
                   "token's projection)")
plt.show()

# %% [markdown]
# ## Supp Figs. 1–18: a gallery over both task families
#
# The paper's supplementary shows such panels for K400 (Supp Figs. 1–11) and SSv2 (Supp Figs. 12–18) clips. Here:
# one clip of each of the first four `motion` classes (SSv2-like) and of the first four `appearance` classes
# (K400-like), each panel with the first frame of every tubelet as its columns (spec §7, row 1).

# %%
idx_m = figs.pick_clips(test["labels"], "motion", 4)
idx_a = figs.pick_clips(test["labels"], "appearance", 4, exclude=idx_m)
gal = figs.gallery_figure(model, batch, idx_m + idx_a,
                          [f"motion {int(test['labels']['motion'][i])}" for i in idx_m]
                          + [f"shape {int(test['labels']['appearance'][i])}" for i in idx_a])
rec.figure(gal, "figS1-18", seeds=P.seed_list[:1],
           caption="Supp Figs. 1-18: Fig. 1 panels (rows as Fig. 1) of held-out clips, one per motion class "
                   "(SSv2-like) and one per shape class (K400-like), video masking at the paper's 95 %")
plt.show()

# %% [markdown]
# ## Supp Fig. 19: the image branch's reconstructions at 90 %
#
# The paper trains no image decoder (Supp Table 1), yet shows image reconstructions. Here the image encoder as
# CrossVideoMAE left it, followed by the decoder of the MAE it started from (loaded, never trained by this
# objective), on middle frames of held-out clips.

# %%
frames = test["video"][:8, :, test["video"].shape[2] // 2]
fig19 = figs.image_reconstruction_figure(model, frames, count=8)
rec.figure(fig19, "figS19", seeds=P.seed_list[:1],
           caption="Supp Fig. 19: image-branch reconstructions of held-out frames at 90 % masking (original, masked, "
                   "prediction with the visible patches pasted back) — the trained image encoder with the start MAE's "
                   "decoder")
plt.show()

# %% [markdown]
# ## Fig. 2: the framework, drawn from the implemented model
#
# A training forward pass of the trained model on eight held-out clips, traced module by module: the video branch
# runs once on both views stacked (shared weights), the image branch on the sampled frame, `g_f` and `g_u`
# project the visible tokens for the contrastive terms, the decoder and `e_u` predict pixels for L_rl and L_mse.
# The loss terms' values on this batch follow the figure.

# %%
model.train()
fig2, trace, losses = figs.fig2_figure(model, {"video": test["video"][:8]})
model.eval()
rec.figure(fig2, "fig2", seeds=P.seed_list[:1],
           caption="Fig. 2 drawn from the implemented CrossVideoMAE: modules of a traced training forward pass in call "
                   "order with output shapes and parameter counts, grouped video branch / image branch / projections / "
                   "decoder")
plt.show()
display(Markdown("Loss terms on this batch: " + ", ".join(f"{k} = {v:.4f}" for k, v in losses.items()) + "."))
