# ---
# jupyter:
#   maskedav:
#     needs:
#     - baselines/gate
#     order: 10
#     title: 'XKD 1: the runs, the learning gate and the collapse diagnostics'
# ---

# %% [markdown]
# # XKD 1 — the runs, the learning gate and the collapse diagnostics
#
# XKD (Sarkar & Etemad, AAAI 2024) trains a video and an audio masked autoencoder from scratch and, at the
# same time, distils each modality into the other: the **audio teacher teaches the video student and the
# video teacher the audio student** (DINO-style cross-entropy between centred, sharpened softmax outputs of
# projector heads). Teachers are EMA copies of their students and see the whole clip; students see the
# masked clip's visible tokens and a short local view. Because the two modalities' outputs live in different
# places, the paper aligns them: an MMD between the two students' outputs and between the two teachers'
# (**domain alignment**), and before pooling it re-weights each teacher's tokens by an attention computed
# across the two modalities (**refine**, Eqs. 3–6). Without alignment, the paper reports, distillation
# collapses.
#
# This page trains every arm, shows the **learning gate** (does pre-training beat the same network at random
# init, per task and representation?) and the **collapse diagnostics** of Fig. S1. The tables and the claims
# are on the next page, the figures on the third. The model is `maskedav.methods.xkd`; the arms, evaluation
# and tables are `maskedav.chapters.xkd`; training, evaluation, the gate and the claims rule are the study
# layer's (`maskedav.study`).
#
# **What stands in for the paper's data.** The paper pre-trains on Kinetics-400 / AudioSet and evaluates
# linear classifiers on frozen features: video on UCF101, HMDB51 and Kinetics, audio on ESC50 and FSD50K.
# Here the video student is read out on SynthAV's `motion` (the analogue of action recognition: the claims
# use it) and `appearance` tasks, and on `sound` (which the video student can only know from the audio
# teacher); the audio student on `sound` — by the study layer's linear probe on a readout that keeps the
# token layout, and by kNN.

# %% tags=["parameters"]
profile = "cpu"
results_dir = None

# %%
import matplotlib.pyplot as plt
from IPython.display import Markdown, display

from maskedav import viz
from maskedav.chapters import xkd as ch
from maskedav.study import describe_gate, format_gate, format_table, gate_table, session
from maskedav.study.chapter import format_plan

P, study, rec = session(ch.PAPER, ch.CHAPTER, profile, results_dir)
viz.set_style()

# %% [markdown]
# ## The arms and the budget
#
# Every arm is XKD at this profile's sizes — the profile's video and audio ViTs with a cls token, learned
# positions, a projector scaled down from the paper's (sizes: Table S10 on the model page), raw-value targets
# (like every chapter at the small profiles) — with one of the paper's switches changed. All arms of a seed
# build the same encoders, see the same clips in the same order and share one random-init reference, so every
# comparison is paired by seed.

# %%
display(Markdown(ch.budget_prose(P)))
format_plan(ch.plan_table(P))

# %% [markdown]
# ## Pre-training
#
# Every (arm, seed) trains on the executor's workers or is read from the checkpoint cache when its content
# key (config, steps, data, seed) is unchanged. Every loss term is logged at every step; the held-out loss
# and terms are evaluated every tenth of the run on 256 validation clips under fixed masks.

# %%
core = ch.pretrain(study, names=ch.CORE)       # Table 1's arms first (a cell each, under the cell time limit)

# %%
runs = ch.pretrain(study)                      # the other variants; the core runs come from the cache

# %% [markdown]
# Every run is then evaluated through its representations (cached by content key): the video and audio
# students, the teachers of XKD, the two students side by side (Table 7), and the video student fine-tuned
# end to end on `motion` (Table 5).

# %%
frame = ch.evaluate(runs)

# %% [markdown]
# ## The learning gate
#
# Per task, representation and protocol: chance, the supervised ceiling (the baselines chapter's: its encoder
# trained from scratch on every label), and each arm pre-trained against the same network at random init,
# paired by seed with the test set's standard error as a floor. An arm **passes** when the one-sided paired
# test at α = 0.1 says pre-training wins; a claim whose arm fails on its task and protocol is *untestable at
# this profile*. Arms trained on a single seed cannot pass (the rule needs three seeds): their rows describe.

# %%
tasks = ("appearance", "motion", "sound")
chance = {t: study.chance(t) for t in tasks}
gate = gate_table(frame, ch.ceilings(P), chance)
rec.table(gate, "learning_gate", seeds=P.seed_list,
          caption="XKD chapter, learning gate: test accuracy (%) of each arm through each representation "
                  "pre-trained vs at random init (mean ± sd over seeds), the paired gain with its 80 % interval, the "
                  "test set's standard error, the minimum detectable effect, chance and the supervised ceiling")
format_gate(gate[gate.seeds >= 3], caption="The learning gate of the arms trained on every seed")

# %%
for task in ("motion", "sound"):
    display(Markdown(f"**{task}.** " + describe_gate(gate[(gate.task == task) & (gate.protocol == "probe")
                                                          & (gate.seeds >= 3)])))

# %% [markdown]
# The arms trained on one seed, for description only (the rule cannot pass an arm on one seed):

# %%
format_gate(gate[(gate.seeds < 3) & (gate.protocol == "probe")], caption="Single-seed arms, linear probe")

# %% [markdown]
# ## Collapse diagnostics (Fig. S1)
#
# The paper's evidence that domain alignment, projector normalisation and centring are needed is a collapse
# signature: without them the KL divergence between teacher and student outputs goes to zero — the student
# matches a teacher that carries nothing — while the distillation loss oscillates (no L_da) or goes to zero
# (no centring). The rule, fixed in code before the runs (`COLLAPSE_RATIO`): an arm has **collapsed** when its
# KL over the last tenth of training ends below a tenth of the default XKD's over the same steps. Seed 0 of
# each arm, from the losses logged at every training step.

# %%
collapse = ch.collapse_table(runs)
rec.table(collapse, "collapse", seeds=P.seed_list[:1],
          caption=f"Collapse diagnostics (seed 0): KL(teacher ‖ student), L_kd per direction and the teachers' output "
                  f"entropy (and its share of the uniform's, log K) over the last tenth of training; collapsed when the KL falls below {ch.COLLAPSE_RATIO:g} "
                  "of the default XKD's")
display(format_table(collapse.drop(columns=["label"]), {"kl": "{:.4f}", "kd_a2v": "{:.3f}", "kd_v2a": "{:.3f}",
                                                        "entropy_video": "{:.2f}", "entropy_audio": "{:.2f}",
                                                        "entropy_vs_uniform": "{:.0%}", "kl_vs_xkd": "{:.3f}"},
                     caption="Collapse diagnostics (seed 0)"))
display(Markdown(ch.describe_collapse(collapse)))

# %%
fig = ch.collapse_figure(runs)
rec.figure(fig, "figS1", seeds=P.seed_list[:1],
           caption="Fig. S1 — KL(teacher ‖ student) and L_kd per training step (mean of the two directions, moving "
                   "average of 25 steps) of the default XKD and the arms without domain alignment, projector "
                   "normalisation or centring (seed 0)")
plt.show()

# %% [markdown]
# ## What the runs cost
#
# Measured pre-training time per arm (a run read from the cache reports the time it took when trained).

# %%
format_table(ch.timing_table(runs), {"s_per_run": "{:.0f}", "s_per_step": "{:.3f}", "total_s": "{:,.0f}"},
             caption="Measured pre-training time")
