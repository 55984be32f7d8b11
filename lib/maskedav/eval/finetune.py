"""Short end-to-end fine-tuning of a pre-trained encoder with a linear head.

``FinetuneModel`` (encoder + pooled linear head, cross-entropy with label smoothing) has the shared
method interface, so it trains with :func:`maskedav.train.train`; its parameter groups use layer-wise
lr decay (:func:`maskedav.train.layer_decay_param_groups`, BEiT / MAE fine-tuning) when
``layer_decay`` is set. The head starts from ``trunc_normal(std=2e-5)`` weights (MAE). The
pre-trained encoder is deep-copied, never changed. Accuracy is in percent.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Callable, Iterable

import torch
import torch.nn.functional as F
from timm.layers import trunc_normal_
from torch import nn

from ..train.engine import TrainConfig, TrainResult, as_batch_fn, autocast, to_device, train
from ..train.optim import layer_decay_param_groups, param_groups
from .features import encode, pool_tokens


class FinetuneModel(nn.Module):
    """``encoder`` -> pooled features -> ``head``; ``forward(batch) -> (loss, logs)``."""

    def __init__(self, encoder: nn.Module, feature_dim: int, num_classes: int, pool="mean",
                 input_key: str = "video", forward_fn: Callable | None = None,
                 label_smoothing: float = 0.0):
        super().__init__()
        self.encoder = encoder
        self.head = nn.Linear(feature_dim, num_classes)
        trunc_normal_(self.head.weight, std=2e-5)
        nn.init.zeros_(self.head.bias)
        self.pool, self.input_key, self.forward_fn = pool, input_key, forward_fn
        self.label_smoothing = label_smoothing

    def logits(self, batch: dict) -> torch.Tensor:
        tokens = encode(self.encoder, batch, self.input_key, self.forward_fn)
        return self.head(pool_tokens(tokens, self.pool))

    def forward(self, batch: dict):
        logits = self.logits(batch)
        loss = F.cross_entropy(logits.float(), batch["label"], label_smoothing=self.label_smoothing)
        acc = (logits.argmax(1) == batch["label"]).float().mean()
        return loss, {"loss_ce": loss.detach(), "train_acc": acc}


@dataclass
class FinetuneResult:
    accuracy: float            # percent on the evaluation batches
    model: FinetuneModel
    train_result: TrainResult


@torch.no_grad()
def classification_accuracy(model: FinetuneModel, batches: Iterable[dict], device=None,
                            precision: str = "fp32") -> float:
    """Percent of correctly classified samples over ``batches`` (eval mode, restored afterwards)."""
    device = torch.device(device) if device is not None else next(model.parameters()).device
    was_training = model.training
    model.eval()
    correct = total = 0
    for batch in batches:
        batch = to_device(batch, device)
        with autocast(device, precision):
            pred = model.logits(batch).argmax(1)
        correct += (pred == batch["label"]).sum().item()
        total += len(pred)
    model.train(was_training)
    return 100.0 * correct / max(total, 1)


def finetune(encoder: nn.Module, train_batches, eval_batches: Iterable[dict], num_classes: int,
             cfg: TrainConfig, *, layer_decay: float | None = 0.75, pool="mean",
             input_key: str = "video", forward: Callable | None = None,
             label_smoothing: float = 0.1, device=None, log_dir=None) -> FinetuneResult:
    """Fine-tune a copy of ``encoder`` + a linear head for ``cfg.steps`` steps; test on ``eval_batches``.

    ``train_batches``: ``batch_fn(step)`` or a sequence of labelled batches (as for ``train``).
    ``layer_decay=None`` gives every parameter the same lr (e.g. encoders with several block stacks).
    """
    batch_fn = as_batch_fn(train_batches)
    encoder = copy.deepcopy(encoder)
    device = torch.device(device) if device is not None else next(encoder.parameters()).device
    encoder.to(device)
    with torch.no_grad():  # the feature size, from one batch
        was_training = encoder.training
        encoder.eval()
        dim = pool_tokens(encode(encoder, to_device(batch_fn(0), device), input_key, forward), pool).shape[-1]
        encoder.train(was_training)
    model = FinetuneModel(encoder, dim, num_classes, pool, input_key, forward, label_smoothing).to(device)
    groups = (layer_decay_param_groups(model, cfg.weight_decay, layer_decay) if layer_decay
              else param_groups(model, cfg.weight_decay))
    result = train(model, batch_fn, cfg, device=device, log_dir=log_dir, param_groups=groups,
                   desc="finetune")
    return FinetuneResult(classification_accuracy(model, eval_batches, device, cfg.precision), model, result)
