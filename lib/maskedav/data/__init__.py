"""Data: SynthAV (the book's procedural audio-visual benchmark), media I/O, audio features,
real-dataset adapters, transforms and the sanity probes.

Quick start::

    from maskedav.data import SynthAVConfig, generate, SynthAVLoader
    cfg = SynthAVConfig.from_profile("cpu")
    batch = generate(cfg, "train", range(32))      # video (32, 3, 8, 32, 32), audio (32, 16000), labels, ...
    for batch in SynthAVLoader(cfg, "pretrain", 32):
        ...
"""
from .audio import FBANK_STATS, XKD_MEL, fbank, log_mel, normalize_fbank, denormalize_fbank, pad_or_crop
from .media import MediaError, probe, read_audio, read_clip, read_image, read_video, write_audio, write_video
from .synthav import (IMAGE_SETS, MATERIALS, MOTIONS, REVERSAL_PAIRS, SHAPES, SOUNDS, SPLITS, TASKS,
                      SynthAV, SynthAVConfig, SynthAVLoader, class_names, clear_cache, export, generate,
                      generate_images, materialize, num_classes, reversal_pair_labels, sample_scenes)
from .transforms import (IMAGENET_MEAN, IMAGENET_STD, MultiScaleCrop, VideoMAEAugment, denormalize_image,
                         denormalize_video, normalize_image, normalize_video, random_flip, repeat_augment,
                         repeat_batch, resize_center_crop)

__all__ = [
    "FBANK_STATS", "XKD_MEL", "fbank", "log_mel", "normalize_fbank", "denormalize_fbank", "pad_or_crop",
    "MediaError", "probe", "read_audio", "read_clip", "read_image", "read_video", "write_audio", "write_video",
    "IMAGE_SETS", "MATERIALS", "MOTIONS", "REVERSAL_PAIRS", "SHAPES", "SOUNDS", "SPLITS", "TASKS",
    "SynthAV", "SynthAVConfig", "SynthAVLoader", "class_names", "clear_cache", "export", "generate",
    "generate_images", "materialize", "num_classes", "reversal_pair_labels", "sample_scenes",
    "IMAGENET_MEAN", "IMAGENET_STD", "MultiScaleCrop", "VideoMAEAugment", "denormalize_image",
    "denormalize_video", "normalize_image", "normalize_video", "random_flip", "repeat_augment",
    "repeat_batch", "resize_center_crop",
]
