"""Sanity probes: which stream can solve which SynthAV task (the benchmark's designed properties).

Three cheap probes, fit on the ``train`` split and scored on ``test``:

* **frame** (bag of frames): per-frame translation-invariant features (log-magnitude 2-D spectra of
  the RGB and saturation channels, and the mass of six hue bands), pooled over frames by mean and
  max, then a multinomial logistic regression (scikit-learn's ``LogisticRegression`` objective,
  fit with L-BFGS in torch). Pooling over frames makes it a function of the *set* of frames, so it
  cannot tell a clip from the same clip played backwards.
* **audio**: statistics over time of the Kaldi fbank (mean, std, mean |delta|, max per mel bin),
  then the same logistic regression.
* **AV**: the audio picks a colour: an attention over six hue bands computed from the audio
  features weights per-band spectral features of the frames, and a linear head reads the class.
  It must *learn* which sound goes with which colour (nothing tells it), so it succeeds only if
  the two streams are bound the way SynthAV says they are.

:func:`sanity_table` runs them over seeds and compares each accuracy with the chance level and the
most that the stream can know (its *ceiling*), returning a verdict per row decided by a rule fixed
in code: ``near-perfect`` (>= 0.9), ``chance`` / ``at most the ceiling`` (within 3 binomial
standard errors), ``needs both`` (above both single-stream ceilings by 3 standard errors).
"""
from __future__ import annotations

import contextlib
import math

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from . import synthav as S
from .audio import fbank

HUE_BANDS = 6          # centres at 0, 60, ..., 300 degrees (red, yellow, green, cyan, blue, magenta)


# ------------------------------------------------------------------------------------- features

def hue_bands(video: torch.Tensor) -> torch.Tensor:
    """Soft hue bands weighted by saturation: ``(B, 3, T, H, W) -> (B, 6, T, H, W)``."""
    r, g, b = video[:, 0], video[:, 1], video[:, 2]
    saturation = video.amax(1) - video.amin(1)
    hue = torch.atan2(math.sqrt(3) * (g - b), 2 * r - g - b)
    centres = torch.arange(HUE_BANDS, device=video.device) * (2 * math.pi / HUE_BANDS)
    d = torch.remainder(hue[:, None] - centres.view(1, -1, 1, 1, 1) + math.pi, 2 * math.pi) - math.pi
    return torch.exp(-0.5 * (d / (math.pi / 8)) ** 2) * saturation[:, None]


def _spectra(x: torch.Tensor) -> torch.Tensor:
    """Log-magnitude 2-D spectra of ``(B, C, T, H, W)`` maps, pooled over T by mean and max -> ``(B, C, F)``.

    The magnitude of the Fourier transform does not change when the content moves (translation
    invariance), so a linear read-out of it can recognise a shape wherever it is.
    """
    x = x - x.mean((-1, -2), keepdim=True)
    spec = torch.log1p(4.0 * torch.fft.rfft2(x).abs())
    H, keep = spec.shape[-2], spec.shape[-2] // 4 + 1   # the lowest quarter of frequencies
    spec = torch.cat([spec[..., :keep, :keep], spec[..., H - keep + 1:, :keep]], dim=-2)
    return torch.cat([spec.mean(2), spec.amax(2)], dim=-1).flatten(2)


def frame_features(video: torch.Tensor, chunk: int = 128) -> torch.Tensor:
    """Bag-of-frames features ``(B, F)``: any permutation of the frames gives the same vector."""
    out = []
    for a in range(0, len(video), chunk):
        v = video[a:a + chunk].float()
        saturation = (v.amax(1, keepdim=True) - v.amin(1, keepdim=True))
        spectra = _spectra(torch.cat([v, saturation], dim=1)).flatten(1)
        mass = hue_bands(v).mean((2, 3, 4))
        out.append(torch.cat([spectra, mass], dim=1))
    return torch.cat(out)


def hue_band_features(video: torch.Tensor, chunk: int = 128) -> torch.Tensor:
    """Per-hue-band spectra and mass ``(B, 6, F)`` (what the AV probe attends over)."""
    out = []
    for a in range(0, len(video), chunk):
        bands = hue_bands(video[a:a + chunk].float())
        out.append(torch.cat([_spectra(bands), bands.mean((2, 3, 4))[..., None]], dim=-1))
    return torch.cat(out)


def audio_features(audio: torch.Tensor, sample_rate: int = 16000, num_mel_bins: int = 64) -> torch.Tensor:
    """Time statistics of the fbank ``(B, 4 * num_mel_bins)``: mean, std, mean |delta|, max."""
    fb = fbank(audio, sample_rate, num_mel_bins)
    delta = (fb[:, 1:] - fb[:, :-1]).abs().mean(1)
    return torch.cat([fb.mean(1), fb.std(1), delta, fb.amax(1)], dim=1)


# ---------------------------------------------------------------------------------------- probes

@contextlib.contextmanager
def _one_thread():
    """The probes are tiny models: one intra-op thread avoids thread hand-off costs (large on a busy CPU)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _standardise(train: torch.Tensor, test: torch.Tensor, dims) -> tuple[torch.Tensor, torch.Tensor]:
    mean, std = train.mean(dims, keepdim=True), train.std(dims, keepdim=True) + 1e-6
    return (train - mean) / std, (test - mean) / std


def logistic_probe(x_train: torch.Tensor, labels: dict, x_test: torch.Tensor, *, C: float = 0.01,
                   max_iter: int = 200) -> dict:
    """Multinomial logistic regression per task on standardised features; test class probabilities.

    The objective is scikit-learn's ``LogisticRegression(C=C)``: ``C * sum(cross-entropy) + |W|^2 / 2``
    (bias not penalised), minimised with L-BFGS. All tasks are fit in one call (their parameters
    are separate, so this equals separate fits).
    """
    x_train, x_test = _standardise(x_train.double(), x_test.double(), (0,))
    n = len(x_train)
    params = {t: (torch.zeros(x_train.shape[1], int(y.max()) + 1, dtype=torch.float64, requires_grad=True),
                  torch.zeros(int(y.max()) + 1, dtype=torch.float64, requires_grad=True))
              for t, y in labels.items()}
    opt = torch.optim.LBFGS([p for wb in params.values() for p in wb], lr=1.0, max_iter=max_iter,
                            history_size=10, line_search_fn="strong_wolfe", tolerance_grad=1e-7)

    def objective():
        opt.zero_grad()
        loss = sum(F.cross_entropy(x_train @ w + b, labels[t]) + (w * w).sum() / (2 * C * n)
                   for t, (w, b) in params.items())
        loss.backward()
        return loss

    opt.step(objective)
    with torch.no_grad():
        return {t: (x_test @ w + b).softmax(-1).float().numpy() for t, (w, b) in params.items()}


class AudioGatedProbe(nn.Module):
    """Audio -> attention over hue bands; attended per-band visual features + audio -> one head per task."""

    def __init__(self, band_dim: int, audio_dim: int, num_classes: dict, hidden: int = 64):
        super().__init__()
        self.attend = nn.Linear(audio_dim, HUE_BANDS)
        self.visual = nn.Sequential(nn.Linear(band_dim, hidden), nn.ReLU())
        self.heads = nn.ModuleDict({t: nn.Linear(hidden + audio_dim, k) for t, k in num_classes.items()})

    def forward(self, bands: torch.Tensor, audio: torch.Tensor) -> dict:
        weights = self.attend(audio).softmax(-1)                         # (B, 6): which colour sounds
        pooled = (weights[..., None] * self.visual(bands)).sum(1)        # (B, hidden)
        joint = torch.cat([pooled, audio], dim=1)
        return {t: head(joint) for t, head in self.heads.items()}


def av_probe(bands_train, audio_train, labels: dict, bands_test, audio_test, num_classes: dict, *,
             seed: int = 0, steps: int = 300, lr: float = 3e-3, weight_decay: float = 1e-2,
             dropout: float = 0.2) -> dict:
    """Fit :class:`AudioGatedProbe` full-batch with AdamW on all ``labels`` tasks; test probabilities."""
    bands_train, bands_test = _standardise(bands_train.float(), bands_test.float(), (0, 1))
    audio_train, audio_test = _standardise(audio_train.float(), audio_test.float(), (0,))
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    model = AudioGatedProbe(bands_train.shape[-1], audio_train.shape[-1], num_classes)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    for _ in range(steps):
        keep = (torch.rand(bands_train.shape, generator=gen) > dropout).float() / (1 - dropout)
        out = model(bands_train * keep, audio_train)
        loss = sum(F.cross_entropy(out[t], y) for t, y in labels.items())
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        return {t: p.softmax(-1).numpy() for t, p in model(bands_test, audio_test).items()}


# ------------------------------------------------------------------------------------------ table

def reversal_pair_accuracy(proba: np.ndarray, motion: np.ndarray) -> tuple[float, int]:
    """Accuracy of telling each reversal pair apart (the probe's scores restricted to the pair)."""
    correct, total = 0, 0
    for a, b in S.reversal_pair_labels():
        rows = (motion == a) | (motion == b)
        pick_b = proba[rows][:, b] > proba[rows][:, a]
        correct += int((pick_b == (motion[rows] == b)).sum())
        total += int(rows.sum())
    return correct / max(total, 1), total


def modality_ceilings(test: dict) -> dict:
    """The most a single stream can know, computed from the test clips.

    Video alone cannot tell which object sounds, and the sounding object is uniform among the
    objects present (with distinct shapes and materials), so its best guess is right 1/n of the time;
    audio alone knows nothing about shapes. A bag of frames cannot order frames: within each
    reversal pair it is at 1/2, and on the 13-way motion task at most (pairs / 2 + others) / 13.
    """
    n_objects = test["meta"]["n_objects"].float()
    video_guess = float((1.0 / n_objects).mean())
    motion = test["labels"]["motion"]
    in_pair = torch.zeros_like(motion, dtype=torch.bool)
    for a, b in S.reversal_pair_labels():
        in_pair |= (motion == a) | (motion == b)
    bag_motion = float(torch.where(in_pair, 0.5, 1.0).mean())
    return dict(video_which_object=video_guess, bag_motion=bag_motion)


def run_probes(cfg: S.SynthAVConfig, seed: int = 0, device=None, *, num_mel_bins: int = 64) -> list[dict]:
    """One seed: generate train/test of the config with data seed ``cfg.seed + seed``, fit all probes."""
    cfg = cfg.with_(seed=cfg.seed + seed)
    train = S.generate(cfg, "train", range(cfg.n_train), device)
    test = S.generate(cfg, "test", range(cfg.n_test), device)
    to_cpu = lambda d: {k: (to_cpu(v) if isinstance(v, dict) else v.cpu()) for k, v in d.items()}  # noqa: E731
    train, test = to_cpu(train), to_cpu(test)
    feats = dict(
        frame=(frame_features(train["video"]), frame_features(test["video"])),
        audio=(audio_features(train["audio"], cfg.sample_rate, num_mel_bins),
               audio_features(test["audio"], cfg.sample_rate, num_mel_bins)),
    )
    bands = (hue_band_features(train["video"]), hue_band_features(test["video"]))
    ceil = modality_ceilings(test)
    rows = []

    def add(task, probe, proba, *, metric="accuracy", chance, ceiling, expect, n=None):
        y = test["labels"][task].numpy()
        if metric == "reversal-pair accuracy":
            acc, n = reversal_pair_accuracy(proba, y)
        else:
            acc, n = float((proba.argmax(1) == y).mean()), len(y)
        rows.append(dict(task=task, probe=probe, metric=metric, seed=seed, accuracy=acc, chance=chance,
                         ceiling=ceiling, expect=expect, n=n))

    K = {t: S.num_classes(t, cfg) for t in S.TASKS}
    probas = {}
    with _one_thread():
        for probe in ("frame", "audio"):
            fitted = logistic_probe(feats[probe][0], train["labels"], feats[probe][1])
            probas.update({(probe, t): p for t, p in fitted.items()})
        av_tasks = ("sound", "av_event")
        fitted = av_probe(bands[0], feats["audio"][0], {t: train["labels"][t] for t in av_tasks}, bands[1],
                          feats["audio"][1], {t: K[t] for t in av_tasks}, seed=seed)
        probas.update({("AV", t): p for t, p in fitted.items()})
    c = {t: 1.0 / K[t] for t in S.TASKS}
    add("appearance", "frame", probas["frame", "appearance"], chance=c["appearance"], ceiling=1.0, expect="near-perfect")
    add("appearance", "audio", probas["audio", "appearance"], chance=c["appearance"], ceiling=c["appearance"], expect="chance")
    add("motion", "frame", probas["frame", "motion"], metric="reversal-pair accuracy", chance=0.5, ceiling=0.5, expect="chance")
    add("motion", "frame", probas["frame", "motion"], chance=c["motion"], ceiling=ceil["bag_motion"], expect="at most the ceiling")
    add("motion", "audio", probas["audio", "motion"], chance=c["motion"], ceiling=1.0, expect="above chance")
    add("sound", "audio", probas["audio", "sound"], chance=c["sound"], ceiling=1.0, expect="near-perfect")
    add("sound", "frame", probas["frame", "sound"], chance=c["sound"], ceiling=ceil["video_which_object"], expect="at most the ceiling")
    add("sound", "AV", probas["AV", "sound"], chance=c["sound"], ceiling=1.0, expect="near-perfect")
    add("av_event", "audio", probas["audio", "av_event"], chance=c["av_event"], ceiling=c["av_event"], expect="chance")
    add("av_event", "frame", probas["frame", "av_event"], chance=c["av_event"], ceiling=ceil["video_which_object"], expect="at most the ceiling")
    add("av_event", "AV", probas["AV", "av_event"], chance=c["av_event"], ceiling=1.0, expect="needs both")
    return rows


def _verdict(row, single_stream_ceiling: float) -> str:
    se = lambda p: math.sqrt(max(p * (1 - p), 1e-4) / row["n"])  # noqa: E731
    acc, expect = row["accuracy"], row["expect"]
    if expect == "near-perfect":
        ok = acc >= 0.9
    elif expect == "chance":
        ok = abs(acc - row["chance"]) <= 3 * se(row["chance"])
    elif expect == "at most the ceiling":
        ok = acc <= row["ceiling"] + 3 * se(row["ceiling"])
    elif expect == "above chance":
        ok = acc > row["chance"] + 3 * se(row["chance"])
    elif expect == "needs both":
        ok = acc > single_stream_ceiling + 3 * se(single_stream_ceiling)
    else:
        raise ValueError(expect)
    return "as designed" if ok else "NOT as designed"


def sanity_table(cfg: S.SynthAVConfig, seeds=(0,), device=None, *, num_mel_bins: int = 64):
    """Probe accuracies (mean and std over data seeds) with chance, ceiling, expectation and verdict."""
    import pandas as pd

    rows = [row for seed in seeds for row in run_probes(cfg, seed, device, num_mel_bins=num_mel_bins)]
    df = pd.DataFrame(rows)
    keys = ["task", "probe", "metric", "expect"]
    table = (df.groupby(keys, sort=False)
               .agg(accuracy=("accuracy", "mean"), std=("accuracy", "std"), chance=("chance", "mean"),
                    ceiling=("ceiling", "mean"), n=("n", "mean"), seeds=("seed", "count"))
               .reset_index())
    table["std"] = table["std"].fillna(0.0)
    frame_ceiling = table.query("task == 'av_event' and probe == 'frame'")["ceiling"].iloc[0]
    audio_ceiling = table.query("task == 'av_event' and probe == 'audio'")["ceiling"].iloc[0]
    both = max(frame_ceiling, audio_ceiling)
    table["n"] = (table["n"] * table["seeds"]).round().astype(int)   # pooled over seeds for the SE
    table["verdict"] = [_verdict(r, both) for r in table.to_dict("records")]
    return table[["task", "probe", "metric", "accuracy", "std", "chance", "ceiling", "expect", "verdict", "seeds"]]


# ------------------------------------------------------------------------------- task structure

def task_structure(cfg: S.SynthAVConfig, split: str = "test", count: int | None = None):
    """How ``av_event`` relates to ``appearance`` on ``count`` clips of ``split`` (all by default), per
    number of objects in the clip: the share of clips, the share whose sounding object is the actor
    (then ``av_event`` equals ``appearance``), and the accuracy on ``av_event`` of the label-only rule
    "answer the actor's shape" — the shortcut an audio-visual model must beat to show it binds the
    sound to its object. Computed from the scenes (labels and slots), no pixels rendered."""
    import pandas as pd

    n = cfg.size(split) if count is None else count
    parts = [S.sample_scenes(cfg, split, range(a, min(a + 4096, n))) for a in range(0, n, 4096)]
    n_obj = torch.cat([p["n_objects"] for p in parts])
    actor = torch.cat([p["sounding"] for p in parts]) == 0
    hit = torch.cat([p["labels"]["av_event"] == p["labels"]["appearance"] for p in parts])
    rows = [dict(objects=str(k), clips=float((n_obj == k).float().mean() * 100),
                 sounding_is_actor=float(actor[n_obj == k].float().mean() * 100),
                 actor_shape_rule=float(hit[n_obj == k].float().mean() * 100))
            for k in sorted(set(n_obj.tolist()))]
    rows.append(dict(objects="all", clips=100.0, sounding_is_actor=float(actor.float().mean() * 100),
                     actor_shape_rule=float(hit.float().mean() * 100)))
    return pd.DataFrame(rows)
