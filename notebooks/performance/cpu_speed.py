# ---
# jupyter:
#   maskedav:
#     needs: []
#     order: 15
#     title: "Performance: the CPU path \u2014 threads, torch.compile, channels-last"
# ---

# %% [markdown]
# # Performance: the CPU path — threads, `torch.compile`, channels-last
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

rec = Recorder("performance", profile=profile, results_dir=results_dir, parameters=dict(profile=profile),
               device="cpu", dataset="random inputs at the profile's sizes")
logging.getLogger("torch._dynamo").setLevel(logging.ERROR)   # graph-break notices are compile-time log noise
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
