"""SynthAV splits for every chapter: generated once per machine, then read from the cache.

A split is a pure function of (SynthAV config, split name), so it is generated once (on worker
processes, chunk by chunk), kept in memory for the process and saved to the git-ignored cache
(``<cache>/synthav/<split>-<digest>.pt``, keyed by the config, which carries the generator's
version). Features the audio models read (Kaldi fbank) are computed once per split and cached the
same way.

A split whose config differs from another only in a deterministic video degradation (``downsample``,
``blur_sigma``: what the generator applies to the rendered clip, :func:`maskedav.data.synthav_render.degrade`)
is derived from the clean split in memory instead of generated again: the same scenes, audio, labels
and sounding-object masks, the video degraded. Audio features of such a split are the clean split's.
"""
from __future__ import annotations

import hashlib
import json

import torch

from ..paths import cache_root

__all__ = ["synthav_config", "load_split", "clean_config", "load_frames", "load_images", "fbank_frames", "batch_fn", "chunks",
           "loaded", "preload", "clear", "chance", "fbank_stats", "split_fbank", "split_mfcc"]

_DATA: dict = {}       # (cfg, split) -> split dict;  (cfg, split, "fbank", mel bins) -> tensor


def synthav_config(profile, **overrides):
    """:class:`~maskedav.data.synthav.SynthAVConfig` at ``profile``'s sizes."""
    from ..data.synthav import SynthAVConfig

    return SynthAVConfig.from_profile(profile, **overrides)


def _path(cfg, *parts) -> "Path":  # noqa: F821
    ident = json.dumps([cfg.to_dict(), *parts], sort_keys=True, default=str)
    digest = hashlib.sha256(ident.encode()).hexdigest()[:20]
    return cache_root() / "synthav" / f"{'-'.join(str(p) for p in parts)}-{digest}.pt"


def _save(obj, path) -> None:
    from ..train.engine import _atomic_save

    path.parent.mkdir(parents=True, exist_ok=True)
    _atomic_save(obj, path)


def _generate_chunk(cfg, split: str, start: int, stop: int) -> dict:
    from ..data.synthav import generate

    out = generate(cfg, split, range(start, stop))
    return {k: out[k] for k in ("video", "audio", "source_mask", "labels")}


def clean_config(cfg):
    """``cfg`` without video degradation (``downsample=1``, no blur, no pixel noise): the config whose
    audio, labels and sounding-object masks ``cfg``'s split shares (degradation changes only pixels)."""
    from dataclasses import replace

    return replace(cfg, downsample=1, blur_sigma=0.0, pixel_noise=0.0)


def _degraded(clean: dict, cfg) -> dict:
    """The clean split with its video degraded as the generator would (no pixel noise)."""
    from ..data.synthav_render import degrade

    video = torch.cat([degrade(v, cfg.downsample, cfg.blur_sigma, 0.0, None) for v in clean["video"].split(256)])
    return dict(clean, video=video)


def load_split(cfg, split: str, *, workers: int | None = None) -> dict:
    """Split ``split`` of SynthAV config ``cfg``: ``video (N, 3, T, H, W)``, ``audio (N, S)``,
    ``source_mask (N, T, H, W)`` and ``labels`` (one ``(N,)`` tensor per task), on the CPU."""
    from .executor import default_workers, parallel_map

    key = (cfg, split)
    if key not in _DATA:
        path = _path(cfg, split)
        clean = clean_config(cfg)
        if clean != cfg and cfg.pixel_noise == 0:        # deterministic degradation: derived, not generated
            _DATA[key] = _degraded(load_split(clean, split, workers=workers), cfg)
        elif path.exists():
            _DATA[key] = torch.load(path, weights_only=True)
        else:
            n = cfg.size(split)
            step = 1024
            jobs = [dict(cfg=cfg, split=split, start=a, stop=min(a + step, n)) for a in range(0, n, step)]
            workers = default_workers("cpu", len(jobs), work=(stop_max := min(step, n)) / 40) if workers is None else workers
            parts = parallel_map(_generate_chunk, jobs, workers, preload={})
            _DATA[key] = dict(video=torch.cat([p["video"] for p in parts]),
                              audio=torch.cat([p["audio"] for p in parts]),
                              source_mask=torch.cat([p["source_mask"] for p in parts]),
                              labels={t: torch.cat([p["labels"][t] for p in parts]) for t in parts[0]["labels"]})
            _save(_DATA[key], path)
    return _DATA[key]


def fbank_frames(num_samples: int, sample_rate: int, audio_patch: int) -> int:
    """Fbank frames the audio models take: the Kaldi frame count of a clip (25 ms window, 10 ms hop)
    floored to a multiple of the audio patch (the rest is cropped)."""
    from ..data.audio import num_fbank_frames

    return num_fbank_frames(num_samples, sample_rate) // audio_patch * audio_patch


def split_fbank(cfg, split: str, num_mel_bins: int) -> torch.Tensor:
    """Kaldi fbank ``(N, T_frames, mel)`` of a split's audio (computed once, cached)."""
    cfg = clean_config(cfg)                             # video degradation leaves the audio as it is
    key = (cfg, split, "fbank", num_mel_bins)
    if key not in _DATA:
        path = _path(cfg, split, "fbank", num_mel_bins)
        if path.exists():
            _DATA[key] = torch.load(path, weights_only=True)
        else:
            from ..data.audio import fbank

            audio = load_split(cfg, split)["audio"]
            _DATA[key] = torch.cat([fbank(a, cfg.sample_rate, num_mel_bins) for a in audio.split(256)])
            _save(_DATA[key], path)
    return _DATA[key]


def split_mfcc(cfg, split: str) -> torch.Tensor:
    """TalkNet MFCC ``(N, T_frames, 13)`` of a split's audio (:class:`maskedav.data.mfcc.MFCC`, its
    defaults; computed once, cached)."""
    cfg = clean_config(cfg)                             # video degradation leaves the audio as it is
    key = (cfg, split, "mfcc")
    if key not in _DATA:
        from ..data.mfcc import MFCC

        front = MFCC(cfg.sample_rate)
        path = _path(cfg, split, "mfcc", front.win, front.hop, front.n_fft, front.n_mfcc,
                     float(front.fbank.sum()), float(front.lift.sum()))
        if path.exists():
            _DATA[key] = torch.load(path, weights_only=True)
        else:
            audio = load_split(cfg, split)["audio"]
            with torch.no_grad():
                _DATA[key] = torch.cat([front(a) for a in audio.split(256)])
            _save(_DATA[key], path)
    return _DATA[key]


def fbank_stats(fbank: torch.Tensor) -> tuple[float, float]:
    """Dataset mean and std of fbank values (AudioMAE's / CAV-MAE's ``norm_stats`` for SynthAV),
    accumulated in float64 and rounded to float32: a float32 reduction depends on the thread count
    (1 vs 2 threads differ in the last bit), and these values are part of the configs' cache keys."""
    f = fbank.double()
    return (float(torch.tensor(f.mean().item(), dtype=torch.float32)),
            float(torch.tensor(f.std().item(), dtype=torch.float32)))


def load_images(cfg, kind: str, start: int, count: int) -> dict:
    """SynthAV's single-image set ``kind`` (``"frames"`` or ``"unrelated"``): images ``start .. start +
    count - 1`` as ``image (N, 3, H, W)`` and ``labels["appearance"]`` (memoised)."""
    from ..data.synthav import generate_images

    key = (cfg, kind, start, count)
    if key not in _DATA:
        parts = [generate_images(cfg, kind, range(a, min(a + 256, start + count)))
                 for a in range(start, start + count, 256)]
        _DATA[key] = dict(image=torch.cat([p["image"] for p in parts]),
                          labels=dict(appearance=torch.cat([p["labels"]["appearance"] for p in parts])))
    return _DATA[key]


def load_frames(cfg, start: int, count: int) -> dict:
    """SynthAV's single-image set ``"frames"`` (:func:`load_images`)."""
    return load_images(cfg, "frames", start, count)


def chance(labels: torch.Tensor) -> float:
    """Majority-class accuracy (percent) of a label vector."""
    return 100.0 * float(torch.bincount(labels).max()) / len(labels)


def loaded() -> dict:
    """Everything this process holds (what :func:`~maskedav.study.executor.parallel_map` ships to
    its workers)."""
    return dict(_DATA)


def preload(items: dict) -> None:
    _DATA.update(items)


def clear() -> None:
    _DATA.clear()


def batch_fn(data: dict, batch_size: int, keys, seed: int = 0, *, device=None, augment=None, unpaired=()):
    """``batch_fn(step)``: batch ``step`` of epochs over ``data`` (tensors under ``keys``; ``"label"``
    may be one of them), each epoch a permutation drawn from ``(seed, epoch)`` — deterministic in the
    step (the engine's contract). Keys in ``unpaired`` (e.g. an image set unrelated to the clips) are
    not indexed with the clips: each batch draws its own items of them, uniformly with replacement from
    ``(seed, step)``. ``augment(batch, generator) -> batch`` is applied per batch with a generator
    seeded by ``(seed, step)``."""
    paired = [k for k in keys if k not in unpaired]
    n = len(data[paired[0]])
    per_epoch = max(n // batch_size, 1)
    perms: dict[int, torch.Tensor] = {}

    def fn(step: int) -> dict:
        epoch, k = divmod(step, per_epoch)
        if epoch not in perms:
            perms.clear()
            perms[epoch] = torch.randperm(n, generator=torch.Generator().manual_seed(seed * 1_000_003 + epoch))
        idx = perms[epoch][k * batch_size:(k + 1) * batch_size]
        batch = {key: data[key][idx] for key in paired}
        if unpaired:
            g = torch.Generator().manual_seed(seed * 104_729 + step)
            for key in unpaired:
                batch[key] = data[key][torch.randint(len(data[key]), (len(idx),), generator=g)]
        if augment is not None:
            batch = augment(batch, torch.Generator().manual_seed(seed * 7_919 + step))
        return batch if device is None else {k: v.to(device) for k, v in batch.items()}

    return fn


def chunks(data: dict, keys, batch_size: int) -> list[dict]:
    """``data`` (tensors under ``keys``) cut into consecutive batches."""
    n = len(data[keys[0]])
    return [{k: data[k][a:a + batch_size] for k in keys} for a in range(0, n, batch_size)]
