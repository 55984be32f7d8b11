# ---
# jupyter:
#   maskedav:
#     needs: []
#     order: 20
#     title: 'Reliability: faults injected, inputs tried, what held'
# ---

# %% [markdown]
# # Reliability: faults injected, inputs tried, what held
#
# A result can only be trusted if the code that made it fails loudly on bad input and survives the
# accidents of a long run. This page does not assert that: it **injects the faults and tries the inputs
# now**, when the notebook runs, and reports how many behaved as promised. Each row of the table below is
# one check; *held* counts the cases that kept the promise written in the *held means* column.
#
# **Faults injected** into a small training run (the toy model of `maskedav.train.toy`, the same training
# loop as every method of the book):
#
# * a **NaN, +inf or −inf loss** term at one step of a run that writes a checkpoint every two steps. The
#   run must stop with a `FloatingPointError` naming the step and the term, and the checkpoint left on disk
#   must be the last good step: finite, and bit for bit the state of the same run without the fault;
# * **SIGTERM** (a pre-empted cluster job), **SIGINT** (Ctrl-C, a kernel interrupt) and **SIGKILL** sent to
#   a separate process while it trains. SIGTERM and SIGINT must write a checkpoint and exit with the
#   shell's codes 143 and 130; SIGKILL cannot be caught, so the last periodic checkpoint must be intact.
#   Resuming from the checkpoint must give final weights **bitwise equal** to an uninterrupted run.
#
# **Inputs tried**, counted by kind:
#
# * **config values out of range**: mask ratios outside (0, 1) or of the wrong type, patch sizes that do
#   not tile the input, complementary masks impossible at the ratio, unknown choices and profiles. Each
#   must fail when the config is built, with a `ValueError` / `TypeError` whose message names the field;
# * **damaged and junk media files** (zero bytes, random bytes, real files cut at either end or with
#   bytes overwritten, missing paths) through every reader of `maskedav.data.media` (`probe`,
#   `read_video` by frames and at a frame rate, `read_audio`, `read_clip`). Each must decode to finite
#   values or raise the documented `MediaError` naming the file, within two seconds: never another
#   exception, never zeros for a file that holds nothing, never a hang. The real files are written by the
#   library's own writer (mp4, webm, avi, mkv, wav) and then damaged;
# * where `ffmpeg` is installed, **files the library did not write** (VP9/Opus webm, H.264/FLAC mkv,
#   MPEG-4/MP3 avi, NTSC-rate mp4, variable frame rate, odd frame size, audio only): every decoded frame
#   count must equal `ffprobe`'s, and the audio rate and channels too.
#
# The checks live in `maskedav.reliability`; the same promises are tested in more depth by the test suite
# (`tests/test_train.py`, `tests/test_config_validation.py`, `tests/test_media_fuzz.py`,
# `tests/test_media_corpus.py`). The battery is the same at every profile and runs on the CPU.

# %% tags=["parameters"]
profile = "cpu"
results_dir = None

# %%
from IPython.display import Markdown, display

from maskedav import reliability
from maskedav.results import Recorder
from maskedav.study import format_table

rec = Recorder("performance", profile=profile, results_dir=results_dir, parameters=dict(profile=profile),
               device="cpu", dataset="toy training runs and media files made here")
table = reliability.battery()

# %% [markdown]
# ## What held

# %%
caption = ("Reliability battery, run by this notebook: each fault injected and each kind of input tried, "
           "how many cases were tried and how many held (behaved as the 'held means' column promises).")
_ = rec.table(table, "reliability", caption=caption)
display(format_table(table, {"tried": "{:d}", "held": "{:d}"}, caption))

# %%
display(Markdown(reliability.summary(table)))
