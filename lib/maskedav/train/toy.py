"""The smallest method with the shared interface, for the engine's checks and tests.

``ToyMethod`` is a masked-token autoencoder on random token sequences: a ViT-shaped encoder
(``patch_embed``, ``cls_token``, ``pos_embed``, ``blocks``, ``norm``) and a linear head that
reconstructs the masked input tokens. Its randomness exercises every RNG the engine must restore:
dropout (torch's global generator) and masking from its own ``torch.Generator``.
"""
from __future__ import annotations

import torch
from torch import nn


class ToyBlock(nn.Module):
    def __init__(self, dim: int, dropout: float = 0.0):
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, 2 * dim), nn.GELU(), nn.Dropout(dropout),
                                 nn.Linear(2 * dim, dim))

    def forward(self, x):
        return x + self.mlp(self.norm(x))


class ToyEncoder(nn.Module):
    """Tokens ``(B, N, in_dim)`` -> ``(B, 1 + N, dim)`` (class token first)."""

    def __init__(self, in_dim: int = 8, tokens: int = 4, dim: int = 16, depth: int = 2,
                 dropout: float = 0.0):
        super().__init__()
        self.patch_embed = nn.Linear(in_dim, dim)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos_embed = nn.Parameter(0.02 * torch.randn(1, 1 + tokens, dim))
        self.blocks = nn.ModuleList(ToyBlock(dim, dropout) for _ in range(depth))
        self.norm = nn.LayerNorm(dim)
        self.dim = dim

    def forward(self, x):
        x = self.patch_embed(x)
        x = torch.cat([self.cls_token.expand(len(x), -1, -1), x], dim=1) + self.pos_embed
        for block in self.blocks:
            x = block(x)
        return self.norm(x)


class ToyMethod(nn.Module):
    """``forward(batch) -> (loss, logs)``: MSE on masked tokens of ``batch["x"]``."""

    def __init__(self, in_dim: int = 8, tokens: int = 4, dim: int = 16, depth: int = 2,
                 dropout: float = 0.0, mask_ratio: float = 0.0, seed: int = 0):
        super().__init__()
        self.encoder = ToyEncoder(in_dim, tokens, dim, depth, dropout)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, in_dim))
        self.head = nn.Linear(dim, in_dim)
        self.mask_ratio = mask_ratio
        self.generator = torch.Generator().manual_seed(seed)  # CPU masks, moved to the device

    def forward(self, batch):
        x = batch["x"]
        mask = (torch.rand(x.shape[:2], generator=self.generator) < self.mask_ratio).to(x.device)
        x_in = torch.where(mask[..., None], self.mask_token.expand_as(x), x)
        weight = mask.float() if self.mask_ratio > 0 else torch.ones_like(mask, dtype=torch.float)
        pred = self.head(self.encoder(x_in)[:, 1:])
        per_token = ((pred.float() - batch["x"]) ** 2).mean(-1)
        loss = (per_token * weight).sum() / weight.sum().clamp_min(1.0)
        return loss, {"loss_recon": loss.detach(), "mask_fraction": weight.mean()}


def toy_batch(step: int, batch_size: int = 8, tokens: int = 4, in_dim: int = 8,
              num_classes: int = 3, seed: int = 0) -> dict:
    """Batch ``step`` of a deterministic stream: ``x`` = class prototype + noise, ``label``."""
    protos = torch.randn(num_classes, in_dim, generator=torch.Generator().manual_seed(seed))
    g = torch.Generator().manual_seed(seed * 1_000_003 + step + 1)
    label = torch.randint(num_classes, (batch_size,), generator=g)
    x = protos[label][:, None, :] + 0.5 * torch.randn(batch_size, tokens, in_dim, generator=g)
    return {"x": x, "label": label}
