# ---
# jupyter:
#   maskedav:
#     needs: []
#     order: 5
#     title: 'Performance: what re-running the book costs'
# ---

# %% [markdown]
# # Performance: what re-running the book costs
#
# Every chapter caches what it trains (checkpoints and evaluations, keyed by their configuration), so
# re-executing the book after a change of prose or plotting takes minutes. What a reader who clones the
# repository pays is the run **from an empty cache**: every pre-training, ceiling, probe and fine-tune
# done again. The book's budget for that, at the `cpu` profile on two cores, is 30 minutes per chapter and
# three hours for the whole book.
#
# This page shows such runs, recorded by `python -m maskedav.book timings` from the runner's own records
# (`maskedav.book.timings`): the latest in full — the wall time of each notebook and of each chapter, and, cell
# for cell, whether the tables it produced equal the ones committed in the book (the committed tables were
# made from a warm cache; a difference would mean that the cache, not the code, decided a number) — then every
# recorded run's minutes per chapter side by side, each with the commit it ran, so that a chapter measured by
# an earlier run keeps its number.

# %% tags=["parameters"]
profile = "cpu"
results_dir = None

# %%
from IPython.display import Markdown, display

from maskedav.book import timings
from maskedav.paths import results_root
from maskedav.study import format_table

records = timings.read_records(results_root(results_dir))
record = records[-1] if records else None
expected = timings.notebooks_per_chapter()

# %% [markdown]
# ## Is the budget met?
#
# Each chapter's latest measurement from an empty cache, whichever run it came from (the runs below), against
# 30 minutes per chapter and three hours for the book.

# %%
if records:
    display(Markdown(timings.describe_budget(records, expected)))

# %% [markdown]
# ## Would fewer pre-training steps keep the gate?
#
# Pre-training is most of every chapter's time, so the first lever of the budget is the number of steps. The
# `cpu` profile pre-trains for 3,000 steps because that is where the baselines pass the learning gate (the
# baselines chapter). `scripts/regime_gate.py` trains the baselines' raw-target arms again at fewer steps — same
# seeds, protocols and test set, in a study of their own — and this table sets the result beside the book's gate.
# A cell that fails at the smaller budget makes every claim resting on it *untestable at this profile*: a cheaper
# book that can decide less.

# %%
levers = timings.read_steps_levers(results_root(results_dir))
gate_csv = results_root(results_dir) / "baselines" / "learning_gate.csv"
if levers and gate_csv.exists():
    import pandas as pd

    from maskedav.profiles import get_profile

    full_steps = get_profile(profile).train.steps
    for reduced in levers:
        lever = timings.steps_lever_table(pd.read_csv(gate_csv), reduced)
        display(Markdown(timings.describe_steps_lever(lever, full_steps)))
        steps = int(reduced["steps"].iloc[0])
        display(format_table(lever, {"gain": "{:+.1f}", f"gain @{steps}": "{:+.1f}",
                                     f"cost per run @{steps} (s)": "{:.0f}"},
                             f"The learning gate of the baselines at {full_steps:,} pre-training steps (the "
                             f"{profile} profile) and at {steps:,}: test accuracy of the pre-trained encoder (%, "
                             "mean ± sd over 3 seeds), its paired gain over the same network at random init with "
                             "the 80 % interval, the gate at each budget, whether a passing cell keeps it, and the "
                             f"process time of one pre-training run at {steps:,} steps (one thread)."))
else:
    display(Markdown("No gate at another pre-training budget has been recorded (`scripts/regime_gate.py`)."))

# %% [markdown]
# ## Wall time per chapter from an empty cache: the latest run

# %%
if record is None:
    display(Markdown(f"No run from an empty cache has been recorded at the `{profile}` profile: run the book "
                     "with an empty `MASKEDAV_CACHE` into a scratch tree, then `python -m maskedav.book timings "
                     "--results-dir <that tree> --compare results --cache-state empty --out "
                     "results/performance/book_runs/<date>-<commit>.json`."))
else:
    display(Markdown(timings.describe(record, expected)))
    display(format_table(timings.budget_table(record["times"], expected), {"minutes": "{:.1f}"},
                         f"Wall time per chapter of the {timings.run_label(record)} (minutes; the chapters' "
                         f"notebooks in dependency order), {record['profile']} profile, against the book's budgets."))

# %% [markdown]
# ## Per notebook

# %%
if record is not None:
    per_nb = record["times"][["notebook", "status", "minutes"]]
    display(format_table(per_nb, {"minutes": "{:.1f}"},
                         "Wall time of each notebook in that run (minutes), in the order the runner executed them."))

# %% [markdown]
# ## Every recorded run

# %%
if len(records) > 1:
    for rec in records[:-1]:
        display(Markdown(f"**The {timings.run_label(rec)}.** " + timings.describe(rec, expected)))
    display(format_table(timings.history_table(records, expected), {},
                         "Minutes per chapter of every recorded run from an empty cache (— : not in that run; ≥ : "
                         "the run stopped before the chapter's end), against the 30-minute budget per chapter."))
elif record is not None:
    display(Markdown("No earlier run is recorded."))
