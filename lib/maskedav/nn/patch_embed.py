"""Patch / tubelet embeddings: pixels → ``(B, N, D)`` tokens in the conventions' token order.

* :class:`ImagePatchEmbed` — timm ``PatchEmbed`` (Conv2d, kernel = stride = patch), tokens ``(h, w)``.
* :class:`TubeletEmbed` — VideoMAE / MVD ``PatchEmbed``: ``Conv3d(kernel = stride = (tubelet, p, p))``,
  ``flatten(2).transpose(1, 2)`` → tokens ``(t, h, w)`` row-major (reference-code §1.1).
* :class:`SpectrogramPatchEmbed` — AudioMAE / CAV-MAE / XKD: a 1-channel Conv2d on the fbank.
  ``layout="tf"`` keeps the book's ``(time, freq)`` token order (AudioMAE: 1024×128 → 64×8 grid);
  ``layout="ft"`` transposes first as CAV-MAE (``[B, 1, 128, 1024]`` → 8×64 grid) and XKD (80×448 →
  20×28 with 4 (mel) × 16 (time) patches) do.

All conv weights get MAE's init: ``xavier_uniform_`` on the weight viewed as ``(D, -1)``, "like a Linear"
(MAE ``models_mae.py::initialize_weights``). XKD's ``Cuboids`` (einops + Linear over ``(pt, ph, pw, c)``)
is the same map with a permuted weight layout.
"""
from __future__ import annotations

import math
from typing import Sequence

import torch
from torch import nn
from timm.layers import PatchEmbed

__all__ = ["ImagePatchEmbed", "TubeletEmbed", "SpectrogramPatchEmbed", "xavier_init_conv"]


def _pair(p) -> tuple[int, int]:
    return (int(p), int(p)) if isinstance(p, int) else (int(p[0]), int(p[1]))


def xavier_init_conv(conv: nn.Module) -> None:
    """MAE: initialise a patch-embedding conv like ``nn.Linear`` (xavier-uniform on ``weight.view(D, -1)``)."""
    w = conv.weight.data
    nn.init.xavier_uniform_(w.view(w.shape[0], -1))


class ImagePatchEmbed(PatchEmbed):
    """Image ``(B, C, H, W)`` → ``(B, (H/p)(W/p), D)``; ``grid_size = (H/p, W/p)`` (timm ``PatchEmbed``)."""

    def __init__(self, img_size: int | Sequence[int] = 224, patch_size: int | Sequence[int] = 16,
                 in_chans: int = 3, embed_dim: int = 768, bias: bool = True):
        super().__init__(img_size=_pair(img_size), patch_size=_pair(patch_size), in_chans=in_chans,
                         embed_dim=embed_dim, bias=bias)
        xavier_init_conv(self.proj)

    @property
    def patch_dim(self) -> int:
        """Pixel values per token (the reconstruction target size)."""
        return self.patch_size[0] * self.patch_size[1] * self.proj.in_channels


class TubeletEmbed(nn.Module):
    """Video ``(B, C, T, H, W)`` → ``(B, (T/t)(H/p)(W/p), D)``; ``grid_size = (T/t, H/p, W/p)``."""

    def __init__(self, video_size: Sequence[int] = (16, 224, 224), patch_size: int | Sequence[int] = 16,
                 tubelet: int = 2, in_chans: int = 3, embed_dim: int = 768, bias: bool = True):
        super().__init__()
        ph, pw = _pair(patch_size)
        t, h, w = video_size
        if t % tubelet or h % ph or w % pw:
            raise ValueError(f"video {tuple(video_size)} not divisible by tubelet {(tubelet, ph, pw)}")
        self.video_size = (int(t), int(h), int(w))
        self.patch_size, self.tubelet = (ph, pw), int(tubelet)
        self.grid_size = (t // tubelet, h // ph, w // pw)
        self.num_patches = math.prod(self.grid_size)
        self.proj = nn.Conv3d(in_chans, embed_dim, kernel_size=(tubelet, ph, pw), stride=(tubelet, ph, pw), bias=bias)
        xavier_init_conv(self.proj)

    @property
    def patch_dim(self) -> int:
        return self.tubelet * self.patch_size[0] * self.patch_size[1] * self.proj.in_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if tuple(x.shape[2:]) != self.video_size:
            raise ValueError(f"input video {tuple(x.shape[2:])} does not match model {self.video_size}")
        return self.proj(x).flatten(2).transpose(1, 2)


class SpectrogramPatchEmbed(nn.Module):
    """Spectrogram ``(B, T_frames, n_mels)`` (or ``(B, 1, T, F)``) → ``(B, N, D)``.

    ``input_size = (T_frames, n_mels)`` and ``patch_size = (p_time, p_freq)`` are always given time first;
    ``layout`` decides the token order: ``"tf"`` = ``(time, freq)`` row-major (grid ``(T/pt, F/pf)``),
    ``"ft"`` = ``(freq, time)`` (CAV-MAE, XKD; grid ``(F/pf, T/pt)``).
    """

    def __init__(self, input_size: Sequence[int] = (1024, 128), patch_size: int | Sequence[int] = 16,
                 embed_dim: int = 768, layout: str = "tf", bias: bool = True):
        super().__init__()
        if layout not in ("tf", "ft"):
            raise ValueError("layout must be 'tf' or 'ft'")
        pt, pf = _pair(patch_size)
        T, Fq = int(input_size[0]), int(input_size[1])
        self.input_size, self.layout = (T, Fq), layout
        size, patch = ((T, Fq), (pt, pf)) if layout == "tf" else ((Fq, T), (pf, pt))
        self.embed = ImagePatchEmbed(size, patch, in_chans=1, embed_dim=embed_dim, bias=bias)
        self.grid_size = self.embed.grid_size
        self.num_patches = self.embed.num_patches
        self.patch_size = self.embed.patch_size

    @property
    def proj(self) -> nn.Conv2d:
        return self.embed.proj

    @property
    def patch_dim(self) -> int:
        return self.embed.patch_dim

    def to_image(self, x: torch.Tensor) -> torch.Tensor:
        """The ``(B, 1, rows, cols)`` image that is patchified (transposed for ``"ft"``); use it with
        :func:`maskedav.losses.patchify_image` to build matching targets."""
        if x.dim() == 3:
            x = x.unsqueeze(1)
        return x.transpose(-1, -2) if self.layout == "ft" else x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.embed(self.to_image(x))
