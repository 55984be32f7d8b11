# ---
# jupyter:
#   maskedav:
#     needs:
#     - baselines/cav_mae
#     - baselines/gate
#     order: 10
#     title: 'KDC-MAE 1: the runs, the learning gate and the mechanistic checks'
# ---

# %% [markdown]
# # KDC-MAE 1 — the runs, the learning gate and the mechanistic checks
#
# KDC-MAE (Bora et al., WACV 2025) trains CAV-MAE on **two weight-shared streams** that see differently
# masked copies of the same audio-visual pair. With *complementary* masks the streams' visible tokens are
# disjoint ("No Overlap"); with independent masks they may overlap ("With Overlap"). Besides CAV-MAE's
# reconstruction and contrastive losses, a **self-distillation** loss pulls the two streams' mean-pooled
# joint embeddings together: a symmetric KL divergence between the embeddings, each shifted to be
# non-negative and divided by its sum (Eqs. 4–5), weighted by λ_kd = 10.
#
# This page trains every arm, shows the **learning gate** (does pre-training beat the same network at
# random init, on each task and input?) and the spec's **mechanistic checks** (§10.4). The tables and the
# claims are on the next page, the figures on the third. The model is `maskedav.methods.kdc_mae`; the arms,
# evaluation and tables are `maskedav.chapters.kdc_mae`; training, evaluation, the gate and the claims rule
# are the study layer's (`maskedav.study`).
#
# **What stands in for the paper's data.** The paper fine-tunes on VGGSound and AudioSet with audio only (A),
# video only (V) or both (AV) as input. SynthAV's analogue is the `sound` task — the material (timbre) of the
# sounding object — read from CAV-MAE's audio pass (A), its frame pass (V; a frame cannot tell which object
# sounds, as VGGSound frames often cannot) and its joint pass (AV), by the study layer's linear probe on a
# readout that keeps the token layout, and by kNN. The paper fine-tunes end to end; a linear probe is the
# cheaper, less noisy protocol the spec suggests for small scale (§10.2).

# %% tags=["parameters"]
profile = "cpu"
results_dir = None

# %%
import matplotlib.pyplot as plt
import pandas as pd
from IPython.display import Markdown, display

from maskedav import viz
from maskedav.chapters import kdc_mae as ch
from maskedav.study import describe_av_event_ceiling, describe_gate, format_gate, format_table, gate_table, session
from maskedav.study.chapter import format_plan

P, study, rec = session(ch.PAPER, ch.CHAPTER, profile, results_dir)
viz.set_style()

# %% [markdown]
# ## The arms and the budget
#
# Every arm is CAV-MAE's network (the baselines chapter's configuration at this profile: raw-value targets,
# fbank statistics of the pre-training split) with one KDC-MAE switch changed. All arms of a seed start from
# the same weights, see the same clips in the same order and share one random-init reference, so every
# comparison is paired by seed. A dual-stream step does two encoder passes, so a **compute-matched CAV-MAE**
# trained for twice the steps is a control the paper does not have.

# %%
display(Markdown(ch.budget_prose(P)))
format_plan(ch.plan_table(P))

# %% [markdown]
# ## Pre-training
#
# Every (arm, seed) trains on the executor's workers or is read from the checkpoint cache when its content
# key (config, steps, data, seed) is unchanged. The held-out loss and every logged term (reconstruction per
# stream, contrast, KD) are evaluated every tenth of the run on 256 validation clips under fixed masks.

# %%
core = ch.pretrain(study, names=ch.CORE)       # the claims' arms first (a cell each, under the cell time limit)

# %%
runs = ch.pretrain(study)                      # the other variants; the core runs come from the cache

# %% [markdown]
# Every run is then evaluated through the three passes (cached by content key), and Table 6's per-clip metrics
# are computed for the core arms and their random init.

# %%
frame = ch.evaluate(runs)

# %%
frame6 = ch.table6_frame(runs)
cf = ch.claim_frame(frame, frame6)

# %% [markdown]
# ## The learning gate
#
# Per task, input and protocol: chance, the supervised ceiling (the baselines chapter's: its encoder
# trained from scratch on every label), and each arm pre-trained against the same network at random init,
# paired by seed with the test set's standard error as a floor. An arm **passes** when the one-sided paired
# test at α = 0.1 says pre-training wins; a claim whose arm fails on its task and protocol is *untestable
# at this profile*. Arms trained on a single seed cannot pass (the rule needs three seeds): their rows
# describe. Table 6's metrics (retrieval, inpainting, localization) are gated the same way.

# %%
chance = {t: study.chance(t) for t in ("sound", "appearance", "av_event")}
gate = gate_table(cf, ch.ceilings(P), chance)
rec.table(gate, "learning_gate", seeds=P.seed_list,
          caption="KDC-MAE chapter, learning gate: test accuracy (%) of each arm through each input (A: audio "
                  "pass, V: frame pass, AV: joint pass) pre-trained vs at random init (mean ± sd over seeds), the "
                  "paired gain with its 80 % interval, the test set's standard error, the minimum detectable effect, "
                  "chance and the supervised ceiling; Table 6's metrics in their own units")
format_gate(gate[gate.seeds >= 3], caption="The learning gate of the arms trained on every seed")

# %%
sound = gate[(gate.task == "sound") & (gate.protocol == "probe") & (gate.seeds >= 3)]
display(Markdown(describe_gate(sound)))
display(Markdown("The AV column of Table 5 — " + describe_av_event_ceiling(ch.ceilings(P), study.synthav)))

# %% [markdown]
# The arms trained on one seed, for description only (the rule cannot pass an arm on one seed):

# %%
format_gate(gate[(gate.seeds < 3) & (gate.task == "sound") & (gate.protocol == "probe")],
            caption="Single-seed arms, sound task, linear probe")

# %% [markdown]
# ## Mechanistic checks (spec §10.4)
#
# **Masks.** The real mask generators on 4,096 draws: the union of visible tokens (coverage), the expected
# value (complementary: n·(1 − r); independent: 1 − rⁿ) and the tokens two streams share. Complementary
# streams share none; the paper's "three complementary masks expose 75 % of the data" is the last rows.

# %%
base = runs.arms["cavmae"].config
cov = ch.coverage_table(P, base)
rec.table(cov, "mask_coverage", caption="Coverage of the stream masks measured on 4,096 draws of the real "
                                        "generators against the expected union, per modality")
format_table(cov, {"coverage": "{:.4f}", "expected": "{:.4f}", "shared_tokens_per_pair": "{:.2f}"},
             caption="Mask coverage: measured vs expected")

# %% [markdown]
# **The distillation loss at initialisation and its scale.** The spec expects the projected distributions of a
# LayerNorm-ed, mean-pooled embedding to be nearly uniform (entries near 1/D), the raw KD loss therefore tiny —
# the reason for λ_kd = 10 — and complementary streams (no shared token) to disagree more than overlapping ones
# at initialisation. One more property of Eq. 5 as the paper (and its code) computes it: the origin shift makes
# each stream's smallest entry exactly 0, so after `+ε` (ε = 1e-12) the other stream's entry there contributes
# q·log(q/ε) ≈ 27.6·q. `eps_share` is the fraction of the loss that comes from those two entries.

# %%
val = study.split("val", ("fbank", "video"))
init = ch.kd_at_init(P, base, dict(fbank=val["fbank"][:256], video=val["video"][:256]))
rec.table(init, "kd_at_init", caption="Raw and weighted KD loss between two streams of the same 256 "
                                      "validation clips at initialisation, and the largest projected probability "
                                      "against the uniform 1/D")
display(format_table(init, {"kd_raw": "{:.5f}", "kd_weighted": "{:.4f}", "eps_share": "{:.1%}", "max_p": "{:.4f}",
                            "uniform_p": "{:.4f}"}, caption="KD loss at initialisation"))
comp, ind = init.set_index("masks").loc["complementary"], init.set_index("masks").loc["independent"]
display(Markdown(
    f"At initialisation the KD loss between complementary streams is {comp.kd_raw:.4f} against {ind.kd_raw:.4f} for "
    f"independent ones — " + ("larger, as expected: they share no token. " if comp.kd_raw > ind.kd_raw else
                              "**not** larger than for overlapping streams, against the spec's expectation. ")
    + f"{comp.eps_share:.0%} of it comes from the two ε-floored entries (two of {P.model.dim}): "
    + ("Eq. 5 with its ε is dominated by where each stream's embedding is smallest"
       if comp.eps_share > 0.5 else "a large share for two entries out of the embedding's width")
    + ", and the gradient there is large (log(q/ε) ≈ 28)."))

# %% [markdown]
# **During training.** The held-out KD loss should fall when it is trained (λ_kd = 10) and stay higher when
# it is only logged (λ_kd = 0); contrastive accuracy (is a clip's own audio the most similar among the
# batch's?) should rise well above chance, one over the batch size.

# %%
fig, axes = viz.panel_grid(3)
for name in ("kdc", "kdc_overlap", "kdc_l0", "kdc3", "kdc3_overlap"):
    if name not in runs.runs:
        continue
    for ax, key in zip(axes, ("loss_kd", "contrast_acc", "loss_recon")):
        s, m, sd = ch.curve(runs, name, key)
        if len(s):
            ax.plot(s, m, label=ch.VARIANTS[name].label)
            ax.fill_between(s, m - sd, m + sd, alpha=0.2)
axes[0].set_title("held-out KD loss (raw)")
axes[1].set_title("held-out contrastive accuracy")
axes[2].set_title("held-out reconstruction\n(sum over streams)")
for ax in axes:
    ax.set_xlabel("step")
axes[0].set_yscale("log")
fig.tight_layout()
viz.legend_below(fig)
rec.figure(fig, "kd_curves", seeds=P.seed_list,
           caption="Held-out KD loss, contrastive accuracy and reconstruction loss during pre-training "
                   "(mean ± sd over the arm's seeds)")
plt.show()

# %%
def last(name, key):
    s, m, _ = ch.curve(runs, name, key)
    return m[-1] if len(m) else float("nan")


display(Markdown(
    f"Final held-out KD loss: {last('kdc', 'loss_kd'):.5f} with λ_kd = 10 against {last('kdc_l0', 'loss_kd'):.5f} "
    f"with λ_kd = 0 — " + ("the trained KD term is lower, as it should be." if last('kdc', 'loss_kd') < last('kdc_l0', 'loss_kd')
                          else "the trained KD term is **not** lower: the check fails at this profile.")
    + f" Final held-out contrastive accuracy of KDC-MAE: {last('kdc', 'contrast_acc'):.3f} (chance 1/{P.train.batch_size} = "
      f"{1 / P.train.batch_size:.3f})."))

# %% [markdown]
# ## What the runs cost
#
# Measured pre-training time per arm (a run read from the cache reports the time it took when trained).

# %%
format_table(ch.timing_table(runs), {"s_per_run": "{:.0f}", "s_per_step": "{:.3f}", "total_s": "{:,.0f}"},
             caption="Measured pre-training time")
