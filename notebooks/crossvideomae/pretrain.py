# ---
# jupyter:
#   maskedav:
#     needs:
#     - baselines/mae
#     - baselines/videomae
#     - baselines/gate
#     order: 10
#     title: 'CrossVideoMAE 1: the runs and the learning gate'
# ---

# %% [markdown]
# # CrossVideoMAE 1 — the runs and the learning gate
#
# CrossVideoMAE (Ahamed, Gunawardhana et al., arXiv 2502.07811) adds contrastive objectives to a video masked
# autoencoder. A **video branch** (a VideoMAE-style ViT, 95 % random masking) runs on the clip and on an
# augmented copy with shared weights; an **image branch** (an MAE ViT initialised from an image MAE, 90 %
# masking) runs on one frame sampled from the clip. The visible tokens' projected features are pooled per
# video (video level) and per time slice of the sampled frame (frame level). An **intra-modal** NT-Xent loss
# pulls the two views together and a **cross-modal** one pulls the video towards its frame, at both levels;
# pixel reconstruction of both views and an MSE between their predictions complete the objective
# (L = λ_c (L_intra + L_cross) + L_rl + L_mse). Only the video encoder is kept downstream.
#
# The paper does not train from scratch: it adapts public MAE and SpatioTemporalMAE checkpoints with this
# objective. This book does the same at its scale: every arm **continues the baselines chapter's MAE and
# VideoMAE** of its seed. The spec's **control** is plain VideoMAE continued from the same checkpoint for the
# same number of steps; without it a gain could be the extra steps, not the objective.
#
# This page trains every arm and shows the **learning gate**. The tables and claims are on the next page, the
# figures on the third. The model is `maskedav.methods.crossvideomae`; arms, evaluation and tables are
# `maskedav.chapters.crossvideomae`; training, evaluation, the gate and the claims rule are the study layer's.
#
# **What stands in for the paper's data.** SynthAV's `motion` task (the direction of the actor's movement: a
# single frame cannot tell it) is the SSv2 analogue and `appearance` (the actor's shape) the K400 analogue;
# the IN-1K column of Tables 2, 5, S10 and S13 is the image encoder read on every frame for `appearance`. The
# paper fine-tunes; the linear probe and kNN of the study layer are the cheaper, less noisy protocols the spec
# suggests at small scale (§10.3), and Table 1 adds the layer's few-label fine-tune.

# %% tags=["parameters"]
profile = "cpu"
results_dir = None

# %%
import matplotlib.pyplot as plt
from IPython.display import Markdown, display

from maskedav import viz
from maskedav.chapters import crossvideomae as ch
from maskedav.study import describe_gate, format_gate, format_table, gate_table, session
from maskedav.study.chapter import format_plan

P, study, rec = session(ch.PAPER, ch.CHAPTER, profile, results_dir)
viz.set_style()

# %% [markdown]
# ## The arms and the budget
#
# Every CrossVideoMAE arm is the paper's default with one switch of `CrossVideoMAEConfig` changed. All arms of a
# seed start from the same two checkpoints and see the same clips in the same order, so every comparison is
# paired by seed. The **core** arms (the claims of Tables 2, 5, 6 and S13) train on every seed; at `cpu` the
# others train on one seed and only describe.

# %%
display(Markdown(ch.budget_prose(P)))
format_plan(ch.plan_table(P))

# %% [markdown]
# **The token budget.** At this profile's clip size the video branch has few tokens, so the paper's 95 % leaves
# very few visible, and the sampled frame's time slice often holds none of them: the frame-level embedding then
# falls back to the nearest slice with visible tokens (spec §4.1). The image branch at 90 % sees one or two
# patches. This is the regime the paper's ratios give here; Table 5 varies them.
#
# **Why not the spec's 64² frames at `cpu`.** The spec (§10.2) prefers 64² clips. This chapter continues the
# baselines' checkpoints, which are trained at the profile's 32² geometry (the regime in which the baselines
# pass the learning gate); at 64² both checkpoints, their gate and their ceilings would have to be trained
# again at four times the tokens per clip, several times the whole chapter's budget on two cores. So the
# `cpu` rows test the paper's ratios in a harsher regime than the paper's (ViT-B at 224², 1,568 tokens, 78
# visible at 95 %), and Table 5's comparison of ratios should be read with that in mind; the `gpu` profile
# runs the chapter at the spec's geometry. The visible tokens, computed from the two profiles' configs:

# %%
display(Markdown(ch.geometry_note(P)))
tokens = ch.token_budget(P)
format_table(tokens, {"p_slice_empty": "{:.3f}", "time_slices": "{:.0f}"},
             caption="Visible tokens per view and the chance that the sampled frame's time slice has none")

# %% [markdown]
# ## Pre-training
#
# First the start checkpoints (the baselines chapter's MAE and VideoMAE, read from its cache), then every
# (arm, seed) on the executor's workers, or from the checkpoint cache when its content key (config, steps,
# data, seed, the start checkpoints' keys) is unchanged. Every loss term is evaluated on 256 validation clips
# under fixed masks every tenth of the run.

# %%
runs = ch.pretrain(study)

# %% [markdown]
# Every encoder is then evaluated (or read from the evaluation cache): the video encoder on both tasks, the
# image encoder of the arms that vary it on `appearance`.

# %%
frame = ch.evaluate(runs)

# %% [markdown]
# ## The learning gate
#
# Per task and protocol: chance, the supervised ceiling (the baselines chapter's), and each arm against the
# **same encoder at random init** (the baselines' random-init rows of VideoMAE, or of MAE for the image encoder,
# of the same seed), paired by seed with the test set's standard error as a floor. `start` is the baselines'
# VideoMAE before any continuation. An arm **passes** when the one-sided paired test at α = 0.1 says
# pre-training wins; a claim whose arm fails on its task and protocol is *untestable at this profile*. Arms on a
# single seed cannot pass (the rule needs three seeds): their rows describe.

# %%
chance = {t: study.chance(t) for t in ch.TASKS}
gate = gate_table(frame, ch.ceilings(P), chance)
rec.table(gate, "learning_gate", seeds=P.seed_list,
          caption="CrossVideoMAE chapter, learning gate: test accuracy (%) of each arm's video encoder (image encoder: "
                  "[image encoder]) pre-trained (the baselines' checkpoint + this chapter's continuation) vs the same "
                  "encoder at random init (mean ± sd over seeds), the paired gain with its 80 % interval, the test set's "
                  "standard error, the minimum detectable effect, chance and the supervised ceiling")
format_gate(gate[gate.seeds >= 3], caption="The learning gate of the arms trained on every seed")

# %%
motion = gate[(gate.task == ch.CLAIM_TASK) & (gate.protocol == ch.CLAIM_PROTOCOL) & (gate.seeds >= 3)]
display(Markdown(describe_gate(motion) if len(motion) else
                 f"_No arm has three seeds at the {profile} profile: the gate cannot pass any arm here._"))

# %% [markdown]
# The arms trained on fewer seeds, for description only:

# %%
format_gate(gate[(gate.seeds < 3) & (gate.task == ch.CLAIM_TASK) & (gate.protocol == ch.CLAIM_PROTOCOL)],
            caption="Arms on fewer than three seeds, motion task, linear probe")

# %% [markdown]
# ## The loss terms during training
#
# Held-out values of each term of the full model and two removals (mean ± sd over seeds). The contrastive terms
# are logged even when their weight is 0, so the removals show what the term would have been. Intra-modal
# accuracy: is a clip's augmented view its most similar among the batch's (chance: one over the batch size)?

# %%
keys = (("loss_intra", "held-out L_intra"), ("loss_cross", "held-out L_cross"), ("loss_recon", "held-out L_rl"),
        ("loss_mse", "held-out L_mse"), ("intra_acc", "held-out intra-modal accuracy"))
shown = {"cvm": "CrossVideoMAE", "no_intra": "w/o intra-modal", "no_cross": "w/o cross-modal",
         "no_contrast": "w/o intra + cross", "unrelated": "unrelated images"}
fig, axes = viz.panel_grid(len(keys), panel=(2.7, 2.4))
for name in shown:
    for ax, (key, title) in zip(axes, keys):
        s, m, sd = ch.curve(runs, name, key)
        if len(s):
            ax.plot(s, m, label=shown[name])
            ax.fill_between(s, m - sd, m + sd, alpha=0.2)
        ax.set_title(title)
        ax.set_xlabel("step")
fig.tight_layout()
viz.legend_below(fig, ncol=3)
rec.figure(fig, "loss_curves", seeds=P.seed_list,
           caption="Held-out loss terms of CrossVideoMAE and its removals during the continued pre-training "
                   "(mean ± sd over the arm's seeds)")
plt.show()


# %%
def last(name, key):
    s, m, _ = ch.curve(runs, name, key)
    return m[-1] if len(m) else float("nan")


empty = last("cvm", "frame_slice_empty")
display(Markdown(
    f"Final held-out intra-modal accuracy of CrossVideoMAE: {last('cvm', 'intra_acc'):.3f} (chance "
    f"1/{P.train.batch_size} = {1 / P.train.batch_size:.3f}); without the intra-modal term it is "
    f"{last('no_intra', 'intra_acc'):.3f}. In {empty:.0%} of the held-out clips the sampled frame's time slice had no "
    "visible token and the frame-level embedding used the nearest slice."))

# %% [markdown]
# ## What the runs cost
#
# Measured pre-training time per arm (a run read from the cache reports the time it took when trained).

# %%
format_table(ch.timing_table(runs), {"s_per_run": "{:.0f}", "s_per_step": "{:.3f}", "total_s": "{:,.0f}"},
             caption="Measured pre-training time")
