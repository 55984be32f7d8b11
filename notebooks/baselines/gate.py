# ---
# jupyter:
#   maskedav:
#     needs:
#     - baselines/mae
#     - baselines/videomae
#     - baselines/audiomae
#     - baselines/cav_mae
#     order: 45
#     title: The learning gate
# ---

# %% [markdown]
# # The learning gate: does pre-training learn anything at this profile?
#
# A comparison of representations means something only when the encoders learned something. Before any
# paper's claim, this page shows, per SynthAV task: the **supervised ceiling** (the profile's encoder
# trained from scratch on every training label, by the fine-tuning protocol), **chance**, and each
# baseline **pre-trained** against the **same network at random init**. Later chapters decide a claim only
# on arms that pass this gate on the claim's task; otherwise the claim is *untestable at this profile*.

# %% tags=["parameters"]
profile = "cpu"
results_dir = None

# %%
import pandas as pd
from IPython.display import Markdown, display

from maskedav.chapters import baselines
from maskedav.profiles import get_profile
from maskedav.results import Recorder
from maskedav.study import Study, describe_av_event_ceiling, format_gate, format_table, gate_table

P = get_profile(profile)
study = Study(P, "baselines")
rec = Recorder("baselines", profile=profile, results_dir=results_dir, parameters=dict(profile=profile))

# %% [markdown]
# ## How the runs are made
#
# Every baseline page trains one run per seed of the profile through the study layer
# (`maskedav.study`): weights from the seed, masks from the method's own generator seeded with it,
# batches deterministic in the step, and every `eval_every` steps the masked-reconstruction loss on
# held-out inputs under fixed masks, drawn against the trivial prediction (the held-out mean pixel).
# Checkpoints are cached by content key and handed to later chapters.
#
# At the small profiles the reconstruction target is **raw pixels** (`norm_pix=None`), a documented
# deviation from the papers' normalised patches: on SynthAV a normalised patch of smooth content is
# low-amplitude texture scaled to unit variance — unpredictable — and pre-training on it learned
# nothing measurable. The VideoMAE page shows the paper's per-channel normalised target beside it.
#
# **Protocols** (accuracy on the test split): a linear probe (logistic regression, weight decay chosen
# on the validation split) and weighted kNN on the frozen **layout readout** — the final tokens
# average-pooled 2 × 2 per time step and concatenated in time order, which keeps where and when (a mean
# over all tokens puts `motion` at chance for every encoder) — and, for VideoMAE, few-label end-to-end
# fine-tuning. **The gate's rule**: each arm against the same network at random init (same seed: a
# paired one-sided t-test at α = 0.1 over the seeds, with the test set's own standard error of the
# difference as a floor); the arm passes when pre-training wins. MDE is the smallest gain these seeds
# and this test set would detect with 80 % power.
#
# ## The regime
#
# What this profile trains and tests with. Tube masking at 90 % on a `T'×H'×W'` token grid leaves
# `H'W' − int(0.9·H'W')` visible tokens per time slice, so the effective ratio is coarser than the nominal one.

# %%
display(format_table(baselines.regime_table(P), caption=f"The regime of the `{P.name}` profile"))

# %% [markdown]
# ## Supervised ceilings
#
# One run per task (seed 0): the encoder of the baseline named in the table, trained end to end from random
# init on all labelled training clips with a linear head on the layout readout (label smoothing 0.1; for
# the shape task a random shift and flip).

# %%
ceiling = baselines.ceilings(P)
ceiling_table = ceiling[["task", "label", "accuracy", "n_test"]].rename(
    columns={"label": "encoder (trained from scratch on every label)", "accuracy": "test accuracy (%)",
             "n_test": "test clips"})
display(format_table(ceiling_table, {"test accuracy (%)": "{:.1f}", "test clips": "{:,}"},
                     caption="Supervised ceilings: test accuracy (%) of the encoder trained end to end on all "
                             "labelled training clips (seed 0)"))
if "av_event" in set(ceiling.task):
    display(Markdown(describe_av_event_ceiling(ceiling, study.synthav)))

# %% [markdown]
# ## The gate, every baseline and task

# %%
frames = []
for name in ("mae", "videomae", "audiomae", "cav_mae"):
    results = baselines.pretrain(study, name)            # cached checkpoints of the baselines' pages
    frame, _ = baselines.evaluate(study, results, name)       # the pages' cached evaluations
    frames.append(frame)
frame = pd.concat(frames, ignore_index=True)
tasks = sorted(set(frame.task))
table = gate_table(frame, ceiling, chance={t: study.chance(t) for t in tasks})
caption = ("The learning gate: test accuracy (%) per task and protocol — chance, supervised ceiling, "
           "and each baseline at random init and pre-trained (mean ± sd over seeds), the paired gain "
           "with its 80 % interval, the test set's standard error, the minimum detectable effect")
rec.table(table, "learning_gate", seeds=P.seed_list, caption=caption)
format_gate(table, caption)

# %%
display(Markdown(baselines.describe_gate(table)))
