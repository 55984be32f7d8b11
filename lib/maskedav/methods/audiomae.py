"""AudioMAE: masked autoencoders that listen (Huang et al., NeurIPS 2022).

Recipe (paper Sec. 3; ``facebookresearch/AudioMAE`` code, reference-code §1.5):

* input: Kaldi fbank ``(T_frames, n_mels)`` (1024 × 128 on AudioSet), normalised
  ``(fbank - mean) / (2·std)`` with dataset statistics (``norm_stats``);
* 16 × 16 patches → ``64 (time) × 8 (freq)`` tokens; fixed 2-D sin-cos positions, a cls token;
* **unstructured random masking at 0.8** in pre-training (``mask_2d=False``; the paper's Table 2 also
  ablates time / frequency / time-frequency masking: ``mask_type`` ``"time"``, ``"freq"``, ``"tf"`` use
  CAV-MAE's structured generators);
* decoder predicting every token; loss = MSE on masked patches of the per-patch normalised target
  (``norm_pix_loss=True``).

**Deviation:** AudioMAE's default decoder (``decoder_mode=1``) is 16 Swin blocks with local (4×4 window,
shifted) attention. Only ``decoder_mode=0`` is implemented here: **global-attention** MAE decoder blocks,
which the AudioMAE code also provides (8 blocks, 512 wide; the paper's decoder ablation compares global
with local attention and prefers local). :meth:`AudioMAEConfig.paper` therefore uses 8 global blocks.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from maskedav.configs import ViTConfig, check_choice, paper_config
from maskedav.masking import Mask, freq_mask, random_mask, time_freq_mask, time_mask
from maskedav.nn import MAEDecoder, ViTEncoder

from .base import profile_target, MaskedPixelAutoencoder, MethodConfig, SpectrogramSpace

__all__ = ["AudioMAEConfig", "AudioMAE", "AUDIOSET_FBANK_STATS"]

MASK_TYPES = ("random", "time", "freq", "tf")
NORM_PIX = ("per_patch", None)
#: AudioMAE ``main_pretrain.py`` ``norm_stats['audioset']`` (fbank mean, std).
AUDIOSET_FBANK_STATS = (-4.2677393, 4.5689974)


@dataclass(frozen=True)
class AudioMAEConfig(MethodConfig):
    """Ablation switches of AudioMAE (defaults: the paper's / code's).

    ``mask_type``: ``"random"`` (unstructured, default), ``"time"``, ``"freq"``, ``"tf"``; ``mask_ratio`` 0.8.
    ``norm_pix``: ``"per_patch"`` or ``None``. ``decoder_mode``: 0 = global attention (the only one
    implemented; see the module docstring). ``fbank_mean`` / ``fbank_std`` / ``std_scale``: input
    normalisation ``(x - mean)/(std·std_scale)`` (AudioMAE: dataset statistics, ``std_scale = 2``).
    """

    vit: ViTConfig = field(default_factory=lambda: paper_config("audiomae-b").replace(decoder_depth=8))
    mask_ratio: float = 0.8
    mask_type: str = "random"
    norm_pix: str | None = "per_patch"
    predict: str = "all"
    decoder_mode: int = 0
    fbank_mean: float = AUDIOSET_FBANK_STATS[0]
    fbank_std: float = AUDIOSET_FBANK_STATS[1]
    std_scale: float = 2.0
    seed: int = 0

    def __post_init__(self):
        super().__post_init__()
        check_choice("AudioMAEConfig.mask_type", self.mask_type, MASK_TYPES)
        check_choice("AudioMAEConfig.norm_pix", self.norm_pix, NORM_PIX)
        if self.decoder_mode != 0:
            raise NotImplementedError("decoder_mode=1 (Swin local-attention decoder) is not implemented; "
                                      "use decoder_mode=0 (global attention), see the module docstring")
        if self.vit.modality != "audio":
            raise ValueError("AudioMAE needs an audio ViTConfig")

    @classmethod
    def from_profile(cls, profile, **changes) -> "AudioMAEConfig":
        """Small AudioMAE of a run profile: fbank ``(frames, num_mel_bins)``, ``audio_patch²`` patches.
        Pass ``fbank_mean`` / ``fbank_std`` (statistics of the pre-training split) and, if the data
        pipeline's frame count differs from :meth:`ViTConfig.from_profile`'s, ``input_size``."""
        vit = ViTConfig.from_profile(profile, "audio", cls_token=True, name="audiomae-small")
        return cls(vit=vit, fbank_mean=0.0, fbank_std=1.0).replace(**{**profile_target(profile), **changes})

    @classmethod
    def paper(cls, **changes) -> "AudioMAEConfig":
        """AudioMAE ViT-B/16 on 1024×128 AudioSet fbank, global decoder 512 × 8 × 16 heads."""
        return cls().replace(**changes)


class AudioMAE(MaskedPixelAutoencoder):
    """AudioMAE: ``forward(batch) -> (loss, logs)`` on ``batch["fbank"]`` ``(B, T_frames, n_mels)``
    (log-mel fbank, un-normalised; longer inputs are cropped to the model's frame count)."""

    def __init__(self, config: AudioMAEConfig):
        super().__init__(config)
        vit = config.vit
        self.encoder = ViTEncoder.from_config(vit)
        self.decoder = MAEDecoder.from_config(vit, predict=config.predict)
        self.space = SpectrogramSpace(vit.input_size, vit.patch, layout=vit.spec_layout,
                                      mean=config.fbank_mean, std=config.fbank_std, std_scale=config.std_scale)

    def draw_mask(self, batch_size: int, device=None) -> Mask:
        c, s = self.config, self.space
        if c.mask_type == "random":
            m = random_mask(batch_size, self.num_patches, c.mask_ratio, device="cpu", generator=self.generator)
        else:
            fn = {"time": time_mask, "freq": freq_mask, "tf": time_freq_mask}[c.mask_type]
            m = fn(batch_size, s.n_time, s.n_freq, c.mask_ratio, layout=s.layout, device="cpu", generator=self.generator)
        return m.to(device) if device is not None else m
