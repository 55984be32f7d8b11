# ---
# jupyter:
#   maskedav:
#     needs: []
#     order: 10
#     title: 'Performance: training throughput and bf16 / fused-attention numerics'
# ---

# %% [markdown]
# # Performance: training throughput and bf16 / fused-attention numerics
#
# How fast the library's methods train, and what bf16 and the fused attention kernels cost in accuracy.
# Everything here is measured by this notebook on the machine that ran it (the provenance of each table
# names the device); nothing is a paper's number.
#
# * **Attention numerics**: `scaled_dot_product_attention` through every kernel PyTorch offers on the
#   device (`math`, `flash`, `efficient`, `cudnn`) in float32 and bfloat16, on ViT-B's attention shapes
#   (12 heads × 64 dims on 196 tokens = MAE, 1568 tokens = VideoMAE), against float64 attention.
# * **Training numerics**: one method trained from the same weights on the same batches and masks in fp32
#   and under bf16 autocast (the `gpu` and `paper` profiles' precision): loss gap per step and the cosine
#   between the first step's gradients.
# * **Throughput**: median wall time of one training step (forward, backward, AdamW) per method. On a GPU
#   at the **papers' sizes** (ViT-B, `Config.paper()`), fp32 and bf16; on a CPU at the profile's small
#   sizes (fp32 only: the code path, not a GPU estimate).
#
# `maskedav.perf` holds the measurements; this notebook only calls them.

# %% tags=["parameters"]
profile = "cpu"
results_dir = None

# %%
import matplotlib.pyplot as plt
import pandas as pd
import torch
from IPython.display import Markdown, display

from maskedav import perf, viz
from maskedav.profiles import get_profile
from maskedav.results import Recorder

P = get_profile(profile)
device = torch.device(P.resolve_device())
on_gpu = device.type == "cuda"
rec = Recorder("performance", profile=profile, results_dir=results_dir, parameters=dict(profile=profile),
               device=torch.cuda.get_device_name(device) if on_gpu else "cpu")
viz.set_style()
# paper sizes on a GPU; the profile's small sizes elsewhere (a CPU step of ViT-B on 1568 tokens takes seconds)
small = None if on_gpu else P
timed_steps, batch = (10, 32) if on_gpu else (max(2, min(5, P.train.steps)), min(P.train.batch_size, 8))
print(f"device {rec.device}; torch {torch.__version__}; sizes: {'papers (ViT-B)' if on_gpu else 'profile ' + P.name}")

# %% [markdown]
# ## Attention kernels in fp32 and bf16 against float64

# %%
shapes = ((8, 12, 196, 64), (4, 12, 1568, 64)) if on_gpu else ((2, 2, 64, 16),)
att = pd.DataFrame(perf.attention_numerics(device, shapes=shapes))
_ = rec.table(att, "attention_numerics",
              caption="Error of scaled_dot_product_attention per kernel and dtype against float64 math attention "
                      "(N(0,1) inputs, shape B×heads×tokens×head_dim); unavailable = the kernel does not run this "
                      "case on this device.")
display(att.drop(columns=["note"]).round(8))

# %%
ok = att[att.available]
worst = ok.groupby("dtype").rel_err.max()
display(Markdown(
    "Kernels available here: " + ", ".join(sorted(ok.kernel.unique())) + ". "
    + " ".join(f"Worst relative error in {d}: {e:.2e}." for d, e in worst.items())
    + " bf16 keeps 8 bits of mantissa (relative spacing 2⁻⁸ ≈ 3.9e-3), so errors of that order are its "
      "rounding of inputs and outputs, not a kernel fault; fp32 kernels should agree to ~1e-6."))

# %% [markdown]
# ## Training in fp32 vs bf16 autocast (same weights, batches and masks)

# %%
spec = perf.PAPER_METHODS["VideoMAE ViT-B (16×224², 90 % tube)"]
num_rows, grad_cos = perf.training_numerics(spec, small_profile=small, batch_size=8 if on_gpu else 4,
                                            steps=30 if on_gpu else 5, device=device)
num = pd.DataFrame(num_rows)
_ = rec.table(num, "training_numerics", extra=dict(grad_cosine_first_step=grad_cos),
              caption="VideoMAE trained from the same initial weights on the same random batches and masks in fp32 "
                      "and under bf16 autocast: loss per step and relative gap |bf16 − fp32| / fp32.")
fig, ax = viz.panel_grid(2, ncols=2)
ax[0].plot(num.step, num.loss_fp32, label="fp32")
ax[0].plot(num.step, num.loss_bf16, "--", label="bf16 autocast")
ax[0].set_xlabel("step")
ax[0].set_ylabel("training loss")
ax[0].legend()
ax[1].semilogy(num.step, num.rel_gap.clip(lower=1e-9))
ax[1].set_xlabel("step")
ax[1].set_ylabel("relative loss gap")
fig.tight_layout()
_ = rec.figure(fig, "training_numerics_plot", caption="fp32 vs bf16-autocast VideoMAE training, same batches.")
display(Markdown(
    f"Cosine between the first step's fp32 and bf16 gradients: **{grad_cos:.5f}**; largest relative loss gap "
    f"over {len(num)} steps: **{num.rel_gap.max():.2e}** "
    + ("(on a CPU the book's autocast is off, so the two runs are the same computation)." if not on_gpu else
       "(a gap of order 1e-3 is bf16 rounding; a growing gap would mean the runs diverge).")))

# %% [markdown]
# ## Training throughput per method

# %%
thr = pd.DataFrame(perf.throughput(device, batch_size=batch, steps=timed_steps, small_profile=small))
_ = rec.table(thr, "throughput",
              caption=f"Median wall time of one training step (forward, backward, AdamW; batch {batch}; "
                      f"{timed_steps} timed steps after 3 warm-up steps) and clips per second, per method and "
                      "precision; peak GPU memory where on a GPU. "
                      + ("The papers' configurations (ViT-B)." if on_gpu else f"Profile {P.name}'s small sizes."))
display(thr.round(2))

# %%
fig, ax = plt.subplots(figsize=(viz.PAGE_WIDTH, 0.6 + 0.45 * len(thr)))
labels = [f"{m} [{p}]" for m, p in zip(thr.method, thr.precision)]
ax.barh(labels, thr.clips_per_s, color=[viz.PALETTE[0] if p == "fp32" else viz.PALETTE[1] for p in thr.precision])
ax.invert_yaxis()
ax.set_xlabel("clips (or images) per second, training")
fig.tight_layout()
_ = rec.figure(fig, "throughput_plot", caption="Training throughput per method and precision (from the table above).")

# %%
if on_gpu and {"fp32", "bf16"} <= set(thr.precision):
    piv = thr.pivot_table(index="method", columns="precision", values="step_ms", sort=False)
    speed = (piv["fp32"] / piv["bf16"]).dropna()
    display(Markdown("bf16 autocast speeds a training step up by " + ", ".join(
        f"{v:.2f}× ({k.split(' (')[0]})" for k, v in speed.items()) + " on this GPU."))
else:
    display(Markdown("CPU timings at the small sizes: they show the code runs and how the methods compare in "
                     "cost at these sizes, not what a GPU does."))
