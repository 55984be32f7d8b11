# ---
# jupyter:
#   maskedav:
#     needs: []
#     order: 50
#     title: 'Model zoo: the papers'' configurations'
# ---

# %% [markdown]
# # Model zoo: the papers' configurations
#
# Every paper-scale configuration of the library (`maskedav.configs.PAPER_CONFIGS`), built from code on
# PyTorch's `meta` device (shapes only, no memory), with its parameter count and its cost per view, beside
# the numbers the papers print (transcribed with their source in `maskedav.configs.PAPER_REPORTED`).
#
# * `params_m`: trainable parameters (millions) of the fine-tuning classifier (encoder, mean pool,
#   `fc_norm`, linear head), or of the encoder where the paper counts that (`counted`). Fixed sin-cos
#   position tables are buffers and not counted, as in MVD Table 3.
# * `gmacs`: multiply-accumulates of one view (billions) — what the papers call "GFLOPs" (fvcore's
#   convention). Counted analytically from the matmuls; the cell below checks the formula against
#   PyTorch's `FlopCounterMode` on one configuration.
# * `pretrain_params_m`: the masked-autoencoder pre-training network (encoder + decoder; for MAE, VideoMAE,
#   AudioMAE and CAV-MAE the method classes of `maskedav.methods`). AudioMAE's row uses the global-attention
#   decoder (8 blocks), not the paper's Swin decoder.

# %% tags=["parameters"]
profile = "cpu"
results_dir = None

# %%
from maskedav.methods import zoo
from maskedav.profiles import get_profile
from maskedav.results import Recorder
from maskedav.study import format_table

P = get_profile(profile)
rec = Recorder("baselines", profile=profile, results_dir=results_dir, parameters=dict(profile=profile))

# %%
analytic, counted = zoo.check_macs("videomae-s")
print(f"videomae-s MACs: analytic {analytic:,}, FlopCounterMode {counted:,} -> "
      f"{'equal' if analytic == counted else 'DIFFERENT'}")

# %%
table = zoo.zoo_table()
rec.table(table, "model_zoo", caption="Paper-scale configurations: parameters (M) and GMACs per view counted "
                                      "from code, beside the papers' printed numbers (source column)")
format_table(table, {"tokens": "{:,}", **{c: "{:.1f}" for c in ("params_m", "gmacs", "pretrain_params_m",
                                                                  "paper_params_m", "paper_gmacs")},
                     "params_diff_pct": "{:+.1f}", "gmacs_diff_pct": "{:+.1f}"},
             caption="Paper-scale configurations: parameters (M) and GMACs per view counted from code, beside the "
                     "papers' printed numbers (blank: not printed) and the difference (%)")

# %%
print(zoo.describe_zoo(table))
