"""The XKD chapter on the study layer: its arms and budget, the video / audio (student and teacher)
evaluation, the paper's tables beside SynthAV's, the collapse diagnostics and the claims. The model is
:mod:`maskedav.methods.xkd`; pre-training, evaluation, the gate and the claims' ledger are
:mod:`maskedav.study`'s.

**Arms** (:data:`VARIANTS`): XKD at the profile's sizes (:meth:`~maskedav.methods.xkd.XKDConfig.from_profile`,
fbank statistics of the pre-training split, raw-value targets at the small profiles like every chapter) and
each ablation of the paper as one config switch: Table 1's reconstruction-only rows (``recon_v``,
``recon_a``, ``ae``), Table S1's "w/o L_kd" and "L_kd without L_da", Table 2's "no.refine", Table 10's
projector normalisation (and none: the collapse of Fig. S1), no centring (Fig. S1). All arms of a seed
build the same encoders first (the switches change only losses and heads), see the same clips in the same
order and share one random-init reference per representation (``init_id``), so comparisons are paired.

**Budget** (:func:`plan`): every arm trains for :data:`BUDGET_FRACTION` of the profile's steps (cpu: 1,000
of 3,000) with the EMA momentum on a cosine from 0.997 to 1 over the run (Eq. 13). At ``cpu`` the
:data:`CORE` arms (Table 1) train on every seed and the others on :data:`EXTRA_SEEDS` seed (they describe;
their claims are inconclusive by the rule); the variants of :data:`GPU_ONLY` are listed as not run. The
``gpu`` profile runs every variant on every seed.

**Evaluation** (:data:`REPS`): the paper's linear evaluation of video (UCF101, HMDB51, Kinetics) and audio
(ESC50, FSD50K) becomes the study layer's layout-keeping linear probe and kNN on SynthAV: the video
student on ``appearance`` and ``motion`` (and on ``sound``: what video learned from the audio teacher), the
audio student on ``sound``; Table 3's teachers through the same readouts. Claims use the probe.
"""
from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import pandas as pd

from maskedav.chapters.xkd_paper import PAPER_TABLES
from maskedav.methods.xkd import XKDConfig, build_xkd
from maskedav.study import Arm, Claim, Study
from maskedav.study.chapter import ArmRuns, budget_overrides, budget_sentence, cell, mean_sd, plan_frame, with_rep
from maskedav.study.chapter import curve, timing_table  # noqa: F401  (the notebooks' ch.curve, ch.timing_table)

PAPER = "xkd"              # results folder and claims' paper name
CHAPTER = "xkd"            # checkpoint folder
#: Student representation -> the tasks it is evaluated on.
REPS = {"video": ("appearance", "motion", "sound"), "audio": ("sound",)}
#: Teachers' representations, evaluated for the arms of :data:`TEACHER_ARMS` (Table 3).
TEACHER_REPS = {"video_teacher": REPS["video"], "audio_teacher": REPS["audio"]}
TEACHER_ARMS = ("xkd", "mas", "mats", "mat", "len_33", "len_67")
#: The joint representation (video and audio students side by side: Table 7's multimodal linear evaluation).
JOINT_REPS = {"joint": ("appearance", "motion", "sound")}
JOINT_ARMS = ("ae", "xkd")
#: Table 5's fine-tuning (the study layer's few-label end-to-end fine-tune of the video student).
FINETUNE_ARMS = ("ae", "xkd")
FINETUNE_TASKS = ("motion",)
PROTOCOLS = ("probe", "knn")
CLAIM_PROTOCOL = "probe"
BUDGET_FRACTION = 1 / 3
EXTRA_SEEDS = 1


@dataclass(frozen=True)
class Variant:
    switches: dict
    label: str
    cost: str = "xkd"              # :data:`STEP_COST_S` key
    reps: tuple = ("video", "audio")
    steps_factor: float = 1.0      # of the budget's steps (Fig. S4's shorter runs)


_AE = dict(da_weight=0.0, kd_weight=0.0)
#: Fig. S3's grid of mask ratios (the paper's) and Fig. S4's pre-training lengths (shares of the budget's steps).
MASK_GRID_V = (0.80, 0.85, 0.90)
MASK_GRID_A = (0.75, 0.80, 0.85)
LENGTHS = (1 / 3, 2 / 3, 1.0)

VARIANTS: dict[str, Variant] = OrderedDict([
    ("recon_v", Variant(dict(_AE, reconstruct=("video",)), "L_recon^v (video MAE alone)", "recon_v", ("video",))),
    ("recon_a", Variant(dict(_AE, reconstruct=("audio",)), "L_recon^a (audio MAE alone)", "recon_a", ("audio",))),
    ("ae", Variant(dict(_AE), "L_ae (both MAEs, no distillation)", "ae")),
    ("xkd", Variant({}, "L_xkd (XKD)")),
    ("no_kd", Variant(dict(kd_weight=0.0), "w/o L_kd (domain alignment alone)")),
    ("no_da", Variant(dict(da_weight=0.0), "L_kd without L_da")),
    ("no_refine", Variant(dict(refine=False), "L_da^no.refine")),
    ("proj_last", Variant(dict(proj_norm="last"), "projector: LN on the last layer only")),
    ("proj_none", Variant(dict(proj_norm="none"), "projector: no normalisation")),
    ("no_center", Variant(dict(centering=False), "no centring of the teachers' outputs")),
    # run at the gpu profile only (listed as not run at cpu)
    ("da1", Variant(dict(da="da1"), "L_da^1 (teacher-student MMD)")),
    ("da2", Variant(dict(da="da2"), "L_da^2 (default + teacher-student MMD)")),
    ("da3", Variant(dict(da="da3"), "L_da^3 (teachers' MMD only)")),
    ("no_cls", Variant(dict(cls_attention=False), "w/o CLS (mean attention over queries)")),
    ("cm_softmax", Variant(dict(cm_attention="softmax"), "A'^× (softmax, Eq. S1)")),
    ("mas", Variant(dict(sharing="mas"), "XKD-MAS (students' blocks shared)")),
    ("mats", Variant(dict(sharing="mats"), "XKD-MATS (students' and teachers' blocks shared)")),
    ("mat", Variant(dict(sharing="mat"), "XKD-MAT (teachers' blocks shared)")),
    *[(f"ema_{m}", Variant(dict(ema_momentum=m), f"EMA base λ = {m}")) for m in (0.99, 0.995, 0.999)],
    ("local_2s", Variant(dict(local_time=0.5), "local views of 2 s of 4 (both modalities)")),
    ("views_2", Variant(dict(num_local_views=2), "two local views per modality")),
    *[(f"proj_layers_{n}", Variant(dict(proj_layers=n), f"projector of {n} layers")) for n in (2, 4)],
    *[(f"proj_out_{n}", Variant(dict(proj_out=n), f"projector output {n} (paper ×1/8: {8 * n})")) for n in (512, 2048, 4096)],
    # Fig. S3: the video x audio mask-ratio grid (the default 0.85 / 0.80 is ``xkd``)
    *[(f"mask_{rv:g}_{ra:g}", Variant(dict(mask_ratio_v=rv, mask_ratio_a=ra), f"mask ratios video {rv:g} / audio {ra:g}"))
      for rv in MASK_GRID_V for ra in MASK_GRID_A if (rv, ra) != (0.85, 0.80)],
    # Fig. S4: shorter pre-training (the full length is ``xkd``)
    *[(f"len_{round(100 * f)}", Variant({}, f"XKD pre-trained for {f:.0%} of the steps", steps_factor=f))
      for f in LENGTHS if f != 1.0],
])
#: Arms trained on every seed at every profile: Table 1 and its claims.
CORE = ("recon_v", "recon_a", "ae", "xkd")
#: Variants the ``cpu`` profile does not train (its budget); every other profile trains them.
GPU_ONLY = ("da1", "da2", "da3", "no_cls", "cm_softmax", "mas", "mats", "mat", "ema_0.99", "ema_0.995", "ema_0.999",
            "local_2s", "views_2", "proj_layers_2", "proj_layers_4", "proj_out_512", "proj_out_2048", "proj_out_4096",
            *[n for n in VARIANTS if n.startswith(("mask_", "len_"))])

#: Measured cost of one pre-training step at the ``cpu`` profile's sizes (batch 32, process time of one
#: thread on this book's 2-core machine, nothing else running): the arithmetic behind :func:`plan_table`. The
#: runs' own times are in :func:`timing_table`.
STEP_COST_S = {"xkd": 0.320, "ae": 0.153, "recon_v": 0.067, "recon_a": 0.088}
#: Estimated cost of evaluating one encoder through one representation (probe + kNN on its tasks), CPU s.
EVAL_COST_S = 20.0


# ========================================================================================= arms
def base_config(P, study: Study) -> XKDConfig:
    """XKD at profile ``P``: the profile's ViTs (:meth:`XKDConfig.from_profile`), the audio input as long as
    the data pipeline's fbank, its statistics from the pre-training split (the baselines' study)."""
    from maskedav.chapters import baselines

    mean, std = study.fbank_stats()
    cfg = XKDConfig.from_profile(P, fbank_mean=mean, fbank_std=std)
    return cfg.replace(audio=cfg.audio.replace(input_size=(baselines.fbank_frames(P), P.data.num_mel_bins)))


def budget_steps(P) -> int:
    return max(int(round(P.train.steps * BUDGET_FRACTION)), 2)


def arm(P, name: str, base: XKDConfig, seeds: Sequence[int] | None = None) -> Arm:
    """The arm of variant ``name``: XKD's config with the variant's switches and the EMA cosine over the
    run's steps, trained on fbank + video; every arm shares one random init per seed (``init_id``)."""
    v = VARIANTS[name]
    steps = max(int(round(budget_steps(P) * v.steps_factor)), 2)
    cfg = base.replace(ema_total_steps=steps, **v.switches)
    return Arm(name, "xkd", cfg, keys=("fbank", "video"), steps=steps, label=v.label, init_id="xkd",
               factory=build_xkd, seeds=None if seeds is None else tuple(seeds),
               train_overrides=budget_overrides(P, steps))


def trained_variants(P) -> list[str]:
    """The variants profile ``P`` trains (all but :data:`GPU_ONLY` at ``cpu``)."""
    return [n for n in VARIANTS if not (P.name == "cpu" and n in GPU_ONLY)]


def plan(P, base: XKDConfig) -> "OrderedDict[str, Arm]":
    """Every arm this profile trains, longest runs first (the executor balances its workers)."""
    extra = tuple(P.seed_list[:EXTRA_SEEDS]) if P.name == "cpu" else None
    out = OrderedDict((n, arm(P, n, base, None if n in CORE else extra)) for n in trained_variants(P))
    order = sorted(out, key=lambda n: -STEP_COST_S[VARIANTS[n].cost] * len(out[n].seed_list(P.seed_list)))
    return OrderedDict((n, out[n]) for n in order)


def pretrain(study: Study, names: Sequence[str] | None = None) -> ArmRuns:
    """Train (or read from the cache) every arm of :func:`plan` — or only those of ``names`` — on the
    study's executor workers (a notebook trains the core arms in a cell of their own, under the cell time
    limit; the full call then reads them from the cache)."""
    return ArmRuns.pretrain(study, plan(study.P, base_config(study.P, Study(study.P, "baselines"))), names)


def plan_table(P) -> pd.DataFrame:
    """The budget as planned (:func:`~maskedav.study.chapter.plan_frame`): per arm, seeds x steps, the
    estimated CPU seconds of pre-training (:data:`STEP_COST_S`) and evaluation (:data:`EVAL_COST_S` per
    representation), the random-init references; the variants not trained at ``P`` are left out."""
    n = len(P.seed_list)
    rows = []
    for name in trained_variants(P):
        v = VARIANTS[name]
        seeds = n if name in CORE or P.name != "cpu" else min(EXTRA_SEEDS, n)
        reps = len(v.reps) + (len(TEACHER_REPS) if name in TEACHER_ARMS else 0)
        rows.append(dict(arm=name, label=v.label, seeds=seeds, steps=max(int(round(budget_steps(P) * v.steps_factor)), 2),
                         s_per_step=STEP_COST_S[v.cost],
                         eval_cpu_s=seeds * reps * EVAL_COST_S, note=""))
    rand = n * len(REPS) * EVAL_COST_S
    return plan_frame(rows, extra_eval_s=rand, extra_label=f"+ random init ({rand:.0f} CPU s)")


def budget_prose(P) -> str:
    """The budget's arithmetic in words, computed from :func:`plan_table` (so the prose cannot drift)."""
    skipped = [n for n in VARIANTS if n not in trained_variants(P)]
    return (f"Every arm trains for {budget_steps(P):,} steps ({BUDGET_FRACTION:.0%} of the profile's "
            f"{P.train.steps:,}) at batch {P.train.batch_size}. A full XKD step — two MAEs, two students on the "
            f"masked global view and a local view each, two EMA teachers, the MMD and the distillation — costs "
            f"{STEP_COST_S['xkd']:.3f} s against {STEP_COST_S['ae']:.3f} s for the two MAEs alone "
            f"({STEP_COST_S['recon_v']:.3f} s video, {STEP_COST_S['recon_a']:.3f} s audio; measured at the cpu "
            f"profile's sizes on one thread of this book's 2-core machine). "
            + budget_sentence(plan_table(P), CORE)
            + (f" Not trained at this profile: {', '.join(skipped)}." if skipped else ""))


# =================================================================================== evaluation
def _reps(name: str) -> dict:
    """Representation -> tasks of arm ``name``'s frozen evaluation."""
    reps = {r: REPS[r] for r in VARIANTS[name].reps}
    if name in TEACHER_ARMS:
        reps.update(TEACHER_REPS)
    if name in JOINT_ARMS:
        reps.update(JOINT_REPS)
    return reps


def _rep_label(label: str, rep: str) -> str:
    return f"{label} [{rep.replace('_', ' ')}]"


def evaluate(runs: ArmRuns) -> pd.DataFrame:
    """The tidy frame: every run through each of its representations (:func:`_reps`) on their tasks by
    :data:`PROTOCOLS`, and the video student of :data:`FINETUNE_ARMS` fine-tuned end to end on
    :data:`FINETUNE_TASKS`, each with the shared random-init reference; columns ``base`` (the arm) and
    ``rep``. Every evaluation is cached by content key."""
    frames = []
    for rep, tasks in {**REPS, **TEACHER_REPS, **JOINT_REPS}.items():
        rs = [with_rep(r, rep, _rep_label(r.arm.label, rep)) for name in runs.runs if rep in _reps(name)
              for r in runs.runs[name]]
        if rs:
            frames.append(runs.study.evaluate(rs, tasks, PROTOCOLS).assign(rep=rep))
    ft = [with_rep(r, "video", _rep_label(r.arm.label, "video")) for name in FINETUNE_ARMS if name in runs.runs
          for r in runs.runs[name]]
    if ft:
        frames.append(runs.study.evaluate(ft, FINETUNE_TASKS, ("finetune",), finetune_tasks=FINETUNE_TASKS)
                      .assign(rep="video"))
    frame = pd.concat(frames, ignore_index=True)
    frame["base"] = frame.arm.str.split("@").str[0]
    return frame


def ceilings(P) -> pd.DataFrame:
    """The supervised ceilings of the tasks used (the baselines chapter's cached ones)."""
    from maskedav.chapters import baselines

    return baselines.ceilings(P, ("appearance", "motion", "sound"))


# =================================================================================== paper tables
#: Columns of this book's measurements beside the paper's: (header, representation, task).
MEASURED = (("SynthAV video: motion", "video", "motion"), ("SynthAV video: appearance", "video", "appearance"),
            ("SynthAV audio: sound", "audio", "sound"))

#: Which arm measures each paper row: ``(paper row, arm)`` or ``(paper row, (arm, "teacher"))``; ``None``: not
#: expressible by the implementation (reason in :data:`NOT_IMPLEMENTED`). Rows the book adds are marked
#: "(not in the paper)".
TABLE_ARMS = {
    "table1": [("L_recon^v", "recon_v"), ("L_recon^a", "recon_a"), ("L_ae", "ae"), ("L_xkd", "xkd")],
    "table2": [("L_da^no.refine", "no_refine"), ("L_da^1", "da1"), ("L_da^2", "da2"), ("L_da (default)", "xkd"),
               ("L_da^3 (not in the table: 'KD fails')", "da3")],
    "table3": [("XKD-MATS Teacher (ma)", ("mats", "teacher")), ("XKD-MATS Student (ma)", "mats"),
               ("XKD-MAS Teacher", ("mas", "teacher")), ("XKD-MAS Student (ma)", "mas"),
               ("XKD Teacher", ("xkd", "teacher")), ("XKD Student", "xkd"),
               ("XKD-MAT Student (not in the table: 'degenerates')", "mat")],
    "table8": [("0.98", None), ("0.99", "ema_0.99"), ("0.993", None), ("0.995", "ema_0.995"), ("0.997", "xkd"),
               ("0.999", "ema_0.999")],
    "table9": [(row, None) for row, _ in PAPER_TABLES["table9"].rows],
    "table10": [("Last", "proj_last"), ("All", "xkd"), ("none (not in the table: 'KD fails')", "proj_none")],
    "tableS1": [("L_ae", "ae"), ("w/o L_kd", "no_kd"), ("L_xkd", "xkd"),
                ("L_kd without L_da (a later version's row: 'KD fails')", "no_da")],
    "tableS2": [("A'^× (softmax, Eq. S1)", "cm_softmax"), ("w/o CLS", "no_cls"), ("default", "xkd")],
    "tableS3": [("1-1", "xkd"), ("2-2", "local_2s"), ("2-1", None), ("1-2", None), ("4-1", None)],
    "tableS4": [("1-1", "xkd"), ("1-2", None), ("2-1", None), ("2-2", "views_2"), ("3-1", None)],
    "tableS5": [("2", "proj_layers_2"), ("3", "xkd"), ("4", "proj_layers_4")],
    "tableS6": [("4096", "proj_out_512"), ("8192", "xkd"), ("16384", "proj_out_2048"), ("32768", "proj_out_4096")],
}
NOT_IMPLEMENTED = {
    "table8": "not run: the book's EMA sweep is 0.99 / 0.995 / 0.997 / 0.999",
    "table9": "not run: the table's temperature settings are lost in the paper text (spec §6, Table 9)",
    "tableS3": "not implemented: one local_time serves both modalities",
    "tableS4": "not implemented: one num_local_views serves both modalities",
}
ABLATIONS = tuple(TABLE_ARMS)


def _arm_of(entry) -> tuple[str | None, str]:
    """``(arm, "student" | "teacher")`` of a :data:`TABLE_ARMS` entry."""
    return (entry[0], entry[1]) if isinstance(entry, tuple) else (entry, "student")


def _measured(frame: pd.DataFrame, arm: str, rep: str, task: str, role: str = "student",
              protocol: str = CLAIM_PROTOCOL) -> str:
    return cell(*mean_sd(frame, f"{arm}@{rep}_teacher" if role == "teacher" else f"{arm}@{rep}", task, protocol))


def ablation_table(frame: pd.DataFrame, runs: ArmRuns, table: str) -> pd.DataFrame:
    """One of the paper's ablation tables: per paper row, the paper's columns (as printed) beside this book's
    probe accuracy on SynthAV (:data:`MEASURED`: mean ± sd (seeds)), or why the row was not measured."""
    pt = PAPER_TABLES[table]
    paper = {r[0]: r[1] for r in pt.rows}
    rows = []
    for row, entry in TABLE_ARMS[table]:
        name, role = _arm_of(entry)
        out = {"row": row, **{f"paper {c}": v for c, v in zip(pt.columns, paper.get(row, (None,) * len(pt.columns)))}}
        for header, rep, task in MEASURED:
            if name is None:
                out[header] = NOT_IMPLEMENTED.get(table, "not implemented")
            elif name not in runs.runs:
                out[header] = f"not run at {runs.P.name}"
            elif rep not in VARIANTS[name].reps:
                out[header] = "—"
            else:
                out[header] = _measured(frame, name, rep, task, role)
        out["arm"] = "" if name is None else (f"{name} ({role})" if role == "teacher" else name)
        rows.append(out)
    return pd.DataFrame(rows)


#: SOTA tables: the book's measurable rows (label, arm, representation) per table, the task(s) and protocol.
SOTA_ROWS = {
    "table4": ([("XKD student (video)", "xkd", "video"), ("XKD teacher (video)", "xkd", "video_teacher"),
                ("video MAE alone (L_recon^v, VideoMAE-style)", "recon_v", "video"), ("L_ae", "ae", "video")],
               ("motion", "appearance", "sound"), "probe"),
    "table5": ([("XKD student (video), fine-tuned", "xkd", "video"), ("L_ae (video), fine-tuned", "ae", "video")],
               FINETUNE_TASKS, "finetune"),
    "table6": ([("XKD student (audio)", "xkd", "audio"), ("XKD teacher (audio)", "xkd", "audio_teacher"),
                ("audio MAE alone (L_recon^a, AudioMAE-style)", "recon_a", "audio"), ("L_ae", "ae", "audio")],
               ("sound",), "probe"),
    "table7": ([("XKD (video + audio students)", "xkd", "joint"), ("L_ae (video + audio)", "ae", "joint")],
               ("motion", "appearance", "sound"), "probe"),
}


def sota_table(frame: pd.DataFrame, runs: ArmRuns, table: str) -> pd.DataFrame:
    """This book's rows of SOTA table ``table`` on SynthAV (mean ± sd (seeds) of the table's protocol per
    task, and the same encoder at random init), to be shown *beside* the paper's rows, never among them:
    other data, model size and budget."""
    rows, tasks, protocol = SOTA_ROWS[table]
    out = []
    for label, name, rep in rows:
        r = {"model": label, "protocol": protocol}
        for task in tasks:
            arm = f"{name}@{rep}"
            r[f"{task} (%)"] = cell(*mean_sd(frame, arm, task, protocol)) if name in runs.runs else \
                f"not run at {runs.P.name}"
        out.append(r)
    if rows and rows[0][1] in runs.runs:
        name, rep = rows[0][1], rows[0][2]
        rand = frame[(frame.arm == f"{name}@{rep}") & (frame.init == "random init") & (frame.protocol == protocol)]
        r = {"model": f"same network at random init ({rep.replace('_', ' ')})", "protocol": protocol}
        for task in tasks:
            x = rand[rand.task == task].accuracy.to_numpy(float)
            r[f"{task} (%)"] = cell(float(x.mean()) if len(x) else math.nan,
                                    float(x.std(ddof=1)) if len(x) > 1 else math.nan, len(x))
        out.append(r)
    return pd.DataFrame(out)


# ======================================================================================== claims
def claims() -> list[Claim]:
    """The paper's claims as comparisons on this book's data, fixed before the runs (spec §10.2): the
    linear probe of the video student on ``motion`` (the analogue of the paper's action benchmarks) and of
    the audio student on ``sound``; "equal" claims use TOST with a margin of :data:`EQUAL_MARGIN` points."""
    v, a, pr, m = "@video", "@audio", CLAIM_PROTOCOL, "motion"
    eq = dict(direction="equal", margin=EQUAL_MARGIN)
    return [
        Claim("X1", "table1", "cross-modal KD improves the video student over reconstruction alone (L_xkd vs L_ae)",
              "UCF101 +8.4, HMDB51 +8.1, K400 +14.2", "xkd" + v, "ae" + v, m, pr),
        Claim("X1-app", "table1", "cross-modal KD improves the video student on the shape task (L_xkd vs L_ae)",
              "UCF101 +8.4, HMDB51 +8.1", "xkd" + v, "ae" + v, "appearance", pr),
        Claim("X1-snd", "table1", "the video student learns the sound's class from the audio teacher (L_xkd vs "
              "L_ae, video read out on the sound task; not in the paper)", "(mechanism)", "xkd" + v, "ae" + v,
              "sound", pr),
        Claim("X2", "table1", "cross-modal KD improves the audio student a little (L_xkd vs L_ae)",
              "ESC50 +1.0, FSD50K +1.5 mAP", "xkd" + a, "ae" + a, "sound", pr),
        Claim("X3", "table1", "training the two MAEs jointly does not change the video encoder (L_ae ≈ L_recon^v)",
              "UCF101 76.3 vs 76.1", "ae" + v, "recon_v" + v, m, pr, **eq),
        Claim("X4", "tableS1", "domain alignment without KD gives the video student nothing (w/o L_kd ≈ L_ae)",
              "UCF101 77.8 vs 76.3", "no_kd" + v, "ae" + v, m, pr, **eq),
        Claim("X5", "tableS1", "KD with domain alignment beats domain alignment alone (L_xkd vs w/o L_kd)",
              "UCF101 +6.9", "xkd" + v, "no_kd" + v, m, pr),
        Claim("X6", "tableS1", "without domain alignment KD fails (L_xkd vs L_kd without L_da)",
              "'KD fails' (Sec. 4.2.2)", "xkd" + v, "no_da" + v, m, pr),
        Claim("X7", "table2", "refine helps (L_da vs L_da^no.refine)", "UCF101 +3.3, HMDB51 +2.9",
              "xkd" + v, "no_refine" + v, m, pr),
        Claim("X8", "table2", "the default domain alignment beats L_da^1", "UCF101 +1.5", "xkd" + v, "da1" + v, m, pr),
        Claim("X9", "table2", "the default domain alignment beats L_da^2", "UCF101 +0.4", "xkd" + v, "da2" + v, m, pr),
        Claim("X10", "table10", "LayerNorm on every projector layer beats the last layer only",
              "UCF101 +2.9, HMDB51 +3.4", "xkd" + v, "proj_last" + v, m, pr),
        Claim("X11", "table10", "without projector normalisation KD collapses (all vs none)", "'KD fails'",
              "xkd" + v, "proj_none" + v, m, pr),
        Claim("X12", "table10", "centring the teachers' outputs is needed (with vs without)", "collapse (Fig. S1)",
              "xkd" + v, "no_center" + v, m, pr),
        Claim("X13", "table3", "the video teacher beats its student", "UCF101 +0.3, HMDB51 +0.6",
              "xkd@video_teacher", "xkd" + v, m, pr),
        Claim("X14", "table3", "the audio teacher beats its student", "ESC50 +0.7", "xkd@audio_teacher", "xkd" + a,
              "sound", pr),
        Claim("X15", "table3", "modality-specific students beat shared ones (XKD vs XKD-MAS)", "UCF101 +2.9 (student)",
              "xkd" + v, "mas" + v, m, pr),
        Claim("X16", "table8", "EMA base 0.997 beats 0.999", "UCF101 +1.2", "xkd" + v, "ema_0.999" + v, m, pr),
        Claim("X17", "tableS2", "the CLS query beats the mean over queries (default vs w/o CLS)", "UCF101 +3.3",
              "xkd" + v, "no_cls" + v, m, pr),
        Claim("X18", "tableS5", "a 3-layer projector beats a 2-layer one", "UCF101 +1.6", "xkd" + v,
              "proj_layers_2" + v, m, pr),
    ]


#: Margin (accuracy points) of the "equal" claims' equivalence test, fixed before the runs: about the
#: paper's own differences that it calls "no benefit" (1.5 points) plus the test set's resolution.
EQUAL_MARGIN = 2.0


def decide_claims(frame: pd.DataFrame, runs: ArmRuns):
    """Verdicts of the claims whose arms ran at this profile (the study layer's rule: paired by seed,
    test-set floor, untestable when an arm fails the learning gate); the others are not run."""
    from maskedav.study import decide, gate

    cs = [c for c in claims() if c.a.split("@")[0] in runs.runs and c.b.split("@")[0] in runs.runs]
    return cs, decide(frame, cs, gate(frame))


def claims_not_run(runs: ArmRuns) -> pd.DataFrame:
    """The claims whose arms this profile does not train (listed, never decided)."""
    missing = [c for c in claims() if not (c.a.split("@")[0] in runs.runs and c.b.split("@")[0] in runs.runs)]
    return pd.DataFrame([dict(claim=c.id, table=c.table, statement=c.statement, paper=c.paper_effect,
                              why=f"not run at {runs.P.name}") for c in missing])


# =============================================================================== collapse (Fig. S1)
#: Arms of the collapse diagnostics (Fig. S1, spec §10.2 C3, C6, C7) beside the default.
COLLAPSE_ARMS = ("xkd", "no_da", "proj_none", "no_center")
#: The rule, fixed before the runs: an arm's distillation has **collapsed** when its KL(teacher ‖ student)
#: (both directions' mean over the last tenth of training) ends below this fraction of the default XKD's
#: over the same steps — the signature of Fig. S1 (the student matches a teacher that carries nothing).
COLLAPSE_RATIO = 0.1


def train_curve(run, key: str) -> tuple[np.ndarray, np.ndarray]:
    """Steps and values of logged training term ``key`` of one run (every step)."""
    rows = [(r["step"], r[key]) for r in run.history if key in r]
    return np.array([s for s, _ in rows]), np.array([v for _, v in rows], float)


def collapse_table(runs: ArmRuns, names: Sequence[str] = COLLAPSE_ARMS) -> pd.DataFrame:
    """Per arm (seed 0): the final KL of each direction, L_kd, the teachers' output entropy and its share of
    the uniform distribution's (log K; over the last tenth of training), and the verdict of
    :data:`COLLAPSE_RATIO` against the default arm ``xkd``."""
    def tail(run, key):
        _, v = train_curve(run, key)
        return float(np.mean(v[-max(len(v) // 10, 1):])) if len(v) else math.nan

    rows = []
    for name in names:
        if name not in runs.runs or not runs.runs[name]:
            continue
        run = runs.runs[name][0]
        kl = np.mean([tail(run, "kld_a2v"), tail(run, "kld_v2a")])
        ent_v, ent_a = tail(run, "teacher_entropy_v"), tail(run, "teacher_entropy_a")
        rows.append(dict(arm=name, label=runs.label(name), seed=run.seed, kl=kl, kd_a2v=tail(run, "kd_a2v"),
                         kd_v2a=tail(run, "kd_v2a"), entropy_video=ent_v, entropy_audio=ent_a,
                         entropy_vs_uniform=(ent_v + ent_a) / 2 / math.log(runs.arms[name].config.proj_out)))
    t = pd.DataFrame(rows)
    if t.empty or "xkd" not in set(t.arm):
        return t
    ref = float(t.set_index("arm").loc["xkd", "kl"])
    t["kl_vs_xkd"] = t.kl / ref
    t["collapsed"] = np.where(t.arm == "xkd", "(reference)", np.where(t.kl_vs_xkd < COLLAPSE_RATIO, "yes", "no"))
    return t


def describe_collapse(table: pd.DataFrame) -> str:
    """The collapse verdicts of :func:`collapse_table` in a sentence each, against the paper's expectation
    that every listed arm collapses."""
    if table.empty or "collapsed" not in table:
        return "The default XKD arm did not run: no collapse verdict."
    parts = []
    for r in table[table.arm != "xkd"].itertuples():
        verdict = "collapsed" if r.collapsed == "yes" else "did **not** collapse"
        parts.append(f"{r.label} {verdict} (final KL {r.kl:.4f}, {r.kl_vs_xkd:.2f}× the default's)")
    n = int((table.collapsed == "yes").sum())
    flat = [f"{r.label} ({r.entropy_vs_uniform:.0%})" for r in table.itertuples() if r.entropy_vs_uniform > 0.9]
    return (f"The paper expects all {len(parts)} to collapse; {n} did at this profile by the rule: " + "; ".join(parts)
            + ". " + (f"Apart from the rule, the teachers' outputs end close to uniform — entropy above 90 % of log K — "
                      f"in {', '.join(flat)}: such a teacher passes little to its student even when the KL stays up."
                      if flat else "No arm's teachers end near the uniform distribution (entropy above 90 % of log K)."))


def collapse_figure(runs: ArmRuns, names: Sequence[str] = COLLAPSE_ARMS, smooth: int = 25):
    """Fig. S1: KL(teacher ‖ student) and L_kd per training step (both directions' mean, moving average of
    ``smooth`` steps) of the default XKD and the arms that should collapse (seed 0)."""
    from maskedav import viz

    viz.set_style()
    fig, axes = viz.panel_grid(2)
    kernel = np.ones(smooth) / smooth
    for name in names:
        if name not in runs.runs or not runs.runs[name]:
            continue
        run = runs.runs[name][0]
        for ax, keys in zip(axes, (("kld_a2v", "kld_v2a"), ("kd_a2v", "kd_v2a"))):
            (s, x), (_, y) = train_curve(run, keys[0]), train_curve(run, keys[1])
            if len(x) < smooth:
                continue
            m = np.convolve((x + y) / 2, kernel, mode="valid")
            ax.plot(s[smooth - 1:], m, label=runs.label(name))
    axes[0].set_title("KL(teacher ‖ student), mean of both directions")
    axes[1].set_title("L_kd (cross-entropy), mean of both directions")
    for ax in axes:
        ax.set_xlabel("step")
    axes[0].set_yscale("symlog", linthresh=1e-3)
    fig.tight_layout()
    viz.legend_below(fig)
    return fig


def loss_terms_figure(runs: ArmRuns, name: str = "xkd"):
    """Fig. S2: every logged loss term of arm ``name`` per held-out evaluation (mean ± sd over seeds)."""
    from maskedav import viz

    viz.set_style()
    panels = [("reconstruction", ("recon_video", "recon_audio")), ("cross-modal KD", ("kd_a2v", "kd_v2a")),
              ("KL(teacher ‖ student)", ("kld_a2v", "kld_v2a")), ("MMD", ("mmd_students", "mmd_teachers")),
              ("teacher output entropy", ("teacher_entropy_v", "teacher_entropy_a")), ("total", ("heldout_loss",))]
    fig, axes = viz.panel_grid(len(panels))
    for ax, (title, keys) in zip(axes, panels):
        for key in keys:
            s, m, sd = curve(runs, name, key)
            if len(s):
                ax.plot(s, m, marker="o", ms=3, label=key)
                ax.fill_between(s, m - sd, m + sd, alpha=0.2)
        ax.set_title(title)
        ax.set_xlabel("step")
        ax.legend(fontsize=viz.MIN_FONT)
    fig.tight_layout()
    return fig


# ============================================================================== Figs. S3 and S4
def _probe_mean(frame: pd.DataFrame, arm: str, task: str) -> float:
    m, _, n = mean_sd(frame, arm, task, CLAIM_PROTOCOL)
    return m if n else math.nan


def mask_grid_figure(frame: pd.DataFrame, runs: ArmRuns):
    """Fig. S3: probe accuracy over the video x audio mask-ratio grid (video student on motion and
    appearance, audio student on sound), mean over seeds; ``None`` when no grid arm ran at this profile."""
    from maskedav import viz

    names = {(rv, ra): ("xkd" if (rv, ra) == (0.85, 0.80) else f"mask_{rv:g}_{ra:g}")
             for rv in MASK_GRID_V for ra in MASK_GRID_A}
    if not any(n in runs.runs and n != "xkd" for n in names.values()):
        return None
    viz.set_style()
    fig, axes = viz.panel_grid(len(MEASURED))
    for ax, (header, rep, task) in zip(axes, MEASURED):
        grid = np.array([[_probe_mean(frame, f"{names[(rv, ra)]}@{rep}", task) if names[(rv, ra)] in runs.runs
                          else math.nan for ra in MASK_GRID_A] for rv in MASK_GRID_V])
        im = ax.imshow(grid, cmap="viridis")
        for i in range(len(MASK_GRID_V)):
            for j in range(len(MASK_GRID_A)):
                if np.isfinite(grid[i, j]):
                    ax.text(j, i, f"{grid[i, j]:.1f}", ha="center", va="center", color="w", fontsize=viz.MIN_FONT)
        ax.set_xticks(range(len(MASK_GRID_A)), [f"{a:g}" for a in MASK_GRID_A])
        ax.set_yticks(range(len(MASK_GRID_V)), [f"{v:g}" for v in MASK_GRID_V])
        ax.set_xlabel("audio mask ratio")
        ax.set_ylabel("video mask ratio")
        ax.set_title(header.replace("SynthAV ", ""))
        fig.colorbar(im, ax=ax, shrink=0.8)
    fig.tight_layout()
    return fig


def length_figure(frame: pd.DataFrame, runs: ArmRuns):
    """Fig. S4: probe accuracy of the student and the teacher against the pre-training steps (the
    ``len_*`` arms and the full ``xkd``), mean ± sd over seeds; ``None`` when no shorter run ran."""
    from maskedav import viz

    names = [n for n in runs.runs if n.startswith("len_")] + ["xkd"]
    if len(names) < 2 or "xkd" not in runs.runs:
        return None
    viz.set_style()
    fig, axes = viz.panel_grid(len(MEASURED))
    steps = [runs.arms[n].steps for n in names]
    for ax, (header, rep, task) in zip(axes, MEASURED):
        for role, suffix in (("student", ""), ("teacher", "_teacher")):
            stats = [mean_sd(frame, f"{n}@{rep}{suffix}", task, CLAIM_PROTOCOL) for n in names]
            m = np.array([s[0] for s in stats])
            sd = np.nan_to_num(np.array([s[1] for s in stats]))
            ax.errorbar(steps, m, yerr=sd, marker="o", capsize=3, label=role)
        ax.set_xlabel("pre-training steps")
        ax.set_ylabel("probe accuracy (%)")
        ax.set_title(header.replace("SynthAV ", ""))
        ax.legend(fontsize=viz.MIN_FONT)
    fig.tight_layout()
    return fig
