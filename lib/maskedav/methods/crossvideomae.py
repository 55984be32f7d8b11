"""CrossVideoMAE: joint video and sampled-frame masked autoencoders with intra- and cross-modal
contrast (Ahamed, Gunawardhana et al., arXiv 2502.07811) — the model only.

Three towers (spec §2.1, §4.6; every choice marked *inferred* is the spec's resolution, §9):

* **video branch** — one VideoMAE-style ViT (tubelets, no cls token, 1-D sinusoid positions, the
  baselines' VideoMAE geometry so its checkpoint loads, :meth:`CrossVideoMAE.load_video_mae`) run on
  two views with **shared weights**: view 1 is the clip as given, view 2 a spatially / photometrically
  augmented copy (:class:`ClipAugment`: random resized crop, flip, colour jitter, the same for every
  frame of a clip so frame ``j`` of both views is the same moment, §9 item 6). Each view gets its own
  random mask at ``ρ_u = 0.95`` (``int(N·0.05)`` visible, §3.1; ``mask_type`` tube / frame: Supp
  Tab. 10). No clip has an "augmented" first view unless ``augment_both``;
* **image branch** — an MAE ViT (cls token, the baselines' MAE geometry,
  :meth:`CrossVideoMAE.load_image_mae`) on ``num_frames`` frames sampled from the clip (``first`` /
  ``middle`` / ``random``, Supp Tab. 9; main Tab. 3 for ``n``) with MAE frame augmentation (random
  resized crop + flip, §4.2), random masking at ``ρ_f = 0.9``; or on unrelated images
  ``batch["image"]`` (``image_source="unrelated"``, Supp Tab. 13; SynthAV's ``"unrelated"`` image
  set). Trainable and separate by default (§2.4; ``freeze_image_encoder``, ``share_blocks``);
* **projections** (§2.5) — ``g_u`` is the encoder→decoder Linear (Supp Tab. 1 "Encoder Embedding
  MLP(384)" feeds the decoder), ``g_f`` a Linear of the image width to the same size;
  ``projector="mlp"`` gives both a separate 2-layer MLP instead (spec option). ``e_u`` is the
  decoder's pixel head.

Pooled vectors (§4.1): ``z_u^t`` = mean of ``g_u`` over the visible tokens of view ``t``;
``z_f^t`` = mean of ``g_u`` over the visible tokens of the sampled frame's time slice ``⌊j/tubelet⌋``
(:func:`frame_level_pool`; an **empty slice falls back to the nearest slice(s) with visible tokens**,
the nearer on both sides averaged when tied — at the book's sizes most slices are empty); for ``n > 1``
the mean over the ``n`` frames. ``h`` = mean of ``g_f`` over the visible image patch tokens (cls
excluded), averaged over the ``n`` frames, and ``h_u := h_f := h`` (§9 item 4).

Losses, named for the paper's equations:

* :func:`intra_modal_loss` — Eqs. 1–3, NT-Xent between the views, video level and frame level;
* :func:`cross_modal_loss` — Eqs. 4–7, view-averaged video vectors against the image vector;
* :func:`reconstruction_loss` — Eq. 10, masked-token MSE of both views (norm-pix per §9 item 10);
* :func:`decoder_mse_loss` — Eqs. 8–9, MSE between the pixel predictions of the two views (all tokens);
* :func:`total_loss` — Eq. 11, ``L = λ_c (L_intra + L_cross) + L_rl + L_mse``.

The contrastive form is the paper's: :func:`maskedav.losses.nt_xent` with ``symmetric=False`` (view 1
/ the video vector is the only anchor), chosen explicitly (the library's default is SimCLR's symmetric
form; ``symmetric=True`` switches the intra-modal terms to it, §4.2). ``τ = 0.1``, ``λ_c = 1`` (§9 item 1).

Every draw of a step (view augmentation, frame indices, frame augmentation, the three masks, in that
order) comes from ``self.generator``, so a step is deterministic given the generator state (which the
training engine checkpoints).

Representations for the study layer: ``grid_tokens(batch, rep)`` / ``embed(batch, rep)`` with
``rep="video"`` (the kept encoder, downstream) or ``"image"`` (the image encoder frame by frame).
Inspection: ``reconstruct`` (video, view 1), ``reconstruct_image`` (Supp Fig. 19: the image branch's
encoder with the loaded MAE decoder, §9 item 14), ``attention_maps`` (either branch),
``self_attention_map`` (Fig. 1 row 4) and ``semantic_attention_map`` (Fig. 1 row 6, option A), §7.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from maskedav.configs import ViTConfig, check_choice, invalid, paper_config
from maskedav.losses import masked_mse, nt_xent
from maskedav.masking import Mask, frame_mask, random_mask, tube_mask, unshuffle
from maskedav.nn import MAEDecoder, ViTEncoder

from .base import (ImageSpace, MethodConfig, PretrainMethod, VideoSpace, as_mask, grid_layout,
                   profile_target, reconstruction_dict)

__all__ = ["CrossVideoMAEConfig", "CrossVideoMAE", "ClipAugment", "frame_level_pool", "intra_modal_loss",
           "cross_modal_loss", "reconstruction_loss", "decoder_mse_loss", "total_loss", "sample_frame_indices",
           "MASK_TYPES", "FRAME_SELECTIONS", "IMAGE_SOURCES"]

MASK_TYPES = ("random", "tube", "frame")
FRAME_SELECTIONS = ("random", "middle", "first")
IMAGE_SOURCES = ("frames", "unrelated")
PROJECTORS = ("shared", "mlp")
NORM_PIX = ("per_patch", "per_channel", None)
_VIT_FIELDS = {f.name for f in dataclasses.fields(ViTConfig)}


# ----------------------------------------------------------------------------------------- config
@dataclass(frozen=True)
class CrossVideoMAEConfig(MethodConfig):
    """Switches of CrossVideoMAE (defaults: the paper's, or the spec's resolution where it is silent).

    Geometry: ``vit`` (video branch and its decoder) and ``image`` (image branch and the MAE decoder
    used only for :meth:`CrossVideoMAE.reconstruct_image`). :meth:`replace` routes ``decoder_*`` changes
    to the **video** decoder only (Supp Tab. 11's depth ablation; the image decoder is the loaded MAE's)
    and the other ViT fields (``dim``, ``depth`` …) to both branches.

    Masking: ``mask_ratio`` ρ_u 0.95, ``mask_ratio_image`` ρ_f 0.9 (main Tab. 5); ``mask_type``
    ``"random"`` / ``"tube"`` / ``"frame"`` of the video branch (Supp Tab. 10).
    Frames: ``num_frames`` n = 1 (main Tab. 3); ``frame_selection`` ``"random"`` / ``"middle"`` /
    ``"first"`` (Supp Tab. 9); ``image_source`` ``"frames"`` (the clip's own frames) or
    ``"unrelated"`` (``batch["image"]``, Supp Tab. 13).
    Objective (Eq. 11): ``contrast_weight`` λ_c; ``intra_weight`` / ``cross_weight`` switch
    ``L_intra`` / ``L_cross``; ``video_level_weight`` / ``frame_level_weight`` the video- and
    frame-level terms inside both (main Tab. 6, Supp Tab. 12); ``recon_weight`` ``L_rl``;
    ``mse_weight`` ``L_mse``; ``image_recon_weight`` an MAE loss on the image branch (0: the paper has
    none, §9 item 14). ``temperature`` τ; ``symmetric`` SimCLR's symmetric intra-modal NT-Xent;
    ``stop_grad_image`` no gradient through ``h`` (§4.3 option).
    Towers: ``projector`` ``"shared"`` (g_u = decoder input Linear) or ``"mlp"``; ``share_blocks``;
    ``freeze_image_encoder``.
    Augmentation of view 2 (and view 1 when ``augment_both``): ``crop_scale`` / ``crop_ratio``
    (Supp Tab. 2 RandomResizedCrop), ``flip_prob`` (0: SSv2's, and a flip swaps SynthAV ``motion``'s
    left / right classes), ``color_jitter`` (brightness / contrast / saturation strength, inferred).
    Frames: ``frame_augment``, ``frame_crop_scale``, ``frame_flip_prob`` (Supp Tab. 2 image column).
    ``norm_pix``: reconstruction target (``"per_patch"``, §9 item 10; ``None`` raw pixels at the small
    profiles, :func:`~maskedav.methods.base.profile_target`).
    """

    vit: ViTConfig = field(default_factory=lambda: paper_config("crossvideomae-video"))
    image: ViTConfig = field(default_factory=lambda: paper_config("crossvideomae-image"))
    mask_ratio: float = 0.95
    mask_ratio_image: float = 0.9
    mask_type: str = "random"
    num_frames: int = 1
    frame_selection: str = "random"
    image_source: str = "frames"
    contrast_weight: float = 1.0
    intra_weight: float = 1.0
    cross_weight: float = 1.0
    video_level_weight: float = 1.0
    frame_level_weight: float = 1.0
    recon_weight: float = 1.0
    mse_weight: float = 1.0
    image_recon_weight: float = 0.0
    temperature: float = 0.1
    symmetric: bool = False
    stop_grad_image: bool = False
    projector: str = "shared"
    share_blocks: bool = False
    freeze_image_encoder: bool = False
    augment_both: bool = False
    crop_scale: tuple = (0.08, 1.0)
    crop_ratio: tuple = (3 / 4, 4 / 3)
    flip_prob: float = 0.0
    color_jitter: float = 0.4
    frame_augment: bool = True
    frame_crop_scale: tuple = (0.08, 1.0)
    frame_flip_prob: float = 0.5
    norm_pix: str | None = "per_patch"
    normalize_input: bool = True
    seed: int = 0

    def __post_init__(self):
        super().__post_init__()
        name = type(self).__name__
        check_choice(f"{name}.mask_type", self.mask_type, MASK_TYPES)
        check_choice(f"{name}.frame_selection", self.frame_selection, FRAME_SELECTIONS)
        check_choice(f"{name}.image_source", self.image_source, IMAGE_SOURCES)
        check_choice(f"{name}.projector", self.projector, PROJECTORS)
        check_choice(f"{name}.norm_pix", self.norm_pix, NORM_PIX)
        if self.vit.modality != "video" or self.image.modality != "image":
            raise ValueError(f"{name}: vit must be a video ViTConfig and image an image ViTConfig")
        if tuple(self.image.input_size) != tuple(self.vit.input_size[1:]):
            raise invalid(f"{name}.image.input_size", self.image.input_size,
                          f"the video frame size {tuple(self.vit.input_size[1:])} (the image branch sees frames)")
        frames = self.vit.input_size[0]
        if isinstance(self.num_frames, bool) or not isinstance(self.num_frames, int) \
                or not 1 <= self.num_frames <= frames:
            raise invalid(f"{name}.num_frames", self.num_frames, f"an int in [1, {frames}] (frames per clip)")
        for f in ("contrast_weight", "intra_weight", "cross_weight", "video_level_weight", "frame_level_weight",
                  "recon_weight", "mse_weight", "image_recon_weight"):
            v = getattr(self, f)
            if not isinstance(v, (int, float)) or isinstance(v, bool) or not math.isfinite(v) or v < 0:
                raise invalid(f"{name}.{f}", v, "a finite number >= 0")
        if not isinstance(self.temperature, (int, float)) or not self.temperature > 0:
            raise invalid(f"{name}.temperature", self.temperature, "a number > 0")
        for f in ("crop_scale", "frame_crop_scale"):
            lo, hi = getattr(self, f)
            if not 0 < lo <= hi <= 1:
                raise invalid(f"{name}.{f}", getattr(self, f), "a pair 0 < lo <= hi <= 1 (area fractions)")
        lo, hi = self.crop_ratio
        if not 0 < lo <= hi:
            raise invalid(f"{name}.crop_ratio", self.crop_ratio, "a pair 0 < lo <= hi (aspect ratios)")
        for f in ("flip_prob", "frame_flip_prob"):
            if not 0 <= getattr(self, f) <= 1:
                raise invalid(f"{name}.{f}", getattr(self, f), "a probability in [0, 1]")
        if not 0 <= self.color_jitter < 1:
            raise invalid(f"{name}.color_jitter", self.color_jitter, "a strength in [0, 1)")
        if self.share_blocks:
            if (self.vit.dim, self.vit.depth, self.vit.heads) != (self.image.dim, self.image.depth, self.image.heads):
                raise ValueError(f"{name}: share_blocks needs the same dim / depth / heads in both branches")
            if self.freeze_image_encoder:
                raise ValueError(f"{name}: freeze_image_encoder with share_blocks would freeze the video blocks")

    def replace(self, **changes) -> "CrossVideoMAEConfig":
        own = {f.name for f in dataclasses.fields(self)}
        dec = {k: changes.pop(k) for k in list(changes)
               if k not in own and k in _VIT_FIELDS and k.startswith("decoder_")}
        new = super().replace(**changes)
        return dataclasses.replace(new, vit=new.vit.replace(**dec)) if dec else new

    @classmethod
    def from_profile(cls, profile, **changes) -> "CrossVideoMAEConfig":
        """Small CrossVideoMAE of a run profile: the video branch is the baselines' VideoMAE geometry
        (1-D sinusoid tables, bias-free projector) and the image branch the baselines' MAE (cls
        token), so :meth:`CrossVideoMAE.load_video_mae` / :meth:`~CrossVideoMAE.load_image_mae`
        take their checkpoints; the profile's pixel target."""
        vit = ViTConfig.from_profile(profile, "video", name="crossvideomae-small", pos_embed="sinusoid",
                                     decoder_pos_embed="sinusoid", decoder_embed_bias=False)
        image = ViTConfig.from_profile(profile, "image", cls_token=True, name="crossvideomae-image-small")
        return cls(vit=vit, image=image).replace(**{**profile_target(profile), **changes})

    @classmethod
    def paper(cls, **changes) -> "CrossVideoMAEConfig":
        """ViT-B/16 video branch (16×224², 2×16×16, decoder 384 × 4) and MAE ViT-B/16 image branch."""
        return cls().replace(**changes)


# ----------------------------------------------------------------------------------- augmentation
@dataclass(frozen=True)
class ClipAugment:
    """Random resized crop + horizontal flip + colour jitter, one draw per clip (or image), applied
    identically to every frame of a clip, from an explicit ``torch.Generator``.

    Crop as torchvision's ``RandomResizedCrop``: area fraction ``s ~ U(scale)``, aspect ``r`` log-uniform
    in ``ratio``, side fractions ``(√(s r), √(s/r))`` clipped to 1, centre uniform where the box fits;
    resampled bilinearly to the input size (``grid_sample``). Jitter: brightness, contrast (about the
    clip's mean grey) and saturation (about each pixel's grey) factors ``~ U(1-j, 1+j)``, in that
    order, then clamped to [0, 1]. Inputs ``(B, C, H, W)`` or ``(B, C, T, H, W)`` in [0, 1].
    """

    scale: tuple = (0.08, 1.0)
    ratio: tuple = (3 / 4, 4 / 3)
    flip_prob: float = 0.0
    jitter: float = 0.0

    def draw(self, batch_size: int, generator: torch.Generator | None = None) -> dict:
        """The parameters of ``batch_size`` draws (CPU tensors): ``box`` ``(B, 4)`` = (centre x, centre y,
        width, height) as fractions of the frame, ``flip`` ``(B,)`` bool, ``jitter`` ``(B, 3)`` factors."""
        u = torch.rand(batch_size, 8, generator=generator, dtype=torch.float64)
        lo, hi = self.scale
        area = lo + (hi - lo) * u[:, 0]
        lr = math.log(self.ratio[0]), math.log(self.ratio[1])
        aspect = torch.exp(lr[0] + (lr[1] - lr[0]) * u[:, 1])
        w = (area * aspect).sqrt().clamp(max=1.0)
        h = (area / aspect).sqrt().clamp(max=1.0)
        cx = w / 2 + (1 - w) * u[:, 2]
        cy = h / 2 + (1 - h) * u[:, 3]
        flip = u[:, 4] < self.flip_prob
        jitter = 1 + self.jitter * (2 * u[:, 5:8] - 1)
        return dict(box=torch.stack([cx, cy, w, h], 1).float(), flip=flip, jitter=jitter.float())

    @staticmethod
    def apply(x: torch.Tensor, params: dict) -> torch.Tensor:
        """``x`` transformed by ``params`` (from :meth:`draw`)."""
        shape = x.shape
        B, C = shape[:2]
        H, W = shape[-2:]
        flat = x.reshape(B, -1, H, W)
        box = params["box"].to(x.device, x.dtype)
        sign = 1 - 2 * params["flip"].to(x.device, x.dtype)
        theta = torch.zeros(B, 2, 3, device=x.device, dtype=x.dtype)
        theta[:, 0, 0] = box[:, 2] * sign
        theta[:, 0, 2] = 2 * box[:, 0] - 1
        theta[:, 1, 1] = box[:, 3]
        theta[:, 1, 2] = 2 * box[:, 1] - 1
        grid = F.affine_grid(theta, list(flat.shape), align_corners=False)
        out = F.grid_sample(flat, grid, mode="bilinear", padding_mode="border", align_corners=False).reshape(shape)
        if bool((params["jitter"] != 1).any()):               # decided on the (CPU) parameters: no sync
            j = params["jitter"].to(x.device, x.dtype)
            view = (B,) + (1,) * (len(shape) - 1)
            out = out * j[:, 0].reshape(view)
            if C == 3:
                wts = torch.tensor([0.299, 0.587, 0.114], device=x.device, dtype=x.dtype)
                grey = torch.einsum("bc...,c->b...", out, wts).unsqueeze(1)
                mean = grey.reshape(B, -1).mean(1).reshape(view)
                out = (out - mean) * j[:, 1].reshape(view) + mean
                grey = torch.einsum("bc...,c->b...", out, wts).unsqueeze(1)
                out = (out - grey) * j[:, 2].reshape(view) + grey
            out = out.clamp(0, 1)
        return out

    def __call__(self, x: torch.Tensor, generator: torch.Generator | None = None) -> tuple[torch.Tensor, dict]:
        params = self.draw(x.shape[0], generator)
        return self.apply(x, params), params


# ------------------------------------------------------------------------------- frames and pooling
def sample_frame_indices(batch_size: int, frames: int, n: int, selection: str,
                         generator: torch.Generator | None = None) -> torch.Tensor:
    """Indices ``(B, n)`` (ascending) of the sampled frames of a ``frames``-frame clip.

    ``"first"``: ``0 … n-1``; ``"middle"``: ``n`` consecutive frames centred on ``frames // 2``
    (``frames // 2`` itself for ``n = 1``); ``"random"``: ``n`` distinct frames uniformly at random per
    clip (Supp Tab. 9's rules; for ``n > 1`` inferred). Only ``"random"`` draws from ``generator``.
    """
    check_choice("frame_selection", selection, FRAME_SELECTIONS)
    if selection == "random":
        noise = torch.rand(batch_size, frames, generator=generator)
        return noise.argsort(dim=1)[:, :n].sort(dim=1).values
    start = 0 if selection == "first" else min(max(frames // 2 - n // 2, 0), frames - n)
    return torch.arange(start, start + n).expand(batch_size, n).clone()


def frame_level_pool(tokens: torch.Tensor, ids_keep: torch.Tensor, slices: torch.Tensor,
                     tokens_per_slice: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Frame-level embedding (spec §4.1): mean of the visible ``tokens`` ``(B, K, P)`` (token ids
    ``ids_keep`` ``(B, K)``, order ``(t, h, w)``) in time slice ``slices`` ``(B,)`` or ``(B, n)``; with
    ``n`` slices, the mean over them.

    An empty slice (no visible token in it) falls back to the **nearest** slice(s) holding visible
    tokens; when the nearest non-empty slices lie at the same distance on both sides, their tokens are
    pooled together. The result is therefore always a finite mean of at least one token. Returns
    ``(embedding (B, P), empty (B, n) bool)``, ``empty`` marking where the fallback was used.
    """
    if slices.dim() == 1:
        slices = slices[:, None]
    t_tok = torch.div(ids_keep, tokens_per_slice, rounding_mode="floor")             # (B, K)
    dist = (t_tok[:, None, :] - slices[:, :, None].to(t_tok.device)).abs()           # (B, n, K)
    nearest = dist.min(dim=2, keepdim=True).values
    sel = (dist == nearest).to(tokens.dtype)                                         # (B, n, K)
    pooled = torch.einsum("bnk,bkp->bnp", sel, tokens) / sel.sum(2, keepdim=True)
    return pooled.mean(1), nearest.squeeze(2) > 0


# ------------------------------------------------------------------------------------------ losses
def intra_modal_loss(zu1: torch.Tensor, zu2: torch.Tensor, zf1: torch.Tensor, zf2: torch.Tensor,
                     temperature: float = 0.1, symmetric: bool = False, video_weight: float = 1.0,
                     frame_weight: float = 1.0) -> tuple[torch.Tensor, dict]:
    """Eqs. 1–3: ``L_intra = 1/(2N) Σ_i (L_u(i,1,2) + L_f(i,1,2))``, NT-Xent between the raw (1) and
    augmented (2) views at video level (``z_u``) and frame level (``z_f``), positives ``(i, i)``,
    negatives every other vector of both views (cosine similarity / τ). ``symmetric=False`` is the
    paper's (view 1 the only anchor). ``video_weight`` / ``frame_weight`` scale the two terms inside
    the ½ (0 removes one, leaving the other's gradient unchanged). Returns ``(L_intra, {"video": L_u,
    "frame": L_f})`` (batch means)."""
    lu = nt_xent(zu1.float(), zu2.float(), temperature, symmetric=symmetric)
    lf = nt_xent(zf1.float(), zf2.float(), temperature, symmetric=symmetric)
    return 0.5 * (video_weight * lu + frame_weight * lf), dict(video=lu, frame=lf)


def cross_modal_loss(zu1: torch.Tensor, zu2: torch.Tensor, zf1: torch.Tensor, zf2: torch.Tensor,
                     hu: torch.Tensor, hf: torch.Tensor, temperature: float = 0.1, video_weight: float = 1.0,
                     frame_weight: float = 1.0) -> tuple[torch.Tensor, dict]:
    """Eqs. 4–7: ``z = ½(z¹ + z²)`` (Eq. 4); ``C(i) = -log exp(s(z_i,h_i)/τ) / (Σ_{k≠i} exp(s(z_i,z_k)/τ)
    + Σ_k exp(s(z_i,h_k)/τ))`` at video level (``z_u`` vs ``h_u``, Eq. 5) and frame level (``z_f`` vs
    ``h_f``, Eq. 6); ``L_cross = 1/(2N) Σ_i (C_u + C_f)`` (Eq. 7, read as a sum over ``i``). The video
    vector is the only anchor (the paper discriminates in the video domain only). Returns
    ``(L_cross, {"video": C_u, "frame": C_f})``."""
    zu, zf = 0.5 * (zu1 + zu2), 0.5 * (zf1 + zf2)
    cu = nt_xent(zu.float(), hu.float(), temperature, symmetric=False)
    cf = nt_xent(zf.float(), hf.float(), temperature, symmetric=False)
    return 0.5 * (video_weight * cu + frame_weight * cf), dict(video=cu, frame=cf)


def reconstruction_loss(pred1: torch.Tensor, target1: torch.Tensor, mask1, pred2: torch.Tensor,
                        target2: torch.Tensor, mask2, norm_pix: str | None = "per_patch") -> tuple[torch.Tensor, dict]:
    """Eq. 10: ``L_rl = ‖u_1 - ũ_1‖² + ‖u_2 - ũ_2‖²`` as the sum over the two views of the MAE loss
    (masked tokens only, per-token mean, ``norm_pix`` target; §9 item 10). Each view reconstructs its
    own (augmented) pixels. Returns ``(L_rl, {"view1": …, "view2": …})``."""
    l1 = masked_mse(pred1.float(), target1.float(), mask1, norm_pix=norm_pix)
    l2 = masked_mse(pred2.float(), target2.float(), mask2, norm_pix=norm_pix)
    return l1 + l2, dict(view1=l1, view2=l2)


def decoder_mse_loss(pred1: torch.Tensor, pred2: torch.Tensor) -> torch.Tensor:
    """Eqs. 8–9: ``L_mse = 1/N Σ ‖e_u(f_{d,1}) - e_u(f_{d,2})‖²``, the squared difference of the two
    views' pixel predictions, averaged over every token and channel (§4.4, inferred reduction). Both
    views receive its gradient. Token positions of differently cropped views do not correspond (§9
    item 9): kept as the paper has it, ``mse_weight=0`` removes it."""
    return ((pred1.float() - pred2.float()) ** 2).mean()


def total_loss(intra: torch.Tensor, cross: torch.Tensor, recon: torch.Tensor, mse: torch.Tensor,
               contrast_weight: float = 1.0, intra_weight: float = 1.0, cross_weight: float = 1.0,
               recon_weight: float = 1.0, mse_weight: float = 1.0) -> torch.Tensor:
    """Eq. 11: ``L = λ_c (L_intra + L_cross) + L_rl + L_mse`` (the extra weights switch terms off)."""
    return (contrast_weight * (intra_weight * intra + cross_weight * cross)
            + recon_weight * recon + mse_weight * mse)


def _mlp(in_dim: int, out_dim: int) -> nn.Sequential:
    m = nn.Sequential(nn.Linear(in_dim, in_dim), nn.GELU(), nn.Linear(in_dim, out_dim))
    for layer in m:
        if isinstance(layer, nn.Linear):
            nn.init.xavier_uniform_(layer.weight)
            nn.init.zeros_(layer.bias)
    return m


def _cat_masks(a: Mask, b: Mask) -> Mask:
    return Mask(*(torch.cat([x, y]) for x, y in zip(a, b)))


def _split_state(state, prefix: str) -> dict:
    sd = state.state_dict() if isinstance(state, nn.Module) else dict(state)
    if isinstance(sd.get("state_dict"), dict):          # a checkpoint payload (maskedav.checkpoints)
        sd = sd["state_dict"]
    return {k[len(prefix):]: v for k, v in sd.items() if k.startswith(prefix)}


# ------------------------------------------------------------------------------------------- model
class CrossVideoMAE(PretrainMethod):
    """CrossVideoMAE: ``forward(batch) -> (loss, logs)`` on ``batch["video"]`` ``(B, 3, T, H, W)`` in
    [0, 1] (and ``batch["image"]`` ``(B, 3, H, W)`` or ``(B, n, 3, H, W)`` when
    ``image_source="unrelated"``). ``image_mae`` / ``video_mae``: state dicts (or modules) of the
    baselines' MAE / VideoMAE to start from (:meth:`load_image_mae`, :meth:`load_video_mae`)."""

    def __init__(self, config: CrossVideoMAEConfig, image_mae=None, video_mae=None):
        super().__init__(config)
        c = config
        # video branch first, built as VideoMAE builds its own (same initial weights for a seed)
        self.encoder = ViTEncoder.from_config(c.vit)
        self.decoder = MAEDecoder.from_config(c.vit, predict="all")
        self.image_encoder = ViTEncoder.from_config(c.image)
        self.image_decoder = MAEDecoder.from_config(c.image, predict="all")
        proj = c.vit.decoder_dim
        if c.projector == "shared":
            self.proj_u = None
            self.g_f = nn.Linear(c.image.dim, proj)
            nn.init.xavier_uniform_(self.g_f.weight)
            nn.init.zeros_(self.g_f.bias)
        else:
            self.proj_u = _mlp(c.vit.dim, proj)
            self.g_f = _mlp(c.image.dim, proj)
        if c.share_blocks:
            self.image_encoder.blocks = self.encoder.blocks
        self.space = VideoSpace(c.vit.patch, c.vit.tubelet, c.vit.grid_size, normalize=c.normalize_input)
        self.image_space = ImageSpace(c.image.patch, c.image.grid_size, normalize=c.normalize_input)
        self.augment = ClipAugment(tuple(c.crop_scale), tuple(c.crop_ratio), c.flip_prob, c.color_jitter)
        self.frame_augmenter = (ClipAugment(tuple(c.frame_crop_scale), tuple(c.crop_ratio), c.frame_flip_prob, 0.0)
                                if c.frame_augment else None)
        if video_mae is not None:
            self.load_video_mae(video_mae)
        if image_mae is not None:
            self.load_image_mae(image_mae)
        if c.freeze_image_encoder:
            for p in self.image_encoder.parameters():
                p.requires_grad_(False)

    # ---------------------------------------------------------------------------- initialisation
    def load_image_mae(self, state) -> "CrossVideoMAE":
        """Initialise the image branch from an image MAE (:class:`~maskedav.methods.mae.MAE` or its
        ``state_dict``, or a checkpoint payload with ``"state_dict"``): ``encoder.*`` into
        :attr:`image_encoder`, ``decoder.*`` into :attr:`image_decoder` (strict). A bare encoder state
        dict (no prefix) loads the encoder only. With ``share_blocks`` the MAE's blocks are skipped
        (the shared blocks are the video branch's)."""
        enc = _split_state(state, "encoder.")
        dec = _split_state(state, "decoder.")
        if not enc and not dec:
            enc = state.state_dict() if isinstance(state, nn.Module) else dict(state)
        if self.config.share_blocks:
            enc = {k: v for k, v in enc.items() if not k.startswith("blocks.")}
            own = {k: v for k, v in self.image_encoder.state_dict().items() if k.startswith("blocks.")}
            enc.update(own)
        self.image_encoder.load_state_dict(enc, strict=True)
        if dec:
            self.image_decoder.load_state_dict(dec, strict=True)
        return self

    def load_video_mae(self, state) -> "CrossVideoMAE":
        """Initialise the video branch from a VideoMAE (module, ``state_dict`` or checkpoint payload):
        ``encoder.*`` and ``decoder.*`` (strict; the same geometry as :meth:`CrossVideoMAEConfig.from_profile`
        builds). The continued pre-training of the paper (§5.1) starts here."""
        enc, dec = _split_state(state, "encoder."), _split_state(state, "decoder.")
        if not enc:
            raise ValueError("no encoder.* weights in the VideoMAE state")
        self.encoder.load_state_dict(enc, strict=True)
        if dec:
            self.decoder.load_state_dict(dec, strict=True)
        return self

    # -------------------------------------------------------------------------------- projections
    @property
    def num_patches(self) -> int:
        return self.encoder.num_patches

    def g_u(self, tokens: torch.Tensor) -> torch.Tensor:
        """Video "encoder embedding" of tokens ``(…, D)``: the decoder's input Linear (``projector=
        "shared"``) or the separate MLP."""
        return self.decoder.embed(tokens) if self.proj_u is None else self.proj_u(tokens)

    def _decode(self, embedded: torch.Tensor, mask: Mask) -> torch.Tensor:
        """Decoder from already embedded visible tokens (``decoder.embed`` applied): every token's
        pixel prediction ``(B, N, P)`` — the decoder blocks then ``e_u`` (the head)."""
        d = self.decoder
        x = unshuffle(embedded, d.mask_token, mask) + d.pos_embed().to(embedded.dtype)
        for blk in d.blocks:
            x = blk(x)
        return d.head(d.norm(x))

    # ------------------------------------------------------------------------------------- draws
    def _draw_video_mask(self, batch_size: int) -> Mask:
        c, grid = self.config, self.encoder.grid_size
        if c.mask_type == "tube":
            return tube_mask(batch_size, grid, c.mask_ratio, device="cpu", generator=self.generator)
        if c.mask_type == "frame":
            return frame_mask(batch_size, grid, c.mask_ratio, device="cpu", generator=self.generator)
        return random_mask(batch_size, self.num_patches, c.mask_ratio, device="cpu", generator=self.generator)

    def draw_masks(self, batch_size: int, device=None) -> dict:
        """``{"video1", "video2": (B, N) masks at ρ_u (independent), "image": (B·n, N_img) at ρ_f}``."""
        m = dict(video1=self._draw_video_mask(batch_size), video2=self._draw_video_mask(batch_size),
                 image=random_mask(batch_size * self.config.num_frames, self.image_encoder.num_patches,
                                   self.config.mask_ratio_image, device="cpu", generator=self.generator))
        return {k: v.to(device) for k, v in m.items()} if device is not None else m

    def make_views(self, batch) -> dict:
        """The inputs of a step, drawn from ``self.generator``: ``video`` (the clip), ``view1`` /
        ``view2`` and their augmentation parameters ``aug1`` (``None`` unless ``augment_both``) /
        ``aug2``, ``frame_index`` ``(B, n)``, ``frames`` ``(B·n, 3, H, W)`` (the image branch's
        [0, 1] input, ordered ``(b, n)``) and ``frame_aug``."""
        c = self.config
        video = self.space.raw(batch)
        B, T = video.shape[0], video.shape[2]
        g = self.generator
        if c.augment_both:
            p1 = self.augment.draw(B, g)
            view1 = self.augment.apply(video, p1)
        else:
            p1, view1 = None, video
        p2 = self.augment.draw(B, g)
        view2 = self.augment.apply(video, p2)
        idx = sample_frame_indices(B, T, c.num_frames, c.frame_selection, g)
        if c.image_source == "frames":
            rows = torch.arange(B, device=video.device)[:, None]
            frames = video.transpose(1, 2)[rows, idx.to(video.device)]          # (B, n, 3, H, W)
        else:
            if not isinstance(batch, dict) or "image" not in batch:
                raise KeyError('image_source="unrelated" needs batch["image"] (SynthAV\'s "unrelated" image set)')
            frames = batch["image"]
            frames = frames[:, None] if frames.dim() == 4 else frames
            if frames.shape[:2] != (B, c.num_frames):
                raise ValueError(f'batch["image"] of shape {tuple(frames.shape)}: expected {c.num_frames} image(s) '
                                 f"per clip, (B, 3, H, W) or (B, n, 3, H, W)")
        frames = frames.reshape(B * c.num_frames, *frames.shape[2:])
        pf = None
        if self.frame_augmenter is not None:
            pf = self.frame_augmenter.draw(frames.shape[0], g)
            frames = self.frame_augmenter.apply(frames, pf)
        return dict(video=video, view1=view1, view2=view2, aug1=p1, aug2=p2, frame_index=idx, frames=frames,
                    frame_aug=pf)

    def _check_masks(self, masks: dict, batch_size: int, device) -> dict:
        out = {k: as_mask(masks[k], device) for k in ("video1", "video2", "image")}
        for k in ("video1", "video2"):
            if tuple(out[k].mask.shape) != (batch_size, self.num_patches):
                raise ValueError(f"{k} mask of shape {tuple(out[k].mask.shape)}, expected "
                                 f"{(batch_size, self.num_patches)}")
        if out["video1"].num_keep != out["video2"].num_keep:
            raise ValueError("the two views' masks must keep the same number of tokens")
        return out

    # ------------------------------------------------------------------------------------ forward
    def forward_parts(self, batch, masks: dict | None = None) -> dict:
        """Every intermediate of a step (views, masks, pooled vectors, predictions, loss terms):
        what :meth:`forward` sums, for tests and figures. ``masks`` (``{"video1", "video2", "image"}``)
        fixes the masks; the views are still drawn from the generator first."""
        c = self.config
        v = self.make_views(batch)
        video = v["video"]
        B, device = video.shape[0], video.device
        m = self.draw_masks(B, device) if masks is None else self._check_masks(masks, B, device)
        m12 = _cat_masks(m["video1"], m["video2"])
        # video towers (shared weights, both views in one pass)
        u = torch.cat([v["view1"], v["view2"]])
        x = self.encoder(self.space.model_input(u), m12)                       # (2B, K, D)
        e = self.decoder.embed(x)
        p = e if self.proj_u is None else self.proj_u(x)                     # g_u(f_u(·))
        zu = p.mean(1)
        hw = math.prod(self.encoder.grid_size[1:])
        slices = torch.div(v["frame_index"], self.encoder.patch_embed.tubelet, rounding_mode="floor").to(device)
        zf, empty = frame_level_pool(p, m12.ids_keep, torch.cat([slices, slices]), hw)
        zu1, zu2 = zu.chunk(2)
        zf1, zf2 = zf.chunk(2)
        # image tower
        pre = self.image_encoder.num_prefix_tokens
        y = self.image_encoder(self.image_space.model_input(v["frames"]), m["image"])  # (B·n, pre + K_f, D)
        h_frames = self.g_f(y[:, pre:]).mean(1).reshape(B, c.num_frames, -1)
        h = h_frames.mean(1)                                                   # h_u := h_f (n = 1), mean (n > 1)
        if c.stop_grad_image:
            h = h.detach()
        intra, intra_terms = intra_modal_loss(zu1, zu2, zf1, zf2, c.temperature, c.symmetric,
                                              c.video_level_weight, c.frame_level_weight)
        cross, cross_terms = cross_modal_loss(zu1, zu2, zf1, zf2, h, h, c.temperature,
                                              c.video_level_weight, c.frame_level_weight)
        out = dict(views=v, masks=m, tokens=x, projected=p, z_u=(zu1, zu2), z_f=(zf1, zf2), h_frames=h_frames,
                   h=h, slice_empty=empty, intra=intra, intra_terms=intra_terms, cross=cross,
                   cross_terms=cross_terms, image_tokens=y)
        zero = torch.zeros((), device=device)
        if c.recon_weight > 0 or c.mse_weight > 0:
            pred = self._decode(e, m12)                                        # (2B, N, P)
            target = self.space.patchify(u)
            pred1, pred2 = pred.chunk(2)
            t1, t2 = target.chunk(2)
            recon, recon_terms = reconstruction_loss(pred1, t1, m["video1"], pred2, t2, m["video2"], c.norm_pix)
            out.update(pred=(pred1, pred2), recon=recon, recon_terms=recon_terms, mse=decoder_mse_loss(pred1, pred2))
        else:
            out.update(pred=None, recon=zero, recon_terms={}, mse=zero)
        if c.image_recon_weight > 0:
            pred_img = self.image_decoder(y, m["image"])
            out["image_recon"] = masked_mse(pred_img.float(), self.image_space.patchify(v["frames"]).float(),
                                            m["image"], norm_pix=c.norm_pix)
        else:
            out["image_recon"] = zero
        return out

    def forward(self, batch, masks: dict | None = None):
        c = self.config
        o = self.forward_parts(batch, masks)
        loss = total_loss(o["intra"], o["cross"], o["recon"], o["mse"], c.contrast_weight, c.intra_weight,
                          c.cross_weight, c.recon_weight, c.mse_weight) + c.image_recon_weight * o["image_recon"]
        with torch.no_grad():
            zu1, zu2 = (F.normalize(z.float(), dim=-1) for z in o["z_u"])
            acc = ((zu1 @ zu2.t()).argmax(1) == torch.arange(zu1.shape[0], device=zu1.device)).float().mean()
        logs = dict(loss_intra=o["intra"].detach(), loss_cross=o["cross"].detach(),
                    loss_recon=o["recon"].detach(), loss_mse=o["mse"].detach(),
                    loss_intra_video=o["intra_terms"]["video"].detach(),
                    loss_intra_frame=o["intra_terms"]["frame"].detach(),
                    loss_cross_video=o["cross_terms"]["video"].detach(),
                    loss_cross_frame=o["cross_terms"]["frame"].detach(),
                    intra_acc=acc, frame_slice_empty=o["slice_empty"].float().mean(),
                    visible_tokens=torch.tensor(float(o["masks"]["video1"].num_keep)),
                    visible_tokens_image=torch.tensor(float(o["masks"]["image"].num_keep)))
        if c.image_recon_weight > 0:
            logs["loss_image_recon"] = o["image_recon"].detach()
        return loss, logs

    # ---------------------------------------------------------------------------- representations
    def _frames_of(self, batch) -> torch.Tensor:
        if isinstance(batch, dict) and "image" in batch and "video" not in batch:
            return batch["image"]
        return self.space.raw(batch)

    def encode(self, batch, mask=None, pool: bool = False, rep: str = "video") -> torch.Tensor:
        """Final-norm tokens of the video encoder on ``batch["video"]`` (visible ones of ``mask``), or
        of the image encoder (``rep="image"``: ``batch["image"]``, else every frame of the clip as an
        image, ``(B·T, …)``, patch tokens only); ``pool=True`` averages them."""
        if rep == "video":
            x = self.space.model_input(self.space.raw(batch))
            tokens = self.encoder(x, None if mask is None else as_mask(mask, x.device))
        elif rep == "image":
            x = self._frames_of(batch)
            if x.dim() == 5:                                   # (B, 3, T, H, W) -> (B·T, 3, H, W)
                B, C, T, H, W = x.shape
                x = x.transpose(1, 2).reshape(B * T, C, H, W)
            x = self.image_space.model_input(x)
            tokens = self.image_encoder(x, None if mask is None else as_mask(mask, x.device))
            tokens = tokens[:, self.image_encoder.num_prefix_tokens:]
        else:
            raise ValueError(f"rep must be 'video' or 'image', not {rep!r}")
        return tokens.mean(1) if pool else tokens

    def grid_tokens(self, batch, rep: str = "video") -> list[torch.Tensor]:
        """Final-norm tokens, nothing masked, on their grid: ``rep="video"`` ``[(B, D, T', h, w)]`` (the
        encoder kept downstream); ``rep="image"`` the image encoder on every frame, ``[(B, D, T, h, w)]``
        (or ``[(B, D, h, w)]`` for ``batch["image"]``)."""
        if rep == "video":
            return [grid_layout(self.encode(batch), self.encoder.grid_size)]
        x = self._frames_of(batch)
        g = grid_layout(self.encode(batch, rep="image"), self.image_encoder.grid_size)
        if x.dim() == 5:
            B, T = x.shape[0], x.shape[2]
            g = g.reshape(B, T, *g.shape[1:]).transpose(1, 2)
        return [g]

    def embed(self, batch, rep: str = "video") -> torch.Tensor:
        """``(B, D)`` probe features: the mean over the grid tokens of :meth:`grid_tokens`."""
        return self.grid_tokens(batch, rep)[0].flatten(2).mean(2)

    # ---------------------------------------------------------------------------- inspection API
    @torch.no_grad()
    def reconstruct(self, batch, mask=None) -> dict:
        """Video reconstruction of the clip (view 1, no augmentation) under ``mask`` (a video mask at
        ρ_u from ``self.generator`` when ``None``): the dictionary of
        :func:`~maskedav.methods.base.reconstruction_dict` (``input``, ``masked_input``, ``prediction``,
        ``pasted``, ``mask``, ``mask_pixels``, ``mse``, ``loss``) — Fig. 1 rows 1–3."""
        with self._eval_mode():
            raw = self.space.raw(batch)
            x = self.space.model_input(raw)
            m = self._draw_video_mask(x.shape[0]).to(x.device) if mask is None else as_mask(mask, x.device)
            pred = self._decode(self.decoder.embed(self.encoder(x, m)), m).float()
        return reconstruction_dict(self.space, raw, pred, m, self.config.norm_pix)

    @torch.no_grad()
    def reconstruct_image(self, batch, mask=None, frame: int | None = None) -> dict:
        """Image-branch reconstruction (Supp Fig. 19) of ``batch["image"]``, or of frame ``frame``
        (default: the middle one) of ``batch["video"]``, under ``mask`` (random at ρ_f from
        ``self.generator`` when ``None``), through the image encoder and :attr:`image_decoder` (the
        loaded MAE's decoder: the paper trains none, §9 item 14)."""
        with self._eval_mode():
            if isinstance(batch, dict) and "image" in batch:
                raw = batch["image"]
            else:
                video = self.space.raw(batch)
                raw = video[:, :, video.shape[2] // 2 if frame is None else frame]
            x = self.image_space.model_input(raw)
            m = (random_mask(x.shape[0], self.image_encoder.num_patches, self.config.mask_ratio_image,
                             device="cpu", generator=self.generator).to(x.device)
                 if mask is None else as_mask(mask, x.device))
            pred = self.image_decoder(self.image_encoder(x, m), m).float()
        return reconstruction_dict(self.image_space, raw, pred, m, self.config.norm_pix)

    @torch.no_grad()
    def attention_maps(self, batch, layer: int = -1, head: int | None = None, query: int | None = None,
                       mask=None, branch: str = "video") -> torch.Tensor:
        """Softmax attention of block ``layer`` of the video encoder (``branch="image"``: the image
        encoder on ``batch["image"]`` or the clip's middle frame; query 0 = its cls token), ``(B, H, L, L)``
        on all tokens or the visible ones of ``mask``."""
        if branch == "video":
            x = self.space.model_input(self.space.raw(batch))
            enc = self.encoder
        elif branch == "image":
            x = self.image_space.model_input(self.image_space.raw(batch))
            enc = self.image_encoder
        else:
            raise ValueError(f"branch must be 'video' or 'image', not {branch!r}")
        m = None if mask is None else as_mask(mask, x.device)
        maps = enc.attention_maps(x, layer, head, mask=m)
        return maps if query is None else maps[..., query, :]

    @torch.no_grad()
    def self_attention_map(self, batch, layer: int = -1) -> torch.Tensor:
        """Fig. 1 row 4 (spec §7, our choice): the video encoder on the unmasked clip, block ``layer``'s
        attention averaged over heads, each token scored by the mean attention it **receives**
        (``a_k = mean_q A[q, k]``; no cls token), on the token grid ``(B, T', h, w)``. Upsampling,
        normalisation and colour map are the figure's."""
        A = self.attention_maps(batch, layer).mean(1)                             # (B, L, L)
        return A.mean(1).reshape(A.shape[0], *self.encoder.grid_size)

    @torch.no_grad()
    def semantic_attention_map(self, batch, frame: int | None = None) -> torch.Tensor:
        """Fig. 1 row 6, option A (spec §7): cosine similarity between the image branch's embedding
        ``h`` of frame ``frame`` (default: the middle one; ``batch["image"]`` when given), unmasked and
        unaugmented, and every video token's ``g_u(f_u(token))`` from the unmasked clip, on the token
        grid ``(B, T', h, w)``."""
        with self._eval_mode():
            video = self.space.raw(batch)
            if isinstance(batch, dict) and "image" in batch:
                img = batch["image"]
            else:
                img = video[:, :, video.shape[2] // 2 if frame is None else frame]
            y = self.image_encoder(self.image_space.model_input(img))
            h = self.g_f(y[:, self.image_encoder.num_prefix_tokens:]).mean(1)
            p = self.g_u(self.encoder(self.space.model_input(video)))
            sim = F.cosine_similarity(p.float(), h.float()[:, None], dim=-1)
        return sim.reshape(sim.shape[0], *self.encoder.grid_size)

    @torch.no_grad()
    def features(self, batch, layers: Sequence[int] | None = None, mask=None) -> dict[int, torch.Tensor]:
        """``{layer: (B, L, D)}`` pre-norm outputs of the video encoder's blocks (all by default)."""
        x = self.space.model_input(self.space.raw(batch))
        layers = list(range(self.encoder.depth)) if layers is None else list(layers)
        m = None if mask is None else as_mask(mask, x.device)
        return dict(zip(layers, self.encoder.forward_features(x, m, layers)))

    def display(self, x: torch.Tensor) -> torch.Tensor:
        return self.space.display(x)
