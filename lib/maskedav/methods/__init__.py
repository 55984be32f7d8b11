"""Pre-training methods: the four ancestors (MAE, VideoMAE, AudioMAE, CAV-MAE) and the papers' methods.

Every method is an ``nn.Module`` with ``forward(batch) -> (loss, logs)``, ``.encoder``, a config dataclass
(``Config.from_profile(profile)`` for the book's small sizes, ``Config.paper(...)`` for the papers') and
the inspection API of :class:`~maskedav.methods.base.PretrainMethod` (``reconstruct``, ``attention_maps``,
``features``, ``embed``).
"""
from .audiomae import AudioMAE, AudioMAEConfig
from .base import (MaskedPixelAutoencoder, MethodConfig, PretrainMethod, as_mask, norm_pix_stats,
                   per_sample_masked_mse, reconstruction_dict, spectrogram_to_rgb)
from .cav_mae import CAVMAE, CAVMAEConfig, CAVMAEDecoder, CAVMAEEncoder, JointBlock
from .mae import MAE, MAEConfig
from .videomae import VideoMAE, VideoMAEConfig

#: name -> (method class, config class) of the baselines.
BASELINES = {
    "mae": (MAE, MAEConfig),
    "videomae": (VideoMAE, VideoMAEConfig),
    "audiomae": (AudioMAE, AudioMAEConfig),
    "cav_mae": (CAVMAE, CAVMAEConfig),
}


def method_classes() -> dict:
    """name -> (method class, config class) of every method, the baselines and the papers' (the
    papers' modules are imported here, on call: they import the baselines)."""
    from .av_maskenhancer import AVMaskEnhancer, AVMaskEnhancerConfig
    from .crossvideomae import CrossVideoMAE, CrossVideoMAEConfig
    from .kdc_mae import KDCMAE, KDCMAEConfig
    from .mvd import MVD, MVDConfig

    return {**BASELINES, "mvd": (MVD, MVDConfig), "av_maskenhancer": (AVMaskEnhancer, AVMaskEnhancerConfig),
            "kdc_mae": (KDCMAE, KDCMAEConfig), "crossvideomae": (CrossVideoMAE, CrossVideoMAEConfig)}


__all__ = ["method_classes", 
    "MAE", "MAEConfig", "VideoMAE", "VideoMAEConfig", "AudioMAE", "AudioMAEConfig", "CAVMAE",
    "CAVMAEConfig", "CAVMAEEncoder", "CAVMAEDecoder", "JointBlock", "MaskedPixelAutoencoder",
    "MethodConfig", "PretrainMethod", "BASELINES", "as_mask", "norm_pix_stats", "per_sample_masked_mse",
    "reconstruction_dict", "spectrogram_to_rgb",
]
