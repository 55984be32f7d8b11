"""Video / image transforms: VideoMAE's augmentation, ImageNet normalisation, repeated sampling.

All functions take batches: video ``(B, 3, T, H, W)`` or one clip ``(3, T, H, W)``, images
``(B, 3, H, W)`` or ``(3, H, W)``; randomness comes from an explicit ``torch.Generator``.

* :class:`MultiScaleCrop` = VideoMAE's ``GroupMultiScaleCrop(input_size, [1, .875, .75, .66])``
  (from TSN): crop side = ``int(min(H, W) * scale)`` for a pair of scales at most ``max_distort``
  apart, offset from the 13 fixed positions (``fix_crop``, ``more_fix_crop``), the same crop for
  every frame of a clip, then bilinear resize to ``size``.
* :func:`random_flip`: horizontal flip with probability ``p`` per clip. Do not use it when labels
  depend on left/right (SSv2, SynthAV ``motion``).
* :func:`repeat_augment`: ST-MAE's repeated sampling: each decoded clip is augmented ``repeats``
  times (independently) and the copies are laid side by side in the batch.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
VIDEOMAE_SCALES = (1.0, 0.875, 0.75, 0.66)


def _stats(x: torch.Tensor, channel_dim: int, values) -> torch.Tensor:
    shape = [1] * x.dim()
    shape[channel_dim] = 3
    return torch.tensor(values, dtype=x.dtype, device=x.device).view(shape)


def _check(x: torch.Tensor, dims: tuple[int, ...], what: str) -> int:
    if x.dim() not in dims:
        raise ValueError(f"{what} must have {' or '.join(map(str, dims))} dims, got {tuple(x.shape)}")
    channel_dim = -4 if what == "video" else -3
    if x.shape[channel_dim] != 3:
        raise ValueError(f"{what} must have 3 channels at dim {channel_dim}, got {tuple(x.shape)}")
    return channel_dim


def normalize_video(video: torch.Tensor, mean=IMAGENET_MEAN, std=IMAGENET_STD) -> torch.Tensor:
    """``(video - mean) / std`` per channel for ``(B, 3, T, H, W)`` or ``(3, T, H, W)`` in [0, 1]."""
    c = _check(video, (4, 5), "video")
    return (video - _stats(video, c, mean)) / _stats(video, c, std)


def denormalize_video(video: torch.Tensor, mean=IMAGENET_MEAN, std=IMAGENET_STD) -> torch.Tensor:
    c = _check(video, (4, 5), "video")
    return video * _stats(video, c, std) + _stats(video, c, mean)


def normalize_image(image: torch.Tensor, mean=IMAGENET_MEAN, std=IMAGENET_STD) -> torch.Tensor:
    """``(image - mean) / std`` per channel for ``(B, 3, H, W)`` or ``(3, H, W)`` in [0, 1]."""
    c = _check(image, (3, 4), "image")
    return (image - _stats(image, c, mean)) / _stats(image, c, std)


def denormalize_image(image: torch.Tensor, mean=IMAGENET_MEAN, std=IMAGENET_STD) -> torch.Tensor:
    c = _check(image, (3, 4), "image")
    return image * _stats(image, c, std) + _stats(image, c, mean)


def fixed_offsets(image_w: int, image_h: int, crop_w: int, crop_h: int, more: bool = True) -> list[tuple[int, int]]:
    """TSN / VideoMAE ``fill_fix_offset``: 5 (or 13) ``(x, y)`` crop offsets on a 4x4 step grid."""
    w_step, h_step = (image_w - crop_w) // 4, (image_h - crop_h) // 4
    grid = [(0, 0), (4, 0), (0, 4), (4, 4), (2, 2)]
    if more:
        grid += [(0, 2), (4, 2), (2, 4), (2, 0), (1, 1), (3, 1), (1, 3), (3, 3)]
    return [(i * w_step, j * h_step) for i, j in grid]


def crop_sizes(image_w: int, image_h: int, size: tuple[int, int], scales=VIDEOMAE_SCALES,
               max_distort: int = 1) -> list[tuple[int, int]]:
    """Candidate ``(crop_w, crop_h)`` pairs of ``GroupMultiScaleCrop._sample_crop_size``."""
    base = min(image_w, image_h)
    sides = [int(base * s) for s in scales]
    crop_h = [size[0] if abs(x - size[0]) < 3 else x for x in sides]
    crop_w = [size[1] if abs(x - size[1]) < 3 else x for x in sides]
    return [(w, h) for i, h in enumerate(crop_h) for j, w in enumerate(crop_w) if abs(i - j) <= max_distort]


def _randint(high: int, generator) -> int:
    return int(torch.randint(high, (1,), generator=generator))


class MultiScaleCrop:
    """VideoMAE's multi-scale crop for a batch of clips (one crop per clip, shared by its frames)."""

    def __init__(self, size, scales=VIDEOMAE_SCALES, max_distort: int = 1, fix_crop: bool = True,
                 more_fix_crop: bool = True):
        self.size = (size, size) if isinstance(size, int) else tuple(size)   # (H, W)
        self.scales, self.max_distort = tuple(scales), max_distort
        self.fix_crop, self.more_fix_crop = fix_crop, more_fix_crop

    def sample(self, image_h: int, image_w: int, generator=None) -> tuple[int, int, int, int]:
        """``(x, y, crop_w, crop_h)`` for one clip."""
        pairs = crop_sizes(image_w, image_h, self.size, self.scales, self.max_distort)
        crop_w, crop_h = pairs[_randint(len(pairs), generator)]
        if self.fix_crop:
            offsets = fixed_offsets(image_w, image_h, crop_w, crop_h, self.more_fix_crop)
            x, y = offsets[_randint(len(offsets), generator)]
        else:
            x, y = _randint(image_w - crop_w + 1, generator), _randint(image_h - crop_h + 1, generator)
        return x, y, crop_w, crop_h

    def __call__(self, video: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        single = video.dim() == 4
        batch = video.unsqueeze(0) if single else video
        B, C, T, H, W = batch.shape
        out = []
        for clip in batch:
            x, y, cw, ch = self.sample(H, W, generator)
            frames = clip[:, :, y:y + ch, x:x + cw].transpose(0, 1)           # (T, C, ch, cw)
            if (ch, cw) != self.size:
                frames = F.interpolate(frames, size=self.size, mode="bilinear", align_corners=False,
                                       antialias=True)
            out.append(frames.transpose(0, 1))
        result = torch.stack(out)
        return result[0] if single else result


def random_flip(x: torch.Tensor, p: float = 0.5, generator: torch.Generator | None = None) -> torch.Tensor:
    """Flip each clip / image of a batch left-right with probability ``p`` (last dim is width)."""
    flip = torch.rand(x.shape[0], generator=generator) < p
    view = [-1] + [1] * (x.dim() - 1)
    return torch.where(flip.to(x.device).view(view), x.flip(-1), x)


class VideoMAEAugment:
    """Pre-training augmentation of VideoMAE (multi-scale crop; optional flip)."""

    def __init__(self, size, scales=VIDEOMAE_SCALES, flip: bool = False):
        self.crop = MultiScaleCrop(size, scales)
        self.flip = flip

    def __call__(self, video: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        video = self.crop(video, generator)
        return random_flip(video, 0.5, generator) if self.flip else video


def repeat_augment(video: torch.Tensor, repeats: int, transform,
                   generator: torch.Generator | None = None) -> torch.Tensor:
    """``(B, ...) -> (B * repeats, ...)``: ``repeats`` independent augmentations of each clip, adjacent."""
    copies = [transform(video, generator) for _ in range(repeats)]
    return torch.stack(copies, dim=1).flatten(0, 1)


def repeat_batch(batch: dict, repeats: int) -> dict:
    """Repeat every tensor of a batch dict like :func:`repeat_augment` orders clips (labels etc.)."""
    out = {}
    for k, v in batch.items():
        if isinstance(v, dict):
            out[k] = repeat_batch(v, repeats)
        elif torch.is_tensor(v):
            out[k] = v.repeat_interleave(repeats, dim=0)
        else:
            out[k] = v
    return out


def resize_center_crop(x: torch.Tensor, size: int) -> torch.Tensor:
    """Resize the short side to ``size`` (bilinear, antialiased) then centre-crop ``size x size``.

    Works on a clip ``(3, T, H, W)`` / ``(B, 3, T, H, W)`` or an image ``(3, H, W)`` / ``(B, 3, H, W)``
    (the evaluation transform of the real-data loaders).
    """
    *lead, H, W = x.shape
    scale = size / min(H, W)
    new_h, new_w = max(size, round(H * scale)), max(size, round(W * scale))
    flat = x.reshape(-1, 1, H, W)
    if (new_h, new_w) != (H, W):
        flat = F.interpolate(flat.float(), size=(new_h, new_w), mode="bilinear", align_corners=False,
                             antialias=True)
    top, left = (new_h - size) // 2, (new_w - size) // 2
    return flat[..., top:top + size, left:left + size].reshape(*lead, size, size)
