"""VideoMAE: masked video autoencoding with tube masking (Tong et al., NeurIPS 2022) — the video
teacher of MVD and the baseline of every video paper in the book.

Recipe (paper Sec. 3.3, Eq. 2; ``MCG-NJU/VideoMAE`` code, reference-code §1.1):

* a clip ``(3, T, H, W)`` → tubelets ``2 × p × p`` (Conv3d), tokens in ``(t, h, w)`` order;
* **tube masking** at ``ρ = 0.9``: one spatial mask of ``int(ρ·H'W')`` masked positions per sample, the
  same in every time slice (``TubeMaskingGenerator``), so a masked tube cannot be copied from its
  neighbours in time;
* encoder (no cls token, fixed 1-D sinusoid positions) on the visible tokens; ``encoder_to_decoder``
  without bias; a shallow decoder (4 blocks, 384 wide at ViT-B) that predicts **only the masked tokens**;
* loss (Eq. 2): MSE between predicted and normalised masked tubelets. The target is normalised **per
  colour channel** over the ``2·p·p`` pixels of a tubelet, ``(x - mean)/(std_unbiased + 1e-6)``
  (``normlize_target=True``), unlike MAE's joint per-patch norm (``norm_pix="per_patch"`` switches to it).

The encoder sees ImageNet-normalised pixels; targets are patches of the [0, 1] clip.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from maskedav.configs import ViTConfig, check_choice, paper_config
from maskedav.masking import Mask, frame_mask, random_mask, tube_mask
from maskedav.nn import MAEDecoder, ViTEncoder

from .base import profile_target, MaskedPixelAutoencoder, MethodConfig, VideoSpace

__all__ = ["VideoMAEConfig", "VideoMAE"]

MASK_TYPES = ("tube", "random", "frame")
NORM_PIX = ("per_channel", "per_patch", None)


@dataclass(frozen=True)
class VideoMAEConfig(MethodConfig):
    """Ablation switches of VideoMAE (defaults: the paper's / code's).

    ``mask_type``: ``"tube"`` (VideoMAE), ``"random"`` (space-time agnostic, ST-MAE / VideoMAE Table 1c),
    ``"frame"`` (whole time slices). ``mask_ratio``: 0.9. ``norm_pix``: ``"per_channel"`` (VideoMAE code),
    ``"per_patch"`` (MAE's), ``None`` (raw pixels, VideoMAE Table 1d "w/o norm"). ``predict``:
    ``"masked"`` (VideoMAE's head on masked tokens only) or ``"all"``. Geometry in ``vit``.
    """

    vit: ViTConfig = field(default_factory=lambda: paper_config("videomae-b"))
    mask_ratio: float = 0.9
    mask_type: str = "tube"
    norm_pix: str | None = "per_channel"
    predict: str = "masked"
    normalize_input: bool = True
    seed: int = 0

    def __post_init__(self):
        super().__post_init__()
        check_choice("VideoMAEConfig.mask_type", self.mask_type, MASK_TYPES)
        check_choice("VideoMAEConfig.norm_pix", self.norm_pix, NORM_PIX)
        if self.vit.modality != "video":
            raise ValueError("VideoMAE needs a video ViTConfig")

    @classmethod
    def from_profile(cls, profile, **changes) -> "VideoMAEConfig":
        """Small VideoMAE of a run profile, with VideoMAE's 1-D sinusoid tables and bias-free projector."""
        vit = ViTConfig.from_profile(profile, "video", name="videomae-small", pos_embed="sinusoid",
                                     decoder_pos_embed="sinusoid", decoder_embed_bias=False)
        return cls(vit=vit).replace(**{**profile_target(profile), **changes})

    @classmethod
    def paper(cls, size: str = "b", **changes) -> "VideoMAEConfig":
        """VideoMAE ViT-``size`` (``s``, ``b``, ``l``, ``h``) on 16×224², tubelet 2×16×16."""
        return cls(vit=paper_config(f"videomae-{size}")).replace(**changes)


class VideoMAE(MaskedPixelAutoencoder):
    """VideoMAE: ``forward(batch) -> (loss, logs)`` on ``batch["video"]`` ``(B, 3, T, H, W)`` in [0, 1]."""

    def __init__(self, config: VideoMAEConfig):
        super().__init__(config)
        vit = config.vit
        self.encoder = ViTEncoder.from_config(vit)
        self.decoder = MAEDecoder.from_config(vit, predict=config.predict)
        self.space = VideoSpace(vit.patch, vit.tubelet, vit.grid_size, normalize=config.normalize_input)

    def draw_mask(self, batch_size: int, device=None) -> Mask:
        """Tube / random / frame mask from ``self.generator`` (counts as :mod:`maskedav.masking`)."""
        c, grid = self.config, self.encoder.grid_size
        if c.mask_type == "tube":
            m = tube_mask(batch_size, grid, c.mask_ratio, device="cpu", generator=self.generator)
        elif c.mask_type == "random":
            m = random_mask(batch_size, self.num_patches, c.mask_ratio, device="cpu", generator=self.generator)
        else:
            m = frame_mask(batch_size, grid, c.mask_ratio, device="cpu", generator=self.generator)
        return m.to(device) if device is not None else m
