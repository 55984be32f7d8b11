"""Recipes the baselines notebooks call: pre-train a method on SynthAV, probe it, draw its figures.

One call, :func:`run_baseline`, does what a baselines notebook needs for one method:

1. SynthAV at the profile's sizes (:func:`load_clips`, :func:`load_frames`; fbank features computed once
   with :func:`maskedav.data.audio.fbank`; the fbank input statistics are the pre-training split's, as
   AudioMAE / CAV-MAE use their datasets' statistics);
2. for each seed: build the method (weights from ``torch.manual_seed(seed)``, masks from its generator
   seeded with ``seed``), probe the **untrained** network (the random-init baseline), pre-train it with
   :func:`maskedav.train.train` for ``profile.train.steps`` steps (batches deterministic in the step, a
   held-out masked-reconstruction loss on the validation clips every ``eval_every`` steps under fixed masks),
   save it with :func:`maskedav.checkpoints.save_checkpoint` as ``baselines/<name>`` and probe it;
3. linear probes (:func:`maskedav.eval.linear_probe`, L-BFGS logistic regression, weight decay chosen on the
   validation split) on frozen mean-pooled features of every SynthAV task.

:func:`curves_figure`, :func:`reconstruction_figures`, :func:`probe_table` and :func:`describe_probes` turn
the result into the notebook's artifacts; :func:`load_baseline` gives later notebooks the trained model.
"""
from __future__ import annotations

import math
import time
from collections import OrderedDict
from dataclasses import dataclass, field

import numpy as np
import torch

from maskedav.checkpoints import load_checkpoint, save_checkpoint
from maskedav.eval import extract_features, linear_probe
from maskedav.train import TrainConfig, train

from . import BASELINES
from .base import per_sample_masked_mse

__all__ = [
    "BASELINE_SPECS", "synthav_config", "fbank_frames", "load_clips", "load_frames", "fbank_stats", "make_batch_fn",
    "heldout_eval_fn", "probe", "PretrainRun", "BaselineResult", "build_config", "run_baseline",
    "load_baseline", "curves_figure", "reconstruction_figures", "probe_table", "describe_probes",
    "describe_curves", "trivial_losses",
]

#: What each baseline trains on and which representations are probed.
BASELINE_SPECS = {
    "mae": dict(label="MAE", train_keys=("image",), reps=("frames",), fbank=False,
                rep_doc={"frames": "image encoder on every frame, mean over patches and frames"}),
    "videomae": dict(label="VideoMAE", train_keys=("video",), reps=("video",), fbank=False,
                     rep_doc={"video": "mean over the clip's tubelet tokens"}),
    "audiomae": dict(label="AudioMAE", train_keys=("fbank",), reps=("audio",), fbank=True,
                     rep_doc={"audio": "mean over the fbank's patch tokens"}),
    "cav_mae": dict(label="CAV-MAE", train_keys=("fbank", "video"), reps=("audio", "video", "joint"),
                    fbank=True, rep_doc={"audio": "(ii) audio pass, mean-pooled",
                                         "video": "(iii) middle-frame pass, mean-pooled",
                                         "joint": "(i) joint pass, mean over audio + video tokens"}),
}


# ------------------------------------------------------------------------------------------ data
def _profile(profile):
    from maskedav.profiles import get_profile

    return get_profile(profile) if isinstance(profile, str) or profile is None else profile


def synthav_config(profile):
    """:class:`~maskedav.data.synthav.SynthAVConfig` of a profile."""
    from maskedav.data.synthav import SynthAVConfig

    return SynthAVConfig.from_profile(_profile(profile))


_FBANK_CACHE: dict = {}


def load_clips(profile, split: str, *, fbank: bool = False, device=None) -> dict:
    """A whole SynthAV split as tensors: ``video (N, 3, T, H, W)``, ``audio (N, S)``, ``labels`` (one
    ``(N,)`` tensor per task) and, with ``fbank=True``, ``fbank (N, T_frames, n_mels)`` (Kaldi fbank,
    ``num_mel_bins`` of the profile). Generated on ``device`` (default CPU); memoised in memory."""
    from maskedav.data.synthav import materialize

    P = _profile(profile)
    cfg = synthav_config(P)
    data = materialize(cfg, split, device)
    out = dict(video=data["video"], audio=data["audio"], labels=data["labels"])
    if fbank:
        key = (cfg, split, P.data.num_mel_bins, str(data["audio"].device))
        if key not in _FBANK_CACHE:
            from maskedav.data.audio import fbank as kaldi_fbank

            _FBANK_CACHE[key] = torch.cat([
                kaldi_fbank(a, cfg.sample_rate, P.data.num_mel_bins) for a in data["audio"].split(256)])
        out["fbank"] = _FBANK_CACHE[key]
    return out


def load_frames(profile, start: int, count: int, device=None) -> dict:
    """SynthAV's single-image set ``"frames"`` (one frame of clips of their own stream, the actor visible):
    images ``start .. start + count - 1`` as ``image (N, 3, H, W)`` and ``labels["appearance"]``."""
    from maskedav.data.synthav import generate_images

    cfg = synthav_config(profile)
    parts = [generate_images(cfg, "frames", range(a, min(a + 256, start + count)), device)
             for a in range(start, start + count, 256)]
    return dict(image=torch.cat([p["image"] for p in parts]),
                labels=dict(appearance=torch.cat([p["labels"]["appearance"] for p in parts])))


def fbank_stats(fbank: torch.Tensor) -> tuple[float, float]:
    """Dataset mean and std of fbank values (AudioMAE's / CAV-MAE's ``norm_stats`` for SynthAV)."""
    return float(fbank.mean()), float(fbank.std())


def make_batch_fn(data: dict, batch_size: int, keys, seed: int = 0):
    """``batch_fn(step)``: batch ``step`` of epochs of ``data`` (tensors under ``keys``), each epoch a
    permutation drawn from ``(seed, epoch)`` — deterministic in the step (the engine's contract)."""
    n = len(data[keys[0]])
    per_epoch = max(n // batch_size, 1)
    perms: dict[int, torch.Tensor] = {}

    def batch_fn(step: int) -> dict:
        epoch, k = divmod(step, per_epoch)
        if epoch not in perms:
            perms.clear()
            perms[epoch] = torch.randperm(n, generator=torch.Generator().manual_seed(seed * 1_000_003 + epoch))
        idx = perms[epoch][k * batch_size:(k + 1) * batch_size]
        return {key: data[key][idx] for key in keys}

    return batch_fn


def _chunks(data: dict, keys, batch_size: int):
    n = len(data[keys[0]])
    return [{k: data[k][a:a + batch_size] for k in keys} for a in range(0, n, batch_size)]


def heldout_eval_fn(data: dict, keys, batch_size: int, mask_seed: int = 12345):
    """``eval_fn(model) -> {"heldout_loss": ..., <mean of each logged term>}`` on ``data`` under fixed
    masks: the method's generator is re-seeded with ``mask_seed`` for the pass and restored after, so
    every evaluation (and every seed's run) sees the same masks."""
    batches = _chunks(data, keys, batch_size)

    def eval_fn(model) -> dict:
        device = next(model.parameters()).device
        state = model.generator.get_state()
        model.generator.manual_seed(mask_seed)
        totals: dict[str, float] = {}
        count = 0
        try:
            for b in batches:
                b = {k: v.to(device) for k, v in b.items()}
                with torch.no_grad():
                    loss, logs = model(b)
                n = len(b[keys[0]])
                for k, v in {"heldout_loss": loss, **logs}.items():
                    totals[k] = totals.get(k, 0.0) + float(v) * n
                count += n
        finally:
            model.generator.set_state(state)
        return {k: v / count for k, v in totals.items()}

    return eval_fn


# ----------------------------------------------------------------------------------------- probes
def _rep_kwargs(name: str, rep: str) -> dict:
    return {"rep": rep} if name == "cav_mae" else {}


def _rep_keys(rep: str) -> tuple[str, ...]:
    return {"frames": ("video",), "video": ("video",), "audio": ("fbank",), "joint": ("fbank", "video")}[rep]


def probe(method, name: str, splits: dict, *, tasks=None, synthav=None, batch_size: int = 256,
          epochs: int = 50, device=None, seed: int = 0) -> list[dict]:
    """Linear probes of ``method``'s frozen representations on every task.

    ``splits``: ``{"train": data, "val": data, "test": data}`` (:func:`load_clips`); ``synthav``: the
    data's :class:`~maskedav.data.synthav.SynthAVConfig` (for the class counts). The logistic regression
    is fitted by mini-batch Adam for ``epochs`` passes (``profile.train.probe_epochs``; full-batch L-BFGS
    to convergence costs seconds per fit on 2 cores, too slow for every seed × task × strength). Returns one row per
    (representation, task): ``rep``, ``task``, ``val_acc``, ``test_acc`` (percent), ``weight_decay``.
    """
    from maskedav.data.synthav import TASKS, SynthAVConfig, num_classes

    tasks = tuple(tasks or TASKS)
    synthav = synthav or SynthAVConfig()
    rows = []
    for rep in BASELINE_SPECS[name]["reps"]:
        keys, kw = _rep_keys(rep), _rep_kwargs(name, rep)
        feats = {s: extract_features(method, _chunks(d, keys, batch_size), device=device,
                                     forward=lambda m, b: m.embed(b, **kw))[0]
                 for s, d in splits.items()}
        for task in tasks:
            y = {s: d["labels"][task].cpu() for s, d in splits.items()}
            res = linear_probe(feats["train"], y["train"], feats["val"], y["val"], feats["test"], y["test"],
                               num_classes=num_classes(task, synthav), solver="adam", epochs=epochs,
                               seed=seed)
            rows.append(dict(rep=rep, task=task, val_acc=res.val_accuracy, test_acc=res.test_accuracy,
                             weight_decay=res.best_param))
    return rows


# ------------------------------------------------------------------------------------- pre-train
@dataclass
class PretrainRun:
    seed: int
    method: torch.nn.Module
    history: list[dict]          # training rows (step, loss, logged terms, ...)
    eval_history: list[dict]     # held-out rows (step, heldout_loss, ...)
    checkpoint: str | None
    train_s: float


@dataclass
class BaselineResult:
    name: str
    label: str
    profile: str
    config: object                               # the method config of seed 0 (seed field aside)
    runs: list[PretrainRun] = field(default_factory=list)
    probes: list[dict] = field(default_factory=list)   # rows: seed, init ("pretrained"/"random init"), rep, task, ...
    chance: dict = field(default_factory=dict)         # task -> majority-class accuracy on test (percent)
    heldout: dict = field(default_factory=dict)        # held-out data (for the figures)
    timing: dict = field(default_factory=dict)
    eval_batch_size: int = 0                           # batch size of the held-out evaluation

    @property
    def seeds(self) -> list[int]:
        return [r.seed for r in self.runs]


def fbank_frames(profile) -> int:
    """Fbank frames the audio models take at ``profile``: the Kaldi frame count of a SynthAV clip
    (25 ms window, 10 ms hop) floored to a multiple of the audio patch (the rest is cropped)."""
    from maskedav.data.audio import num_fbank_frames

    P = _profile(profile)
    cfg = synthav_config(P)
    n = num_fbank_frames(cfg.num_samples, cfg.sample_rate)
    return n // P.model.audio_patch * P.model.audio_patch


def build_config(name: str, profile, **changes):
    """The small config of baseline ``name`` at ``profile`` (``changes`` are config switches). Audio
    models get the data pipeline's fbank length (:func:`fbank_frames`)."""
    _, config_cls = BASELINES[name]
    P = _profile(profile)
    cfg = config_cls.from_profile(P)
    size = (fbank_frames(P), P.data.num_mel_bins)
    if name == "audiomae":
        cfg = cfg.replace(vit=cfg.vit.replace(input_size=size))
    elif name == "cav_mae":
        cfg = cfg.replace(audio=cfg.audio.replace(input_size=size))
    return cfg.replace(**changes)


def run_baseline(name: str, profile, *, profile_name: str | None = None, seeds=None, config=None,
                 device=None, save: bool = True, probe_tasks=None, progress: bool = False,
                 verbose: bool = True) -> BaselineResult:
    """Pre-train baseline ``name`` (``"mae"``, ``"videomae"``, ``"audiomae"``, ``"cav_mae"``) on SynthAV at
    ``profile``'s sizes for ``seeds`` (default: all of the profile's) and probe it (module docstring).

    ``config``: a method config to use instead of :func:`build_config` (its ``seed`` is replaced per run;
    fbank statistics are filled from the data when left at 0 / 1).
    """
    from maskedav.data.synthav import TASKS

    P = _profile(profile)
    profile_name = profile_name or P.name
    synthav = synthav_config(P)
    spec = BASELINE_SPECS[name]
    method_cls, _ = BASELINES[name]
    device = torch.device(device or P.resolve_device())
    seeds = list(P.seed_list if seeds is None else seeds)
    log = print if verbose else (lambda *a, **k: None)

    t0, c0 = time.perf_counter(), time.process_time()
    need_fbank = spec["fbank"]
    data_device = device if device.type == "cuda" else None     # generate on the GPU when training there
    splits = {s: load_clips(P, s, fbank=need_fbank, device=data_device) for s in ("train", "val", "test")}
    if name == "mae":
        pretrain_data = load_frames(P, 0, P.data.n_pretrain, device=data_device)
        heldout = load_frames(P, P.data.n_pretrain, P.data.n_val, device=data_device)
    else:
        pretrain_data = load_clips(P, "pretrain", fbank=need_fbank, device=data_device)
        heldout = splits["val"]
    cfg = config if config is not None else build_config(name, P)
    if need_fbank and (cfg.fbank_mean, cfg.fbank_std) == (0.0, 1.0):
        mean, std = fbank_stats(pretrain_data["fbank"])
        cfg = cfg.replace(fbank_mean=mean, fbank_std=std)
    keys = spec["train_keys"]
    result = BaselineResult(name=name, label=spec["label"], profile=profile_name, config=cfg,
                            heldout={k: heldout[k][:64] for k in keys},
                            eval_batch_size=min(P.train.batch_size, len(heldout[keys[0]])))
    result.chance = {t: 100.0 * float(torch.bincount(splits["test"]["labels"][t]).max()) /
                     len(splits["test"]["labels"][t]) for t in TASKS}
    result.timing["data_s"] = time.perf_counter() - t0
    sizes = ", ".join(f"{s} {len(d['video'])}" for s, d in splits.items())
    log(f"data: {len(pretrain_data[keys[0]])} pre-training samples; {sizes} clips "
        f"({result.timing['data_s']:.1f} s)")

    eval_fn = heldout_eval_fn(heldout, keys, P.train.batch_size)
    probe_s = 0.0
    for seed in seeds:
        torch.manual_seed(seed)
        method = method_cls(cfg.replace(seed=seed)).to(device)
        t = time.perf_counter()
        for row in probe(method, name, splits, tasks=probe_tasks, synthav=synthav,
                         epochs=P.train.probe_epochs, device=device, seed=seed):
            result.probes.append(dict(seed=seed, init="random init", **row))
        probe_s += time.perf_counter() - t
        tcfg = TrainConfig.from_profile(P.train, seed=seed, progress=progress)
        res = train(method, make_batch_fn(pretrain_data, P.train.batch_size, keys, seed), tcfg,
                    device=device, eval_fn=eval_fn, desc=f"{name} s{seed}")
        ckpt = None
        if save:
            last = res.eval_history[-1] if res.eval_history else {}
            ckpt = str(save_checkpoint(f"baselines/{name}", method, profile=profile_name, seed=seed,
                                       config=cfg.replace(seed=seed),
                                       extra=dict(steps=res.steps, heldout=last)))
        t = time.perf_counter()
        for row in probe(method, name, splits, tasks=probe_tasks, synthav=synthav,
                         epochs=P.train.probe_epochs, device=device, seed=seed):
            result.probes.append(dict(seed=seed, init="pretrained", **row))
        probe_s += time.perf_counter() - t
        result.runs.append(PretrainRun(seed, method, res.history, res.eval_history, ckpt, res.wall_time_s))
        curve = [r["heldout_loss"] for r in res.eval_history]
        log(f"seed {seed}: {res.steps} steps in {res.wall_time_s:.1f} s"
            + (f", held-out loss {curve[0]:.4f} -> {curve[-1]:.4f}" if curve else ""))
    result.timing["train_s"] = sum(r.train_s for r in result.runs)
    result.timing["probe_s"] = probe_s
    result.timing["total_s"] = time.perf_counter() - t0
    result.timing["cpu_time_s"] = time.process_time() - c0   # CPU seconds of this process (all threads)
    return result


def load_baseline(name: str, *, profile: str, seed: int = 0, map_location="cpu"):
    """The trained baseline ``name`` saved by its notebook at ``profile`` / ``seed`` (eval mode)."""
    method_cls, _ = BASELINES[name]
    payload = load_checkpoint(f"baselines/{name}", profile=profile, seed=seed, map_location=map_location)
    method = method_cls(payload["config"])
    method.load_state_dict(payload["state_dict"])
    return method.eval()


# ---------------------------------------------------------------------------------------- figures
def _smooth(v: np.ndarray, width: int) -> np.ndarray:
    if width <= 1 or len(v) < width:
        return v
    kernel = np.ones(width) / width
    pad = np.pad(v, (width // 2, width - 1 - width // 2), mode="edge")
    return np.convolve(pad, kernel, mode="valid")


@torch.no_grad()
def trivial_losses(result: BaselineResult, mask_seed: int = 12345) -> dict:
    """The masked-patch MSE of the trivial prediction on the held-out samples: 0 in norm-pix space (the
    true patch's own mean, the best guess that ignores the context), or the held-out mean pixel without
    norm-pix. ``{log name: value}`` (``loss_recon``; CAV-MAE ``loss_recon_a``, ``loss_recon_v`` and
    ``loss_contrast`` = ``ln B``, the InfoNCE of embeddings that carry no pairing information)."""
    from .base import norm_pix_stats

    method = result.runs[0].method
    norm = result.config.norm_pix
    device = next(method.parameters()).device
    batch = {k: v.to(device) for k, v in result.heldout.items()}
    state = method.generator.get_state()
    method.generator.manual_seed(mask_seed)
    try:
        with method._eval_mode():
            if result.name == "cav_mae":
                parts = {"loss_recon_a": (method.audio_space, method.fbank(batch),
                                          method.draw_mask("audio", len(batch["fbank"]), device)),
                         "loss_recon_v": (method.video_space, method.frame(batch),
                                          method.draw_mask("video", len(batch["video"]), device))}
            else:
                raw = method.space.raw(batch)
                parts = {"loss_recon": (method.space, raw, method.draw_mask(len(raw), device))}
    finally:
        method.generator.set_state(state)
    out = {}
    for key, (space, raw, mask) in parts.items():
        target = space.patchify(raw).float()
        shift, scale = norm_pix_stats(target, norm, space.channels)
        t = (target - shift) / scale
        guess = torch.zeros_like(t) if norm else t[mask.mask].mean(0).expand_as(t)
        out[key] = float(per_sample_masked_mse(guess, t, mask.mask).mean())
    if result.name == "cav_mae" and result.eval_batch_size:
        out["loss_contrast"] = math.log(result.eval_batch_size)   # InfoNCE of unrelated embeddings
    return out


def curves_figure(result: BaselineResult):
    """Held-out masked-reconstruction loss (fixed masks, validation clips) and the smoothed training loss,
    mean ± std over seeds; CAV-MAE: one panel per term (audio / video reconstruction, contrastive)."""
    import matplotlib.pyplot as plt

    from maskedav import viz

    runs = result.runs
    if result.name == "cav_mae":
        panels = [("loss_recon_a", "audio reconstruction", "masked-patch MSE"),
                  ("loss_recon_v", "frame reconstruction", "masked-patch MSE"),
                  ("loss_contrast", "contrastive term", "InfoNCE")]
    else:
        panels = [("loss_recon", "reconstruction", "masked-patch MSE (norm-pix target)")]
    trivial = trivial_losses(result)
    fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 3.0), squeeze=False)
    for ax, (key, title, ylabel) in zip(axes[0], panels):
        width = max(len(runs[0].history) // 25, 1)
        train_c = [(np.array([r["step"] for r in run.history], float),
                    _smooth(np.array([r[key] for r in run.history], float), width)) for run in runs]
        curves = {"train (smoothed)": train_c}
        if runs[0].eval_history:
            curves["held-out"] = [(np.array([r["step"] for r in run.eval_history], float),
                                   np.array([r[key] for r in run.eval_history], float)) for run in runs]
        viz.loss_curves(ax, curves, ylabel=ylabel)
        if key in trivial:
            label = ("chance: ln B" if key == "loss_contrast" else
                     "trivial: predict 0 (norm-pix)" if result.config.norm_pix else "trivial: mean pixel")
            ax.axhline(trivial[key], color="0.4", ls="--", lw=0.8, label=label)
            ax.legend()
        ax.set_title(f"{result.label}: {title}")
    fig.tight_layout()
    return fig


def _stack_samples(x: torch.Tensor) -> torch.Tensor:
    """``(K, 3, 1, H, W)`` → ``(3, K, H, W)``: samples shown as the columns of a reconstruction grid."""
    return x[:, :, 0].permute(1, 0, 2, 3)


def _sample_titles(fig, k: int):
    for j, ax in enumerate(fig.axes[:k]):
        ax.set_title(f"sample {j}")


def reconstruction_figures(result: BaselineResult, *, seed_index: int = 0, samples: int = 6,
                           mask_seed: int = 777) -> dict:
    """Reconstructions of held-out inputs by one seed's model under masks from ``mask_seed``:
    ``{suffix: figure}`` (``""`` for the method's modality; CAV-MAE ``"_frames"`` and ``"_audio"``).
    Rows: ground truth, masked input, the visible input with the predicted masked patches."""
    from maskedav import viz

    run = result.runs[seed_index]
    method = run.method
    device = next(method.parameters()).device
    batch = {k: v[:samples].to(device) for k, v in result.heldout.items()}
    state = method.generator.get_state()
    method.generator.manual_seed(mask_seed)
    try:
        rec = method.reconstruct(batch)
    finally:
        method.generator.set_state(state)
    label = f"{result.label} (seed {run.seed})"
    figs = {}

    def grid(r: dict, display, columns_are_samples: bool, scale: float, what: str):
        mse = r["mse"].cpu()
        if columns_are_samples:
            rows = OrderedDict([("ground truth", _stack_samples(display(r["input"]))),
                                ("masked", _stack_samples(display(r["masked_input"]))),
                                (label, _stack_samples(display(r["pasted"])))])
            notes = {label: f"MSE {mse.mean():.3f}"}
            fig = viz.reconstruction_grid(rows, notes=notes, scale=scale)
            _sample_titles(fig, len(mse))
        else:  # video: two clips, one column per frame
            rows, notes = OrderedDict(), {}
            for i in range(min(2, len(mse))):
                rows[f"clip {i}"] = display(r["input"])[i]
                rows[f"masked {i}"] = display(r["masked_input"])[i]
                rows[f"{result.label} {i}"] = display(r["pasted"])[i]
                notes[f"{result.label} {i}"] = f"MSE {mse[i]:.3f}"
            fig = viz.reconstruction_grid(rows, notes=notes, scale=scale)
        first = next(iter(rows.values()))
        aspect = first.shape[-2] / first.shape[-1]           # panel height / width
        n_rows, n_cols = len(rows), first.shape[1]
        if aspect < 0.8:                                      # wide spectrograms: fill the row height
            for ax in fig.axes:
                ax.set_aspect("auto")
        fig.set_size_inches(scale * n_cols, n_rows * max(scale * min(aspect, 1.0) * 1.1, 1.0) + 0.5)
        fig.suptitle(f"{label}: {what}, held-out, fixed masks", fontsize=9)
        fig.tight_layout(pad=0.3, rect=(0, 0, 1, 1 - 0.35 / fig.get_size_inches()[1]))
        return fig

    if result.name == "cav_mae":
        disp_a = _spectrogram_display(rec["audio"]["input"])
        figs["_frames"] = grid(rec["video"], lambda x: x.unsqueeze(2).cpu(), True, 1.2, "frames")
        figs["_audio"] = grid(rec["audio"], disp_a, True, 1.6, "fbank (time →, frequency ↑)")
    elif result.name == "mae":
        figs[""] = grid(rec, lambda x: x.unsqueeze(2).cpu(), True, 1.2, "frames")
    elif result.name == "audiomae":
        figs[""] = grid(rec, _spectrogram_display(rec["input"]), True, 1.6, "fbank (time →, frequency ↑)")
    else:
        figs[""] = grid(rec, lambda x: x.cpu(), False, 1.0, "clips")
    return figs


def _spectrogram_display(reference: torch.Tensor):
    from .base import spectrogram_to_rgb

    lo, hi = float(reference.min()), float(reference.max())
    return lambda x: spectrogram_to_rgb(x, vmin=lo, vmax=hi)


# ----------------------------------------------------------------------------------------- tables
def probe_table(result: BaselineResult):
    """Linear-probe test accuracy (percent) per representation and task: pre-trained and random-init
    mean ± std over seeds, and chance (majority class of the test split)."""
    import pandas as pd

    df = pd.DataFrame(result.probes)
    rows = []
    for (rep, task), g in df.groupby(["rep", "task"], sort=False):
        pre = g[g.init == "pretrained"].test_acc.to_numpy(float)
        ini = g[g.init == "random init"].test_acc.to_numpy(float)
        std = lambda x: float(x.std(ddof=1)) if len(x) > 1 else math.nan  # noqa: E731
        rows.append({"method": result.label, "representation": rep, "task": task, "seeds": len(pre),
                     "pretrained_mean": pre.mean(), "pretrained_std": std(pre),
                     "random_init_mean": ini.mean(), "random_init_std": std(ini),
                     "chance": result.chance[task], "pretrained_minus_chance": pre.mean() - result.chance[task]})
    return pd.DataFrame(rows)


def describe_probes(result: BaselineResult, margin: float = 2.0) -> str:
    """One sentence per (representation, task), computed from the per-seed numbers: is the pre-trained
    probe above chance (by more than ``margin`` points) and above the random-init probe, in how many seeds."""
    import pandas as pd

    df = pd.DataFrame(result.probes)
    lines = []
    for (rep, task), g in df.groupby(["rep", "task"], sort=False):
        pre = g[g.init == "pretrained"].sort_values("seed").test_acc.to_numpy(float)
        ini = g[g.init == "random init"].sort_values("seed").test_acc.to_numpy(float)
        chance = result.chance[task]
        n = len(pre)
        above = int((pre > chance + margin).sum())
        better = int((pre > ini).sum())
        verdict = ("above chance" if above == n else "not above chance" if above == 0 else "above chance in some seeds")
        vs_init = ("better than" if better == n else "not better than" if better == 0 else "mixed against")
        lines.append(f"- {result.label} [{rep}] on {task}: {pre.mean():.1f} % (chance {chance:.1f} %, random init "
                     f"{ini.mean():.1f} %) — {verdict} (> chance + {margin:g} in {above}/{n} seeds), "
                     f"{vs_init} random init ({better}/{n} seeds).")
    return "\n".join(lines)


def describe_curves(result: BaselineResult) -> str:
    """Sentences computed from the held-out curves: start and end values, and in how many seeds each
    loss term fell."""
    runs = [r for r in result.runs if r.eval_history]
    if not runs:
        return "- no held-out evaluation was run."
    trivial = trivial_losses(result)
    keys = [k for k in runs[0].eval_history[0] if k.startswith("loss_")]
    if len(keys) != 1:               # several terms: the weighted total too
        keys.append("heldout_loss")
    names = {"heldout_loss": "total loss", "loss_recon": "masked-patch MSE",
             "loss_recon_a": "audio masked-patch MSE", "loss_recon_v": "frame masked-patch MSE",
             "loss_contrast": "InfoNCE"}
    lines = []
    for key in keys:
        first = np.array([r.eval_history[0][key] for r in runs])
        last = np.array([r.eval_history[-1][key] for r in runs])
        fell = int((last < first).sum())
        line = (f"- held-out {names.get(key, key)}: {first.mean():.4f} at step 0 → {last.mean():.4f} at step "
                f"{runs[0].eval_history[-1]['step']} (mean of {len(runs)} seeds; "
                f"{100 * (last.mean() / first.mean() - 1):+.1f} %), lower in {fell}/{len(runs)} seeds")
        if key in trivial:
            below = int((last < trivial[key]).sum())
            gain = 100 * (1 - last.mean() / trivial[key])
            line += (f"; the trivial prediction scores {trivial[key]:.4f} and the model's final loss is "
                     f"below it in {below}/{len(runs)} seeds (mean {abs(gain):.1f} % "
                     f"{'below' if gain > 0 else 'above'} it)")
        lines.append(line + ".")
    return "\n".join(lines)
