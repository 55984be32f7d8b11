"""XKD: cross-modal knowledge distillation with domain alignment (Sarkar & Etemad, arXiv 2211.13929 v1/v2).

Two pseudo-tasks trained jointly from scratch (spec §1, §4.8, code-faithful):

* **masked data modelling** — a video and an audio MAE: random masking of the global views (85 % of the
  video tubelets, 80 % of the audio patches, spec §3; ``int(N·(1 − r))`` kept as the MAE code XKD copies:
  58 of 392 and, in floating point, 111 of 560), a decoder per modality without a final LayerNorm,
  per-patch norm-pix targets, MSE on masked tokens (Eqs. 1–2);
* **cross-modal distillation** (DINO-style, Eqs. 10–11) — each modality's student is its AE encoder plus a
  projector head (:class:`~maskedav.nn.ProjectorMLP`), fed the masked global view's visible tokens and
  ``num_local_views`` unmasked local views (a random segment of ``local_time`` of the clip; for video also a
  random ``local_space`` crop); each teacher is an EMA copy of its student (Eq. 13, cosine 0.997 → 1) fed
  the unmasked global view. The **audio teacher teaches the video student and the video teacher the audio
  student**: cross-entropy between the centred, sharpened teacher softmax and the student softmax.

Domain alignment (the paper's device against collapse):

* :func:`cross_modal_attention` (Eq. 4) from the CLS attention of each teacher's last block (Eq. 3) —
  separable, so it is each modality's own CLS attention rescaled per head by the ratio of the two
  modalities' mean attention mass (spec §4.3; never materialised as ``H × N_v × N_a``);
* :func:`refine` (Eqs. 5–6, the code's energy-preserving form: attention-weighted pooling rescaled to the
  norm of plain mean pooling) of the teacher's tokens before its head;
* :func:`~maskedav.losses.mmd_multi_kernel` (Eqs. 7–9, the code's biased squared MMD with seven RBF
  kernels) between the video and audio students' outputs and between the teachers' (the teacher term has no
  gradient: it is logged, spec §9.8).

Loss (Eq. 12, the code's normalised form): ``(5·L_ae + 1·L_da + 1·L_kd) / 7`` with each term the mean of
its two modality terms. Per-tensor gradient clipping of the students' parameters at 0.3 (DINO's
``clip_gradients``, code only) runs as gradient hooks registered at the first training forward, so that a
copy of the encoder fine-tuned downstream is not clipped.

Ablation switches (:class:`XKDConfig`): the reconstruction terms (Table 1's ``L_recon^v``, ``L_recon^a``,
``L_ae``), the loss weights (``kd_weight = 0``: Table S1; ``da_weight = 0``: no alignment), ``da``
(Table 2's ``L_da^1``, ``L_da^2``, ``L_da^3``), ``refine`` ("no.refine", Eq. 14 — applied to the KD targets
and the MMD alike, spec §9.8), ``cls_attention`` (Table S2's "w/o CLS"), ``cm_attention`` (Eq. S1),
``proj_norm`` (Table 10), ``centering`` (Fig. S1), ``ema_momentum`` (Table 8), teacher temperatures
(Table 9), ``num_local_views`` / ``local_time`` (Tables S3–S4), the mask ratios (Fig. S3), ``teacher_view``
(the paper's global view vs the released code's local view, spec §9.2) and ``sharing`` (Table 3's
modality-agnostic variants: MAS shares the students' transformer blocks, MATS students' and teachers',
MAT the teachers' only; patch embeddings, positions, CLS, final norm, heads and decoders stay per modality).

Views at another size than the global one (local views) are embedded by the encoder's own projection with
its positional embeddings interpolated from the global grid (trilinear over ``(t, h, w)`` for video, bicubic
along time only for audio, spec §12).

Deviations: a video local view is a plain random crop of ``local_space`` of the side over a random
``local_time`` segment (the code: a random-resized crop to 96², scale [0.08, 0.4]), and no augmentation
of Tables S7–S8 (flip, colour jitter, grey-scale, blur, volume jitter, BYOL-A's resize-crop) is applied:
the book's data pipeline has none for any method.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, field
from functools import partial

import torch
import torch.nn.functional as F
from torch import nn

from maskedav.configs import ViTConfig, check_choice, paper_config
from maskedav.counting import count_parameters
from maskedav.losses import XKD_GAMMAS, dino_distillation, masked_mse, mmd_multi_kernel, update_center
from maskedav.masking import Mask, random_mask
from maskedav.nn import MAEDecoder, ProjectorMLP, ViTEncoder
from maskedav.teachers import FrozenTeacher, cosine_momentum, ema_update

from .base import (MethodConfig, PretrainMethod, SpectrogramSpace, VideoSpace, as_mask, grid_layout,
                   profile_target, reconstruction_dict)

__all__ = ["XKDConfig", "XKD", "build_xkd", "cross_modal_attention", "refine", "cls_attention", "encode_view",
           "XKD_FBANK_STATS", "DA_VARIANTS", "SHARING"]

#: XKD code: log-mel normalised with ``(x - (-5.3688107)) / 4.410007`` (dataset statistics, spec §2.1).
XKD_FBANK_STATS = (-5.3688107, 4.410007)
DA_VARIANTS = ("default", "da1", "da2", "da3", "none")
SHARING = ("none", "mas", "mats", "mat")
MODALITIES = ("video", "audio")


@dataclass(frozen=True)
class XKDConfig(MethodConfig):
    """Ablation switches of XKD (defaults: Table S10 / S11 and the released code, spec §2–§5).

    ``video`` / ``audio``: the two ViTs (the same width, depth and heads: Eq. 4 pairs head ``h`` of one
    teacher with head ``h`` of the other). ``reconstruct``: modalities whose MAE loss counts.
    ``local_time`` / ``local_space``: a local view's share of the global clip's time (1 s of 4 s) and of its
    side (96 of 112 px), rounded to whole patches. ``proj_*``: the projector (hidden 2048, bottleneck 256,
    out 8192, 3 layers, ``"all"`` normalised). Temperatures: students 0.1, teachers video 0.1 / audio 0.07
    (Table S11; the text's "0.04 → 0.06" is ``teacher_temp_warmup=(0.04, 0.04)`` with the finals at 0.06
    over ``teacher_temp_warmup_steps``). ``ema_momentum`` 0.997, on a cosine to 1 over
    ``ema_total_steps`` (0: constant). ``mmd_gamma_scale`` multiplies the kernels' γ (spec §10.1: the
    kernels' regime depends on ``proj_out``).
    """

    video: ViTConfig = field(default_factory=lambda: paper_config("xkd-video"))
    audio: ViTConfig = field(default_factory=lambda: paper_config("xkd-audio"))
    mask_ratio_v: float = 0.85
    mask_ratio_a: float = 0.80
    norm_pix: str | None = "per_patch"
    reconstruct: tuple = MODALITIES
    local_time: float = 0.25
    local_space: float = 96 / 112
    num_local_views: int = 1
    teacher_view: str = "global"
    proj_hidden: int = 2048
    proj_bottleneck: int = 256
    proj_out: int = 8192
    proj_layers: int = 3
    proj_norm: str = "all"
    student_temp: float = 0.1
    teacher_temp_v: float = 0.1
    teacher_temp_a: float = 0.07
    teacher_temp_warmup: tuple | None = None
    teacher_temp_warmup_steps: int = 0
    centering: bool = True
    center_momentum: float = 0.9
    ema_momentum: float = 0.997
    ema_total_steps: int = 0
    ae_weight: float = 5.0
    da_weight: float = 1.0
    kd_weight: float = 1.0
    da: str = "default"
    refine: bool = True
    cls_attention: bool = True
    cm_attention: str = "mean"
    mmd_gammas: tuple = XKD_GAMMAS
    mmd_gamma_scale: float = 1.0
    sharing: str = "none"
    student_grad_clip: float | None = 0.3
    normalize_input: bool = True
    fbank_mean: float = XKD_FBANK_STATS[0]
    fbank_std: float = XKD_FBANK_STATS[1]
    seed: int = 0

    def __post_init__(self):
        super().__post_init__()
        v, a = self.video, self.audio
        if v.modality != "video" or a.modality != "audio":
            raise ValueError("XKD needs a video ViTConfig and an audio ViTConfig")
        if not (v.cls_token and a.cls_token):
            raise ValueError("XKD's encoders have a cls token (its attention is Eq. 3's query)")
        if v.heads != a.heads:
            raise ValueError(f"Eq. 4 pairs the teachers' heads: video has {v.heads}, audio {a.heads}")
        if self.sharing != "none" and (v.dim, v.depth, v.mlp_ratio, v.qkv_bias) != (a.dim, a.depth, a.mlp_ratio,
                                                                                  a.qkv_bias):
            raise ValueError("shared blocks need the same width, depth, MLP ratio and qkv bias in both ViTs")
        name = type(self).__name__
        check_choice(f"{name}.norm_pix", self.norm_pix, ("per_patch", None))
        check_choice(f"{name}.teacher_view", self.teacher_view, ("global", "local"))
        check_choice(f"{name}.proj_norm", self.proj_norm, ("all", "last", "none"))
        check_choice(f"{name}.da", self.da, DA_VARIANTS)
        check_choice(f"{name}.cm_attention", self.cm_attention, ("mean", "softmax"))
        check_choice(f"{name}.sharing", self.sharing, SHARING)
        if not set(self.reconstruct) <= set(MODALITIES):
            raise ValueError(f"{name}.reconstruct must be a subset of {MODALITIES}, got {self.reconstruct}")
        if self.ae_weight + self.da_weight + self.kd_weight <= 0:
            raise ValueError("the loss weights must not all be zero")
        if self.num_local_views < 1:
            raise ValueError("XKD's students need at least one local view")
        for f in ("local_time", "local_space"):
            if not 0 < getattr(self, f) <= 1:
                raise ValueError(f"{name}.{f} must lie in (0, 1]")

    @property
    def local_sizes(self) -> tuple[tuple[int, int, int], int]:
        """A local view's ``(T, H, W)`` for video and its fbank frames for audio: ``local_time`` /
        ``local_space`` of the global view in whole patches (paper: 8 × 96² of 32 × 112², 112 of 448)."""
        v, a = self.video, self.audio
        T, H, W = v.input_size
        ph, pw = v.patch
        return ((_extent(T, self.local_time, v.tubelet), _extent(H, self.local_space, ph),
                 _extent(W, self.local_space, pw)), _extent(a.input_size[0], self.local_time, a.patch[0]))

    @property
    def distills(self) -> bool:
        """Whether students, teachers and their losses run at all (Table 1's AE-only rows: they do not)."""
        return self.kd_weight > 0 or self.da_weight > 0

    @classmethod
    def from_profile(cls, profile, **changes) -> "XKDConfig":
        """Small XKD of a run profile (spec §10.1): the profile's video ViT and its audio ViT in XKD's
        ``"ft"`` layout, both with a cls token, learned positions, no qkv bias and decoders without a final
        norm; projector 3 × 256, bottleneck 64, out 1024. Pass ``fbank_mean`` / ``fbank_std``."""
        from maskedav.profiles import get_profile

        p = get_profile(profile) if isinstance(profile, str) else profile
        xkd = dict(cls_token=True, qkv_bias=False, pos_embed="learned", decoder_pos_embed="learned",
                   decoder_norm=False)
        video = ViTConfig.from_profile(p, "video", name="xkd-video-small", **xkd)
        audio = ViTConfig.from_profile(p, "audio", spec_layout="ft", name="xkd-audio-small", **xkd)
        small = dict(proj_hidden=256, proj_bottleneck=64, proj_out=1024, fbank_mean=0.0, fbank_std=1.0)
        return cls(video=video, audio=audio, **small).replace(**{**profile_target(p), **changes})

    @classmethod
    def paper(cls, **changes) -> "XKDConfig":
        """XKD: two ViT-B (87M each), 32 × 112² video (4 × 16² tubelets), 80 × 448 fbank (4 × 16 patches)."""
        return cls().replace(**changes)


# ============================================================================ domain alignment
def cls_attention(block, tokens: torch.Tensor, use_cls: bool = True) -> torch.Tensor:
    """Eq. 3: the softmax attention of ``block`` (a timm ``Block``) on ``tokens`` ``(B, 1 + N, D)`` from
    the cls query to the N patch keys, ``(B, H, N)`` (each row sums to less than 1: the softmax also ran
    over the cls key, as the code). ``use_cls=False``: the mean over every query instead (Table S2)."""
    attn = block.attn
    y = block.norm1(tokens)
    B, L, _ = y.shape
    qkv = attn.qkv(y).reshape(B, L, 3, attn.num_heads, attn.head_dim).permute(2, 0, 3, 1, 4)
    q, k = attn.q_norm(qkv[0]), attn.k_norm(qkv[1])
    maps = ((q * attn.scale) @ k.transpose(-2, -1)).softmax(dim=-1)          # (B, H, L, L)
    return (maps[:, :, 0] if use_cls else maps.mean(dim=-2))[..., 1:]


def cross_modal_attention(a_v: torch.Tensor, a_a: torch.Tensor, mode: str = "mean") -> tuple:
    """Eq. 4 (code ``cm_attn_mode='mean'``): ``A_v^× = mean_i(A_v ∘ A_a^T) / mean(A_v)`` per head and its
    audio twin, ``(B, H, N_v)`` and ``(B, H, N_a)``. The outer product is separable, so this is computed as
    ``A_v · mean(A_a) / mean(A_v)`` without forming ``(B, H, N_a, N_v)``. ``mode="softmax"``: Eq. S1,
    ``softmax`` over tokens of ``mean_i(A_v ∘ A_a^T)``."""
    mean_v, mean_a = a_v.mean(-1, keepdim=True), a_a.mean(-1, keepdim=True)
    if mode == "mean":
        return a_v * mean_a / mean_v, a_a * mean_v / mean_a
    if mode == "softmax":
        return (a_v * mean_a).softmax(-1), (a_a * mean_v).softmax(-1)
    raise ValueError(f"mode must be 'mean' or 'softmax', not {mode!r}")


def refine(tokens: torch.Tensor, cross_attention: torch.Tensor) -> torch.Tensor:
    """Eqs. 5–6 as the code's ``align_feats``: ``Ω · a · F`` with ``a`` the head-mean of ``cross_attention``
    ``(B, H, N)`` and ``Ω = ‖mean_n F‖ / ‖mean_n a·F‖`` (a ratio of norms, spec §9.4), so the mean of the
    refined tokens has the norm of the plain mean. ``tokens``: ``(B, N, D)`` without the cls token."""
    a = cross_attention.mean(dim=1)[..., None]
    e_org = tokens.mean(1).pow(2).sum(-1, keepdim=True)
    e_aft = (tokens * a).mean(1).pow(2).sum(-1, keepdim=True)
    omega = (e_org / e_aft).sqrt()[:, :, None]
    return omega * a * tokens


def _kl_monitor(student: torch.Tensor, teacher: torch.Tensor, center: torch.Tensor, student_temp: float,
                teacher_temp: float) -> torch.Tensor:
    """``KL(softmax((t − c)/τ_t) ‖ softmax(s/τ_s))``, mean over the batch (spec §9.22; logged only: it
    goes to 0 when teacher and student outputs collapse to one distribution, Fig. S1)."""
    log_q = F.log_softmax((teacher - center) / teacher_temp, dim=-1)
    log_p = F.log_softmax(student / student_temp, dim=-1)
    return (log_q.exp() * (log_q - log_p)).sum(-1).mean()


def _entropy(logits: torch.Tensor, temp: float, center: torch.Tensor) -> torch.Tensor:
    log_q = F.log_softmax((logits - center) / temp, dim=-1)
    return -(log_q.exp() * log_q).sum(-1).mean()


# ================================================================================== views
def encode_view(encoder: ViTEncoder, x: torch.Tensor, *, last_attention: bool = False,
                use_cls: bool = True):
    """Tokens ``(B, 1 + N, D)`` (cls first, after the final norm) of ``encoder`` on an unmasked input of
    any size its patches tile: the encoder's own patch projection, its positional embeddings interpolated
    from its global grid when the size differs (trilinear over ``(t, h, w)``; audio bicubic along time
    only). ``last_attention``: also return the cls attention of the last block (:func:`cls_attention`)."""
    pe = encoder.patch_embed
    if encoder.modality == "video":
        patches = pe.proj(x)                                                  # (B, D, t, h, w)
        mode = "trilinear"
    else:
        img = pe.to_image(x)
        patches = pe.embed.proj(img)                                          # (B, D, rows, cols)
        mode = "bicubic"
    grid = tuple(patches.shape[2:])
    pos = encoder.pos_embed().to(patches.dtype)                               # (1, N, D), global grid
    if grid != encoder.grid_size:
        pos = grid_layout(pos, encoder.grid_size)
        pos = F.interpolate(pos, size=grid, mode=mode, align_corners=False).flatten(2).transpose(1, 2)
    tokens = patches.flatten(2).transpose(1, 2) + pos
    cls = encoder.cls_token
    prefix = encoder.pos_embed.prefix()
    if prefix is not None:
        cls = cls + prefix
    tokens = torch.cat([cls.expand(tokens.shape[0], -1, -1).to(tokens.dtype), tokens], dim=1)
    *first, last = encoder.blocks
    for blk in first:
        tokens = blk(tokens)
    attention = cls_attention(last, tokens, use_cls) if last_attention else None
    tokens = encoder.norm(last(tokens))
    return (tokens, attention) if last_attention else tokens


def _extent(full: int, fraction: float, step: int) -> int:
    """A local view's length along one axis: ``fraction`` of ``full`` in whole patches of ``step`` (≥ 1)."""
    return min(full, max(step, int(round(full * fraction / step)) * step))


def _clip_tensor_grad(grad: torch.Tensor, max_norm: float) -> torch.Tensor:
    """DINO's ``clip_gradients`` for one tensor: scale to norm ``max_norm`` when larger."""
    return grad * (max_norm / (grad.norm() + 1e-6)).clamp(max=1.0)


# ================================================================================== the model
class XKD(PretrainMethod):
    """XKD: ``forward(batch) -> (loss, logs)`` on ``batch["video"]`` ``(B, 3, T, H, W)`` in [0, 1] and
    ``batch["fbank"]`` ``(B, T_frames, n_mels)`` (log-mel, un-normalised). ``.encoder`` is the video
    student's encoder (the paper's main subject); :meth:`grid_tokens` reads any of the four encoders."""

    def __init__(self, config: XKDConfig):
        super().__init__(config)
        c = config
        self.video_encoder = ViTEncoder.from_config(c.video)
        self.audio_encoder = ViTEncoder.from_config(c.audio)
        if c.sharing in ("mas", "mats"):
            self.audio_encoder.blocks = self.video_encoder.blocks
        self.video_decoder = MAEDecoder.from_config(c.video)
        self.audio_decoder = MAEDecoder.from_config(c.audio)
        head = partial(ProjectorMLP, out_dim=c.proj_out, hidden_dim=c.proj_hidden,
                       bottleneck_dim=c.proj_bottleneck, num_layers=c.proj_layers, norm=c.proj_norm)
        self.video_head, self.audio_head = head(c.video.dim), head(c.audio.dim)
        # Teachers: frozen copies of (encoder, head), trained by EMA only; teacher = student at step 0.
        self.video_teacher = FrozenTeacher(nn.ModuleDict(dict(
            encoder=copy.deepcopy(self.video_encoder), head=copy.deepcopy(self.video_head))))
        self.audio_teacher = FrozenTeacher(nn.ModuleDict(dict(
            encoder=copy.deepcopy(self.audio_encoder), head=copy.deepcopy(self.audio_head))))
        if c.sharing in ("mats", "mat"):
            self.audio_teacher.module["encoder"].blocks = self.video_teacher.module["encoder"].blocks
        self.register_buffer("center_v", torch.zeros(1, c.proj_out))
        self.register_buffer("center_a", torch.zeros(1, c.proj_out))
        self.register_buffer("ema_steps", torch.zeros((), dtype=torch.long))
        self.video_space = VideoSpace(c.video.patch, c.video.tubelet, c.video.grid_size,
                                      normalize=c.normalize_input)
        self.audio_space = SpectrogramSpace(c.audio.input_size, c.audio.patch, layout=c.audio.spec_layout,
                                            mean=c.fbank_mean, std=c.fbank_std)
        self._clip_hooks: list | None = None

    @property
    def encoder(self) -> ViTEncoder:
        return self.video_encoder

    def encoders(self, modality: str, teacher: bool = False) -> tuple[ViTEncoder, ProjectorMLP]:
        """``(encoder, head)`` of a modality's student or teacher."""
        if teacher:
            t = (self.video_teacher if modality == "video" else self.audio_teacher).module
            return t["encoder"], t["head"]
        return ((self.video_encoder, self.video_head) if modality == "video"
                else (self.audio_encoder, self.audio_head))

    # ------------------------------------------------------------------------------ schedules
    def ema_momentum(self, step: int) -> float:
        c = self.config
        return cosine_momentum(step, c.ema_total_steps, c.ema_momentum) if c.ema_total_steps > 0 else c.ema_momentum

    def teacher_temps(self, step: int) -> tuple[float, float]:
        """(video, audio) teacher temperatures at ``step``: linear from ``teacher_temp_warmup`` to the
        finals over ``teacher_temp_warmup_steps``, then constant."""
        c = self.config
        finals = (c.teacher_temp_v, c.teacher_temp_a)
        if c.teacher_temp_warmup is None or step >= c.teacher_temp_warmup_steps:
            return finals
        f = step / max(c.teacher_temp_warmup_steps, 1)
        return tuple(s + f * (e - s) for s, e in zip(c.teacher_temp_warmup, finals))

    @torch.no_grad()
    def update_teachers(self) -> float:
        """Eq. 13 for both teachers, video first (a shared teacher block moves twice, spec §9.25); run at the
        start of every training forward, i.e. right after the previous optimiser step."""
        m = self.ema_momentum(int(self.ema_steps))
        for modality in MODALITIES:
            (te, th), (se, sh) = self.encoders(modality, teacher=True), self.encoders(modality)
            ema_update(te, se, m)
            ema_update(th, sh, m)
        self.ema_steps += 1
        return m

    def _student_parameters(self) -> list[nn.Parameter]:
        seen, out = set(), []
        for modality in MODALITIES:
            for module in self.encoders(modality):
                for p in module.parameters():
                    if id(p) not in seen:
                        seen.add(id(p))
                        out.append(p)
        return out

    def _clip_student_grads(self) -> None:
        if self.config.student_grad_clip and self._clip_hooks is None:
            clip = partial(_clip_tensor_grad, max_norm=float(self.config.student_grad_clip))
            self._clip_hooks = [p.register_hook(clip) for p in self._student_parameters()]

    # ---------------------------------------------------------------------------------- views
    def _inputs(self, batch) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Raw video and fbank, and the encoders' inputs (ImageNet- / dataset-normalised)."""
        video, fbank = self.video_space.raw(batch), self.audio_space.raw(batch)
        return video, fbank, self.video_space.model_input(video), self.audio_space.model_input(fbank)

    def _offsets(self, batch_size: int, room: int, device) -> torch.Tensor:
        return (torch.rand(batch_size, generator=self.generator) * (room + 1)).long().clamp(max=room).to(device)

    def local_views(self, x_v: torch.Tensor, x_a: torch.Tensor) -> tuple[list, list]:
        """``num_local_views`` random local views of each modality (encoder inputs), drawn independently
        per clip and per modality from ``self.generator``: a random segment of time (and for video a
        random square crop)."""
        (t, h, w), ta = self.config.local_sizes
        B, dev = x_v.shape[0], x_v.device
        b = torch.arange(B, device=dev)
        views_v, views_a = [], []
        for _ in range(self.config.num_local_views):
            t0, y0, x0 = (self._offsets(B, full - n, dev) for full, n in zip(x_v.shape[2:], (t, h, w)))
            ti = (t0[:, None] + torch.arange(t, device=dev))[:, :, None, None]
            yi = (y0[:, None] + torch.arange(h, device=dev))[:, None, :, None]
            xi = (x0[:, None] + torch.arange(w, device=dev))[:, None, None, :]
            views_v.append(x_v[b[:, None, None, None], :, ti, yi, xi].permute(0, 4, 1, 2, 3))
            s0 = self._offsets(B, x_a.shape[1] - ta, dev)
            views_a.append(x_a[b[:, None], s0[:, None] + torch.arange(ta, device=dev)])
        return views_v, views_a

    def _draw_masks(self, batch_size: int, device) -> dict[str, Mask]:
        c = self.config
        ratios = {"video": c.mask_ratio_v, "audio": c.mask_ratio_a}
        return {m: random_mask(batch_size, self.encoders(m)[0].num_patches, ratios[m], device="cpu",
                               generator=self.generator).to(device) for m in MODALITIES}

    # -------------------------------------------------------------------------------- forward
    def forward(self, batch, mask=None):
        c = self.config
        logs: dict[str, torch.Tensor] = {}
        training = self.training and torch.is_grad_enabled()
        if training and c.distills:
            logs["ema_momentum"] = torch.tensor(self.update_teachers())
            self._clip_student_grads()
        video, fbank, x_v, x_a = self._inputs(batch)
        B = x_v.shape[0]
        masks = self._draw_masks(B, x_v.device) if mask is None else {m: as_mask(mask[m], x_v.device)
                                                                       for m in MODALITIES}
        raw = {"video": video, "audio": fbank}
        x = {"video": x_v, "audio": x_a}
        spaces = {"video": self.video_space, "audio": self.audio_space}
        decoders = {"video": self.video_decoder, "audio": self.audio_decoder}
        need = set(c.reconstruct) | (set(MODALITIES) if c.distills else set())
        latent, recon = {}, {}
        for m in MODALITIES:
            if m not in need:
                continue
            latent[m] = self.encoders(m)[0](x[m], masks[m])                     # (B, 1 + N_keep, D)
            if m in c.reconstruct:
                pred = decoders[m](latent[m], masks[m])
                recon[m] = masked_mse(pred.float(), spaces[m].patchify(raw[m]).float(), masks[m],
                                      norm_pix=c.norm_pix, channels=spaces[m].channels)
                logs[f"recon_{m}"] = recon[m].detach()
        loss_ae = torch.stack(list(recon.values())).mean() if recon else x_v.new_zeros(())
        if not c.distills:
            return loss_ae, logs
        loss_kd, loss_da = self._distill(x, latent, logs)
        w = (c.ae_weight, c.da_weight, c.kd_weight)
        loss = (w[0] * loss_ae + w[1] * loss_da + w[2] * loss_kd) / sum(w)
        return loss, logs

    def _teacher_outputs(self, x: dict, locals_: dict) -> dict[str, torch.Tensor]:
        """Eqs. 3–6: each teacher on its unmasked view (global, or the first local view for
        ``teacher_view="local"``), its last block's cls attention crossed with the other modality's
        (Eq. 4), its tokens refined (Eqs. 5–6) and mean-pooled into its head — or mean-pooled unrefined
        ("no.refine")."""
        c = self.config
        tokens, attention = {}, {}
        with torch.no_grad():
            for m in MODALITIES:
                enc, _ = self.encoders(m, teacher=True)
                view = x[m] if c.teacher_view == "global" else locals_[m][0]
                t, attention[m] = encode_view(enc, view, last_attention=True, use_cls=c.cls_attention)
                tokens[m] = t[:, 1:]
            if c.refine:
                ax_v, ax_a = cross_modal_attention(attention["video"], attention["audio"], c.cm_attention)
                tokens = {"video": refine(tokens["video"], ax_v), "audio": refine(tokens["audio"], ax_a)}
            return {m: self.encoders(m, teacher=True)[1](tokens[m].mean(1)) for m in MODALITIES}

    def _distill(self, x: dict, latent: dict, logs: dict) -> tuple[torch.Tensor, torch.Tensor]:
        """Cross-modal KD (Eqs. 10–11) and domain alignment (Eqs. 7–9) from the students' outputs on the
        masked global view's visible tokens and on the local views."""
        c = self.config
        views_v, views_a = self.local_views(x["video"], x["audio"])
        locals_ = {"video": views_v, "audio": views_a}
        students = {}
        for m in MODALITIES:
            enc, head = self.encoders(m)
            outs = [head(latent[m][:, 1:].mean(1))]                            # Algorithm 1, lines 14-15
            outs += [head(encode_view(enc, v)[:, 1:].mean(1)) for v in locals_[m]]
            students[m] = outs
        teachers = self._teacher_outputs(x, locals_)
        temp_v, temp_a = self.teacher_temps(int(self.ema_steps))
        centers = {"video": self.center_v, "audio": self.center_a}
        # the video teacher teaches the audio student, the audio teacher the video student
        kd_v2a = dino_distillation(students["audio"], teachers["video"], centers["video"], c.student_temp, temp_v)
        kd_a2v = dino_distillation(students["video"], teachers["audio"], centers["audio"], c.student_temp, temp_a)
        loss_kd = (kd_v2a + kd_a2v) / 2
        gammas = tuple(g * c.mmd_gamma_scale for g in c.mmd_gammas)
        mmd = partial(mmd_multi_kernel, gammas=gammas)
        f_sv, f_sa = torch.cat(students["video"]), torch.cat(students["audio"])
        f_tv, f_ta = teachers["video"], teachers["audio"]
        mmd_students, mmd_teachers = mmd(f_sv, f_sa), mmd(f_tv, f_ta)
        cross = (mmd(f_ta, f_sv) + mmd(f_tv, f_sa)) / 2                          # L_da^1
        loss_da = {"default": (mmd_students + mmd_teachers) / 2, "da1": cross,
                   "da2": (mmd_students + mmd_teachers) / 2 + cross, "da3": mmd_teachers,
                   "none": f_sv.new_zeros(())}[c.da]
        with torch.no_grad():
            logs.update(
                kd_v2a=kd_v2a.detach(), kd_a2v=kd_a2v.detach(), mmd_students=mmd_students.detach(),
                mmd_teachers=mmd_teachers.detach(),
                kld_v2a=_kl_monitor(students["audio"][0], f_tv, centers["video"], c.student_temp, temp_v),
                kld_a2v=_kl_monitor(students["video"][0], f_ta, centers["audio"], c.student_temp, temp_a),
                teacher_entropy_v=_entropy(f_tv, temp_v, centers["video"]),
                teacher_entropy_a=_entropy(f_ta, temp_a, centers["audio"]),
                teacher_temp_v=torch.tensor(temp_v), teacher_temp_a=torch.tensor(temp_a))
        if self.training and torch.is_grad_enabled() and c.centering:
            update_center(self.center_v, f_tv, c.center_momentum)
            update_center(self.center_a, f_ta, c.center_momentum)
        return loss_kd, loss_da

    # ------------------------------------------------------------------------- inspection API
    def grid_tokens(self, batch, rep: str = "video") -> list[torch.Tensor]:
        """Tokens on their patch grids of the full (unmasked) inputs, cls excluded, after the final norm
        (the code's linear-evaluation features, spec §9.27): ``rep`` is ``"video"``, ``"audio"`` or
        ``"joint"`` (both), each optionally ``"<rep>_teacher"`` for the EMA teachers."""
        base, _, who = rep.partition("_")
        if base not in ("video", "audio", "joint") or who not in ("", "teacher"):
            raise ValueError(f"rep must be video, audio or joint, optionally with _teacher; got {rep!r}")
        _, _, x_v, x_a = self._inputs(batch)
        x = {"video": x_v, "audio": x_a}
        out = []
        for m in (MODALITIES if base == "joint" else (base,)):
            enc, _ = self.encoders(m, teacher=who == "teacher")
            out.append(grid_layout(enc(x[m])[:, 1:], enc.grid_size))
        return out

    def embed(self, batch, rep: str = "video") -> torch.Tensor:
        """``(B, D)`` features: the mean of :meth:`grid_tokens` per modality, side by side for ``"joint"``."""
        return torch.cat([g.flatten(2).mean(2) for g in self.grid_tokens(batch, rep)], dim=1)

    @torch.no_grad()
    def reconstruct(self, batch, mask=None) -> dict:
        """``{"video": {...}, "audio": {...}, "loss": ...}``: each modality's MAE reconstruction under its
        mask (drawn when ``mask`` is ``None``; else ``{"video": Mask, "audio": Mask}``), as
        :func:`~maskedav.methods.base.reconstruction_dict`."""
        with self._eval_mode():
            video, fbank, x_v, x_a = self._inputs(batch)
            masks = self._draw_masks(x_v.shape[0], x_v.device) if mask is None else \
                {m: as_mask(mask[m], x_v.device) for m in MODALITIES}
            out = {}
            for m, raw, x, space, dec in (("video", video, x_v, self.video_space, self.video_decoder),
                                          ("audio", fbank, x_a, self.audio_space, self.audio_decoder)):
                pred = dec(self.encoders(m)[0](x, masks[m]), masks[m])
                out[m] = reconstruction_dict(space, raw, pred, masks[m], self.config.norm_pix)
        out["loss"] = sum(out[m]["loss"] for m in MODALITIES) / 2
        return out

    def attention_maps(self, batch, layer: int = -1, head: int | None = None, modality: str = "video",
                       teacher: bool = False) -> torch.Tensor:
        """Softmax attention of one block of a modality's student (or teacher) encoder on the full input."""
        _, _, x_v, x_a = self._inputs(batch)
        enc, _ = self.encoders(modality, teacher)
        return enc.attention_maps(x_v if modality == "video" else x_a, layer, head)

    def features(self, batch, layers=None, modality: str = "video") -> list[torch.Tensor]:
        """Per-layer (pre-norm) token taps of a modality's student encoder on the full input."""
        _, _, x_v, x_a = self._inputs(batch)
        return self.encoders(modality)[0].forward_features(x_v if modality == "video" else x_a, layers=layers)

    @property
    def num_parameters(self) -> int:
        """Trainable parameters (students, decoders; the teachers are EMA copies), shared ones once."""
        return count_parameters(self)


def build_xkd(config: XKDConfig, seed: int | None = None) -> XKD:
    """``XKD(config)``: the :class:`~maskedav.study.Arm` factory of XKD's arms (``seed`` is set in ``config``
    and in torch's global RNG by the arm before the call)."""
    return XKD(config)
