"""Positional embeddings of the MAE family: fixed sin-cos (1-D, 2-D, 3-D) and learned.

Every function returns a ``(N, D)`` float32 table whose rows follow the token order of the
conventions (video ``(t, h, w)``, image ``(h, w)``, spectrogram ``(time, freq)`` row-major unless a
caller transposes). Tables are computed with torch ops only, so they also build on the ``meta`` device.

Layouts (reference-code §1.1–1.4; "Attention Is All You Need" Sec. 3.5 for the sinusoid itself):

* :func:`sincos_1d` — MAE ``get_1d_sincos_pos_embed_from_grid``: ``omega_k = 1 / 10000^(k/(D/2))``,
  ``[sin(p·omega) | cos(p·omega)]`` (two halves).
* :func:`sinusoid_table` — VideoMAE ``get_sinusoid_encoding_table``: angle ``p / 10000^(2·(j//2)/D)``,
  sin on even, cos on odd channels (*interleaved*), over the flattened token index.
* :func:`sincos_2d` — MAE ``get_2d_sincos_pos_embed``: first D/2 channels encode the **column** (w)
  coordinate, last D/2 the **row** (h) coordinate (MAE's ``meshgrid(grid_w, grid_h)`` puts w first),
  optional all-zero cls row in front; non-square grids as in CAV-MAE (8×64) / AudioMAE (64×8).
* :func:`sincos_3d` — MVD / ST-MAE ``get_3d_sincos_pos_embed``: first D/4 channels = 1-D sin-cos of t,
  last 3D/4 = 2-D sin-cos (MAE layout) of (h, w); rows in ``(t, h, w)`` order.
* :class:`PosEmbed` — one module for all kinds, including learned (trunc-normal 0.02; XKD, CAV-MAE
  fine-tune) and separable learned (ST-MAE ``sep_pos_embed``: spatial ``[1, HW, D]`` repeated over time
  + temporal ``[1, T, D]`` repeat-interleaved over space).
"""
from __future__ import annotations

import math
from typing import Sequence

import torch
from torch import nn
from timm.layers import trunc_normal_

__all__ = ["sincos_1d", "sinusoid_table", "sincos_2d", "sincos_3d", "PosEmbed", "POS_EMBED_KINDS"]

POS_EMBED_KINDS = ("sincos", "sinusoid", "learned", "learned_separable", "none")


def sincos_1d(dim: int, positions: torch.Tensor | Sequence[float] | int) -> torch.Tensor:
    """MAE 1-D sin-cos: ``(len(positions), dim)`` = ``[sin(p·ω) | cos(p·ω)]``, ``ω_k = 10000^(-2k/dim)``.

    ``positions`` may be an int ``n`` (meaning ``0..n-1``) or any 1-D sequence of positions.
    """
    if dim % 2:
        raise ValueError(f"sincos_1d needs an even dim, got {dim}")
    if isinstance(positions, int):
        pos = torch.arange(positions, dtype=torch.float64)
    else:
        pos = torch.as_tensor(positions, dtype=torch.float64).reshape(-1)
    omega = torch.arange(dim // 2, dtype=torch.float64, device=pos.device) / (dim / 2.0)
    omega = 1.0 / 10000.0 ** omega
    out = pos[:, None] * omega[None, :]
    return torch.cat([torch.sin(out), torch.cos(out)], dim=1).float()


def sinusoid_table(n_position: int, dim: int) -> torch.Tensor:
    """VideoMAE's fixed 1-D table over the flattened token index, channels **interleaved**.

    ``table[p, j] = sin(p / 10000^(2·(j//2)/dim))`` for even ``j`` and ``cos(...)`` for odd ``j``.
    Works for odd ``dim`` too (as the original).
    """
    pos = torch.arange(n_position, dtype=torch.float64)[:, None]
    j = torch.arange(dim, dtype=torch.float64)[None, :]
    angle = pos / torch.pow(torch.tensor(10000.0, dtype=torch.float64), 2 * torch.div(j, 2, rounding_mode="floor") / dim)
    table = torch.where(j.long() % 2 == 0, torch.sin(angle), torch.cos(angle))
    return table.float()


def _sincos_2d_from_grid(dim: int, grid_h: int, grid_w: int) -> torch.Tensor:
    if dim % 4:
        raise ValueError(f"2-D sin-cos needs dim divisible by 4, got {dim}")
    rows = torch.arange(grid_h, dtype=torch.float64).repeat_interleave(grid_w)   # h index of token
    cols = torch.arange(grid_w, dtype=torch.float64).repeat(grid_h)              # w index of token
    # MAE: emb_h = 1d(grid[0]) where grid[0] holds the *w* coordinate (meshgrid(grid_w, grid_h)).
    return torch.cat([sincos_1d(dim // 2, cols), sincos_1d(dim // 2, rows)], dim=1)


def sincos_2d(dim: int, grid_h: int, grid_w: int | None = None, cls_token: bool = False) -> torch.Tensor:
    """MAE 2-D sin-cos on a ``grid_h × grid_w`` grid, rows in ``(h, w)`` row-major order.

    Channels ``[:dim/2]`` encode the column (w) index, ``[dim/2:]`` the row (h) index — MAE's layout.
    ``cls_token=True`` prepends MAE's all-zero row, giving ``(1 + H·W, dim)``.
    """
    grid_w = grid_h if grid_w is None else grid_w
    table = _sincos_2d_from_grid(dim, grid_h, grid_w)
    if cls_token:
        table = torch.cat([torch.zeros(1, dim), table], dim=0)
    return table


def sincos_3d(dim: int, grid_t: int, grid_h: int, grid_w: int | None = None) -> torch.Tensor:
    """MVD / ST-MAE 3-D sin-cos: ``[1-D(t) in dim/4 channels | 2-D(h, w) in 3·dim/4]``, ``(t,h,w)`` rows."""
    grid_w = grid_h if grid_w is None else grid_w
    if dim % 16:
        raise ValueError(f"3-D sin-cos needs dim divisible by 16 (D/4 even, 3D/4 divisible by 4), got {dim}")
    d_t, d_s = dim // 4, dim // 4 * 3
    temporal = sincos_1d(d_t, grid_t).repeat_interleave(grid_h * grid_w, dim=0)   # (T*HW, D/4)
    spatial = _sincos_2d_from_grid(d_s, grid_h, grid_w).repeat(grid_t, 1)         # (T*HW, 3D/4)
    return torch.cat([temporal, spatial], dim=1)


def _fixed_table(kind: str, dim: int, grid: tuple[int, ...]) -> torch.Tensor:
    n = math.prod(grid)
    if kind == "sinusoid":
        return sinusoid_table(n, dim)
    if len(grid) == 1:
        return sincos_1d(dim, grid[0])
    if len(grid) == 2:
        return sincos_2d(dim, grid[0], grid[1])
    if len(grid) == 3:
        return sincos_3d(dim, *grid)
    raise ValueError(f"grid must have 1, 2 or 3 axes, got {grid}")


class PosEmbed(nn.Module):
    """Positional embedding of a token grid; ``forward()`` returns the ``(1, N, D)`` table.

    kinds:
      ``"sincos"``            fixed; 1-D / 2-D (MAE) / 3-D (MVD) by the number of grid axes.
      ``"sinusoid"``          fixed VideoMAE 1-D interleaved table over the flattened index.
      ``"learned"``           ``nn.Parameter (1, N, D)``, trunc-normal std 0.02 (XKD, CAV-MAE-FT).
      ``"learned_separable"`` ST-MAE: spatial ``(1, H·W, D)`` + temporal ``(1, T, D)``, trunc-normal 0.02
                              (grid must be ``(T, H, W)``).
      ``"none"``              zeros (no positional information).

    Fixed tables are non-persistent buffers, so they are not parameters (the papers' parameter counts
    exclude them, see :mod:`maskedav.counting`) and are not stored in checkpoints.
    ``cls_pos`` is the embedding of one prefix (cls) token: zeros for fixed kinds (MAE's zero cls
    row), a learned ``(1, 1, D)`` parameter for learned kinds (XKD's table includes the cls row,
    ST-MAE's ``pos_embed_class``).
    """

    def __init__(self, kind: str, dim: int, grid: Sequence[int], cls_token: bool = False):
        super().__init__()
        if kind not in POS_EMBED_KINDS:
            raise ValueError(f"unknown pos-embed kind {kind!r}; choose one of {POS_EMBED_KINDS}")
        self.kind, self.dim, self.grid = kind, dim, tuple(int(g) for g in grid)
        self.num_patches = math.prod(self.grid)
        self.cls_pos = None
        if kind in ("sincos", "sinusoid"):
            self.register_buffer("table", _fixed_table(kind, dim, self.grid)[None], persistent=False)
        elif kind == "none":
            self.register_buffer("table", torch.zeros(1, self.num_patches, dim), persistent=False)
        elif kind == "learned":
            self.table = nn.Parameter(torch.zeros(1, self.num_patches, dim))
            trunc_normal_(self.table, std=0.02)
        else:  # learned_separable
            if len(self.grid) != 3:
                raise ValueError("learned_separable needs a (T, H, W) grid")
            t, h, w = self.grid
            self.spatial = nn.Parameter(torch.zeros(1, h * w, dim))
            self.temporal = nn.Parameter(torch.zeros(1, t, dim))
            trunc_normal_(self.spatial, std=0.02)
            trunc_normal_(self.temporal, std=0.02)
        if cls_token and kind.startswith("learned"):
            self.cls_pos = nn.Parameter(torch.zeros(1, 1, dim))
            trunc_normal_(self.cls_pos, std=0.02)

    def forward(self) -> torch.Tensor:
        if self.kind == "learned_separable":
            t, h, w = self.grid
            return self.spatial.repeat(1, t, 1) + self.temporal.repeat_interleave(h * w, dim=1)
        return self.table

    def prefix(self) -> torch.Tensor | None:
        """Embedding added to a cls token (``None`` means zero)."""
        return self.cls_pos

    def extra_repr(self) -> str:
        return f"kind={self.kind}, dim={self.dim}, grid={self.grid}"
