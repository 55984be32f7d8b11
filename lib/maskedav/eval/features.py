"""Frozen features for the probes: run an encoder over batches and pool its tokens."""
from __future__ import annotations

from typing import Callable, Iterable

import torch
from torch import nn

from ..train.engine import autocast, to_device

POOLS = ("mean", "mean_patch", "cls", "none")


def pool_tokens(tokens: torch.Tensor, pool: str | Callable = "mean") -> torch.Tensor:
    """``(B, N, D)`` tokens -> ``(B, D)``; 2-D inputs are returned as they are.

    ``mean``: mean of all tokens; ``mean_patch``: mean of tokens ``1:`` (skips a class token, MAE's
    ``global_pool``); ``cls``: token 0; ``none``: flatten ``(B, N * D)``; or a callable.
    """
    if callable(pool):
        return pool(tokens)
    if tokens.ndim == 2:
        return tokens
    if pool == "mean":
        return tokens.mean(1)
    if pool == "mean_patch":
        return tokens[:, 1:].mean(1)
    if pool == "cls":
        return tokens[:, 0]
    if pool == "none":
        return tokens.flatten(1)
    raise ValueError(f"pool must be one of {POOLS} or a callable, not {pool!r}")


def encode(encoder: nn.Module, batch: dict, input_key: str = "video",
           forward: Callable | None = None) -> torch.Tensor:
    """``forward(encoder, batch)`` if given, else ``encoder(batch[input_key])`` (first element of a tuple)."""
    out = forward(encoder, batch) if forward is not None else encoder(batch[input_key])
    return out[0] if isinstance(out, (tuple, list)) else out


@torch.no_grad()
def extract_features(encoder: nn.Module, batches: Iterable[dict], pool: str | Callable = "mean",
                     input_key: str = "video", forward: Callable | None = None, device=None,
                     precision: str = "fp32", label_key: str = "label"):
    """Pooled features of every batch, concatenated: ``(features (N, D) float32 CPU, labels or None)``.

    The encoder runs in eval mode (restored afterwards) without gradients.
    """
    device = torch.device(device) if device is not None else next(encoder.parameters()).device
    was_training = encoder.training
    encoder.eval()
    feats, labels = [], []
    try:
        for batch in batches:
            batch = to_device(batch, device)
            with autocast(device, precision):
                tokens = encode(encoder, batch, input_key, forward)
            feats.append(pool_tokens(tokens, pool).float().cpu())
            if label_key in batch:
                labels.append(torch.as_tensor(batch[label_key]).cpu())
    finally:
        encoder.train(was_training)
    return torch.cat(feats), (torch.cat(labels) if labels else None)
