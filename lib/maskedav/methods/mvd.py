"""MVD — Masked Video Distillation (Wang et al., CVPR 2023, arXiv 2212.04500).

Stage 1 (not here): an image teacher pre-trained with MAE (:mod:`maskedav.methods.mae`) and a video
teacher pre-trained with VideoMAE (:mod:`maskedav.methods.videomae`). Stage 2 (this module): a
student video ViT, tube-masked at 90 %, predicts through **one shallow decoder per teacher** the
frozen teachers' features at the masked positions (paper Eqs. 1–3, Algorithm 1):

    Y_k = g_k(concat(f(X_vis), T_m))                                   (Eq. 1)
    L_mfm(h_k) = 1/|M| Σ_{p∈M} D(Y_k(p), h_k(X)(p)),  D = smooth-L1, β=1 (Eq. 2; spec §4.1)
    L_mvd = λ1·L_mfm(h_img) + λ2·L_mfm(h_vid)                          (Eq. 3; λ1 = λ2 = 1 [code])

Implementation facts taken from the official code (reference-code §1.2, spec §2.3):

* targets are the **last block's output before the final LayerNorm** (``ViTEncoder.forward_features``),
  raw (``norm_target=False``); the image teacher's cls output is dropped;
* the image teacher sees the **first frame of each tubelet** (``video[:, :, ::tubelet]``), each frame as
  an independent image; its ``(b t) l c -> b (t l) c`` tokens are in the student's ``(t, h, w)`` order,
  so the target of student token ``n`` is the image feature of frame ``tubelet·(n // (h·w))`` at patch
  ``n mod (h·w)`` (:func:`image_target_frame`);
* the video teacher sees the full unmasked clip;
* each decoder has its own input Linear (**with** bias), mask token and 3-D sin-cos table, and predicts
  the masked tokens only; teachers run in ``eval()`` under ``no_grad`` (:class:`maskedav.teachers.FrozenTeacher`).

Ablation switches (fields of :class:`MVDConfig`):

==================  ==============================================================  ============
switch              what it changes                                                 paper
==================  ==============================================================  ============
``image_weight``    λ1; 0 removes the image teacher and its decoder (video-only)      Table 1
``video_weight``    λ2; 0 removes the video teacher and its decoder (image-only)      Table 1
``loss``            D: ``"smooth_l1"`` (paper) or ``"l2"`` / ``"l1"``                 (E10, extra)
``norm_target``     non-affine LayerNorm on the targets (``--norm_feature``, off)     (E10, extra)
``pixel_weight``    > 0 adds a third decoder reconstructing VideoMAE norm-pixels      Table 7
``bootstrap``       an EMA copy of the student encoder replaces the frozen teachers   Table 8
``masked``          False: per-token distillation, no mask, MLP head on all tokens    Table 9
(teachers given)    teacher size: pass larger teachers (``teacher_size`` labels it)   Table 2
==================  ==============================================================  ============

Teacher features can be **cached** (:func:`cache_targets`): the teachers are frozen and, without
augmentation, the SynthAV clip of an index is fixed, so ``h_img(X)`` / ``h_vid(X)`` are computed once per
clip and given to :meth:`MVD.forward` as ``batch["target_image"]`` / ``batch["target_video"]``.

The second half of the module holds what the chapter's notebooks call (``notebooks/mvd/``): the run plan
of a profile, teachers (the baselines' checkpoints, larger / shorter ones trained here), student runs,
linear probes, the Fig. 3 similarity, step timing for Table 6, and the claims E1–E9 with their rules.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from maskedav.configs import ViTConfig
from maskedav.losses import feature_regression, masked_mse, patchify_video
from maskedav.masking import Mask, select_masked, tube_mask
from maskedav.nn import MAEDecoder, ViTEncoder
from maskedav.teachers import cosine_momentum, ema_update, freeze, make_ema_teacher

from .base import (IMAGENET_MEAN, IMAGENET_STD, MethodConfig, PretrainMethod, VideoSpace, as_mask,
                   reconstruction_dict)

__all__ = [
    "MVDConfig", "MVD", "FeatureTeacher", "FeatureLoss", "PixelLoss", "VARIANTS",
    "image_teacher_frames", "align_image_features", "image_target_frame", "normalize_video",
    "inflate_image_encoder", "cache_targets", "frame_similarity",
    # chapter helpers
    "TASKS", "RunPlan", "run_plan", "use_cpu_threads", "load_data", "teacher_config", "train_teacher",
    "load_teacher", "feature_teachers", "probe", "student_config", "pretrain_student", "Arm", "run_arms",
    "probe_teachers", "teacher_similarity", "measure_step_time", "save_runs", "load_runs", "summarize",
    "CLAIMS", "Claim", "decide_claim", "record_claims", "describe_verdicts", "model_cost", "chance_levels",
    "probe_videomae", "offdiag_mean", "values", "pm", "TEACHER_METHODS", "LOSS_KEYS", "fig2_figure",
    "fig3_figure", "student_batch_fn",
]


def normalize_video(x: torch.Tensor, mean=IMAGENET_MEAN, std=IMAGENET_STD) -> torch.Tensor:
    """ImageNet mean / std normalisation of ``(B, 3, T, H, W)`` or ``(B, 3, H, W)`` in [0, 1] (MVD's
    ``GroupNormalize``)."""
    shape = (1, 3) + (1,) * (x.dim() - 2)
    m = torch.tensor(mean, device=x.device, dtype=x.dtype).reshape(shape)
    s = torch.tensor(std, device=x.device, dtype=x.dtype).reshape(shape)
    return (x - m) / s


# ------------------------------------------------------------------------------------ alignment
def image_teacher_frames(video: torch.Tensor, tubelet: int) -> torch.Tensor:
    """The frames the image teacher sees: the first frame of every tubelet, as a batch of images.

    ``(B, C, T, H, W)`` → ``(B·T', C, H, W)`` with ``T' = T / tubelet``, ordered ``(b, t')``
    (MVD ``videos[:, :, ::tubelet_size]`` then ``'b c t h w -> (b t) c h w'``; paper §3.2 "we predict the
    spatial features of a single time slice (the front 2D patch)").
    """
    frames = video[:, :, ::tubelet]                               # (B, C, T', H, W)
    B, C, Tp, H, W = frames.shape
    return frames.permute(0, 2, 1, 3, 4).reshape(B * Tp, C, H, W)


def align_image_features(feats: torch.Tensor, batch: int) -> torch.Tensor:
    """``(B·T', L, C)`` per-frame tokens → ``(B, T'·L, C)`` in the student's ``(t, h, w)`` order
    (MVD ``'(b t) l c -> b (t l) c'``)."""
    BT, L, C = feats.shape
    return feats.reshape(batch, (BT // batch) * L, C)


def image_target_frame(token, grid: Sequence[int], tubelet: int):
    """Index of the video frame whose image-teacher feature is the target of student token ``token``:
    ``tubelet · (token // (h·w))`` (the first frame of the token's tubelet)."""
    _, h, w = grid
    return tubelet * (token // (h * w))


def inflate_image_encoder(video_encoder: ViTEncoder, image_encoder: ViTEncoder) -> ViTEncoder:
    """Initialise a video ViT from an image ViT of the same width / depth (Table 8 "init ✓" stand-in).

    Blocks and final norm are copied; the 2-D patch kernel is inflated to the tubelet by repeating it
    over time divided by the tubelet (I3D inflation), so a static clip embeds as its frame does.
    Fixed positional tables are left as they are; the cls token is dropped.
    """
    src, dst = image_encoder, video_encoder
    if (src.dim, src.depth, src.heads) != (dst.dim, dst.depth, dst.heads):
        raise ValueError(f"image encoder {src.dim}/{src.depth}/{src.heads} does not match video encoder "
                         f"{dst.dim}/{dst.depth}/{dst.heads}")
    with torch.no_grad():
        dst.blocks.load_state_dict(src.blocks.state_dict())
        dst.norm.load_state_dict(src.norm.state_dict())
        w2 = src.patch_embed.proj.weight                           # (D, C, p, p)
        t = dst.patch_embed.tubelet
        dst.patch_embed.proj.weight.copy_(w2[:, :, None].expand(-1, -1, t, -1, -1) / t)
        if dst.patch_embed.proj.bias is not None and src.patch_embed.proj.bias is not None:
            dst.patch_embed.proj.bias.copy_(src.patch_embed.proj.bias)
    return dst


# --------------------------------------------------------------------------------------- teachers
class FeatureTeacher(nn.Module):
    """A frozen teacher and how it is fed: the target generator ``h`` of Eq. 2 (spec §2.3, §4.2).

    ``kind="image"``: ``h_img(X)(t, i, j)`` = last-block (pre-norm) feature of frame ``tubelet·t`` at
    patch ``(i, j)``; ``kind="video"``: ``h_vid(X)(t, i, j)`` = last-block feature of the full clip.
    Returns ``(B, N_student, C)`` targets in the student's token order. ``normalize="imagenet"``
    applies the input normalisation the teacher was trained with (``None``: [0, 1] input).
    """

    def __init__(self, encoder: nn.Module, kind: str, tubelet: int = 2, layer: int = -1,
                 normalize: str | None = "imagenet"):
        super().__init__()
        if kind not in ("image", "video"):
            raise ValueError("kind must be 'image' or 'video'")
        self.encoder = freeze(encoder)
        self.kind, self.tubelet, self.layer, self.normalize = kind, tubelet, layer, normalize

    @property
    def dim(self) -> int:
        return self.encoder.module.dim

    def train(self, mode: bool = True) -> "FeatureTeacher":
        super().train(False)                                       # stays in eval mode
        return self

    def preprocess(self, video: torch.Tensor) -> torch.Tensor:
        return normalize_video(video) if self.normalize == "imagenet" else video

    def forward(self, video: torch.Tensor) -> torch.Tensor:
        enc = self.encoder.module
        x = self.preprocess(video)
        with torch.no_grad():
            if self.kind == "image":
                frames = image_teacher_frames(x, self.tubelet)
                feats = enc.forward_features(frames, layers=[self.layer])[0][:, enc.num_prefix_tokens:]
                return align_image_features(feats, video.shape[0])
            return enc.forward_features(x, layers=[self.layer])[0][:, enc.num_prefix_tokens:]

    def slice_features(self, video: torch.Tensor) -> torch.Tensor:
        """Targets reshaped by time slice, ``(B, T', HW, C)`` (Fig. 3)."""
        t = self(video)
        B, N, C = t.shape
        Tp = video.shape[2] // self.tubelet
        return t.reshape(B, Tp, N // Tp, C)


class FeatureLoss(nn.Module):
    """``D`` of Eq. 2 on masked tokens: smooth-L1 (β = 1, mean over B·|M|·C, MVD code) / L2 / L1,
    with the optional non-affine target LayerNorm (``--norm_feature``)."""

    def __init__(self, loss: str = "smooth_l1", beta: float = 1.0, norm_target: bool = False):
        super().__init__()
        if loss not in ("smooth_l1", "l2", "l1"):
            raise ValueError(f"unknown loss {loss!r}; choose smooth_l1, l2 or l1")
        self.loss, self.beta, self.norm_target = loss, beta, norm_target

    def forward(self, pred: torch.Tensor, target: torch.Tensor, mask: Mask | torch.Tensor | None):
        return feature_regression(pred.float(), target.float(), mask, loss=self.loss, beta=self.beta,
                                  norm_target=self.norm_target)

    def extra_repr(self) -> str:
        return f"loss={self.loss}, beta={self.beta}, norm_target={self.norm_target}"


class PixelLoss(nn.Module):
    """VideoMAE pixel loss on masked tubelets: MSE to per-channel normalised pixels (Table 7 branch)."""

    def __init__(self, patch: int, tubelet: int):
        super().__init__()
        self.patch, self.tubelet = patch, tubelet

    def forward(self, pred: torch.Tensor, video: torch.Tensor, mask: Mask):
        target = patchify_video(video.float(), self.patch, self.tubelet)
        return masked_mse(pred.float(), target, mask, norm_pix="per_channel")


# --------------------------------------------------------------------------------------- config
def _default_student() -> ViTConfig:
    from maskedav.configs import paper_config

    return paper_config("mvd-b")


@dataclass(frozen=True)
class MVDConfig(MethodConfig):
    """MVD student and its switches (module docstring; spec §2, §4, §9).

    ``vit``: the student video ViT (3-D sin-cos positions) with the feature decoders' sizes in its
    ``decoder_*`` fields (MVD: decoder width = encoder width, depth 2 for S/B; ``paper_config("mvd-b")``).
    ``mask_ratio``: tube masking ratio (0.9). ``image_weight`` / ``video_weight``: λ1 / λ2 of Eq. 3.
    ``loss`` / ``beta`` / ``norm_target``: D of Eq. 2. ``pixel_weight``: Table 7's extra pixel decoder.
    ``bootstrap``: Table 8's momentum (EMA) teacher, momentum ``ema_momentum`` (cosine to 1 over
    ``ema_total_steps`` when > 0). ``masked=False``: Table 9's per-token distillation (MLP head of hidden
    ``mlp_ratio_head × dim``). ``teacher_layer``: the teacher block whose pre-norm output is the target.
    ``teacher_size``: label of the teachers passed (Table 2). ``seed``: the mask generator's seed.
    """

    vit: ViTConfig = field(default_factory=_default_student)
    mask_ratio: float = 0.9
    image_weight: float = 1.0
    video_weight: float = 1.0
    loss: str = "smooth_l1"
    beta: float = 1.0
    norm_target: bool = False
    pixel_weight: float = 0.0
    bootstrap: bool = False
    ema_momentum: float = 0.996
    ema_total_steps: int = 0
    masked: bool = True
    mlp_ratio_head: float = 4.0
    teacher_layer: int = -1
    normalize_input: bool = True
    teacher_size: str = "base"
    seed: int = 0

    def __post_init__(self):
        if self.loss not in ("smooth_l1", "l2", "l1"):
            raise ValueError(f"unknown loss {self.loss!r}")
        if self.vit.modality != "video":
            raise ValueError("the MVD student is a video ViT")
        if self.bootstrap and self.image_weight > 0:
            raise ValueError("bootstrap: the EMA student is the only (video) teacher; set image_weight=0")
        if not self.masked and self.pixel_weight > 0:
            raise ValueError("the pixel branch needs masking")
        if not self.branches and self.pixel_weight <= 0:
            raise ValueError("no active loss term")

    @classmethod
    def from_profile(cls, profile, **changes) -> "MVDConfig":
        """The toy student of a run profile (spec §10.2): the profile's ViT with fixed 3-D sin-cos
        positions; feature decoders of **one block** at the profile's decoder width / heads (MVD uses
        2 blocks at encoder width; spec §10.2 allows 1–2 for tiny models; width 64 instead of 96 at
        ``cpu`` costs ~40 % less per CPU step — a deliberate deviation, see the chapter)."""
        from maskedav.profiles import get_profile

        p = get_profile(profile) if isinstance(profile, str) or profile is None else profile
        vit = ViTConfig.from_profile(p, "video", name=f"mvd-{p.name}", pos_embed="sincos",
                                     decoder_dim=p.model.decoder_dim, decoder_heads=p.model.decoder_heads,
                                     decoder_depth=1, decoder_pos_embed="sincos", decoder_embed_bias=True)
        return cls(vit=vit).replace(**changes)

    @classmethod
    def paper(cls, size: str = "b", **changes) -> "MVDConfig":
        """MVD ViT-``size`` student (``paper_config("mvd-<size>")``: 16×224², 2×16×16 tubelets)."""
        from maskedav.configs import paper_config

        return cls(vit=paper_config(f"mvd-{size}")).replace(**changes)

    @property
    def branches(self) -> tuple[str, ...]:
        """Active feature branches (``"image"``, ``"video"``)."""
        if self.bootstrap:
            return ("video",)
        return tuple(b for b, w in (("image", self.image_weight), ("video", self.video_weight)) if w > 0)


LOSS_KEYS = {"image": "loss_img", "video": "loss_vid"}

#: Named arms of the chapter: changes applied to :meth:`MVDConfig.from_profile`.
VARIANTS: dict[str, dict] = {
    "image": dict(image_weight=1.0, video_weight=0.0),
    "video": dict(image_weight=0.0, video_weight=1.0),
    "coteach": dict(image_weight=1.0, video_weight=1.0),
    "coteach_l2": dict(loss="l2"),
    "coteach_ln": dict(norm_target=True),
    "image_pixel": dict(image_weight=1.0, video_weight=0.0, pixel_weight=1.0),
    "coteach_pixel": dict(pixel_weight=1.0),
    "bootstrap": dict(bootstrap=True, image_weight=0.0, video_weight=1.0),
    "per_token": dict(masked=False, image_weight=0.0, video_weight=1.0),
}


# --------------------------------------------------------------------------------------- method
class MVD(PretrainMethod):
    """The MVD student with its frozen teachers; ``forward(batch) -> (loss, logs)``.

    Args:
        config: :class:`MVDConfig`.
        image_teacher / video_teacher: teacher encoders (:class:`~maskedav.nn.ViTEncoder`), teacher
            methods (anything with ``.encoder`` and ``.config.normalize_input``, e.g. a trained
            :class:`~maskedav.methods.MAE` / :class:`~maskedav.methods.VideoMAE`) or
            :class:`FeatureTeacher`; required for the active branches unless ``bootstrap`` (the EMA copy
            of the student is then the only teacher).

    ``batch``: ``video (B, 3, T, H, W)`` in [0, 1]; optional cached targets ``target_image`` /
    ``target_video`` ``(B, N, C)`` (:func:`cache_targets`). ``forward(batch, mask=None)`` draws a tube
    mask from ``self.generator`` unless one is given (a :class:`~maskedav.masking.Mask` or bool ``(B, N)``).
    Logs: ``loss_img``, ``loss_vid``, ``loss_pix`` (the active terms, un-weighted).
    """

    def __init__(self, config: MVDConfig, image_teacher: nn.Module | None = None,
                 video_teacher: nn.Module | None = None):
        super().__init__(config)
        vit = config.vit
        self.encoder = ViTEncoder.from_config(vit)
        self.grid = tuple(self.encoder.grid_size)
        self.tubelet, self.patch = vit.tubelet, vit.patch[0]
        self.space = VideoSpace(vit.patch, vit.tubelet, self.grid, normalize=config.normalize_input)
        self.image_teacher = self.video_teacher = None
        if config.bootstrap:
            self.video_teacher = FeatureTeacher(make_ema_teacher(self.encoder), "video", vit.tubelet,
                                                config.teacher_layer,
                                                "imagenet" if config.normalize_input else None)
            self.register_buffer("ema_steps", torch.zeros((), dtype=torch.long))
        else:
            for name, teacher in (("image", image_teacher), ("video", video_teacher)):
                if name in config.branches:
                    if teacher is None:
                        raise ValueError(f"the {name} branch is active (weight > 0) but no {name} teacher was given")
                    setattr(self, f"{name}_teacher", self._as_teacher(teacher, name))
        self.decoder_image = self.decoder_video = self.decoder_pixel = None
        for name in config.branches:
            setattr(self, f"decoder_{name}", self._make_head(getattr(self, f"{name}_teacher").dim))
        if config.pixel_weight > 0:
            self.decoder_pixel = self._make_head(self.encoder.patch_dim)
        self.loss_fn = FeatureLoss(config.loss, config.beta, config.norm_target)
        self.pixel_loss = PixelLoss(self.patch, self.tubelet) if config.pixel_weight > 0 else None

    def _as_teacher(self, teacher: nn.Module, kind: str) -> FeatureTeacher:
        if isinstance(teacher, FeatureTeacher):
            return teacher
        if isinstance(teacher, ViTEncoder):
            return FeatureTeacher(teacher, kind, self.tubelet, self.config.teacher_layer, "imagenet")
        norm = "imagenet" if getattr(getattr(teacher, "config", None), "normalize_input", True) else None
        return FeatureTeacher(teacher.encoder, kind, self.tubelet, self.config.teacher_layer, norm)

    def _make_head(self, out_dim: int) -> nn.Module:
        vit = self.config.vit
        if self.config.masked:
            return MAEDecoder.from_config(vit, out_dim=out_dim, predict="masked")
        hidden = int(self.config.mlp_ratio_head * vit.dim)
        return nn.Sequential(nn.Linear(vit.dim, hidden), nn.GELU(), nn.Linear(hidden, out_dim))

    # ----------------------------------------------------------------------------------- pieces
    @property
    def num_patches(self) -> int:
        return self.encoder.num_patches

    def teachers(self) -> dict[str, FeatureTeacher]:
        return {b: getattr(self, f"{b}_teacher") for b in self.config.branches}

    def draw_mask(self, batch_size: int, device=None) -> Mask:
        """A tube mask (VideoMAE ``TubeMaskingGenerator``) from ``self.generator``."""
        m = tube_mask(batch_size, self.grid, self.config.mask_ratio, generator=self.generator)
        return m.to(device) if device is not None else m

    def _mask(self, mask, batch_size: int, device) -> Mask:
        if mask is None:
            return self.draw_mask(batch_size, device)
        mask = as_mask(mask, device)
        if tuple(mask.mask.shape) != (batch_size, self.num_patches):
            raise ValueError(f"mask of shape {tuple(mask.mask.shape)}, expected {(batch_size, self.num_patches)}")
        return mask

    @torch.no_grad()
    def compute_targets(self, video: torch.Tensor) -> dict[str, torch.Tensor]:
        """Aligned teacher features of **all** tokens: ``{"image": (B, N, C), "video": (B, N, C)}``."""
        return {b: t(video) for b, t in self.teachers().items()}

    def _targets(self, batch: dict, video: torch.Tensor) -> dict[str, torch.Tensor]:
        out = {}
        for b, teacher in self.teachers().items():
            cached = batch.get(f"target_{b}") if isinstance(batch, dict) else None
            out[b] = cached.to(video.device) if (cached is not None and not self.config.bootstrap) else teacher(video)
        return out

    def ema_momentum(self, step: int) -> float:
        c = self.config
        return cosine_momentum(step, c.ema_total_steps, c.ema_momentum) if c.ema_total_steps > 0 else c.ema_momentum

    @torch.no_grad()
    def update_ema(self) -> float:
        """``θ_t ← m·θ_t + (1-m)·θ_s`` (Table 8's momentum encoder), run at the start of every training
        forward, i.e. right after the previous optimiser step."""
        m = self.ema_momentum(int(self.ema_steps))
        ema_update(self.video_teacher.encoder, self.encoder, m)
        self.ema_steps += 1
        return m

    def reset_ema(self) -> None:
        """Copy the student's current weights into the EMA teacher (after a custom initialisation)."""
        if self.config.bootstrap:
            ema_update(self.video_teacher.encoder, self.encoder, 0.0)

    # ---------------------------------------------------------------------------------- forward
    def forward(self, batch, mask=None):
        video = self.space.raw(batch)
        logs: dict[str, torch.Tensor] = {}
        if self.config.bootstrap and self.training and torch.is_grad_enabled():
            logs["ema_momentum"] = torch.tensor(self.update_ema())
        targets = self._targets(batch, video)
        x = self.space.model_input(video)
        weights = {"image": self.config.image_weight, "video": self.config.video_weight}
        loss = x.new_zeros((), dtype=torch.float32)
        if not self.config.masked:                                 # Table 9: per-token distillation
            tokens = self.encoder(x)
            for b, target in targets.items():
                term = self.loss_fn(getattr(self, f"decoder_{b}")(tokens), target, None)
                logs[LOSS_KEYS[b]] = term.detach()
                loss = loss + weights[b] * term
            return loss, logs
        m = self._mask(mask, x.shape[0], x.device)
        latent = self.encoder(x, m)                                # visible tokens only, final norm
        for b, target in targets.items():                          # Eqs. 1-3
            pred = getattr(self, f"decoder_{b}")(latent, m)        # (B, N_mask, C), ascending order
            term = self.loss_fn(pred, target, m)
            logs[LOSS_KEYS[b]] = term.detach()
            loss = loss + weights[b] * term
        if self.decoder_pixel is not None:                         # Table 7
            term = self.pixel_loss(self.decoder_pixel(latent, m), video, m)
            logs["loss_pix"] = term.detach()
            loss = loss + self.config.pixel_weight * term
        return loss, logs

    # -------------------------------------------------------------------------------- inspection
    @torch.no_grad()
    def predict(self, batch, mask=None) -> dict:
        """Every branch's prediction under ``mask`` (a fresh tube mask when ``None``), masked tokens in
        ascending order: ``{"mask", "image"/"video": (B, N_mask, C), "target_image"/"target_video"
        (the targets at the same tokens, target-normalised as the loss sees them), "pixel": (B, N_mask, P)}``.
        Per-token mode (``masked=False``): predictions and targets of every token."""
        with self._eval_mode():
            video = self.space.raw(batch)
            x = self.space.model_input(video)
            targets = self.compute_targets(video)
            if not self.config.masked:
                tokens = self.encoder(x)
                out = {"mask": None}
                for b, t in targets.items():
                    out[b] = getattr(self, f"decoder_{b}")(tokens)
                    out[f"target_{b}"] = F.layer_norm(t, t.shape[-1:], eps=1e-6) if self.config.norm_target else t
                return out
            m = self._mask(mask, x.shape[0], x.device)
            latent = self.encoder(x, m)
            out = {"mask": m}
            for b, t in targets.items():
                out[b] = getattr(self, f"decoder_{b}")(latent, m)
                if self.config.norm_target:
                    t = F.layer_norm(t, t.shape[-1:], eps=1e-6)
                out[f"target_{b}"] = select_masked(t, m)
            if self.decoder_pixel is not None:
                out["pixel"] = self.decoder_pixel(latent, m)
        return out

    @torch.no_grad()
    def reconstruct(self, batch, mask=None) -> dict:
        """What the student reconstructs under ``mask``.

        Always: ``mask``, ``input``, ``masked_input``, ``feature_loss`` ``{branch: (B,)}`` (per-sample
        loss D on the masked tokens) and ``predictions`` (:meth:`predict`). With a pixel branch
        (Table 7), also the pixel keys of the other methods' ``reconstruct`` (``prediction``,
        ``pasted``, ``mse``, ``loss``; :func:`maskedav.methods.base.reconstruction_dict`).
        """
        video = self.space.raw(batch)
        pred = self.predict(batch, mask)
        m = pred["mask"]
        out: dict = {"mask": m, "input": video, "predictions": pred}
        if m is not None:
            hidden = m.mask[..., None].expand(-1, -1, self.encoder.patch_dim)
            mask_pixels = self.space.mask_pixels(hidden)
            out["masked_input"] = torch.where(mask_pixels, torch.full_like(video, 0.5), video)
        losses = {}
        for b in self.config.branches:
            p, t = pred[b].float(), pred[f"target_{b}"].float()
            if self.config.loss == "smooth_l1":
                e = F.smooth_l1_loss(p, t, beta=self.config.beta, reduction="none")
            elif self.config.loss == "l2":
                e = (p - t) ** 2
            else:
                e = (p - t).abs()
            losses[b] = e.mean(dim=(1, 2))
        out["feature_loss"] = losses
        if self.decoder_pixel is not None:
            full = torch.zeros(video.shape[0], self.num_patches, self.encoder.patch_dim, device=video.device)
            full[m.mask] = pred["pixel"].float().reshape(-1, self.encoder.patch_dim)
            out.update(reconstruction_dict(self.space, video, full, m, "per_channel"))
        return out

    @torch.no_grad()
    def attention_maps(self, batch, layer: int = -1, head: int | None = None, query: int | None = None,
                       mask=None) -> torch.Tensor:
        """Student softmax attention of block ``layer``: ``(B, H, L, L)`` (visible tokens of ``mask``)."""
        x = self.space.model_input(self.space.raw(batch))
        m = None if mask is None else self._mask(mask, x.shape[0], x.device)
        maps = self.encoder.attention_maps(x, layer, head, mask=m)
        return maps if query is None else maps[..., query, :]

    @torch.no_grad()
    def features(self, batch, layers: Sequence[int] | None = None, mask=None) -> dict[int, torch.Tensor]:
        """``{layer: (B, L, D)}`` pre-norm outputs of the student's blocks (all blocks by default)."""
        x = self.space.model_input(self.space.raw(batch))
        layers = list(range(self.encoder.depth)) if layers is None else list(layers)
        m = None if mask is None else self._mask(mask, x.shape[0], x.device)
        return dict(zip(layers, self.encoder.forward_features(x, m, layers)))

    def embed(self, batch) -> torch.Tensor:
        """``(B, D)``: mean over all tokens of the student's final-norm output, nothing masked (what the
        linear probes see)."""
        return self.encoder(self.space.model_input(self.space.raw(batch))).mean(1)


# ------------------------------------------------------------------------------- target cache
@torch.no_grad()
def cache_targets(method: "MVD | dict[str, FeatureTeacher]", videos: torch.Tensor, batch_size: int = 128,
                  device=None, branches: Sequence[str] | None = None) -> dict[str, torch.Tensor]:
    """Teacher targets of every clip of ``videos`` ``(N_clips, 3, T, H, W)``, as CPU float tensors.

    ``method``: an :class:`MVD` (its teachers) or ``{"image": FeatureTeacher, "video": ...}``. Exact when
    pre-training uses no augmentation: teachers are frozen and a SynthAV clip is fixed by its index
    (spec §10.2 efficiency trick). Not for ``bootstrap`` (the EMA teacher changes every step).
    """
    if isinstance(method, MVD):
        if method.config.bootstrap:
            raise ValueError("an EMA teacher changes every step: its targets cannot be cached")
        teachers = method.teachers()
    else:
        teachers = dict(method)
    branches = list(branches or teachers)
    if device is None:
        device = next(iter(teachers.values())).encoder.module.patch_embed.proj.weight.device
    out: dict[str, list] = {b: [] for b in branches}
    for a in range(0, len(videos), batch_size):
        v = videos[a:a + batch_size].to(device)
        for b in branches:
            out[b].append(teachers[b](v).float().cpu())
    return {b: torch.cat(v) for b, v in out.items()}


# ------------------------------------------------------------------------------ Fig. 3 helper
def frame_similarity(slice_features: torch.Tensor) -> torch.Tensor:
    """Fig. 3 similarity (spec §7 resolution): ``S[i, j] = 1/HW Σ_n cos(F[i, n], F[j, n])`` per clip —
    token-wise cosine at the same spatial position, averaged over positions.

    ``slice_features``: ``(B, T', HW, C)`` → ``(B, T', T')``.
    """
    f = F.normalize(slice_features.float(), dim=-1)
    return torch.einsum("binc,bjnc->bij", f, f) / f.shape[2]


# =============================================================================================
# Chapter helpers (notebooks/mvd/): plan, data, teachers, runs, probes, timing, claims
# =============================================================================================
TASKS = ("appearance", "motion")      # K400 analogue (spatially heavy), SSv2 analogue (temporally heavy)


@dataclass(frozen=True)
class RunPlan:
    """Sizes of the chapter's runs at one profile, all derived from the profile's fields and the
    paper's schedule ratios (teachers 1600 epochs, students 400, bootstrapped 800; Tables 2, 6, 8):

    * ``teacher_steps``: the baselines' MAE / VideoMAE schedule (``profile.train.steps``) = "1600 ep";
    * ``student_steps``: MVD's distillation, a quarter of it = "400 ep";
    * ``bootstrap_steps``: 2 × student = "800 ep" (Table 8);
    * ``short_teacher_steps``: the Table 6 video teacher, half the baseline's = "800 ep";
    * ``large``: the larger teachers of Table 2 / E4: width ≈ 4/3 (same head width), one more block;
    * ``few_labels``: labelled clips of the Table 5 "small dataset" probes (1/8 of the train split);
    * ``extra_teacher_seeds``: the seeds of the large / short teachers trained by the chapter — only the
      first seed (CPU budget: three large teacher pairs cost 12 of the chapter's 30 minutes); every
      student seed then distils from that one teacher instance (as the paper uses one checkpoint), while
      base-teacher students use the baselines' teacher of their own seed.
    """

    profile: str
    seeds: tuple[int, ...]
    batch_size: int
    teacher_steps: int
    student_steps: int
    bootstrap_steps: int
    short_teacher_steps: int
    warmup_steps: int
    large: dict
    few_labels: int
    extra_teacher_seeds: tuple[int, ...] = (0,)

    def teacher_seed(self, size: str, seed: int) -> int:
        """The teacher seed a student of seed ``seed`` distils from: its own for the baselines' teachers,
        the first of :attr:`extra_teacher_seeds` for the chapter's large / short teachers."""
        return seed if size == "base" else self.extra_teacher_seeds[0]

    def warmup(self, steps: int) -> int:
        """The profile's warm-up fraction applied to a run of ``steps`` steps."""
        return max(1, round(self.warmup_steps * steps / max(self.teacher_steps, 1)))


def run_plan(profile) -> RunPlan:
    """The chapter's :class:`RunPlan` for a profile (a name or a :class:`~maskedav.profiles.Profile`)."""
    P = _profile(profile)
    m, t = P.model, P.train
    head_dim = m.dim // m.heads
    large_dim = int(math.ceil(m.dim * 4 / 3 / head_dim)) * head_dim     # same head width, ~4/3 the width
    while large_dim % 4:                                                # 2-D sin-cos needs dim % 4 == 0
        large_dim += head_dim
    large = dict(dim=large_dim, depth=m.depth + 1, heads=large_dim // head_dim)
    student = max(1, t.steps // 4)
    return RunPlan(profile=P.name, seeds=tuple(P.seed_list), batch_size=t.batch_size, teacher_steps=t.steps,
                   student_steps=student, bootstrap_steps=2 * student, short_teacher_steps=max(1, t.steps // 2),
                   warmup_steps=t.warmup_steps, large=large, few_labels=max(P.data.n_train // 8, 16),
                   extra_teacher_seeds=tuple(P.seed_list[:1]))


def _profile(profile):
    from maskedav.profiles import get_profile

    return get_profile(profile) if isinstance(profile, str) or profile is None else profile


def use_cpu_threads(device, threads: int = 1) -> int:
    """On CPU, run torch with ``threads`` intra-op threads (default 1) and return the number set.

    The book's machine has 2 cores shared with other jobs; small matmuls gain little from a second
    thread, and an oversubscribed OpenMP pool was measured 5–20× slower per step (spin waits).
    """
    if torch.device(device).type == "cpu":
        torch.set_num_threads(threads)
    return torch.get_num_threads()


_DATA: dict = {}


def load_data(profile, splits=("pretrain", "train", "val", "test"), *, disk_cache: bool = True) -> dict[str, dict]:
    """SynthAV splits at the profile's sizes: ``{split: {"video": (N, 3, T, H, W), "labels": {task: (N,)}}}``.

    The same clips as the baselines' :func:`~maskedav.methods.recipes.load_clips` (SynthAV is a pure
    function of (seed, split, index)), generated without audio (MVD is video-only; ~2× faster) and kept
    in memory and in the git-ignored cache (``<cache>/mvd/synthav/``) so that the chapter's notebooks
    generate them once.
    """
    import hashlib

    from maskedav.data.synthav import TASKS as ALL_TASKS
    from maskedav.data.synthav import SynthAVConfig, generate
    from maskedav.paths import cache_root

    cfg = SynthAVConfig.from_profile(_profile(profile))
    out = {}
    for split in splits:
        key = (cfg, split)
        if key not in _DATA:
            tag = hashlib.sha1(repr((cfg.to_dict(), split, "video-v1")).encode()).hexdigest()[:16]
            path = cache_root() / "mvd" / "synthav" / f"{split}-{tag}.pt"
            if disk_cache and path.exists():
                _DATA[key] = torch.load(path, weights_only=True)
            else:
                n = cfg.size(split)
                parts = [generate(cfg, split, range(a, min(a + 256, n)), audio=False) for a in range(0, n, 256)]
                _DATA[key] = dict(video=torch.cat([p["video"] for p in parts]),
                                  labels={t: torch.cat([p["labels"][t] for p in parts]) for t in ALL_TASKS})
                if disk_cache:
                    path.parent.mkdir(parents=True, exist_ok=True)
                    tmp = path.with_suffix(".tmp")
                    torch.save(_DATA[key], tmp)
                    tmp.replace(path)
        out[split] = _DATA[key]
    return out


# -------------------------------------------------------------------------------------- teachers
TEACHER_METHODS = {"image": "mae", "video": "videomae"}


def teacher_config(profile, kind: str, size: str = "base"):
    """The MAE (``kind="image"``) / VideoMAE (``"video"``) config of a teacher: ``"base"`` = the
    baselines' small config; ``"large"`` = the plan's larger size (Table 2 / E4); ``"short"`` = base."""
    from .recipes import build_config

    P = _profile(profile)
    cfg = build_config(TEACHER_METHODS[kind], P)
    if size == "large":
        L = run_plan(P).large
        cfg = cfg.replace(dim=L["dim"], depth=L["depth"], heads=L["heads"])
    elif size not in ("base", "short"):
        raise ValueError(f"unknown teacher size {size!r}")
    return cfg


def train_teacher(profile, kind: str, size: str, seed: int, steps: int, *, device=None,
                  data: dict | None = None, save: bool = True, log_dir=None):
    """Pre-train one teacher as the baselines do (MAE on SynthAV's single frames, VideoMAE on the
    pre-training clips; batches deterministic in the step) and save it as ``mvd/teachers/<name>-<size>``.
    Returns ``(method, TrainResult)``."""
    from maskedav.checkpoints import save_checkpoint
    from maskedav.train import TrainConfig, train

    from . import BASELINES
    from .recipes import load_frames, make_batch_fn

    P = _profile(profile)
    name = TEACHER_METHODS[kind]
    cfg = teacher_config(P, kind, size).replace(seed=seed)
    if data is None:
        data = (load_frames(P, 0, P.data.n_pretrain) if kind == "image"
                else {"video": load_data(P, ("pretrain",))["pretrain"]["video"]})
    keys = ("image",) if kind == "image" else ("video",)
    torch.manual_seed(seed)
    method = BASELINES[name][0](cfg)
    plan = run_plan(P)
    tcfg = TrainConfig.from_profile(P.train, steps=steps, warmup_steps=plan.warmup(steps), seed=seed,
                                    progress=False)
    res = train(method, make_batch_fn(data, P.train.batch_size, keys, seed), tcfg,
                device=device or P.resolve_device(), log_dir=log_dir, desc=f"{name}-{size} s{seed}")
    if save:
        save_checkpoint(f"mvd/teachers/{name}-{size}", method, profile=P.name, seed=seed, config=cfg,
                        extra=dict(steps=steps, train_s=res.wall_time_s))
    return method, res


def load_teacher(profile, kind: str, size: str = "base", seed: int = 0, map_location="cpu"):
    """A trained teacher method (eval mode): ``base`` from the baselines' notebooks
    (``baselines/mae``, ``baselines/videomae``), ``large`` / ``short`` from this chapter's teachers
    notebook (``mvd/teachers/<name>-<size>``)."""
    from maskedav.checkpoints import load_checkpoint

    from . import BASELINES
    from .recipes import load_baseline

    P = _profile(profile)
    name = TEACHER_METHODS[kind]
    if size == "base":
        return load_baseline(name, profile=P.name, seed=seed, map_location=map_location)
    payload = load_checkpoint(f"mvd/teachers/{name}-{size}", profile=P.name, seed=seed, map_location=map_location)
    method = BASELINES[name][0](payload["config"])
    method.load_state_dict(payload["state_dict"])
    return method.eval()


def feature_teachers(methods: dict, tubelet: int, layer: int = -1) -> dict[str, FeatureTeacher]:
    """``{"image": MAE, "video": VideoMAE}`` methods → :class:`FeatureTeacher` target generators."""
    return {k: FeatureTeacher(m.encoder, k, tubelet, layer,
                              "imagenet" if getattr(m.config, "normalize_input", True) else None)
            for k, m in methods.items()}


# ----------------------------------------------------------------------------------------- probes
def _chunks(video: torch.Tensor, batch_size: int):
    return [{"video": video[a:a + batch_size]} for a in range(0, len(video), batch_size)]


def probe(method: nn.Module, data: dict, *, tasks=TASKS, seed: int = 0, batch_size: int = 256,
          device=None, few_labels: int | None = None, epochs: int = 50) -> dict[str, float]:
    """Linear probes → test accuracy in percent. The baselines' protocol
    (:func:`maskedav.methods.recipes.probe`): logistic regression by mini-batch Adam for ``epochs`` passes
    (``profile.train.probe_epochs``) on standardised, frozen, mean-pooled ``method.embed`` features, weight
    decay in {1e-4, 1e-3, 1e-2, 1e-1} chosen on the validation split.

    Keys: ``<task>`` for every task; ``motion_reversal``: accuracy on the test clips of the five
    time-reversal pairs' classes (a bag-of-frames model cannot exceed about half of the pairs' share);
    ``<task>_few`` when ``few_labels``: the probe trained on the first ``few_labels`` train clips only
    (Table 5's "small dataset" transfer).
    """
    from maskedav.data.synthav import num_classes, reversal_pair_labels
    from maskedav.eval import extract_features, linear_probe

    feats = {s: extract_features(method, _chunks(data[s]["video"], batch_size), device=device,
                                 forward=lambda m, b: m.embed(b))[0] for s in ("train", "val", "test")}
    out = {}
    rev = torch.tensor(sorted({c for pair in reversal_pair_labels() for c in pair}))
    for task in tasks:
        y = {s: data[s]["labels"][task] for s in ("train", "val", "test")}
        kw = dict(num_classes=num_classes(task), solver="adam", epochs=epochs, seed=seed)
        res = linear_probe(feats["train"], y["train"], feats["val"], y["val"], feats["test"], y["test"], **kw)
        out[task] = res.test_accuracy
        if task == "motion":
            sel = torch.isin(y["test"], rev)
            pred = res.predict(feats["test"][sel])
            out["motion_reversal"] = 100.0 * float((pred == y["test"][sel]).double().mean())
        if few_labels:
            k = few_labels
            few = linear_probe(feats["train"][:k], y["train"][:k], feats["val"], y["val"], feats["test"],
                               y["test"], **kw)
            out[f"{task}_few"] = few.test_accuracy
    return out


def chance_levels(data: dict, tasks=TASKS) -> dict[str, float]:
    """Majority-class test accuracy per task (percent)."""
    y = data["test"]["labels"]
    return {t: 100.0 * float(torch.bincount(y[t]).max()) / len(y[t]) for t in tasks}


class _TeacherEmbed(nn.Module):
    """Probe view of a teacher method: ``embed(batch)`` of its own recipe (MAE: every frame, mean over
    patches and frames; VideoMAE: mean over tubelet tokens)."""

    def __init__(self, method):
        super().__init__()
        self.method = method

    def embed(self, batch):
        return self.method.embed(batch)


def probe_teachers(profile, data: dict, *, size: str = "base", seeds=None, device=None,
                   few_labels: int | None = None, kinds=("image", "video")) -> list[dict]:
    """Probe rows (``arm`` = ``teacher:image`` / ``teacher:video`` (``:<size>`` unless base), ``seed``, task
    accuracies) of the teachers of ``size``."""
    P = _profile(profile)
    rows = []
    for seed in (P.seed_list if seeds is None else seeds):
        for kind in kinds:
            m = load_teacher(P, kind, size, seed).to(device or P.resolve_device())
            acc = probe(_TeacherEmbed(m), data, seed=seed, device=device, few_labels=few_labels,
                        epochs=P.train.probe_epochs)
            rows.append(dict(arm=f"teacher:{kind}" + ("" if size == "base" else f":{size}"), seed=seed,
                             teacher_size=size, **acc))
    return rows


def teacher_similarity(teachers: dict[str, FeatureTeacher], video: torch.Tensor,
                       batch_size: int = 128) -> dict[str, torch.Tensor]:
    """Fig. 3: mean over clips of :func:`frame_similarity` of each teacher's targets, ``{kind: (T', T')}``;
    plus ``"image (all frames)"``: the image teacher on every frame (``T × T``)."""
    sums: dict[str, torch.Tensor] = {}
    n = 0
    for a in range(0, len(video), batch_size):
        v = video[a:a + batch_size]
        n += len(v)
        for k, t in teachers.items():
            s = frame_similarity(t.slice_features(v)).sum(0)
            sums[k] = sums.get(k, 0) + s
        if "image" in teachers:
            t = teachers["image"]
            every = FeatureTeacher(t.encoder.module, "image", 1, t.layer, t.normalize)
            s = frame_similarity(every.slice_features(v)).sum(0)
            sums["image (all frames)"] = sums.get("image (all frames)", 0) + s
    return {k: v / n for k, v in sums.items()}


def offdiag_mean(sim: torch.Tensor) -> float:
    """Mean of the off-diagonal entries of a ``(T', T')`` similarity matrix."""
    T = sim.shape[-1]
    off = ~torch.eye(T, dtype=torch.bool)
    return float(sim[..., off].mean())


# ------------------------------------------------------------------------------------- students
def student_config(profile, variant: str = "coteach", **changes) -> MVDConfig:
    """:meth:`MVDConfig.from_profile` with the changes of ``VARIANTS[variant]`` and ``changes``."""
    return MVDConfig.from_profile(_profile(profile), **{**VARIANTS[variant], **changes})


def student_batch_fn(videos: torch.Tensor, batch_size: int, seed: int, targets: dict | None = None):
    """``batch_fn(step)``: epochs of ``videos`` in a permutation drawn from ``(seed, epoch)`` (the
    baselines' :func:`~maskedav.methods.recipes.make_batch_fn`), with the cached targets of the same clips."""
    from .recipes import make_batch_fn

    data = {"video": videos, **{f"target_{k}": v for k, v in (targets or {}).items()}}
    return make_batch_fn(data, batch_size, tuple(data), seed)


def pretrain_student(profile, config: MVDConfig, teachers: dict | None, data: dict, seed: int, steps: int, *,
                     targets: dict | None = None, init: nn.Module | None = None, device=None, log_dir=None):
    """Distil one student (stage 2): build :class:`MVD` (weights from ``torch.manual_seed(seed)``, masks
    from its generator seeded with ``seed``), optionally initialise it from an image encoder
    (:func:`inflate_image_encoder`), train ``steps`` steps on the pre-training clips (cached ``targets``
    when given). Returns ``(method, TrainResult)``."""
    from maskedav.train import TrainConfig, train

    P = _profile(profile)
    plan = run_plan(P)
    teachers = teachers or {}
    cfg = config.replace(seed=seed)
    if cfg.bootstrap and cfg.ema_total_steps == 0:
        cfg = cfg.replace(ema_total_steps=steps)
    torch.manual_seed(seed)
    method = MVD(cfg, image_teacher=teachers.get("image"), video_teacher=teachers.get("video"))
    if init is not None:
        inflate_image_encoder(method.encoder, init)
        method.reset_ema()
    need = {f"{b}" for b in cfg.branches} if not cfg.bootstrap else set()
    tg = {k: v for k, v in (targets or {}).items() if k in need}
    tcfg = TrainConfig.from_profile(P.train, steps=steps, warmup_steps=plan.warmup(steps), seed=seed,
                                    progress=False)
    res = train(method, student_batch_fn(data["pretrain"]["video"], plan.batch_size, seed, tg), tcfg,
                device=device or P.resolve_device(), log_dir=log_dir, desc=f"mvd s{seed}")
    return method, res


@dataclass(frozen=True)
class Arm:
    """One arm of a comparison: a variant of :data:`VARIANTS` with its teachers and schedule.

    ``teachers``: ``"base"`` / ``"large"`` / ``"short"`` (``None`` for bootstrap); ``steps``: ``None`` =
    the plan's student steps; ``init``: ``"image"`` initialises the student from the image teacher;
    ``few_labels``: also probe with the plan's few labelled clips (Table 5); ``seeds``: run only these
    seeds (``None``: all of the plan's; for arms that bear no claim).
    """

    name: str
    variant: str
    teachers: str | None = "base"
    steps: int | None = None
    init: str | None = None
    few_labels: bool = False
    seeds: tuple[int, ...] | None = None
    changes: dict = field(default_factory=dict)


def run_arms(profile, arms: Sequence[Arm], data: dict, *, seeds=None, device=None,
             log: Callable = print) -> list[dict]:
    """Run every arm for every seed and probe it; one row per (arm, seed).

    Student seed ``s`` uses the baselines' teachers of seed ``s`` (so teacher variation is part of the
    replication) or the chapter's one large / short teacher (:meth:`RunPlan.teacher_seed`),
    whose targets are computed once per (seed, teacher size) and shared by the arms (:func:`cache_targets`);
    only the teachers the arms need are loaded (the ``short`` size has a video teacher only).
    Row keys: ``arm``, ``variant``, ``seed``, ``teachers``, ``teacher_seed``, ``steps``, ``train_s``,
    ``step_s`` (median), ``cache_s``, ``initial_loss`` / ``final_loss`` (mean of the first / last 5 logged
    steps) and the probe accuracies (:func:`probe`).
    """
    P = _profile(profile)
    plan = run_plan(P)
    device = device or P.resolve_device()
    rows = []
    for seed in (plan.seeds if seeds is None else seeds):
        by_size: dict[str, list[Arm]] = {}
        for arm in arms:
            if arm.seeds is None or seed in arm.seeds:
                by_size.setdefault(arm.teachers or "-", []).append(arm)
        for size, group in by_size.items():
            teachers, targets, cache_s = {}, {}, 0.0
            cfgs = {a.name: student_config(P, a.variant, teacher_size=size, **a.changes) for a in group}
            need = sorted({b for c in cfgs.values() if not c.bootstrap for b in c.branches})
            if need:
                methods = {k: load_teacher(P, k, size, plan.teacher_seed(size, seed)).to(device) for k in need}
                teachers = feature_teachers(methods, P.model.tubelet)
                t0 = time.perf_counter()
                targets = cache_targets(teachers, data["pretrain"]["video"], device=device)
                cache_s = time.perf_counter() - t0
            for arm in group:
                cfg = cfgs[arm.name]
                steps = arm.steps or plan.student_steps
                init = None
                if arm.init == "image":
                    init = load_teacher(P, "image", "base", seed).encoder
                method, res = pretrain_student(P, cfg, teachers, data, seed, steps, targets=targets,
                                               init=init, device=device)
                step_s = float(np.median([r["step_time_s"] for r in res.history])) if res.history else math.nan
                acc = probe(method, data, seed=seed, device=device, epochs=P.train.probe_epochs,
                            few_labels=plan.few_labels if arm.few_labels else None)
                row = dict(arm=arm.name, variant=arm.variant, seed=seed, teachers=size, steps=steps,
                           teacher_seed=plan.teacher_seed(size, seed) if need else None,
                           train_s=res.wall_time_s, step_s=step_s, cache_s=cache_s,
                           initial_loss=float(np.mean([r["loss"] for r in res.history[:5]])) if res.history else math.nan,
                           final_loss=float(np.mean([r["loss"] for r in res.history[-5:]])) if res.history else math.nan,
                           **acc)
                rows.append(row)
                log(f"{arm.name} seed {seed}: {steps} steps in {res.wall_time_s:.1f} s; "
                    + ", ".join(f"{t} {acc[t]:.1f}" for t in TASKS))
                del method
    return rows


def probe_videomae(profile, data: dict, *, size: str = "base", seeds=None, device=None,
                   few_labels=None) -> list[dict]:
    """Probe rows of VideoMAE models used as pixel baselines (``arm`` = ``videomae`` / ``videomae:short``):
    the baselines' VideoMAE (``base``) or this chapter's shorter one (``short``)."""
    return [dict(r, arm="videomae" + ("" if size == "base" else f":{size}"))
            for r in probe_teachers(profile, data, size=size, seeds=seeds, device=device, few_labels=few_labels,
                                    kinds=("video",))]


# ----------------------------------------------------------------------------------------- timing
def measure_step_time(method: nn.Module, batch_fn: Callable[[int], dict], *, steps: int = 8, warmup: int = 2,
                      device=None) -> float:
    """Median wall-clock seconds of one fp32 training step (forward, backward, AdamW) on this machine
    (:func:`maskedav.perf.step_times`). The method's weights change (use a fresh method)."""
    from maskedav.perf import step_times

    return float(np.median(step_times(method, batch_fn, steps=steps, warmup=warmup, device=device)))


def model_cost(encoder: ViTEncoder, input_size: Sequence[int]) -> dict:
    """Parameters (M) and inference GFLOPs per view in the papers' unit (GMACs, spec §8) of an encoder on
    one clip of ``input_size = (C, T, H, W)`` (all tokens)."""
    from maskedav.counting import count_flops, count_parameters

    x = torch.zeros(1, *input_size, device=next(encoder.parameters()).device)
    fc = count_flops(encoder, x)
    return dict(params_m=count_parameters(encoder) / 1e6, gflops_view=fc.gmacs)


# --------------------------------------------------------------------------------------- hand-off
def save_runs(name: str, rows: list[dict], profile) -> None:
    """Store run rows for later notebooks (``mvd/runs/<name>`` in the checkpoint cache)."""
    from maskedav.checkpoints import save_checkpoint

    save_checkpoint(f"mvd/runs/{name}", {"rows": list(rows)}, profile=_profile(profile).name)


def load_runs(name: str, profile) -> list[dict]:
    from maskedav.checkpoints import load_checkpoint

    return list(load_checkpoint(f"mvd/runs/{name}", profile=_profile(profile).name)["state_dict"]["rows"])


def summarize(rows: list[dict], metrics=TASKS, by: str = "arm"):
    """Mean, std and seed count per arm: a DataFrame with ``<metric>_mean``, ``<metric>_std``, ``seeds``."""
    import pandas as pd

    df = pd.DataFrame(rows)
    out = []
    for arm, g in df.groupby(by, sort=False):
        r = {by: arm, "seeds": len(g)}
        for m in metrics:
            if m in g:
                v = g[m].astype(float)
                r[f"{m}_mean"] = float(v.mean())
                r[f"{m}_std"] = float(v.std(ddof=1)) if len(v) > 1 else math.nan
        out.append(r)
    return pd.DataFrame(out)


def pm(rows: list[dict], arm: str, metric: str, digits: int = 1) -> str:
    """``"mean ± std"`` of ``metric`` over the seeds of ``arm`` (``"n/a"`` when absent)."""
    v = np.array([r[metric] for r in rows if r["arm"] == arm and metric in r], dtype=float)
    if len(v) == 0:
        return "n/a"
    return f"{v.mean():.{digits}f} ± {v.std(ddof=1):.{digits}f}" if len(v) > 1 else f"{v.mean():.{digits}f}"


def values(rows: list[dict], arm: str, metric: str) -> list[float]:
    """Per-seed values of ``metric`` for ``arm``, ordered by seed."""
    return [float(r[metric]) for r in sorted(rows, key=lambda r: r["seed"])
            if r["arm"] == arm and r.get(metric) is not None]


# ----------------------------------------------------------------------------------------- claims
@dataclass(frozen=True)
class Claim:
    """A claim of the paper as a comparison of two arms on one metric (spec §10.3, E1–E9).

    ``arm_b = "best_single"`` compares with whichever of ``image`` / ``video`` has the higher mean on the
    metric (E1: co-teaching must beat *both* single teachers; the better one is the binding comparison).
    """

    id: str
    table: str
    statement: str
    paper_effect: str
    arm_a: str
    arm_b: str
    metric: str
    direction: str = "greater"


CLAIMS: tuple[Claim, ...] = (
    Claim("E1.appearance", "table1", "co-teaching beats the better single teacher on the spatially heavy task",
          "+0.2 (S) / +0.4 (B) K400 top-1 over the better single teacher", "coteach", "best_single", "appearance"),
    Claim("E1.motion", "table1", "co-teaching beats the better single teacher on the temporally heavy task",
          "+0.7 (S and B) SSv2 top-1 over the better single teacher", "coteach", "best_single", "motion"),
    Claim("E2.appearance", "table1", "an image teacher's student beats a video teacher's on the spatially heavy task",
          "+0.3 (S) / +0.2 (B) K400 top-1", "image", "video", "appearance"),
    Claim("E2.motion", "table1", "a video teacher's student beats an image teacher's on the temporally heavy task",
          "+0.6 (S) / +0.4 (B) SSv2 top-1", "video", "image", "motion"),
    Claim("E3.appearance", "table2", "MVD (co-teaching, half the teachers' steps) beats VideoMAE (full schedule)",
          "+1.2 (B, T-B) to +2.0 (S, T-L) K400 top-1", "coteach", "videomae", "appearance"),
    Claim("E3.motion", "table2", "MVD (co-teaching, half the teachers' steps) beats VideoMAE (full schedule)",
          "+2.8 (B, T-B) to +4.5 (S, T-L) SSv2 top-1", "coteach", "videomae", "motion"),
    Claim("E4.appearance", "table2", "larger teachers give better students",
          "+0.4 (S) / +0.7 (B) K400 top-1, T-L vs T-B", "coteach_large", "coteach", "appearance"),
    Claim("E4.motion", "table2", "larger teachers give better students",
          "+0.2 (S) / +1.2 (B) SSv2 top-1, T-L vs T-B", "coteach_large", "coteach", "motion"),
    Claim("E5.appearance", "table9", "masked feature reconstruction beats per-token distillation",
          "+1.2 K400 top-1 (ViT-B, video teacher)", "video", "per_token", "appearance"),
    Claim("E5.motion", "table9", "masked feature reconstruction beats per-token distillation",
          "+1.3 SSv2 top-1 (ViT-B, video teacher)", "video", "per_token", "motion"),
    Claim("E6.image", "table7", "an extra pixel-reconstruction branch hurts (image teacher)",
          "-0.8 SSv2 top-1 with the pixel branch", "image", "image_pixel", "motion"),
    Claim("E6.coteach", "table7", "an extra pixel-reconstruction branch hurts (co-teaching)",
          "-1.1 SSv2 top-1 with the pixel branch", "coteach", "coteach_pixel", "motion"),
    Claim("E7.appearance", "table8", "frozen teachers beat a bootstrapped (EMA) teacher trained 2x longer",
          "+2.2 K400 top-1 (fixed co-teaching vs momentum encoder)", "coteach", "bootstrap", "appearance"),
    Claim("E7.motion", "table8", "frozen teachers beat a bootstrapped (EMA) teacher trained 2x longer",
          "+2.1 SSv2 top-1 (fixed co-teaching vs momentum encoder)", "coteach", "bootstrap", "motion"),
    Claim("E7.init.appearance", "table8", "frozen teachers beat an image-initialised EMA teacher trained 2x longer",
          "+0.9 K400 top-1 (fixed co-teaching vs momentum encoder, init)", "coteach", "bootstrap_init", "appearance"),
    Claim("E7.init.motion", "table8", "frozen teachers beat an image-initialised EMA teacher trained 2x longer",
          "+1.7 SSv2 top-1 (fixed co-teaching vs momentum encoder, init)", "coteach", "bootstrap_init", "motion"),
    Claim("E8", "fig3", "image-teacher features are more similar across time slices than video-teacher features",
          "qualitative (Fig. 3: near-uniform vs decaying off-diagonal)", "teacher:image", "teacher:video",
          "offdiag_similarity"),
    Claim("E9", "table6", "MVD (teacher + student) beats a longer VideoMAE at no more total wall-clock",
          "+0.4 K400 top-1 at 164 h vs 214 h", "mvd_t6", "videomae", "appearance"),
)
CLAIMS_BY_ID = {c.id: c for c in CLAIMS}


def decide_claim(claim: Claim | str, rows: list[dict], alpha: float = 0.1, min_seeds: int = 3):
    """The :func:`maskedav.claims.verdict` of a claim on per-seed ``rows`` (rule fixed here: one-sided
    Welch t at ``alpha`` = 0.1, >= 3 seeds per arm, else inconclusive). Returns ``(Verdict, arm_b used)``."""
    from maskedav.claims import verdict

    c = CLAIMS_BY_ID[claim] if isinstance(claim, str) else claim
    arm_b = c.arm_b
    if arm_b == "best_single":
        means = {a: np.mean(values(rows, a, c.metric)) for a in ("image", "video")}
        arm_b = max(means, key=means.get)
    return verdict(values(rows, c.arm_a, c.metric), values(rows, arm_b, c.metric), c.direction,
                   alpha=alpha, min_seeds=min_seeds), arm_b


def record_claims(ids: Sequence[str], rows: list[dict], *, results_dir, profile: str):
    """Decide and write the claims ``ids`` to ``results/claims.csv``; returns a DataFrame of verdicts."""
    import pandas as pd

    from maskedav.claims import record_claim

    out = []
    for cid in ids:
        c = CLAIMS_BY_ID[cid]
        v, arm_b = decide_claim(c, rows)
        statement = f"{c.statement} [{c.arm_a} vs {arm_b}, {c.metric}]"
        record_claim(results_dir, "mvd", c.id, c.table, statement, c.paper_effect, v, profile)
        out.append(dict(claim=c.id, table=c.table, arm_a=c.arm_a, arm_b=arm_b, metric=c.metric,
                        mean_a=v.mean_a, mean_b=v.mean_b, effect=v.effect, ci_low=v.ci_low, ci_high=v.ci_high,
                        p_value=v.p_value, n_seeds=v.n_seeds, verdict=v.verdict))
    return pd.DataFrame(out)


def describe_verdicts(df) -> str:
    """One computed sentence per claim row of :func:`record_claims`."""
    lines = []
    for r in df.itertuples():
        ci = "" if not np.isfinite(r.ci_low) else f", 80 % CI [{r.ci_low:+.3g}, {r.ci_high:+.3g}]"
        lines.append(f"- **{r.claim}** ({r.table}): {r.arm_a} {r.mean_a:.3g} vs {r.arm_b} {r.mean_b:.3g} on "
                     f"{r.metric} (effect {r.effect:+.3g}{ci}, {r.n_seeds} seeds) → **{r.verdict}**.")
    return "\n".join(lines)


# ----------------------------------------------------------------------------------------- figures
def fig3_figure(sims: dict[str, torch.Tensor], *, seeds: int, clips: int, tubelet: int = 2):
    """Fig. 3: frame-by-frame similarity of the teachers' targets (mean over clips and teacher seeds), a
    shared colour scale, and the mean similarity against the time distance |i − j|."""
    import matplotlib.pyplot as plt

    from maskedav import viz

    viz.set_style()
    keys = list(sims)
    fig, axes = plt.subplots(1, len(keys) + 1, figsize=(3.3 * (len(keys) + 1), 3.0))
    lo = min(0.0, min(float(s.min()) for s in sims.values()))
    titles = {"image": "image teacher (MAE),\nfirst frame of each tubelet", "video": "video teacher (VideoMAE),\ntime slices",
              "image (all frames)": "image teacher, every frame"}
    for ax, k in zip(axes, keys):
        viz.similarity_matrix(ax, sims[k], title=titles.get(k, k), vmin=lo, vmax=1.0)
    ax = axes[-1]
    for k in keys:
        s = sims[k]
        T = s.shape[0]
        d = torch.arange(T)
        dist = (d[:, None] - d[None, :]).abs()
        xs = list(range(1, T))
        frames_per_step = 1 if k == "image (all frames)" else tubelet     # distance in frames
        ax.plot([x * frames_per_step for x in xs], [float(s[dist == x].mean()) for x in xs], "o-", label=k)
    ax.set_xlabel("time distance |i − j| (frames)")
    ax.set_ylabel("mean cosine similarity")
    ax.set_title("similarity vs distance")
    ax.legend(fontsize=7)
    fig.suptitle(f"Fig. 3 (regenerated): last-block features, cosine per position averaged; {clips} held-out "
                 f"clips × {seeds} teacher seeds", y=1.03, fontsize=9)
    fig.tight_layout()
    return fig


def _render(fig) -> np.ndarray:
    fig.canvas.draw()
    return np.asarray(fig.canvas.buffer_rgba())[..., :3].copy()


def fig2_figure(profile):
    """Fig. 2 drawn from the implemented pipeline: forward passes of the two stage-1 teachers (MAE on
    frames, VideoMAE on clips) and of the stage-2 MVD student with both frozen teachers, traced with
    :func:`maskedav.viz.trace_modules` and drawn with :func:`maskedav.viz.module_diagram`."""
    import matplotlib.pyplot as plt

    from maskedav import viz

    from . import MAE, VideoMAE
    from .recipes import build_config

    P = _profile(profile)
    d = P.data
    torch.manual_seed(0)
    mae, vmae = MAE(build_config("mae", P)), VideoMAE(build_config("videomae", P))
    mvd = MVD(student_config(P, "coteach"), mae, vmae)
    video = torch.rand(2, 3, d.frames, d.image_size, d.image_size)
    panels = [
        ("stage 1a: image teacher = MAE (masked image modelling, pixels)",
         viz.trace_modules(mae, {"image": video[:, :, 0]}), {"encoder": "trained", "decoder": "trained"}),
        ("stage 1b: video teacher = VideoMAE (masked video modelling, pixels)",
         viz.trace_modules(vmae, {"video": video}), {"encoder": "trained", "decoder": "trained"}),
        ("stage 2: MVD student (tube mask 90 %) → two decoders → smooth-L1 to frozen teachers' features",
         viz.trace_modules(mvd, {"video": video}),
         {"encoder": "trained", "decoder_image": "trained", "decoder_video": "trained",
          "image_teacher": "frozen teacher", "video_teacher": "frozen teacher", "loss_fn": "loss"}),
    ]
    images = []
    for title, trace, groups in panels:
        f = viz.module_diagram(trace, title="", groups=groups, width=6.5)
        images.append((title, _render(f)))
        plt.close(f)
    viz.set_style()
    fig = plt.figure(figsize=(13, 5.2))
    gs = fig.add_gridspec(2, 2, width_ratios=[1, 1.25])
    axes = [fig.add_subplot(gs[0, 0]), fig.add_subplot(gs[1, 0]), fig.add_subplot(gs[:, 1])]
    for ax, (title, img) in zip(axes, images):
        ax.imshow(img)
        ax.set_title(title, fontsize=8)
        ax.axis("off")
    fig.suptitle(f"Fig. 2 (regenerated from the code): MVD's two-stage pipeline at profile {P.name} "
                 f"(shapes: batch 2 of {d.frames}×{d.image_size}²)", fontsize=9)
    fig.tight_layout()
    return fig
