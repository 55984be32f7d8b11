"""Heads on top of encoder tokens: classifier, XKD / DINO projector, linear heads.

* :class:`ClassifierHead` — VideoMAE fine-tune head (``use_mean_pooling``: mean over patch tokens →
  ``fc_norm`` LayerNorm → dropout → Linear, weights × ``init_scale``) or MAE's cls-token head.
* :class:`ProjectorMLP` — XKD ``DINOHead`` (spec §2.4, config ``2048-gelu-3-256-8192-norm3``):
  ``n_layers`` Linear layers (LayerNorm + GELU between), L2-normalised bottleneck, weight-normalised
  last Linear with its norm fixed to 1 (``norm_last_layer=True``), optional non-affine LayerNorm on the
  output. ``norm`` ∈ ``{"all", "last", "none"}`` is XKD Table 10's ablation.
* :class:`LinearHead` — Linear with an optional LayerNorm (CAV-MAE fine-tune ``LN → Linear``) or a
  non-affine BatchNorm (MAE linear probing) in front.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from timm.layers import trunc_normal_

__all__ = ["pool_tokens", "ClassifierHead", "ProjectorMLP", "LinearHead"]


def pool_tokens(tokens: torch.Tensor, pool: str = "mean", num_prefix_tokens: int = 0) -> torch.Tensor:
    """``(B, L, D)`` → ``(B, D)``: mean over the patch tokens (prefix tokens excluded) or the cls token."""
    if pool == "mean":
        return tokens[:, num_prefix_tokens:].mean(dim=1)
    if pool == "cls":
        if num_prefix_tokens < 1:
            raise ValueError("cls pooling needs a cls token")
        return tokens[:, 0]
    raise ValueError("pool must be 'mean' or 'cls'")


class ClassifierHead(nn.Module):
    """Pool → (fc_norm) → dropout → Linear (VideoMAE ``VisionTransformer`` head; MAE fine-tune head).

    ``init_scale`` multiplies the trunc-normal(0.02) weights and zero bias after init (VideoMAE 0.001).
    """

    def __init__(self, dim: int, num_classes: int, pool: str = "mean", fc_norm: bool = True,
                 dropout: float = 0.0, num_prefix_tokens: int = 0, init_scale: float = 1.0,
                 norm_eps: float = 1e-6):
        super().__init__()
        self.pool, self.num_prefix_tokens = pool, num_prefix_tokens
        self.fc_norm = nn.LayerNorm(dim, eps=norm_eps) if fc_norm else nn.Identity()
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(dim, num_classes)
        trunc_normal_(self.fc.weight, std=0.02)
        nn.init.zeros_(self.fc.bias)
        with torch.no_grad():
            self.fc.weight.mul_(init_scale)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        x = pool_tokens(tokens, self.pool, self.num_prefix_tokens)
        return self.fc(self.dropout(self.fc_norm(x)))


class ProjectorMLP(nn.Module):
    """XKD / DINO projector: ``in → hidden (→ hidden)* → bottleneck → L2 → out``.

    Args:
        num_layers: Linear layers before the last (weight-normed) one; 1 maps ``in → bottleneck``.
        norm: ``"all"`` (LayerNorm after every hidden Linear + non-affine output LayerNorm; XKD default),
            ``"last"`` (output LayerNorm only), ``"none"`` (DINO's default; collapses in XKD, Table 10).
        norm_last_layer: fix the weight-norm gain ``g`` to 1 (XKD/DINO ``norm_last_layer=True``); else ``g``
            is a learned per-output scale initialised to 1.
    """

    def __init__(self, in_dim: int, out_dim: int = 8192, hidden_dim: int = 2048, bottleneck_dim: int = 256,
                 num_layers: int = 3, norm: str = "all", norm_last_layer: bool = True):
        super().__init__()
        if norm not in ("all", "last", "none"):
            raise ValueError("norm must be 'all', 'last' or 'none'")
        if num_layers < 1:
            raise ValueError("num_layers must be >= 1")
        layers: list[nn.Module] = []
        d = in_dim
        for _ in range(num_layers - 1):
            layers.append(nn.Linear(d, hidden_dim))
            if norm == "all":
                layers.append(nn.LayerNorm(hidden_dim))
            layers.append(nn.GELU())
            d = hidden_dim
        layers.append(nn.Linear(d, bottleneck_dim))
        self.mlp = nn.Sequential(*layers)
        for m in self.mlp:
            if isinstance(m, nn.Linear):
                trunc_normal_(m.weight, std=0.02)
                nn.init.zeros_(m.bias)
        # weight_norm(Linear(bottleneck, out, bias=False)): W = g · v / ||v||_row
        self.last_v = nn.Parameter(torch.empty(out_dim, bottleneck_dim))
        trunc_normal_(self.last_v, std=0.02)
        self.last_g = None if norm_last_layer else nn.Parameter(torch.ones(out_dim, 1))
        self.out_norm = nn.LayerNorm(out_dim, elementwise_affine=False) if norm != "none" else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.normalize(self.mlp(x), dim=-1)
        w = F.normalize(self.last_v, dim=1)
        if self.last_g is not None:
            w = w * self.last_g
        return self.out_norm(F.linear(x, w))


class LinearHead(nn.Module):
    """``norm → Linear``: ``norm`` ∈ ``{None, "ln", "bn"}`` (``"bn"`` = non-affine BatchNorm1d, MAE linprobe)."""

    def __init__(self, in_dim: int, out_dim: int, norm: str | None = None, bias: bool = True):
        super().__init__()
        if norm is None:
            self.norm = nn.Identity()
        elif norm == "ln":
            self.norm = nn.LayerNorm(in_dim)
        elif norm == "bn":
            self.norm = nn.BatchNorm1d(in_dim, affine=False, eps=1e-6)
        else:
            raise ValueError("norm must be None, 'ln' or 'bn'")
        self.fc = nn.Linear(in_dim, out_dim, bias=bias)
        trunc_normal_(self.fc.weight, std=0.02)
        if bias:
            nn.init.zeros_(self.fc.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.norm(x))
