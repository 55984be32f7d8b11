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

Teacher features can be **cached** (:func:`cache_targets`, :meth:`MVD.cached_inputs`): the teachers
are frozen and, without augmentation, the SynthAV clip of an index is fixed, so ``h_img(X)`` /
``h_vid(X)`` are computed once per clip and given to :meth:`MVD.forward` as ``batch["target_image"]`` /
``batch["target_video"]`` (spec §10.2's efficiency trick).

This module is the model only. The chapter (its arms, teachers, tables, figures and claims E1–E9) is
:mod:`maskedav.chapters.mvd`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from maskedav.configs import ViTConfig, check_choice
from maskedav.losses import feature_regression, masked_mse, patchify_video
from maskedav.masking import Mask, select_masked, tube_mask
from maskedav.nn import MAEDecoder, ViTEncoder
from maskedav.teachers import cosine_momentum, ema_update, freeze, make_ema_teacher

from .base import (IMAGENET_MEAN, IMAGENET_STD, MethodConfig, PretrainMethod, VideoSpace, as_mask,
                   grid_layout, profile_target, reconstruction_dict)

__all__ = [
    "MVDConfig", "MVD", "FeatureTeacher", "FeatureLoss", "PixelLoss", "VARIANTS", "LOSS_KEYS",
    "image_teacher_frames", "align_image_features", "image_target_frame", "normalize_video",
    "inflate_image_encoder", "cache_targets", "frame_similarity", "offdiag_mean",
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

    @classmethod
    def from_method(cls, method: nn.Module, kind: str, tubelet: int = 2, layer: int = -1) -> "FeatureTeacher":
        """The target generator of a trained teacher *method* (e.g. an :class:`~maskedav.methods.MAE` /
        :class:`~maskedav.methods.VideoMAE`): its ``.encoder``, fed as its config says
        (``normalize_input``: ImageNet normalisation, else [0, 1] input)."""
        norm = "imagenet" if getattr(getattr(method, "config", None), "normalize_input", True) else None
        return cls(method.encoder, kind, tubelet, layer, norm)

    def fingerprint(self) -> str:
        """A digest of what the targets are a function of: the kind, tubelet, layer, input normalisation
        and the teacher's weights (names the cached targets, :meth:`MVD.cached_inputs`)."""
        import hashlib

        h = hashlib.sha256(repr((self.kind, self.tubelet, self.layer, self.normalize)).encode())
        for name, t in sorted(self.encoder.module.state_dict().items()):
            h.update(name.encode())
            h.update(t.detach().float().cpu().contiguous().numpy().tobytes())
        return h.hexdigest()[:20]

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
    """VideoMAE pixel loss on masked tubelets (Table 7 branch): MSE to per-channel normalised pixels
    (``norm_pix="per_channel"``, the paper) or to raw pixels (``None``, the small profiles' target)."""

    def __init__(self, patch: int, tubelet: int, norm_pix: str | None = "per_channel"):
        super().__init__()
        self.patch, self.tubelet, self.norm_pix = patch, tubelet, norm_pix

    def forward(self, pred: torch.Tensor, video: torch.Tensor, mask: Mask):
        target = patchify_video(video.float(), self.patch, self.tubelet)
        return masked_mse(pred.float(), target, mask, norm_pix=self.norm_pix)


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
    ``loss`` / ``beta`` / ``norm_target``: D of Eq. 2. ``pixel_weight``: Table 7's extra pixel decoder,
    whose target is VideoMAE's per-channel normalised pixels (``pixel_norm="per_channel"``) or raw
    pixels (``None``, what :meth:`from_profile` sets where the profile trains on raw pixels).
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
    pixel_norm: str | None = "per_channel"
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
        super().__post_init__()
        check_choice("MVDConfig.loss", self.loss, ("smooth_l1", "l2", "l1"))
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
        ``cpu`` costs ~40 % less per CPU step — a deliberate deviation, see the chapter). The pixel
        branch's target follows the profile (raw pixels where ``profile.model.pixel_target == "raw"``)."""
        from maskedav.profiles import get_profile

        p = get_profile(profile) if isinstance(profile, str) or profile is None else profile
        vit = ViTConfig.from_profile(p, "video", name=f"mvd-{p.name}", pos_embed="sincos",
                                     decoder_dim=p.model.decoder_dim, decoder_heads=p.model.decoder_heads,
                                     decoder_depth=1, decoder_pos_embed="sincos", decoder_embed_bias=True)
        target = {"pixel_norm": None} if "norm_pix" in profile_target(p) else {}
        return cls(vit=vit).replace(**{**target, **changes})

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
        self.pixel_loss = PixelLoss(self.patch, self.tubelet, config.pixel_norm) if config.pixel_weight > 0 else None

    def _as_teacher(self, teacher: nn.Module, kind: str) -> FeatureTeacher:
        if isinstance(teacher, FeatureTeacher):
            return teacher
        if isinstance(teacher, ViTEncoder):
            return FeatureTeacher(teacher, kind, self.tubelet, self.config.teacher_layer, "imagenet")
        return FeatureTeacher.from_method(teacher, kind, self.tubelet, self.config.teacher_layer)

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
            out.update(reconstruction_dict(self.space, video, full, m, self.config.pixel_norm))
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
        """``(B, D)``: mean over all tokens of the student's final-norm output, nothing masked."""
        return self.encoder(self.space.model_input(self.space.raw(batch))).mean(1)

    def grid_tokens(self, batch) -> list[torch.Tensor]:
        """The student's final-norm tokens, nothing masked, on the ``(t, h, w)`` grid:
        ``[(B, D, T', H', W')]`` (what the study layer's readouts pool; the teachers are not used)."""
        tokens = self.encoder(self.space.model_input(self.space.raw(batch)))
        return [grid_layout(tokens[:, self.encoder.num_prefix_tokens:], self.encoder.grid_size)]

    @torch.no_grad()
    def cached_inputs(self, data: dict, *, device=None, store=None, batch_size: int = 128) -> dict:
        """The frozen teachers' targets of every clip of ``data["video"]``, ``{"target_<branch>": (N, N_tok,
        C)}`` (none for ``bootstrap``, whose EMA teacher changes every step). ``store(name, compute)``
        (optional, e.g. :meth:`maskedav.study.Study.input_store`) caches each teacher's targets under
        the teacher's :meth:`FeatureTeacher.fingerprint`, so students of the same teacher share them."""
        if self.config.bootstrap:
            return {}
        out = {}
        for b, teacher in self.teachers().items():
            def compute(b=b, teacher=teacher):
                return cache_targets({b: teacher}, data["video"], batch_size, device)[b]
            out[f"target_{b}"] = compute() if store is None else store(f"mvd-target-{teacher.fingerprint()}", compute)
        return out


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


def offdiag_mean(sim: torch.Tensor) -> torch.Tensor:
    """Mean of the off-diagonal entries of ``(..., T', T')`` similarity matrices (Fig. 3's contrast:
    high for features that stay alike across time slices), ``(...)``."""
    T = sim.shape[-1]
    off = ~torch.eye(T, dtype=torch.bool, device=sim.device)
    return sim[..., off].mean(-1)
