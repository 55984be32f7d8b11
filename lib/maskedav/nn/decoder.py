"""MAE-style decoder: visible latents + mask tokens → per-token predictions.

MAE ``models_mae.py::forward_decoder`` (He et al. 2022, Sec. 3 "MAE decoder"):

    x = embed(x_visible)                      # Linear(D_enc → D_dec) (VideoMAE: bias=False; MVD: bias)
    x = unshuffle(x, mask_token, mask)        # mask token trunc-normal(0.02); THIS mask's ids_restore
    x = x + pos                               # decoder positional embedding (own table, decoder width)
    x = blocks(x); x = norm(x)                # shallow Transformer; norm optional (XKD has none)
    y = head(x)                               # Linear(D_dec → target dim), all or masked tokens only

VideoMAE / MVD feed ``[visible + pos_vis, mask_token + pos_mask]`` without un-shuffling. Self-attention
is permutation-equivariant and positions travel with the tokens, so that layout gives the same
predictions as the un-shuffled one — only the output order differs. With ``predict="masked"`` this
decoder returns masked-token predictions in ascending token order (VideoMAE's ``target[mask]`` order,
:func:`maskedav.masking.select_masked`), applying the head to those tokens only.
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import nn
from timm.layers import trunc_normal_

from maskedav.masking import Mask, mask_from_bool, select_masked, unshuffle
from maskedav.nn.vit import build_blocks, init_mae_weights
from maskedav.pos_embed import PosEmbed

__all__ = ["MAEDecoder"]


class MAEDecoder(nn.Module):
    """Decoder of masked autoencoders (MAE, VideoMAE, MVD's feature decoders, CAV-MAE, XKD).

    Args:
        grid: token grid of the encoder (``(h, w)``, ``(t, h, w)`` …); sets the decoder pos-embed.
        encoder_dim: width of the encoder tokens (``None``: inputs already have decoder width).
        dim, depth, heads, mlp_ratio: decoder Transformer (MAE 512/8/16; VideoMAE-B 384/4/6; ...).
        out_dim: per-token prediction size (pixels ``pt·ph·pw·C`` or a teacher's feature width).
        pos_embed: decoder pos-embed kind (``"sincos"``, ``"sinusoid"``, ``"learned"`` ...).
        num_prefix_tokens: leading (cls) tokens in the encoder output; they pass through the decoder
            (fixed pos-embed: no position, as MAE's zero cls row) and are dropped from the output.
        embed_bias: bias of the encoder→decoder Linear (VideoMAE ``False``; MAE, MVD ``True``).
        final_norm: LayerNorm before the head (XKD: ``False``).
        predict: ``"all"`` → ``(B, N, out_dim)``; ``"masked"`` → ``(B, N_mask, out_dim)`` ascending order.
    """

    def __init__(self, grid: Sequence[int], encoder_dim: int | None, dim: int = 512, depth: int = 8,
                 heads: int = 16, out_dim: int = 768, mlp_ratio: float = 4.0, qkv_bias: bool = True,
                 pos_embed: str = "sincos", num_prefix_tokens: int = 0, embed_bias: bool = True,
                 final_norm: bool = True, predict: str = "all", drop_path: float = 0.0,
                 norm_eps: float = 1e-6):
        super().__init__()
        if predict not in ("all", "masked"):
            raise ValueError("predict must be 'all' or 'masked'")
        self.grid, self.dim, self.out_dim, self.predict = tuple(grid), dim, out_dim, predict
        self.num_prefix_tokens = num_prefix_tokens
        self.embed = nn.Linear(encoder_dim, dim, bias=embed_bias) if encoder_dim is not None else nn.Identity()
        self.mask_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos_embed = PosEmbed(pos_embed, dim, self.grid, cls_token=num_prefix_tokens > 0)
        self.blocks = build_blocks(dim, depth, heads, mlp_ratio, qkv_bias, drop_path, norm_eps)
        self.norm = nn.LayerNorm(dim, eps=norm_eps) if final_norm else nn.Identity()
        self.head = nn.Linear(dim, out_dim)
        self.apply(init_mae_weights)
        trunc_normal_(self.mask_token, std=0.02)

    @classmethod
    def from_config(cls, cfg, **overrides) -> "MAEDecoder":
        """Build from a :class:`maskedav.configs.ViTConfig` (decoder fields)."""
        return cls(**{**cfg.decoder_kwargs(), **overrides})

    def forward(self, x: torch.Tensor, mask: Mask | torch.Tensor) -> torch.Tensor:
        """``x``: encoder output ``(B, prefix + N_keep, D_enc)`` in ``mask.ids_keep`` order."""
        if not isinstance(mask, Mask):
            mask = mask_from_bool(mask)
        x = self.embed(x)
        p = self.num_prefix_tokens
        prefix, x = x[:, :p], x[:, p:]
        x = unshuffle(x, self.mask_token, mask) + self.pos_embed().to(x.dtype)
        if p:
            cls_pos = self.pos_embed.prefix()
            if cls_pos is not None:
                prefix = prefix + cls_pos
            x = torch.cat([prefix, x], dim=1)
        for blk in self.blocks:
            x = blk(x)
        x = self.norm(x)[:, p:]
        if self.predict == "masked":
            x = select_masked(x, mask)
        return self.head(x)
