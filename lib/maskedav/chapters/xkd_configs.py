"""XKD's configuration tables (Supplementary Tables S7-S12) generated from the library, and Fig. 1 drawn from the
implemented model.

Every table has the columns ``item, paper, library, flag`` (:func:`maskedav.chapters.crossvideomae._config_table`):
``paper`` is the value the paper prints (transcribed; a printed "n/a" is written "not applied", the tables' own
legend), ``library`` is read from the library's paper-scale objects -- :meth:`XKDConfig.paper`, the ``paper``
profile, the models built from them and the study layer's fine-tuning protocol -- and ``flag`` says "differs"
(with the reason, when the difference is deliberate) wherever the two strings differ. A change of the library
therefore shows up as a flag. Where the library has no such setting (the augmentations of Tables S7-S8: the book's
data pipeline applies none, see :mod:`maskedav.methods.xkd`, "Deviations"), the library column says so.

Fig. 1 (:func:`fig1_figure`) is a traced forward pass of :class:`~maskedav.methods.xkd.XKD`: the modules it calls
(encoders, decoders, heads) are hooked directly; the functions it calls (:func:`~maskedav.methods.xkd.encode_view`
on the local and teacher views, the CLS attention, the cross-modal attention, refine, the losses) are hooked by
standing a recording module in for each of them in :mod:`maskedav.methods.xkd` for the duration of that one pass.
"""
from __future__ import annotations

from contextlib import contextmanager

import pandas as pd

from maskedav.chapters.crossvideomae import _config_table
from maskedav.methods.xkd import XKDConfig

__all__ = ["table_s7", "table_s8", "table_s9", "table_s10", "table_s11", "table_s12", "sharing_matrix",
           "finetune_protocol", "architecture_trace", "fig1_figure", "SHARING_PARTS"]

NOT_APPLIED = "not applied"
_NO_AUG = "the book's data pipeline applies no augmentation, for any method (methods/xkd.py, Deviations)"
_NO_EVAL_AUG = "the study layer's probe and kNN read frozen features of the clips as they are"


def _g(x) -> str:
    return f"{x:g}"


# ============================================================================== Tables S7-S8 (augmentations)
def table_s7(config: XKDConfig | None = None) -> pd.DataFrame:
    """Supp Table S7 (visual augmentations of the global view, the local view and the linear evaluation) against
    the library: only the local view's crop has a counterpart (``local_space`` / ``local_time`` of
    :class:`XKDConfig`, a plain random crop); nothing else is applied."""
    c = config or XKDConfig.paper()
    (t, h, w), _ = c.local_sizes
    T, H, W = c.video.input_size
    local = (f"fixed {h}×{w} crop of {H}×{W} (area {h * w / (H * W):.2f}), {t} of {T} frames, random position, "
             "no resize")
    why_local = ("the local view is a plain random crop of local_space of the side (methods/xkd.py, Deviations); "
                 "the code's RandomResizedCrop(96, scale [0.08, 0.4]) is not implemented")
    rows = [("Multi-Scale Crop: crop scale (global view)", "[0.2, 1]", f"{NOT_APPLIED} (the whole clip)", _NO_AUG),
            ("Multi-Scale Crop: crop scale (local view)", "[0.08, 0.4]", local, why_local),
            ("Multi-Scale Crop: crop scale (linear eval.)", "[0.08, 1]", NOT_APPLIED, _NO_EVAL_AUG)]
    printed = (("Horizontal Flip: probability", ("0.5", "0.5", "0.5")),
               ("Color Jitter: brightness", ("0.4", "0.4", "0.4")),
               ("Color Jitter: contrast", ("0.4", "0.4", "0.4")),
               ("Color Jitter: saturation", ("0.4", "0.4", "0.4")),
               ("Color Jitter: hue", ("0.2", "0.2", "0.2")),
               ("Gray Scale: probability", (NOT_APPLIED, "0.2", "0.2")),
               ("Gaussian Blur: probability", (NOT_APPLIED, "0.5", NOT_APPLIED)))
    for name, values in printed:
        for view, paper, why in zip(("global view", "local view", "linear eval."), values,
                                    (_NO_AUG, _NO_AUG, _NO_EVAL_AUG)):
            rows.append((f"{name} ({view})", paper, NOT_APPLIED, why))
    return _config_table(rows)


def table_s8(config: XKDConfig | None = None) -> pd.DataFrame:
    """Supp Table S8 (audio augmentations) against the library: the local view is a random segment of
    ``local_time`` of the fbank (:class:`XKDConfig`), without BYOL-A's resize-crop; no volume jitter."""
    c = config or XKDConfig.paper()
    _, ta = c.local_sizes
    frames = c.audio.input_size[0]
    byol = ("BYOL-A's RandomResizeCrop (freq / time scale [0.6, 1.5] on a 1.5× canvas) is not implemented: the "
            "local view is a plain time crop (methods/xkd.py, Deviations)")
    rows = []
    for view, paper, why in (("global view", "± 0.1", _NO_AUG), ("local view", "± 0.2", _NO_AUG),
                             ("linear eval.", "± 0.1", _NO_EVAL_AUG)):
        rows.append((f"Volume Jitter: scale ({view})", paper, NOT_APPLIED, why))
    rows += [("Random Crop: range (global view)", NOT_APPLIED, NOT_APPLIED, ""),
             ("Random Crop: range (local view)", "[0.6, 1.5]",
              f"{NOT_APPLIED} (the local view: a random {ta}-frame segment of the {frames}-frame fbank, no resize)",
              byol),
             ("Random Crop: range (linear eval.)", NOT_APPLIED, NOT_APPLIED, ""),
             ("Random Crop: crop scale (global view)", NOT_APPLIED, NOT_APPLIED, ""),
             ("Random Crop: crop scale (local view)", "[1, 1.5]", NOT_APPLIED, byol),
             ("Random Crop: crop scale (linear eval.)", NOT_APPLIED, NOT_APPLIED, "")]
    return _config_table(rows)


# ============================================================================== Table S9 (sharing)
#: Table S9 as printed: variant -> (input projection, teacher, student, decoder); S = shared, NS = not shared.
TABLE_S9 = {"mas": ("NS", "NS", "S", "NS"), "mats": ("NS", "S", "S", "NS"), "mat": ("NS", "S", "NS", "NS"),
            "none": ("NS", "NS", "NS", "NS")}
VARIANT_NAMES = {"mas": "XKD-MAS", "mats": "XKD-MATS", "mat": "XKD-MAT", "none": "XKD"}
_CODE = "code, spec §2.6; not in Table S9"
#: The parts compared: (label, Table S9 column index or None, getter of (video, audio) pairs).
SHARING_PARTS = (
    ("input projection (patch embeddings, students and teachers)", 0,
     lambda m: [(m.encoders(x, t)[0].patch_embed for x in ("video", "audio")) for t in (False, True)]),
    ("teacher transformer blocks", 1, lambda m: [(m.encoders(x, True)[0].blocks for x in ("video", "audio"))]),
    ("student transformer blocks", 2, lambda m: [(m.encoders(x)[0].blocks for x in ("video", "audio"))]),
    ("decoders", 3, lambda m: [(m.video_decoder, m.audio_decoder)]),
    ("positional embeddings, students and teachers", None,
     lambda m: [(m.encoders(x, t)[0].pos_embed for x in ("video", "audio")) for t in (False, True)]),
    ("cls tokens, students and teachers", None,
     lambda m: [(m.encoders(x, t)[0].cls_token for x in ("video", "audio")) for t in (False, True)]),
    ("final encoder norms, students and teachers", None,
     lambda m: [(m.encoders(x, t)[0].norm for x in ("video", "audio")) for t in (False, True)]),
    ("projector heads, students and teachers", None,
     lambda m: [(m.encoders(x, t)[1] for x in ("video", "audio")) for t in (False, True)]),
)


def _shared(a, b) -> str:
    """``"S"`` when the video and audio objects are the same parameters, ``"NS"`` when they share none,
    ``"partly"`` otherwise (parameters compared by identity; parameter-free modules by object)."""
    import torch

    if a is None or b is None:
        return "S" if a is b else "NS"
    if isinstance(a, torch.Tensor):
        return "S" if a is b else "NS"
    ia, ib = {id(p) for p in a.parameters()}, {id(p) for p in b.parameters()}
    if not ia and not ib:
        return "S" if a is b else "NS"
    common = ia & ib
    return "S" if common == ia == ib else ("NS" if not common else "partly")


def sharing_matrix(profile="smoke") -> dict[str, dict[str, str]]:
    """``{sharing: {part: "S" | "NS" | "partly"}}`` of :class:`~maskedav.methods.xkd.XKD` built at ``profile`` for
    each of ``XKDConfig.sharing``'s values (a part with a video and a teacher pair is "S" only when both are)."""
    import torch

    from maskedav.methods.xkd import SHARING, XKD

    out = {}
    for s in SHARING:
        torch.manual_seed(0)
        m = XKD(XKDConfig.from_profile(profile, sharing=s))
        row = {}
        for label, _, pairs in SHARING_PARTS:
            found = {_shared(a, b) for a, b in (tuple(p) for p in pairs(m))}
            row[label] = found.pop() if len(found) == 1 else "partly"
        out[s] = row
    return out


def table_s9(profile="smoke") -> pd.DataFrame:
    """Supp Table S9 (parameter sharing between audio and video in the modality-agnostic variants) generated from
    the models: :class:`~maskedav.methods.xkd.XKD` built at ``profile`` with ``sharing`` = none / mas / mats /
    mat, each part's video and audio modules compared by identity. The parts the table does not list (positions,
    cls, final norm, heads) are compared with the released code (spec §2.6: all per modality)."""
    matrix = sharing_matrix(profile)
    rows = []
    for s in ("mas", "mats", "mat", "none"):
        for label, col, _ in SHARING_PARTS:
            paper = TABLE_S9[s][col] if col is not None else "NS"
            item = f"{VARIANT_NAMES[s]}: {label}" + ("" if col is not None else f" ({_CODE})")
            rows.append((item, paper, matrix[s][label], ""))
    return _config_table(rows)


# ============================================================================== Table S10 (network)
_VIT_NAMES = {"s": "ViT-Small", "b": "ViT-Base", "l": "ViT-Large", "h": "ViT-Huge"}


def _vit_name(v) -> str:
    from maskedav.configs import VIT_SIZES

    return next((_VIT_NAMES[k] for k, size in VIT_SIZES.items() if size == (v.dim, v.depth, v.heads)), "ViT")


def _both(c: XKDConfig, fn) -> str:
    """``fn(video)`` when it equals ``fn(audio)``, else both."""
    v, a = fn(c.video), fn(c.audio)
    return v if v == a else f"video: {v}; audio: {a}"


def _encoder_millions(v) -> float:
    import torch

    from maskedav.counting import count_parameters
    from maskedav.nn import ViTEncoder

    with torch.device("meta"):
        return count_parameters(ViTEncoder.from_config(v)) / 1e6


def table_s10(config: XKDConfig | None = None) -> pd.DataFrame:
    """Supp Table S10 (network parameters in pre-training) from :meth:`XKDConfig.paper` (or ``config``): the
    views' sizes (``local_sizes``), the two ViTs, their decoders and the projector; parameter counts of the
    encoders built on the meta device."""
    c = config or XKDConfig.paper()
    v, a = c.video, c.audio
    T, H, W = v.input_size
    (t, h, w), ta = c.local_sizes
    res = lambda n, y, x: f"{n} × {y}²" if y == x else f"{n} × {y} × {x}"  # noqa: E731
    frames, mels = a.input_size
    p_time, p_freq = a.patch
    pv, pa = _encoder_millions(v), _encoder_millions(a)
    rounding = ("rounding: the printed 87M truncates the video encoder's exact count (learned positions and cls "
                "included); the audio encoder's beside it" if abs(pv / 87 - 1) < 0.01 else "")
    norm = {"all": "on every layer", "last": "last layer only", "none": "none"}[c.proj_norm]
    return _config_table([
        ("Video Input Resolution (global)", "32 × 112²", res(T, H, W), ""),
        ("Video Input Resolution (local)", "8 × 96²", res(t, h, w), ""),
        ("Video Patch Size", "4 × 16²", res(v.tubelet, *v.patch), ""),
        ("Audio Input Resolution (global; mel × time)", "80 × 448", f"{mels} × {frames}", ""),
        ("Audio Input Resolution (local; mel × time)", "80 × 112", f"{mels} × {ta}", ""),
        ("Audio Patch Size (mel × time)", "4 × 16", f"{p_freq} × {p_time}", ""),
        ("Backbone/Encoder", "ViT-Base embed dim:768 depth:12 num heads:12",
         _both(c, lambda x: f"{_vit_name(x)} embed dim:{x.dim} depth:{x.depth} num heads:{x.heads}"), ""),
        ("Backbone/Encoder parameters (printed 'ViT-Base (87M)')", "87M",
         f"{pv:.2f}M (video), {pa:.2f}M (audio)", rounding),
        ("Decoder", "Transformer embed dim:384 depth:4 num heads:12",
         _both(c, lambda x: f"Transformer embed dim:{x.decoder_dim} depth:{x.decoder_depth} "
                            f"num heads:{x.decoder_heads}"), ""),
        ("Projector", "MLP out dim: 8192 bottleneck dim: 256 hidden dim: 2048 num layers: 3",
         f"MLP out dim: {c.proj_out} bottleneck dim: {c.proj_bottleneck} hidden dim: {c.proj_hidden} "
         f"num layers: {c.proj_layers}", ""),
        ("Projector normalisation (Sec. 4.5, Table 10; not in Table S10)", "on every layer", norm, ""),
    ])


# ============================================================================== Table S11 (pre-training)
def _optimizer_name(betas=(0.9, 0.95)) -> str:
    """The class of the optimiser the train engine builds (:func:`maskedav.train.optim.make_optimizer`)."""
    import torch

    from maskedav.train.optim import make_optimizer

    return type(make_optimizer([{"params": [torch.zeros(1, requires_grad=True)]}], 1e-3, betas)).__name__


def _warmup_start(steps: int) -> str:
    """The learning rate a warm-up of ``steps`` steps starts from, relative to the base (the engine's
    :func:`~maskedav.train.optim.cosine_lr` extrapolated to the step before the first): ``"0"`` for a linear ramp."""
    from maskedav.train.optim import cosine_lr

    return _g(cosine_lr(-1, 1.0, steps + 1, steps)) if steps > 0 else "no warm-up"


def table_s11(config: XKDConfig | None = None) -> pd.DataFrame:
    """Supp Table S11 (Kinetics400 pre-training) from :meth:`XKDConfig.paper` (or ``config``) and the ``paper``
    profile's optimisation (:class:`~maskedav.train.TrainConfig` as the study layer builds it for a run)."""
    from maskedav.profiles import get_profile
    from maskedav.teachers import cosine_momentum
    from maskedav.train import TrainConfig

    c = config or XKDConfig.paper()
    P = get_profile("paper")
    t = TrainConfig.from_profile(P.train)
    shared = "the `paper` profile's {} is shared by every chapter, not XKD's own"
    steps_why = "the library counts optimisation steps; the `paper` profile sets no run length (0 steps)"
    warm_why = "the library counts optimisation steps; the `paper` profile sets no warm-up"
    ema_why = ("the cosine runs over ema_total_steps, which the paper-scale config leaves at 0 (no run length); "
               "each chapter arm sets it to its step count")
    cosine = c.ema_total_steps > 0
    ema_final = cosine_momentum(c.ema_total_steps, c.ema_total_steps, c.ema_momentum) if cosine else c.ema_momentum
    warm = c.teacher_temp_warmup
    return _config_table([
        ("Epochs", "800", f"{t.steps} steps", steps_why),
        ("Batch Size", "256", f"{P.train.batch_size}", shared.format("batch size")),
        ("Optimizer", "AdamW", _optimizer_name(t.betas), ""),
        ("Optimizer Betas", "[0.9, 0.95]", f"[{_g(t.betas[0])}, {_g(t.betas[1])}]", ""),
        ("LR Scheduler", "Cosine", "Cosine", ""),   # the engine's only schedule (maskedav.train.optim.cosine_lr)
        ("LR Warm-up Epochs", "30", f"{t.warmup_steps} steps", warm_why),
        ("LR Warm-up (start value)", "0", _warmup_start(t.warmup_steps), warm_why),
        ("LR Base", "0.0001", _g(t.lr), shared.format("learning rate (MAE / VideoMAE's 1.5e-4)")),
        ("LR Final", "0", _g(t.min_lr), ""),
        ("Weight Decay", "0.3", _g(t.weight_decay),
         "the study layer trains every method with TrainConfig's default weight decay"),
        ("EMA Scheduler", "Cosine", "Cosine" if cosine else "constant (ema_total_steps = 0)", ema_why),
        ("EMA Base", "0.997", _g(c.ema_momentum), ""),
        ("EMA Final", "1", _g(ema_final), ema_why),
        ("Video Mask Ratio (printed '0.85%', a typo for 85 %)", "0.85", f"{c.mask_ratio_v:.2f}", ""),
        ("Audio Mask Ratio (printed '0.80%', a typo for 80 %)", "0.80", f"{c.mask_ratio_a:.2f}", ""),
        ("Video Student Temp.", "0.1", _g(c.student_temp), ""),
        ("Audio Student Temp.", "0.1", _g(c.student_temp), ""),
        ("Video Teacher Temp.", "0.1", _g(c.teacher_temp_v), ""),
        ("Audio Teacher Temp.", "0.07", _g(c.teacher_temp_a), ""),
        ("Teacher Temp. warm-up (Sec. 4.5 text; not in Table S11)", "0.04 → 0.06 (both teachers)",
         "none (constant)" if warm is None else f"{_g(warm[0])} → {_g(c.teacher_temp_v)} (video), "
                                                  f"{_g(warm[1])} → {_g(c.teacher_temp_a)} (audio)",
         "Table S11 and the code's constant temperatures are the default (spec §9.3); teacher_temp_warmup sets it"),
        ("Center Momentum", "0.9", _g(c.center_momentum), ""),
        ("Loss weights λ_ae, λ_da, λ_kd (Eq. 12; not in Table S11)", "5, 1, 1",
         f"{_g(c.ae_weight)}, {_g(c.da_weight)}, {_g(c.kd_weight)}", ""),
        ("Gradient clipping (not in Table S11)", "not stated",
         "none" if not c.student_grad_clip else f"{_g(c.student_grad_clip)} per tensor, students only",
         "the released code's DINO-style clipping (spec §5.1)"),
    ])


# ============================================================================== Table S12 (fine-tuning)
class _Captured(Exception):
    pass


def finetune_protocol(profile="paper") -> dict:
    """The study layer's fine-tuning protocol at ``profile`` as it runs:
    :func:`maskedav.study.evaluate.evaluate_encoder` called as the study layer calls it (``finetune_steps`` of the
    profile, its batch size, the per-task augmentation), on a smoke-size XKD and four random clips, stopped where it
    hands its model and :class:`~maskedav.train.TrainConfig` to the train engine. Returns ``{config, model, param_groups,
    batch_size, finetune_train, augmented_tasks}``."""
    from unittest import mock

    import torch

    import maskedav.train as train_pkg
    from maskedav.methods.xkd import XKD
    from maskedav.profiles import get_profile
    from maskedav.study.evaluate import EvalData, evaluate_encoder
    from maskedav.study.runs import _augment

    P = get_profile(profile) if isinstance(profile, str) else profile
    torch.manual_seed(0)
    method = XKD(XKDConfig.from_profile("smoke"))
    v, a = method.config.video, method.config.audio
    split = {"video": torch.rand(4, 3, *v.input_size), "fbank": torch.randn(4, *a.input_size),
             "labels": {"appearance": torch.tensor([0, 1, 0, 1])}}
    data = EvalData(train=split, val=split, test=split, keys=("fbank", "video"), num_classes={"appearance": 2},
                    probe_train=4, finetune_train=P.eval.finetune_train)
    seen = {}

    def stop(model, batch_fn, cfg, **kwargs):
        seen.update(model=model, config=cfg, param_groups=kwargs.get("param_groups"))
        raise _Captured

    with mock.patch.object(train_pkg, "train", stop):
        try:
            evaluate_encoder(method, data, ["appearance"], ("finetune",), finetune_steps=P.eval.finetune_steps,
                             batch_size=P.train.batch_size, seed=0, augment=_augment(P))
        except _Captured:
            pass
    if "config" not in seen:
        raise RuntimeError("the fine-tuning protocol did not reach the train engine")
    return dict(seen, batch_size=P.train.batch_size, finetune_train=P.eval.finetune_train,
                augmented_tasks=tuple(_augment(P)))


def table_s12() -> pd.DataFrame:
    """Supp Table S12 (Kinetics400 fine-tuning) against the study layer's few-label fine-tuning protocol at the
    ``paper`` profile (:func:`finetune_protocol`), where it has a counterpart; RandAugment, MixUp and CutMix are
    not implemented. XKD's chapter fine-tunes the video student of :data:`maskedav.chapters.xkd.FINETUNE_ARMS`
    by this protocol (Table 5)."""
    from torch import nn

    from maskedav.chapters import xkd as chapter

    f = finetune_protocol("paper")
    cfg, model = f["config"], f["model"]
    why = "the study layer's few-label fine-tune: one short protocol shared by every chapter"
    not_impl = "not implemented: the study layer's protocol has no RandAugment / MixUp / CutMix (spec §9.20)"
    scales = sorted({g.get("lr_scale", 1.0) for g in f["param_groups"]})
    head_dropout = max([m.p for name, m in model.named_modules() if isinstance(m, nn.Dropout)
                        and not name.startswith("encoder.")] or [0.0])
    drop_path = XKDConfig.paper().video.drop_path      # the protocol keeps the pre-trained encoder's
    return _config_table([
        ("fine-tuning run by this chapter (Table 5)", "yes", "yes" if chapter.FINETUNE_ARMS else "no",
         "" if chapter.FINETUNE_ARMS else "the chapter reads its encoders by linear probe and kNN only"),
        ("Epochs", "100", f"{cfg.steps} steps on {f['finetune_train']:,} labelled clips", why),
        ("Batch Size", "96", f"{f['batch_size']}", why),
        ("Optimizer", "AdamW", _optimizer_name(cfg.betas), ""),
        ("Optimizer Betas", "[0.9, 0.999]", f"[{_g(cfg.betas[0])}, {_g(cfg.betas[1])}]", ""),
        ("LR Scheduler", "Cosine", "Cosine", ""),
        ("LR Warm-up Epochs", "30", f"{cfg.warmup_steps} steps", why),
        ("LR Warm-up (start value)", "0", _warmup_start(cfg.warmup_steps), ""),
        ("LR Base", "0.0005", _g(cfg.lr), why),
        ("LR Final", "1.0e-06", _g(cfg.min_lr), why),
        ("Weight Decay", "0.05", _g(cfg.weight_decay), ""),
        ("RandAug (magnitude, std: '.05' read as 0.5, spec §9.20)", "(9, .05)", "not implemented", not_impl),
        ("Label Smoothing", "0.1", _g(model.label_smoothing), ""),
        ("MixUp", "0.6", "not implemented", not_impl),
        ("CutMix", "0.5", "not implemented", not_impl),
        ("Drop Path", "0", _g(drop_path), ""),
        ("Dropout (before the classifier)", "0.5", _g(head_dropout), why),
        ("Layer-wise LR Decay", "0.45", "none" if scales == [1.0] else ", ".join(_g(s) for s in scales), why),
    ])


# ============================================================================== Fig. 1 (diagram)
#: The functions of :mod:`maskedav.methods.xkd` that Fig. 1 records, by name.
PROBED = ("masked_mse", "encode_view", "cls_attention", "cross_modal_attention", "refine", "dino_distillation",
          "mmd_multi_kernel")
GROUPS = ("autoencoders", "students", "EMA teachers", "domain alignment", "cross-modal KD")


def _probe_class():
    import torch

    class Call(torch.nn.Module):
        """Stands in for a function of :mod:`maskedav.methods.xkd` during a trace: calling it calls the function,
        so a forward hook sees the call; ``owner`` (a module whose parameters the call uses) is counted."""

        def __init__(self, fn, owner=None):
            super().__init__()
            object.__setattr__(self, "fn", fn)
            if owner is not None:
                self.owner = owner

        def forward(self, *args, **kwargs):
            return self.fn(*args, **kwargs)

    return Call


def _labels(model) -> dict:
    """Fig. 1's boxes: ``{key: (label, group)}`` (labels without dots: they name modules)."""
    c = model.config
    (t, h, w), ta = c.local_sizes
    n = c.num_local_views
    views = f"{n} local view{'s' if n > 1 else ''}"
    target = "raw-value" if c.norm_pix is None else "norm-pix"
    out = {}
    for m, x in (("video", "v"), ("audio", "a")):
        local = f"{t}×{h}×{w}" if m == "video" else f"{ta} frames"
        ratio = c.mask_ratio_v if m == "video" else c.mask_ratio_a
        out |= {
            f"{m}_encoder": (f"{m} encoder θ_e^{x} on the global view, {ratio:.0%} masked", "autoencoders"),
            f"{m}_decoder": (f"{m} decoder θ_d^{x} (mask tokens appended)", "autoencoders"),
            f"recon_{m}": (f"L_recon^{x}: {target} MSE on the masked patches (Eqs 1-2)", "autoencoders"),
            f"{m}_head": (f"{m} student head θ_h^{x} (pooled tokens of every view)", "students"),
            f"{m}_local": (f"{m} student θ_e^{x} on {views} ({local})", "students"),
            f"{m}_cls": (f"{m} teacher: CLS attention of its last block (Eq 3)", "domain alignment"),
            f"{m}_teacher": (f"{m} teacher θ_t^{x} (EMA): unmasked global view", "EMA teachers"),
            f"refine_{m}": (f"refine the {m} teacher's tokens by A^× (Eqs 5-6)", "domain alignment"),
            f"{m}_teacher_head": (f"{m} teacher head (refined tokens, mean-pooled)", "EMA teachers"),
        }
    out |= {
        "cross_attention": ("cross-modal attention A_v^×, A_a^× (Eq 4)", "domain alignment"),
        "kd_video": ("KD: video teacher → audio student (Eqs 10-11)", "cross-modal KD"),
        "kd_audio": ("KD: audio teacher → video student (Eqs 10-11)", "cross-modal KD"),
        "mmd_students": ("MMD between the video and audio students' outputs (Eqs 7-9)", "domain alignment"),
        "mmd_teachers": ("MMD between the teachers' outputs (no gradient: logged)", "domain alignment"),
        "mmd_cross": ("MMD teacher ↔ other modality's student (L_da^1)", "domain alignment"),
    }
    return out


def _parts(model, Call) -> tuple[dict, dict]:
    """``({key: module}, {key: original function})``: the model's own modules and a :class:`Call` per recorded
    function call (a function called for several roles gets one per role)."""
    import maskedav.methods.xkd as X

    originals = {name: getattr(X, name) for name in PROBED}
    mods = {}
    for m in ("video", "audio"):
        enc, head = model.encoders(m)
        tenc, thead = model.encoders(m, teacher=True)
        mods |= {f"{m}_encoder": enc, f"{m}_decoder": getattr(model, f"{m}_decoder"),
                 f"recon_{m}": Call(originals["masked_mse"]), f"{m}_head": head,
                 f"{m}_local": Call(originals["encode_view"], enc), f"{m}_cls": Call(originals["cls_attention"]),
                 f"{m}_teacher": Call(originals["encode_view"], tenc), f"refine_{m}": Call(originals["refine"]),
                 f"{m}_teacher_head": thead, f"kd_{m}": Call(originals["dino_distillation"])}
    mods["cross_attention"] = Call(originals["cross_modal_attention"])
    for k in ("mmd_students", "mmd_teachers", "mmd_cross"):
        mods[k] = Call(originals["mmd_multi_kernel"])
    return mods, originals


@contextmanager
def _recording(model, mods: dict, originals: dict):
    """Stand the :class:`Call` modules of ``mods`` in for :data:`PROBED` in :mod:`maskedav.methods.xkd` (each
    call dispatched to its role by the objects it receives), restored on exit."""
    import maskedav.methods.xkd as X

    roles = {}
    for m in ("video", "audio"):
        roles[id(model.encoders(m)[0])] = f"{m}_local"
        roles[id(model.encoders(m, teacher=True)[0])] = f"{m}_teacher"
    state = {"modality": None, "teacher_outputs": {}, "cross": {}}
    hooks = [getattr(model, f"{m}_decoder").register_forward_hook(
        lambda mod, args, out, m=m: state.update(modality=m)) for m in ("video", "audio")]
    hooks += [model.encoders(m, teacher=True)[1].register_forward_hook(
        lambda mod, args, out, m=m: state["teacher_outputs"].update({id(out): m})) for m in ("video", "audio")]

    def masked_mse(*args, **kwargs):
        return mods[f"recon_{state['modality']}"](*args, **kwargs)

    def encode_view(encoder, *args, **kwargs):
        key = roles[id(encoder)]
        state["modality"] = key.split("_")[0]
        return mods[key](encoder, *args, **kwargs)

    def cls_attention(*args, **kwargs):
        return mods[f"{state['modality']}_cls"](*args, **kwargs)

    def cross_modal_attention(*args, **kwargs):
        out = mods["cross_attention"](*args, **kwargs)
        state["cross"] = {id(out[0]): "video", id(out[1]): "audio"}
        return out

    def refine(tokens, cross, *args, **kwargs):
        return mods[f"refine_{state['cross'][id(cross)]}"](tokens, cross, *args, **kwargs)

    def dino_distillation(student, teacher, *args, **kwargs):
        return mods[f"kd_{state['teacher_outputs'][id(teacher)]}"](student, teacher, *args, **kwargs)

    def mmd_multi_kernel(x, y, *args, **kwargs):
        n = sum(id(z) in state["teacher_outputs"] for z in (x, y))
        return mods[("mmd_students", "mmd_cross", "mmd_teachers")[n]](x, y, *args, **kwargs)

    stand_ins = dict(masked_mse=masked_mse, encode_view=encode_view, cls_attention=cls_attention,
                     cross_modal_attention=cross_modal_attention, refine=refine, dino_distillation=dino_distillation,
                     mmd_multi_kernel=mmd_multi_kernel)
    try:
        for name in PROBED:
            setattr(X, name, stand_ins[name])
        yield
    finally:
        for name, fn in originals.items():
            setattr(X, name, fn)
        for h in hooks:
            h.remove()


def architecture_trace(model, batch) -> list[dict]:
    """The modules and recorded function calls of one training forward pass of ``model`` (an
    :class:`~maskedav.methods.xkd.XKD`) on ``batch``, in the order they return, with output shapes and parameter
    counts (:func:`maskedav.viz.trace_modules`), each with its ``group`` and, for a recorded function, its name
    as ``class``. Nothing in the model changes (no EMA or centre update: the pass runs without gradients; the
    masks' and views' draws are put back)."""
    import torch

    from maskedav import viz
    from maskedav.generators import kept_generator

    Call = _probe_class()
    mods, originals = _parts(model, Call)
    labels = _labels(model)

    class Diagram(torch.nn.Module):
        def __init__(self):
            super().__init__()
            object.__setattr__(self, "_model", model)
            for key, module in mods.items():
                self.add_module(labels[key][0], module)

        def forward(self, *inputs):
            return self._model(*inputs)

    view = Diagram()
    by_label = {labels[k][0]: k for k in mods}
    with kept_generator(model), _recording(model, mods, originals):
        was = model.training
        model.train()
        try:
            trace = viz.trace_modules(view, batch, depth=1)
        finally:
            model.train(was)
    if model.config.da not in ("da1", "da2"):                # computed by the forward, used by L_da^1 / L_da^2 only
        trace = [c for c in trace if by_label[c["name"]] != "mmd_cross"]
    for c in trace:
        key = by_label[c["name"]]
        c["group"] = labels[key][1]
        if isinstance(mods[key], Call):
            c["class"] = mods[key].fn.__name__
    return trace


def fig1_figure(model, batch):
    """Fig. 1 drawn from the implemented XKD: the traced modules and function calls of a training forward pass
    (:func:`architecture_trace`: the video and audio MAEs on the masked global views; the students on the masked
    view's visible tokens and the unmasked local views; the EMA teachers on the unmasked global views, their CLS
    attention, the cross-modal attention and refine; the MMD domain alignment and the cross-modal KD) with the
    loss terms' values on ``batch`` in the title. Returns ``(fig, trace, losses)``."""
    import torch

    from maskedav import viz
    from maskedav.generators import kept_generator

    viz.set_style()
    trace = architecture_trace(model, batch)
    with kept_generator(model), torch.no_grad():
        loss, logs = model(batch)
    c = model.config
    names = {"recon_video": "L_recon^v", "recon_audio": "L_recon^a", "kd_v2a": "L_kd (v→a)",
             "kd_a2v": "L_kd (a→v)", "mmd_students": "MMD students", "mmd_teachers": "MMD teachers"}
    losses = {"L_xkd": float(loss), **{names[k]: float(logs[k]) for k in names if k in logs}}
    ema = (f"λ = {c.ema_momentum:g} → 1 over {c.ema_total_steps} steps" if c.ema_total_steps > 0
           else f"λ = {c.ema_momentum:g}")
    terms = [f"{k} = {v:.3f}" for k, v in losses.items()]
    lines, line = [], "on this batch:"
    for i, term in enumerate(terms):                                 # wrap between terms, never inside one
        piece = term + ("," if i < len(terms) - 1 else "")
        if len(line) + len(piece) >= 100:
            lines.append(line)
            line = piece
        else:
            line += " " + piece
    values = "\n".join(lines + [line])
    title = (f"XKD as implemented: video / audio MAEs ({c.mask_ratio_v:.0%} / {c.mask_ratio_a:.0%} masked), "
             f"students on the masked global view\nand {c.num_local_views} unmasked local view(s), EMA teachers ({ema}) "
             f"on the unmasked global views;\nL = ({c.ae_weight:g} L_ae + {c.da_weight:g} L_da + {c.kd_weight:g} L_kd) / "
             f"{c.ae_weight + c.da_weight + c.kd_weight:g}, L_da = {c.da}, refine = {c.refine}, sharing = {c.sharing}\n"
             f"{values}\n")
    groups = {t["name"]: t["group"] for t in trace}
    colours = {g: viz.PALETTE[i] for i, g in enumerate(GROUPS)}
    fig = viz.module_diagram(trace, title=title, groups=groups, colours=colours, width=viz.PAGE_WIDTH)
    return fig, trace, losses
