"""The AV-MaskEnhancer chapter on the study layer: its arms and budgets, the held-out reconstruction
evaluation, Tables I-II, Figs. 1-3, the degradation sweep and claims C1-C7. The model is
:mod:`maskedav.methods.av_maskenhancer`; pre-training, downstream evaluation, the gate and the claims'
ledger are :mod:`maskedav.study`'s.

**Arms and budgets** (:func:`budgets`, :func:`plan`). Every variant is an :class:`~maskedav.study.Arm`
of the same method with one config switch changed (:data:`VARIANTS`), trained on ``("video", "mfcc")``
(cached TalkNet MFCC of the split) and evaluated on ``("video",)``: downstream, only the video encoder
is kept. Two budgets, compared only within themselves:

* **main** — the profile's steps, every seed: VideoMAE and AV-MaskEnhancer (w/ cross-attention).
  VideoMAE *is* the baselines chapter's VideoMAE when that arm's config and recipe equal this chapter's
  (:func:`videomae_arm`; then its checkpoints and evaluations are the baselines' cached ones);
* **ablation** — :data:`ABLATION_FRACTION` of the steps, every seed, held-out curve every tenth of the
  run: VideoMAE, AV w/o cross-attention (two definitions), AV w/, the shuffled-audio control; and, with
  :data:`EXTRA_SEEDS` seeds only, AV w/ at 75 / 95 % masking and the degradation sweep.

All arms of a seed share the initial video encoder (it is built first from the seed), the clip order
and the masks, so claims are paired by seed, and the random-init reference of every arm of a seed is
the same network: it is evaluated once (VideoMAE's) and shared (:func:`with_shared_random_init`).

**Held-out reconstruction** (:func:`heldout_set`, :func:`evaluate_heldout`): the first
:data:`HELDOUT_CLIPS` validation clips under fixed tube masks and one fixed derangement (another clip's
audio for the mismatched-audio evaluation), masked-patch MSE in [0, 1] pixel units, split into the
sounding object's masked pixels (the split's ``source_mask``) and the rest.

**Claims**: reconstruction claims (C1, C1-control, C2, C6, C7) by :func:`maskedav.claims.verdict`
paired by seed (C2's comparator chosen by its mean over seeds); downstream claims (C3, C4, C5) as
:class:`~maskedav.study.Claim` on the few-label fine-tune of ``appearance`` (the paper fine-tunes on
UCF101), decided by :func:`maskedav.study.decide` like every chapter's (untestable where an arm fails the
learning gate; inconclusive where an arm ran on fewer than 3 seeds).
"""
from __future__ import annotations

import dataclasses
import math
from collections import OrderedDict
from fractions import Fraction
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import torch

from maskedav.masking import tube_mask
from maskedav.methods.av_maskenhancer import AVMaskEnhancer, AVMaskEnhancerConfig, derangement
from maskedav.study import RANDOM_INIT, Arm, Claim, Run, Study
from maskedav.study.chapter import by_arm

__all__ = [
    "PAPER", "CHAPTER", "VARIANTS", "VARIANT_LABELS", "TASKS", "PROTOCOLS", "CLAIM_TASK", "CLAIM_PROTOCOL",
    "HELDOUT_MASK_SEED", "HELDOUT_CLIPS", "EARLY_FRACTION", "ABLATION_FRACTION", "EXTRA_SEEDS",
    "MASK_RATIOS", "DEGRADATION_FACTOR", "STEP_COST_S", "PAPER_TABLE1", "PAPER_TABLE2",
    "Budget", "budgets", "config", "arm", "arm_name", "videomae_arm", "plan", "ChapterRuns", "pretrain",
    "pretrain_degraded", "as_av_model", "normpix_videomae", "plan_table", "budget_prose", "timing_table",
    "evaluate", "with_shared_random_init", "ceilings", "gate_frame", "heldout_set", "evaluate_heldout",
    "heldout_frame", "curve_value", "downstream_claims",
    "fig3_claims", "c7_claim", "c6_claim", "lower_by_mean", "ReconClaim", "record_recon", "describe", "final_table", "table1", "table2",
    "degradation_table", "fig3_figure", "pick_clips", "fig2_figure", "architecture_trace", "fig1_figure",
    "degradation_figure", "MODALITY_GROUPS", "relative_gain", "mean_std",
]

PAPER = "av-maskenhancer"          # results folder and claims' paper name
CHAPTER = "av_maskenhancer"        # checkpoint folder
METHOD = "av_maskenhancer"         # maskedav.methods.method_classes() key

#: Config switches of every pre-training variant (mask ratio apart).
VARIANTS: dict[str, dict] = {
    "videomae": dict(audio=False),
    "av_wo_xattn": dict(cross_attention=False, audio_alignment="slot"),
    "av_wo_xattn_global": dict(cross_attention=False, audio_alignment="global"),
    "av_xattn": dict(cross_attention=True),
    "av_xattn_shuffled": dict(cross_attention=True, shuffle_audio=True),
}

VARIANT_LABELS: dict[str, str] = {
    "videomae": "VideoMAE",
    "av_wo_xattn": "AV w/o cross-attention (identity, slot-aligned)",
    "av_wo_xattn_global": "AV w/o cross-attention (global audio)",
    "av_xattn": "AV-MaskEnhancer (w/ cross-attention)",
    "av_xattn_shuffled": "AV w/ cross-attention, shuffled audio (control)",
}

#: Short names for crowded axes.
_SHORT = {"videomae": "VideoMAE", "av_wo_xattn": "w/o (slot)", "av_wo_xattn_global": "w/o (global)",
          "av_xattn": "AV w/", "av_xattn_shuffled": "control"}

_XATTN_COLUMN = {"videomae": "— (no audio)", "av_wo_xattn": "w/o (identity, slot-aligned)",
                 "av_wo_xattn_global": "w/o (global audio)", "av_xattn": "w/",
                 "av_xattn_shuffled": "w/ (shuffled-audio control)"}

TASKS = ("appearance", "motion")
PROTOCOLS = ("probe", "knn", "finetune")
#: The downstream claims' task and protocol, fixed before the runs: the paper fine-tunes on UCF101, an
#: appearance-dominated action set; SynthAV's analogue is ``appearance`` by the few-label fine-tune.
CLAIM_TASK, CLAIM_PROTOCOL = "appearance", "finetune"
MIN_SEEDS = 3
ALPHA = 0.1

#: Seed of the fixed held-out masks and of the held-out derangement, shared by every run.
HELDOUT_MASK_SEED = 12345
#: Validation clips of the held-out reconstruction evaluation (at most; the split may be smaller).
HELDOUT_CLIPS = 512
#: Fig. 3's reading (Sec. IV-B.2): at ~150 of ~500 epochs the full model is not the fastest.
EARLY_FRACTION = 150 / 500
#: The ablation budget: this fraction of the profile's pre-training steps (cpu: 1000 of 3000).
ABLATION_FRACTION = 1 / 3
#: Seeds of the runs that only describe (mask ratios 75 / 95 %, the degradation sweep).
EXTRA_SEEDS = 1
MASK_RATIOS = (0.75, 0.9, 0.95)
DEGRADATION_FACTOR = 4

#: Measured cost of one pre-training step at the ``cpu`` profile's sizes (batch 32, one thread, CPU
#: time on the book's 2-core machine while the other core trained; ``torch`` 2.x), the arithmetic
#: behind the budgets. The runs' own times are in :func:`timing_table`.
STEP_COST_S = {"videomae": 0.055, "av_wo_xattn": 0.072, "av_wo_xattn_global": 0.072, "av_xattn": 0.082,
               "av_xattn_shuffled": 0.084, "av_xattn_m75": 0.093, "av_xattn_m95": 0.078}
#: Measured cost of one downstream evaluation at the ``cpu`` profile (CPU seconds): probe + kNN on
#: both tasks (features of 11,264 clips), and one task's few-label fine-tune (300 steps + 8,192 test clips).
EVAL_COST_S = {"probe+knn": 21.0, "finetune": 30.0}

# ----------------------------------------------------------------------------------- paper tables
_SRC1 = "AV-MaskEnhancer (Diao, Cheng, Cheng), Table I (Sec. IV-C): UCF101 top-1"
_SRC2 = "AV-MaskEnhancer (Diao, Cheng, Cheng), Table II (Sec. IV-B.3): UCF101 top-1"

#: Table I as printed (rows in the paper's order; "VideoMAE [22]" is the paper's citation typo for [23]).
PAPER_TABLE1: list[dict] = [
    dict(method=m, backbone=b, extra_data=d, frames=f, modalities=mo, top1=a, source=_SRC1)
    for m, b, d, f, mo, a in [
        ("XDC", "R(2+1)D", "Kinetics-400", "32", "V+A", 84.2),
        ("GDT", "R(2+1)D", "Kinetics-400", "32", "V+A", 89.3),
        ("MIL-NCE", "S3D", "HowTo100M*", "32", "V+T", 91.3),
        ("MMV", "S3D-G", "AS+HTM*", "32", "V+A+T", 92.5),
        ("CPD", "ResNet50", "IG300k", "16", "V+T", 92.8),
        ("ELO", "R(2+1)D", "Youtube8M-2*", "N/A", "V+A", 93.8),
        ("XDC", "R(2+1)D", "IG65M*", "32", "V+A", 94.2),
        ("GDT", "R(2+1)D", "IG65M*", "32", "V+A", 95.2),
        ("VideoMAE", "ViT-B", "Kinetics-400", "16", "V", 96.1),
        ("CAV-MAE", "ViT-B", "Kinetics-400", "32", "V+A", 95.4),
        ("AV-MaskEnhancer (95% masked)", "ViT-B", "Kinetics-400", "16", "V+A", 96.4),
        ("AV-MaskEnhancer (75% masked)", "ViT-B", "Kinetics-400", "16", "V+A", 97.7),
        ("AV-MaskEnhancer (90% masked)", "ViT-B", "Kinetics-400", "16", "V+A", 98.8),
    ]
]

#: Table II as printed.
PAPER_TABLE2: list[dict] = [
    dict(method="AV-MaskEnhancer", mask="90%", cross_attention="w/o", top1=96.3, source=_SRC2),
    dict(method="AV-MaskEnhancer", mask="90%", cross_attention="w/", top1=98.8, source=_SRC2),
]


# ========================================================================================= arms
@dataclass(frozen=True)
class Budget:
    """A pre-training budget: ``steps`` per run, its ``seeds``, TrainConfig ``overrides`` (warm-up
    scaled with the steps, held-out evaluation interval) and the arm-name ``suffix``."""

    name: str
    steps: int
    seeds: tuple
    overrides: tuple = ()
    suffix: str = ""


def budgets(P) -> dict[str, Budget]:
    """``{"main": the profile's steps, "ablation": ABLATION_FRACTION of them}``, both on every seed of
    the profile; the ablation budget keeps the profile's warm-up fraction and evaluates the held-out
    loss every tenth of the run (so that 30 % of training is an evaluation step)."""
    steps = P.train.steps
    a = max(int(round(steps * ABLATION_FRACTION)), 2)
    warm = max(1, int(round(P.train.warmup_steps * a / steps)))
    every = max(a // 10, 1)
    seeds = tuple(P.seed_list)
    return {"main": Budget("main", steps, seeds),
            "ablation": Budget("ablation", a, seeds, (("eval_every", every), ("warmup_steps", warm)), "_abl")}


def config(P, variant: str, **changes) -> AVMaskEnhancerConfig:
    """The profile's small model with ``variant``'s switches (:data:`VARIANTS`) and ``changes``."""
    return AVMaskEnhancerConfig.from_profile(P, **{**VARIANTS[variant], **changes})


def arm_name(variant: str, budget: Budget, mask_ratio: float = 0.9) -> str:
    ratio = "" if math.isclose(mask_ratio, 0.9) else f"_m{int(round(100 * mask_ratio))}"
    return f"{variant}{ratio}{budget.suffix}"


def arm(P, variant: str, budget: Budget, *, mask_ratio: float = 0.9, seeds: Sequence[int] | None = None) -> Arm:
    """The arm of ``variant`` at ``budget``: trained on video + MFCC (video only for VideoMAE),
    evaluated on video alone."""
    cfg = config(P, variant, mask_ratio=mask_ratio)
    ratio = "" if math.isclose(mask_ratio, 0.9) else f", {mask_ratio:.0%} masked"
    return Arm(arm_name(variant, budget, mask_ratio), METHOD, cfg,
               keys=("video", "mfcc") if cfg.audio else ("video",), eval_keys=("video",),
               steps=None if budget.name == "main" else budget.steps,
               label=f"{VARIANT_LABELS[variant]}{ratio} ({budget.steps} steps)",
               seeds=None if seeds is None else tuple(seeds), train_overrides=budget.overrides)


def videomae_arm(P) -> tuple[Study, Arm]:
    """The main budget's VideoMAE: the baselines chapter's arm (its study, so that its cached runs and
    evaluations are used) when its config equals this chapter's VideoMAE (``audio=False``, whose
    :meth:`~AVMaskEnhancerConfig.videomae_config` builds the same network, draws the same masks and
    trains on the same clips by the same recipe); otherwise this chapter's own arm."""
    from maskedav.chapters import baselines

    mine = arm(P, "videomae", budgets(P)["main"])
    sb = Study(P, "baselines")
    theirs = baselines.arms(sb, "videomae")[0]
    same = (theirs.config == mine.config.videomae_config() and tuple(theirs.keys) == mine.keys
            and theirs.data == mine.data and theirs.steps == mine.steps and not theirs.train_overrides
            and not theirs.key_extra and theirs.factory is None)
    if same:
        return sb, dataclasses.replace(theirs, label=mine.label + ", the baselines' runs", eval_keys=("video",))
    return Study(P, CHAPTER), mine


def plan(P) -> dict[str, tuple[str, Arm]]:
    """Every arm this chapter trains on clean data: ``{name: (budget name, arm)}``, longest runs first
    (the executor then balances its workers). The main VideoMAE is :func:`videomae_arm`'s."""
    B = budgets(P)
    extra = tuple(P.seed_list[:EXTRA_SEEDS])
    out = OrderedDict()
    out["av_xattn"] = ("main", arm(P, "av_xattn", B["main"]))
    out[arm_name("av_xattn", B["ablation"], 0.75)] = ("ablation", arm(P, "av_xattn", B["ablation"], mask_ratio=0.75, seeds=extra))
    for v in ("av_xattn_shuffled", "av_xattn"):
        out[arm_name(v, B["ablation"])] = ("ablation", arm(P, v, B["ablation"]))
    out[arm_name("av_xattn", B["ablation"], 0.95)] = ("ablation", arm(P, "av_xattn", B["ablation"], mask_ratio=0.95, seeds=extra))
    for v in ("av_wo_xattn", "av_wo_xattn_global", "videomae"):
        out[arm_name(v, B["ablation"])] = ("ablation", arm(P, v, B["ablation"]))
    return out


@dataclass
class ChapterRuns:
    """The chapter's trained runs: ``arms`` and ``runs`` (seed order) by arm name, the ``owner`` study
    of each arm (the baselines' for a reused VideoMAE), its ``budget`` name, and the study's data
    ``factor`` (video down-sampling; 1 = clean)."""

    P: object
    study: Study
    arms: dict = field(default_factory=dict)
    runs: dict = field(default_factory=dict)
    owner: dict = field(default_factory=dict)
    budget: dict = field(default_factory=dict)
    factor: int = 1

    def seeds(self, name: str) -> list[int]:
        return [r.seed for r in self.runs[name]]

    def models(self, name: str) -> list[AVMaskEnhancer]:
        return [as_av_model(self.P, r) for r in self.runs[name]]

    def label(self, name: str) -> str:
        return self.arms[name].label


def pretrain(P) -> ChapterRuns:
    """Train (or read from the cache) every arm of :func:`plan` on the executor's workers, and the main
    VideoMAE (:func:`videomae_arm`)."""
    study = Study(P, CHAPTER)
    out = ChapterRuns(P, study)
    vm_study, vm = videomae_arm(P)
    for r in vm_study.pretrain([vm], P.seed_list):
        out.runs.setdefault("videomae", []).append(r)
    out.arms["videomae"], out.owner["videomae"], out.budget["videomae"] = vm, vm_study, "main"
    planned = plan(P)
    runs = by_arm(study.pretrain([a for _, a in planned.values()], P.seed_list), planned)
    for name, (budget, a) in planned.items():
        out.arms[name], out.owner[name], out.budget[name], out.runs[name] = a, study, budget, runs[name]
    return out


def pretrain_degraded(P, factor: int = DEGRADATION_FACTOR) -> ChapterRuns:
    """VideoMAE and AV w/ at the ablation budget (:data:`EXTRA_SEEDS` seeds) pre-trained on SynthAV
    whose video is area-down-sampled by ``factor`` and up-sampled back (input and target alike), in a
    study of its own (``Study(..., data={"downsample": factor})``)."""
    study = Study(P, CHAPTER, data={"downsample": factor})
    B = budgets(P)["ablation"]
    extra = tuple(P.seed_list[:EXTRA_SEEDS])
    arms = [arm(P, v, B, seeds=extra) for v in ("av_xattn", "videomae")]
    runs = study.pretrain(arms, P.seed_list)
    out = ChapterRuns(P, study, factor=factor)
    for a in arms:
        out.arms[a.name], out.owner[a.name], out.budget[a.name] = a, study, "ablation"
        out.runs[a.name] = [r for r in runs if r.arm.name == a.name]
    return out


def as_av_model(P, run: Run) -> AVMaskEnhancer:
    """The run's model as an :class:`AVMaskEnhancer` (a baselines VideoMAE is loaded into the identical
    ``audio=False`` model), eval mode."""
    m = run.model()
    if isinstance(m, AVMaskEnhancer):
        return m
    cfg = config(P, "videomae", norm_pix=m.config.norm_pix, seed=run.seed)
    if cfg.videomae_config() != m.config:
        raise ValueError(f"{run.arm.name}: a {type(m).__name__} whose config is not this chapter's VideoMAE")
    av = AVMaskEnhancer(cfg)
    av.load_state_dict(m.state_dict())
    return av.eval()


def normpix_videomae(P) -> Run | None:
    """Seed 0 of the baselines' VideoMAE trained on the paper's per-channel normalised target (cached by
    the baselines chapter), for Fig. 2's second visualisation convention; ``None`` when the profile has
    no such arm."""
    from maskedav.chapters import baselines

    sb = Study(P, "baselines")
    arms = [a for a in baselines.arms(sb, "videomae") if a.name == "videomae_normpix"]
    if not arms:
        return None
    return sb.pretrain(arms, P.seed_list[:1])[0]


# -------------------------------------------------------------------------------------- budget
def _cost_key(a: Arm) -> str:
    """The :data:`STEP_COST_S` entry of an arm's config."""
    c = a.config
    if not c.audio:
        return "videomae"
    if not math.isclose(c.mask_ratio, 0.9):
        return f"av_xattn_m{int(round(100 * c.mask_ratio))}"
    if c.shuffle_audio:
        return "av_xattn_shuffled"
    return "av_xattn" if c.cross_attention else "av_wo_xattn"


def plan_table(P, workers: int = 2):
    """The budget as planned, per arm: seeds × steps, the estimated CPU seconds of pre-training
    (:data:`STEP_COST_S`) and of downstream evaluation (:data:`EVAL_COST_S`; main budget: probe + kNN
    and a fine-tune per task, ablation budget: one fine-tune), and a last row with the total and its
    wall time on ``workers`` single-threaded workers. Costs are those measured at the ``cpu`` profile's
    sizes; a reused VideoMAE costs nothing here (the baselines chapter trained and evaluated it)."""
    import pandas as pd

    B = budgets(P)
    n, extra = len(P.seed_list), len(P.seed_list[:EXTRA_SEEDS])
    vm_study, _ = videomae_arm(P)
    reused = vm_study.chapter != CHAPTER
    main_eval = EVAL_COST_S["probe+knn"] + len(TASKS) * EVAL_COST_S["finetune"]
    evaluated = set(_ablation_eval_arms(P))
    entries = [("videomae", "main", "videomae", n, 0 if reused else 2 * n, main_eval,
                "the baselines' cached runs and evaluations (incl. the shared random init)" if reused else
                "evaluations incl. the random init every arm of a seed shares")]
    for name, (budget, a) in plan(P).items():
        seeds = len(a.seed_list(P.seed_list))
        evals = seeds if (name == "av_xattn" or name in evaluated) else 0
        entries.append((name, budget, _cost_key(a), seeds, evals,
                        main_eval if budget == "main" else EVAL_COST_S["finetune"], ""))
    for v in ("av_xattn", "videomae"):
        entries.append((f"{arm_name(v, B['ablation'])} ×{DEGRADATION_FACTOR} down-sampled", "ablation", v, extra, 0, 0.0,
                        "degradation sweep"))
    rows = []
    for name, budget, key, seeds, evals, per_eval, note in entries:
        steps = B[budget].steps
        free = reused and name == "videomae"
        rows.append(dict(arm=name, budget=budget, seeds=seeds, steps=steps, step_cost_s=STEP_COST_S[key],
                         pretrain_cpu_s=0.0 if free else seeds * steps * STEP_COST_S[key],
                         evaluations=evals, eval_cpu_s=evals * per_eval, note=note))
    df = pd.DataFrame(rows)
    total = float(df.pretrain_cpu_s.sum() + df.eval_cpu_s.sum())
    df.loc[len(df)] = dict(arm="total", budget="", seeds=float("nan"), steps=float("nan"), step_cost_s=float("nan"),
                           pretrain_cpu_s=df.pretrain_cpu_s.sum(), evaluations=df.evaluations.sum(),
                           eval_cpu_s=df.eval_cpu_s.sum(),
                           note=f"{total:.0f} CPU s ≈ {total / workers / 60:.1f} min on {workers} workers")
    return df


def budget_prose(P, workers: int = 2) -> str:
    """The budget's arithmetic in words (Markdown), every number from :data:`STEP_COST_S`,
    :data:`EVAL_COST_S`, :func:`budgets` and :func:`plan_table` (so the prose cannot drift from them)."""
    t = plan_table(P, workers).set_index("arm")
    B = budgets(P)
    n, main, abl = len(P.seed_list), B["main"].steps, B["ablation"].steps
    cost = STEP_COST_S
    av = [cost[k] for k in cost if k != "videomae"]
    five = sum(cost[v] for v in VARIANTS)
    minutes = lambda s: s / workers / 60  # noqa: E731
    few = t[(t.seeds < n) & (t.index != "total")]
    few_s = float(few.pretrain_cpu_s.sum())
    more_s = float((few.pretrain_cpu_s + few.eval_cpu_s).sum()) * (n - EXTRA_SEEDS) / EXTRA_SEEDS
    abl_arms = [arm_name(v, B["ablation"]) for v in VARIANTS]
    vm = t.loc["videomae"]
    evaluated = t[(t.evaluations > 0) & (t.index != "total")]
    main_eval = EVAL_COST_S["probe+knn"] + len(TASKS) * EVAL_COST_S["finetune"]
    n_abl = int(evaluated[evaluated.budget == "ablation"].evaluations.sum())
    n_main = int(evaluated[evaluated.budget == "main"].evaluations.sum())
    total = float(t.loc["total"].pretrain_cpu_s + t.loc["total"].eval_cpu_s)
    fraction = Fraction(ABLATION_FRACTION).limit_denominator(100)
    extra = "one seed" if EXTRA_SEEDS == 1 else f"{EXTRA_SEEDS} seeds"
    reuse = ("VideoMAE is the baselines chapter's own VideoMAE, whose config equals this chapter's video-only "
             "variant (same network, masks, clips and recipe; checked in code), so its runs and evaluations "
             "come from that chapter's cache" if vm.pretrain_cpu_s == 0 else
             f"VideoMAE is this chapter's own run here: {n} × {main:,} × {cost['videomae']:.3f} "
             f"≈ {vm.pretrain_cpu_s:,.0f} CPU s")
    return f"""The chapter must fit 30 minutes on {workers} cores at the `cpu` profile; this run's profile,
`{P.name}`, has {n} seeds and {main:,} steps at batch {P.train.batch_size}. One pre-training step costs
{cost['videomae']:.3f} s for VideoMAE and {min(av):.3f}-{max(av):.3f} s for the AV variants (measured at the
`cpu` profile's sizes on one thread: the audio encoder, two cross-attention blocks and a decoder input twice
as wide; `ch.STEP_COST_S`). The {len(VARIANTS)} variants at {n} seeds and the full {main:,} steps would cost
{n} × {main:,} × {five:.3f} s ≈ {n * main * five:,.0f} CPU s, {minutes(n * main * five):.0f} minutes on
{workers} workers before any evaluation. So:

* **main budget** (the profile's {main:,} steps, {n} seeds): VideoMAE and AV-MaskEnhancer (w/ cross-attention),
  the comparison of claims C1, C4 and C7. {reuse}. AV w/: {n} × {main:,} × {cost['av_xattn']:.3f} s
  ≈ {t.loc['av_xattn'].pretrain_cpu_s:,.0f} CPU s.
* **ablation budget** ({fraction} of the steps, {abl:,}, {n} seeds): all {len(VARIANTS)} variants, the comparisons of C1-control, C2, C3 and C3-global: {n} × {abl:,} × {five:.3f} s
  ≈ {t.loc[abl_arms].pretrain_cpu_s.sum():,.0f} CPU s. The spec's pilot saw the AV models start to use the
  audio around 1,000 steps; whether {abl:,} steps pass the learning gate is measured below (an arm that
  fails makes its downstream claims untestable). Arms are compared only within one budget.
* **{extra}** at the ablation budget: AV-MaskEnhancer at 75 % and 95 % masking (Table I, C5) and the ×{DEGRADATION_FACTOR} down-sampled degradation sweep (C6): ≈ {few_s:,.0f} CPU s. {n} seeds would add
  ≈ {more_s:,.0f} CPU s with their evaluations, so these rows describe: C5's claims are inconclusive (fewer
  than 3 seeds), and so is C6.
* **evaluation**: the main AV encoder by linear probe, kNN and few-label fine-tune on both tasks
  ({n_main} × {main_eval:.0f} s), the ablation arms by the claims' protocol, the fine-tune on
  `{CLAIM_TASK}` ({n_abl} × {EVAL_COST_S['finetune']:.0f} s); the random-init reference is VideoMAE's (every
  arm of a seed starts from that very video encoder), ≈ {t.loc['total'].eval_cpu_s:,.0f} CPU s.

In all ≈ {total:,.0f} CPU s ≈ {minutes(total):.0f} minutes on {workers} workers, plus loading data, held-out
evaluation and figures. The table is that arithmetic; the measured times of the runs are at the end of
this notebook."""


def timing_table(runs: ChapterRuns):
    """The runs' measured pre-training time: per arm, seeds, steps, mean seconds of compute per run and
    per step (:attr:`~maskedav.study.Run.cost_s`: a CPU run's process time; a cached run reports the time
    it took when it was trained)."""
    import pandas as pd

    rows = []
    for name, rs in runs.runs.items():
        a = runs.arms[name]
        steps = a.steps or runs.P.train.steps
        t = np.array([r.cost_s for r in rs], float)
        rows.append(dict(arm=name, budget=runs.budget[name], seeds=len(rs), steps=steps,
                         s_per_run=float(t.mean()), s_per_step=float(t.mean()) / steps,
                         total_s=float(t.sum()), trained_now=sum(not r.cached for r in rs),
                         study=runs.owner[name].chapter))
    return pd.DataFrame(rows)


# ==================================================================================== evaluation
#: Arms evaluated downstream at the ablation budget (on the claims' task and protocol only).
def _ablation_eval_arms(P) -> list[str]:
    B = budgets(P)["ablation"]
    return [arm_name(v, B) for v in ("videomae", "av_wo_xattn", "av_wo_xattn_global", "av_xattn")] + \
           [arm_name("av_xattn", B, r) for r in (0.75, 0.95)]


def evaluate(runs: ChapterRuns):
    """The tidy frame of the video encoders: the main budget on both tasks by every protocol
    (probe, kNN, few-label fine-tune), the ablation budget on the claims' task and protocol; the
    random-init rows are VideoMAE's, shared by every arm of a seed (:func:`with_shared_random_init`)."""
    import pandas as pd

    frames = [runs.owner["videomae"].evaluate(runs.runs["videomae"], TASKS, PROTOCOLS, finetune_tasks=TASKS),
              runs.study.evaluate(runs.runs["av_xattn"], TASKS, PROTOCOLS, random_init=False,
                                  finetune_tasks=TASKS)]
    ablation = [r for n in _ablation_eval_arms(runs.P) for r in runs.runs[n]]
    frames.append(runs.study.evaluate(ablation, (CLAIM_TASK,), (CLAIM_PROTOCOL,), random_init=False,
                                      finetune_tasks=(CLAIM_TASK,)))
    frame = pd.concat(frames, ignore_index=True)
    frame["budget"] = frame.arm.map(runs.budget)
    return with_shared_random_init(frame, runs)


def with_shared_random_init(frame, runs: ChapterRuns, source: str = "videomae"):
    """``frame`` with random-init rows for every arm: ``source``'s random-init rows of the same seed,
    task and protocol. Valid because every arm of a seed starts from the same video encoder, which
    downstream evaluation alone reads — checked here weight by weight before a row is shared."""
    import pandas as pd

    src = frame[(frame.arm == source) & (frame.init == RANDOM_INIT)]
    ref = {}
    extra = []
    for name, g in frame[(frame.init == "pretrained") & (frame.arm != source)].groupby("arm", sort=False):
        a = runs.arms[name]
        for seed in sorted(set(g.seed)):
            if seed not in ref:
                ref[seed] = runs.arms[source].build(seed).encoder.state_dict()
            mine = a.build(seed).encoder.state_dict()
            if mine.keys() != ref[seed].keys() or not all(torch.equal(mine[k], ref[seed][k]) for k in mine):
                raise ValueError(f"{name} seed {seed} does not start from {source}'s video encoder")
        want = set(zip(g.seed, g.task, g.protocol))
        rows = src[[k in want for k in zip(src.seed, src.task, src.protocol)]].copy()
        rows["arm"], rows["label"], rows["budget"] = name, a.label, runs.budget[name]
        extra.append(rows)
    return pd.concat([frame, *extra], ignore_index=True)


def ceilings(P):
    """Supervised ceilings of :data:`TASKS`: the baselines chapter's (cached by its gate notebook)."""
    from maskedav.chapters import baselines

    return baselines.ceilings(P, TASKS)


def gate_frame(frame, P):
    """The rows of the arms the gate can assess: those trained on every seed of the profile (at least
    :data:`MIN_SEEDS` where the profile has them), not the :data:`EXTRA_SEEDS` arms."""
    n = frame[frame.init == "pretrained"].groupby("arm").seed.nunique()
    return frame[frame.arm.isin(n[n >= min(MIN_SEEDS, len(P.seed_list))].index)]


# ===================================================================== held-out reconstruction
def heldout_set(study: Study, mask_ratio: float = 0.9, n: int | None = None) -> dict:
    """The fixed held-out set: the first ``n`` (default :data:`HELDOUT_CLIPS`) validation clips of
    ``study``'s data with their MFCC and sounding-object masks, one tube mask per clip drawn from
    :data:`HELDOUT_MASK_SEED` (the same for every run at this ratio) and one fixed derangement
    ``audio_perm`` (which other clip's audio each clip gets in the mismatched-audio evaluation)."""
    val = study.split("val", ("video", "mfcc", "source_mask"))
    n = min(n or HELDOUT_CLIPS, len(val["video"]))
    grid = config(study.P, "av_xattn", mask_ratio=mask_ratio).grid
    g = torch.Generator().manual_seed(HELDOUT_MASK_SEED)
    mask = tube_mask(n, grid, mask_ratio, generator=g)
    perm = derangement(n, generator=g)
    return dict(video=val["video"][:n], mfcc=val["mfcc"][:n], source_mask=val["source_mask"][:n],
                labels={k: v[:n] for k, v in val["labels"].items()}, mask=mask.mask, audio_perm=perm,
                mask_ratio=mask_ratio)


@torch.no_grad()
def evaluate_heldout(model: AVMaskEnhancer, held: dict, *, mismatched: bool | None = None,
                     batch_size: int = 128) -> dict:
    """Masked-patch reconstruction error of ``model`` on the fixed held-out set (its fixed masks).

    ``mse``: mean squared error over every masked pixel, in [0, 1] pixel units (a norm-pix model's
    prediction de-normalised with the true patches' statistics, :meth:`AVMaskEnhancer.reconstruct`);
    ``mse_source`` / ``mse_rest``: over the masked pixels of the sounding object / all other masked
    pixels; ``loss``: the training loss's units; ``per_clip``: each clip's ``mse`` (for the held-out
    set's own standard error). ``mismatched``: every clip gets another clip's audio (the fixed
    derangement); default: what the model was trained with (the shuffled control: mismatched).
    """
    cfg = model.config
    if mismatched is None:
        mismatched = bool(cfg.shuffle_audio)
    mfcc = held["mfcc"][held["audio_perm"]] if (cfg.audio and mismatched) else held["mfcc"]
    device = next(model.parameters()).device
    sq = cnt = sq_src = cnt_src = loss = 0.0
    per_clip = []
    for a in range(0, len(held["video"]), batch_size):
        video = held["video"][a:a + batch_size].to(device)
        B = video.shape[0]
        r = model.reconstruct(dict(video=video, mfcc=mfcc[a:a + batch_size].to(device),
                                   mask=held["mask"][a:a + batch_size].to(device),
                                   audio_perm=torch.arange(B, device=device)))
        hidden = r["mask_pixels"]
        err = (r["pasted"].float() - video.float()) ** 2 * hidden
        src = held["source_mask"][a:a + batch_size].to(device)[:, None].expand_as(video) & hidden
        sq += float(err.sum())
        cnt += float(hidden.sum())
        sq_src += float((err * src).sum())
        cnt_src += float(src.sum())
        loss += float(r["mse"].sum())
        per_clip.append((err.flatten(1).sum(1) / hidden.flatten(1).sum(1).clamp_min(1)).cpu())
    rest = cnt - cnt_src
    return dict(mse=sq / max(cnt, 1.0), mse_source=sq_src / max(cnt_src, 1.0),
                mse_rest=(sq - sq_src) / max(rest, 1.0), loss=loss / len(held["video"]),
                per_clip=torch.cat(per_clip).numpy())


def heldout_frame(runs: ChapterRuns, names: Sequence[str], held: dict | None = None):
    """One row per (arm, seed) of ``names`` (90 % masking): :func:`evaluate_heldout` with the audio each
    model trained with (``mse``, ``mse_source``, ``mse_rest``, ``loss``, ``per_clip``) and, for the AV
    variants, the MSE with the clip's own audio (``mse_matched``) and another clip's (``mse_mismatched``)."""
    import pandas as pd

    held = heldout_set(runs.study) if held is None else held
    rows = []
    for name in names:
        for run in runs.runs[name]:
            model = as_av_model(runs.P, run)
            r = evaluate_heldout(model, held)
            row = dict(arm=name, label=runs.label(name), budget=runs.budget[name], factor=runs.factor,
                       seed=run.seed, **r)
            if model.config.audio:
                other = evaluate_heldout(model, held, mismatched=not model.config.shuffle_audio)
                matched, mismatched = (other, r) if model.config.shuffle_audio else (r, other)
                row.update(mse_matched=matched["mse"], mse_mismatched=mismatched["mse"])
            rows.append(row)
    return pd.DataFrame(rows)


def curve_value(run: Run, fraction: float, key: str = "loss_recon") -> tuple[int, float]:
    """``(step, value)`` of the held-out evaluation after initialisation nearest ``fraction`` of the run."""
    steps = run.arm.steps or max(r["step"] for r in run.eval_history)
    rows = [r for r in run.eval_history if r["step"] > 0]
    row = min(rows, key=lambda r: abs(r["step"] - fraction * steps))
    return int(row["step"]), float(row[key])


# ======================================================================================== claims
def mean_std(x) -> tuple[float, float]:
    x = np.asarray(list(x), dtype=float)
    return float(x.mean()), (float(x.std(ddof=1)) if len(x) > 1 else float("nan"))


def relative_gain(v: dict, av: dict) -> dict:
    """Per seed ``100·(V - AV)/V`` (percent; positive = AV lower)."""
    return {s: 100.0 * (v[s] - av[s]) / v[s] for s in sorted(set(v) & set(av))}


def lower_by_mean(values: dict[str, dict], candidates: Sequence[str]) -> str:
    """The candidate arm whose **mean over seeds** of ``values[arm] = {seed: value}`` is lowest (C2's
    comparator). Not a per-seed minimum: picking, seed by seed, the lower of two arms biases the
    comparator down and the test towards the claim."""
    return min(candidates, key=lambda n: float(np.mean(list(values[n].values()))))


def _by_seed(hf, arm: str, key: str = "mse") -> dict:
    g = hf[hf.arm == arm]
    return {int(s): float(x) for s, x in zip(g.seed, g[key])}


def _paired(a: dict, b: dict) -> tuple[list, list]:
    seeds = sorted(set(a) & set(b))
    return [a[s] for s in seeds], [b[s] for s in seeds]


def _clip_floor(hf, arm_a: str, arm_b: str) -> float:
    """The held-out set's standard error of an MSE difference: the mean over shared seeds of
    ``sd(per-clip difference) / sqrt(clips)`` (the set is the same for every seed)."""
    a, b = hf[hf.arm == arm_a].set_index("seed"), hf[hf.arm == arm_b].set_index("seed")
    ses = []
    for s in sorted(set(a.index) & set(b.index)):
        d = np.asarray(a.loc[s, "per_clip"], float) - np.asarray(b.loc[s, "per_clip"], float)
        ses.append(float(d.std(ddof=1)) / math.sqrt(len(d)) if len(d) > 1 else 0.0)
    return float(np.mean(ses)) if ses else 0.0


#: The unit of C6's and C7's effects: a difference of relative MSE gains 100·(VideoMAE − AV)/VideoMAE.
RELATIVE_GAIN = "% (relative MSE gain)"


@dataclass
class ReconClaim:
    """A reconstruction claim as recorded: its id, table, statement (what is compared), the paper's
    effect, the verdict (:func:`maskedav.claims.verdict`, paired by seed) and the unit of its effect."""

    id: str
    table: str
    statement: str
    paper_effect: str
    verdict: object
    unit: str = "MSE (raw pixels)"


def fig3_claims(runs: ChapterRuns, hf) -> list[ReconClaim]:
    """C1 (main budget), C1-control and C2 (ablation budget) from the held-out frame ``hf`` and the
    curves. C2's comparator is the arm with the lower **mean over seeds** of VideoMAE and AV w/o
    (slot-aligned) at the evaluation step nearest 30 % of training."""
    from maskedav.claims import verdict

    P = runs.P
    B = budgets(P)
    main, abl = B["main"].steps, B["ablation"].steps
    xa, vm = _paired(_by_seed(hf, "av_xattn"), _by_seed(hf, "videomae"))
    c1 = verdict(xa, vm, "less", ALPHA, MIN_SEEDS, paired=True, floor_se=_clip_floor(hf, "av_xattn", "videomae"))
    w, ctrl = arm_name("av_xattn", B["ablation"]), arm_name("av_xattn_shuffled", B["ablation"])
    xa, xc = _paired(_by_seed(hf, w), _by_seed(hf, ctrl))
    c1c = verdict(xa, xc, "less", ALPHA, MIN_SEEDS, paired=True, floor_se=_clip_floor(hf, w, ctrl))
    early = {n: {r.seed: curve_value(r, EARLY_FRACTION) for r in runs.runs[n]}
             for n in (w, arm_name("videomae", B["ablation"]), arm_name("av_wo_xattn", B["ablation"]))}
    step = next(iter(early[w].values()))[0]
    vals = {n: {s: v for s, (_, v) in d.items()} for n, d in early.items()}
    candidates = [arm_name("videomae", B["ablation"]), arm_name("av_wo_xattn", B["ablation"])]
    comp = lower_by_mean(vals, candidates)
    xa, xb = _paired(vals[w], vals[comp])
    c2 = verdict(xa, xb, "greater", ALPHA, MIN_SEEDS, paired=True)
    held = f"held-out masked-patch MSE (raw pixels; {int(hf.per_clip.iloc[0].size)} validation clips, fixed tube masks)"
    return [
        ReconClaim("C1", "fig3",
                   f"main budget ({main} steps): AV-MaskEnhancer (w/ cross-attention) ends with a lower {held} "
                   f"than VideoMAE (a = AV w/, b = VideoMAE; paired by seed)",
                   "-3 % MSE (relative, Fig. 3)", c1),
        ReconClaim("C1-control", "fig3",
                   f"ablation budget ({abl} steps): AV w/ cross-attention ends with a lower {held} than the same "
                   f"model trained on another clip's audio, each evaluated with the audio it trained with "
                   f"(a = AV w/, b = shuffled-audio control)",
                   "not in the paper (book control)", c1c),
        ReconClaim("C2", "fig3",
                   f"ablation budget ({abl} steps): at step {step} (~{EARLY_FRACTION:.0%} of training) AV w/ "
                   f"cross-attention is not the lowest: its held-out MSE ({min(256, P.data.n_val)} validation clips) is above that of "
                   f"{VARIANT_LABELS[comp.removesuffix(B['ablation'].suffix)]} (a = AV w/, b = the lower by mean "
                   f"over seeds of VideoMAE and AV w/o cross-attention)",
                   "not the fastest at ~150 of ~500 epochs", c2),
    ]


def c7_claim(hf) -> ReconClaim:
    """C7 (main budget): the relative MSE gain of AV w/ over VideoMAE on the sounding object's masked
    pixels exceeds that on the other masked pixels (per seed, paired)."""
    from maskedav.claims import verdict

    src = relative_gain(_by_seed(hf, "videomae", "mse_source"), _by_seed(hf, "av_xattn", "mse_source"))
    rest = relative_gain(_by_seed(hf, "videomae", "mse_rest"), _by_seed(hf, "av_xattn", "mse_rest"))
    v = verdict(*_paired(src, rest), "greater", ALPHA, MIN_SEEDS, paired=True)
    return ReconClaim("C7", "fig2",
                      "main budget: the relative held-out MSE gain 100·(VideoMAE − AV)/VideoMAE of AV w/ cross-attention "
                      "on the sounding object's masked pixels (a) exceeds that on the other masked pixels (b); "
                      "per seed, paired",
                      "qualitative ('restores the hairdryer better')", v, unit=RELATIVE_GAIN)


def c6_claim(gains: dict[int, dict]) -> ReconClaim:
    """C6: the relative MSE gain of AV w/ over VideoMAE at the strongest down-sampling (a) vs on clean
    video (b), per seed; ``gains = {factor: {seed: gain %}}``."""
    from maskedav.claims import verdict

    worst = max(gains)
    v = verdict(*_paired(gains[worst], gains[min(gains)]), "greater", ALPHA, MIN_SEEDS, paired=True)
    return ReconClaim("C6", "degradation_sweep",
                      f"ablation budget, {len(gains[worst])} seed(s): the relative held-out MSE gain of AV w/ cross-attention "
                      f"over VideoMAE is larger on ×{worst} down-sampled video (a) than on clean video (b)",
                      "motivation only (low-resolution / blurry video), not measured", v, unit=RELATIVE_GAIN)


def record_recon(claims: Sequence[ReconClaim], *, results_dir, profile: str):
    """Write reconstruction claims to the ledger (:func:`maskedav.claims.record_claim`, Holm within the
    paper) and return them as a table."""
    import pandas as pd

    from maskedav.claims import record_claim

    rows = []
    for c in claims:
        led = record_claim(results_dir, PAPER, c.id, c.table, c.statement, c.paper_effect, c.verdict, profile,
                           c.unit)
        v = c.verdict
        ci = "" if math.isnan(v.ci_low) else f"[{v.ci_low:.4g}, {v.ci_high:.4g}]"
        rows.append(dict(claim=c.id, statement=c.statement, paper=c.paper_effect, a=v.mean_a, b=v.mean_b,
                         effect=v.effect, unit=c.unit, ci=ci, mde=v.mde, p=v.p_value, seeds=v.n_seeds,
                         verdict=v.verdict, note=v.note, ledger_verdict=led["verdict"]))
    return pd.DataFrame(rows)


def downstream_claims(P) -> list[Claim]:
    """C3, C3-global, C4, C5a-c on the few-label fine-tune of ``appearance`` (chosen before the runs),
    each arm against its own random init first (the learning gate)."""
    B = budgets(P)
    main, abl = B["main"].steps, B["ablation"].steps
    A = lambda v, r=0.9: arm_name(v, B["ablation"], r)  # noqa: E731
    what = f"few-label fine-tune top-1 on SynthAV {CLAIM_TASK} ({P.eval.finetune_train} labels)"
    kw = dict(task=CLAIM_TASK, protocol=CLAIM_PROTOCOL)
    return [
        Claim("C3", "table2", f"ablation budget ({abl} steps): cross-attention improves the video encoder: AV w/ > "
              f"AV w/o (identity, slot-aligned), {what}", "+2.5 top-1 (96.3 -> 98.8)",
              A("av_xattn"), A("av_wo_xattn"), **kw),
        Claim("C3-global", "table2", f"ablation budget ({abl} steps): AV w/ > AV w/o (global audio, no temporal "
              f"alignment), {what}", "+2.5 top-1 (96.3 -> 98.8)", A("av_xattn"), A("av_wo_xattn_global"), **kw),
        Claim("C4", "table1", f"main budget ({main} steps): audio pre-training improves the video encoder over "
              f"VideoMAE at 90 % masking: AV w/ > VideoMAE, {what}", "+2.7 top-1 (96.1 -> 98.8)",
              "av_xattn", "videomae", **kw),
        Claim("C5a", "table1", f"ablation budget ({abl} steps): AV-MaskEnhancer at 90 % masking beats 75 %, {what}",
              "+1.1 top-1 (97.7 -> 98.8)", A("av_xattn"), A("av_xattn", 0.75), **kw),
        Claim("C5b", "table1", f"ablation budget ({abl} steps): AV-MaskEnhancer at 90 % masking beats 95 %, {what}",
              "+2.4 top-1 (96.4 -> 98.8)", A("av_xattn"), A("av_xattn", 0.95), **kw),
        Claim("C5c", "table1", f"ablation budget ({abl} steps): AV-MaskEnhancer at 95 % masking still beats "
              f"VideoMAE at 90 %, {what}", "+0.3 top-1 (96.1 -> 96.4)", A("av_xattn", 0.95), A("videomae"), **kw),
    ]


def describe(cid: str, statement: str, v, fmt: str = ".4g", unit: str = "") -> str:
    """One sentence about a verdict, every number taken from ``v``."""
    ci = "" if math.isnan(v.ci_low) else f", {100 * v.confidence:.0f} % CI [{v.ci_low:{fmt}}, {v.ci_high:{fmt}}]"
    p = "" if math.isnan(v.p_value) else f", p = {v.p_value:.3g}"
    note = f" ({v.note})" if v.note else ""
    return (f"**{cid}** ({statement}): a = {v.mean_a:{fmt}}{unit}, b = {v.mean_b:{fmt}}{unit}, "
            f"a − b = {v.effect:{fmt}}{unit}{ci}{p}, {v.n_seeds} seed(s) → **{v.verdict}**{note}.")


# ======================================================================================== tables
def final_table(runs: ChapterRuns, hf):
    """One row per arm of the held-out frame: final held-out MSE (mean ± std over seeds), its relative
    gap to the VideoMAE of the same budget (paired by seed), the sounding-object / other-pixel split,
    the curve's value at ~30 % of training, and (AV variants) the MSE with matched and mismatched audio."""
    import pandas as pd

    rows = []
    for name, g in hf.groupby("arm", sort=False):
        budget = runs.budget[name]
        base = "videomae" if budget == "main" else arm_name("videomae", budgets(runs.P)["ablation"])
        row = dict(arm=name, label=runs.label(name), budget=budget, seeds=len(g))
        for key in ("mse", "mse_source", "mse_rest"):
            row[f"{key}_mean"], row[f"{key}_std"] = mean_std(g[key])
        gain = relative_gain(_by_seed(hf, base), _by_seed(hf, name)) if name != base else {}
        row["gain_vs_videomae_pct_mean"], row["gain_vs_videomae_pct_std"] = \
            mean_std(gain.values()) if gain else (float("nan"), float("nan"))
        early = [curve_value(r, EARLY_FRACTION) for r in runs.runs[name]]
        row["early_step"] = early[0][0]
        row["early_mse_mean"], row["early_mse_std"] = mean_std(v for _, v in early)
        for key in ("mse_matched", "mse_mismatched"):
            row[f"{key}_mean"] = float(g[key].mean()) if key in g and g[key].notna().any() else float("nan")
        rows.append(row)
    return pd.DataFrame(rows)


def _summary(frame):
    g = frame.groupby(["arm", "label", "budget", "init", "protocol", "task"], sort=False)["accuracy"]
    return g.agg(top1_mean="mean", top1_std="std", seeds="count").reset_index()


def _chance(runs: ChapterRuns) -> dict:
    return {t: runs.study.chance(t) for t in TASKS}


def _variant_of(runs: ChapterRuns, name: str) -> str:
    c = runs.arms[name].config
    cfg = c if isinstance(c, AVMaskEnhancerConfig) else None
    if cfg is None or not cfg.audio:
        return "videomae"
    if cfg.shuffle_audio:
        return "av_xattn_shuffled"
    if cfg.cross_attention:
        return "av_xattn"
    return "av_wo_xattn" if cfg.audio_alignment == "slot" else "av_wo_xattn_global"


def _measured_rows(runs: ChapterRuns, frame, names: Sequence[str]) -> list[dict]:
    chance = _chance(runs)
    keep = frame.arm.isin(names) & ((frame.init != RANDOM_INIT) | (frame.arm == "videomae"))
    s = _summary(frame[keep])          # the random init every arm of a seed shares: VideoMAE's rows
    rows = []
    for _, r in s.iterrows():
        c = runs.arms[r.arm].config
        ratio = getattr(c, "mask_ratio", 0.9)
        init = r.init == RANDOM_INIT
        rows.append(dict(source=f"measured (SynthAV, profile {runs.P.name})",
                         method="random init (no pre-training)" if init else r.label, budget="" if init else r.budget,
                         steps=0 if init else (runs.arms[r.arm].steps or runs.P.train.steps),
                         cross_attention="— (not pre-trained)" if init else _XATTN_COLUMN[_variant_of(runs, r.arm)],
                         mask="" if init else f"{ratio:.0%}",
                         protocol=r.protocol, task=r.task, top1_mean=r.top1_mean, top1_std=r.top1_std,
                         seeds=r.seeds, chance=chance[r.task], ref="this book"))
    return rows


def table2(runs: ChapterRuns, frame):
    """Table II: the paper's two rows and the measured rows — cross-attention w/o (both definitions) vs
    w/ at the ablation budget (the claims' protocol), the main budget's AV w/ and VideoMAE, and the
    shared random init; mean ± std over seeds of the video encoder's top-1."""
    import pandas as pd

    B = budgets(runs.P)["ablation"]
    names = ["videomae", "av_xattn"] + [arm_name(v, B) for v in ("videomae", "av_wo_xattn", "av_wo_xattn_global",
                                                                   "av_xattn")]
    rows = [dict(source="paper (UCF101, ViT-B, K400 init)", method=r["method"], budget="", steps=float("nan"),
                 cross_attention=r["cross_attention"], mask=r["mask"], protocol="fine-tune", task="UCF101",
                 top1_mean=r["top1"], top1_std=float("nan"), seeds=float("nan"), chance=float("nan"),
                 ref=r["source"]) for r in PAPER_TABLE2]
    return pd.DataFrame(rows + _measured_rows(runs, frame, names))


def table1(runs: ChapterRuns, frame):
    """Table I: the paper's comparison rows (transcribed) and this book's measured rows: VideoMAE and
    AV-MaskEnhancer at 90 % (main budget, every protocol and task), AV-MaskEnhancer at 75 / 90 / 95 % and
    VideoMAE at the ablation budget (the claims' protocol; 75 / 95 % on :data:`EXTRA_SEEDS` seed(s)), the
    random init; CAV-MAE is not measured here (a note row says why)."""
    import pandas as pd

    P = runs.P
    B = budgets(P)["ablation"]
    names = ["videomae", "av_xattn", arm_name("videomae", B)] + [arm_name("av_xattn", B, r) for r in MASK_RATIOS]
    rows = [dict(source="paper (UCF101)", method=r["method"], backbone=r["backbone"], pretrain_data=r["extra_data"],
                 frames=r["frames"], modalities=r["modalities"], mask="", protocol="fine-tune", task="UCF101",
                 top1_mean=r["top1"], top1_std=float("nan"), seeds=float("nan"), ref=r["source"])
            for r in PAPER_TABLE1]
    backbone = f"ViT dim {P.model.dim}, depth {P.model.depth}"
    for r in _measured_rows(runs, frame, names):
        r.pop("cross_attention")
        r.update(backbone=backbone, frames=str(P.data.frames), modalities="—" if r["steps"] == 0 else
                 ("V" if r["method"].startswith("VideoMAE") else "V+A"),
                 pretrain_data="none" if r["steps"] == 0 else f"SynthAV pretrain ({P.data.n_pretrain} clips)")
        rows.append(r)
    rows.append(dict(source=f"measured (SynthAV, profile {P.name})", method="CAV-MAE", backbone=backbone,
                     pretrain_data="", frames="1 (frame)", modalities="V+A", mask="", protocol="", task="",
                     top1_mean=float("nan"), top1_std=float("nan"), seeds=0,
                     ref="not measured in this chapter: its video encoder sees one frame; CAV-MAE is trained and "
                         "gated in the baselines chapter"))
    return pd.DataFrame(rows)


def degradation_table(clean, degraded, hf_clean, hf_degraded):
    """One row per down-sampling factor (1 = clean): VideoMAE's and AV w/'s final held-out MSE at the
    ablation budget on the seeds both have, and the relative gain 100·(VideoMAE − AV)/VideoMAE."""
    import pandas as pd

    B = budgets(clean.P)["ablation"]
    vm, av = arm_name("videomae", B), arm_name("av_xattn", B)
    seeds = set(degraded.seeds(av))
    rows = []
    for factor, hf in ((clean.factor, hf_clean), (degraded.factor, hf_degraded)):
        hf = hf[hf.seed.isin(seeds)]
        v, a = _by_seed(hf, vm), _by_seed(hf, av)
        gain = relative_gain(v, a)
        row = dict(downsample=factor, seeds=len(gain))
        row["videomae_mse_mean"], row["videomae_mse_std"] = mean_std(v.values())
        row["av_mse_mean"], row["av_mse_std"] = mean_std(a.values())
        row["gain_pct_mean"], row["gain_pct_std"] = mean_std(gain.values())
        rows.append(row)
    return pd.DataFrame(rows), {factor: relative_gain(_by_seed(hf[hf.seed.isin(seeds)], vm),
                                                      _by_seed(hf[hf.seed.isin(seeds)], av))
                                for factor, hf in ((clean.factor, hf_clean), (degraded.factor, hf_degraded))}


# ======================================================================================= figures
def fig3_figure(runs: ChapterRuns, hf):
    """Fig. 3: held-out masked-patch MSE (raw pixels, first 256 validation clips under the study's fixed
    masks) vs step, mean ± std over seeds: (a) the main budget, (b) the ablation budget's five variants,
    (c) their relative gap to the VideoMAE of the same budget (paired by seed), (d) the final MSE on the
    sounding object's masked pixels and on the rest (:data:`HELDOUT_CLIPS` clips). One colour per
    variant in every panel, named in the legend below the panels."""
    from matplotlib.lines import Line2D

    from maskedav import viz

    viz.set_style()
    B = budgets(runs.P)
    abl = [arm_name(v, B["ablation"]) for v in VARIANTS]
    colour = {v: viz.PALETTE[i] for i, v in enumerate(VARIANTS)}
    fig, axes = viz.panel_grid(4, ncols=2, panel=(4.0, 3.2))

    def curves(ax, names, title):
        ax.set_prop_cycle(color=[colour[_variant_of(runs, n)] for n in names])
        viz.loss_curves(ax, {VARIANT_LABELS[_variant_of(runs, n)]:
                             [(np.array([r["step"] for r in run.eval_history if r["step"] > 0], float),
                               np.array([r["loss_recon"] for r in run.eval_history if r["step"] > 0], float))
                              for run in runs.runs[n]] for n in names},
                        ylabel="held-out masked-patch MSE", logy=True, legend=False)
        ax.set_title(title)

    curves(axes[0], ["videomae", "av_xattn"], f"(a) main budget ({B['main'].steps} steps)")
    curves(axes[1], abl, f"(b) ablation budget ({B['ablation'].steps} steps)")
    axes[1].axvline(EARLY_FRACTION * B["ablation"].steps, color=viz.COLORS["annotation"], lw=0.8, ls=":")
    for i, (base, names) in enumerate(((abl[0], abl[1:]), ("videomae", ["av_xattn"]))):
        ref = {r.seed: np.array([x["loss_recon"] for x in r.eval_history]) for r in runs.runs[base]}
        for n in names:
            rel = [100.0 * (ref[r.seed] - np.array([x["loss_recon"] for x in r.eval_history])) / ref[r.seed]
                   for r in runs.runs[n] if r.seed in ref]
            steps = np.array([x["step"] for x in runs.runs[n][0].eval_history], float)
            keep = steps > 0
            vals = np.stack(rel)[:, keep]
            m, s = vals.mean(0), vals.std(0)
            x, c = steps[keep] / steps[-1], colour[_variant_of(runs, n)]
            axes[2].plot(x, m, color=c, ls="-" if i == 0 else "--")
            axes[2].fill_between(x, m - s, m + s, color=c, alpha=0.15)
    axes[2].axhline(0, color=viz.COLORS["reference"], lw=0.8)
    axes[2].axvline(EARLY_FRACTION, color=viz.COLORS["annotation"], lw=0.8, ls=":")
    axes[2].set_xlabel("fraction of training")
    axes[2].set_ylabel("MSE gain over VideoMAE (%)")
    axes[2].set_title("(c) 100·(VideoMAE − variant) / VideoMAE")
    axes[2].legend(handles=[Line2D([], [], color="k", ls=ls, label=f"{b} budget") for ls, b in
                            (("-", "ablation"), ("--", "main"))])
    names = [n for n in ["videomae", "av_xattn", *abl] if n in set(hf.arm)][::-1]
    y = np.arange(len(names))
    for k, (key, label, c) in enumerate((("mse_source", "sounding object", viz.OKABE_ITO["sky blue"]),
                                         ("mse_rest", "other masked pixels", viz.COLORS["annotation"]))):
        ms = [mean_std(hf[hf.arm == n][key]) for n in names]
        axes[3].barh(y + (0.5 - k) * 0.38, [m for m, _ in ms], 0.38, xerr=[0 if math.isnan(s) else s for _, s in ms],
                     capsize=2, label=label, color=c)
    steps = {n: runs.arms[n].steps or runs.P.train.steps for n in names}
    axes[3].set_yticks(y, [f"{_SHORT[_variant_of(runs, n)]}, {steps[n]} st." for n in names])
    axes[3].set_xlabel("final held-out MSE")
    axes[3].set_title("(d) sounding object vs the rest")
    axes[3].legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=2, frameon=False)
    fig.tight_layout()
    viz.legend_below(fig, *axes[1].get_legend_handles_labels())
    return fig


def masked_source_pixels(held: dict, tubelet: int = 2) -> torch.Tensor:
    """Per held-out clip, how many pixels of the sounding object lie under the fixed mask ``(N,)``."""
    mask, src = held["mask"], held["source_mask"]                    # (N, t·h·w), (N, T, H, W)
    N, T, H, W = src.shape
    t = T // tubelet
    hw = int(round((mask.shape[1] // t) ** 0.5))
    p = H // hw
    pix = mask.view(N, t, hw, hw).repeat_interleave(tubelet, 1).repeat_interleave(p, 2).repeat_interleave(p, 3)
    return (src & pix).flatten(1).sum(1)


def pick_clips(held: dict, k: int = 3) -> list[int]:
    """The ``k`` held-out clips whose sounding object is most hidden by the fixed mask: there the audio
    (its pitch and modulation follow the object's position) carries information about masked pixels."""
    return torch.argsort(masked_source_pixels(held), descending=True)[:k].tolist()


@torch.no_grad()
def fig2_figure(models: dict, held: dict, clips: Sequence[int], frames: Sequence[int] = (0, 3, 6)):
    """Fig. 2: for each clip (a block of columns = frames), rows ground truth | masked input | one row per
    model, every model under the **same** fixed mask; each row is labelled with the clip's masked-patch
    MSE in pixels (and on the sounding object). The sounding object is outlined on the ground truth.

    ``models``: ``{row label: AVMaskEnhancer}`` (norm-pix models are shown de-normalised with the true
    patches' statistics, VideoMAE's convention; say so in the label) or ``{row label: (model, view)}``
    with ``view="normalized"``: a norm-pix model's prediction in its normalised target space, next to
    the normalised ground truth in the visible patches (``0.5 + 0.2·x``, no ground-truth statistics
    used; the row's MSE is then in target units). Returns ``(figure, per-clip rows)``.
    """
    import matplotlib.pyplot as plt
    import pandas as pd

    from maskedav import viz

    viz.set_style()
    idx = torch.as_tensor(list(clips))
    video = held["video"][idx]
    batch = dict(video=video, mfcc=held["mfcc"][idx], mask=held["mask"][idx], audio_perm=torch.arange(len(idx)))
    rows, stats = {"ground truth": video}, []
    rec_any = None
    for label, entry in models.items():
        model, view = entry if isinstance(entry, tuple) else (entry, "pixels")
        device = next(model.parameters()).device
        r = model.reconstruct({k: v.to(device) for k, v in batch.items()})
        rec_any = r
        if view == "normalized":
            shown, truth, mse = r["prediction_normalized"].cpu(), r["input_normalized"].cpu(), r["mse"]
        else:
            shown, truth, mse = r["pasted"].cpu(), video, r["mse_pixels"]
        rows[label] = shown
        src = held["source_mask"][idx][:, None].expand_as(video) & r["mask_pixels"].cpu()
        err = (shown - truth) ** 2
        for j, c in enumerate(clips):
            ok = src[j].any() and view != "normalized"          # display units are not the target's
            stats.append(dict(clip=int(c), model=label, view=view, mse=float(mse[j]),
                              mse_source=float(err[j][src[j]].mean()) if ok else float("nan")))
    masked = rec_any["masked_input"].cpu()
    rows = {"ground truth": rows.pop("ground truth"), f"masked input ({held['mask_ratio']:.0%})": masked, **rows}
    names = list(rows)
    nf = len(frames)
    fig = plt.figure(figsize=(viz.PAGE_WIDTH, 1.0 * len(names) + 0.3))
    blocks = fig.add_gridspec(1, len(clips), left=0.2, right=1.0, bottom=0.05, top=0.95, wspace=0.1)
    for ci, c in enumerate(clips):                   # one block of columns per clip
        grid = blocks[ci].subgridspec(len(names), nf, wspace=0.05, hspace=0.45)
        for ri, name in enumerate(names):
            cols = [fig.add_subplot(grid[ri, j]) for j in range(nf)]
            viz.video_strip(cols, rows[name][ci], frames=frames, label=name if ci == 0 else None)
            if ri == 0:
                for j, f in enumerate(frames):
                    cols[j].contour(held["source_mask"][c, f].float().numpy(), levels=[0.5], colors="w",
                                    linewidths=0.8)
                    cols[j].set_title(f"clip {c}, t={f}" if j == 0 else f"t={f}", fontsize=viz.MIN_FONT)
            s = [x for x in stats if x["clip"] == c and x["model"] == name]
            if s:
                note = (f"MSE {s[0]['mse']:.4f} | source {s[0]['mse_source']:.3f}" if s[0]["view"] != "normalized"
                        else f"target-space MSE {s[0]['mse']:.3f}")
                cols[0].set_xlabel(note, fontsize=viz.MIN_FONT, loc="left")
    return fig, pd.DataFrame(stats)


#: Modality group of each top-level module (Fig. 1 colours).
MODALITY_GROUPS = {"encoder": "video", "audio_frontend": "audio", "audio_encoder": "audio",
                   "xattn_v2a": "fusion (Eq. 6)", "xattn_a2v": "fusion (Eq. 6)", "fusion": "fusion (Eq. 6)",
                   "decoder": "video decoder"}


def architecture_trace(model: AVMaskEnhancer, batch: dict) -> list[dict]:
    """The modules a real forward pass of ``model`` calls, in order, with output shapes and parameters
    (:func:`maskedav.viz.trace_modules`, depth 1)."""
    from maskedav import viz

    was = model.training
    model.eval()
    try:
        return viz.trace_modules(model, batch, depth=1)
    finally:
        model.train(was)


def fig1_figure(model: AVMaskEnhancer, batch: dict):
    """Fig. 1 drawn from the implemented model: its traced forward pass, modules coloured by modality."""
    from maskedav import viz

    viz.set_style()
    trace = architecture_trace(model, batch)
    c = model.config
    title = (f"AV-MaskEnhancer as implemented ({c.mask_ratio:.0%} tube mask, "
             f"{'w/' if c.cross_attention else 'w/o'} cross-attention)\n"
             f"loss: masked-patch MSE ({c.norm_pix or 'raw pixels'}); downstream: the video encoder alone\n")
    fig = viz.module_diagram(trace, title=title, groups=MODALITY_GROUPS, width=8.5)
    return fig, trace


def degradation_figure(table):
    """The degradation sweep: held-out MSE of VideoMAE and AV w/ against the down-sampling factor, and
    the relative gain of AV over VideoMAE."""
    from maskedav import viz

    viz.set_style()
    fig, axes = viz.panel_grid(2, ncols=2, panel=(4.0, 3.2))
    x = table["downsample"].to_numpy()
    nan0 = lambda s: np.nan_to_num(s.to_numpy(float))  # noqa: E731
    for key, label in (("videomae_mse", "VideoMAE"), ("av_mse", "AV-MaskEnhancer (w/)")):
        axes[0].errorbar(x, table[f"{key}_mean"], yerr=nan0(table[f"{key}_std"]), marker="o", capsize=3, label=label)
    axes[0].set_xscale("log", base=2)
    axes[0].set_xlabel("video down-sampling factor (input and target)")
    axes[0].set_ylabel("held-out masked-patch MSE")
    axes[0].legend()
    axes[1].errorbar(x, table["gain_pct_mean"], yerr=nan0(table["gain_pct_std"]), marker="o", capsize=3, color=viz.COLORS["reference"])
    axes[1].axhline(0, color=viz.COLORS["reference"], lw=0.8)
    axes[1].set_xscale("log", base=2)
    axes[1].set_xlabel("video down-sampling factor")
    axes[1].set_ylabel("MSE gain of AV over VideoMAE (%)")
    axes[1].set_title("does the gain grow as the video degrades?")
    fig.tight_layout()
    return fig
