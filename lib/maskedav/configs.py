"""ViT / decoder geometry: :class:`ViTConfig`, small configs from a profile, and the papers' sizes.

``ViTConfig.from_profile(profile, modality)`` gives the small ViTs the book trains (sizes from
:class:`maskedav.profiles.ModelSize`, geometry from :class:`maskedav.profiles.DataSize`).
:data:`PAPER_CONFIGS` holds the papers' configurations by name; :data:`PAPER_REPORTED` transcribes the
parameter / GFLOP numbers the papers print, with their source.

Paper geometry (reference-code §1.1–1.8; specs §2):

=====================  ===============================  ======================  =========================
name                   input, patch                     encoder D / depth / H   decoder D / depth / H
=====================  ===============================  ======================  =========================
videomae-{s,b,l,h}     16×224², 2×16×16 → 8×14×14       384/12/6 … 1280/32/16   192/4/3, 384/4/6,
                                                                                512/12/8, 640/12/8
mvd-{s,b,l,h}          same, 3-D sin-cos pos            same                    384/2/6, 768/2/12,
                                                                                512/4/8, 640/8/8 (feature)
mae-{b,l}-16, mae-h-14 224², 16² (14² for H) + cls      768/12/12 … 1280/32/16  512/8/16
mvd-image-teacher-h14  196², 14² → 14×14 (MVD teacher)  1280/32/16              (teacher: encoder only)
audiomae-b             fbank 1024×128, 16×16 → 64×8     768/12/12 + cls         512/16/16 (Swin in code)
cavmae-{audio,video}   1024×128 ('ft': 8×64) / 224²     768/(11+1)/12           512/8/16
xkd-{video,audio}      32×112², 4×16×16 → 8×7×7 /       768/12/12, no qkv bias  384/4/12, no final norm
                       80×448, 4 mel × 16 time → 20×28  learned pos + cls
crossvideomae-video    = videomae-b (random masking)    768/12/12               384/4/6
avmaskenhancer-b       = videomae-b                     768/12/12               384/4/6
=====================  ===============================  ======================  =========================
"""
from __future__ import annotations

import dataclasses
import math
import numbers
from dataclasses import dataclass
from typing import Any

__all__ = ["ViTConfig", "PAPER_CONFIGS", "PAPER_REPORTED", "paper_config", "VIT_SIZES", "invalid",
           "check_choice", "check_fraction", "check_positive_ints", "check_complementary"]


# ------------------------------------------------------------------------------ validation
# Shared by every config's ``__post_init__``: a value out of range fails at construction with a
# ``ValueError`` (``TypeError`` for a value of the wrong type) naming the field and what is allowed.


def invalid(field: str, value: Any, allowed: str) -> ValueError:
    """``ValueError("<field> must be <allowed>, got <value>")``."""
    return ValueError(f"{field} must be {allowed}, got {value!r}")


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def check_choice(field: str, value: Any, allowed: tuple) -> None:
    """``value`` must be one of ``allowed``."""
    if not any(value is a or (type(value) is type(a) and value == a) for a in allowed):
        raise invalid(field, value, f"one of {', '.join(map(repr, allowed))}")


def check_fraction(field: str, value: Any) -> None:
    """A mask ratio: a number strictly between 0 and 1 (0 masks nothing, 1 leaves nothing visible)."""
    if not _is_number(value):
        raise TypeError(f"{field} must be a number in (0, 1), got {type(value).__name__} {value!r}")
    if not 0 < value < 1:
        raise invalid(field, value, "in the open interval (0, 1)")


def check_positive_ints(field: str, values: Any, length: int | None = None) -> tuple[int, ...]:
    """``values`` (an int or a sequence of ints) as a tuple of ints >= 1, of ``length`` if given."""
    is_int = lambda v: isinstance(v, numbers.Integral) and not isinstance(v, bool)  # noqa: E731
    seq = (values,) if is_int(values) else values
    if not isinstance(seq, (tuple, list)) or not all(map(is_int, seq)):
        raise TypeError(f"{field} must be an int or a tuple of ints, got {values!r}")
    if length is not None and len(seq) != length:
        raise invalid(field, values, f"{length} ints")
    if not seq or min(seq) < 1:
        raise invalid(field, values, "made of ints >= 1")
    return tuple(int(v) for v in seq)


def check_complementary(field: str, ratio: float, num_streams: int, num_tokens: int) -> None:
    """``num_streams`` masks with disjoint visible sets of ``int(num_tokens·(1 - ratio))`` tokens
    must fit in ``num_tokens`` (:func:`maskedav.masking.complementary_masks`): roughly
    ``ratio >= 1 - 1/num_streams``."""
    keep = int(num_tokens * (1 - ratio))
    if num_streams * keep > num_tokens:
        raise invalid(field, ratio, f">= {1 - 1 / num_streams:.3f} for {num_streams} complementary masks "
                      f"({num_streams} disjoint visible sets of {keep} tokens do not fit in {num_tokens})")


@dataclass(frozen=True)
class ViTConfig:
    """Geometry and sizes of one ViT encoder (+ its MAE decoder and classification head).

    ``input_size``: image ``(H, W)``, video ``(T, H, W)``, audio ``(T_frames, n_mels)``.
    ``patch_size``: int or ``(ph, pw)``; audio ``(p_time, p_freq)``. ``depth`` counts the encoder's own
    blocks; ``joint_depth`` the blocks shared with another modality after them (CAV-MAE: 11 + 1).
    ``decoder_out_dim=None`` means "predict pixels" (:attr:`patch_dim`).
    """

    name: str = "custom"
    modality: str = "video"
    input_size: tuple[int, ...] = (16, 224, 224)
    in_chans: int = 3
    patch_size: int | tuple[int, int] = 16
    tubelet: int = 2
    dim: int = 768
    depth: int = 12
    heads: int = 12
    mlp_ratio: float = 4.0
    qkv_bias: bool = True
    pos_embed: str = "sincos"
    cls_token: bool = False
    spec_layout: str = "tf"
    joint_depth: int = 0
    drop_path: float = 0.0
    decoder_dim: int = 512
    decoder_depth: int = 8
    decoder_heads: int = 16
    decoder_pos_embed: str = "sincos"
    decoder_embed_bias: bool = True
    decoder_norm: bool = True
    decoder_out_dim: int | None = None
    num_classes: int = 0
    source: str = ""

    def __post_init__(self):
        """Geometry checks: known modality, positive sizes, patches (and tubelets) tile the input."""
        check_choice("ViTConfig.modality", self.modality, ("image", "video", "audio"))
        check_choice("ViTConfig.spec_layout", self.spec_layout, ("tf", "ft"))
        size = check_positive_ints("ViTConfig.input_size", self.input_size,
                                   3 if self.modality == "video" else 2)
        patch = check_positive_ints("ViTConfig.patch_size", self.patch_size)
        if len(patch) not in (1, 2):
            raise invalid("ViTConfig.patch_size", self.patch_size, "an int or a pair (ph, pw)")
        tubelet = check_positive_ints("ViTConfig.tubelet", self.tubelet, 1)
        tile = (*(tubelet if self.modality == "video" else ()), *self.patch)
        if any(n % p for n, p in zip(size, tile)):
            what = "tubelet x patch" if self.modality == "video" else "patch"
            raise invalid("ViTConfig.patch_size", self.patch_size,
                          f"a divisor of input_size {tuple(size)} ({what} {tile} must tile it)")
        for name in ("dim", "heads"):
            check_positive_ints(f"ViTConfig.{name}", getattr(self, name), 1)
        if self.dim % self.heads:
            raise invalid("ViTConfig.heads", self.heads, f"a divisor of dim={self.dim}")

    # ------------------------------------------------------------------------ derived geometry
    @property
    def patch(self) -> tuple[int, int]:
        p = self.patch_size
        return (p, p) if isinstance(p, int) else (int(p[0]), int(p[1]))

    @property
    def grid_size(self) -> tuple[int, ...]:
        """Token grid in token order: ``(h, w)``, ``(t, h, w)``, ``(time, freq)`` or ``(freq, time)``."""
        ph, pw = self.patch
        if self.modality == "video":
            t, h, w = self.input_size
            return (t // self.tubelet, h // ph, w // pw)
        a, b = self.input_size[0] // ph, self.input_size[1] // pw
        if self.modality == "audio" and self.spec_layout == "ft":
            return (b, a)
        return (a, b)

    @property
    def num_patches(self) -> int:
        return math.prod(self.grid_size)

    @property
    def patch_dim(self) -> int:
        """Pixel values per token: ``tubelet·ph·pw·C`` (video), ``ph·pw·C`` (image), ``pt·pf`` (audio)."""
        ph, pw = self.patch
        chans = 1 if self.modality == "audio" else self.in_chans
        return (self.tubelet if self.modality == "video" else 1) * ph * pw * chans

    @property
    def head_dim(self) -> int:
        return self.dim // self.heads

    # ------------------------------------------------------------------------- builders' kwargs
    def encoder_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of :class:`maskedav.nn.vit.ViTEncoder` (``depth`` includes ``joint_depth``)."""
        return dict(modality=self.modality, input_size=self.input_size, patch_size=self.patch_size,
                    tubelet=self.tubelet, in_chans=self.in_chans, dim=self.dim,
                    depth=self.depth + self.joint_depth, heads=self.heads, mlp_ratio=self.mlp_ratio,
                    qkv_bias=self.qkv_bias, pos_embed=self.pos_embed, cls_token=self.cls_token,
                    drop_path=self.drop_path, spec_layout=self.spec_layout)

    def decoder_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of :class:`maskedav.nn.decoder.MAEDecoder`."""
        return dict(grid=self.grid_size, encoder_dim=self.dim, dim=self.decoder_dim, depth=self.decoder_depth,
                    heads=self.decoder_heads, out_dim=self.decoder_out_dim or self.patch_dim,
                    mlp_ratio=self.mlp_ratio, qkv_bias=self.qkv_bias, pos_embed=self.decoder_pos_embed,
                    num_prefix_tokens=int(self.cls_token), embed_bias=self.decoder_embed_bias,
                    final_norm=self.decoder_norm)

    def replace(self, **changes) -> "ViTConfig":
        return dataclasses.replace(self, **changes)

    @classmethod
    def from_profile(cls, profile, modality: str = "video", **overrides) -> "ViTConfig":
        """The small ViT of a run profile (a :class:`maskedav.profiles.Profile` or its name).

        video: ``frames × image_size²`` with ``tubelet × patch²`` tubelets; image: ``image_size²``;
        audio: fbank ``(T_frames, num_mel_bins)`` with ``audio_patch²`` patches, where ``T_frames`` is
        ``100·clip_seconds`` (10 ms hop) floored to a multiple of the patch — pass ``input_size=`` to use
        the exact frame count of the data pipeline. Pos-embed: fixed sin-cos (2-D / 3-D).
        """
        from maskedav.profiles import get_profile

        p = get_profile(profile) if isinstance(profile, str) or profile is None else profile
        m, d = p.model, p.data
        common = dict(name=f"{p.name}-{modality}", modality=modality, dim=m.dim, depth=m.depth, heads=m.heads,
                      mlp_ratio=m.mlp_ratio, decoder_dim=m.decoder_dim, decoder_depth=m.decoder_depth,
                      decoder_heads=m.decoder_heads, source=f"maskedav.profiles[{p.name!r}]")
        if modality == "video":
            cfg = cls(input_size=(d.frames, d.image_size, d.image_size), patch_size=m.patch_size,
                      tubelet=m.tubelet, **common)
        elif modality == "image":
            cfg = cls(input_size=(d.image_size, d.image_size), patch_size=m.patch_size, **common)
        elif modality == "audio":
            frames = int(round(100 * d.clip_seconds)) // m.audio_patch * m.audio_patch
            cfg = cls(input_size=(frames, d.num_mel_bins), in_chans=1, patch_size=m.audio_patch, **common)
        else:
            raise ValueError(f"modality must be image, video or audio, got {modality!r}")
        return cfg.replace(**overrides) if overrides else cfg


# ------------------------------------------------------------------------------ paper sizes
#: ViT sizes (dim, depth, heads): Dosovitskiy et al. 2021 Table 1; ViT-S as in DeiT / VideoMAE.
VIT_SIZES = {"s": (384, 12, 6), "b": (768, 12, 12), "l": (1024, 24, 16), "h": (1280, 32, 16)}

_VIDEO_16x224 = dict(modality="video", input_size=(16, 224, 224), patch_size=16, tubelet=2)
#: VideoMAE decoders (dim, depth, heads): modeling_pretrain.py + scripts (depth 12 for L/H), ref §1.1.
_VIDEOMAE_DEC = {"s": (192, 4, 3), "b": (384, 4, 6), "l": (512, 12, 8), "h": (640, 12, 8)}
#: MVD feature decoders (dim, depth, heads, teacher width), ref §1.2 / MVD spec §2.2.
_MVD_DEC = {"s": (384, 2, 6, 768), "b": (768, 2, 12, 768), "l": (512, 4, 8, 1024), "h": (640, 8, 8, 1280)}


def _vit(size: str, **kw) -> dict:
    d, depth, h = VIT_SIZES[size]
    return dict(dim=d, depth=depth, heads=h, **kw)


def _build_registry() -> dict[str, ViTConfig]:
    reg: dict[str, ViTConfig] = {}
    for s in "sblh":
        dd, dl, dh = _VIDEOMAE_DEC[s]
        reg[f"videomae-{s}"] = ViTConfig(
            name=f"videomae-{s}", **_VIDEO_16x224, **_vit(s), pos_embed="sinusoid", decoder_dim=dd,
            decoder_depth=dl, decoder_heads=dh, decoder_pos_embed="sinusoid", decoder_embed_bias=False,
            num_classes=400, source="VideoMAE modeling_pretrain.py / modeling_finetune.py (reference-code §1.1)")
        md, ml, mh, tdim = _MVD_DEC[s]
        reg[f"mvd-{s}"] = ViTConfig(
            name=f"mvd-{s}", **_VIDEO_16x224, **_vit(s), pos_embed="sincos", decoder_dim=md, decoder_depth=ml,
            decoder_heads=mh, decoder_pos_embed="sincos", decoder_out_dim=tdim, num_classes=400,
            source="MVD modeling_student.py + scripts (reference-code §1.2; MVD spec §2.1-2.2)")
    for s, p in (("b", 16), ("l", 16), ("h", 14)):
        reg[f"mae-{s}-{p}"] = ViTConfig(
            name=f"mae-{s}-{p}", modality="image", input_size=(224, 224), patch_size=p, **_vit(s),
            cls_token=True, decoder_dim=512, decoder_depth=8, decoder_heads=16, num_classes=1000,
            source="MAE models_mae.py mae_vit_*_dec512d8b (reference-code §1.3)")
    reg["mvd-image-teacher-h14"] = reg["mae-h-14"].replace(
        name="mvd-image-teacher-h14", input_size=(196, 196),
        source="MVD ViT-H/14 image teacher at 196 px: 14x14 grid = the student's 224/16 grid (reference-code §1.2)")
    reg["audiomae-b"] = ViTConfig(
        name="audiomae-b", modality="audio", input_size=(1024, 128), in_chans=1, patch_size=16, **_vit("b"),
        cls_token=True, decoder_dim=512, decoder_depth=16, decoder_heads=16, num_classes=527,
        source="AudioMAE (reference-code §1.5); its decoder uses Swin local attention, here global blocks")
    cav = {**_vit("b"), "depth": 11, "joint_depth": 1}     # 11 modality-specific + 1 shared block
    reg["cavmae-audio"] = ViTConfig(
        name="cavmae-audio", modality="audio", input_size=(1024, 128), in_chans=1, patch_size=16,
        spec_layout="ft", decoder_dim=512, decoder_depth=8, decoder_heads=16, num_classes=527,
        source="CAV-MAE cav_mae.py (reference-code §1.6; KDC-MAE spec §2.2-2.3)", **cav)
    reg["cavmae-video"] = ViTConfig(
        name="cavmae-video", modality="image", input_size=(224, 224), patch_size=16,
        decoder_dim=512, decoder_depth=8, decoder_heads=16, num_classes=527,
        source="CAV-MAE cav_mae.py (reference-code §1.6; KDC-MAE spec §2.2-2.3)", **cav)
    xkd = dict(**_vit("b"), qkv_bias=False, pos_embed="learned", cls_token=True, decoder_dim=384,
               decoder_depth=4, decoder_heads=12, decoder_pos_embed="learned", decoder_norm=False,
               source="XKD Table S10 + code vit_video.py / vit_audio.py / mask_model.py (XKD spec §2)")
    reg["xkd-video"] = ViTConfig(name="xkd-video", modality="video", input_size=(32, 112, 112), patch_size=16,
                                 tubelet=4, num_classes=400, **xkd)
    reg["xkd-audio"] = ViTConfig(name="xkd-audio", modality="audio", input_size=(448, 80), in_chans=1,
                                 patch_size=(16, 4), spec_layout="ft", num_classes=50, **xkd)
    reg["crossvideomae-video"] = reg["videomae-b"].replace(
        name="crossvideomae-video", num_classes=174,
        source="CrossVideoMAE Supp Tab. 1 (spec §2.2): ViT-B/16, 2×16×16, decoder 384 × 4 (heads 6 inferred)")
    reg["crossvideomae-image"] = reg["mae-b-16"].replace(
        name="crossvideomae-image", source="CrossVideoMAE Supp Tab. 1 (spec §2.3): MAE ViT-B/16")
    reg["avmaskenhancer-b"] = reg["videomae-b"].replace(
        name="avmaskenhancer-b", num_classes=101,
        source="AV-MaskEnhancer spec §2.1/2.5: VideoMAE ViT-B, decoder 384 × 4 × 6 heads")
    return reg


#: The papers' configurations by name (see the module docstring's table).
PAPER_CONFIGS: dict[str, ViTConfig] = _build_registry()

#: Numbers the papers print. ``params_m``: millions of parameters of the classification model;
#: ``gmacs``: "GFLOPs" per view, which are multiply-accumulates (fvcore convention, MVD spec §8).
PAPER_REPORTED: dict[str, dict[str, Any]] = {
    "mvd-s": dict(params_m=22, gmacs=57, source="MVD Table 3 (K400), ViT-S rows"),
    "mvd-b": dict(params_m=87, gmacs=180, source="MVD Table 3 (K400), ViT-B rows"),
    "mvd-l": dict(params_m=305, gmacs=597, source="MVD Table 3 (K400), ViT-L rows"),
    "mvd-h": dict(params_m=633, gmacs=1192, source="MVD Table 3 (K400), ViT-H rows"),
    "xkd-video": dict(params_m=87, gmacs=None, source="XKD Table S10: 'ViT-Base (87M)' (encoder)"),
}


def paper_config(name: str) -> ViTConfig:
    """``PAPER_CONFIGS[name]`` with a helpful error."""
    try:
        return PAPER_CONFIGS[name]
    except KeyError:
        raise ValueError(f"unknown paper config {name!r}; choose one of {', '.join(PAPER_CONFIGS)}") from None
