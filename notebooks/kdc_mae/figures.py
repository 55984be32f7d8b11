# ---
# jupyter:
#   maskedav:
#     needs:
#     - kdc_mae/pretrain
#     order: 30
#     title: 'KDC-MAE 3: Figs. 1-2 from the implemented model'
# ---

# %% [markdown]
# # KDC-MAE 3 — Figs. 1–2 from the implemented model
#
# The paper's two figures are schematic. Here each is drawn from the model as implemented and trained on this
# profile (KDC-MAE, complementary masks, λ_kd = 10, the first seed), on held-out SynthAV clips:
#
# * **Fig. 1** — the modules a real forward pass calls, in order, with their output shapes and parameter counts;
# * **Fig. 2a** — the complementary masks of the two streams drawn by the real generator for one clip, on its
#   frame and its fbank: no token is visible to both streams, and audio and video masks are unrelated;
# * **Fig. 2b** — the loss flow: each loss term back-propagated alone (times its weight), and the gradient norm
#   that reaches each part of the network. The paper's §2.4 says the contrastive and distillation losses train
#   only the encoders; the decoder column shows whether that holds here;
# * and, not in the paper, the two streams' reconstructions of one clip.

# %% tags=["parameters"]
profile = "cpu"
results_dir = None

# %%
from IPython.display import Markdown, display

from maskedav import viz
from maskedav.chapters import kdc_mae as ch
from maskedav.chapters import kdc_mae_figures as figs
from maskedav.study import format_table, session

P, study, rec = session(ch.PAPER, ch.CHAPTER, profile, results_dir)
viz.set_style()
runs = ch.pretrain(study)                      # cached runs of the first page
model = runs.model("kdc")
val = study.split("val", ("fbank", "video"))
batch = dict(fbank=val["fbank"][:8], video=val["video"][:8])

# %% [markdown]
# ## Fig. 1: two weight-shared masked streams, KL between the joint embeddings, the joint decoder

# %%
fig1, trace = figs.fig1_figure(model, batch)
rec.figure(fig1, "fig1", seeds=P.seed_list[:1],
           caption="KDC-MAE as implemented: the modules of a traced forward pass (two weight-shared streams) in call "
                   "order, with output shapes and parameter counts; colours: audio, video, joint, decoder.")

# %% [markdown]
# ## Fig. 2: (a) complementary masks on a real clip, (b) where each loss sends its gradient

# %%
fig2a = figs.mask_figure(model, batch, index=0)
rec.figure(fig2a, "fig2", seeds=P.seed_list[:1],
           caption="Fig. 2a from the real mask generator on a held-out clip: the frame's and the fbank's tokens "
                   "visible to stream 1, to stream 2, or masked in both; audio and video masks are drawn independently.")

# %%
routing = figs.gradient_routing(model, batch)
fig2b = figs.routing_figure(routing)
rec.figure(fig2b, "fig2b_routing", seeds=P.seed_list[:1],
           caption="Fig. 2b's loss flow measured on the trained model: gradient norm (log10) reaching each part of the "
                   "network when each weighted loss term is back-propagated alone; 0 = no gradient at all.")
rec.table(routing.reset_index(), "fig2b_routing", seeds=P.seed_list[:1],
          caption="Gradient L2 norm per loss term (rows, times its weight) and module group (columns)")
display(format_table(routing.reset_index(), {c: "{:.3g}" for c in routing.columns}, caption="Gradient routing"))

# %%
dec = routing.filter(like="decoder").iloc[:, 0]
display(Markdown(
    "The decoder receives " + ", ".join(f"{v:.3g} from {k}" for k, v in dec.items())
    + ". " + ("As the paper states, only the reconstruction loss trains the decoder."
              if all(v == 0 for k, v in dec.items() if "recon" not in k.lower()) else
              "Some term other than reconstruction reaches the decoder: the paper's statement does not hold here.")))

# %% [markdown]
# ## The two streams' reconstructions (not in the paper)
#
# One held-out clip under the two complementary masks: each stream sees a different quarter of the tokens and
# reconstructs the rest. The models at this profile train on raw values, so the reconstructions are in the
# input's own units.

# %%
masks = model.stream_masks(len(batch["fbank"]))
fig3 = figs.inpainting_figure(model, batch, masks, index=0)
rec.figure(fig3, "stream_reconstructions", seeds=P.seed_list[:1],
           caption="Frame and fbank of one held-out clip: original, what each stream sees, and its reconstruction.")
