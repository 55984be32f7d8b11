"""The CrossVideoMAE chapter on the study layer: its arms and budget, the evaluation, Tables 1-7 and
S1-S13, and claims X1-X22. The model is :mod:`maskedav.methods.crossvideomae`; pre-training,
evaluation, the gate and the claims' ledger are :mod:`maskedav.study`'s; figures are
:mod:`maskedav.chapters.crossvideomae_figures`.

**Continued pre-training** (spec §5.1, §9 item 15). The paper starts from public MAE (image) and
ST-MAE (video) checkpoints and adapts them with its objective. Here every arm of a seed starts from
the **baselines chapter's** MAE and VideoMAE of that seed (``Arm.factory`` = :func:`build_model`, the
checkpoints' content keys in ``Arm.key_extra``, as MVD's students load their teachers) and trains for
:func:`budget_steps` more steps on the same pre-training clips. The spec's **control** is plain VideoMAE
continued from the same checkpoint for the same steps (``control``); a second control trains twice the
steps (CrossVideoMAE runs the video encoder on two views per step). The baselines' VideoMAE itself, not
continued, is the row ``start``.

**Arms** (:data:`VARIANTS`): CrossVideoMAE at the paper's defaults (image 90 %, video 95 % random
masking, one randomly chosen frame, the profile's decoder depth) and one config switch of
:class:`~maskedav.methods.crossvideomae.CrossVideoMAEConfig` per variant. At ``cpu`` the :data:`CORE` arms
(Tables 2, 5, 6 and S13's claims) train on every seed and the others on :data:`EXTRA_SEEDS` seed (they
describe; their claims are inconclusive by the rule).

**Evaluation.** SynthAV's ``motion`` task is the SSv2 analogue (a static frame cannot tell it) and
``appearance`` the K400 analogue; the video encoder (the one kept downstream) is read by the study
layer's linear probe and kNN on both. The image encoder (Tables 2, 5, S10, S13's IN-1K column) is read
on every frame for ``appearance``. The **random-init reference** of the gate is the baselines' own
random-init rows of VideoMAE (video encoder) and MAE (image encoder) of the same seed: the encoders are
the same networks, and a continued arm's "init" is a trained checkpoint, not a random network. Table 1
adds the few-label fine-tune of the core models. Claims use the probe on ``motion`` (fixed before the runs).
"""
from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass, field
from functools import partial
from typing import Sequence

import numpy as np
import pandas as pd
import torch

from maskedav.methods.crossvideomae import CrossVideoMAE, CrossVideoMAEConfig
from maskedav.study import RANDOM_INIT, Arm, Claim, Study
from maskedav.study.chapter import ArmRuns, budget_overrides, budget_sentence, by_arm, cell, plan_frame, with_rep
from maskedav.study.chapter import curve, timing_table  # noqa: F401  (the notebooks' ch.curve, ch.timing_table)
from maskedav.study.chapter import mean_sd as study_mean_sd

PAPER = "crossvideomae"      # results folder and claims' paper name
CHAPTER = "crossvideomae"    # checkpoint folder
#: SynthAV tasks: the SSv2 analogue (motion) and the K400 analogue (appearance).
TASKS = ("motion", "appearance")
TASK_NAMES = {"motion": "SSv2", "appearance": "K400"}
IMAGE_TASK = "appearance"    # the IN-1K analogue, read from the image encoder on every frame
PROTOCOLS = ("probe", "knn")
CLAIM_TASK = "motion"
CLAIM_PROTOCOL = "probe"
BUDGET_FRACTION = 1 / 6
EXTRA_SEEDS = 1
DECODER_DEPTHS = (1, 2, 4, 8)


@dataclass(frozen=True)
class Variant:
    method: str
    switches: dict
    label: str
    steps_factor: float = 1.0
    cost: str = "cvm"            # :data:`STEP_COST_S` key
    image_rep: bool = False      # also evaluated through the image encoder (IN-1K column)


def _mask_label(img: float, vid: float) -> str:
    return f"image {img:.0%} / video {vid:.0%} masking"


VARIANTS: dict[str, Variant] = OrderedDict([
    ("control", Variant("videomae", {}, "VideoMAE continued, same steps (control)", cost="videomae")),
    ("control_2x", Variant("videomae", {}, "VideoMAE continued, 2x steps (as many video-encoder passes)", 2.0,
                           cost="videomae")),
    ("cvm", Variant("crossvideomae", {}, "CrossVideoMAE (image 90 % / video 95 %, random masks, n = 1, random frame)",
                    image_rep=True)),
    ("no_intra", Variant("crossvideomae", dict(intra_weight=0.0), "w/o intra-modal contrast")),
    ("no_cross", Variant("crossvideomae", dict(cross_weight=0.0), "w/o cross-modal contrast")),
    ("no_contrast", Variant("crossvideomae", dict(contrast_weight=0.0),
                            "w/o intra- and cross-modal contrast (= w/o video and frame level)")),
    ("no_frame", Variant("crossvideomae", dict(frame_level_weight=0.0), "w/o frame-level contrast")),
    ("no_video", Variant("crossvideomae", dict(video_level_weight=0.0), "w/o video-level contrast")),
    *[(f"m{int(i * 100)}_{int(v * 100)}", Variant("crossvideomae", dict(mask_ratio_image=i, mask_ratio=v),
                                                  _mask_label(i, v), cost="cvm_m75" if v == 0.75 else "cvm",
                                                  image_rep=True))
      for i, v in ((0.75, 0.75), (0.75, 0.9), (0.75, 0.95), (0.9, 0.75), (0.9, 0.9))],
    *[(f"n{n}", Variant("crossvideomae", dict(num_frames=n), f"n = {n} sampled frames", cost="cvm_n"))
      for n in (2, 3, 4, 5)],
    ("sel_first", Variant("crossvideomae", dict(frame_selection="first"), "first frame")),
    ("sel_middle", Variant("crossvideomae", dict(frame_selection="middle"), "middle frame")),
    ("mask_tube", Variant("crossvideomae", dict(mask_type="tube"), "tube masking (video branch)", image_rep=True)),
    ("mask_frame", Variant("crossvideomae", dict(mask_type="frame"), "frame masking (video branch)", image_rep=True)),
    *[(f"dec{d}", Variant("crossvideomae", dict(decoder_depth=d), f"decoder depth {d}", cost=f"cvm_dec{d}"))
      for d in DECODER_DEPTHS],
    ("unrelated", Variant("crossvideomae", dict(image_source="unrelated"),
                          "unrelated images in the image branch (SynthAV's unrelated set)", cost="cvm_unrelated",
                          image_rep=True)),
])

#: Arms trained on every seed at every profile: the claims of Tables 2, 5, 6 and S13.
CORE = ("control", "cvm", "unrelated", "no_intra", "no_cross", "no_contrast", "no_frame", "no_video",
        "m90_90", "m75_95")
#: Paper rows this book does not implement, with the reason.
NOT_IMPLEMENTED = {
    "augmentations": "not implemented: RandAugment / Random Erasing / MixUp / CutMix belong to the paper's "
                     "supervised fine-tuning recipe, which the study layer's protocols do not have; the spec "
                     "(§10.4) ranks the table untestable (differences <= 0.4 points, which rows drop what was lost)",
}

#: Measured cost of one pre-training step at the ``cpu`` profile's sizes (batch 32, one thread of this
#: book's 2-core machine while the other core trained: two measurements, 0.12 and 0.18 s for the default,
#: so these are their mean), the arithmetic behind :func:`plan_table`. The runs' own times are in
#: :func:`timing_table`.
STEP_COST_S = {"videomae": 0.06, "cvm": 0.15, "cvm_m75": 0.18, "cvm_n": 0.16, "cvm_unrelated": 0.17,
               "cvm_dec1": 0.12, "cvm_dec2": 0.15, "cvm_dec4": 0.21, "cvm_dec8": 0.30}
#: Estimated cost of evaluating one encoder (probe + kNN on its tasks), CPU s (KDC-MAE's measured 15 s
#: per representation on the same data sizes).
EVAL_COST_S = 15.0
#: Estimated cost of the few-label fine-tune of one encoder on one task (Table 1), CPU s.
FINETUNE_COST_S = 20.0
#: Arms fine-tuned for Table 1 (every seed).
FINETUNE_ARMS = ("control", "cvm")


# ========================================================================================= arms
def budget_steps(P) -> int:
    return max(int(round(P.train.steps * BUDGET_FRACTION)), 2)


def depth_arm(P, depth: int) -> str:
    """The arm that measures decoder depth ``depth``: ``cvm`` at the profile's own depth."""
    return "cvm" if depth == P.model.decoder_depth else f"dec{depth}"


def profile_variants(P) -> list[str]:
    """The variants that exist at ``P`` (the decoder-depth arm of the profile's own depth is ``cvm``)."""
    return [n for n in VARIANTS if not (n.startswith("dec") and depth_arm(P, int(n[3:])) == "cvm")]


def start_arms(P) -> dict[str, Arm]:
    """The baselines' MAE and VideoMAE arms at ``P``: the checkpoints every arm starts from."""
    from maskedav.chapters import baselines

    sb = Study(P, "baselines")
    return {name: baselines.arms(sb, name)[0] for name in ("mae", "videomae")}


def start_refs(P):
    """``{"image": TeacherRef, "video": TeacherRef}`` of the start checkpoints (per seed)."""
    from maskedav.chapters.mvd import TeacherRef

    a = start_arms(P)
    return {"image": TeacherRef("image", a["mae"], "baselines"), "video": TeacherRef("video", a["videomae"], "baselines")}


def _load_video(model: CrossVideoMAE, video) -> None:
    """The baselines' VideoMAE into the video branch: strict when the decoder depth matches; else the
    encoder strictly and every decoder tensor of the same name and shape (the extra blocks fresh)."""
    sd = video.state_dict()
    if model.config.vit.decoder_depth == video.config.vit.decoder_depth:
        model.load_video_mae(sd)
        return
    model.load_video_mae({k: v for k, v in sd.items() if k.startswith("encoder.")})
    own = model.decoder.state_dict()
    dec = {k[len("decoder."):]: v for k, v in sd.items() if k.startswith("decoder.")}
    model.decoder.load_state_dict({k: v for k, v in dec.items() if k in own and own[k].shape == v.shape}, strict=False)


def build_model(config, seed: int, *, profile: str, method: str, refs: tuple = ()):
    """``Arm.factory`` of every arm: load the baselines' VideoMAE (and MAE) of ``seed``, then build the
    arm's model from ``torch.manual_seed(seed)`` with those weights (the control: VideoMAE itself)."""
    from maskedav.study.runs import method_class

    loaded = {r.kind: r.load(profile, seed) for r in refs}
    torch.manual_seed(seed)
    if method == "videomae":
        m = method_class("videomae")(config)
        m.load_state_dict(loaded["video"].state_dict())
        return m
    m = CrossVideoMAE(config, image_mae=loaded["image"])
    _load_video(m, loaded["video"])
    return m


def arm(P, name: str, seeds: Sequence[int] | None = None) -> Arm:
    """The arm of variant ``name`` at ``P``: continued from the baselines' checkpoints of each seed."""
    v = VARIANTS[name]
    starts = start_arms(P)
    refs = start_refs(P)
    if v.method == "videomae":
        cfg, used, rep = starts["videomae"].config, (refs["video"],), None
    else:
        cfg, used, rep = CrossVideoMAEConfig.from_profile(P, **v.switches), (refs["video"], refs["image"]), "video"
    steps = int(round(budget_steps(P) * v.steps_factor))
    sb = Study(P, "baselines")
    # Supp Tab. 13: the image branch reads SynthAV's unrelated image set, one image per clip and step
    # drawn by the study layer's batches independently of the clip.
    unpaired = (("image", "unrelated"),) if getattr(cfg, "image_source", "frames") == "unrelated" else ()
    return Arm(name, v.method, cfg, keys=("video",), steps=steps, rep=rep, label=v.label, unpaired=unpaired,
               seeds=None if seeds is None else tuple(seeds), train_overrides=budget_overrides(P, steps),
               factory=partial(build_model, profile=P.name, method=v.method, refs=used),
               key_extra=tuple(r.identity(sb) for r in used))


def plan(P) -> "OrderedDict[str, Arm]":
    """Every arm this profile trains, longest runs first (the executor balances its workers)."""
    extra = tuple(P.seed_list[:EXTRA_SEEDS]) if P.name == "cpu" else None
    out = OrderedDict()
    for name in profile_variants(P):
        out[name] = arm(P, name, None if name in CORE else extra)
    order = sorted(out, key=lambda n: -STEP_COST_S[VARIANTS[n].cost] * out[n].steps)
    return OrderedDict((n, out[n]) for n in order)


@dataclass
class ChapterRuns(ArmRuns):
    """:class:`~maskedav.study.chapter.ArmRuns` plus the start checkpoints' runs."""

    starts: dict = field(default_factory=dict)


def pretrain(study: Study) -> ChapterRuns:
    """The baselines' MAE / VideoMAE (trained or read from their cache), then every arm of :func:`plan`
    on the study's executor workers (or from the cache)."""
    P = study.P
    starts = start_arms(P)
    base = Study(P, "baselines").pretrain(list(starts.values()), P.seed_list)
    return ChapterRuns.pretrain(study, plan(P), starts=by_arm(base, starts))


def _runs_of(P, name: str) -> int:
    n = len(P.seed_list)
    return n if name in CORE or P.name != "cpu" else min(EXTRA_SEEDS, n)


def plan_table(P) -> pd.DataFrame:
    """The budget as planned (:func:`~maskedav.study.chapter.plan_frame`): per arm, seeds x steps, the
    estimated CPU seconds of pre-training (:data:`STEP_COST_S`) and evaluation (:data:`EVAL_COST_S` per
    representation, :data:`FINETUNE_COST_S` per fine-tuned task)."""
    rows = []
    for name in profile_variants(P):
        v = VARIANTS[name]
        seeds = _runs_of(P, name)
        reps = 1 + int(v.image_rep)
        ft = len(TASKS) * FINETUNE_COST_S if name in FINETUNE_ARMS else 0.0
        rows.append(dict(arm=name, label=v.label, seeds=seeds, steps=int(round(budget_steps(P) * v.steps_factor)),
                         s_per_step=STEP_COST_S[v.cost], eval_cpu_s=seeds * (reps * EVAL_COST_S + ft),
                         note=""))
    return plan_frame(rows, extra_label="(random-init and start rows: the baselines' cached evaluations)")


def budget_prose(P) -> str:
    """The budget's arithmetic in words, computed from :func:`plan_table` (so the prose cannot drift)."""
    return (f"Every arm continues the baselines' checkpoints for {budget_steps(P):,} steps ({BUDGET_FRACTION:.0%} of "
            f"the profile's {P.train.steps:,}, the baselines' own schedule; the 2x control twice that) at batch "
            f"{P.train.batch_size}. A CrossVideoMAE step (two video views, one frame) costs "
            f"{STEP_COST_S['cvm']:.3f} s against VideoMAE's {STEP_COST_S['videomae']:.3f} s (decoder depth 8: "
            f"{STEP_COST_S['cvm_dec8']:.3f} s; measured at the cpu profile's sizes on one thread of this book's "
            f"2-core machine). " + budget_sentence(plan_table(P), CORE))


# =================================================================================== evaluation
def baseline_frames(runs: ChapterRuns) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The baselines chapter's (cached) evaluations of the start checkpoints: VideoMAE and MAE, with
    their random-init rows, exactly as the baselines chapter computed them."""
    from maskedav.chapters import baselines

    sb = Study(runs.P, "baselines")
    out = []
    for name in ("videomae", "mae"):
        protocols, ft = baselines.PROTOCOLS[name]
        out.append(sb.evaluate(runs.starts[name], baselines.EVAL_TASKS[name], protocols, finetune_tasks=ft))
    return out[0], out[1]


def _as_arm(rows: pd.DataFrame, name: str, label: str) -> pd.DataFrame:
    rows = rows.copy()
    rows["arm"], rows["label"] = name, label
    return rows


def evaluate(runs: ChapterRuns) -> pd.DataFrame:
    """The tidy frame: every run's video encoder on :data:`TASKS` and the image encoder of the
    ``image_rep`` arms on :data:`IMAGE_TASK` (``<arm>@image``) by :data:`PROTOCOLS`; the start checkpoints
    as ``start`` (VideoMAE) and ``mae_start@image`` (MAE); each arm's random-init rows are the baselines'
    random-init rows of the same encoder and seed. Column ``base``: the arm without ``@image``."""
    vm, mae = baseline_frames(runs)
    S = runs.study
    video = [r for name in runs.runs for r in runs.runs[name]]
    image = [with_rep(r, "image", f"{r.arm.label} [image encoder]") for name in runs.runs if VARIANTS[name].image_rep for r in runs.runs[name]]
    frames = [S.evaluate(video, TASKS, PROTOCOLS, random_init=False)]
    if image:
        frames.append(S.evaluate(image, (IMAGE_TASK,), PROTOCOLS, random_init=False))
    own = pd.concat(frames, ignore_index=True)
    refs = {False: vm[(vm.arm == "videomae") & vm.task.isin(TASKS) & vm.protocol.isin(PROTOCOLS)],
            True: mae[(mae.arm == "mae") & (mae.task == IMAGE_TASK) & mae.protocol.isin(PROTOCOLS)]}
    parts = [own]
    for (name, label), g in own.groupby(["arm", "label"], sort=False):
        ref = refs[name.endswith("@image")]
        ri = ref[(ref.init == RANDOM_INIT) & ref.seed.isin(g.seed.unique())]
        parts.append(_as_arm(ri, name, label))
    for ref, name, label in ((refs[False], "start", "VideoMAE start (the baselines' checkpoint, not continued)"),
                             (refs[True], "mae_start@image", "MAE start (the baselines' checkpoint) [image encoder]")):
        parts.append(_as_arm(ref, name, label))
    frame = pd.concat(parts, ignore_index=True)
    frame["base"] = frame.arm.str.split("@").str[0]
    return frame


def finetune_frame(runs: ChapterRuns) -> pd.DataFrame:
    """Table 1's few-label fine-tune (the study layer's protocol) of :data:`FINETUNE_ARMS` on
    :data:`TASKS`, and the start checkpoint's (the baselines' cached fine-tune rows)."""
    vm, _ = baseline_frames(runs)
    rs = [r for name in FINETUNE_ARMS if name in runs.runs for r in runs.runs[name]]
    f = runs.study.evaluate(rs, TASKS, ("finetune",), random_init=False, finetune_tasks=TASKS)
    start = vm[(vm.arm == "videomae") & (vm.protocol == "finetune") & vm.task.isin(TASKS)]
    return pd.concat([f, _as_arm(start, "start", "VideoMAE start (the baselines' checkpoint, not continued)")],
                     ignore_index=True)


def ceilings(P) -> pd.DataFrame:
    """The supervised ceilings of the tasks used (the baselines chapter's cached ones)."""
    from maskedav.chapters import baselines

    return baselines.ceilings(P, TASKS)


def mean_sd(frame: pd.DataFrame, arm_: str, task: str, protocol: str = CLAIM_PROTOCOL) -> tuple[float, float, int]:
    """:func:`maskedav.study.chapter.mean_sd` on the claims' protocol by default."""
    return study_mean_sd(frame, arm_, task, protocol)


@torch.no_grad()
def retrieval_r1(runs: ChapterRuns, names: Sequence[str] = ("control", "cvm"), gallery: int | None = None) -> pd.DataFrame:
    """Supp Tab. 8's video retrieval R@1 (spec §8's protocol): test clips query the labelled train clips
    by cosine similarity of the mean-pooled video encoder; a hit when the nearest train clip has the
    query's class (1-NN, :func:`maskedav.eval.knn.knn_accuracy` with k = 1) — per seed, for ``names``,
    the start checkpoint and the random init."""
    from maskedav.eval.knn import knn_accuracy

    S, P = runs.study, runs.P
    n_gal = gallery or P.eval.probe_train
    train, test = S.split("train"), S.split("test")

    def emb(model, video):
        model.eval()
        return torch.cat([model.embed(dict(video=v)) for v in video.split(256)])

    rows = []
    models = [(n, r.seed, r.model) for n in names if n in runs.runs for r in runs.runs[n]]
    models += [("start", r.seed, r.model) for r in runs.starts["videomae"]]
    models += [(RANDOM_INIT, r.seed, partial(r.arm.build, r.seed)) for r in runs.starts["videomae"]]
    for name, seed, get in models:
        m = get()
        gx, tx = emb(m, train["video"][:n_gal]), emb(m, test["video"])
        for task in TASKS:
            acc = knn_accuracy(torch.nn.functional.normalize(gx, dim=-1), train["labels"][task][:n_gal],
                               torch.nn.functional.normalize(tx, dim=-1), test["labels"][task], k=1, temperature=None)
            rows.append(dict(arm=name, seed=seed, task=task, r1=float(acc)))   # knn_accuracy: percent
    return pd.DataFrame(rows)


# =================================================================================== paper tables
_SRC = "CrossVideoMAE (arXiv 2502.07811), {}"


def _sel(frame, arm_, task, protocol=CLAIM_PROTOCOL) -> str:
    return cell(*mean_sd(frame, arm_, task, protocol))


def _book_cols(frame, runs: ChapterRuns, name: str | None, image: bool, reason: str = "") -> dict:
    """SynthAV columns of one row: the video encoder's probe on motion / appearance and, when
    ``image``, the image encoder's probe on appearance."""
    P = runs.P
    ran = name in runs.runs or name == "start"
    why = reason or (f"not run at {P.name}: not in this profile" if name else "")
    out = {}
    for t in TASKS:
        out[f"SynthAV {t} (video encoder)"] = _sel(frame, name, t) if ran else why
    if image and name in VARIANTS and VARIANTS[name].method == "videomae":
        out[f"SynthAV {IMAGE_TASK} (image encoder)"] = "— (no image branch)"
    elif image:
        img = "mae_start@image" if name == "start" else f"{name}@image"
        out[f"SynthAV {IMAGE_TASK} (image encoder)"] = (_sel(frame, img, IMAGE_TASK)
                                                       if ran and (frame.arm == img).any() else why or "not measured")
    return out


#: Ablation tables: id -> (caption of the paper's metric, paper columns, rows (paper row label,
#: paper values, arm (None: not measurable), image column?), description).
def ablation_specs(P) -> dict:
    d = {k: depth_arm(P, k) for k in DECODER_DEPTHS}
    return {
        "table2": (("IN-1K Acc@1", "SSv2 Acc@1"), True, [
            ("MAE [38] / SpatioTemporal MAE [25]", (83.60, 70.0), "start"),
            ("CrossVideoMAE (Ours)", (83.62, 73.7), "cvm"),
            ("VideoMAE continued, same steps (control; not in the paper)", (None, None), "control"),
            ("VideoMAE continued, 2x steps (control; not in the paper)", (None, None), "control_2x")]),
        "table3": (("SSv2 Acc@1",), False, [
            (f"n = {n}", (a,), "cvm" if n == 1 else f"n{n}") for n, a in zip(range(1, 6), (73.7, 73.7, 73.5, 73.4, 73.1))]),
        "table4": (("Acc@1", "Acc@5"), False, [
            (f"row {i} (3 of 4 augmentations; which was lost in the text)", (a1, a5), None)
            for i, (a1, a5) in enumerate(((73.72, 92.67), (73.51, 92.94), (73.34, 92.85), (73.46, 92.79)), 1)]
            + [("row 5 (Aug + Era + MixUp + CutMix)", (73.69, 92.86), None)]),
        "table5": (("IN-1K Acc@1", "SSv2 Acc@1"), True, [
            (f"image {i}% / video {v}%", (a, b), "cvm" if (i, v) == (90, 95) else f"m{i}_{v}")
            for (i, v), a, b in zip(((75, 75), (75, 90), (75, 95), (90, 75), (90, 90), (90, 95)),
                                    (83.2, 83.5, 83.4, 83.3, 83.5, 83.6), (72.9, 73.2, 73.4, 72.6, 73.5, 73.7))]),
        "table6": (("SSv2 Acc@1",), False, [
            ("row 1 (checkmarks lost; 'no contrast' inferred)", (70.94,), "no_contrast"),
            ("row 2 (checkmarks lost; 'w/o cross-modal' inferred)", (72.96,), "no_cross"),
            ("row 3 (checkmarks lost)", (72.87,), None),
            ("row 4 (checkmarks lost)", (72.65,), None),
            ("row 5 (checkmarks lost; 'w/o video level' inferred)", (73.28,), "no_video"),
            ("row 6 (checkmarks lost; 'w/o frame level' inferred)", (73.39,), "no_frame"),
            ("row 7: intra + cross, video + frame level (full model)", (73.70,), "cvm"),
            ("w/o intra-modal (text: -0.5; no printed row)", (None,), "no_intra")]),
        "tableS9": (("Acc@1", "Acc@5"), False, [
            ("first frame", (73.0, 92.9), "sel_first"), ("middle frame", (73.3, 93.1), "sel_middle"),
            ("random frame", (73.7, 93.4), "cvm")]),
        "tableS10": (("IN-1K Acc@1", "SSv2 Acc@1"), True, [
            ("image Random / video Tube", (83.4, 73.4), "mask_tube"),
            ("image Random / video Frame", (83.1, 72.7), "mask_frame"),
            ("image Random / video Random", (83.6, 73.7), "cvm")]),
        "tableS11": (("Acc@1", "Acc@5"), False, [
            (f"{k} blocks", (a1, a5), d[k]) for k, a1, a5 in zip(DECODER_DEPTHS, (72.52, 72.79, 73.70, 71.63),
                                                                   (92.65, 92.87, 93.40, 93.35))]),
        "tableS13": (("IN-1K Perf.", "SSv2 Perf."), True, [
            ("IN-1K + SSv2 (unrelated images)", (82.8, 70.8), "unrelated"),
            ("sampled frame dataset + SSv2 (corresponding frames)", (83.1, 73.7), "cvm")]),
    }


def ablation_table(frame: pd.DataFrame, runs: ChapterRuns, table: str) -> pd.DataFrame:
    """An ablation table: per paper row its printed values (``paper …``) beside this book's SynthAV
    probe accuracies (mean ± sd (seeds)); rows the book adds are marked in their label."""
    cols, image, rows = ablation_specs(runs.P)[table]
    out = []
    for label, vals, name in rows:
        r = dict(row=label, **{f"paper {c}": (math.nan if v is None else v) for c, v in zip(cols, vals)})
        reason = NOT_IMPLEMENTED["augmentations"] if table == "table4" else (
            "not measurable: the row's configuration was lost with the checkmarks" if name is None else "")
        r.update(_book_cols(frame, runs, name, image, reason))
        r["arm"] = name or ""
        out.append(r)
    return pd.DataFrame(out)


def table_s12(frame: pd.DataFrame, runs: ChapterRuns) -> pd.DataFrame:
    """Supp Tab. 12: the drop of each removal from the full model, paper vs SynthAV (motion probe,
    mean of the per-seed paired differences on the seeds both arms ran)."""
    rows = [("Without Intra-Modal Contrastive Learning", 0.5, "no_intra"),
            ("Without Cross-Modal Contrastive Learning", 0.7, "no_cross"),
            ("Without Cross-Modal + Intra-Modal Contrastive Learning", 1.2, "no_contrast"),
            ("Without Frame Level Contrastive Learning", 0.3, "no_frame"),
            ("Without Video Level Contrastive Learning", 0.4, "no_video"),
            ("Without Video Level + Frame Level Contrastive Learning", 0.7, "no_contrast")]
    out = []
    for label, drop, name in rows:
        r = {"technique": label, "paper Acc@1 drop (%)": drop, "arm": name}
        for t in TASKS:
            if name not in runs.runs:
                r[f"SynthAV {t} drop"] = f"not run at {runs.P.name}"
                continue
            g = frame[(frame.task == t) & (frame.protocol == CLAIM_PROTOCOL) & (frame.init == "pretrained")]
            a = g[g.arm == "cvm"].set_index("seed").accuracy
            b = g[g.arm == name].set_index("seed").accuracy
            d = (a - b).dropna()
            r[f"SynthAV {t} drop"] = (f"{d.mean():+.2f}" + (f" ± {d.std(ddof=1):.2f}" if len(d) > 1 else "")
                                      + f" ({len(d)})") if len(d) else "not run"
        out.append(r)
    return pd.DataFrame(out)


def table7(frame: pd.DataFrame, runs: ChapterRuns) -> pd.DataFrame:
    """Main Tab. 7 (transfer). The paper pre-trains on K400 and fine-tunes on SSv2 and the reverse.
    SynthAV has **one** pre-training distribution carrying both factors, so here the same pre-trained
    encoders are read on each task: what is measured is how well one pre-training serves the motion
    (SSv2-like) and the appearance (K400-like) task, not a change of pre-training set."""
    paper = {"motion": ("K400", "240k", "SSv2", 73.5), "appearance": ("SSv2", "169k", "K400", 83.0)}
    P = runs.P
    out = []
    for task, (pre, n, ft, acc) in paper.items():
        r = {"paper pre-train set": pre, "paper # pre-train data": n, "paper fine-tune set": ft, "paper Acc@1": acc,
             "SynthAV pre-train": f"SynthAV pretrain split ({P.data.n_pretrain:,} clips, both factors)",
             "SynthAV task": task}
        for name in ("cvm", "control", "start"):
            r[f"SynthAV {name} probe"] = _sel(frame, name, task) if name in runs.runs or name == "start" else "not run"
        out.append(r)
    return pd.DataFrame(out)


# ======================================================================= comparison tables (sota)
def _rows(cols, rows, source):
    return [dict(zip(cols, r), source=_SRC.format(source)) for r in rows]


_T1 = ("Method", "Backbone", "Extra pre-training data", "Param (M)", "UCF101", "HMDB51", "SSv2", "K400")
#: Main Tab. 1 as printed (spec §6; column assignment of the two-number rows inferred there).
PAPER_TABLE1 = _rows(_T1, [
    ("SpeedNet [8]", "S3D-G", "K400", 9, 81.1, 48.8, None, None),
    ("Pace Pred [96]", "R(2+1)D", "K400", 15, 77.1, 36.6, None, None),
    ("Vi2CLR [20]", "S3D", "UCF101", 9, 82.8, 52.9, None, None),
    ("Vi2CLR [20]", "S3D", "K400", 9, 89.1, 55.7, None, None),
    ("MemDPC [35]", "R2D3D-34", "K400", 32, 86.1, 54.5, None, None),
    ("RSPNet [13]", "R(2+1)D", "K400", 9, 81.1, 44.6, None, None),
    ("RSPNet [13]", "S3D-G", "K400", 9, 93.7, 64.7, None, None),
    ("VideoMoCo [73]", "R(2+1)D", "K400", 15, 78.7, 49.2, None, None),
    ("HiCo [78]", "S3D-G", "UK400", None, 91.0, 66.5, None, None),
    ("CVRL [77]", "SlowOnly-R50", "K400", 32, 92.9, 67.9, None, None),
    ("CVRL [77]", "SlowOnly-R152", "K600", 32, 94.4, 70.6, None, None),
    ("MIL-NCE [67]", "S3D-G", "HowTo100M", 9, 91.3, 61.0, None, None),
    ("MMV [1]", "S3D-G", "AS+HTM", 9, 92.5, 69.6, None, None),
    ("CPD [56]", "ResNet50", "IG300k", None, 92.8, 63.8, None, None),
    ("ELO [76]", "R(2+1)D", "Youtube8M-2", None, 93.8, 67.4, None, None),
    ("XDC [2]", "R(2+1)D", "IG65M", 15, 94.2, 67.1, None, None),
    ("GDT [74]", "R(2+1)D", "IG65M", 15, 95.2, 72.8, None, None),
    ("VIMPAC [89]", "ViT-L", "HowTo100M+DALLE", 307, 92.7, 65.9, 68.1, 77.4),
    ("SVT [81]", "ViT-B", "IN-21K+K400", 121, 93.7, 67.2, None, None),
    ("BEVT [101]", "Swin-B", "IN-1K+K400+DALLE", 88, None, None, 70.6, 80.6),
    ("SpatioTemporalMAE [25]", "ViT-B", "", 87, None, None, 68.3, 81.3),
    ("MME [87]", "ViT-B", "", 87, 96.5, 78.0, 70.0, 81.8),
    ("VideoMAE [90] (800/1600 ep.)", "ViT-B", "", 87, 90.8, 61.1, None, None),
    ("MAR [79] (800/1600 ep.)", "ViT-B", "", 87, 91.0, 61.4, None, None),
    ("VideoMAE [90] (K400 model)", "ViT-B", "", 87, 96.1, 73.3, 69.3, 80.9),
    ("MAR [79] (K400 model)", "ViT-B", "", 87, 95.9, 74.1, 71.0, 81.0),
    ("OmniMAE [28]", "ViT-B", "IN-1K", 87, None, None, 69.3, 80.6),
    ("ViC-MAE [40] (T.L.)", "ViT-B", "K(4,6,7)+MiT+IN-1K", 87, None, None, 69.8, 80.9),
    ("ConvMAE [26]", "ConvViT-B", "", 86, None, None, 69.9, 81.7),
    ("AdaMAE [6]", "ViT-B", "", 87, None, None, 70.0, 81.7),
    ("MGMAE [43]", "ViT-B", "", 87, None, None, 70.6, 81.2),
    ("CMAE-V [65]", "ConvViT-B", "", 87, None, None, 71.1, 82.2),
    ("MVD-B [102]", "Teacher-B", "IN-1K", 87, 97.0, 76.4, 72.5, 82.7),
    ("CrossVideoMAE", "ViT-B", "IN-1K", "87*", 97.6, 78.4, 73.7, 83.2)], "main Table 1 (full fine-tuning Acc@1, %)")

_T5 = ("Method", "Modality", "Backbone", "Extra data", "UCF101", "HMDB51", "K400", "SSv2")
#: Supp Tab. 5 as printed (linear probing).
PAPER_TABLE_S5 = _rows(_T5, [
    ("MoCo [37]", "V", "R50", "UCF101", 65.4, 34.5, None, 7.4),
    ("CoCLR-RGB [36]", "V", "R(2+1)D", "UCF101", 74.5, 46.1, None, None),
    ("CVRL [77]", "V", "SlowOnly-R50", "K400", 89.8, 58.3, 66.1, None),
    ("ρBYOL [24]", "V", "SlowOnly-R50", "K400", 90.1, 61.1, 68.3, 24.5),
    ("VideoMoCo [73]", "V", "R(2+1)D", "K400", 66.3, 31.0, None, 19.5),
    ("CORPf [42]", "V", "SlowOnly-R50", "K400", 90.2, 58.7, 66.6, None),
    ("Vi2CLR [20]", "V", "S3D", "K400", 75.4, 47.3, 63.4, None),
    ("GDT [74]", "V + A", "R(2+1)D", "IG65M", 75.7, 38.6, None, 11.9),
    ("TimeSformer [9]", "V", "ViT-B", "IN-21K", None, None, None, 14.0),
    ("SVT [81]", "V", "ViT-B", "IN-21K+K400", 90.8, 57.8, 68.1, 18.3),
    ("ViMPAC [89]", "V + I", "ViT-L", "HowTo100M+DALLE", None, None, None, None),
    ("VideoMAE [90]", "V", "ViT-B", "K400", 84.6, 60.5, 61.2, 23.1),
    ("MME [87]", "V", "ViT-B", "K400", None, None, None, 29.2),
    ("MVD-B [102]", "V + I", "Teacher-B", "IN-1K + K400", 97.0, 76.4, None, None),
    ("CrossVideoMAE", "V + I", "ViT-B", "IN-1K + K400", 97.6, 76.9, 68.7, 31.2)], "Supp Table 5 (linear probing Acc@1, %)")

_T8 = ("Method", "Modality", "Backbone", "Extra data", "UCF101 R@1", "HMDB51 R@1")
#: Supp Tab. 8 as printed (video retrieval R@1).
PAPER_TABLE_S8 = _rows(_T8, [
    ("VCOP [106]", "V", "R(2+1)D", "UCF101", 14.1, None),
    ("CoCLR-RGB [36]", "V", "S3D-G", "K400", 53.3, 23.2),
    ("Vi2CLR [20]", "V", "S3D", "K400", 55.4, 24.6),
    ("ρBYOL ρ=4 [24]", "V", "SlowOnly-R50", "K400", 76.8, 39.6),
    ("SVT [81]", "V", "ViT-B", "IN-21K+K400", 82.9, 44.4),
    ("VideoMAE [90]", "V", "ViT-B", "K400", 64.0, 32.5),
    ("CrossVideoMAE", "V + I", "ViT-B", "IN-1K + K400", 85.5, 49.7)], "Supp Table 8 (video retrieval R@1, %)")

_T6 = ("Method", "Backbone", "Extra pre-training data", "Frames", "GFLOPs", "Param (M)", "Acc@1", "Acc@5")
#: Supp Tab. 6 as printed (vs supervised, SSv2; blank data cells merged from the row above, inferred).
PAPER_TABLE_S6 = _rows(_T6, [
    ("TSM two stream [57]", "ResNet50×2", "IN-1K", "16+16", "130×2×3", 49, 66.0, 90.5),
    ("TEINet En [60]", "ResNet50×2", "", "8+16", "99×10×3", 50, 66.6, None),
    ("TANet En/TAM [61]", "ResNet50×2", "", "8+16", "99×2×3", 51, 66.0, 90.1),
    ("TDN En [99]", "ResNet101×2", "", "8+16", "198×1×3", 88, 69.6, 92.2),
    ("SlowFast [23]", "ResNet101", "K-400", "8+32", "106×1×3", 53, 63.1, 87.6),
    ("MViTv1 [22]", "MViTv1-B", "", "64", "455×1×3", 37, 67.7, 90.9),
    ("TimeSformer [9]", "ViT-B", "IN-21K", "8", "196×1×3", 121, 59.5, None),
    ("TimeSformer [9]", "ViT-L", "", "64", "5549×1×3", 430, 62.4, None),
    ("ViViT FE [5]", "ViT-L", "IN-21K+K400", "32", "995×4×3", None, 65.9, 89.9),
    ("TAdaConvNeXt-T [45]", "ConvNeXt-T", "IN-1K", "32", "94×3×2", 38, 67.1, 90.4),
    ("Motionformer [75]", "ViT-B", "IN-21K+K400", "16", "370×1×3", 109, 66.5, 90.1),
    ("Motionformer [75]", "ViT-L", "", "32", "1185×1×3", 382, 68.1, 91.2),
    ("Video Swin [60]", "Swin-B", "", "32", "321×1×3", 88, 69.6, 92.7),
    ("CrossVideoMAE (Ours, self-supervised)", "ViT-B", "IN-1K", "16", "180×2×3", "87 (Shared)", 73.7, 93.4)],
    "Supp Table 6 (vs supervised methods, SSv2)")

#: Supp Tab. 7 as printed (vs supervised, K400).
PAPER_TABLE_S7 = _rows(_T6, [
    ("NonLocal I3D [104]", "ResNet101", "IN-1K", "128", "359×10×3", 62, 77.3, 93.3),
    ("TAdaConvNeXt-T [45]", "ConvNeXt-T", "", "32", "94×3×4", 38, 79.1, 93.7),
    ("TANet/TAM [61]", "ResNet152", "", "16", "242×4×3", 59, 79.3, 94.1),
    ("TDN En [99]", "ResNet101×2", "", "8+16", "198×10×3", 88, 79.4, 94.4),
    ("Video Swin [60]", "Swin-B", "", "32", "282×4×3", 88, 80.6, 94.6),
    ("TimeSformer [9]", "ViT-B", "IN-21K", "8", "196×1×3", 121, 78.3, 93.7),
    ("TimeSformer [9]", "ViT-L", "", "96", "8353×1×3", 430, 80.7, 94.7),
    ("ViViT FE [5]", "ViT-L", "", "128", "3980×1×3", None, 81.7, 93.8),
    ("Motionformer [75]", "ViT-B", "", "16", "370×10×3", 109, 79.7, 94.2),
    ("Motionformer [75]", "ViT-L", "", "32", "1185×10×3", 382, 80.2, 94.8),
    ("Video Swin [60]", "Swin-L", "", "32", "604×4×3", 197, 83.1, 95.9),
    ("ViViT FE [5]", "ViT-L", "JFT-300M", "128", "3980×1×3", None, 83.5, 94.3),
    ("ViViT [5]", "ViT-H", "", "32", "3981×4×3", None, 84.9, 95.8),
    ("ip-CSN [92]", "ResNet152", "", "32", "109×10×3", 33, 77.8, 92.8),
    ("SlowFast [23]", "R101+NL", "", "16+64", "234×10×3", 60, 79.8, 93.9),
    ("MViTv1 [22]", "MViTv1-B", "", "32", "170×5×1", 37, 80.2, 94.4),
    ("CrossVideoMAE (Ours, self-supervised)", "ViT-B", "1N-1K [sic]", "16", "180×7×3", "87 (Shared)", 83.2, 95.6)],
    "Supp Table 7 (vs supervised methods, K400)")

_BOOK_ROWS = (("start", "VideoMAE (the baselines' checkpoint; the start)"),
              ("control", "VideoMAE continued, same steps (control)"),
              ("cvm", "CrossVideoMAE (continued from MAE + VideoMAE)"))


def _book_label(name: str, P) -> str:
    return f"{dict(_BOOK_ROWS)[name]} — this book, SynthAV, {P.name} profile"


def sota_table(paper_rows: list[dict], frame: pd.DataFrame, runs: ChapterRuns, protocol: str,
               metric: str) -> pd.DataFrame:
    """A comparison table: the paper's rows as printed, then this book's measured rows (the start
    checkpoint, the control and CrossVideoMAE) with SynthAV columns ``SynthAV motion (SSv2-like) …``
    in ``protocol`` (mean ± sd (seeds)); the paper's columns are blank for this book's rows and the
    reverse."""
    t = pd.DataFrame(paper_rows)
    name_col = t.columns[0]
    cols = {task: f"SynthAV {task} ({TASK_NAMES[task]}-like) {metric}" for task in TASKS}
    for c in cols.values():
        t[c] = ""
    book = []
    for name, _ in _BOOK_ROWS:
        r = {name_col: _book_label(name, runs.P), "source": f"this book ({protocol}, {runs.P.name})"}
        for task, c in cols.items():
            r[c] = (_sel(frame, name, task, protocol) if name in runs.runs or name == "start" else "not run")
        book.append(r)
    return pd.concat([t, pd.DataFrame(book)], ignore_index=True)


def supervised_table(paper_rows: list[dict], ft: pd.DataFrame, ceil: pd.DataFrame, runs: ChapterRuns,
                     task: str) -> pd.DataFrame:
    """Supp Tabs. 6 / 7 (vs supervised): the paper's rows, then on SynthAV ``task`` the supervised
    encoder trained from scratch on every label (the baselines' ceiling) and the few-label fine-tune of
    the start, the control and CrossVideoMAE."""
    t = pd.DataFrame(paper_rows)
    col = f"SynthAV {task} Acc@1"
    t[col] = ""
    c = ceil[ceil.task == task].accuracy
    book = [{"Method": f"supervised from scratch, all labels (the baselines' ceiling) — SynthAV, {runs.P.name}",
             col: f"{c.iloc[0]:.1f}" if len(c) else "not measured", "source": "this book"}]
    for name, _ in _BOOK_ROWS:
        book.append({"Method": _book_label(name, runs.P) + " (few-label fine-tune)",
                     col: _sel(ft, name, task, "finetune"), "source": "this book"})
    return pd.concat([t, pd.DataFrame(book)], ignore_index=True)


def retrieval_table(r1: pd.DataFrame, runs: ChapterRuns) -> pd.DataFrame:
    """Supp Tab. 8: the paper's rows, then this book's R@1 (mean ± sd over seeds) per SynthAV task."""
    t = pd.DataFrame(PAPER_TABLE_S8)
    cols = {task: f"SynthAV {task} ({TASK_NAMES[task]}-like) R@1" for task in TASKS}
    for c in cols.values():
        t[c] = ""
    book = []
    for name, label in (*_BOOK_ROWS, (RANDOM_INIT, "random init (same encoder)")):
        r = {"Method": f"{dict(_BOOK_ROWS).get(name, label)} — this book, SynthAV, {runs.P.name} profile",
             "source": "this book (1-NN, cosine)"}
        for task, c in cols.items():
            x = r1[(r1.arm == name) & (r1.task == task)].r1.to_numpy(float)
            r[c] = cell(x.mean() if len(x) else math.nan, x.std(ddof=1) if len(x) > 1 else math.nan, len(x))
        book.append(r)
    return pd.concat([t, pd.DataFrame(book)], ignore_index=True)


# ============================================================================== config tables S1-S4
def _flag(book, paper, reason: str = "") -> str:
    same = str(book).replace(" ", "") == str(paper).replace(" ", "")
    return "" if same else ("differs" + (f": {reason}" if reason else ""))


def _config_table(rows: list[tuple]) -> pd.DataFrame:
    return pd.DataFrame([dict(item=i, paper=p, library=b, flag=_flag(b, p, why)) for i, p, b, why in rows])


def table_s1(config: CrossVideoMAEConfig | None = None) -> pd.DataFrame:
    """Supp Tab. 1 from the library's paper-scale config (:meth:`CrossVideoMAEConfig.paper`)."""
    c = config or CrossVideoMAEConfig.paper()
    v, im = c.vit, c.image
    T, H, W = v.input_size
    grid_v = (T // v.tubelet, H // v.patch_size, W // v.patch_size)
    grid_i = (im.input_size[0] // im.patch_size, im.input_size[1] // im.patch_size)
    n_v, n_i = math.prod(grid_v), math.prod(grid_i)
    keep_v, keep_i = int(n_v * (1 - c.mask_ratio)), int(n_i * (1 - c.mask_ratio_image))
    pd_v = v.tubelet * v.patch_size ** 2 * v.in_chans
    return _config_table([
        ("video input", "3×16×224×224", f"{v.in_chans}×{T}×{H}×{W}", ""),
        ("image input", "3×224×224", f"{im.in_chans}×{im.input_size[0]}×{im.input_size[1]}", ""),
        ("video patch embedding (t×C×h×w), stride", "2×3×16×16, stride 2×16×16",
         f"{v.tubelet}×{v.in_chans}×{v.patch_size}×{v.patch_size}, stride {v.tubelet}×{v.patch_size}×{v.patch_size}", ""),
        ("image patch embedding", "3×16×16", f"{im.in_chans}×{im.patch_size}×{im.patch_size}", ""),
        ("video tokens (T×S)", "8×14×14 = 1568", f"{grid_v[0]}×{grid_v[1]}×{grid_v[2]} = {n_v}", ""),
        ("image tokens", "14×14 = 196", f"{grid_i[0]}×{grid_i[1]} = {n_i}", ""),
        ("video mask", "random, ρ (95 %)", f"{c.mask_type}, {c.mask_ratio:.0%}: {keep_v} visible", "visible count added"),
        ("image mask", "random, ρ (90 %)", f"random, {c.mask_ratio_image:.0%}: {keep_i} visible", "visible count added"),
        ("video encoder", "[MHA(768), MLP(3072)]×12", f"[MHA({v.dim}), MLP({int(v.dim * v.mlp_ratio)})]×{v.depth}", ""),
        ("image encoder", "[MHA(768), MLP(3072)]×12", f"[MHA({im.dim}), MLP({int(im.dim * im.mlp_ratio)})]×{im.depth}", ""),
        ("encoder heads", "not stated", f"{v.heads} (video), {im.heads} (image)", "ViT-B standard (spec §2.2, inferred)"),
        ("encoder embedding g_u / g_f", "MLP(384)", f"Linear({v.dim}→{v.decoder_dim}) / Linear({im.dim}→{v.decoder_dim})"
         if c.projector == "shared" else f"2-layer MLP → {v.decoder_dim}", "an MLP of unstated depth; one Linear (spec §9 item 3)"),
        ("video decoder", "[MHA(384), MLP(1536)]×4",
         f"[MHA({v.decoder_dim}), MLP({int(v.decoder_dim * v.mlp_ratio)})]×{v.decoder_depth}", ""),
        ("decoder heads", "not stated", f"{v.decoder_heads}", "VideoMAE-B's 6 (spec §2.2, inferred)"),
        ("decoder tokens", "384×8×[14×14×(1−ρ)] (as printed)", f"{v.decoder_dim}×{n_v} (all tokens)",
         "the decoder sees every token after the mask tokens are appended (spec §9 item 11)"),
        ("decoder embedding e_u", "MLP(1536)", f"Linear({v.decoder_dim}→{pd_v})", "an MLP of unstated depth; one Linear "
         "(MAE's decoder_pred, spec §9 item 3)"),
        ("reshape", "1536 → 3×2×16×16", f"{pd_v} → {v.in_chans}×{v.tubelet}×{v.patch_size}×{v.patch_size}", ""),
        ("image decoder", "— (none)", f"MAE decoder {im.decoder_dim}×{im.decoder_depth} (only for Supp Fig. 19)",
         "loaded with the MAE, not trained (image_recon_weight = 0; spec §9 item 14)"),
        ("positional encoding", "'standard' (not specified)", f"{v.pos_embed} (video), {im.pos_embed} (image)",
         "fixed sin-cos, as the VideoMAE / MAE checkpoints it starts from (spec §2.2)"),
        ("cls token", "not mentioned", f"video {v.cls_token}, image {im.cls_token}", "VideoMAE has none; MAE has one"),
    ])


def table_s2(config: CrossVideoMAEConfig | None = None) -> pd.DataFrame:
    """Supp Tab. 2 (pre-training) against the library's paper-scale profile (``paper``: optimizer
    settings of :class:`~maskedav.train.TrainConfig`) and the config's augmentation fields."""
    from maskedav.profiles import get_profile
    from maskedav.train import TrainConfig

    c = config or CrossVideoMAEConfig.paper()
    P = get_profile("paper")
    t = TrainConfig.from_profile(P.train)
    flip = lambda p: f"ρ = {p:g}"  # noqa: E731
    return _config_table([
        ("optimizer", "AdamW", "AdamW", ""),
        ("base learning rate", "1.5e-4", f"{P.train.lr:.1e}".replace("e-0", "e-"), ""),
        ("weight decay", "0.05", f"{t.weight_decay:g}", ""),
        ("optimizer momentum", "β1, β2 = 0.9, 0.95", f"β1, β2 = {t.betas[0]:g}, {t.betas[1]:g}", ""),
        ("learning rate schedule", "cosine decay", "cosine decay", ""),
        ("warmup epochs", "40", f"{P.train.warmup_steps} steps", "the library counts steps; the paper's epochs of an "
                                                              "unstated subset size cannot be converted"),
        ("batch size", "32 (× 8 GPUs)", f"{P.train.batch_size}", "per-GPU reading (spec §9 item 20)"),
        ("ShortSideScale (video)", "256px", "not applied", "SynthAV clips are generated at the model's size"),
        ("RandomResizedCrop scale (video view 2)", "[0.08, 1.0]", f"[{c.crop_scale[0]:g}, {c.crop_scale[1]:.1f}]", ""),
        ("RandomResizedCrop ratio", "[0.75, 1.33]", f"[{c.crop_ratio[0]:.2f}, {c.crop_ratio[1]:.2f}]", ""),
        ("interpolation (video / image)", "Bilinear / Bicubic", "Bilinear / Bilinear",
         "grid_sample has no bicubic resampling of a crop box in the library"),
        ("RandomHorizontalFlip (video)", "ρ = 0.5 (K400), ρ = 0 (SSv2)", flip(c.flip_prob),
         "the SSv2 setting; a flip would swap SynthAV motion's left / right classes"),
        ("RandomHorizontalFlip (image)", "ρ = 0.5", flip(c.frame_flip_prob), ""),
        ("RandomResizedCrop scale (image)", "[0.08, 1.0]", f"[{c.frame_crop_scale[0]:g}, {c.frame_crop_scale[1]:.1f}]", ""),
        ("colour jitter (video view 2)", "listed in §3.2, strength not given", f"{c.color_jitter:g}", "inferred strength"),
        ("Normalize", "yes", "yes" if c.normalize_input else "no", ""),
        ("τ / λ_c", "not given", f"{c.temperature:g} / {c.contrast_weight:g}", "spec §9 item 1 (inferred defaults)"),
        ("masking ratios (video / image)", "95 % / 90 %", f"{c.mask_ratio:.0%} / {c.mask_ratio_image:.0%}", ""),
    ])


def _finetune_settings(P) -> dict:
    return dict(steps=P.eval.finetune_steps, n=P.eval.finetune_train, batch=P.train.batch_size)


def table_s3() -> pd.DataFrame:
    """Supp Tab. 3 (end-to-end fine-tuning, SSv2 column) against the study layer's fine-tune protocol."""
    from maskedav.profiles import get_profile

    f = _finetune_settings(get_profile("cpu"))
    why = "the study layer's few-label fine-tune is a short, fixed protocol shared by every chapter"
    return _config_table([
        ("optimizer", "AdamW", "AdamW", ""),
        ("base learning rate (SSv2)", "1e-3", "the protocol's", why),
        ("weight decay", "0.05", "the protocol's", why),
        ("optimizer momentum", "β1 = 0.9, β2 = 0.999", "the protocol's", why),
        ("learning rate schedule", "cosine decay", "cosine decay", ""),
        ("warmup epochs", "5", "the protocol's", why),
        ("training length", "not given (UCF 100 / HMDB 50 epochs)", f"{f['steps']} steps on {f['n']:,} labelled clips (cpu)", why),
        ("RandAugment", "m9, mstd 0.5 (printed 'num_layers 0.5')", "none", "not implemented (Table 4)"),
        ("RandomErasing (SSv2)", "ρ = 0.25", "none", "not implemented (Table 4)"),
        ("mixup / cutmix", "0.8 / 1.0", "none", "not implemented (Table 4)"),
        ("label smoothing", "0.1", "none", why),
        ("drop path / dropout", "0.1 / 0.1", "0 / 0", why),
        ("layer-wise lr decay", "0.75", "none", why),
        ("RandomHorizontalFlip (SSv2)", "ρ = 0", "ρ = 0 (motion)", ""),
        ("test views", "2 clips × 3 crops (SSv2)", "1 × 1", "SynthAV clips are the model's size"),
    ])


def table_s4() -> pd.DataFrame:
    """Supp Tab. 4 (linear probing) against the study layer's probe."""
    from maskedav.profiles import get_profile

    P = get_profile("cpu")
    why = "the study layer's probe: logistic regression on frozen layout-pooled features, weight decay chosen on validation"
    return _config_table([
        ("optimizer", "SGD", "L-BFGS (logistic regression)", why),
        ("base learning rate", "0.1", "—", why),
        ("weight decay", "0", "swept {1e-4, 1e-3, 1e-2, 1e-1}", why),
        ("optimizer momentum", "0.9", "—", why),
        ("learning rate schedule", "cosine decay", "—", why),
        ("warmup epochs", "10", "0", why),
        ("training epochs", "100", f"{P.eval.probe_epochs} (cpu)", why),
        ("augmentation", "MultiScaleCrop", "none", why),
        ("feature", "pooled encoder output (inferred)", f"readout '{P.eval.readout}' of the final-norm tokens", ""),
    ])


# ======================================================================================== claims
def claims(P=None) -> list[Claim]:
    """The paper's claims as comparisons on this book's data, fixed before the runs (spec §10.4): the
    linear probe on ``motion`` (SSv2 analogue) through the video encoder, paired by seed; Table 2's
    image-side claim on ``appearance`` through the image encoder."""
    from maskedav.profiles import get_profile

    P = P or get_profile("cpu")
    t, pr = CLAIM_TASK, CLAIM_PROTOCOL
    d = {k: depth_arm(P, k) for k in DECODER_DEPTHS}
    return [
        Claim("X1", "table2", "CrossVideoMAE beats plain VideoMAE continued for the same steps (matched-steps "
              "control; the spec's control, not in the paper)", "SSv2 70.0 → 73.7 (vs the start)", "cvm", "control", t, pr),
        Claim("X2", "table2", "CrossVideoMAE beats the video MAE it starts from", "SSv2 70.0 → 73.7", "cvm", "start", t, pr),
        Claim("X3", "table2", "the image encoder stays within 2 points of the image MAE it starts from "
              "(the image-side gain is small)", "IN-1K 83.60 → 83.62", "cvm@image", "mae_start@image", IMAGE_TASK, pr,
              "not_less", 2.0),
        Claim("X4", "table6", "removing cross-modal contrast hurts", "-0.7", "cvm", "no_cross", t, pr),
        Claim("X5", "table6", "removing intra-modal contrast hurts", "-0.5", "cvm", "no_intra", t, pr),
        Claim("X6", "table6", "removing both contrastive terms hurts", "-1.2 (Supp Tab. 12); 73.70 vs 70.94 (Tab. 6)",
              "cvm", "no_contrast", t, pr),
        Claim("X7", "table6", "removing cross-modal contrast hurts more than removing intra-modal contrast",
              "-0.7 vs -0.5", "no_intra", "no_cross", t, pr),
        Claim("X8", "table6", "removing frame-level contrast hurts", "-0.3", "cvm", "no_frame", t, pr),
        Claim("X9", "table6", "removing video-level contrast hurts", "-0.4", "cvm", "no_video", t, pr),
        Claim("X10", "table5", "video masking 95 % beats 90 % (image 90 %)", "73.7 vs 73.5", "cvm", "m90_90", t, pr),
        Claim("X11", "table5", "image masking 90 % beats 75 % (video 95 %)", "73.7 vs 73.4", "cvm", "m75_95", t, pr),
        Claim("X12", "table5", "video masking 95 % beats 75 % (image 90 %)", "73.7 vs 72.6", "cvm", "m90_75", t, pr),
        Claim("X13", "tableS13", "corresponding frames beat unrelated images in the image branch", "73.7 vs 70.8",
              "cvm", "unrelated", t, pr),
        Claim("X14", "tableS10", "random video masking beats tube masking", "73.7 vs 73.4", "cvm", "mask_tube", t, pr),
        Claim("X15", "tableS10", "random video masking beats frame masking", "73.7 vs 72.7", "cvm", "mask_frame", t, pr),
        Claim("X16", "tableS9", "a random sampled frame beats the middle frame", "73.7 vs 73.3", "cvm", "sel_middle", t, pr),
        Claim("X17", "tableS9", "a random sampled frame beats the first frame", "73.7 vs 73.0", "cvm", "sel_first", t, pr),
        Claim("X18", "table3", "one sampled frame is within 2 points of five (n = 1 vs n = 5)", "73.7 vs 73.1",
              "cvm", "n5", t, pr, "not_less", 2.0),
        Claim("X19", "tableS11", "decoder depth 4 beats depth 8", "73.70 vs 71.63", d[4], d[8], t, pr),
        Claim("X20", "tableS11", "decoder depth 4 beats depth 1", "73.70 vs 72.52", d[4], d[1], t, pr),
        Claim("X21", "tableS5", "CrossVideoMAE's frozen features beat the video MAE's it starts from (kNN, motion)",
              "SSv2 linear 23.1 (VideoMAE) → 31.2",
              "cvm", "start", t, "knn"),
        Claim("X22", "table7", "CrossVideoMAE beats the matched-steps control on the appearance (K400-like) task",
              "K400 fine-tune 83.2 (vs ST-MAE 81.3)", "cvm", "control", "appearance", pr),
    ]


def decide_claims(frame: pd.DataFrame, runs: ChapterRuns):
    """Verdicts of the claims whose arms ran at this profile (the study layer's rule: paired by seed,
    test-set floor, untestable when an arm fails the learning gate); the others are listed as not run."""
    from maskedav.study import decide, gate

    have = set(frame.arm)
    cs = [c for c in claims(runs.P) if c.a in have and c.b in have]
    return cs, decide(frame, cs, gate(frame))


def token_budget(P) -> pd.DataFrame:
    """Visible tokens per view at each masking ratio at ``P`` and the chance that the sampled frame's
    time slice holds none (the frame-level pooling's fallback, spec §4.1 / §10.2)."""
    c = CrossVideoMAEConfig.from_profile(P)
    T = c.vit.input_size[0] // c.vit.tubelet
    n_v = CrossVideoMAE(c).num_patches
    n_i = (c.image.input_size[0] // c.image.patch_size) ** 2
    rows = []
    for r in (0.75, 0.9, 0.95):
        keep = int(n_v * (1 - r))
        per = n_v // T
        p_empty = math.comb(n_v - per, keep) / math.comb(n_v, keep) if keep <= n_v - per else 0.0
        rows.append(dict(branch="video", ratio=r, tokens=n_v, visible=keep, time_slices=T, p_slice_empty=p_empty))
    for r in (0.75, 0.9):
        rows.append(dict(branch="image", ratio=r, tokens=n_i, visible=int(n_i * (1 - r)), time_slices=np.nan,
                         p_slice_empty=np.nan))
    return pd.DataFrame(rows)


def geometry_note(P, other: str = "gpu") -> str:
    """The paper's ratios (95 % video tube mask, 90 % image mask) at ``P`` and at the ``other`` profile,
    from :func:`token_budget`: visible tokens and the chance of an empty sampled-frame time slice."""
    from maskedav.profiles import get_profile

    def at(Q):
        t = token_budget(Q).set_index(["branch", "ratio"])
        v, i = t.loc[("video", 0.95)], t.loc[("image", 0.9)]
        c = CrossVideoMAEConfig.from_profile(Q)
        size, frames = c.image.input_size[0], c.vit.input_size[0]
        return (f"`{Q.name}` ({size}² × {frames} frames): 95 % leaves {int(v.visible)} of {int(v.tokens)} "
                f"video tokens ({v.p_slice_empty * 100:.0f} % of sampled frames' time slices empty) and 90 % leaves "
                f"{int(i.visible)} of {int(i.tokens)} image patches")

    return f"At {at(P)}; at {at(get_profile(other))}." if P.name != other else f"At {at(P)}."
