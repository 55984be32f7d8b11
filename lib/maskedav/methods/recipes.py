"""Former home of the baselines' run machinery, now :mod:`maskedav.study` (runs, data, evaluation)
and :mod:`maskedav.chapters.baselines` (the chapter's arms and figures).

These names remain only for the MVD and AV-MaskEnhancer chapters until they are ported onto the
study layer; they delegate and hold no logic of their own.
"""
from __future__ import annotations

from maskedav.chapters.baselines import BASELINE_SPECS, build_config, fbank_frames, load_baseline
from maskedav.study.data import batch_fn as make_batch_fn
from maskedav.study.data import chunks, fbank_stats
from maskedav.study.runs import _heldout_eval_fn

__all__ = ["BASELINE_SPECS", "build_config", "fbank_frames", "load_baseline", "make_batch_fn",
           "fbank_stats", "heldout_eval_fn", "load_frames", "_chunks"]


def _chunks(data: dict, keys, batch_size: int) -> list[dict]:
    return chunks(data, keys, batch_size)


def heldout_eval_fn(data: dict, keys, batch_size: int, mask_seed: int = 12345):
    """``eval_fn(model)``: held-out loss terms on ``data`` under fixed masks."""
    return _heldout_eval_fn(chunks(data, keys, batch_size), keys, mask_seed)


def load_frames(profile, start: int, count: int, device=None) -> dict:
    """SynthAV's single-image set at ``profile`` (:func:`maskedav.study.data.load_frames`)."""
    from maskedav.study.data import load_frames as frames, synthav_config

    out = frames(synthav_config(profile), start, count)
    return out if device is None else {"image": out["image"].to(device), "labels": out["labels"]}
