# ---
# jupyter:
#   maskedav:
#     needs:
#     - data/tour
#     - baselines/videomae
#     - baselines/gate
#     order: 10
#     title: 'AV-MaskEnhancer: pre-training, the learning gate, reconstruction curves
#       (Fig. 3) and the architecture (Fig. 1)'
# ---

# %% [markdown]
# # AV-MaskEnhancer: pre-training, the learning gate, reconstruction curves (Fig. 3) and the architecture (Fig. 1)
#
# AV-MaskEnhancer (Diao, Cheng, Cheng) is VideoMAE whose decoder also sees the clip's audio: an audio
# encoder (TalkNet's MFCC + SE-ResNet) and a bidirectional cross-attention (Eq. 6) fuse the visible video
# tokens with audio tokens; the fused tokens (channel concatenation, $D_{fuse} = 2D_v$) go to VideoMAE's
# decoder, which reconstructs the masked video. Only the video encoder is kept for downstream tasks.
#
# SynthAV's audio encodes **where the sounding object is** (pitch follows its height, amplitude
# modulation its horizontal position, timbre its colour), so audio can in principle tell the decoder about
# masked pixels. Every variant is one config switch of the same model (`maskedav.methods.av_maskenhancer`):
#
# | variant | what it isolates |
# |---|---|
# | VideoMAE | video only (the same encoder, decoder, masks, data order and loss) |
# | AV w/o cross-attention (identity, slot-aligned) | the spec's definition (a) of Table II's "w/o": both cross-attention blocks replaced by the identity, same fusion |
# | AV w/o cross-attention (global audio) | definition (b): no cross-attention and no temporal alignment (clip-mean audio for every token) |
# | AV-MaskEnhancer (w/ cross-attention) | the paper's model |
# | AV w/ cross-attention, shuffled audio | **control**: every clip gets another clip's audio (a derangement); a gain that survives it is capacity, not audio |
#
# All arms of a seed share the initial video encoder, the clip order and the masks, so every comparison is
# paired by seed; the arms, the held-out evaluation, the tables and the claims are
# `maskedav.chapters.av_maskenhancer`, training and evaluation the study layer's (`maskedav.study`).

# %% tags=["parameters"]
profile = "cpu"
results_dir = None

# %%
import pandas as pd
from IPython.display import Markdown, display

from maskedav import viz
from maskedav.chapters import av_maskenhancer as ch
from maskedav.chapters import baselines
from maskedav.profiles import get_profile
from maskedav.results import Recorder
from maskedav.study import format_claims, format_gate, format_table, gate_table
from maskedav.study.executor import cpu_threads

P = get_profile(profile)
cpu_threads(P.resolve_device())                   # small models: one thread here (the workers' too)
rec = Recorder(ch.PAPER, profile=profile, results_dir=results_dir, parameters=dict(profile=profile))
viz.set_style()
B = ch.budgets(P)
ABL = {v: ch.arm_name(v, B["ablation"]) for v in ch.VARIANTS}

# %% [markdown]
# ## Arms, seeds and steps: the budget
#
# Five variants at every seed and the full schedule do not fit the chapter's 30 minutes on 2 cores, so the
# arms are split into budgets: a **main** budget (the profile's steps) for the comparisons the paper
# headlines, an **ablation** budget (a fraction of the steps) for the variants, and one seed for the runs
# that only describe. The arithmetic below is computed from the measured step and evaluation costs
# (`ch.STEP_COST_S`, `ch.EVAL_COST_S`) and the profile's seeds and steps; the table after it is the same
# arithmetic per arm.

# %%
display(Markdown(ch.budget_prose(P)))
display(format_table(ch.plan_table(P), {"seeds": "{:.0f}", "steps": "{:,.0f}", "step_cost_s": "{:.3f}",
                                         "pretrain_cpu_s": "{:,.0f}", "eval_cpu_s": "{:,.0f}"},
                     caption="The budget per arm: seeds, steps, measured seconds per step, estimated CPU seconds "
                             "of pre-training and of evaluation"))

# %% [markdown]
# ## Pre-training
#
# Every (arm, seed) is trained on the executor's workers, or read from the checkpoint cache when its
# content key (config, steps, data, seed) is unchanged. The held-out masked-reconstruction loss is logged
# during training (256 validation clips under fixed masks; every 500 steps at the main budget, every 100
# at the ablation budget).

# %%
runs = ch.pretrain(P)

# %% [markdown]
# ## The learning gate
#
# Before any claim: does pre-training make each video encoder better than the same network at random init?
# Per task and protocol, the supervised ceiling (the baselines chapter's: the same encoder trained from
# scratch on every label), chance, and each arm pre-trained against its random init (paired by seed, the
# test set's standard error as a floor; an arm *passes* when the one-sided paired test at α = 0.1 says
# pre-training wins). The main budget is evaluated by every protocol on both tasks, the ablation budget by
# the claims' protocol (few-label fine-tune on `appearance`). A downstream claim whose arm fails the gate on
# its task and protocol is *untestable at this profile*.

# %%
frame = ch.evaluate(runs)
gate = gate_table(ch.gate_frame(frame, P), ch.ceilings(P), {t: runs.study.chance(t) for t in ch.TASKS})
caption = ("AV-MaskEnhancer chapter, learning gate: test accuracy (%) of each video encoder pre-trained vs at random "
           "init (mean ± sd over seeds), the paired gain with its 80 % interval, the test set's standard error, the "
           "minimum detectable effect, chance and the supervised ceiling")
rec.table(gate, "learning_gate", seeds=P.seed_list, caption=caption)
format_gate(gate, caption)

# %%
display(Markdown(baselines.describe_gate(gate)))

# %% [markdown]
# ## Fig. 3: held-out reconstruction error during pre-training
#
# The paper plots *training* loss; here every run is evaluated on held-out validation clips under fixed
# tube masks (the same for every run), in raw-pixel masked-patch MSE (the models train on raw pixels:
# Eq. 7 restricted to masked patches). Curves: 256 clips, logged during training. Final values (the table
# and panel d): the first 512 validation clips under fixed tube masks of one seed, split into the sounding
# object's masked pixels and the rest, and, for the AV variants, evaluated with the clip's own audio
# (matched) and with another clip's (mismatched, one fixed derangement).

# %%
NAMES = ["videomae", "av_xattn", *ABL.values()]
hf = ch.heldout_frame(runs, NAMES)
fig3 = ch.fig3_figure(runs, hf)
rec.figure(fig3, "fig3", seeds=P.seed_list,
           caption="Held-out masked-patch MSE (raw pixels, fixed validation clips and tube masks) during "
                   "pre-training, mean ± std over seeds: (a) main budget, (b) ablation budget, (c) relative gap "
                   "to the VideoMAE of the same budget, paired by seed, (d) final MSE on the sounding object's "
                   "masked pixels and on the rest.")

# %%
final = ch.final_table(runs, hf)
rec.table(final, "fig3_final_mse", seeds=P.seed_list,
          caption="Final held-out masked-patch MSE per arm (mean, std over seeds), its relative gain over the "
                  "VideoMAE of the same budget, the sounding object's pixels and the others, the value near 30 % "
                  "of training, and the AV models' MSE with their clip's audio (matched) and another clip's "
                  "(mismatched).")
display(format_table(final[["label", "seeds", "mse_mean", "mse_std", "gain_vs_videomae_pct_mean",
                             "gain_vs_videomae_pct_std", "mse_source_mean", "mse_rest_mean", "mse_matched_mean",
                             "mse_mismatched_mean"]],
                     {**{c: "{:.4f}" for c in ("mse_mean", "mse_std", "mse_source_mean", "mse_rest_mean", "mse_matched_mean",
                             "mse_mismatched_mean")}, "gain_vs_videomae_pct_mean": "{:+.2f}",
             "gain_vs_videomae_pct_std": "{:.2f}"},
                     caption="Final held-out masked-patch MSE (raw pixels) per arm, mean and std over seeds; the gain "
                             "(%) over the VideoMAE of the same budget; on the sounding object and the rest; with "
                             "the clip's own audio (matched) and another clip's (mismatched)"))

# %% [markdown]
# ## Claims about the curves
#
# Decided by `maskedav.claims.verdict`, paired by seed (one-sided t at α = 0.1, ≥ 3 seeds, Holm within the
# paper in the ledger); for the final MSE the held-out set's own standard error of the per-clip difference is
# the floor. C2's comparator is whichever of VideoMAE and AV w/o (slot-aligned) has the lower **mean** early
# MSE over seeds (not a per-seed minimum, which would bias the comparison).

# %%
claims = ch.fig3_claims(runs, hf)
display(format_claims(ch.record_recon(claims, results_dir=results_dir, profile=profile),
                      "Claims C1, C1-control, C2: the arms' held-out MSE (a, b), the effect a − b in MSE, its 80 % "
                      "interval, the rule's verdict and the ledger's (Holm-adjusted)"))

# %%
row = final.set_index("arm")


def reliance(name):
    r = row.loc[name]
    return 100 * (r.mse_mismatched_mean - r.mse_matched_mean) / r.mse_matched_mean


display(Markdown("\n\n".join(
    [ch.describe(c.id, c.statement, c.verdict) for c in claims]
    + ["Relative to the VideoMAE of its budget, the final held-out MSE changes by "
       + "; ".join(f"{row.loc[n, 'gain_vs_videomae_pct_mean']:+.2f} ± {row.loc[n, 'gain_vs_videomae_pct_std']:.2f} % "
                   f"for {row.loc[n, 'label']}" for n in ["av_xattn", *list(ABL.values())[1:]])
       + " (positive = lower MSE; the paper reports 3 % lower for the full model)."]
    + [f"Given another clip's audio at evaluation, the held-out MSE of {row.loc[n, 'label']} changes by "
       f"{reliance(n):+.2f} % — " + ("it relies on its clip's audio." if reliance(n) > 1 else
                                     "it barely uses the audio." if reliance(n) > -1 else
                                     "mismatched audio even helps: its audio pathway carries no clip-specific "
                                     "information.")
       for n in ("av_xattn", ABL["av_xattn"], ABL["av_wo_xattn"])]
)))

# %% [markdown]
# ## Fig. 1: the architecture, drawn from the implemented model
#
# A real forward pass of the trained AV-MaskEnhancer (main budget, first seed) on two held-out clips with
# their waveforms, traced module by module (`maskedav.viz.trace_modules`): output shapes and parameter
# counts are the model's own.

# %%
val = runs.study.split("val", ("video", "audio"))
model = runs.models("av_xattn")[0]
fig1, trace = ch.fig1_figure(model, dict(video=val["video"][:2], audio=val["audio"][:2]))
rec.figure(fig1, "fig1", seeds=P.seed_list[:1],
           caption="AV-MaskEnhancer as implemented: modules in call order with output shapes and parameter "
                   "counts from a traced forward pass; colours = modality.")
display(format_table(pd.DataFrame(trace), {"params": "{:,}"},
                     caption="The traced forward pass: modules in call order, output shapes, parameters"))

# %% [markdown]
# ## What the runs cost
#
# Measured pre-training time of every arm (a run read from the cache reports the time it took when it was
# trained; the main VideoMAE's runs are the baselines chapter's).

# %%
display(format_table(ch.timing_table(runs), {"s_per_run": "{:.1f}", "s_per_step": "{:.3f}", "total_s": "{:,.1f}"},
                     caption="Measured pre-training time per arm: seconds of compute (a CPU run's process time) "
                             "per run and per step, total over seeds"))
