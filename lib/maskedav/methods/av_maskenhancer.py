"""AV-MaskEnhancer (Diao, Cheng, Cheng; arXiv 2309.08738): VideoMAE whose video reconstruction is
conditioned on the clip's audio through bidirectional cross-attention.

Data flow (paper Eqs. 1-7; spec ``av-maskenhancer.md`` §2, resolutions of §9 in brackets)::

    T_v   = E_v(I_v^S)                          Eq. 1  VideoMAE ViT on the visible tubes (tube mask, §3)
    T_a   = E_a(Cep(I_a))                       Eq. 5  MFCC -> TalkNet-style ResNet-SE -> Linear(C -> D_v)
    T_v2a = softmax(Q_v K_a^T / sqrt d) V_a     Eq. 6  visual queries over audio keys / values  [§9.5, §9.7]
    T_a2v = softmax(Q_a K_v^T / sqrt d) V_v     Eq. 6  audio queries over visible visual tokens
    T_con = Con(T_v2a, slot(T_a2v))             Eq. 2  channel concat on the visible-token axis:
                                                       N_fuse = N_vis, D_fuse = 2 D_v           [§2.4, §9.6]
    R_v   = D_av[T_con, T_m]                    Eq. 2  VideoMAE decoder; T_m = learned mask token
                                                       + decoder pos-embed at masked positions  [§9.4]
    L     = masked-patch pixel MSE              Eq. 7  (on masked patches, as MAE / VideoMAE)   [§9.16]

``slot(.)`` moves ``T_a2v`` (``N_a`` audio time steps) onto the visible-token grid: adaptive average
pooling over time to the ``T'`` tubelet slots, then a gather by each visible token's time index
(spec §2.4 steps 2-3). The two cross-attention modules are :class:`maskedav.nn.CrossAttentionBlock`
(residual on the **query** stream, spec §2.3).

Switches (:class:`AVMaskEnhancerConfig`), one per variant of the chapter:

* ``audio=False`` -> **VideoMAE**: no audio modules at all, the decoder reads ``T_v`` (``D_v`` wide);
  the same encoder, decoder, masks and loss as every AV variant.
* ``cross_attention=False`` -> "w/o cross-attention" (Table II), spec §2.4 / §9.24 definition (a):
  both cross-attention blocks are replaced by the identity, ``T_v2a := T_v``, ``T_a2v := T_a``, with the
  same slot-aligned channel concatenation, so shapes and everything else stay identical.
* ``audio_alignment="global"`` -> spec §9.24 definition (b): ``T_a2v`` is averaged over the whole clip
  and broadcast to every visible token (no per-slot temporal alignment). With
  ``cross_attention=False`` this is the "w/o" variant the pilot (§10.1) recommends as the fairer one.
* ``shuffle_audio=True`` -> control: every clip gets the audio of **another** clip of its batch
  (a random derangement, never its own), so a gain that survives it is extra capacity, not audio.
* ``mask_ratio`` -> tube-masking ratio (Table I: 0.75 / 0.9 / 0.95).
* ``norm_pix`` -> target normalisation: ``None`` = raw pixels in [0, 1] (the paper's Eq. 7, the
  book's default at small scale, reconstructions shown as they are), ``"per_channel"`` = VideoMAE's
  normalised targets (spec §4; reconstructions need the ground truth's patch statistics to be shown).

Choices the paper leaves open (documented here, spec §2.2 / §2.3 / §4 / §9.21):

* loss units: raw [0, 1] pixels on the masked patches (Eq. 7 as printed uses raw pixels; VideoMAE's
  per-patch normalised target is the ``norm_pix="per_channel"`` switch). Raw pixels make the held-out
  curves interpretable and the reconstructions honest (no ground-truth statistics are needed to show
  them); the normalised-target models are trained only for Fig. 2's second convention;
* audio features: a torch MFCC (:class:`maskedav.data.mfcc.MFCC`: pre-emphasis 0.97, 25 ms Hann window,
  10 ms hop, 512-point FFT, 26 HTK-mel filters, log, DCT-II, 13 coefficients, lifter 22; python_speech_features
  uses a rectangular window and replaces c0 by the log-energy, this does neither);
* audio encoder: TalkNet's SE-ResNet (:class:`AudioResNetSE`: stem 7×7, stages of SE basic blocks with
  strides 1, 2, 2, 1, mean over the cepstral axis, ``Linear(C -> D_v)``), TalkNet-sized at the paper
  scale (``(3, 4, 6, 3)`` blocks, channels 16-128, time stride 4 = one token per 25-fps frame); at the
  book's small profiles one block per stage, channels 8-64, and a stem time stride that keeps about
  one audio token per video frame (8 fps: stride 3 × 4 = 12 → 9 tokens per 1 s clip). A fixed
  sinusoid positional embedding over audio time is added (the paper mentions none; without it the
  visual queries of T_v→a could not tell *when* an audio token is);
* cross-attention: pre-LN blocks by default (``xattn_norm="post"`` gives TalkNet's post-LN form, used
  by :meth:`AVMaskEnhancerConfig.paper`), so the w/ model contains the w/o model as the special case
  "attention output = 0": the difference between them is the attention, not another residual path;
* the encoder sees ImageNet-normalised video (VideoMAE); :meth:`AVMaskEnhancer.embed` normalises.

Fairness between variants: weights from ``torch.manual_seed(seed)`` with the video encoder built first
(identical initial video encoder in every variant of a seed), masks from the method's generator
seeded with ``seed`` exactly as :class:`~maskedav.methods.videomae.VideoMAE` draws them (identical
mask sequence in every variant; the control's derangements come from a second generator), and the
same clip order. ``AVMaskEnhancer(config with audio=False)`` has VideoMAE's module tree and computes
VideoMAE's loss (a test loads one's weights into the other).

Downstream evaluation uses the **video encoder alone**: :attr:`AVMaskEnhancer.encoder` (a
:class:`~maskedav.nn.ViTEncoder`, ``forward(x, mask=None)``, no audio argument) through
:meth:`~maskedav.methods.base.MaskedPixelAutoencoder.embed` (mean-pooled tokens of the whole clip);
the audio encoder and the fusion are discarded (spec §2.6).

Besides the method, the module holds the chapter's run helpers (:func:`pretrain`, :func:`run_variants`,
:func:`run_cav_mae`, :func:`evaluate_heldout`, :func:`downstream`, :func:`evaluate_runs`; CPU runs go to
two single-threaded worker processes, :func:`parallel_map`), its tables and figures
(:func:`fig3_figure`, :func:`fig2_figure`, :func:`fig1_figure`, :func:`table1`, :func:`table2`,
:func:`degradation_table`), the paper's transcribed tables (:data:`PAPER_TABLE1`, :data:`PAPER_TABLE2`)
and the claims' rules (:data:`CLAIMS`, :func:`claim_verdicts`, :func:`record_claims`), so that the
notebooks only call library code.
"""
from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass, field, fields
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from maskedav.configs import ViTConfig, paper_config
from maskedav.data.mfcc import MFCC
from maskedav.masking import Mask, mask_from_bool, select_masked, tube_mask
from maskedav.nn import CrossAttentionBlock, MAEDecoder, ViTEncoder
from maskedav.pos_embed import sinusoid_table

from .base import MaskedPixelAutoencoder, MethodConfig, VideoSpace, norm_pix_stats, reconstruction_dict

__all__ = [
    "AVMaskEnhancerConfig", "AVMaskEnhancer", "MFCC", "AudioResNetSE", "SlotConcat", "derangement",
    "VARIANTS", "VARIANT_LABELS", "HELDOUT_MASK_SEED", "MIN_PRETRAIN_STEPS", "pretrain_steps", "load_split",
    "heldout_set", "evaluate_heldout",
    "PretrainRun", "pretrain", "pretrain_cav_mae", "run_variants", "random_init_runs", "run_cav_mae",
    "parallel_map",
    "downstream", "evaluate_runs", "PAPER_TABLE1", "PAPER_TABLE2", "CLAIMS", "EARLY_FRACTION",
    "claim_verdicts", "record_claims", "describe_verdict", "final_table", "curves_frame", "fig3_figure",
    "pick_clips", "fig2_figure", "architecture_trace", "fig1_figure", "MODALITY_GROUPS", "table1",
    "table2", "degradation_table", "degradation_figure", "downstream_summary", "accuracy_by_seed",
    "versus_random_init",
    "by_seed", "paired", "relative_gain", "curve_value", "mean_std",
]

# =============================================================================================
# Configuration


@dataclass(frozen=True)
class AVMaskEnhancerConfig(MethodConfig):
    """Ablation switches of AV-MaskEnhancer (see the module docstring); geometry in ``vit``.

    ``replace(dim=..., decoder_depth=...)`` routes ViT fields into ``vit`` (:class:`MethodConfig`).
    The video path (``vit``, ``mask_ratio``, ``mask_type``, ``norm_pix``, ``predict``,
    ``normalize_input``, ``seed``) has the same fields and meaning as
    :class:`~maskedav.methods.videomae.VideoMAEConfig`; with ``audio=False`` the model *is* VideoMAE.
    """

    vit: ViTConfig = field(default_factory=lambda: paper_config("avmaskenhancer-b"))
    mask_ratio: float = 0.9                  # tube masking (Table I: 0.75 / 0.9 / 0.95)
    mask_type: str = "tube"
    norm_pix: str | None = None              # None: raw pixels (Eq. 7) | "per_channel" (VideoMAE) | "per_patch"
    predict: str = "masked"
    normalize_input: bool = True             # ImageNet mean / std before the patch embedding (VideoMAE)
    seed: int = 0                            # masks (and the control's derangements) are drawn from it
    # ablation switches
    audio: bool = True                       # False: VideoMAE (video only)
    cross_attention: bool = True             # False: identity in place of both blocks (Table II "w/o")
    audio_alignment: str = "slot"            # "slot": per-tubelet-slot audio; "global": the clip mean
    shuffle_audio: bool = False              # control: every clip gets another clip's audio
    # audio front-end (TalkNet MFCC settings, spec §5.3) and encoder (TalkNet ResNet-SE, spec §2.2)
    sample_rate: int = 16000
    audio_samples: int = 40960               # waveform length S the model is built for (2.56 s at the paper)
    n_mfcc: int = 13
    n_mels: int = 26
    win_ms: float = 25.0
    hop_ms: float = 10.0
    n_fft: int = 512
    audio_channels: tuple = (16, 32, 64, 128)
    audio_blocks: tuple = (3, 4, 6, 3)       # TalkNet's ResNet34 block counts
    audio_stem_time_stride: int = 1          # TalkNet 1: time stride 4 = one token per 25-fps frame
    se_reduction: int = 8
    audio_pos_embed: bool = True
    # cross-attention (spec §2.3; TalkNet: 8 heads, dropout 0.1, post-LN)
    xattn_heads: int | None = None           # None: the encoder's heads
    xattn_norm: str = "pre"
    xattn_drop: float = 0.0
    xattn_mlp_ratio: float = 4.0

    def __post_init__(self):
        if self.audio_alignment not in ("slot", "global"):
            raise ValueError("audio_alignment must be 'slot' or 'global'")
        if self.norm_pix not in (None, "per_channel", "per_patch"):
            raise ValueError("norm_pix must be None, 'per_channel' or 'per_patch'")
        if self.xattn_norm not in ("pre", "post"):
            raise ValueError("xattn_norm must be 'pre' or 'post'")
        if self.mask_type != "tube":
            raise ValueError("AV-MaskEnhancer uses VideoMAE's tube masking (mask_type='tube')")
        if not 0.0 <= self.mask_ratio < 1.0:
            raise ValueError("mask_ratio must be in [0, 1)")
        if self.vit.modality != "video":
            raise ValueError("AV-MaskEnhancer needs a video ViTConfig")
        if len(self.audio_channels) != len(self.audio_blocks):
            raise ValueError("audio_channels and audio_blocks need the same length")
        object.__setattr__(self, "audio_channels", tuple(int(v) for v in self.audio_channels))
        object.__setattr__(self, "audio_blocks", tuple(int(v) for v in self.audio_blocks))

    # ------------------------------------------------------------------------------ geometry
    @property
    def grid(self) -> tuple[int, int, int]:
        return tuple(self.vit.grid_size)

    @property
    def num_tokens(self) -> int:
        return self.vit.num_patches

    @property
    def num_visible(self) -> int:
        """Visible tokens under tube masking: ``T'·(HW - int(ratio·HW))`` (VideoMAE's floor)."""
        t, h, w = self.grid
        return t * (h * w - int(self.mask_ratio * h * w))

    @property
    def patch_dim(self) -> int:
        return self.vit.patch_dim

    def videomae_config(self):
        """The :class:`~maskedav.methods.videomae.VideoMAEConfig` of this config's video path."""
        from .videomae import VideoMAEConfig

        return VideoMAEConfig(vit=self.vit, mask_ratio=self.mask_ratio, mask_type=self.mask_type,
                              norm_pix=self.norm_pix, predict=self.predict,
                              normalize_input=self.normalize_input, seed=self.seed)

    @classmethod
    def from_dict(cls, d: dict) -> "AVMaskEnhancerConfig":
        d = dict(d)
        vit = d.pop("vit")
        vit = vit if isinstance(vit, ViTConfig) else ViTConfig(**{k: tuple(v) if isinstance(v, list) else v
                                                                 for k, v in vit.items()})
        names = {f.name for f in fields(cls)}
        return cls(vit=vit, **{k: (tuple(v) if isinstance(v, list) else v) for k, v in d.items() if k in names})

    @classmethod
    def from_profile(cls, profile, **changes) -> "AVMaskEnhancerConfig":
        """The small model of a run profile: VideoMAE's small ViT (sizes from ``profile.model``, 1-D
        sinusoid tables, bias-free encoder-to-decoder projection), the clip's audio length, and a
        TalkNet ResNet-SE shrunk to one block per stage with channels ``(8, 16, 32, 64)`` and a stem time
        stride that keeps about one audio token per video frame."""
        from maskedav.profiles import get_profile

        p = get_profile(profile) if isinstance(profile, str) or profile is None else profile
        vit = ViTConfig.from_profile(p, "video", name="avmaskenhancer-small", pos_embed="sinusoid",
                                     decoder_pos_embed="sinusoid", decoder_embed_bias=False)
        # TalkNet keeps one audio token per video frame (time stride 4 at 100 MFCC frames/s and 25 fps);
        # at the profile's frame rate the stem's time stride keeps that ratio (8 fps: stride 3, 9 tokens).
        stem = max(1, round(1000.0 / cls.hop_ms / (4 * p.data.fps)))
        base = cls(vit=vit, sample_rate=p.data.sample_rate,
                   audio_samples=int(round(p.data.clip_seconds * p.data.sample_rate)),
                   audio_channels=(8, 16, 32, 64), audio_blocks=(1, 1, 1, 1), audio_stem_time_stride=stem)
        return base.replace(**changes)

    @classmethod
    def paper(cls, **changes) -> "AVMaskEnhancerConfig":
        """The paper's scale as far as it is known (spec §2, §5.3): VideoMAE ViT-B 16×224², decoder
        384 × 4 × 6 heads, 90 % tube masking, TalkNet's ResNet34-SE over 13 MFCCs of 2.56 s of 16 kHz
        audio, 8-head post-LN cross-attention with dropout 0.1, VideoMAE's normalised targets (a
        K400-initialised decoder needs them). Not trained in this book."""
        return cls(norm_pix="per_channel", xattn_heads=8, xattn_norm="post", xattn_drop=0.1).replace(**changes)



# =============================================================================================
# Audio front-end and encoder


class SqueezeExcite(nn.Module):
    """SE module (GAP -> FC -> ReLU -> FC -> sigmoid -> channel scale), TalkNet reduction 8."""

    def __init__(self, channels: int, reduction: int = 8):
        super().__init__()
        hidden = max(channels // reduction, 1)
        self.fc = nn.Sequential(nn.Linear(channels, hidden), nn.ReLU(inplace=True),
                                nn.Linear(hidden, channels), nn.Sigmoid())

    def forward(self, x):
        return x * self.fc(x.mean(dim=(2, 3)))[:, :, None, None]


class SEBasicBlock(nn.Module):
    """TalkNet ``SEBasicBlock``: conv3×3 -> ReLU -> BN -> conv3×3 -> BN -> SE -> + shortcut -> ReLU."""

    def __init__(self, cin: int, cout: int, stride=1, reduction: int = 8):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.se = SqueezeExcite(cout, reduction)
        self.shortcut = nn.Identity()
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride=stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        y = self.bn1(F.relu(self.conv1(x)))
        y = self.se(self.bn2(self.conv2(y)))
        return F.relu(y + self.shortcut(x))


class AudioResNetSE(nn.Module):
    """E_a (paper Eq. 5; TalkNet ``audioEncoder``): MFCC ``(B, T, n_cep)`` -> tokens ``(B, N_a, dim)``.

    Stem ``Conv2d(1 -> c0, 7, stride (2, stem_time_stride))`` on the (cepstra × time) image, stages of
    :class:`SEBasicBlock` with strides 1, (2, 2), (2, 2), 1, mean over the cepstral axis,
    ``Linear(C_last -> dim)`` (spec §9.8: ``D_a = D_v``). TalkNet: ``stem_time_stride=1``, so the time
    stride is 4 = one audio token per 25-fps video frame (100 MFCC frames/s).
    """

    def __init__(self, dim: int, channels: Sequence[int] = (16, 32, 64, 128),
                 blocks: Sequence[int] = (3, 4, 6, 3), reduction: int = 8, stem_time_stride: int = 1):
        super().__init__()
        c0 = channels[0]
        self.time_stride = 4 * stem_time_stride
        self.stem = nn.Sequential(nn.Conv2d(1, c0, 7, stride=(2, stem_time_stride), padding=3, bias=False),
                                  nn.BatchNorm2d(c0), nn.ReLU(inplace=True))
        strides = [1, 2, 2] + [1] * max(len(channels) - 3, 0)
        layers, cin = [], c0
        for i, (c, n) in enumerate(zip(channels, blocks)):
            for j in range(n):
                layers.append(SEBasicBlock(cin, c, strides[i] if j == 0 else 1, reduction))
                cin = c
        self.layers = nn.Sequential(*layers)
        self.proj = nn.Linear(cin, dim)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
        nn.init.xavier_uniform_(self.proj.weight)
        nn.init.zeros_(self.proj.bias)

    def num_tokens(self, num_frames: int) -> int:
        n = num_frames
        for s in (self.stem[0].stride[1], 2, 2):
            n = (n - 1) // s + 1
        return n

    def forward(self, mfcc: torch.Tensor) -> torch.Tensor:
        x = mfcc.transpose(1, 2).unsqueeze(1)               # (B, 1, n_cep, T)
        x = self.layers(self.stem(x))                        # (B, C, n_cep', T / time_stride)
        return self.proj(x.mean(dim=2).transpose(1, 2))      # (B, N_a, dim)


# =============================================================================================
# The model


def derangement(n: int, *, generator: torch.Generator | None = None, device=None) -> torch.Tensor:
    """A random permutation of ``range(n)`` with no fixed point (``perm[i] != i`` for every ``i``).

    One random cycle through all clips: ``order = randperm(n)``, ``perm[order[i]] = order[(i + 1) % n]``.
    Drawn on ``generator``'s device, returned on ``device``. Needs ``n >= 2``.
    """
    if n < 2:
        raise ValueError("a derangement needs at least 2 clips in the batch")
    order = torch.randperm(n, generator=generator,
                           device=generator.device if generator is not None else "cpu")
    perm = torch.empty_like(order)
    perm[order] = order.roll(-1)
    return perm.to(device) if device is not None else perm


class SlotConcat(nn.Module):
    """Con(T_v→a, slot(T_a→v)) (Eq. 2, spec §2.4): channel concatenation on the visible-token axis.

    ``T_a→v`` lives on the audio time axis; ``alignment="slot"`` pools it (adaptive average) to the
    ``T'`` tubelet slots and gathers, for every visible token, the slot of its time index (spec §2.4
    steps 2-3); ``"global"`` gives every token the clip mean (spec §9.24 b, no temporal alignment).
    Parameter-free; a module so that the architecture figure shows it.
    """

    def __init__(self, grid: Sequence[int], alignment: str = "slot"):
        super().__init__()
        if alignment not in ("slot", "global"):
            raise ValueError("alignment must be 'slot' or 'global'")
        self.grid, self.alignment = tuple(grid), alignment

    def align(self, t_a2v: torch.Tensor, ids_keep: torch.Tensor) -> torch.Tensor:
        B, _, D = t_a2v.shape
        if self.alignment == "global":
            return t_a2v.mean(dim=1, keepdim=True).expand(B, ids_keep.shape[1], D)
        t_slots, h, w = self.grid
        slots = F.adaptive_avg_pool1d(t_a2v.transpose(1, 2), t_slots).transpose(1, 2)   # (B, T', D)
        t_index = torch.div(ids_keep, h * w, rounding_mode="floor")                      # (B, N_vis)
        return torch.gather(slots, 1, t_index.unsqueeze(-1).expand(-1, -1, D))

    def forward(self, t_v2a: torch.Tensor, t_a2v: torch.Tensor, ids_keep: torch.Tensor) -> torch.Tensor:
        return torch.cat([t_v2a, self.align(t_a2v, ids_keep)], dim=-1)

    def extra_repr(self) -> str:
        return f"alignment={self.alignment}, slots={self.grid[0]}"


class AVMaskEnhancer(MaskedPixelAutoencoder):
    """AV-MaskEnhancer pre-training: ``forward(batch, mask=None) -> (loss, logs)`` (module docstring).

    ``batch``: ``"video"`` ``(B, 3, T, H, W)`` in [0, 1] and, for the AV variants, ``"audio"`` ``(B, S)``
    (16 kHz waveform) or precomputed ``"mfcc"`` ``(B, T_frames, n_mfcc)`` (:meth:`audio_features`).
    Optional ``"audio_perm"`` ``(B,)`` fixes which clip's audio each clip gets (the shuffled control's
    held-out evaluation). Masks come from ``self.generator`` (seeded by ``config.seed``, exactly as
    :class:`~maskedav.methods.videomae.VideoMAE` draws them, so every variant with the same seed sees the
    same masks); the control's derangements from a second generator, ``self.audio_generator``.

    ``.encoder`` is VideoMAE's ViT on ImageNet-normalised video: **no audio input**. The downstream
    representation is :meth:`embed` (mean-pooled encoder tokens of the whole clip; audio ignored).
    """

    def __init__(self, config: AVMaskEnhancerConfig):
        super().__init__(config)
        vit = config.vit
        self.audio_generator = torch.Generator().manual_seed(int(config.seed) + 7919)
        self.encoder = ViTEncoder.from_config(vit)              # built first: the same init in every variant
        # D_fuse = 2 D_v (spec §2.4 (c)): the encoder-to-decoder projection reads the fused tokens
        enc_out = 2 * vit.dim if config.audio else vit.dim
        self.decoder = MAEDecoder.from_config(vit, encoder_dim=enc_out, predict=config.predict)
        self.space = VideoSpace(vit.patch, vit.tubelet, vit.grid_size, normalize=config.normalize_input)
        self.audio_frontend = self.audio_encoder = self.xattn_v2a = self.xattn_a2v = self.fusion = None
        if config.audio:
            c = config
            self.audio_frontend = MFCC(c.sample_rate, c.n_mfcc, c.n_mels, c.win_ms, c.hop_ms, c.n_fft)
            self.audio_encoder = AudioResNetSE(vit.dim, c.audio_channels, c.audio_blocks, c.se_reduction,
                                               c.audio_stem_time_stride)
            self.num_audio_tokens = self.audio_encoder.num_tokens(self.audio_frontend.num_frames(c.audio_samples))
            table = (sinusoid_table(self.num_audio_tokens, vit.dim) if c.audio_pos_embed
                     else torch.zeros(self.num_audio_tokens, vit.dim))
            self.register_buffer("audio_pos", table[None], persistent=False)
            if c.cross_attention:
                kw = dict(mlp_ratio=c.xattn_mlp_ratio, drop=c.xattn_drop, norm=c.xattn_norm)
                if c.xattn_norm == "post":
                    kw["act"] = nn.ReLU                                    # TalkNet's FFN
                heads = c.xattn_heads or vit.heads
                self.xattn_v2a = CrossAttentionBlock(vit.dim, heads, **kw)   # Q = visual, K/V = audio
                self.xattn_a2v = CrossAttentionBlock(vit.dim, heads, **kw)   # Q = audio, K/V = visual
            self.fusion = SlotConcat(vit.grid_size, c.audio_alignment)

    # ------------------------------------------------------------------------------ masks
    def draw_mask(self, batch_size: int, device=None) -> Mask:
        """VideoMAE tube masks at ``config.mask_ratio`` from ``self.generator`` (as VideoMAE)."""
        m = tube_mask(batch_size, self.encoder.grid_size, self.config.mask_ratio, generator=self.generator)
        return m.to(device) if device is not None else m

    # ------------------------------------------------------------------------------ audio
    def audio_features(self, audio: torch.Tensor) -> torch.Tensor:
        """Cep(I_a): MFCC ``(B, T_frames, n_mfcc)`` of waveforms ``(B, S)`` (parameter-free; precompute it
        once per dataset and pass it as ``batch["mfcc"]`` to save the front-end's cost per step)."""
        if self.audio_frontend is None:
            raise ValueError("this variant has no audio")
        return self.audio_frontend(audio)

    def _batch_mfcc(self, batch) -> torch.Tensor:
        if "mfcc" in batch:
            return batch["mfcc"]
        if "audio" not in batch:
            raise ValueError("this variant uses audio: the batch needs 'audio' (waveform) or 'mfcc'")
        return self.audio_features(batch["audio"])

    def audio_permutation(self, batch, batch_size: int, device) -> torch.Tensor | None:
        """Which clip's audio each clip gets: ``batch["audio_perm"]`` if given; a fresh derangement when
        ``shuffle_audio`` (the control); else ``None`` (its own)."""
        perm = batch.get("audio_perm") if isinstance(batch, dict) else None
        if perm is not None:
            return torch.as_tensor(perm).to(device)
        if self.config.shuffle_audio:
            return derangement(batch_size, generator=self.audio_generator, device=device)
        return None

    def encode_audio(self, mfcc: torch.Tensor) -> torch.Tensor:
        """T_a = E_a(Cep(I_a)) (Eq. 5) plus the audio positional embedding: ``(B, N_a, D)``."""
        tokens = self.audio_encoder(mfcc.float())
        pos = self.audio_pos
        if pos.shape[1] != tokens.shape[1]:
            raise ValueError(f"{tokens.shape[1]} audio tokens, the model was built for {pos.shape[1]} "
                             f"(audio_samples={self.config.audio_samples})")
        return tokens + pos.to(tokens.dtype)

    # ------------------------------------------------------------------------------ fusion
    def slot_tokens(self, t_a2v: torch.Tensor, mask: Mask) -> torch.Tensor:
        """Audio-time tokens ``(B, N_a, D)`` on the visible-token grid ``(B, N_vis, D)`` (:class:`SlotConcat`)."""
        return self.fusion.align(t_a2v, mask.ids_keep)

    def fuse(self, t_v: torch.Tensor, t_a: torch.Tensor, mask: Mask) -> torch.Tensor:
        """T_con = Con(T_v→a, slot(T_a→v)) (Eqs. 2 and 6): ``(B, N_vis, 2 D)``."""
        if self.config.cross_attention:
            t_v2a = self.xattn_v2a(t_v, t_a)       # T_{v→a}: visual queries over audio keys / values
            t_a2v = self.xattn_a2v(t_a, t_v)       # T_{a→v}: audio queries over visual keys / values
        else:                                      # "w/o cross-attention": identity (spec §9.24 a)
            t_v2a, t_a2v = t_v, t_a
        return self.fusion(t_v2a, t_a2v, mask.ids_keep)

    def latent(self, batch, x: torch.Tensor, mask: Mask) -> torch.Tensor:
        """What the decoder reads: ``T_v`` (VideoMAE) or the fused ``T_con`` (AV variants)."""
        t_v = self.encoder(x, mask)
        if not self.config.audio:
            return t_v
        mfcc = self._batch_mfcc(batch)
        perm = self.audio_permutation(batch, x.shape[0], x.device)
        if perm is not None:
            mfcc = mfcc[perm.to(mfcc.device)]
        return self.fuse(t_v, self.encode_audio(mfcc.to(x.device)), mask)

    def forward(self, batch, mask=None):
        raw = self.space.raw(batch)
        x = self.space.model_input(raw)
        m = self._mask(mask if mask is not None else batch.get("mask"), x.shape[0], x.device)
        pred = self.decoder(self.latent(batch, x, m), m)
        loss = self.forward_loss(pred, self.space.patchify(raw), m)
        return loss, {"loss_recon": loss.detach()}

    # ------------------------------------------------------------------------------ inspection API
    @torch.no_grad()
    def reconstruct(self, batch, mask=None) -> dict:
        """As :meth:`MaskedPixelAutoencoder.reconstruct` (``input``, ``masked_input``, ``prediction``,
        ``pasted``, ``mask``, ``mask_pixels``, ``mse`` in the loss's units, ``loss``), with the audio of
        ``batch`` (and ``batch["audio_perm"]`` if given; the control draws a derangement). Norm-pix
        models are de-normalised with the true patches' statistics (VideoMAE's visualisation); such a
        model's result also holds ``prediction_normalized`` / ``input_normalized``: prediction and
        ground truth in the normalised target space, mapped to pixels by ``0.5 + 0.2·x`` (no ground-truth
        statistics used: the honest view). ``mse_pixels`` ``(B,)``: masked-patch MSE of ``pasted``
        against the input, in [0, 1] pixel units."""
        with self._eval_mode(), self._predict_all():
            raw = self.space.raw(batch)
            x = self.space.model_input(raw)
            m = self._mask(mask if mask is not None else batch.get("mask"), x.shape[0], x.device)
            pred = self.decoder(self.latent(batch, x, m), m).float()
        out = reconstruction_dict(self.space, raw.float(), pred, m, self.config.norm_pix)
        hidden = out["mask_pixels"]
        err = (out["pasted"] - raw.float()) ** 2 * hidden
        out["mse_pixels"] = err.flatten(1).sum(1) / hidden.flatten(1).sum(1).clamp_min(1)
        if self.config.norm_pix is not None:
            target = self.space.patchify(raw.float())
            shift, scale = norm_pix_stats(target, self.config.norm_pix)
            show = lambda t: (0.5 + 0.2 * self.space.unpatchify(t)).clamp(0, 1)  # noqa: E731
            out["input_normalized"] = show((target - shift) / scale)
            out["prediction_normalized"] = show(torch.where(m.mask[..., None], pred, (target - shift) / scale))
        return out

    @torch.no_grad()
    def cross_attention_maps(self, batch, which: str = "v2a", head: int | None = None, mask=None) -> torch.Tensor:
        """Softmax weights of a cross-attention block: ``"v2a"`` ``(B, H, N_vis, N_a)`` (visual queries
        over audio time), ``"a2v"`` ``(B, H, N_a, N_vis)``."""
        if self.xattn_v2a is None:
            raise ValueError("this variant has no cross-attention")
        with self._eval_mode():
            x = self.space.model_input(self.space.raw(batch))
            m = self._mask(mask if mask is not None else batch.get("mask"), x.shape[0], x.device)
            t_v = self.encoder(x, m)
            mfcc = self._batch_mfcc(batch)
            perm = self.audio_permutation(batch, x.shape[0], x.device)
            if perm is not None:
                mfcc = mfcc[perm.to(mfcc.device)]
            t_a = self.encode_audio(mfcc.to(x.device))
            if which == "v2a":
                maps = self.xattn_v2a.attention_weights(t_v, t_a)
            elif which == "a2v":
                maps = self.xattn_a2v.attention_weights(t_a, t_v)
            else:
                raise ValueError("which must be 'v2a' or 'a2v'")
        return maps if head is None else maps[:, head]

    # attention_maps / features / embed: inherited (encoder self-attention, encoder taps, mean-pooled
    # encoder tokens of the unmasked clip) — all video only.


# =============================================================================================
# The chapter's variants and data


#: Config switches of every pre-training variant of the chapter (mask ratio and data set apart).
VARIANTS: dict[str, dict] = {
    "videomae": dict(audio=False),
    "av_wo_xattn": dict(cross_attention=False, audio_alignment="slot"),
    "av_wo_xattn_global": dict(cross_attention=False, audio_alignment="global"),
    "av_xattn": dict(cross_attention=True),
    "av_xattn_shuffled": dict(cross_attention=True, shuffle_audio=True),
}

VARIANT_LABELS: dict[str, str] = {
    "videomae": "VideoMAE (video only)",
    "av_wo_xattn": "AV w/o cross-attention (identity, slot-aligned)",
    "av_wo_xattn_global": "AV w/o cross-attention (global audio)",
    "av_xattn": "AV-MaskEnhancer (w/ cross-attention)",
    "av_xattn_shuffled": "AV w/ cross-attention, shuffled audio (control)",
    "cav_mae": "CAV-MAE",
    "random_init": "random init (no pre-training)",
}

#: Seed of the fixed held-out masks (and of the held-out derangement) shared by every run.
HELDOUT_MASK_SEED = 12345

#: Pre-training length floor of the chapter: the spec's pilot (§10.1) needed ~1000 steps before the AV
#: models used the audio at all (at the cpu profile's 600 steps the trained model's held-out MSE moves by
#: 0.3 % when given another clip's audio), and ran 1500. Fixed before the chapter's runs.
MIN_PRETRAIN_STEPS = 1500


def pretrain_steps(profile) -> int:
    """Pre-training steps of every run of the chapter: the profile's ``train.steps``, raised to
    :data:`MIN_PRETRAIN_STEPS` for profiles meant for real runs (``train.steps >= 100``; the smoke
    profile keeps its few steps)."""
    steps = _profile(profile).train.steps
    return steps if steps < 100 else max(steps, MIN_PRETRAIN_STEPS)


def _profile(profile):
    from maskedav.profiles import get_profile

    return get_profile(profile) if isinstance(profile, str) or profile is None else profile


def synthav_config(profile, **data_overrides):
    """SynthAV at the profile's sizes (``data_overrides``: e.g. ``downsample=4`` for the degradation sweep)."""
    from maskedav.data.synthav import SynthAVConfig

    return SynthAVConfig.from_profile(_profile(profile), **data_overrides)


_DATA: dict = {}


def _data_digest() -> str:
    """Hash of the SynthAV generator's source and of this module's MFCC front-end: a cached split is
    reused only while both are unchanged."""
    import hashlib
    import inspect
    from pathlib import Path

    from maskedav.data import synthav

    h = hashlib.sha256()
    for f in sorted(Path(synthav.__file__).parent.glob("*.py")):
        h.update(f.read_bytes())
    h.update(inspect.getsource(MFCC).encode())
    return h.hexdigest()[:16]


def load_split(profile, split: str, data: dict | None = None, *, fbank: bool = False) -> dict:
    """A SynthAV split as tensors: ``video``, ``audio``, ``mfcc`` (the model's front-end, computed once),
    ``source_mask`` (pixels of the sounding object), ``labels`` and, with ``fbank=True``, the Kaldi
    ``fbank`` CAV-MAE reads (:func:`maskedav.data.audio.fbank`, the profile's mel bins).

    Memoised per (data config, split) in memory and in the cache folder
    (``<cache>/av_maskenhancer_data/``, keyed by the config, the split and the generator's source), so
    that the chapter's notebooks generate each split once."""
    import hashlib
    import json

    from maskedav.data import synthav
    from maskedav.paths import cache_root
    from maskedav.train.engine import _atomic_save

    P = _profile(profile)
    cfg = synthav_config(P, **(data or {}))
    key = (cfg, split)
    model_cfg = AVMaskEnhancerConfig.from_profile(P)
    if key not in _DATA:
        ident = json.dumps([cfg.to_dict(), split, model_cfg.n_mfcc, model_cfg.n_mels, model_cfg.win_ms,
                            model_cfg.hop_ms, model_cfg.n_fft, _data_digest()], sort_keys=True, default=str)
        path = cache_root() / "av_maskenhancer_data" / f"{split}-{hashlib.sha256(ident.encode()).hexdigest()[:20]}.pt"
        if path.exists():
            _DATA[key] = torch.load(path, weights_only=False)
        else:
            device = P.resolve_device()                   # generated where the profile runs (GPU: seconds)
            raw = synthav.materialize(cfg, split, device)
            front = MFCC(model_cfg.sample_rate, model_cfg.n_mfcc, model_cfg.n_mels, model_cfg.win_ms,
                         model_cfg.hop_ms, model_cfg.n_fft).to(device)
            mfcc = torch.cat([front(a) for a in raw["audio"].split(256)])
            _DATA[key] = {k: (v.cpu() if torch.is_tensor(v) else {t: x.cpu() for t, x in v.items()})
                          for k, v in dict(video=raw["video"], audio=raw["audio"], mfcc=mfcc,
                                           source_mask=raw["source_mask"], labels=dict(raw["labels"])).items()}
            synthav.clear_cache()
            if torch.device(device).type == "cuda":
                torch.cuda.empty_cache()              # workers on the same GPU need the memory back
            _atomic_save(_DATA[key], path)            # per-process temp file: workers may write at once
    out = _DATA[key]
    if fbank and "fbank" not in out:
        from maskedav.data.audio import fbank as kaldi_fbank

        out["fbank"] = torch.cat([kaldi_fbank(a, cfg.sample_rate, P.data.num_mel_bins)
                                  for a in out["audio"].split(256)])
    return out


def _shipped(splits: Sequence[str], data: dict | None = None, profile=None) -> dict:
    """The loaded splits a worker process needs (waveforms left out: the workers read MFCC / fbank)."""
    cfgs = None if profile is None else {synthav_config(profile, **(data or {}))}
    return {k: {n: t for n, t in v.items() if n != "audio"} for k, v in _DATA.items()
            if k[1] in splits and (cfgs is None or k[0] in cfgs)}


def clear_data() -> None:
    _DATA.clear()


def heldout_set(profile, mask_ratio: float = 0.9, data: dict | None = None, n: int | None = None) -> dict:
    """The fixed held-out set of the curves: the first ``n`` (default ``min(256, n_val)``) validation
    clips, one tube mask per clip drawn from :data:`HELDOUT_MASK_SEED` (the same for every run at this
    ratio), and one fixed derangement ``audio_perm`` (for evaluating with another clip's audio)."""
    P = _profile(profile)
    val = load_split(P, "val", data)
    n = min(n or 256, len(val["video"]))
    cfg = AVMaskEnhancerConfig.from_profile(P, mask_ratio=mask_ratio)
    g = torch.Generator().manual_seed(HELDOUT_MASK_SEED)
    mask = tube_mask(n, cfg.grid, mask_ratio, generator=g)
    perm = derangement(n, generator=g)
    return dict(video=val["video"][:n], mfcc=val["mfcc"][:n], source_mask=val["source_mask"][:n],
                labels={k: v[:n] for k, v in val["labels"].items()}, mask=mask.mask, audio_perm=perm,
                mask_ratio=mask_ratio)


@torch.no_grad()
def evaluate_heldout(model: AVMaskEnhancer, held: dict, *, mismatched: bool | None = None,
                     batch_size: int = 128) -> dict:
    """Masked-patch reconstruction error of ``model`` on the fixed held-out set (fixed masks).

    ``mse``: mean squared error over the masked pixels, in [0, 1] pixel units (norm-pix models are
    de-normalised with the true patches' statistics); ``mse_source`` / ``mse_rest``: the same over the
    masked pixels of the sounding object / all other masked pixels; ``loss``: the training loss's units.
    ``mismatched``: evaluate with another clip's audio (the fixed derangement); default: what the model
    was trained with (the control: mismatched).
    """
    device = next(model.parameters()).device
    cfg = model.config
    if mismatched is None:
        mismatched = bool(cfg.shuffle_audio)
    mfcc = held["mfcc"][held["audio_perm"]] if (cfg.audio and mismatched) else held["mfcc"]
    sums = dict(sq=0.0, n=0.0, sq_src=0.0, n_src=0.0, loss=0.0)
    was = model.training
    model.eval()
    try:
        for a in range(0, len(held["video"]), batch_size):
            video = held["video"][a:a + batch_size].to(device)
            m = mask_from_bool(held["mask"][a:a + batch_size].to(device))
            B = video.shape[0]
            batch = dict(video=video, mfcc=mfcc[a:a + batch_size].to(device),
                         audio_perm=torch.arange(B, device=device))
            x = model.space.model_input(video)
            pred = model.decoder(model.latent(batch, x, m), m).float()         # (B, N_mask, P)
            target = select_masked(model.space.patchify(video.float()), m)
            shift, scale = norm_pix_stats(target, cfg.norm_pix)
            sums["loss"] += float(((pred - (target - shift) / scale) ** 2).mean()) * B
            err = (pred * scale + shift - target) ** 2                          # pixel units
            src = held["source_mask"][a:a + batch_size].to(device)[:, None].expand(-1, 3, -1, -1, -1)
            src = select_masked(model.space.patchify(src.float()), m)
            sums["sq"] += float(err.sum())
            sums["n"] += err.numel()
            sums["sq_src"] += float((err * src).sum())
            sums["n_src"] += float(src.sum())
    finally:
        model.train(was)
    n_rest = sums["n"] - sums["n_src"]
    return dict(mse=sums["sq"] / sums["n"], loss=sums["loss"] / len(held["video"]),
                mse_source=sums["sq_src"] / max(sums["n_src"], 1.0),
                mse_rest=(sums["sq"] - sums["sq_src"]) / max(n_rest, 1.0))


# =============================================================================================
# Pre-training runs


class _cpu_threads:
    """Run a block with ``n`` intra-op threads on CPU (restored afterwards). The book's models are so small
    that a second OpenMP thread does not pay, and on a busy 2-core machine spinning threads slow a step
    down many times; parallelism comes from worker processes instead (:func:`parallel_map`)."""

    def __init__(self, device, n: int = 1):
        self.active = torch.device(device).type == "cpu"
        self.n = n

    def __enter__(self):
        if self.active:
            self.old = torch.get_num_threads()
            torch.set_num_threads(self.n)
        return self

    def __exit__(self, *exc):
        if self.active:
            torch.set_num_threads(self.old)
        return False


def _on_device(data: dict, keys, device) -> dict:
    """The training tensors on a CUDA device (batches are then gathered there: at the gpu profile a
    batch of clips is ~100 MB, and gathering and copying it on the host dominated the step); on CPU as is."""
    if torch.device(device).type == "cpu":
        return data
    return {k: data[k].to(device) for k in keys}


def _preload(splits, data, profile, device) -> dict:
    """What :func:`parallel_map`'s workers receive: the loaded splits on CPU (shared memory); nothing on a
    GPU machine, whose workers read the splits from the disk cache the parent wrote (no multi-GB
    shared-memory transfer)."""
    if torch.device(device).type != "cpu":
        return {}
    return _shipped(splits, data, profile)


@dataclass
class PretrainRun:
    """One pre-training run: its variant, seed, config, held-out curve and final metrics."""

    variant: str
    seed: int
    config: dict                         # AVMaskEnhancerConfig.to_dict() (CAV-MAE: its CAVMAEConfig)
    data: dict                           # SynthAV overrides (e.g. {"downsample": 4})
    curve: list[dict]                    # held-out rows: step, mse, mse_source, mse_rest, loss
    final: dict                          # last held-out row + mismatched-audio evaluation (AV variants)
    steps: int
    train_s: float
    state_dict: dict | None = None
    tag: str = ""
    mask_ratio: float = 0.9
    loaded: bool = False                 # True: read from a saved checkpoint, not trained now

    def model(self, device="cpu"):
        """The trained model (eval mode): an :class:`AVMaskEnhancer` (or CAV-MAE for ``"cav_mae"``)."""
        if self.variant == "cav_mae":
            from .cav_mae import CAVMAE

            m = CAVMAE(self.config)
        else:
            m = AVMaskEnhancer(AVMaskEnhancerConfig.from_dict(self.config))
        if self.state_dict is not None:
            m.load_state_dict(self.state_dict)
        return m.to(device).eval()


def run_tag(variant: str, mask_ratio: float = 0.9, data: dict | None = None, norm_pix: str | None = None) -> str:
    """Checkpoint name of a run: ``<variant>-m<ratio>[-<data overrides>][-<norm_pix>]``."""
    tag = f"{variant}-m{int(round(100 * mask_ratio))}"
    for k, v in sorted((data or {}).items()):
        tag += f"-{k}{v}"
    if norm_pix:
        tag += f"-{norm_pix}"
    return tag


def pretrain(profile, variant: str, seed: int, *, mask_ratio: float = 0.9, data: dict | None = None,
             norm_pix: str | None = None, steps: int | None = None, device=None, save: bool = True,
             reuse: bool = True, profile_name: str | None = None, overrides: dict | None = None,
             cached_only: bool = False, log=None) -> PretrainRun | None:
    """Pre-train one variant (:data:`VARIANTS`) on SynthAV's ``pretrain`` split at ``profile``'s sizes.

    Weights from ``torch.manual_seed(seed)``, masks from the method's generator seeded with ``seed``,
    batches from ``(seed, epoch)`` permutations: every variant of one seed sees the same clips in the
    same order under the same masks. Held-out curve (:func:`evaluate_heldout`) every
    ``profile.train.eval_every`` steps. The run is saved as checkpoint
    ``av_maskenhancer/<run_tag>`` (:mod:`maskedav.checkpoints`); with ``reuse`` a saved run with the
    same config and steps is loaded instead of retrained (``cached_only``: return ``None`` rather than
    train). ``overrides``: further config switches (e.g. ``{"xattn_norm": "post"}``), part of the
    checkpoint name.
    """
    from maskedav.checkpoints import checkpoint_path, load_checkpoint, save_checkpoint
    from maskedav.train import TrainConfig, train

    from .recipes import make_batch_fn

    P = _profile(profile)
    profile_name = profile_name or P.name
    data = dict(data or {})
    steps = pretrain_steps(P) if steps is None else int(steps)
    cfg = AVMaskEnhancerConfig.from_profile(P, **{**VARIANTS[variant], **(overrides or {})},
                                            mask_ratio=mask_ratio, norm_pix=norm_pix, seed=seed)
    tag = run_tag(variant, mask_ratio, data, norm_pix)
    tag += "".join(f"-{k}{v}" for k, v in sorted((overrides or {}).items()))
    name = f"av_maskenhancer/{tag}"
    if reuse and checkpoint_path(name, profile=profile_name, seed=seed).exists():
        payload = load_checkpoint(name, profile=profile_name, seed=seed)
        ex = payload["extra"]
        if payload["config"] == cfg.to_dict() and ex.get("steps") == steps and ex.get("data") == data:
            return PretrainRun(variant, seed, payload["config"], data, ex["curve"], ex["final"], steps,
                               ex["train_s"], payload["state_dict"], tag, mask_ratio, loaded=True)
    if cached_only:
        return None
    device = torch.device(device or P.resolve_device())
    pre = load_split(P, "pretrain", data)
    held = heldout_set(P, mask_ratio, data)
    keys = ("video", "mfcc") if cfg.audio else ("video",)
    pre = _on_device(pre, keys, device)
    torch.manual_seed(seed)
    model = AVMaskEnhancer(cfg).to(device)
    tcfg = TrainConfig.from_profile(P.train, steps=steps, seed=seed, progress=False)
    with _cpu_threads(device):
        res = train(model, make_batch_fn(pre, P.train.batch_size, keys, seed), tcfg, device=device,
                    eval_fn=lambda m: evaluate_heldout(m, held, batch_size=max(P.train.batch_size, 64)),
                    desc=f"{tag} s{seed}")
        curve = [dict(r) for r in res.eval_history]
        final = dict(curve[-1]) if curve else {}
        if cfg.audio:
            final["mse_matched"] = evaluate_heldout(model, held, mismatched=False)["mse"]
            final["mse_mismatched"] = evaluate_heldout(model, held, mismatched=True)["mse"]
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    run = PretrainRun(variant, seed, cfg.to_dict(), data, curve, final, steps, res.wall_time_s, state, tag,
                      mask_ratio)
    if save:
        save_checkpoint(name, state, profile=profile_name, seed=seed, config=cfg.to_dict(),
                        extra=dict(curve=curve, final=final, steps=steps, data=data, train_s=res.wall_time_s,
                                   variant=variant))
    if log is not None:
        log(f"{tag} seed {seed}: {steps} steps in {res.wall_time_s:.0f} s, held-out MSE "
            f"{curve[0]['mse']:.4f} -> {final.get('mse', float('nan')):.4f}")
    return run


def pretrain_cav_mae(profile, seed: int, *, mask_ratio: float = 0.75, steps: int | None = None, device=None,
                     save: bool = True, reuse: bool = True, profile_name: str | None = None,
                     cached_only: bool = False, log=None) -> PretrainRun | None:
    """Pre-train CAV-MAE (:class:`maskedav.methods.cav_mae.CAVMAE`, its small config at ``profile``) with
    video (frame) masking ratio ``mask_ratio`` (Table I's measured CAV-MAE rows; audio masking stays at
    CAV-MAE's 0.75) on the same SynthAV pre-training clips, for Table I. Its own recipe: one frame per
    clip, fbank audio, per-patch norm-pix targets, reconstruction + contrastive loss. Held-out metric:
    CAV-MAE's held-out loss terms on the validation clips (:func:`maskedav.methods.recipes.heldout_eval_fn`).
    Saved as ``av_maskenhancer/cav_mae-m<ratio>``."""
    from maskedav.checkpoints import checkpoint_path, load_checkpoint, save_checkpoint
    from maskedav.train import TrainConfig, train

    from .cav_mae import CAVMAE, CAVMAEConfig
    from .recipes import fbank_stats, heldout_eval_fn, make_batch_fn

    P = _profile(profile)
    profile_name = profile_name or P.name
    steps = pretrain_steps(P) if steps is None else int(steps)
    pre = load_split(P, "pretrain", fbank=True)
    val = load_split(P, "val", fbank=True)
    mean, std = fbank_stats(pre["fbank"])
    cfg = CAVMAEConfig.from_profile(P, mask_ratio_v=mask_ratio, fbank_mean=mean, fbank_std=std, seed=seed)
    tag = run_tag("cav_mae", mask_ratio)
    name = f"av_maskenhancer/{tag}"
    if reuse and checkpoint_path(name, profile=profile_name, seed=seed).exists():
        payload = load_checkpoint(name, profile=profile_name, seed=seed)
        ex = payload["extra"]
        if payload["config"] == cfg and ex.get("steps") == steps:
            return PretrainRun("cav_mae", seed, cfg, {}, ex["curve"], ex["final"], steps, ex["train_s"],
                               payload["state_dict"], tag, mask_ratio, loaded=True)
    if cached_only:
        return None
    device = torch.device(device or P.resolve_device())
    keys = ("fbank", "video")
    held = {k: val[k][:256] for k in keys}
    pre = _on_device(pre, keys, device)
    torch.manual_seed(seed)
    model = CAVMAE(cfg).to(device)
    tcfg = TrainConfig.from_profile(P.train, steps=steps, seed=seed, progress=False)
    with _cpu_threads(device):
        res = train(model, make_batch_fn(pre, P.train.batch_size, keys, seed), tcfg, device=device,
                    eval_fn=heldout_eval_fn(held, keys, max(P.train.batch_size, 64)), desc=f"{tag} s{seed}")
    curve = [dict(r) for r in res.eval_history]
    final = dict(curve[-1]) if curve else {}
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    if save:
        save_checkpoint(name, state, profile=profile_name, seed=seed, config=cfg,
                        extra=dict(curve=curve, final=final, steps=steps, data={}, train_s=res.wall_time_s,
                                   variant="cav_mae"))
    if log is not None:
        log(f"{tag} seed {seed}: {steps} steps in {res.wall_time_s:.0f} s")
    return PretrainRun("cav_mae", seed, cfg, {}, curve, final, steps, res.wall_time_s, state, tag, mask_ratio)


def cav_mae_num_patches(profile) -> int:
    """Frame patches of the profile's small CAV-MAE."""
    from .cav_mae import CAVMAEConfig

    return CAVMAEConfig.from_profile(_profile(profile)).video.num_patches


def cav_mae_visible_patches(profile, mask_ratio: float) -> int:
    """Visible frame patches of CAV-MAE's random masking, ``int(N·(1 - ratio))`` (MAE's floor)."""
    return int(cav_mae_num_patches(profile) * (1 - mask_ratio))


def run_cav_mae(profile, seeds: Sequence[int], mask_ratios: Sequence[float] = (0.75, 0.9, 0.95), *,
                steps: int | None = None, profile_name: str | None = None, device=None,
                workers: int | None = None, log=print) -> dict[tuple, list[PretrainRun]]:
    """:func:`pretrain_cav_mae` for every ratio and seed: ``{("cav_mae", ratio): [runs]}``.

    A ratio that leaves no visible frame patch (CAV-MAE masks one frame at random: on a 4×4 patch grid
    ``int(16·0.05) = 0`` at 95 %) cannot be trained; it is skipped (logged) and absent from the result.
    """
    P = _profile(profile)
    device = device or P.resolve_device()
    skipped = [r for r in mask_ratios if cav_mae_visible_patches(P, r) < 1]
    mask_ratios = [r for r in mask_ratios if r not in skipped]
    if skipped and log is not None:
        log(f"CAV-MAE at {', '.join(f'{r:.0%}' for r in skipped)} masking would keep no visible frame patch "
            f"(int(N·(1 - ratio)) = 0 of {cav_mae_num_patches(P)} patches): not trained")
    for split in ("pretrain", "val"):
        load_split(P, split, fbank=True)
    jobs = [dict(profile=P, seed=s, mask_ratio=r, steps=steps, device=device,
                 profile_name=profile_name or P.name) for r in mask_ratios for s in seeds]
    n_steps = pretrain_steps(P) if steps is None else steps
    t0 = time.perf_counter()
    runs = [pretrain_cav_mae(**job, cached_only=True) for job in jobs]
    todo = [job for job, run in zip(jobs, runs) if run is None]
    workers = default_workers(device, len(todo), n_steps) if workers is None else workers
    preload = _preload(("pretrain", "val"), None, P, device)
    trained = iter(parallel_map(pretrain_cav_mae, todo, workers, preload))
    runs = [run if run is not None else next(trained) for run in runs]
    out: dict[tuple, list[PretrainRun]] = {}
    for job, run in zip(jobs, runs):
        out.setdefault(("cav_mae", job["mask_ratio"]), []).append(run)
    if log is not None:
        trained = [r for r in runs if not r.loaded]
        log(f"{len(runs)} CAV-MAE runs (ratios {list(mask_ratios)}): {len(runs) - len(trained)} loaded, "
            f"{len(trained)} trained on {workers} worker(s) in {time.perf_counter() - t0:.0f} s wall "
            f"({sum(r.train_s for r in trained):.0f} s of training)")
    return out


# =============================================================================================
# Running many jobs: two CPU worker processes when the machine has the cores


def default_workers(device=None, n_jobs: int = 2, steps: int = 0) -> int:
    """Worker processes for a batch of independent runs (results do not depend on it: every run seeds
    itself). CPU: 2 on a machine with >= 2 cores, one thread each. CUDA: up to 4 processes sharing the
    GPU (the book's small models leave most of it idle; each holds its own copy of the training clips,
    ~7 GB at the gpu profile). 1 (in-process) for a single job or jobs too short (``steps < 50``) to pay
    for starting workers. ``MASKEDAV_WORKERS`` overrides."""
    env = os.environ.get("MASKEDAV_WORKERS")
    if env:
        return max(1, int(env))
    dev = torch.device(device) if device is not None else torch.device("cpu")
    if n_jobs < 2 or steps < 50:
        return 1
    if dev.type == "cuda":
        return max(1, min(4, n_jobs, (os.cpu_count() or 2) // 2))
    return max(1, min(2, os.cpu_count() or 1, n_jobs))


def _worker_init(preload: dict) -> None:
    torch.set_num_threads(1)
    _DATA.update(preload)


def parallel_map(fn, jobs: list[dict], workers: int = 1, preload: dict | None = None) -> list:
    """``[fn(**job) for job in jobs]``, on ``workers`` spawned processes when ``workers > 1``, each with one
    thread and the SynthAV splits in ``preload`` (shared memory, not regenerated; default: every split
    this process has loaded). Spawned workers re-import the caller's ``__main__`` module: call this from
    a notebook or under ``if __name__ == "__main__":``."""
    if workers <= 1 or len(jobs) <= 1:
        return [fn(**job) for job in jobs]
    import torch.multiprocessing as tmp
    from concurrent.futures import ProcessPoolExecutor

    preload = _shipped(("pretrain", "train", "val", "test")) if preload is None else preload
    with ProcessPoolExecutor(workers, mp_context=tmp.get_context("spawn"), initializer=_worker_init,
                             initargs=(preload,)) as ex:
        futures = [ex.submit(fn, **job) for job in jobs]
        return [f.result() for f in futures]


def random_init_runs(profile, seeds: Sequence[int], mask_ratio: float = 0.9) -> dict[tuple, list[PretrainRun]]:
    """The downstream reference without pre-training: per seed, the video model as initialised by
    ``torch.manual_seed(seed)`` — the very encoder every variant of that seed starts from (the video
    encoder is built first, :class:`AVMaskEnhancer`). ``{("random_init", mask_ratio): [runs]}``."""
    P = _profile(profile)
    out = []
    for seed in seeds:
        cfg = AVMaskEnhancerConfig.from_profile(P, **VARIANTS["videomae"], mask_ratio=mask_ratio, seed=seed)
        torch.manual_seed(seed)
        state = {k: v.detach().clone() for k, v in AVMaskEnhancer(cfg).state_dict().items()}
        out.append(PretrainRun("random_init", seed, cfg.to_dict(), {}, [], {}, 0, 0.0, state, "random_init",
                               mask_ratio))
    return {("random_init", mask_ratio): out}


def run_variants(profile, variants: Sequence[str], seeds: Sequence[int], *, mask_ratios: Sequence[float] = (0.9,),
                 data: dict | None = None, norm_pix: str | None = None, steps: int | None = None,
                 profile_name: str | None = None, device=None, workers: int | None = None,
                 log=print) -> dict[tuple, list[PretrainRun]]:
    """Pre-train every (variant, mask ratio) for every seed (:func:`pretrain`; saved runs are reused).

    Returns ``{(variant, mask_ratio): [PretrainRun per seed]}``.
    """
    P = _profile(profile)
    profile_name = profile_name or P.name
    device = device or P.resolve_device()
    for split in ("pretrain", "val"):
        load_split(P, split, data)
    jobs = [dict(profile=P, variant=v, seed=s, mask_ratio=r, data=data, norm_pix=norm_pix, steps=steps,
                 device=device, profile_name=profile_name)
            for v in variants for r in mask_ratios for s in seeds]
    n_steps = pretrain_steps(P) if steps is None else steps
    t0 = time.perf_counter()
    runs = [pretrain(**job, cached_only=True) for job in jobs]             # saved runs: load here
    todo = [job for job, run in zip(jobs, runs) if run is None]
    workers = default_workers(device, len(todo), n_steps) if workers is None else workers
    trained = iter(parallel_map(pretrain, todo, workers, _preload(("pretrain", "val"), data, P, device)))
    runs = [run if run is not None else next(trained) for run in runs]
    out: dict[tuple, list[PretrainRun]] = {}
    for job, run in zip(jobs, runs):
        out.setdefault((job["variant"], job["mask_ratio"]), []).append(run)
    if log is not None:
        trained = [r for r in runs if not r.loaded]
        log(f"{len(runs)} runs ({', '.join(variants)}; ratios {list(mask_ratios)}; data {data or 'clean'}): "
            f"{len(runs) - len(trained)} loaded from checkpoints, {len(trained)} trained on {workers} worker(s) "
            f"in {time.perf_counter() - t0:.0f} s wall ({sum(r.train_s for r in trained):.0f} s of training)")
    return out


# =============================================================================================
# Downstream evaluation of the video encoder alone


def _embed_av(model, batch):
    return model.embed(batch)


def _embed_cav(model, batch):
    return model.embed(batch, rep="video")


def _tokens_cav(model, batch):
    return model.encode_video(batch, pool=False)


class _NormalizedVideo:
    """Fine-tuning forward of a bare VideoMAE ViT: ``encoder(normalize(batch["video"]))``."""

    def __init__(self, space):
        self.space = space

    def __call__(self, encoder, batch):
        return encoder(self.space.model_input(batch["video"]))


def downstream(method, profile, *, seed: int = 0, probe_tasks: Sequence[str] | None = None,
               finetune_tasks: Sequence[str] = ("appearance",), kind: str = "av", device=None) -> list[dict]:
    """Downstream accuracy (percent, test split) of the pre-trained **video encoder alone** (no audio).

    * linear probe (:func:`maskedav.eval.linear_probe`: logistic regression trained with Adam for the
      profile's ``probe_epochs``, weight decay chosen on the validation split) on frozen, mean-pooled
      features of the whole clip (``method.embed``) for ``probe_tasks`` (default: every SynthAV task);
    * a short end-to-end fine-tune (:func:`maskedav.eval.finetune`: ``profile.train.finetune_steps`` steps,
      AdamW, lr ``profile.train.lr`` with 10 % warm-up, layer decay 0.75, label smoothing 0.1) of the
      encoder + a linear head for ``finetune_tasks``.

    ``kind="cav_mae"``: CAV-MAE's video representation (its frame pass, (iii)) instead.
    Returns rows ``{protocol, task, test_acc, val_acc}``.
    """
    from maskedav.data.synthav import TASKS, num_classes
    from maskedav.eval import extract_features, finetune, linear_probe
    from maskedav.train import TrainConfig

    from .recipes import _chunks, make_batch_fn

    P = _profile(profile)
    device = torch.device(device or P.resolve_device())
    method = method.to(device).eval()
    splits = {s: load_split(P, s) for s in ("train", "val", "test")}
    synth = synthav_config(P)
    embed = _embed_cav if kind == "cav_mae" else _embed_av
    feats = {s: extract_features(method, _chunks(d, ("video",), 256), forward=embed, device=device)[0]
             for s, d in splits.items()}
    rows = []
    for task in (probe_tasks or TASKS):
        y = {s: d["labels"][task] for s, d in splits.items()}
        res = linear_probe(feats["train"], y["train"], feats["val"], y["val"], feats["test"], y["test"],
                           num_classes=num_classes(task, synth), solver="adam", epochs=P.train.probe_epochs,
                           batch_size=256, seed=seed, device=device)
        rows.append(dict(protocol="linear probe", task=task, test_acc=res.test_accuracy, val_acc=res.val_accuracy))
    steps = P.train.finetune_steps
    for task in finetune_tasks:
        train_d = dict(video=splits["train"]["video"], label=splits["train"]["labels"][task])
        test_b = [dict(video=b["video"], label=b["label"]) for b in
                  _chunks(dict(video=splits["test"]["video"], label=splits["test"]["labels"][task]),
                          ("video", "label"), 256)]
        tcfg = TrainConfig(steps=steps, lr=P.train.lr, warmup_steps=max(steps // 10, 1), weight_decay=0.05,
                           betas=(0.9, 0.999), precision=P.train.precision, seed=seed, progress=False)
        if kind == "cav_mae":
            ft = finetune(method, make_batch_fn(train_d, P.train.batch_size, ("video", "label"), seed), test_b,
                          num_classes(task, synth), tcfg, layer_decay=None, forward=_tokens_cav,
                          label_smoothing=0.1, device=device)
        else:
            ft = finetune(method.encoder, make_batch_fn(train_d, P.train.batch_size, ("video", "label"), seed),
                          test_b, num_classes(task, synth), tcfg, layer_decay=0.75,
                          forward=_NormalizedVideo(method.space), label_smoothing=0.1, device=device)
        rows.append(dict(protocol="fine-tune", task=task, test_acc=ft.accuracy, val_acc=float("nan")))
    return rows


def _downstream_job(profile, run: PretrainRun, seed: int, probe_tasks, finetune_tasks, device) -> list[dict]:
    with _cpu_threads(device):
        rows = downstream(run.model(device), profile, seed=seed, probe_tasks=probe_tasks,
                          finetune_tasks=finetune_tasks, device=device,
                          kind="cav_mae" if run.variant == "cav_mae" else "av")
    return [dict(variant=run.variant, mask_ratio=run.mask_ratio, seed=run.seed, **r) for r in rows]


def evaluate_runs(profile, runs: Sequence[PretrainRun], *, probe_tasks=None, finetune_tasks=("appearance",),
                  device=None, workers: int | None = None):
    """:func:`downstream` of every run (in parallel worker processes on CPU); a DataFrame of rows
    ``variant, mask_ratio, seed, protocol, task, test_acc, val_acc``."""
    import pandas as pd

    P = _profile(profile)
    device = device or P.resolve_device()
    for s in ("train", "val", "test"):
        load_split(P, s)
    jobs = [dict(profile=P, run=r, seed=r.seed, probe_tasks=probe_tasks, finetune_tasks=finetune_tasks,
                 device=device) for r in runs]
    workers = default_workers(device, len(jobs), P.train.finetune_steps) if workers is None else workers
    out = parallel_map(_downstream_job, jobs, workers, _preload(("train", "val", "test"), None, P, device))
    return pd.DataFrame([row for rows in out for row in rows])


# =============================================================================================
# The paper's numbers (transcribed) and the claims' rules (fixed before the runs)

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

#: Fig. 3's reading (Sec. IV-B.2): the full model ends ~3 % below VideoMAE, and is not the fastest at ~150 of
#: ~500 epochs. The early point of the book's curves is the evaluation nearest this fraction of training.
EARLY_FRACTION = 150 / 500

#: Rules of the claims (spec §10 C1-C7, §6), fixed before the runs. Each compares arm ``a`` with arm ``b``
#: (one value per seed; runs of one seed share data order, initial video weights and masks) with
#: :func:`maskedav.claims.verdict` (one-sided Welch t at alpha 0.1, >= 3 seeds per arm).
CLAIMS: dict[str, dict] = {
    "C1": dict(table="fig3", direction="less", paper_effect="-3 % MSE (relative, Fig. 3)",
               statement="AV-MaskEnhancer (w/ cross-attention) ends with a lower held-out masked-patch "
                         "reconstruction MSE than VideoMAE (a = AV w/, b = VideoMAE; final MSE)"),
    "C1-control": dict(table="fig3", direction="less", paper_effect="not in the paper (book control)",
                       statement="the reconstruction gain needs the clip's own audio: AV w/ cross-attention "
                                 "beats the same model trained with shuffled audio (a = AV w/, b = control)"),
    "C2": dict(table="fig3", direction="greater", paper_effect="not the fastest at ~150 of ~500 epochs",
               statement="early in training (30 % of the steps) AV w/ cross-attention is not the lowest: its "
                         "MSE is above the best of VideoMAE and AV w/o (a = AV w/, b = min of the others)"),
    "C3": dict(table="table2", direction="greater", paper_effect="+2.5 top-1 (96.3 -> 98.8)",
               statement="cross-attention improves downstream accuracy of the video encoder: AV w/ > AV w/o "
                         "(identity, slot-aligned), linear-probe top-1 on SynthAV appearance"),
    "C3-global": dict(table="table2", direction="greater", paper_effect="+2.5 top-1 (96.3 -> 98.8)",
                      statement="as C3 with the other 'w/o' definition: AV w/ > AV w/o (global audio, "
                                "no temporal alignment), linear-probe top-1 on SynthAV appearance"),
    "C4": dict(table="table1", direction="greater", paper_effect="+2.7 top-1 (96.1 -> 98.8)",
               statement="audio pre-training improves downstream accuracy over VideoMAE at 90 % masking: "
                         "AV w/ > VideoMAE, linear-probe top-1 on SynthAV appearance"),
    "C5a": dict(table="table1", direction="greater", paper_effect="+1.1 top-1 (97.7 -> 98.8)",
                statement="AV-MaskEnhancer at 90 % masking beats 75 % (linear-probe top-1, appearance)"),
    "C5b": dict(table="table1", direction="greater", paper_effect="+2.4 top-1 (96.4 -> 98.8)",
                statement="AV-MaskEnhancer at 90 % masking beats 95 % (linear-probe top-1, appearance)"),
    "C5c": dict(table="table1", direction="greater", paper_effect="+0.3 top-1 (96.1 -> 96.4)",
                statement="AV-MaskEnhancer at 95 % masking still beats VideoMAE at 90 % (linear-probe top-1, "
                          "appearance)"),
    "C6": dict(table="degradation_sweep", direction="greater",
               paper_effect="motivation only (low-resolution / blurry video), not measured",
               statement="the audio benefit grows as the video degrades: relative MSE gain of AV w/ over "
                         "VideoMAE at the strongest down-sampling (a) vs on clean video (b)"),
    "C7": dict(table="fig2", direction="greater", paper_effect="qualitative ('restores the hairdryer better')",
               statement="AV reconstructs the sounding object better: the relative MSE gain of AV w/ over "
                         "VideoMAE on the sounding object's masked pixels (a) exceeds that on the other "
                         "masked pixels (b)"),
}


def claim_verdicts(arms: dict[str, tuple], *, alpha: float = 0.1, min_seeds: int = 3) -> dict:
    """``{claim_id: Verdict}`` for ``arms = {claim_id: (values_a, values_b)}`` by :data:`CLAIMS`' rules."""
    from maskedav.claims import verdict

    out = {}
    for cid, (a, b) in arms.items():
        rule = CLAIMS[cid]
        out[cid] = verdict(a, b, direction=rule["direction"], alpha=alpha, min_seeds=min_seeds,
                           margin=rule.get("margin"))
    return out


def record_claims(verdicts: dict, *, results_dir, profile: str) -> "pd.DataFrame":  # noqa: F821
    """Write every verdict to ``results/claims.csv`` (:func:`maskedav.claims.record_claim`) and return
    them as a table (claim, statement, effect, interval, p, seeds, verdict)."""
    import pandas as pd

    from maskedav.claims import record_claim

    rows = []
    for cid, v in verdicts.items():
        rule = CLAIMS[cid]
        record_claim(results_dir, "av-maskenhancer", cid, rule["table"], rule["statement"], rule["paper_effect"],
                     v, profile)
        rows.append(dict(claim=cid, table=rule["table"], paper=rule["paper_effect"], mean_a=v.mean_a,
                         mean_b=v.mean_b, effect=v.effect, ci_low=v.ci_low, ci_high=v.ci_high, p=v.p_value,
                         seeds=v.n_seeds, verdict=v.verdict))
    return pd.DataFrame(rows)


# =============================================================================================
# Tables and figures of the chapter (the notebooks call these)


def mean_std(x) -> tuple[float, float]:
    """Mean and sample standard deviation (NaN for one value) of per-seed values."""
    x = np.asarray(x, dtype=float)
    return float(x.mean()), (float(x.std(ddof=1)) if len(x) > 1 else float("nan"))


def by_seed(runs: Sequence[PretrainRun], key: str = "mse") -> dict[int, float]:
    """``{seed: final[key]}``."""
    return {r.seed: float(r.final[key]) for r in runs}


def paired(a: dict[int, float], b: dict[int, float]) -> tuple[list[float], list[float]]:
    """Values of the seeds both arms have, in seed order."""
    seeds = sorted(set(a) & set(b))
    return [a[s] for s in seeds], [b[s] for s in seeds]


def curve_value(run: PretrainRun, fraction: float, key: str = "mse") -> float:
    """The held-out value at the evaluation step nearest ``fraction`` of the run's steps."""
    target = fraction * run.steps
    row = min(run.curve, key=lambda r: abs(r["step"] - target))
    return float(row[key])


def relative_gain(v: dict[int, float], av: dict[int, float]) -> dict[int, float]:
    """Per seed ``100·(V - AV)/V`` (percent; positive = AV lower)."""
    return {s: 100.0 * (v[s] - av[s]) / v[s] for s in sorted(set(v) & set(av))}


def final_table(runs: dict, variants: Sequence[str], mask_ratio: float = 0.9, baseline: str = "videomae"):
    """One row per variant: final held-out masked-patch MSE (mean ± std over seeds), its relative gap to
    ``baseline`` (paired by seed), the sounding-object / other-pixel split, the value at 30 % of training,
    and (AV variants) the MSE when evaluated with matched and with mismatched audio."""
    import pandas as pd

    base = by_seed(runs[(baseline, mask_ratio)])
    rows = []
    for v in variants:
        rs = runs[(v, mask_ratio)]
        mse = by_seed(rs)
        gap = relative_gain(base, mse) if v != baseline else {}
        row = dict(variant=v, label=VARIANT_LABELS[v], mask_ratio=mask_ratio, seeds=len(rs))
        for key in ("mse", "mse_source", "mse_rest"):
            row[f"{key}_mean"], row[f"{key}_std"] = mean_std(list(by_seed(rs, key).values()))
        row["early_mse_mean"], row["early_mse_std"] = mean_std([curve_value(r, EARLY_FRACTION) for r in rs])
        row["gain_vs_videomae_pct_mean"], row["gain_vs_videomae_pct_std"] = \
            mean_std(list(gap.values())) if gap else (float("nan"), float("nan"))
        for key in ("mse_matched", "mse_mismatched"):
            vals = [r.final[key] for r in rs if key in r.final]
            row[f"{key}_mean"] = mean_std(vals)[0] if vals else float("nan")
        rows.append(row)
    return pd.DataFrame(rows)


def curves_frame(runs: dict, variants: Sequence[str], mask_ratio: float = 0.9):
    """Long table of every held-out curve: variant, seed, step, mse, mse_source, mse_rest, loss."""
    import pandas as pd

    return pd.DataFrame([dict(variant=v, label=VARIANT_LABELS[v], seed=r.seed, **row)
                         for v in variants for r in runs[(v, mask_ratio)] for row in r.curve])


def fig3_figure(runs: dict, variants: Sequence[str], mask_ratio: float = 0.9, baseline: str = "videomae"):
    """Fig. 3: held-out masked-patch MSE (fixed clips and masks) vs step, mean ± std over seeds:
    (a) every masked pixel (from the first evaluation after initialisation), (b) the second half of
    training, (c) the relative gap to VideoMAE, paired by seed, (d) the sounding object's masked pixels."""
    import matplotlib.pyplot as plt

    from maskedav import viz

    viz.set_style()
    fig, axes = plt.subplots(1, 4, figsize=(17, 3.7))

    def curves(key, keep):
        return {VARIANT_LABELS[v]: [(np.array([r["step"] for r in run.curve], float)[keep],
                                     np.array([r[key] for r in run.curve], float)[keep])
                                    for run in runs[(v, mask_ratio)]] for v in variants}

    steps = np.array([r["step"] for r in runs[(baseline, mask_ratio)][0].curve], float)
    after_init = steps > 0
    viz.loss_curves(axes[0], curves("mse", after_init), ylabel="held-out masked-patch MSE", logy=True)
    axes[0].set_title("(a) all masked pixels (fixed held-out clips and masks)")
    axes[0].legend(fontsize=6.5)
    viz.loss_curves(axes[1], curves("mse", steps >= steps[-1] / 2), ylabel="held-out masked-patch MSE")
    axes[1].set_title("(b) second half of training")
    axes[1].get_legend().remove()
    base = {r.seed: np.array([x["mse"] for x in r.curve]) for r in runs[(baseline, mask_ratio)]}
    for i, v in enumerate(variants):
        if v == baseline:
            continue
        rel = [100.0 * (base[r.seed] - np.array([x["mse"] for x in r.curve])) / base[r.seed]
               for r in runs[(v, mask_ratio)] if r.seed in base]
        vals = np.stack(rel)[:, after_init]
        m, s = vals.mean(0), vals.std(0)
        colour = viz.PALETTE[i % len(viz.PALETTE)]
        axes[2].plot(steps[after_init], m, color=colour, label=VARIANT_LABELS[v])
        axes[2].fill_between(steps[after_init], m - s, m + s, color=colour, alpha=0.2)
    axes[2].axhline(0, color="k", lw=0.8)
    axes[2].axvline(EARLY_FRACTION * steps[-1], color="grey", lw=0.8, ls=":")
    axes[2].set_xlabel("step")
    axes[2].set_ylabel("MSE gain over VideoMAE (%)")
    axes[2].set_title("(c) 100·(VideoMAE − variant)/VideoMAE")
    viz.loss_curves(axes[3], curves("mse_source", after_init), ylabel="MSE on the sounding object")
    axes[3].set_title("(d) masked pixels of the sounding object")
    axes[3].get_legend().remove()
    fig.tight_layout()
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
def fig2_figure(models: dict, held: dict, clips: Sequence[int], frames: Sequence[int] = (0, 2, 4, 6)):
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

    from maskedav import viz

    viz.set_style()
    idx = torch.as_tensor(list(clips))
    video = held["video"][idx]
    batch = dict(video=video, mfcc=held["mfcc"][idx], mask=held["mask"][idx],
                 audio_perm=torch.arange(len(idx)))
    rows, stats = {"ground truth": video}, []
    rec_any = None
    for label, entry in models.items():
        model, view = entry if isinstance(entry, tuple) else (entry, "pixels")
        device = next(model.parameters()).device
        r = model.reconstruct({k: v.to(device) for k, v in batch.items()})
        rec_any = r
        if view == "normalized":
            shown, truth = r["prediction_normalized"].cpu(), r["input_normalized"].cpu()
            mse = r["mse"]
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
    rows = {"ground truth": rows.pop("ground truth"), "masked input (90 %)": masked, **rows}
    names = list(rows)
    nf = len(frames)
    fig, axes = plt.subplots(len(names), nf * len(clips), figsize=(1.05 * nf * len(clips), 1.15 * len(names)),
                             squeeze=False)
    for ci, c in enumerate(clips):
        for ri, name in enumerate(names):
            cols = axes[ri, ci * nf:(ci + 1) * nf]
            viz.video_strip(cols, rows[name][ci], frames=frames)
            if ri == 0:
                for j, f in enumerate(frames):
                    cols[j].contour(held["source_mask"][c, f].float().numpy(), levels=[0.5], colors="w",
                                    linewidths=0.8)
                    cols[j].set_title(f"clip {c}, t={f}", fontsize=7)
            s = [x for x in stats if x["clip"] == c and x["model"] == name]
            if s:
                note = (f"MSE {s[0]['mse']:.4f} | source {s[0]['mse_source']:.3f}" if s[0]["view"] != "normalized"
                        else f"target-space MSE {s[0]['mse']:.3f}")
                cols[0].set_xlabel(note, fontsize=6.5, loc="left")
            if ci == 0:
                cols[0].set_ylabel(name, fontsize=7)
    fig.tight_layout(pad=0.2)
    import pandas as pd

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


def degradation_table(runs_by_factor: dict[int, dict], mask_ratio: float = 0.9):
    """One row per down-sampling factor: VideoMAE and AV w/ final held-out MSE and the relative gain."""
    import pandas as pd

    rows = []
    for f, runs in sorted(runs_by_factor.items()):
        v, av = by_seed(runs[("videomae", mask_ratio)]), by_seed(runs[("av_xattn", mask_ratio)])
        gain = relative_gain(v, av)
        row = dict(downsample=f, seeds=len(gain))
        row["videomae_mse_mean"], row["videomae_mse_std"] = mean_std(list(v.values()))
        row["av_mse_mean"], row["av_mse_std"] = mean_std(list(av.values()))
        row["gain_pct_mean"], row["gain_pct_std"] = mean_std(list(gain.values()))
        rows.append(row)
    return pd.DataFrame(rows)


def degradation_figure(table):
    import matplotlib.pyplot as plt

    from maskedav import viz

    viz.set_style()
    fig, axes = plt.subplots(1, 2, figsize=(8.5, 3.2))
    x = table["downsample"].to_numpy()
    for key, label in (("videomae_mse", "VideoMAE"), ("av_mse", "AV-MaskEnhancer (w/)")):
        axes[0].errorbar(x, table[f"{key}_mean"], yerr=table[f"{key}_std"], marker="o", capsize=3, label=label)
    axes[0].set_xscale("log", base=2)
    axes[0].set_xlabel("video down-sampling factor (input and target)")
    axes[0].set_ylabel("held-out masked-patch MSE")
    axes[0].legend()
    axes[1].errorbar(x, table["gain_pct_mean"], yerr=table["gain_pct_std"], marker="o", capsize=3, color="k")
    axes[1].axhline(0, color="grey", lw=0.8)
    axes[1].set_xscale("log", base=2)
    axes[1].set_xlabel("video down-sampling factor")
    axes[1].set_ylabel("MSE gain of AV over VideoMAE (%)")
    axes[1].set_title("does the audio benefit grow as the video degrades?")
    fig.tight_layout()
    return fig


def downstream_summary(df, group=("variant", "mask_ratio", "protocol", "task")):
    """Mean ± std over seeds of the downstream accuracies (long format)."""
    g = df.groupby(list(group), sort=False)["test_acc"]
    out = g.agg(["mean", "std", "count"]).reset_index()
    return out.rename(columns={"mean": "top1_mean", "std": "top1_std", "count": "seeds"})


def accuracy_by_seed(df, variant: str, mask_ratio: float = 0.9, protocol: str = "linear probe",
                     task: str = "appearance") -> dict[int, float]:
    """``{seed: test accuracy}`` of one variant / ratio / protocol / task in :func:`evaluate_runs`' rows."""
    sel = df[(df.variant == variant) & (df.mask_ratio == mask_ratio) & (df.protocol == protocol) & (df.task == task)]
    return {int(s): float(a) for s, a in zip(sel.seed, sel.test_acc)}


def versus_random_init(df, variants: Sequence[str], mask_ratio: float = 0.9, protocol: str = "linear probe",
                       task: str = "appearance"):
    """Sanity check before the downstream claims (not a paper claim): each pre-trained variant against the
    random-init encoder of the same seeds (:func:`random_init_runs`), by the claims' rule
    (:func:`maskedav.claims.verdict`, pre-trained > random init). One row per variant."""
    import pandas as pd

    from maskedav.claims import verdict

    rand = accuracy_by_seed(df, "random_init", mask_ratio, protocol, task)
    rows = []
    for v in variants:
        x = verdict(*paired(accuracy_by_seed(df, v, mask_ratio, protocol, task), rand), direction="greater")
        rows.append(dict(variant=VARIANT_LABELS[v], pretrained=x.mean_a, random_init=x.mean_b, effect=x.effect,
                         p_value=x.p_value, verdict=x.verdict))
    return pd.DataFrame(rows)


def describe_verdict(cid: str, v, fmt: str = ".4g", unit: str = "") -> str:
    """One sentence about a claim's verdict, every number taken from ``v`` (a :class:`~maskedav.claims.Verdict`)."""
    rule = CLAIMS[cid]
    ci = "" if math.isnan(v.ci_low) else f", {100 * v.confidence:.0f} % CI [{v.ci_low:{fmt}}, {v.ci_high:{fmt}}]"
    p = "" if math.isnan(v.p_value) else f", p = {v.p_value:.3g}"
    return (f"**{cid}** ({rule['statement']}; paper: {rule['paper_effect']}): a = {v.mean_a:{fmt}}{unit}, "
            f"b = {v.mean_b:{fmt}}{unit}, a − b = {v.effect:{fmt}}{unit}{ci}{p}, {v.n_seeds} seeds → "
            f"**{v.verdict}**.")


_XATTN_COLUMN = {"videomae": "— (no audio)", "av_wo_xattn": "w/o (identity, slot-aligned)",
                 "av_wo_xattn_global": "w/o (global audio)", "av_xattn": "w/",
                 "av_xattn_shuffled": "w/ (shuffled-audio control)", "cav_mae": "—",
                 "random_init": "— (not pre-trained)"}


def table2(df, profile_name: str):
    """Table II: the paper's two rows and the measured rows (every variant at 90 %, every protocol and
    task; mean ± std over seeds of the video encoder's downstream top-1)."""
    import pandas as pd

    rows = [dict(source="paper (UCF101, ViT-B, K400 init)", method=r["method"], cross_attention=r["cross_attention"],
                 mask=r["mask"], protocol="fine-tune", task="UCF101", top1_mean=r["top1"], top1_std=float("nan"),
                 seeds=float("nan"), ref=r["source"]) for r in PAPER_TABLE2]
    s = downstream_summary(df[(df.mask_ratio == 0.9) & df.variant.isin([*VARIANTS, "random_init"])])
    for _, r in s.iterrows():
        rows.append(dict(source=f"measured (SynthAV, profile {profile_name})", method=VARIANT_LABELS[r.variant],
                         cross_attention=_XATTN_COLUMN[r.variant], mask="90%", protocol=r.protocol, task=r.task,
                         top1_mean=r.top1_mean, top1_std=r.top1_std, seeds=r.seeds, chance=_chance(r.task),
                         ref="this book"))
    return pd.DataFrame(rows)


def _chance(task: str) -> float:
    """Accuracy (%) of guessing uniformly among a SynthAV task's classes."""
    from maskedav.data.synthav import num_classes

    return 100.0 / num_classes(task)


def table1(df, profile, profile_name: str):
    """Table I: the paper's comparison rows (transcribed) and this book's measured rows (VideoMAE,
    CAV-MAE and AV-MaskEnhancer at 75 / 90 / 95 % masking; video encoder alone, mean ± std over seeds)."""
    import pandas as pd

    P = _profile(profile)
    rows = [dict(source="paper (UCF101)", method=r["method"], backbone=r["backbone"], pretrain_data=r["extra_data"],
                 frames=r["frames"], modalities=r["modalities"], mask="", protocol="fine-tune", task="UCF101",
                 top1_mean=r["top1"], top1_std=float("nan"), seeds=float("nan"), ref=r["source"])
            for r in PAPER_TABLE1]
    names = {"videomae": ("VideoMAE", "V"), "cav_mae": ("CAV-MAE", "V+A"), "av_xattn": ("AV-MaskEnhancer", "V+A"),
             "random_init": ("Random init, no pre-training", "—")}
    backbone = f"ViT dim {P.model.dim}, depth {P.model.depth}"
    s = downstream_summary(df[df.variant.isin(list(names))])
    for _, r in s.iterrows():
        name, mod = names[r.variant]
        frames = "1 (frame)" if r.variant == "cav_mae" else str(P.data.frames)
        trained = r.variant != "random_init"
        rows.append(dict(source=f"measured (SynthAV, profile {profile_name})",
                         method=f"{name} ({r.mask_ratio:.0%} masked)" if trained else name, backbone=backbone,
                         pretrain_data=f"SynthAV pretrain ({P.data.n_pretrain} clips)" if trained else "none",
                         frames=frames, modalities=mod, mask=f"{r.mask_ratio:.0%}" if trained else "",
                         protocol=r.protocol, task=r.task, top1_mean=r.top1_mean, top1_std=r.top1_std,
                         seeds=r.seeds, chance=_chance(r.task), ref="this book"))
    for ratio in (0.75, 0.9, 0.95):
        if cav_mae_visible_patches(P, ratio) < 1:
            rows.append(dict(source=f"measured (SynthAV, profile {profile_name})",
                             method=f"CAV-MAE ({ratio:.0%} masked)", backbone=backbone, pretrain_data="",
                             frames="1 (frame)", modalities="V+A", mask=f"{ratio:.0%}", protocol="", task="",
                             top1_mean=float("nan"), top1_std=float("nan"),
                             seeds=0, ref=f"not trainable here: random masking keeps int({cav_mae_num_patches(P)}·"
                                         f"{1 - ratio:.2f}) = 0 frame patches"))
    return pd.DataFrame(rows)
