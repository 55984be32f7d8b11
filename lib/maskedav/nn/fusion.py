"""Cross-modal attention block (AV-MaskEnhancer Eq. 6; TalkNet ``attentionLayer``).

Query tokens of one modality attend to key / value tokens of another:
``T_{a→v} = softmax(Q_a K_vᵀ / √d) V_v`` — the output has the **query's** length (spec §2.3).

Default ``norm="pre"`` (as the ViT blocks): ``q = q + Attn(LN(q), LN(kv)); q = q + MLP(LN(q))``.
``norm="post"`` is TalkNet's post-LN form with the residual on the query stream (spec §2.3 recommended
fix): ``q = LN(q + Attn(q, kv)); q = LN(q + FFN(q))`` (use ``act=nn.ReLU``, ``drop=0.1`` for TalkNet).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from timm.layers import Mlp

from maskedav.nn.vit import init_mae_weights

__all__ = ["CrossAttention", "CrossAttentionBlock"]


class CrossAttention(nn.Module):
    """Multi-head attention with queries from ``x`` and keys / values from ``context``."""

    def __init__(self, dim: int, heads: int = 8, context_dim: int | None = None, qkv_bias: bool = True,
                 attn_drop: float = 0.0, proj_drop: float = 0.0):
        super().__init__()
        if dim % heads:
            raise ValueError("dim must be divisible by heads")
        context_dim = context_dim or dim
        self.heads, self.head_dim = heads, dim // heads
        self.scale = self.head_dim ** -0.5
        self.q = nn.Linear(dim, dim, bias=qkv_bias)
        self.kv = nn.Linear(context_dim, 2 * dim, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim)
        self.attn_drop, self.proj_drop = attn_drop, nn.Dropout(proj_drop)

    def _qkv(self, x, context):
        B, Nq, D = x.shape
        q = self.q(x).reshape(B, Nq, self.heads, self.head_dim).transpose(1, 2)
        kv = self.kv(context).reshape(B, context.shape[1], 2, self.heads, self.head_dim).permute(2, 0, 3, 1, 4)
        return q, kv[0], kv[1]

    def forward(self, x: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        q, k, v = self._qkv(x, context)
        out = F.scaled_dot_product_attention(q, k, v, dropout_p=self.attn_drop if self.training else 0.0)
        out = out.transpose(1, 2).reshape(x.shape)
        return self.proj_drop(self.proj(out))

    @torch.no_grad()
    def attention_weights(self, x: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        """``(B, heads, N_query, N_context)`` softmax weights (rows sum to 1)."""
        q, k, _ = self._qkv(x, context)
        return ((q * self.scale) @ k.transpose(-2, -1)).softmax(dim=-1)


class CrossAttentionBlock(nn.Module):
    """Residual cross-attention + MLP block on the query stream (AV-MaskEnhancer's A→V / V→A modules).

    ``forward(x, context) -> (B, N_x, dim)``; ``context`` may have another width (``context_dim``) and
    another length.
    """

    def __init__(self, dim: int, heads: int = 8, context_dim: int | None = None, mlp_ratio: float = 4.0,
                 qkv_bias: bool = True, drop: float = 0.0, norm: str = "pre", act: type[nn.Module] = nn.GELU,
                 norm_eps: float = 1e-6):
        super().__init__()
        if norm not in ("pre", "post"):
            raise ValueError("norm must be 'pre' or 'post'")
        self.pre = norm == "pre"
        context_dim = context_dim or dim
        self.norm_q = nn.LayerNorm(dim, eps=norm_eps)
        self.norm_kv = nn.LayerNorm(context_dim, eps=norm_eps) if self.pre else nn.Identity()
        self.attn = CrossAttention(dim, heads, context_dim, qkv_bias, attn_drop=drop if not self.pre else 0.0,
                                   proj_drop=drop)
        self.norm2 = nn.LayerNorm(dim, eps=norm_eps)
        self.mlp = Mlp(dim, int(dim * mlp_ratio), act_layer=act, drop=drop)
        self.apply(init_mae_weights)

    def forward(self, x: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        if self.pre:
            x = x + self.attn(self.norm_q(x), self.norm_kv(context))
            return x + self.mlp(self.norm2(x))
        x = self.norm_q(x + self.attn(x, context))
        return self.norm2(x + self.mlp(x))

    def attention_weights(self, x: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        """The block's attention weights ``(B, heads, N_x, N_context)``."""
        if self.pre:
            return self.attn.attention_weights(self.norm_q(x), self.norm_kv(context))
        return self.attn.attention_weights(x, context)
