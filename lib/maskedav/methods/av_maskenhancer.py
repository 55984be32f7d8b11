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
  them); Fig. 2's second convention shows a model trained on the normalised target;
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
:class:`~maskedav.nn.ViTEncoder`, ``forward(x, mask=None)``, no audio argument), read through
:meth:`AVMaskEnhancer.grid_tokens` (its tokens on the ``(t, h, w)`` patch grid, what the study layer's
readouts pool) or :meth:`~maskedav.methods.base.MaskedPixelAutoencoder.embed` (mean-pooled tokens);
the audio encoder and the fusion are discarded (spec §2.6).

The module holds the model only. The chapter's arms, held-out evaluation, tables, figures and claims
are :mod:`maskedav.chapters.av_maskenhancer`, on the study layer (:mod:`maskedav.study`).
"""
from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from maskedav.configs import ViTConfig, check_choice, paper_config
from maskedav.data.mfcc import MFCC
from maskedav.masking import Mask, tube_mask
from maskedav.nn import CrossAttentionBlock, MAEDecoder, ViTEncoder
from maskedav.pos_embed import sinusoid_table

from .base import (MaskedPixelAutoencoder, MethodConfig, VideoSpace, grid_layout, norm_pix_stats,
                   profile_target, reconstruction_dict)

__all__ = ["AVMaskEnhancerConfig", "AVMaskEnhancer", "MFCC", "AudioResNetSE", "SEBasicBlock", "SqueezeExcite",
           "SlotConcat", "derangement"]

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
        super().__post_init__()
        name = type(self).__name__
        check_choice(f"{name}.audio_alignment", self.audio_alignment, ("slot", "global"))
        check_choice(f"{name}.norm_pix", self.norm_pix, (None, "per_channel", "per_patch"))
        check_choice(f"{name}.xattn_norm", self.xattn_norm, ("pre", "post"))
        check_choice(f"{name}.mask_type", self.mask_type, ("tube",))  # VideoMAE's tube masking
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
        """The small model of a run profile: VideoMAE's small ViT (the very ``vit`` of
        :meth:`VideoMAEConfig.from_profile <maskedav.methods.videomae.VideoMAEConfig.from_profile>`:
        sizes from ``profile.model``, 1-D sinusoid tables, bias-free encoder-to-decoder projection), the
        profile's reconstruction target (raw pixels at the small profiles,
        :func:`~maskedav.methods.base.profile_target`), the clip's audio length, and a TalkNet
        ResNet-SE shrunk to one block per stage with channels ``(8, 16, 32, 64)`` and a stem time stride
        that keeps about one audio token per video frame. With ``audio=False``,
        :meth:`videomae_config` then equals ``VideoMAEConfig.from_profile(profile)``."""
        from maskedav.profiles import get_profile

        p = get_profile(profile) if isinstance(profile, str) or profile is None else profile
        vit = ViTConfig.from_profile(p, "video", name="videomae-small", pos_embed="sinusoid",
                                     decoder_pos_embed="sinusoid", decoder_embed_bias=False)
        # TalkNet keeps one audio token per video frame (time stride 4 at 100 MFCC frames/s and 25 fps);
        # at the profile's frame rate the stem's time stride keeps that ratio (8 fps: stride 3, 9 tokens).
        stem = max(1, round(1000.0 / cls.hop_ms / (4 * p.data.fps)))
        base = cls(vit=vit, sample_rate=p.data.sample_rate,
                   audio_samples=int(round(p.data.clip_seconds * p.data.sample_rate)),
                   audio_channels=(8, 16, 32, 64), audio_blocks=(1, 1, 1, 1), audio_stem_time_stride=stem)
        return base.replace(**{**profile_target(p), **changes})

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

    def grid_tokens(self, batch) -> list[torch.Tensor]:
        """The downstream representation: the **video encoder's** final-norm tokens of the whole clip
        (nothing masked, no audio) on the ``(t, h, w)`` patch grid, ``[(B, D, T', H', W')]`` — what the
        study layer's readouts pool. ``batch`` needs only ``"video"``; audio in it is ignored."""
        tokens = self.encoder(self.space.model_input(self.space.raw(batch)))
        return [grid_layout(tokens[:, self.encoder.num_prefix_tokens:], self.encoder.grid_size)]

    # attention_maps / features / embed: inherited (encoder self-attention, encoder taps, mean-pooled
    # encoder tokens of the unmasked clip) — all video only.
