# ---
# jupyter:
#   maskedav:
#     needs: []
#     order: 15
#     title: "Performance: the CPU path \u2014 threads, torch.compile, channels-last,\
#       \ workers"
# ---

# %% [markdown]
# # Performance: the CPU path — threads, `torch.compile`, channels-last, workers
#
# At the `cpu` profile every chapter trains small ViTs on two cores, so a faster training step buys more
# pre-training per chapter. This page measures one training step (forward, backward, AdamW; batch 32, random
# inputs at the profile's sizes) of VideoMAE and CAV-MAE under each setting: one eager thread (what the
# study layer's two workers use), two threads in one process, `torch.compile` on one thread (its compile time
# counted separately), and channels-last memory format. The study layer runs **two single-threaded workers**;
# a setting is worth adopting only if it beats that.
#
# Measured live by `maskedav.perf.cpu_speed` on the machine that ran this page; the median over the timed
# steps, with the inter-quartile range. Timings taken while other work shares the cores are noisy: the IQR
# says how much.

# %% tags=["parameters"]
profile = "cpu"
results_dir = None

# %%
import logging

from IPython.display import Markdown, display

from maskedav import perf
from maskedav.results import Recorder
from maskedav.study import format_table
from maskedav.study.executor import pool_wall

rec = Recorder("performance", profile=profile, results_dir=results_dir, parameters=dict(profile=profile),
               device="cpu", dataset="random inputs at the profile's sizes")
logging.getLogger("torch._dynamo").setLevel(logging.ERROR)   # graph-break notices are compile-time log noise
logging.getLogger("torch.utils.cpp_extension").setLevel(logging.ERROR)   # "no CUDA runtime" notice on a CPU machine
smoke = profile == "smoke"               # the test suite's run: the code path only, no compilation
settings = {k: v for k, v in perf.CPU_SETTINGS.items() if not (smoke and v[1])}
table = perf.cpu_speed(profile, steps=2 if smoke else 30, warmup=1 if smoke else 3, settings=settings)
rec.table(table, "cpu_speed", caption=f"One training step at the {profile} profile's sizes on the CPU: median ms "
                                     "(and IQR) per setting, speed-up over one eager thread, warm-up seconds "
                                     "(compile time for torch.compile)")
format_table(table, {"ms_per_step": "{:.1f}", "ms_iqr": "{:.1f}", "speedup": "{:.2f}×", "warmup_s": "{:.1f}"},
             caption="CPU training step per setting")

# %%
def verdict(method):
    t = table[table.method == method].set_index("setting")
    eager = t.loc["eager, 1 thread", "ms_per_step"]
    lines = []
    for setting, r in t.iterrows():
        if setting == "eager, 1 thread":
            continue
        if r.ms_per_step != r.ms_per_step:          # NaN: failed or timed out
            lines.append(f"{setting}: did not run ({r.note})")
            continue
        per_core = r.speedup / r.threads
        lines.append(f"{setting}: {r.speedup:.2f}× one eager thread"
                     + (f" ({per_core:.2f}× per core: two single-threaded workers give 2×)" if r.threads > 1 else "")
                     + (f", after {r.warmup_s:.0f} s of compilation (worth it beyond "
                        f"{r.warmup_s / max(1e-3 * (eager - r.ms_per_step), 1e-9):,.0f} steps)"
                        if "compile" in setting and r.ms_per_step < eager else ""))
    return f"**{method}** ({eager:.1f} ms per eager step): " + "; ".join(lines) + "."


display(Markdown("\n\n".join(verdict(m) for m in table.method.unique())))


# %% [markdown]
# ## Workers: three runs on two cores
#
# A chapter trains each arm on three seeds, so the executor often has three equal runs for two cores. On two
# workers they take two rounds, the second with one core idle; on three single-threaded workers the
# operating system shares the two cores among all three, and they finish together after about 1.5 run lengths
# instead of 2. The study layer's executor picks the number of workers that lets equal runs finish together
# (`maskedav.study.executor.cpu_workers`: 3 for 3 runs, 2 for 4, 5 for 5, at most 6). Measured here: the same
# three VideoMAE runs (random inputs, one thread each) on the executor with two and with three workers,
# start-up of the worker processes included.

# %%
pool = perf.pool_speed(profile, "videomae", runs=3, steps=2 if smoke else 300, batch_size=4 if smoke else 32,
                       workers=(2, 3))
rec.table(pool, "pool_speed", caption=f"Three equal VideoMAE training runs ({'2' if smoke else '300'} steps each, "
                                     f"{profile} profile's sizes) on the study layer's executor with 2 and 3 "
                                     "single-threaded workers: wall seconds of the pool and of one run")
format_table(pool, {"wall_s": "{:.1f}", "run_s": "{:.1f}", "speedup": "{:.2f}×"},
             caption="Equal runs per number of workers")

# %%
two, three = pool.set_index("workers").wall_s.loc[[2, 3]]
cores = int(pool.cores.iloc[0])
ideal = {w: pool_wall(3, w, cores) for w in (2, 3)}   # in run lengths
display(Markdown(f"On this machine's {cores} cores, three runs took **{two:.0f} s on two workers and {three:.0f} s "
                 f"on three** ({two / three:.2f}× faster; {ideal[2] / ideal[3]:.2f}× is the ideal on {cores} cores). Each run inside three "
                 f"workers took {pool.set_index('workers').run_s.loc[3]:.0f} s against "
                 f"{pool.set_index('workers').run_s.loc[2]:.0f} s on two: the cores are shared, not added. Results "
                 "do not depend on the number of workers: every run seeds its own weights, masks and data order."))
