"""The baselines chapter (MAE, VideoMAE, AudioMAE, CAV-MAE) on the study layer: its arms, figures
and sentences. Training, evaluation, the gate and the claims are :mod:`maskedav.study`'s.

:func:`arms` gives each baseline's arm(s) at a profile (the profile's pixel target; for VideoMAE also
the paper's per-channel normalised target beside it); :func:`pretrain` trains them through a
:class:`~maskedav.study.Study` and returns a :class:`BaselineResult` for the figures;
:func:`load_baseline` gives later chapters a trained model.
"""
from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import torch

from maskedav.checkpoints import load_checkpoint
from maskedav.methods import BASELINES
from maskedav.methods.base import per_sample_masked_mse
from maskedav.study import Arm, Run, Study, describe_gate

__all__ = ["BASELINE_SPECS", "build_config", "arms", "pretrain", "BaselineResult", "load_baseline",
           "trivial_losses", "curves_figure", "reconstruction_figures", "describe_curves", "EVAL_TASKS",
           "CEILING_ARMS", "PROTOCOLS", "ceilings", "Page", "evaluate", "describe_gate", "regime_table"]

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


#: Tasks each baseline is evaluated on (the modality it sees decides; CAV-MAE by its joint representation).
EVAL_TASKS = {"mae": ("appearance", "motion"), "videomae": ("appearance", "motion"),
              "audiomae": ("sound",), "cav_mae": ("appearance", "sound", "av_event")}

#: The baseline whose encoder gives each task's supervised ceiling.
CEILING_ARMS = {"appearance": "videomae", "motion": "videomae", "sound": "audiomae", "av_event": "cav_mae"}

#: Protocols of each baseline's page (and of the gate page, so that both read one cached evaluation),
#: and the tasks it fine-tunes on.
PROTOCOLS = {"mae": (("probe", "knn"), ()), "videomae": (("probe", "knn", "finetune"), ("appearance", "motion")),
             "audiomae": (("probe", "knn"), ()), "cav_mae": (("probe", "knn"), ())}


def ceilings(P, tasks=tuple(CEILING_ARMS)):
    """Supervised ceilings of ``tasks`` at profile ``P``: each task's :data:`CEILING_ARMS` encoder trained
    from scratch on all labels (computed once by the gate page, then read from the cache by every chapter)."""

    sb = Study(P, "baselines")
    return sb.ceilings([(arms(sb, CEILING_ARMS[t])[0], t) for t in tasks])


def _profile(profile):
    from maskedav.profiles import get_profile

    return get_profile(profile) if isinstance(profile, str) or profile is None else profile


def fbank_frames(profile) -> int:
    """Fbank frames the audio models take at ``profile`` (see :func:`maskedav.study.data.fbank_frames`)."""
    from maskedav.study.data import fbank_frames as frames, synthav_config

    P = _profile(profile)
    cfg = synthav_config(P)
    return frames(cfg.num_samples, cfg.sample_rate, P.model.audio_patch)


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


def arms(study: Study, name: str) -> list[Arm]:
    """The arms of baseline ``name``: the profile's config (fbank statistics of the pre-training split
    filled in for the audio models); for VideoMAE also ``videomae_normpix``, the paper's per-channel
    normalised target, when the profile trains on raw pixels."""
    P = study.P
    spec = BASELINE_SPECS[name]
    cfg = build_config(name, P)
    if spec["fbank"]:
        mean, std = study.fbank_stats()
        cfg = cfg.replace(fbank_mean=mean, fbank_std=std)
    keys = tuple(spec["train_keys"])
    rep = "joint" if name == "cav_mae" else None
    raw = {"mae": "raw pixels", "videomae": "raw pixels", "audiomae": "raw fbank", "cav_mae": "raw targets"}[name]
    target = raw if cfg.norm_pix is None else f"{cfg.norm_pix} norm-pix"
    out = [Arm(name, name, cfg, keys=keys if name != "mae" else ("image",),
               data="frames" if name == "mae" else "clips", rep=rep, label=f"{spec['label']} ({target})")]
    if name == "videomae" and cfg.norm_pix is None:
        out.append(Arm("videomae_normpix", name, cfg.replace(norm_pix="per_channel"), keys=keys,
                       label="VideoMAE (per-channel norm-pix, the paper's target)"))
    return out


@dataclass
class BaselineResult:
    """What the figures need: the arm, its runs and held-out inputs."""

    name: str
    label: str
    profile: str
    arm: Arm
    runs: list[Run] = field(default_factory=list)
    heldout: dict = field(default_factory=dict)
    eval_batch_size: int = 0

    @property
    def config(self):
        return self.arm.config

    @property
    def seeds(self) -> list[int]:
        return [r.seed for r in self.runs]

    @cached_property
    def models(self) -> list:
        return [r.model() for r in self.runs]


def pretrain(study: Study, name: str, seeds=None) -> dict[str, BaselineResult]:
    """Train (or load from the cache) every arm of baseline ``name``: ``{arm name: BaselineResult}``."""
    seeds = list(study.P.seed_list if seeds is None else seeds)
    out = {}
    arm_list = arms(study, name)
    runs = study.pretrain(arm_list, seeds)
    for arm in arm_list:
        held = study.heldout_data(arm, 64)
        out[arm.name] = BaselineResult(name, arm.label, study.P.name, arm, [r for r in runs if r.arm == arm],
                                       held, min(study.P.train.batch_size, 256))
    return out


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
    from maskedav.methods.base import norm_pix_stats

    method = result.models[0]
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
    from maskedav import viz

    runs = result.runs
    if result.name == "cav_mae":
        panels = [("loss_recon_a", "audio reconstruction", "masked-patch MSE"),
                  ("loss_recon_v", "frame reconstruction", "masked-patch MSE"),
                  ("loss_contrast", "contrastive term", "InfoNCE")]
    else:
        target = f"{result.config.norm_pix} norm-pix target" if result.config.norm_pix else "raw-pixel target"
        panels = [("loss_recon", "reconstruction", f"masked-patch MSE ({target})")]
    trivial = trivial_losses(result)
    fig, axes = viz.panel_grid(len(panels), ncols=2)
    for ax, (key, title, ylabel) in zip(axes, panels):
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
            ax.axhline(trivial[key], color=viz.COLORS["chance"], ls="--", lw=0.8, label=label)
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
    method = result.models[seed_index]
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
        title = f"{label}: {what}, held-out, fixed masks"
        if columns_are_samples:
            rows = OrderedDict([("ground truth", _stack_samples(display(r["input"]))),
                                ("masked", _stack_samples(display(r["masked_input"]))),
                                ("prediction", _stack_samples(display(r["pasted"])))])
            fig = viz.reconstruction_grid(rows, notes={"prediction": f"MSE {mse.mean():.3f}"}, scale=scale,
                                          title=title)
            _sample_titles(fig, len(mse))
            return fig
        rows, notes = OrderedDict(), {}          # video: two clips, one column per frame
        for i in range(min(2, len(mse))):
            rows[f"clip {i}"] = display(r["input"])[i]
            rows[f"masked {i}"] = display(r["masked_input"])[i]
            rows[f"prediction {i}"] = display(r["pasted"])[i]
            notes[f"prediction {i}"] = f"MSE {mse[i]:.3f}"
        return viz.reconstruction_grid(rows, notes=notes, scale=scale, title=title)

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
    from maskedav.methods.base import spectrogram_to_rgb

    lo, hi = float(reference.min()), float(reference.max())
    return lambda x: spectrogram_to_rgb(x, vmin=lo, vmax=hi)


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


def evaluate(study: Study, results: dict[str, "BaselineResult"], name: str):
    """The tidy frame of every arm of baseline ``name`` on its tasks (:data:`EVAL_TASKS`) by its
    protocols (:data:`PROTOCOLS`), with the random-init reference; and its gate table (chance from the
    test split)."""
    from maskedav.study import gate_table

    protocols, finetune_tasks = PROTOCOLS[name]
    runs = [r for res in results.values() for r in res.runs]
    tasks = EVAL_TASKS[name]
    frame = study.evaluate(runs, tasks, protocols, finetune_tasks=finetune_tasks)
    table = gate_table(frame, chance={t: study.chance(t) for t in tasks})
    return frame, table


def regime_table(P):
    """The profile's regime as a table of text (numbers formatted for the reader): data sizes, the
    pre-training budget, the pixel target, the token grid and the effective ratios of 75 / 90 / 95 % tube
    masking (visible tokens per time slice)."""
    import pandas as pd

    t = P.data.frames // P.model.tubelet
    side = P.data.image_size // P.model.patch_size
    per_slice = side * side
    rows = [("pre-training clips", f"{P.data.n_pretrain:,}"), ("labelled train clips", f"{P.data.n_train:,}"),
            ("probe / kNN labels", f"{P.eval.probe_train:,}"),
            ("few-label fine-tune labels", f"{P.eval.finetune_train:,}"), ("test clips", f"{P.data.n_test:,}"),
            ("pre-training steps × batch", f"{P.train.steps:,} × {P.train.batch_size}"),
            ("reconstruction target", "raw pixels" if P.model.pixel_target == "raw" else "each paper's"),
            ("token grid (T'×H'×W')", f"{t}×{side}×{side}")]
    for ratio in (0.75, 0.9, 0.95):
        masked = int(ratio * per_slice)
        rows.append((f"tube mask {ratio:.0%}: visible tokens per slice (effective ratio)",
                     f"{per_slice - masked} ({masked / per_slice:.2%})"))
    rows.append(("readout", P.eval.readout))
    return pd.DataFrame(rows, columns=["", P.name])


class Page:
    """One baseline's notebook page: its study, recorder, arms and trained runs, and the calls that
    write its artifacts (``<name>_curves``, ``<name>_recon*``, ``<name>_probe``)."""

    def __init__(self, name: str, profile: str, results_dir=None):
        from maskedav import viz
        from maskedav.profiles import get_profile
        from maskedav.results import Recorder

        self.name, self.P = name, get_profile(profile)
        self.study = Study(self.P, "baselines")
        self.rec = Recorder("baselines", profile=profile, results_dir=results_dir,
                            parameters=dict(profile=profile))
        self.arms = arms(self.study, name)
        self.results: dict[str, BaselineResult] = {}
        viz.set_style()

    def config(self):
        """Every arm's config switches (the ViT sizes aside), styled for the page."""
        import pandas as pd

        from maskedav.study import format_table

        t = pd.DataFrame([{"arm": a.label, **{k: v for k, v in a.config.to_dict().items()
                                              if k not in ("vit", "audio", "video")}} for a in self.arms])
        return format_table(t, {c: "{:g}" for c in t.select_dtypes("float").columns},
                            caption="The config switches of each arm (the ViT sizes: the model zoo page)")

    def pretrain(self) -> dict:
        """Train (or load) every arm for every seed; seconds of compute per arm (summed :attr:`Run.cost_s`)."""
        self.results = pretrain(self.study, self.name)
        return {a: round(sum(r.cost_s for r in res.runs), 1) for a, res in self.results.items()}

    @property
    def result(self) -> BaselineResult:
        return self.results[self.name]

    def curves(self, caption: str) -> str:
        self.rec.figure(curves_figure(self.result), f"{self.name}_curves", seeds=self.result.seeds,
                        caption=caption)
        return "\n".join(f"{res.label}:\n{describe_curves(res)}" for res in self.results.values())

    def reconstructions(self, caption: str) -> None:
        for suffix, fig in reconstruction_figures(self.result).items():
            self.rec.figure(fig, f"{self.name}_recon{suffix}", seeds=self.result.seeds[:1], caption=caption)

    def gate(self, caption: str):
        """The page's gate table (written as ``<name>_probe``), styled, and its sentences."""
        from maskedav.study import format_gate

        _, table = evaluate(self.study, self.results, self.name)
        self.rec.table(table, f"{self.name}_probe", seeds=self.result.seeds, caption=caption)
        return format_gate(table, caption), describe_gate(table)
