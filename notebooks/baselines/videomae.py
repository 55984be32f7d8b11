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
# The profile's sizes with VideoMAE's recipe; every field of the config is an ablation switch
# (`config.replace(mask_type="random")`, `norm_pix="per_patch"`, `decoder_depth=...`).

# %%
config = recipes.build_config("videomae", P)
print(config.vit)
print({k: v for k, v in config.to_dict().items() if k != "vit"})

# %% [markdown]
# ## Pre-training and probes
#
# One run per seed of the profile: weights from the seed, masks from the method's own generator seeded
# with it, batches of the pre-training split deterministic in the step. Every `eval_every` steps the
# masked-reconstruction loss is measured on the validation clips under fixed masks.

# %%
result = recipes.run_baseline("videomae", P, profile_name=profile, config=config)
print({k: round(v, 1) for k, v in result.timing.items()})

# %% [markdown]
# ## Held-out reconstruction loss

# %%
fig = recipes.curves_figure(result)
rec.figure(fig, "videomae_curves", seeds=result.seeds,
           caption="VideoMAE: masked-tubelet MSE (per-channel norm-pix target) on held-out clips under "
                   "fixed tube masks, and the smoothed training loss; mean ± std over seeds")
print(recipes.describe_curves(result))

# %% [markdown]
# ## Reconstructions
#
# Held-out clips, the visible 10 % of tubelets, and the visible tubelets with the predicted ones pasted in
# (the prediction is de-normalised with each true tubelet's own mean and std, as VideoMAE's
# visualisation script does — so even the trivial prediction 0 shows each hidden tubelet's true mean colour:
# judge the model by its MSE against the trivial level printed under the curves, not by the picture alone).

# %%
for suffix, fig in recipes.reconstruction_figures(result).items():
    rec.figure(fig, f"videomae_recon{suffix}", seeds=result.seeds[:1],
               caption="VideoMAE reconstructions of held-out clips under a fixed tube mask")

# %% [markdown]
# ## Linear probes on every SynthAV task
#
# Frozen encoder, mean over the clip's tokens, logistic regression (weight decay chosen on the validation
# split), test accuracy in percent. *Chance* is the majority class of the test split. SynthAV's `motion`
# task needs the order of frames; `sound` and `av_event` need the audio, which VideoMAE never sees.

# %%
table = recipes.probe_table(result)
rec.table(table, "videomae_probe", seeds=result.seeds,
          caption="VideoMAE linear-probe test accuracy (%) on SynthAV tasks: pre-trained vs random init, "
                  "mean ± std over seeds; chance = majority class")
table.round(1)

# %%
print(recipes.describe_probes(result))
