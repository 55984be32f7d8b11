"""The KDC-MAE chapter on the study layer: its arms and budget, the A / V / AV evaluation, Tables 1-7,
the mechanistic checks (spec §10.4) and claims E1-E9. The model is :mod:`maskedav.methods.kdc_mae`;
pre-training, evaluation, the gate and the claims' ledger are :mod:`maskedav.study`'s; figures are
:mod:`maskedav.chapters.kdc_mae_figures`.

**Arms** (:data:`VARIANTS`): CAV-MAE (the baselines' config, fbank statistics included) and every
KDC-MAE variant as one config switch of :class:`~maskedav.methods.kdc_mae.KDCMAEConfig` built on it, plus
a **compute-matched** CAV-MAE trained for twice the steps (two weight-shared streams cost two encoder
passes per step). All arms of a seed start from the same network (KDC-MAE builds CAV-MAE's first), see
the same clips in the same order, and share one random-init reference (``init_id``).

**Budget** (:func:`plan`): every arm trains for :data:`BUDGET_FRACTION` of the profile's steps (cpu:
1,000 of 3,000; the 2x control 2,000). At ``cpu`` the :data:`CORE` arms (Tables 1-2's claims, Table 6)
train on every seed and the other variants on :data:`EXTRA_SEEDS` seed (they describe; their claims are
inconclusive by the rule). Other profiles run everything on every seed.

**Evaluation** (:data:`REPS`): the paper fine-tunes on one dataset with audio, video or both as input
(its A / V / AV columns). SynthAV's analogue is the ``sound`` task (the sounding object's material) read
from the audio pass (A), the frame pass (V: video alone cannot tell which object sounds) and the joint
pass (AV), by the layout-keeping linear probe and kNN of the study layer. Table 5 adds ``appearance``
(V, AV) and ``av_event`` (AV). Claims use the probe (fixed before the runs).

**Table 6** (:func:`table6_frame`): retrieval R@1/5/10 both ways (pooled audio / frame passes, cosine),
inpainting skill ``100·(1 − MSE/MSE_mean)`` on masked patches under fixed 75 % masks (MSE_mean: predicting
each clip's mean visible value), and sound-source localization: the audio-to-patch cosine map, its mean
(the paper's "avg cos sim") and a pointing game against SynthAV's ground-truth sounding-object pixels. Each
metric is per clip, so the claims rule pairs them by seed with the test set's standard error as floor.
"""
from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import pandas as pd
import torch

from maskedav.methods.kdc_mae import KDCMAE, KDCMAEConfig, coverage, expected_coverage
from maskedav.study import RANDOM_INIT, Arm, Claim, Study
from maskedav.study.chapter import ArmRuns, budget_overrides, budget_sentence, cell, mean_sd, plan_frame, with_rep
from maskedav.study.chapter import curve, timing_table  # noqa: F401  (the notebooks' ch.curve, ch.timing_table)

PAPER = "kdc-mae"          # results folder and claims' paper name
CHAPTER = "kdc_mae"        # checkpoint folder
TASK = "sound"             # the A / V / AV columns' task
#: Representation -> tasks it is evaluated on (A / V / AV columns; Table 5 adds appearance, av_event).
REPS = {"audio": ("sound",), "video": ("sound", "appearance"), "joint": ("sound", "appearance", "av_event")}
COLUMNS = {"audio": "A only", "video": "V only", "joint": "AV"}
PROTOCOLS = ("probe", "knn")
CLAIM_PROTOCOL = "probe"
BUDGET_FRACTION = 1 / 3
EXTRA_SEEDS = 1
HELDOUT_MASK_SEED = 12345
#: Test clips of Table 6 (retrieval among these, inpainting and localization on them).
TABLE6_CLIPS = 1024


@dataclass(frozen=True)
class Variant:
    method: str
    switches: dict
    label: str
    steps_factor: float = 1.0
    cost: str = "kdc"             # :data:`STEP_COST_S` key


VARIANTS: dict[str, Variant] = OrderedDict([
    ("cavmae", Variant("cav_mae", {}, "CAV-MAE", cost="cavmae")),
    ("cavmae_2x", Variant("cav_mae", {}, "CAV-MAE, 2x steps (compute-matched)", 2.0, cost="cavmae")),
    ("kdc", Variant("kdc_mae", {}, "No Overlap Dual Mask, λ_kd = 10 (KDC-MAE)")),
    ("kdc_overlap", Variant("kdc_mae", dict(complementary=False), "With Overlap Dual Mask, λ_kd = 10")),
    ("kdc_l0", Variant("kdc_mae", dict(kd_weight=0.0), "No Overlap Dual Mask, λ_kd = 0 (no KD; control)")),
    ("kdc_l5", Variant("kdc_mae", dict(kd_weight=5.0), "No Overlap Dual Mask, λ_kd = 5")),
    ("kdc_l15", Variant("kdc_mae", dict(kd_weight=15.0), "No Overlap Dual Mask, λ_kd = 15")),
    ("kdc_overlap_aavv", Variant("kdc_mae", dict(complementary=False, kd_pairs="aavv"),
                                 "With Overlap Dual Mask AA VV", cost="kdc_aavv")),
    ("kdc_aavv", Variant("kdc_mae", dict(kd_pairs="aavv"), "No Overlap Dual Mask AA VV", cost="kdc_aavv")),
    ("kdc_aavv_dw", Variant("kdc_mae", dict(kd_pairs="aavv", weighting="uncertainty"),
                            "No Overlap Dual Mask AA VV DW", cost="kdc_aavv")),
    ("kdc_dw", Variant("kdc_mae", dict(weighting="uncertainty"), "No Overlap Dual Mask DW")),
    ("kdc3", Variant("kdc_mae", dict(num_streams=3), "Triple Mask No Overlap, λ_kd = 10", cost="kdc3")),
    ("kdc3_overlap", Variant("kdc_mae", dict(num_streams=3, complementary=False),
                             "Triple Mask With Overlap, λ_kd = 10", cost="kdc3")),
    *[(f"cavmae_{m}", Variant("cav_mae", dict(audio_mask_type=m), f"CAV-MAE, {n} audio masking", cost="cavmae"))
      for m, n in (("time", "time"), ("freq", "frequency"), ("tf", "time-frequency"))],
    *[(f"kdc_{m}", Variant("kdc_mae", dict(audio_mask_type=m), f"No Overlap, {n} audio masking"))
      for m, n in (("time", "time"), ("freq", "frequency"), ("tf", "time-frequency"))],
    *[(f"kdc_overlap_{m}", Variant("kdc_mae", dict(complementary=False, audio_mask_type=m),
                                   f"With Overlap, {n} audio masking"))
      for m, n in (("time", "time"), ("freq", "frequency"), ("tf", "time-frequency"))],
    ("makd", Variant("kdc_mae", dict(makd=True, complementary=False, kd_weight=0.0),
                     "MAKD (two networks, moving-average mutual KD)", cost="makd")),
])

#: Arms trained on every seed at every profile: the claims of Tables 1, 2 and 6. The other variants run on
#: :data:`EXTRA_SEEDS` seed at ``cpu``.
CORE = ("cavmae", "cavmae_2x", "kdc", "kdc_overlap")

#: Measured cost of one pre-training step at the ``cpu`` profile's sizes (batch 32, one thread, this
#: book's 2-core machine while the other core trained), the arithmetic behind :func:`plan_table`. The
#: runs' own times are in :func:`timing_table`.
STEP_COST_S = {"cavmae": 0.105, "kdc": 0.208, "kdc_aavv": 0.23, "kdc3": 0.33, "makd": 0.28}
#: Measured cost of evaluating one encoder through one representation (probe + kNN on its tasks), CPU s.
EVAL_COST_S = 15.0


# ========================================================================================= arms
def base_config(P, study: Study):
    """The baselines' CAV-MAE config at profile ``P`` (its fbank statistics from the pre-training split)."""
    from maskedav.chapters import baselines

    return baselines.arms(study, "cav_mae")[0].config


def budget_steps(P) -> int:
    return max(int(round(P.train.steps * BUDGET_FRACTION)), 2)


def arm(P, name: str, base, seeds: Sequence[int] | None = None) -> Arm:
    """The arm of variant ``name`` on the CAV-MAE config ``base``: trained on fbank + video, all arms
    sharing one random init per seed (``init_id``)."""
    v = VARIANTS[name]
    cfg = base.replace(**v.switches) if v.method == "cav_mae" else KDCMAEConfig.from_cavmae(base, **v.switches)
    steps = int(round(budget_steps(P) * v.steps_factor))
    return Arm(name, v.method, cfg, keys=("fbank", "video"), steps=steps, label=v.label, init_id="cavmae",
               seeds=None if seeds is None else tuple(seeds), train_overrides=budget_overrides(P, steps))


def plan(P, base) -> "OrderedDict[str, Arm]":
    """Every arm this profile trains, longest runs first (the executor balances its workers)."""
    extra = tuple(P.seed_list[:EXTRA_SEEDS]) if P.name == "cpu" else None
    out = OrderedDict()
    for name in VARIANTS:
        out[name] = arm(P, name, base, None if name in CORE else extra)
    order = sorted(out, key=lambda n: -STEP_COST_S[VARIANTS[n].cost] * out[n].steps)
    return OrderedDict((n, out[n]) for n in order)


def pretrain(study: Study, names: Sequence[str] | None = None) -> ArmRuns:
    """Train (or read from the cache) every arm of :func:`plan` — or only those of ``names`` — on the
    study's executor workers. A notebook can train the arms in parts, one cell each, to keep every cell
    under the profile's cell time limit; the runs are cached, so the full call then reads them."""
    return ArmRuns.pretrain(study, plan(study.P, base_config(study.P, Study(study.P, "baselines"))), names)


def plan_table(P) -> pd.DataFrame:
    """The budget as planned (:func:`~maskedav.study.chapter.plan_frame`): per arm, seeds x steps, the
    estimated CPU seconds of pre-training (:data:`STEP_COST_S`) and evaluation (:data:`EVAL_COST_S` per
    representation), and the random-init references."""
    n = len(P.seed_list)
    rows = []
    for name, v in VARIANTS.items():
        seeds = n if name in CORE or P.name != "cpu" else min(EXTRA_SEEDS, n)
        rows.append(dict(arm=name, label=v.label, seeds=seeds, steps=int(round(budget_steps(P) * v.steps_factor)),
                         s_per_step=STEP_COST_S[v.cost], eval_cpu_s=seeds * len(REPS) * EVAL_COST_S, note=""))
    rand = n * len(REPS) * EVAL_COST_S
    return plan_frame(rows, extra_eval_s=rand, extra_label=f"+ random init ({rand:.0f} CPU s)")


def budget_prose(P) -> str:
    """The budget's arithmetic in words, computed from :func:`plan_table` (so the prose cannot drift)."""
    return (f"Every arm trains for {budget_steps(P):,} steps ({BUDGET_FRACTION:.0%} of the profile's "
            f"{P.train.steps:,}; the compute-matched CAV-MAE twice that) at batch {P.train.batch_size}. A "
            f"dual-stream step costs {STEP_COST_S['kdc']:.3f} s against CAV-MAE's {STEP_COST_S['cavmae']:.3f} s "
            f"(three streams {STEP_COST_S['kdc3']:.3f} s; measured at the cpu profile's sizes on one thread of this "
            f"book's 2-core machine). " + budget_sentence(plan_table(P), CORE))


# =================================================================================== evaluation
def evaluate(runs: ArmRuns) -> pd.DataFrame:
    """The tidy frame: every run through every representation of :data:`REPS` on its tasks by
    :data:`PROTOCOLS`, with the shared random-init reference; columns ``base`` (the arm) and ``rep``."""
    frames = []
    for rep, tasks in REPS.items():
        rs = [with_rep(r, rep, f"{r.arm.label} [{COLUMNS[rep]}]") for name in runs.runs for r in runs.runs[name]]
        f = runs.study.evaluate(rs, tasks, PROTOCOLS)
        f["rep"] = rep
        frames.append(f)
    frame = pd.concat(frames, ignore_index=True)
    frame["base"] = frame.arm.str.split("@").str[0]
    return frame


def mean_sd_(frame: pd.DataFrame, arm: str, task: str, protocol: str = CLAIM_PROTOCOL):
    """:func:`maskedav.study.chapter.mean_sd` on the claims' protocol by default."""
    return mean_sd(frame, arm, task, protocol)


def ceilings(P) -> pd.DataFrame:
    """The supervised ceilings of the tasks used (the baselines chapter's cached ones)."""
    from maskedav.chapters import baselines

    return baselines.ceilings(P, ("sound", "appearance", "av_event"))


# =================================================================================== paper tables
_SRC = "KDC-MAE (Bora et al., WACV 2025), Table {}: fine-tuning accuracy (%)"
PAPER_COLUMNS = ("VGG AV", "VGG A", "VGG V", "AS20k AV", "AS20k A", "AS20k V")


def _paper(table: int, rows: list[tuple]) -> list[dict]:
    return [dict(row=r[0], **dict(zip(PAPER_COLUMNS, r[1:])), source=_SRC.format(table)) for r in rows]


PAPER_TABLES = {
    "table1": _paper(1, [("CAV-MAE", 63.89, 58.6, 43.20, 39.61, 37.95, 31.00),
                         ("MAKD", 62.44, 59.2, 43.37, 40.80, 37.70, 30.86),
                         ("Proposed", 64.23, 58.73, 43.43, 41.03, 37.62, 30.95)]),
    "table2": _paper(2, [("Adaptive Masking [2]", 63.65, 58.5, 43.2, 41.23, 37.11, 31.01),
                         ("With Overlap Dual Mask λ_kd=10", 63.85, 58.77, 43.68, 41.37, 37.72, 31.59),
                         ("No Overlap Dual Mask λ_kd=10", 64.23, 58.73, 43.43, 41.03, 37.62, 30.95),
                         ("No Overlap Dual Mask λ_kd=15", 63.58, 58.85, 43.71, 41.13, 36.57, 31.12),
                         ("Proposed No Overlap Dual Mask λ_kd=5", 64.01, 58.84, 43.51, 41.62, 38.42, 31.25)]),
    "table3": _paper(3, [("With Overlap Dual Mask AA VV", 63.98, 58.79, 43.62, 41.42, 35.60, 31.44),
                         ("No Overlap Dual Mask AA VV", 64.05, 58.78, 43.73, 41.01, 37.18, 30.94),
                         ("No Overlap Dual Mask AA VV DW", 64.06, 59.04, 43.31, 41.56, 37.57, 31.58),
                         ("No Overlap Dual Mask DW", 63.82, 58.90, 43.83, 40.98, 38.28, 31.87)]),
    "table4": _paper(4, [("Triple Mask No Overlap λ_kd = 10", 63.79, 58.60, 43.53, 40.78, 38.27, 31.74),
                         ("Triple Mask With Overlap λ_kd = 10", 64.18, 59.00, 43.85, 41.55, 38.43, 30.70)]),
}
#: Table 5 as printed: (dataset (input), CAV-MAE, Dual Mask With Overlap, Dual Mask Without Overlap).
PAPER_TABLE5 = [("AS-2M (V only)", 30.26, 32.59, 32.27), ("AS-2M (A only)", 41.71, 42.27, 42.51),
                ("AS-2M (AV)", 41.85, 43.55, 42.73), ("AS-20k (V only)", 28.86, 30.83, 31.57),
                ("AS-20k (A only)", 37.21, 37.92, 37.01), ("AS-20k (AV)", 37.02, 41.22, 41.34),
                ("ILSVRC (V only)", 73.73, 73.57, 73.76), ("Kinetics-400 (V only)", 65.74, 66.19, 65.78),
                ("Kinetics-400 (AV)", 71.55, 71.53, 71.69)]
#: Table 6 as printed (VGG-Sound): retrieval R@k as fractions, inpainting loss (lower better), avg cos sim.
PAPER_TABLE6 = [dict(model=m, **{"A→V R@1": a1, "A→V R@5": a5, "A→V R@10": a10, "V→A R@1": v1, "V→A R@5": v5,
                                  "V→A R@10": v10, "inpainting A": ia, "inpainting V": iv, "localization": lo})
                for m, a1, a5, a10, v1, v5, v10, ia, iv, lo in [
                    ("CAV-MAE", 0.0580, 0.1599, 0.2142, 0.0662, 0.1917, 0.2537, 2.1869, 2.9981, 0.2884),
                    ("With Overlap", 0.0594, 0.1629, 0.2245, 0.0402, 0.1367, 0.1994, 2.2948, 3.0026, 0.2807),
                    ("No Overlap", 0.0506, 0.1431, 0.1944, 0.0416, 0.1304, 0.1734, 1.9985, 2.8756, 0.2798)]]
#: Table 7 as printed (VGG-Sound classification accuracy, %): model -> time, frequency, TF, uniform.
PAPER_TABLE7 = {"CAV-MAE": (63.58, 63.77, 63.51, 63.89), "With Overlap": (64.91, 64.90, 64.21, 63.98),
                "No Overlap": (64.83, 64.68, 64.01, 64.05)}

#: Which arm measures each paper row (None: not implemented / not measurable here, with the reason).
TABLE_ARMS = {
    "table1": [("CAV-MAE", "cavmae"), ("CAV-MAE, 2x steps (compute-matched; not in the paper)", "cavmae_2x"),
               ("MAKD", "makd"), ("Proposed", "kdc")],
    "table2": [("Adaptive Masking [2]", None), ("With Overlap Dual Mask λ_kd=10", "kdc_overlap"),
               ("No Overlap Dual Mask λ_kd=10", "kdc"), ("No Overlap Dual Mask λ_kd=15", "kdc_l15"),
               ("Proposed No Overlap Dual Mask λ_kd=5", "kdc_l5"),
               ("No Overlap Dual Mask λ_kd=0 (control; not in the paper)", "kdc_l0")],
    "table3": [("With Overlap Dual Mask AA VV", "kdc_overlap_aavv"), ("No Overlap Dual Mask AA VV", "kdc_aavv"),
               ("No Overlap Dual Mask AA VV DW", "kdc_aavv_dw"), ("No Overlap Dual Mask DW", "kdc_dw")],
    "table4": [("Triple Mask No Overlap λ_kd = 10", "kdc3"), ("Triple Mask With Overlap λ_kd = 10", "kdc3_overlap")],
}
NOT_IMPLEMENTED = {"Adaptive Masking [2]": "not implemented: the paper gives no algorithm (spec §3.4, low priority)"}


def ablation_table(frame: pd.DataFrame, runs: ArmRuns, table: str) -> pd.DataFrame:
    """Tables 1-4: per paper row, the paper's six columns beside this book's A / V / AV probe accuracy
    on SynthAV ``sound`` (mean ± sd (seeds)); rows the book adds are marked."""
    paper = {r["row"]: r for r in PAPER_TABLES[table]}
    rows = []
    for row, name in TABLE_ARMS[table]:
        p = paper.get(row, {})
        out = dict(row=row, **{f"paper {c}": p.get(c, math.nan) for c in PAPER_COLUMNS})
        for rep, col in COLUMNS.items():
            if name is None or name not in runs.runs:
                out[f"SynthAV {col}"] = NOT_IMPLEMENTED.get(row) or f"not run at {runs.P.name}"
            else:
                out[f"SynthAV {col}"] = cell(*mean_sd_(frame, f"{name}@{rep}", TASK))
        out["arm"] = name or ""
        rows.append(out)
    return pd.DataFrame(rows)


def table5(frame: pd.DataFrame, runs: ArmRuns) -> pd.DataFrame:
    """Table 5 on SynthAV: per task and input, CAV-MAE and the two dual-mask models (probe, mean ± sd)."""
    rows = []
    for rep, tasks in REPS.items():
        for task in tasks:
            rows.append({"task (input)": f"{task} ({COLUMNS[rep]})",
                         **{lab: cell(*mean_sd_(frame, f"{name}@{rep}", task)) for lab, name in
                            (("CAV-MAE", "cavmae"), ("Dual Mask With Overlap", "kdc_overlap"),
                             ("Dual Mask Without Overlap", "kdc"))}})
    paper = pd.DataFrame(PAPER_TABLE5, columns=["dataset (input)", "paper CAV-MAE", "paper With Overlap",
                                                "paper Without Overlap"])
    return pd.DataFrame(rows), paper


def table7(frame: pd.DataFrame, runs: ArmRuns) -> pd.DataFrame:
    """Table 7: audio masking strategies (time / frequency / TF / uniform), AV probe on ``sound``."""
    rows = []
    for model, prefix in (("CAV-MAE", "cavmae"), ("With Overlap", "kdc_overlap"), ("No Overlap", "kdc")):
        out = {"model": model}
        for i, (m, col) in enumerate((("time", "Time"), ("freq", "Frequency"), ("tf", "TF"), ("", "Uniform"))):
            name = f"{prefix}_{m}" if m else prefix
            out[f"paper {col}"] = PAPER_TABLE7[model][i]
            out[f"SynthAV {col}"] = (cell(*mean_sd_(frame, f"{name}@joint", TASK)) if name in runs.runs
                                     else f"not run at {runs.P.name}")
        rows.append(out)
    return pd.DataFrame(rows)


# ======================================================================================= Table 6
@torch.no_grad()
def _table6_rows(model, data: dict, masks, ref_mse: dict | None) -> tuple[list[dict], dict]:
    """Per-clip Table 6 metrics of one model (eval mode) on ``data``: rows as the tidy frame's
    (``accuracy`` in %, ``correct`` per clip)."""
    model.eval()
    n = len(data["labels"]["sound"])
    a = torch.nn.functional.normalize(model.encode_audio(data), dim=-1)
    v = torch.nn.functional.normalize(model.encode_video(data), dim=-1)
    sim = a @ v.t()                                   # (audio query, video candidate)
    rows = []
    for direction, s in (("A→V", sim), ("V→A", sim.t())):
        rank = (s > s.diagonal()[:, None]).sum(1)     # candidates scored above the true pair
        for k in (1, 5, 10):
            hit = (rank < k).numpy()
            rows.append(dict(task=f"retrieval {direction}", protocol=f"R@{k}", accuracy=100 * hit.mean(),
                             n_test=n, correct=hit.astype(float)))
    rec = model.reconstruct(data, mask=dict(audio=masks[0], video=masks[1]))
    mse = {}
    for mod in ("audio", "video"):
        r = rec[mod]
        mse[mod] = r["mse"].double().numpy()
        if ref_mse is not None:
            skill = 1 - mse[mod] / ref_mse[mod]
            rows.append(dict(task=f"inpainting {mod}", protocol="skill", accuracy=100 * skill.mean(), n_test=n,
                             correct=skill, mse=float(mse[mod].mean())))
    tokens = torch.nn.functional.normalize(model.encode_video(data, pool=False), dim=-1)   # (B, N, D)
    cos = (tokens @ a[:, :, None]).squeeze(-1)                                            # (B, N)
    grid = model.encoder.video.grid_size
    src = data["source_mask"][:, data["source_mask"].shape[1] // 2].float()               # middle frame
    cover = torch.nn.functional.adaptive_avg_pool2d(src[:, None], grid).flatten(1)        # (B, N)
    hit = (cover.gather(1, cos.argmax(1, keepdim=True)).squeeze(1) > 0).numpy().astype(float)
    rows.append(dict(task="localization", protocol="pointing game", accuracy=100 * hit.mean(), n_test=n, correct=hit,
                     avg_cos=float(cos.mean()), chance=100 * float((cover > 0).float().mean())))
    return rows, mse


def table6_data(study: Study) -> dict:
    d = study.split("test", ("fbank", "video", "source_mask"))
    return {k: (v[:TABLE6_CLIPS] if torch.is_tensor(v) else {t: x[:TABLE6_CLIPS] for t, x in v.items()})
            for k, v in d.items()}


def table6_masks(model, n: int):
    """Fixed 75 % random masks (audio, video) for the inpainting metric, the same for every run."""
    from maskedav.masking import random_mask

    g = torch.Generator().manual_seed(HELDOUT_MASK_SEED)
    return (random_mask(n, model.encoder.audio.num_patches, 0.75, generator=g),
            random_mask(n, model.encoder.video.num_patches, 0.75, generator=g))


def reference_mse(data: dict, model, masks) -> dict:
    """Per-clip MSE of predicting each clip's mean visible value on its masked patches (the trivial
    inpainting), per modality: the denominator of the inpainting skill."""
    out = {}
    for mod, raw, m in (("audio", model.fbank(data), masks[0]), ("video", model.frame(data), masks[1])):
        space = model.space(mod)
        t = space.patchify(raw).float()
        vis = (~m.mask).float()[..., None]
        mean = (t * vis).sum((1, 2), keepdim=True) / (vis.sum((1, 2), keepdim=True) * t.shape[-1])
        err = ((t - mean) ** 2).mean(-1)
        out[mod] = float(((err * m.mask).sum(1) / m.mask.sum(1)).double().mean())
    return out


def table6_frame(runs: ArmRuns, names: Sequence[str] = ("cavmae", "cavmae_2x", "kdc", "kdc_overlap")) -> pd.DataFrame:
    """Table 6's per-clip metrics for ``names`` (every seed) and their shared random init, as tidy rows."""
    data = table6_data(runs.study)
    first = runs.arms[names[0]].build(runs.P.seed_list[0]).eval()
    masks = table6_masks(first, len(data["labels"]["sound"]))
    ref = reference_mse(data, first, masks)
    rows = []
    for seed in runs.P.seed_list:
        init = runs.arms[names[0]].build(seed).eval()
        rr, _ = _table6_rows(init, data, masks, ref)
        for name in names:
            if seed in runs.seeds(name):
                rows += [dict(r, arm=name, label=runs.label(name), seed=seed, init=RANDOM_INIT) for r in rr]
    for name in names:
        for run in runs.runs.get(name, []):
            rr, _ = _table6_rows(run.model(), data, masks, ref)
            rows += [dict(r, arm=name, label=runs.label(name), seed=run.seed, init="pretrained") for r in rr]
    return pd.DataFrame(rows)


def table6(frame6: pd.DataFrame) -> pd.DataFrame:
    """Table 6 on SynthAV: mean over seeds per arm (retrieval as fractions like the paper; inpainting
    MSE; average audio-to-patch cosine; pointing-game accuracy)."""
    pre = frame6[frame6.init == "pretrained"]
    rows = []
    for arm, g in pre.groupby("arm", sort=False):
        out = dict(model=g.label.iloc[0], seeds=g.seed.nunique())
        for d in ("A→V", "V→A"):
            for k in (1, 5, 10):
                out[f"{d} R@{k}"] = g[(g.task == f"retrieval {d}") & (g.protocol == f"R@{k}")].accuracy.mean() / 100
        for mod in ("audio", "video"):
            out[f"inpainting MSE {mod[0].upper()}"] = g[g.task == f"inpainting {mod}"].mse.mean()
        loc = g[g.task == "localization"]
        out["avg cos sim"] = loc.avg_cos.mean()
        out["pointing game (%)"] = loc.accuracy.mean()
        out["pointing chance (%)"] = loc.chance.mean()
        rows.append(out)
    return pd.DataFrame(rows)


# ======================================================================================== claims
#: The unit of Table 6's inpainting claims: points of 100·(1 − MSE/MSE_mean) on the masked patches.
SKILL_UNIT = "inpainting-skill points"


def claims() -> list[Claim]:
    """The paper's claims as comparisons on this book's data, fixed before the runs (spec §10.3):
    the probe on ``sound`` through the representation of the paper's column; Table 6 by its metrics."""
    av, v = "@joint", "@video"
    P = CLAIM_PROTOCOL
    return [
        Claim("E1", "table1", "KDC-MAE beats CAV-MAE with audio-visual input", "VGG AV +0.34, AS-20k AV +1.42",
              "kdc" + av, "cavmae" + av, TASK, P),
        Claim("E1-matched", "table1", "KDC-MAE beats CAV-MAE trained for the same number of encoder passes "
              "(compute-matched control; not in the paper)", "(control)", "kdc" + av, "cavmae_2x" + av, TASK, P),
        Claim("E1-V", "table1", "KDC-MAE beats CAV-MAE with video-only input", "VGG V +0.23, AS-20k V -0.05",
              "kdc" + v, "cavmae" + v, TASK, P),
        Claim("E2", "table2", "complementary (no-overlap) dual masks beat independent (with-overlap) ones, AV",
              "VGG AV +0.38, AS-20k AV -0.34", "kdc" + av, "kdc_overlap" + av, TASK, P),
        Claim("E3-5", "table2", "λ_kd = 10 beats λ_kd = 5, AV", "VGG AV +0.22, AS-20k AV -0.59",
              "kdc" + av, "kdc_l5" + av, TASK, P),
        Claim("E3-15", "table2", "λ_kd = 10 beats λ_kd = 15, AV", "VGG AV +0.65, AS-20k AV -0.10",
              "kdc" + av, "kdc_l15" + av, TASK, P),
        Claim("E3-KD", "table2", "self-distillation helps the dual-mask model (λ_kd = 10 vs 0; not in the paper)",
              "(control)", "kdc" + av, "kdc_l0" + av, TASK, P),
        Claim("E5", "table3", "dynamic weights help when distilling all encoders (AA VV DW vs AA VV), AV",
              "VGG AV +0.01, AS-20k AV +0.55", "kdc_aavv_dw" + av, "kdc_aavv" + av, TASK, P),
        Claim("E4", "table4", "with three streams, overlapping masks beat complementary ones, AV",
              "VGG AV +0.39, AS-20k AV +0.77", "kdc3_overlap" + av, "kdc3" + av, TASK, P),
        Claim("E6-CAV", "table7", "for CAV-MAE, uniform audio masking beats time masking, AV",
              "+0.31", "cavmae" + av, "cavmae_time" + av, TASK, P),
        Claim("E6-KDC", "table7", "for the no-overlap dual mask, time masking beats uniform, AV",
              "+0.78", "kdc_time" + av, "kdc" + av, TASK, P),
        Claim("E7", "table6", "KDC-MAE retrieves video from audio better than CAV-MAE (A→V R@10)",
              "No Overlap -0.020, With Overlap +0.010", "kdc", "cavmae", "retrieval A→V", "R@10",
              unit="A→V R@10 points"),
        Claim("E8-A", "table6", "KDC-MAE inpaints audio better than CAV-MAE (inpainting skill)",
              "loss 1.9985 vs 2.1869", "kdc", "cavmae", "inpainting audio", "skill", unit=SKILL_UNIT),
        Claim("E8-V", "table6", "KDC-MAE inpaints video better than CAV-MAE (inpainting skill)",
              "loss 2.8756 vs 2.9981", "kdc", "cavmae", "inpainting video", "skill", unit=SKILL_UNIT),
        Claim("E9", "table6", "KDC-MAE localizes the sounding object no worse than CAV-MAE by more than 2 points "
              "(pointing game)", "avg cos sim 0.2798 vs 0.2884 ('quite competitive')", "kdc", "cavmae",
              "localization", "pointing game", "not_less", 2.0, unit="pointing-game hit-rate points"),
    ]


def claim_frame(frame: pd.DataFrame, frame6: pd.DataFrame) -> pd.DataFrame:
    """One tidy frame for the gate and the claims: the representation rows and Table 6's rows."""
    return pd.concat([frame, frame6], ignore_index=True)


def decide_claims(frame: pd.DataFrame, runs: ArmRuns):
    """Verdicts of the claims whose arms ran at this profile (the study layer's rule: paired by seed,
    test-set floor, untestable when an arm fails the learning gate); the others are listed as not run."""
    from maskedav.study import decide, gate

    cs = [c for c in claims() if c.a.split("@")[0] in runs.runs and c.b.split("@")[0] in runs.runs]
    return cs, decide(frame, cs, gate(frame))


# ========================================================================= mechanistic checks
def coverage_table(P, base, batch_size: int = 4096) -> pd.DataFrame:
    """Spec §10.4.1 / §3.3: union of visible tokens, pairwise overlap and disjointness, measured on the
    real mask generators against the expected values, per modality and mask setting."""
    rows = []
    for n, comp in ((1, True), (2, False), (2, True), (3, False), (3, True)):
        model = KDCMAE(KDCMAEConfig.from_cavmae(base, num_streams=n, complementary=comp, kd_weight=10.0))
        masks = model.stream_masks(batch_size)
        for i, mod in enumerate(("audio", "video")):
            ms = [m[i] for m in masks]
            ratio = base.mask_ratio_a if mod == "audio" else base.mask_ratio_v
            vis = [(~m.mask).float() for m in ms]
            overlap = (np.mean([float((vis[j] * vis[k]).sum(1).mean()) for j in range(n) for k in range(j + 1, n)])
                       if n > 1 else math.nan)
            rows.append(dict(streams=n, masks="complementary" if comp else "independent", modality=mod,
                             tokens=ms[0].num_tokens, visible_per_stream=ms[0].num_keep,
                             coverage=coverage(ms), expected=expected_coverage(ratio, n, comp),
                             shared_tokens_per_pair=overlap))
    return pd.DataFrame(rows)


@torch.no_grad()
def kd_at_init(P, base, batch: dict, seed: int = 0) -> pd.DataFrame:
    """Spec §10.4.3 / §10.4.6: at initialisation, the raw KD loss between two complementary vs two
    independent streams of the same clips, and the scale of the projected distributions (1/D)."""
    rows = []
    for comp in (True, False):
        torch.manual_seed(seed)
        model = KDCMAE(KDCMAEConfig.from_cavmae(base, complementary=comp, seed=seed)).eval()
        feats = model.stream_features(batch)
        kd = float(model.kd_loss(feats))
        from maskedav.losses import shifted_distribution

        p = shifted_distribution(feats[0]["joint"].float())
        q = shifted_distribution(feats[1]["joint"].float())
        rows.append(dict(masks="complementary" if comp else "independent", kd_raw=kd, kd_weighted=10 * kd,
                         eps_share=eps_floor_share(p, q), max_p=float(p.max(1).values.mean()),
                         uniform_p=1 / p.shape[1]))
    return pd.DataFrame(rows)


def eps_floor_share(p: torch.Tensor, q: torch.Tensor) -> float:
    """The share of Eq. 5's value that comes from the two ε-floored entries: each stream's argmin is
    exactly 0 before ``+ε``, so the other stream's entry there contributes ``q·log(q/ε)`` (≈ 27.6·q at
    ε = 1e-12) — in float64, batch mean."""
    p, q = p.double(), q.double()
    kl = lambda a, b: a * (a / b).log()  # noqa: E731
    total = 0.5 * (kl(p, q) + kl(q, p)).sum(1)
    ip, iq = p.argmin(1, keepdim=True), q.argmin(1, keepdim=True)
    floor = 0.5 * (kl(q, p).gather(1, ip) + kl(p, q).gather(1, iq)).squeeze(1)
    return float((floor.sum() / total.sum()).clamp(max=1.0))


def exposure_table(frame: pd.DataFrame, runs: ArmRuns, base) -> pd.DataFrame:
    """Spec §10.4.7: AV probe accuracy on ``sound`` against the union of visible tokens per step."""
    rows = []
    for name, n, comp in (("cavmae", 1, True), ("kdc_overlap", 2, False), ("kdc", 2, True),
                          ("kdc3_overlap", 3, False), ("kdc3", 3, True)):
        if name not in runs.runs:
            continue
        m, s, k = mean_sd_(frame, f"{name}@joint", TASK)
        rows.append(dict(arm=name, label=runs.label(name), streams=n,
                         coverage_video=expected_coverage(base.mask_ratio_v, n, comp),
                         coverage_audio=expected_coverage(base.mask_ratio_a, n, comp), accuracy=m, sd=s, seeds=k))
    return pd.DataFrame(rows)


def exposure_figure(table: pd.DataFrame):
    """AV probe accuracy against the expected union of visible video tokens (spec §10.4.7)."""
    import matplotlib.pyplot as plt

    from maskedav import viz

    viz.set_style()
    fig, ax = plt.subplots(figsize=(5.5, 3.4))
    for streams, g in table.groupby("streams"):
        ax.errorbar(g.coverage_video * 100, g.accuracy, yerr=np.nan_to_num(g.sd.to_numpy(float)), marker="o",
                    capsize=3, ls="none", label=f"{streams} stream{'s' if streams > 1 else ''}")
        for _, r in g.iterrows():
            ax.annotate(r.arm, (r.coverage_video * 100, r.accuracy), textcoords="offset points", xytext=(4, 4),
                        fontsize=viz.MIN_FONT)
    ax.set_xlabel("tokens visible to some stream per step (%)")
    ax.set_ylabel("AV probe accuracy on sound (%)")
    ax.legend()
    fig.tight_layout()
    return fig
