# ---
# jupyter:
#   maskedav:
#     order: 10
#     title: 'SynthAV: a tour of the book''s benchmark'
# ---

# %% [markdown]
# # SynthAV: a tour of the book's benchmark
#
# No dataset of the five papers can be downloaded on the machines that build this book, so every
# chapter trains and evaluates on **SynthAV**, a procedural audio-visual benchmark generated on
# the fly (`maskedav.data.synthav`). A clip is a textured background with one to three objects.
# The largest object is the **actor**: the visual labels describe it. One object, picked at random,
# is the **sounding object**: the audio is its sound, and the sound tells *what* it is (its
# material, which is also its colour, sets the timbre), *where* it is (pitch follows its height,
# amplitude-modulation rate and depth follow its horizontal position), *how big* it is (loudness)
# and *when* things happen to it (onsets at bounces, appearance and collisions; silence while it
# is hidden).
#
# Four label sets are separate targets of the same clips: `appearance` (the actor's shape, a
# Kinetics-400 analogue), `motion` (the actor's dynamics, a Something-Something-v2 analogue whose
# five time-reversal pairs are the same frames in opposite order), `sound` (the sounding object's
# timbre, an ESC-50 analogue) and `av_event` (the shape of the object that makes the sound, which
# needs both streams). This notebook shows the clips, the sound, the knobs, how fast generation is,
# and checks with simple probes that each stream can solve exactly the tasks it is meant to.

# %% tags=["parameters"]
profile = "cpu"
results_dir = None

# %%
import time

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
from IPython.display import Audio, Markdown, display

from maskedav import viz
from maskedav.data import audio as A
from maskedav.data import sanity
from maskedav.data import synthav as S
from maskedav.profiles import get_profile
from maskedav.results import Recorder
from maskedav.study import format_table

P = get_profile(profile)
rec = Recorder("data", profile=profile, results_dir=results_dir, parameters=dict(profile=profile))
device = P.resolve_device()
viz.set_style()
cfg = S.SynthAVConfig.from_profile(P)
display(Markdown(
    f"At the `{P.name}` profile a clip is {cfg.frames} frames of {cfg.image_size} × {cfg.image_size} px at "
    f"{cfg.fps:g} fps ({cfg.clip_seconds:g} s) with {cfg.sample_rate:,} Hz mono audio (SNR {cfg.audio_snr_db:g} dB); "
    f"the splits hold {cfg.n_pretrain:,} pre-training, {cfg.n_train:,} training, {cfg.n_val:,} validation and "
    f"{cfg.n_test:,} test clips; this page ran on `{device}`."))

# %% [markdown]
# ## The tasks
#
# Class names and counts per task. Chance is one over the number of classes (labels are drawn
# uniformly).

# %%
tasks = pd.DataFrame([
    dict(task=t, classes=S.num_classes(t, cfg), chance=1 / S.num_classes(t, cfg),
         names=", ".join(S.class_names(t, cfg)))
    for t in S.TASKS])
rec.table(tasks, "tasks", caption="SynthAV label sets (separate targets of the same clips)")
format_table(tasks, {"chance": "{:.1%}"}, "SynthAV label sets (separate targets of the same clips)")

# %% [markdown]
# **How much of `av_event` a shortcut answers.** The sounding object is drawn among the objects present, and
# one clip in five has only the actor, so "answer the actor's shape" (the `appearance` label, no sound needed)
# is right whenever the actor is the one that sounds. A model has bound the sound to its object only when it
# beats this rule, above all on clips with two or three objects, where a small distractor (about one patch at
# the `cpu` profile's 32 px) often sounds.

# %%
structure = sanity.task_structure(cfg)
rec.table(structure, "av_event_structure",
          caption=f"av_event on the test split ({cfg.n_test:,} clips, {P.name} profile): share of clips per number "
                  "of objects (%), share whose sounding object is the actor (%), and the accuracy (%) of the "
                  "label-only rule 'answer the actor's shape'")
display(format_table(structure, {c: "{:.1f}" for c in structure.columns if c != "objects"},
                     "av_event and the actor-shape shortcut"))

# %% [markdown]
# ## Example clips
#
# One clip per motion class (rows). The last column is the sounding object's ground-truth mask
# (union over frames): the localisation target. Titles give the four labels.

# %%
examples = S.generate(cfg, "val", range(13), motion=torch.arange(13))


def show_frames(ax_row, video, mask=None):
    for t, ax in enumerate(ax_row[: video.shape[1]]):
        ax.imshow(video[:, t].permute(1, 2, 0).clamp(0, 1).numpy(), interpolation="nearest")
        ax.set_xticks([]), ax.set_yticks([])
    if mask is not None:
        ax_row[-1].imshow(mask.any(0).numpy(), cmap="gray", interpolation="nearest")
        ax_row[-1].set_xticks([]), ax_row[-1].set_yticks([])


T = cfg.frames
fig, axes = plt.subplots(13, T + 1, figsize=(viz.PAGE_WIDTH, 13 * viz.PAGE_WIDTH / (T + 1) * 1.25))
for b in range(13):
    show_frames(axes[b], examples["video"][b], examples["source_mask"][b])
    lab = {t: S.class_names(t, cfg)[int(examples["labels"][t][b])] for t in S.TASKS}
    axes[b, 0].set_title(f"motion: {lab['motion']} | appearance: {lab['appearance']} | sound: {lab['sound']} "
                         f"| av_event: {lab['av_event']}", loc="left")
axes[0, -1].set_title("source")
fig.subplots_adjust(hspace=0.45, wspace=0.05)
rec.figure(fig, "tour_frames", caption="One SynthAV clip per motion class; last column: sounding-object mask")
plt.show()

# %% [markdown]
# A reversal pair is the same clip played backwards: below, `right` and `left` for the same
# index. Any statistic of the *set* of frames (a mean over frames, a bag-of-frames classifier)
# is identical for the two, so only a model that uses frame order can tell them apart.

# %%
pair = [S.generate(cfg, "val", [0], motion=S.MOTIONS.index(m)) for m in ("right", "left")]
fig, axes = plt.subplots(2, T + 1, figsize=(viz.PAGE_WIDTH, 2 * viz.PAGE_WIDTH / (T + 1) * 1.3))
for row, (g, name) in enumerate(zip(pair, ("right", "left"))):
    show_frames(axes[row], g["video"][0])
    axes[row, -1].imshow(g["video"][0].mean(1).permute(1, 2, 0).numpy())
    axes[row, -1].set_xticks([]), axes[row, -1].set_yticks([])
    axes[row, 0].set_title(name, loc="left")
axes[0, -1].set_title("mean frame")
fig.tight_layout()
rec.figure(fig, "tour_reversal", caption="A reversal pair: the same frames in opposite order")
plt.show()
same = torch.equal(pair[1]["video"], pair[0]["video"].flip(2))
print("left clip == right clip reversed in time:", same)

# %% [markdown]
# ## The sound
#
# Kaldi fbank (the CAV-MAE / AudioMAE front end, `maskedav.data.audio.fbank`) of one clip per
# sound class. White ticks mark the frames with an audible event (onsets); the dashed line is the
# pitch the sounding object's height should produce (200 Hz at the bottom, 800 Hz at the top).

# %%
pool = S.generate(cfg, "val", range(64))
picks = [int((pool["labels"]["sound"] == k).nonzero()[0]) for k in range(len(S.SOUNDS))
         if (pool["labels"]["sound"] == k).any()]
fb = A.fbank(pool["audio"][picks], cfg.sample_rate, P.data.num_mel_bins)
mel_hz = 700 * (10 ** (np.linspace(2595 * np.log10(1 + 20 / 700), 2595 * np.log10(1 + 8000 / 700),
                                   P.data.num_mel_bins + 2)[1:-1] / 2595) - 1)
fig, axes = viz.panel_grid(len(picks), panel=(4.0, 2.6))
for ax, b, spec in zip(axes, picks, fb):
    ax.imshow(spec.T.numpy(), origin="lower", aspect="auto", cmap=viz.CMAPS["spectrogram"])
    frames_per_video_frame = spec.shape[0] / cfg.frames
    for k in pool["meta"]["events"][b].nonzero().flatten().tolist():
        ax.axvline(k * frames_per_video_frame, color="white", lw=0.8, ymax=0.08)
    pitch = pool["meta"]["pitch_hz"][b].numpy()
    ax.plot((np.arange(cfg.frames) + 0.5) * frames_per_video_frame, np.interp(pitch, mel_hz, np.arange(len(mel_hz))),
            "w--", lw=0.8)
    ax.set_title(f"{S.class_names('sound', cfg)[int(pool['labels']['sound'][b])]}, "
                 f"{S.MOTIONS[int(pool['labels']['motion'][b])]} actor")
    ax.set_xlabel("fbank frame (10 ms)"), ax.set_ylabel("mel bin")
fig.tight_layout()
rec.figure(fig, "tour_spectrograms", caption="Fbank of one clip per sound class; ticks: audio onsets")
plt.show()

# %% [markdown]
# Listen to the first three sound classes (one clip each).

# %%
for b in picks[:3]:
    print(S.class_names("sound", cfg)[int(pool["labels"]["sound"][b])])
    display(Audio(pool["audio"][b].numpy(), rate=cfg.sample_rate))

# %% [markdown]
# ## Knobs
#
# Video degradation (AV-MaskEnhancer's motivation: audio should help more when the video is
# poor) and the audio SNR are fields of `SynthAVConfig`; the clip content stays the same.

# %%
knobs = [("clean", {}), ("down/up x2", dict(downsample=2)), ("down/up x4", dict(downsample=4)),
         ("blur 1.5 px", dict(blur_sigma=1.5)), ("pixel noise 0.1", dict(pixel_noise=0.1))]
fig, axes = plt.subplots(1, len(knobs), figsize=(viz.PAGE_WIDTH, viz.PAGE_WIDTH / len(knobs) + 0.5))
for ax, (name, change) in zip(axes, knobs):
    v = S.generate(cfg.with_(**change), "val", [3])["video"][0]
    ax.imshow(v[:, 0].permute(1, 2, 0).numpy(), interpolation="nearest")
    ax.set_title(name), ax.set_xticks([]), ax.set_yticks([])
fig.tight_layout()
rec.figure(fig, "tour_knobs", caption="Video degradation knobs on the same frame")
plt.show()

snrs = [30.0, 10.0, 0.0]
fig, axes = viz.panel_grid(len(snrs), panel=(4.0, 2.4))
for ax, snr in zip(axes, snrs):
    w = S.generate(cfg.with_(audio_snr_db=snr), "val", [3])["audio"]
    ax.imshow(A.fbank(w, cfg.sample_rate, P.data.num_mel_bins)[0].T.numpy(), origin="lower", aspect="auto",
              cmap=viz.CMAPS["spectrogram"])
    ax.set_title(f"SNR {snr:g} dB (default {cfg.audio_snr_db:g})")
fig.tight_layout()
rec.figure(fig, "tour_snr", caption="The same clip's fbank at three background-noise levels")
plt.show()

# %% [markdown]
# The image sets: single frames of clips (what an image teacher / frame branch sees) and
# *unrelated* images (static objects on another background distribution, never part of a clip;
# CrossVideoMAE's corresponding-vs-unrelated ablation).

# %%
images = {k: S.generate_images(cfg, k, range(8)) for k in S.IMAGE_SETS}
fig, axes = plt.subplots(2, 8, figsize=(viz.PAGE_WIDTH, 2.6))
for row, k in enumerate(S.IMAGE_SETS):
    for i in range(8):
        axes[row, i].imshow(images[k]["image"][i].permute(1, 2, 0).numpy(), interpolation="nearest")
        axes[row, i].set_xticks([]), axes[row, i].set_yticks([])
    axes[row, 0].set_title(k, loc="left")
fig.tight_layout()
rec.figure(fig, "tour_images", caption="Image sets: clip frames (top) and unrelated static images (bottom)")
plt.show()

# %% [markdown]
# ## Generation speed
#
# Clips per second on this device at the profile's clip size, for whole batches (how the loaders
# generate), with and without audio. A loader over a split of this size keeps the split in memory
# after its first epoch, so later epochs only index (last row).

# %%
def clips_per_second(n, **kwargs):
    S.generate(cfg, "pretrain", range(min(n, 8)), device, **kwargs)   # warm-up
    start = time.perf_counter()
    S.generate(cfg, "pretrain", range(n), device, **kwargs)
    return n / (time.perf_counter() - start)


n_speed = min(512, max(cfg.n_pretrain, 64))
speed_rows = [dict(what=f"generate {n_speed} clips (video + audio)", clips_per_s=clips_per_second(n_speed)),
              dict(what=f"generate {n_speed} clips (video only)", clips_per_s=clips_per_second(n_speed, audio=False)),
              dict(what="generate 32 clips (one batch)", clips_per_s=clips_per_second(32))]
loader = S.SynthAVLoader(cfg, "train", P.train.batch_size, device=device)
start = time.perf_counter()
n_seen = sum(len(b["index"]) for b in loader)          # first epoch: generates (and caches) the split
first = time.perf_counter() - start
start = time.perf_counter()
n_seen = sum(len(b["index"]) for b in loader)
speed_rows += [dict(what="loader, first epoch of train (generates)", clips_per_s=n_seen / first),
               dict(what="loader, later epoch of train (cached)", clips_per_s=n_seen / (time.perf_counter() - start))]
speed = pd.DataFrame(speed_rows)
speed["device"] = device
speed["clip"] = f"{cfg.frames}x{cfg.image_size}x{cfg.image_size} + {cfg.num_samples} samples"
rec.table(speed, "generation_speed", caption=f"SynthAV generation speed on {device}")
S.clear_cache()
speed

# %%
batch_rate = speed.loc[2, "clips_per_s"]
print(f"One training batch of {P.train.batch_size} clips takes {1000 * P.train.batch_size / batch_rate:.0f} ms "
      f"to generate here; cached epochs serve {speed.loc[4, 'clips_per_s']:.0f} clips/s.")

# %% [markdown]
# ## Sanity probes
#
# Three simple probes (`maskedav.data.sanity`), fit on `train` and scored on `test`, one data seed
# per run: a **frame** probe that only sees the *set* of frames (translation-invariant spectra
# pooled over frames, then logistic regression), an **audio** probe (fbank statistics, logistic
# regression) and an **AV** probe in which the audio chooses which colour band of the frames to
# read (it has to learn which sound goes with which colour). `chance` is one over the number of
# classes; `ceiling` is the most the probe's stream can know: a bag of frames is at 1/2 within a
# reversal pair, and video alone cannot know which object sounds (1 / number of objects).
# The verdict rule is fixed in code: near-perfect means at least 0.9; chance and ceiling
# comparisons allow three binomial standard errors. The probes see at most 2,048 train and 2,048 test
# clips per data seed (the splits of the chapters are larger; a sanity check does not need them).

# %%
seeds = P.seed_list
cfg_probe = cfg.with_(n_train=min(cfg.n_train, 2048), n_test=min(cfg.n_test, 2048))
table = sanity.sanity_table(cfg_probe, seeds=seeds, device=device, num_mel_bins=P.data.num_mel_bins)
rec.table(table, "sanity_probes", seeds=seeds,
          caption="Which stream solves which SynthAV task (probe accuracy on test, mean and std over data seeds)")
table

# %%
def verdict(task, probe, metric="accuracy"):
    row = table[(table.task == task) & (table.probe == probe) & (table.metric == metric)].iloc[0]
    return (f"{probe} probe on {task} ({metric}): {row.accuracy:.3f} vs chance {row.chance:.3f}, "
            f"ceiling {row.ceiling:.3f}, expected {row.expect} -> {row.verdict}")


for args in [("appearance", "frame"), ("motion", "frame", "reversal-pair accuracy"), ("sound", "audio"),
             ("appearance", "audio"), ("av_event", "frame"), ("av_event", "audio"), ("av_event", "AV")]:
    print(verdict(*args))
failed = table[table.verdict != "as designed"]
print()
if failed.empty:
    print(f"All {len(table)} rows behave as designed at profile '{profile}' "
          f"({len(seeds)} seed(s), {cfg_probe.n_train} train / {cfg_probe.n_test} test clips).")
else:
    print(f"{len(failed)} of {len(table)} rows do NOT behave as designed at profile '{profile}' "
          f"({cfg_probe.n_train} train / {cfg_probe.n_test} test clips; small profiles have too few clips for the probes):")
    print(failed[["task", "probe", "metric", "accuracy", "chance", "ceiling", "expect"]].to_string(index=False))

# %% [markdown]
# How to read the table: the frame probe recognises the actor's shape from frames alone, but
# within each reversal pair it is at chance, which is what makes `motion` a test of temporal
# modelling. The audio probe names the sound but knows nothing about shapes. Video alone cannot
# do better than guessing among the objects on `sound` and `av_event`, and audio alone is at
# chance on `av_event`; only the AV probe, which binds the sound to a colour, answers "what makes
# the sound". The printed verdicts above say whether this run's numbers show each of these
# properties; at the `smoke` profile the probes see a few dozen clips and the numbers carry no
# meaning.
