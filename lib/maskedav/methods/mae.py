"""MAE: masked autoencoders on images (He et al., CVPR 2022) — the image teacher of MVD / CrossVideoMAE.

Recipe (paper Sec. 3; ``facebookresearch/mae`` ``models_mae.py``, reference-code §1.3):

* patchify the image into ``N = (H/p)(W/p)`` tokens; keep ``int(N·(1-r))`` of them by per-sample random
  shuffling (``r = 0.75``, MAE ``random_masking``);
* encoder (ViT with a cls token, fixed 2-D sin-cos positions) on the visible tokens only;
* decoder (512 wide, 8 blocks at ViT-B) on visible latents + shared mask tokens, un-shuffled with the
  mask's own ``ids_restore``, predicting the pixels of **every** token;
* loss (the paper's "MSE between the reconstructed and original images in the pixel space … only on
  masked patches"): per-patch mean of squared errors, averaged over the masked patches, against the
  **normalised** patch (``norm_pix_loss``: ``(x - mean)/sqrt(var + 1e-6)`` over the patch's ``p·p·3`` values).

The encoder sees ImageNet-normalised pixels; targets are patches of the [0, 1] image.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch

from maskedav.configs import ViTConfig, check_choice, paper_config
from maskedav.masking import Mask, random_mask
from maskedav.nn import MAEDecoder, ViTEncoder

from .base import profile_target, ImageSpace, MaskedPixelAutoencoder, MethodConfig

__all__ = ["MAEConfig", "MAE"]

MASK_TYPES = ("random",)
NORM_PIX = ("per_patch", "per_channel", None)


@dataclass(frozen=True)
class MAEConfig(MethodConfig):
    """Ablation switches of image MAE (defaults: the paper's).

    ``vit``: encoder / decoder geometry (``decoder_dim``, ``decoder_depth`` … route here through
    :meth:`replace`). ``mask_ratio``: fraction of masked patches (paper 0.75). ``norm_pix``: target
    normalisation (``"per_patch"`` MAE; ``"per_channel"`` VideoMAE's; ``None`` raw pixels, MAE Table 1d).
    ``predict``: decoder outputs ``"all"`` tokens (MAE) or ``"masked"`` only (same loss, less compute).
    ``normalize_input``: ImageNet mean/std on the encoder input. ``seed``: the mask generator's seed.
    """

    vit: ViTConfig = field(default_factory=lambda: paper_config("mae-b-16"))
    mask_ratio: float = 0.75
    mask_type: str = "random"
    norm_pix: str | None = "per_patch"
    predict: str = "all"
    normalize_input: bool = True
    seed: int = 0

    def __post_init__(self):
        super().__post_init__()
        check_choice("MAEConfig.mask_type", self.mask_type, MASK_TYPES)
        check_choice("MAEConfig.norm_pix", self.norm_pix, NORM_PIX)
        if self.vit.modality != "image":
            raise ValueError("MAE needs an image ViTConfig")

    @classmethod
    def from_profile(cls, profile, **changes) -> "MAEConfig":
        """Small MAE of a run profile: ``image_size²`` frames, patch ``patch_size``, a cls token."""
        vit = ViTConfig.from_profile(profile, "image", cls_token=True, name="mae-small")
        return cls(vit=vit).replace(**{**profile_target(profile), **changes})

    @classmethod
    def paper(cls, size: str = "b", **changes) -> "MAEConfig":
        """MAE ViT-``size`` (``b``, ``l``: /16; ``h``: /14) with the 512-wide 8-block decoder."""
        name = {"b": "mae-b-16", "l": "mae-l-16", "h": "mae-h-14"}[size]
        return cls(vit=paper_config(name)).replace(**changes)


class MAE(MaskedPixelAutoencoder):
    """Image MAE: ``forward(batch) -> (loss, logs)`` on ``batch["image"]`` ``(B, 3, H, W)`` in [0, 1]
    (or the middle frame of ``batch["video"]``)."""

    def __init__(self, config: MAEConfig):
        super().__init__(config)
        vit = config.vit
        self.encoder = ViTEncoder.from_config(vit)
        self.decoder = MAEDecoder.from_config(vit, predict=config.predict)
        self.space = ImageSpace(vit.patch, vit.grid_size, normalize=config.normalize_input)

    def draw_mask(self, batch_size: int, device=None) -> Mask:
        """MAE random masking: ``int(N·(1-r))`` visible tokens per sample, from ``self.generator``."""
        m = random_mask(batch_size, self.num_patches, self.config.mask_ratio, device="cpu", generator=self.generator)
        return m.to(device) if device is not None else m

    def grid_tokens(self, batch) -> list[torch.Tensor]:
        """A clip ``batch["video"]``: every frame encoded as an image, ``[(B, D, T, h, w)]``; an image:
        ``[(B, D, h, w)]``."""
        if isinstance(batch, dict) and "image" not in batch and "video" in batch:
            video = batch["video"]
            B, C, T, H, W = video.shape
            frames = video.permute(0, 2, 1, 3, 4).reshape(B * T, C, H, W)
            g = super().grid_tokens({"image": frames})[0]                    # (B*T, D, h, w)
            return [g.reshape(B, T, *g.shape[1:]).transpose(1, 2)]          # (B, D, T, h, w)
        return super().grid_tokens(batch)

    def embed(self, batch) -> torch.Tensor:
        """``(B, D)`` probe features. An image: mean of its patch tokens. A clip ``batch["video"]``:
        every frame encoded as an image, patch tokens averaged over space and time (MVD's image
        teacher sees clips frame by frame)."""
        if isinstance(batch, dict) and "image" not in batch and "video" in batch:
            video = batch["video"]
            B, C, T, H, W = video.shape
            frames = video.permute(0, 2, 1, 3, 4).reshape(B * T, C, H, W)
            tokens = self.encoder(self.space.model_input(frames))
            return tokens[:, self.encoder.num_prefix_tokens:].mean(1).reshape(B, T, -1).mean(1)
        return super().embed(batch)
