"""CAV-MAE: contrastive audio-visual masked autoencoder (Gong et al., ICLR 2023) — KDC-MAE's ancestor.

Architecture (``YuanGongND/cav-mae`` ``src/models/cav_mae.py::CAVMAE``, reference-code §1.6):

* audio: fbank ``(1024, 128)`` transposed to ``[F, T]`` → 8 × 64 patch grid ("ft" layout); video: **one**
  RGB frame, 14 × 14 patches. Fixed 2-D sin-cos positions, learned modality embeddings, no cls token;
* modality-specific encoders of ``depth`` blocks (11 at ViT-B) and ``joint_depth`` shared blocks (1) whose
  attention / MLP weights are shared by three passes, each with **its own LayerNorms**
  (:class:`JointBlock`): (i) the concatenated audio + video tokens (joint norms) → ``norm``;
  (ii) audio tokens alone (audio norms) → ``norm_a``; (iii) video tokens alone → ``norm_v``;
* per-modality random masking, ratio 0.75 (unstructured; ``time`` / ``freq`` / ``tf`` structured audio
  masks are the paper's ablation);
* a shared decoder (512 × 8 × 16 heads) on (i): mask tokens re-inserted per modality with each modality's
  own ``ids_restore``, decoder sin-cos positions and learned decoder modality embeddings, two heads;
* loss (paper Eq. 4): ``L = λ_r·(L_r^a + L_r^v) + λ_c·L_c`` with ``L_r`` the per-patch norm-pix MSE on masked
  patches (Eq. 2) and ``L_c`` the InfoNCE of Eq. 3 between the mean-pooled (ii) and (iii) representations,
  cosine similarity, ``τ = 0.05``, **one direction** (the code's ``bidirect_contrast=False``: softmax over
  the audios of the batch for each video), ``λ_c = 0.01``, ``λ_r = 1``.

Inputs as the code: the frame is ImageNet-normalised and the video target is the patchified **normalised**
frame; the fbank is normalised ``(x - mean)/std`` (no ×2, unlike AudioMAE). During training the frame is a
random one of the clip (the code picks one of 10 extracted frames); in eval mode the middle frame.
"""
from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field
from typing import Sequence

import torch
from torch import nn
from timm.layers import trunc_normal_

from maskedav.configs import ViTConfig, check_choice, paper_config
from maskedav.losses import info_nce, masked_mse
from maskedav.masking import Mask, freq_mask, random_mask, time_freq_mask, time_mask, unshuffle
from maskedav.nn import ViTEncoder, build_blocks, init_mae_weights
from maskedav.pos_embed import PosEmbed

from .base import (profile_target, ImageSpace, grid_layout, MethodConfig, PretrainMethod, SpectrogramSpace, as_mask,
                   reconstruction_dict)

__all__ = ["CAVMAEConfig", "CAVMAE", "CAVMAEEncoder", "CAVMAEDecoder", "JointBlock",
           "CAVMAE_FBANK_STATS"]

AUDIO_MASK_TYPES = ("random", "time", "freq", "tf")
#: CAV-MAE ``egs/*`` scripts: ``dataset_mean=-5.081``, ``dataset_std=4.4849``.
CAVMAE_FBANK_STATS = (-5.081, 4.4849)
MODALITIES = ("audio", "video")


@dataclass(frozen=True)
class CAVMAEConfig(MethodConfig):
    """Ablation switches of CAV-MAE (defaults: the paper's / code's).

    ``audio`` / ``video``: geometry of the two streams (``depth`` = modality-specific blocks, ``joint_depth`` =
    shared blocks; encoder width / heads and the decoder fields must agree and are taken from ``audio``;
    :meth:`replace` changes both). ``mask_ratio_a`` / ``mask_ratio_v``: 0.75 each. ``audio_mask_type``:
    ``"random"`` or a structured ``"time"`` / ``"freq"`` / ``"tf"`` mask. ``norm_pix``: ``"per_patch"`` or
    ``None``. ``mae_weight`` (λ_r) 1.0, ``contrast_weight`` (λ_c) 0.01, ``temperature`` (τ) 0.05,
    ``bidirectional`` contrast False. ``train_frame``: ``"random"`` frame of a clip in training, else
    ``"middle"``. ``fbank_mean`` / ``fbank_std``: audio input normalisation (no ×2).
    """

    audio: ViTConfig = field(default_factory=lambda: paper_config("cavmae-audio"))
    video: ViTConfig = field(default_factory=lambda: paper_config("cavmae-video"))
    mask_ratio_a: float = 0.75
    mask_ratio_v: float = 0.75
    audio_mask_type: str = "random"
    norm_pix: str | None = "per_patch"
    mae_weight: float = 1.0
    contrast_weight: float = 0.01
    temperature: float = 0.05
    bidirectional: bool = False
    train_frame: str = "random"
    normalize_input: bool = True
    fbank_mean: float = CAVMAE_FBANK_STATS[0]
    fbank_std: float = CAVMAE_FBANK_STATS[1]
    seed: int = 0

    def __post_init__(self):
        super().__post_init__()
        a, v = self.audio, self.video
        if a.modality != "audio" or v.modality != "image":
            raise ValueError("CAV-MAE needs an audio ViTConfig and an image (frame) ViTConfig")
        for f in ("dim", "heads", "mlp_ratio", "qkv_bias", "joint_depth", "decoder_dim", "decoder_depth",
                  "decoder_heads"):
            if getattr(a, f) != getattr(v, f):
                raise ValueError(f"audio and video configs disagree on {f}: {getattr(a, f)} vs {getattr(v, f)}")
        if a.joint_depth < 1:
            raise ValueError("CAV-MAE needs at least one joint block (joint_depth >= 1)")
        if a.cls_token or v.cls_token:
            raise ValueError("CAV-MAE has no cls token")
        name = type(self).__name__
        check_choice(f"{name}.audio_mask_type", self.audio_mask_type, AUDIO_MASK_TYPES)
        check_choice(f"{name}.norm_pix", self.norm_pix, ("per_patch", None))
        check_choice(f"{name}.train_frame", self.train_frame, ("random", "middle"))

    @classmethod
    def from_profile(cls, profile, **changes) -> "CAVMAEConfig":
        """Small CAV-MAE of a run profile: ``depth - 1`` modality-specific blocks + 1 joint block (the
        same total depth as the other methods), "ft" audio layout. Pass ``fbank_mean`` / ``fbank_std``."""
        from maskedav.profiles import get_profile

        p = get_profile(profile) if isinstance(profile, str) else profile
        specific = max(p.model.depth - 1, 0)
        audio = ViTConfig.from_profile(p, "audio", spec_layout="ft", depth=specific, joint_depth=1,
                                       name="cavmae-audio-small")
        video = ViTConfig.from_profile(p, "image", depth=specific, joint_depth=1, name="cavmae-video-small")
        return cls(audio=audio, video=video, fbank_mean=0.0, fbank_std=1.0).replace(**{**profile_target(p), **changes})

    @classmethod
    def paper(cls, **changes) -> "CAVMAEConfig":
        """CAV-MAE (ViT-B, 11 + 1 blocks) on 1024×128 fbank + one 224² frame."""
        return cls().replace(**changes)


class JointBlock(nn.Module):
    """A timm ``Block`` whose attention and MLP are shared by three passes with separate LayerNorms
    (CAV-MAE's ``Block`` with ``norm1/norm2``, ``norm1_a/norm2_a``, ``norm1_v/norm2_v``)."""

    def __init__(self, block: nn.Module):
        super().__init__()
        self.block = block
        self.norm1_a, self.norm2_a = copy.deepcopy(block.norm1), copy.deepcopy(block.norm2)
        self.norm1_v, self.norm2_v = copy.deepcopy(block.norm1), copy.deepcopy(block.norm2)

    def norms(self, modality: str | None):
        if modality is None:
            return self.block.norm1, self.block.norm2
        if modality == "audio":
            return self.norm1_a, self.norm2_a
        if modality == "video":
            return self.norm1_v, self.norm2_v
        raise ValueError(f"modality must be None (joint), 'audio' or 'video', not {modality!r}")

    def forward(self, x: torch.Tensor, modality: str | None = None) -> torch.Tensor:
        b = self.block
        n1, n2 = self.norms(modality)
        x = x + b.drop_path1(b.ls1(b.attn(n1(x))))
        return x + b.drop_path2(b.ls2(b.mlp(n2(x))))

    @torch.no_grad()
    def attention(self, x: torch.Tensor, modality: str | None = None) -> torch.Tensor:
        """``(B, H, L, L)`` softmax attention of this block's pass."""
        return block_attention(self.block, x, self.norms(modality)[0])


@torch.no_grad()
def block_attention(block: nn.Module, x: torch.Tensor, norm: nn.Module | None = None) -> torch.Tensor:
    """Softmax attention ``(B, H, L, L)`` of a timm ``Block`` on input tokens ``x``, recomputed from its
    ``qkv`` (as :meth:`maskedav.nn.ViTEncoder.attention_maps`), with ``norm`` in place of ``norm1``."""
    attn = block.attn
    y = (norm if norm is not None else block.norm1)(x)
    B, L, _ = y.shape
    qkv = attn.qkv(y).reshape(B, L, 3, attn.num_heads, attn.head_dim).permute(2, 0, 3, 1, 4)
    q, k = attn.q_norm(qkv[0]), attn.k_norm(qkv[1])
    return ((q * attn.scale) @ k.transpose(-2, -1)).softmax(dim=-1)


class CAVMAEEncoder(nn.Module):
    """Both streams, the joint block(s) and the three final norms; inputs are model inputs
    (normalised fbank ``(B, T, F)``, normalised frame ``(B, 3, H, W)``)."""

    def __init__(self, audio: ViTConfig, video: ViTConfig):
        super().__init__()
        self.audio = ViTEncoder.from_config(audio, depth=audio.depth, final_norm=False)
        self.video = ViTEncoder.from_config(video, depth=video.depth, final_norm=False)
        dim = audio.dim
        self.dim, self.specific_depth, self.joint_depth = dim, audio.depth, audio.joint_depth
        self.depth = audio.depth + audio.joint_depth
        self.modality_a = nn.Parameter(torch.zeros(1, 1, dim))
        self.modality_v = nn.Parameter(torch.zeros(1, 1, dim))
        trunc_normal_(self.modality_a, std=0.02)
        trunc_normal_(self.modality_v, std=0.02)
        blocks = build_blocks(dim, audio.joint_depth, audio.heads, audio.mlp_ratio, audio.qkv_bias)
        blocks.apply(init_mae_weights)
        self.joint = nn.ModuleList(JointBlock(b) for b in blocks)
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.norm_a = nn.LayerNorm(dim, eps=1e-6)
        self.norm_v = nn.LayerNorm(dim, eps=1e-6)

    def _stream(self, modality: str) -> tuple[ViTEncoder, torch.Tensor]:
        return (self.audio, self.modality_a) if modality == "audio" else (self.video, self.modality_v)

    def specific(self, modality: str, x: torch.Tensor, mask=None, taps: dict | None = None) -> torch.Tensor:
        """Visible tokens after the modality-specific blocks (``taps[i]`` collects block ``i``'s output)."""
        enc, emb = self._stream(modality)
        tokens = enc.prepare_tokens(x, mask) + emb.to(x.dtype)
        for i, blk in enumerate(enc.blocks):
            tokens = blk(tokens)
            if taps is not None:
                taps[i] = tokens
        return tokens

    def shared(self, tokens: torch.Tensor, modality: str | None = None, taps: dict | None = None):
        """The joint block(s) on ``tokens`` with the norms of pass ``modality`` (None = joint)."""
        for j, blk in enumerate(self.joint):
            tokens = blk(tokens, modality)
            if taps is not None:
                taps[self.specific_depth + j] = tokens
        return tokens

    def final_norm(self, tokens: torch.Tensor, modality: str | None = None) -> torch.Tensor:
        return {None: self.norm, "audio": self.norm_a, "video": self.norm_v}[modality](tokens)

    def encode_audio(self, fbank: torch.Tensor, mask=None) -> torch.Tensor:
        """Pass (ii): audio tokens ``(B, N_vis, D)`` (audio norms, ``norm_a``)."""
        return self.norm_a(self.shared(self.specific("audio", fbank, mask), "audio"))

    def encode_video(self, frame: torch.Tensor, mask=None) -> torch.Tensor:
        """Pass (iii): video tokens ``(B, N_vis, D)`` (video norms, ``norm_v``)."""
        return self.norm_v(self.shared(self.specific("video", frame, mask), "video"))

    def encode_joint(self, fbank: torch.Tensor, frame: torch.Tensor, mask_a=None, mask_v=None) -> torch.Tensor:
        """Pass (i): ``[audio tokens, video tokens]`` ``(B, Na + Nv, D)`` through the joint norms, ``norm``."""
        a, v = self.specific("audio", fbank, mask_a), self.specific("video", frame, mask_v)
        return self.norm(self.shared(torch.cat([a, v], dim=1), None))

    def forward(self, audio: torch.Tensor | None = None, video: torch.Tensor | None = None) -> torch.Tensor:
        """Joint tokens when both inputs are given, else the one modality's pass."""
        if audio is not None and video is not None:
            return self.encode_joint(audio, video)
        if audio is not None:
            return self.encode_audio(audio)
        if video is not None:
            return self.encode_video(video)
        raise ValueError("give audio and/or video")


class CAVMAEDecoder(nn.Module):
    """The shared CAV-MAE decoder: per-modality un-shuffle (own ``ids_restore``), decoder sin-cos positions
    + learned decoder modality embeddings, shared blocks, one prediction head per modality."""

    def __init__(self, audio: ViTConfig, video: ViTConfig):
        super().__init__()
        d = audio.decoder_dim
        self.grid_a, self.grid_v = audio.grid_size, video.grid_size
        self.n_a, self.n_v = audio.num_patches, video.num_patches
        self.embed = nn.Linear(audio.dim, d)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, d))
        self.pos_a = PosEmbed(audio.decoder_pos_embed, d, self.grid_a)
        self.pos_v = PosEmbed(video.decoder_pos_embed, d, self.grid_v)
        self.modality_a = nn.Parameter(torch.zeros(1, 1, d))
        self.modality_v = nn.Parameter(torch.zeros(1, 1, d))
        self.blocks = build_blocks(d, audio.decoder_depth, audio.decoder_heads, audio.mlp_ratio, audio.qkv_bias)
        self.norm = nn.LayerNorm(d, eps=1e-6)
        self.head_a = nn.Linear(d, audio.patch_dim)
        self.head_v = nn.Linear(d, video.patch_dim)
        self.dim, self.depth = d, audio.decoder_depth
        self.apply(init_mae_weights)
        for p in (self.mask_token, self.modality_a, self.modality_v):
            trunc_normal_(p, std=0.02)

    def forward(self, x: torch.Tensor, mask_a: Mask, mask_v: Mask) -> tuple[torch.Tensor, torch.Tensor]:
        """``x``: joint tokens ``[audio visible, video visible]`` → (audio ``(B, Na, Pa)``, video ``(B, Nv, Pv)``)."""
        x = self.embed(x)
        k = mask_a.num_keep
        a = unshuffle(x[:, :k], self.mask_token, mask_a) + self.pos_a().to(x.dtype) + self.modality_a
        v = unshuffle(x[:, k:], self.mask_token, mask_v) + self.pos_v().to(x.dtype) + self.modality_v
        x = torch.cat([a, v], dim=1)
        for blk in self.blocks:
            x = blk(x)
        x = self.norm(x)
        return self.head_a(x[:, :self.n_a]), self.head_v(x[:, self.n_a:])


def _pair_of_masks(mask):
    if mask is None:
        return None, None
    if isinstance(mask, dict):
        return mask.get("audio"), mask.get("video")
    return tuple(mask)


class CAVMAE(PretrainMethod):
    """CAV-MAE: ``forward(batch) -> (loss, logs)`` on ``batch["fbank"]`` ``(B, T, F)`` and one frame
    (``batch["image"]`` ``(B, 3, H, W)`` or a frame of ``batch["video"]``), values in [0, 1].

    Masks: ``mask=dict(audio=..., video=...)`` (or an ``(audio, video)`` pair); either may be ``None``
    (drawn from ``self.generator``).
    """

    def __init__(self, config: CAVMAEConfig):
        super().__init__(config)
        a, v = config.audio, config.video
        self.encoder = CAVMAEEncoder(a, v)
        self.decoder = CAVMAEDecoder(a, v)
        self.audio_space = SpectrogramSpace(a.input_size, a.patch, layout=a.spec_layout,
                                            mean=config.fbank_mean, std=config.fbank_std, std_scale=1.0)
        self.video_space = ImageSpace(v.patch, v.grid_size, normalize=config.normalize_input, target="input")

    def space(self, modality: str):
        return self.audio_space if modality == "audio" else self.video_space

    # ------------------------------------------------------------------------------ inputs, masks
    def frame(self, batch) -> torch.Tensor:
        """The frame ``(B, 3, H, W)`` in [0, 1]: ``batch["image"]``, else a frame of ``batch["video"]``
        (random per sample from ``self.generator`` in training when ``train_frame="random"``, else the
        middle one)."""
        if not isinstance(batch, dict):
            x = batch
        elif "image" in batch:
            x = batch["image"]
        else:
            x = batch["video"]
        if x.dim() == 4:
            return x
        B, T = x.shape[0], x.shape[2]
        if self.training and self.config.train_frame == "random":
            t = torch.randint(T, (B,), device="cpu", generator=self.generator).to(x.device)
            return x[torch.arange(B, device=x.device), :, t]
        return x[:, :, T // 2]

    def fbank(self, batch) -> torch.Tensor:
        return self.audio_space.raw(batch)

    def draw_mask(self, modality: str, batch_size: int, device=None) -> Mask:
        c = self.config
        if modality == "video":
            m = random_mask(batch_size, self.encoder.video.num_patches, c.mask_ratio_v, device="cpu", generator=self.generator)
        elif c.audio_mask_type == "random":
            m = random_mask(batch_size, self.encoder.audio.num_patches, c.mask_ratio_a, device="cpu", generator=self.generator)
        else:
            s = self.audio_space
            fn = {"time": time_mask, "freq": freq_mask, "tf": time_freq_mask}[c.audio_mask_type]
            m = fn(batch_size, s.n_time, s.n_freq, c.mask_ratio_a, layout=s.layout, device="cpu", generator=self.generator)
        return m.to(device) if device is not None else m

    def _masks(self, mask, batch_size: int, device) -> tuple[Mask, Mask]:
        out = []
        for modality, m in zip(MODALITIES, _pair_of_masks(mask)):
            m = self.draw_mask(modality, batch_size, device) if m is None else as_mask(m, device)
            n = self.encoder.audio.num_patches if modality == "audio" else self.encoder.video.num_patches
            if tuple(m.mask.shape) != (batch_size, n):
                raise ValueError(f"{modality} mask of shape {tuple(m.mask.shape)}, expected {(batch_size, n)}")
            out.append(m)
        return out[0], out[1]

    # ----------------------------------------------------------------------------------- losses
    def contrastive_loss(self, audio_rep: torch.Tensor, video_rep: torch.Tensor):
        """Paper Eq. 3 on pooled ``(B, D)`` representations: InfoNCE with τ, cosine similarity; one
        direction (each video's softmax over the batch's audios) unless ``bidirectional``. Returns
        ``(loss, accuracy)`` — accuracy = fraction of videos whose most similar audio is their own."""
        a, v = audio_rep.float(), video_rep.float()
        loss = info_nce(v, a, temperature=self.config.temperature, bidirectional=self.config.bidirectional)
        with torch.no_grad():
            sim = torch.nn.functional.normalize(v, dim=-1) @ torch.nn.functional.normalize(a, dim=-1).t()
            acc = (sim.argmax(1) == torch.arange(len(v), device=v.device)).float().mean()
        return loss, acc

    def forward(self, batch, mask=None):
        c = self.config
        fbank, frame = self.fbank(batch), self.frame(batch)
        xa, xv = self.audio_space.model_input(fbank), self.video_space.model_input(frame)
        ma, mv = self._masks(mask, xa.shape[0], xa.device)
        enc = self.encoder
        a, v = enc.specific("audio", xa, ma), enc.specific("video", xv, mv)
        logs = {}
        loss = torch.zeros((), device=xa.device)
        if c.mae_weight != 0:
            joint = enc.norm(enc.shared(torch.cat([a, v], dim=1), None))
            pred_a, pred_v = self.decoder(joint, ma, mv)
            la = masked_mse(pred_a.float(), self.audio_space.patchify(fbank).float(), ma, c.norm_pix, channels=1)
            lv = masked_mse(pred_v.float(), self.video_space.patchify(frame).float(), mv, c.norm_pix, channels=3)
            loss = loss + c.mae_weight * (la + lv)
            logs.update(loss_recon_a=la.detach(), loss_recon_v=lv.detach())
        if c.contrast_weight != 0:
            ca = enc.norm_a(enc.shared(a, "audio")).mean(1)
            cv = enc.norm_v(enc.shared(v, "video")).mean(1)
            lc, acc = self.contrastive_loss(ca, cv)
            loss = loss + c.contrast_weight * lc
            logs.update(loss_contrast=lc.detach(), contrast_acc=acc)
        return loss, logs

    # ---------------------------------------------------------------------- representations
    def encode_audio(self, batch, mask=None, pool: bool = True) -> torch.Tensor:
        """Representation (ii) of the fbank (``batch`` dict or a raw fbank tensor): mean-pooled ``(B, D)``
        or tokens when ``pool=False``."""
        x = self.audio_space.model_input(self.fbank(batch))
        m = None if mask is None else as_mask(mask, x.device)
        tokens = self.encoder.encode_audio(x, m)
        return tokens.mean(1) if pool else tokens

    def encode_video(self, batch, mask=None, pool: bool = True) -> torch.Tensor:
        """Representation (iii) of the frame (``batch`` dict, a frame or a clip tensor)."""
        x = self.video_space.model_input(self.frame(batch))
        m = None if mask is None else as_mask(mask, x.device)
        tokens = self.encoder.encode_video(x, m)
        return tokens.mean(1) if pool else tokens

    def encode_joint(self, batch, pool: bool = True) -> torch.Tensor:
        """Joint representation (i): mean over all audio + video tokens after ``norm`` (CAV-MAE-FT's
        multimodal pooling), or the tokens."""
        xa = self.audio_space.model_input(self.fbank(batch))
        xv = self.video_space.model_input(self.frame(batch))
        tokens = self.encoder.encode_joint(xa, xv)
        return tokens.mean(1) if pool else tokens

    def grid_tokens(self, batch, rep: str = "joint") -> list[torch.Tensor]:
        """Tokens of representation ``rep`` on their patch grids: ``[(B, D, *audio grid)]``,
        ``[(B, D, *frame grid)]`` or both for ``"joint"``."""
        ga, gv = self.encoder.audio.grid_size, self.encoder.video.grid_size
        if rep == "audio":
            return [grid_layout(self.encode_audio(batch, pool=False), ga)]
        if rep == "video":
            return [grid_layout(self.encode_video(batch, pool=False), gv)]
        tokens = self.encode_joint(batch, pool=False)
        na = math.prod(ga)
        return [grid_layout(tokens[:, :na], ga), grid_layout(tokens[:, na:], gv)]

    def embed(self, batch, rep: str = "joint") -> torch.Tensor:
        """``(B, D)`` probe features: ``rep`` = ``"joint"``, ``"audio"`` or ``"video"``."""
        return {"joint": self.encode_joint, "audio": self.encode_audio, "video": self.encode_video}[rep](batch)

    # ---------------------------------------------------------------------- inspection API
    @torch.no_grad()
    def reconstruct(self, batch, mask=None) -> dict:
        """``{"audio": {...}, "video": {...}, "loss": ...}``: each modality's dictionary as
        :meth:`MaskedPixelAutoencoder.reconstruct` (input / masked_input / prediction / pasted / mask /
        mask_pixels / mse). The video input space is the [0, 1] frame (targets de-normalised)."""
        with self._eval_mode():
            fbank, frame = self.fbank(batch), self.frame(batch)
            xa, xv = self.audio_space.model_input(fbank), self.video_space.model_input(frame)
            ma, mv = self._masks(mask, xa.shape[0], xa.device)
            joint = self.encoder.encode_joint(xa, xv, ma, mv)
            pred_a, pred_v = self.decoder(joint, ma, mv)
        out = {"audio": reconstruction_dict(self.audio_space, fbank, pred_a, ma, self.config.norm_pix),
               "video": reconstruction_dict(self.video_space, frame, pred_v, mv, self.config.norm_pix)}
        out["loss"] = out["audio"]["loss"] + out["video"]["loss"]
        return out

    def _tokens_until(self, batch, modality: str, layer: int, mask=None):
        """Input of block ``layer`` of ``modality``'s pass (modality-specific blocks, then the joint
        block(s) with that modality's norms) and the block itself."""
        enc = self.encoder
        li = layer + enc.depth if layer < 0 else layer
        if not 0 <= li < enc.depth:
            raise IndexError(f"layer {layer} out of range for depth {enc.depth}")
        space = self.space(modality)
        raw = self.fbank(batch) if modality == "audio" else self.frame(batch)
        x = space.model_input(raw)
        m = None if mask is None else as_mask(mask, x.device)
        stream, emb = enc._stream(modality)
        tokens = stream.prepare_tokens(x, m) + emb.to(x.dtype)
        for blk in stream.blocks[:li]:
            tokens = blk(tokens)
        for blk in enc.joint[:max(li - enc.specific_depth, 0)]:
            tokens = blk(tokens, modality)
        return tokens, li

    @torch.no_grad()
    def attention_maps(self, batch, layer: int = -1, head: int | None = None, query: int | None = None,
                       modality: str = "video", mask=None) -> torch.Tensor:
        """Softmax attention ``(B, H, L, L)`` of block ``layer`` of the ``modality`` pass (blocks counted
        through the modality-specific stack, then the joint block(s) with the modality's norms)."""
        with self._eval_mode():
            tokens, li = self._tokens_until(batch, modality, layer, mask)
            enc = self.encoder
            if li < enc.specific_depth:
                maps = block_attention(enc._stream(modality)[0].blocks[li], tokens)
            else:
                maps = enc.joint[li - enc.specific_depth].attention(tokens, modality)
        maps = maps if head is None else maps[:, head]
        return maps if query is None else maps[..., query, :]

    @torch.no_grad()
    def features(self, batch, layers: Sequence[int] | None = None, modality: str = "video",
                 mask=None) -> dict[int, torch.Tensor]:
        """``{layer: (B, L, D)}`` pre-norm block outputs of the ``modality`` pass (all layers by default)."""
        enc = self.encoder
        layers = list(range(enc.depth)) if layers is None else [l + enc.depth if l < 0 else l for l in layers]
        space = self.space(modality)
        raw = self.fbank(batch) if modality == "audio" else self.frame(batch)
        x = space.model_input(raw)
        m = None if mask is None else as_mask(mask, x.device)
        taps: dict[int, torch.Tensor] = {}
        with self._eval_mode():
            enc.shared(enc.specific(modality, x, m, taps), modality, taps)
        return {l: taps[l] for l in layers}

    def display(self, x: torch.Tensor, modality: str) -> torch.Tensor:
        return self.space(modality).display(x)
