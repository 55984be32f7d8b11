"""A ViT encoder for images, videos and spectrograms that runs only the visible tokens.

Structure (ViT, Dosovitskiy et al. 2021, Eq. 1–4; MAE ``models_mae.py::forward_encoder``;
VideoMAE ``PretrainVisionTransformerEncoder``):

    tokens = patch_embed(x) + pos            # (B, N, D), pos added BEFORE masking
    tokens = tokens[ids_keep]                # visible tokens only (``mask`` True = hidden)
    tokens = [cls + cls_pos, tokens]         # optional cls token (MAE, XKD)
    tokens = blocks(tokens)                  # timm ``Block``: pre-LN, MHSA + MLP, drop-path
    tokens = norm(tokens)                    # final LayerNorm (optional)

Attention: timm 1.0's ``Attention`` calls ``F.scaled_dot_product_attention`` when
``timm.layers.use_fused_attn()`` is true (the default; ``block.attn.fused_attn``), so weights are never
materialised. :meth:`ViTEncoder.attention_maps` recomputes ``softmax(q·kᵀ·d^-½)`` for one chosen layer
only when asked (XKD's last-layer CLS attention, visualisations). :meth:`ViTEncoder.forward_features`
returns **pre-norm** block outputs (MVD's teachers use "the last block output before the final norm",
reference-code §1.2).

Differences from the original code worth knowing: VideoMAE / MVD blocks have separate ``q_bias`` /
``v_bias`` and no k-bias; timm has one ``qkv.bias`` (load with ``cat(q_bias, 0, v_bias)``); parameter
counts differ by ``D`` per block (< 0.02 %).
"""
from __future__ import annotations

import math
from functools import partial
from typing import Sequence

import torch
from torch import nn
from timm.models.vision_transformer import Block

from maskedav.masking import Mask, apply_mask, mask_from_bool
from maskedav.nn.patch_embed import ImagePatchEmbed, SpectrogramPatchEmbed, TubeletEmbed
from maskedav.pos_embed import PosEmbed

__all__ = ["ViTEncoder", "build_blocks", "init_mae_weights"]


def init_mae_weights(m: nn.Module) -> None:
    """MAE ``_init_weights``: xavier-uniform Linear weights, zero biases, LayerNorm (1, 0)."""
    if isinstance(m, nn.Linear):
        nn.init.xavier_uniform_(m.weight)
        if m.bias is not None:
            nn.init.zeros_(m.bias)
    elif isinstance(m, nn.LayerNorm):
        if m.weight is not None:
            nn.init.ones_(m.weight)
        if m.bias is not None:
            nn.init.zeros_(m.bias)


def build_blocks(dim: int, depth: int, heads: int, mlp_ratio: float = 4.0, qkv_bias: bool = True,
                 drop_path: float = 0.0, norm_eps: float = 1e-6) -> nn.ModuleList:
    """``depth`` timm ``Block``s with LayerNorm(eps) and linearly increasing drop-path up to ``drop_path``."""
    norm = partial(nn.LayerNorm, eps=norm_eps)
    dpr = [drop_path * i / (depth - 1) for i in range(depth)] if depth > 1 else [drop_path] * depth
    return nn.ModuleList([
        Block(dim, heads, mlp_ratio=mlp_ratio, qkv_bias=qkv_bias, drop_path=dpr[i], norm_layer=norm)
        for i in range(depth)
    ])


def _as_mask(mask: Mask | torch.Tensor | None) -> Mask | None:
    if mask is None or isinstance(mask, Mask):
        return mask
    return mask_from_bool(mask)


class ViTEncoder(nn.Module):
    """ViT encoder over an image, a video or a spectrogram.

    Args:
        modality: ``"image"`` (input ``(B, C, H, W)``), ``"video"`` (``(B, C, T, H, W)``) or ``"audio"``
            (fbank ``(B, T_frames, n_mels)``).
        input_size: ``(H, W)``, ``(T, H, W)`` or ``(T_frames, n_mels)``.
        patch_size: spatial patch (int or pair; audio: ``(p_time, p_freq)``).
        tubelet: temporal patch size of video.
        pos_embed: a :class:`maskedav.pos_embed.PosEmbed` kind (``"sincos"`` = 2-D for images / audio,
            3-D (MVD) for video; ``"sinusoid"`` = VideoMAE 1-D; ``"learned"``; ``"learned_separable"``).
        cls_token: prepend a learned cls token (MAE, XKD); ``num_prefix_tokens`` is then 1.
        final_norm: apply the final LayerNorm in :meth:`forward`.
        spec_layout: ``"tf"`` or ``"ft"`` token order for spectrograms (see ``SpectrogramPatchEmbed``).
    """

    def __init__(self, modality: str = "video", input_size: Sequence[int] = (16, 224, 224),
                 patch_size: int | Sequence[int] = 16, tubelet: int = 2, in_chans: int = 3,
                 dim: int = 768, depth: int = 12, heads: int = 12, mlp_ratio: float = 4.0,
                 qkv_bias: bool = True, pos_embed: str = "sincos", cls_token: bool = False,
                 final_norm: bool = True, drop_path: float = 0.0, norm_eps: float = 1e-6,
                 spec_layout: str = "tf"):
        super().__init__()
        self.modality, self.dim, self.depth, self.heads = modality, dim, depth, heads
        if modality == "video":
            self.patch_embed = TubeletEmbed(input_size, patch_size, tubelet, in_chans, dim)
        elif modality == "image":
            self.patch_embed = ImagePatchEmbed(input_size, patch_size, in_chans, dim)
        elif modality == "audio":
            self.patch_embed = SpectrogramPatchEmbed(input_size, patch_size, dim, layout=spec_layout)
        else:
            raise ValueError(f"modality must be image, video or audio, got {modality!r}")
        self.grid_size = tuple(self.patch_embed.grid_size)
        self.num_patches = math.prod(self.grid_size)
        self.pos_embed = PosEmbed(pos_embed, dim, self.grid_size, cls_token=cls_token)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim)) if cls_token else None
        self.num_prefix_tokens = int(cls_token)
        self.blocks = build_blocks(dim, depth, heads, mlp_ratio, qkv_bias, drop_path, norm_eps)
        self.norm = nn.LayerNorm(dim, eps=norm_eps) if final_norm else nn.Identity()
        self.blocks.apply(init_mae_weights)
        self.norm.apply(init_mae_weights)
        if self.cls_token is not None:
            nn.init.normal_(self.cls_token, std=0.02)     # MAE: normal(0.02)

    @classmethod
    def from_config(cls, cfg, **overrides) -> "ViTEncoder":
        """Build from a :class:`maskedav.configs.ViTConfig` (``overrides`` replace keyword arguments)."""
        return cls(**{**cfg.encoder_kwargs(), **overrides})

    @property
    def patch_dim(self) -> int:
        """Pixel values per token (``pt·ph·pw·C``): the size of a pixel-reconstruction target."""
        return self.patch_embed.patch_dim

    # ------------------------------------------------------------------------------- tokens
    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """Patch embedding + positional embedding of **all** tokens, ``(B, N, D)``."""
        return self.patch_embed(x) + self.pos_embed().to(x.dtype)

    def prepare_tokens(self, x: torch.Tensor, mask: Mask | torch.Tensor | None = None) -> torch.Tensor:
        """Embedded visible tokens with the cls token prepended: the input of the first block."""
        tokens = self.embed(x)
        mask = _as_mask(mask)
        if mask is not None:
            tokens = apply_mask(tokens, mask)
        if self.cls_token is not None:
            cls = self.cls_token
            prefix = self.pos_embed.prefix()
            if prefix is not None:
                cls = cls + prefix
            tokens = torch.cat([cls.expand(tokens.shape[0], -1, -1).to(tokens.dtype), tokens], dim=1)
        return tokens

    def forward(self, x: torch.Tensor, mask: Mask | torch.Tensor | None = None) -> torch.Tensor:
        """Encoded tokens ``(B, prefix + N_visible, D)`` after the final norm; only visible tokens run."""
        tokens = self.prepare_tokens(x, mask)
        for blk in self.blocks:
            tokens = blk(tokens)
        return self.norm(tokens)

    def _layer_index(self, layer: int) -> int:
        idx = layer + self.depth if layer < 0 else layer
        if not 0 <= idx < self.depth:
            raise IndexError(f"layer {layer} out of range for depth {self.depth}")
        return idx

    def forward_features(self, x: torch.Tensor, mask: Mask | torch.Tensor | None = None,
                         layers: Sequence[int] | None = None) -> list[torch.Tensor]:
        """Outputs of the requested blocks (**before** the final norm), in the order asked.

        ``layers`` are block indices (negative counts from the end); default ``(-1,)`` = the last block,
        MVD's teacher target. Blocks after the deepest requested one are not run.
        """
        idx = [self._layer_index(i) for i in (layers if layers is not None else (-1,))]
        taps: dict[int, torch.Tensor] = {}
        tokens = self.prepare_tokens(x, mask)
        for i, blk in enumerate(self.blocks[: max(idx) + 1]):
            tokens = blk(tokens)
            if i in idx:
                taps[i] = tokens
        return [taps[i] for i in idx]

    @torch.no_grad()
    def attention_maps(self, x: torch.Tensor, layer: int = -1, head: int | None = None,
                       mask: Mask | torch.Tensor | None = None) -> torch.Tensor:
        """Softmax attention of block ``layer``: ``(B, H, L, L)`` (``(B, L, L)`` for one ``head``), with
        ``L = prefix + N_visible``; rows (queries) sum to 1. Recomputed from the block's own ``qkv``,
        ``q_norm``/``k_norm`` and scale, so it matches what the fused kernel computes."""
        li = self._layer_index(layer)
        tokens = self.prepare_tokens(x, mask)
        for blk in self.blocks[:li]:
            tokens = blk(tokens)
        attn = self.blocks[li].attn
        y = self.blocks[li].norm1(tokens)
        B, L, _ = y.shape
        qkv = attn.qkv(y).reshape(B, L, 3, attn.num_heads, attn.head_dim).permute(2, 0, 3, 1, 4)
        q, k = attn.q_norm(qkv[0]), attn.k_norm(qkv[1])
        maps = ((q * attn.scale) @ k.transpose(-2, -1)).softmax(dim=-1)
        return maps if head is None else maps[:, head]
