"""Optimiser pieces shared by pre-training and fine-tuning.

* :func:`param_groups` — AdamW groups: weight decay on weight matrices only; none on 1-D
  parameters (biases, norms), ``pos_embed``, ``cls_token`` and mask tokens (MAE / VideoMAE recipe).
  Built with ``timm.optim.param_groups_weight_decay``.
* :func:`layer_decay_param_groups` — layer-wise lr decay for fine-tuning a ViT (BEiT / MAE
  fine-tuning recipe, ``lr_scale = decay ** (num_layers - layer_id)``), built with
  ``timm.optim.param_groups_layer_decay``. Models that define timm's ``group_matcher`` use it (timm
  ViTs put the final norm with the last block); for any other model with one ``blocks`` module list
  the layer ids are MAE's ``get_layer_id_for_vit``: stem (parameters of the block owner and its
  children registered before ``blocks``) 0, block ``i`` -> ``i + 1``, everything else (final norm,
  head) ``depth + 1``.
* :func:`cosine_lr` — the learning rate at a step: linear warm-up then half-cosine decay. A tiny
  explicit function (not timm's scheduler object) so that the schedule is a pure function of the
  step: resuming at step ``k`` needs no scheduler state, and tests check it by hand.
"""
from __future__ import annotations

import math
from typing import Iterable

import torch
from torch import nn
from timm.optim import param_groups_layer_decay as _timm_layer_decay
from timm.optim import param_groups_weight_decay as _timm_weight_decay

# Parameter names (``fnmatch`` patterns on the full name) that never get weight decay.
NO_WEIGHT_DECAY = ("*pos_embed*", "*cls_token*", "*mask_token*", "*reg_token*", "*dist_token*",
                   "*_token")


def _no_decay_names(model: nn.Module, extra: Iterable[str] = ()) -> tuple[str, ...]:
    names = list(NO_WEIGHT_DECAY) + list(extra)
    if hasattr(model, "no_weight_decay"):  # timm convention: a set of parameter names
        names += list(model.no_weight_decay())
    return tuple(names)


def param_groups(model: nn.Module, weight_decay: float = 0.05,
                 no_weight_decay: Iterable[str] = ()) -> list[dict]:
    """AdamW parameter groups: ``[{no decay}, {decay}]`` over trainable parameters.

    No decay for 1-D parameters, ``*.bias``, and names matching :data:`NO_WEIGHT_DECAY`, the
    model's ``no_weight_decay()`` (timm) and ``no_weight_decay``. Every group carries
    ``lr_scale = 1.0`` so that :func:`set_lr` treats them like layer-decay groups.
    """
    groups = _timm_weight_decay(model, weight_decay=weight_decay,
                                no_weight_decay_list=_no_decay_names(model, no_weight_decay))
    for g in groups:
        g.setdefault("lr_scale", 1.0)
    return groups


def find_blocks(model: nn.Module) -> str:
    """The dotted name of the model's only ``blocks`` ModuleList / Sequential (e.g. ``encoder.blocks``)."""
    found = [name for name, m in model.named_modules()
             if isinstance(m, (nn.ModuleList, nn.Sequential)) and name.split(".")[-1] == "blocks"]
    if len(found) != 1:
        raise ValueError(f"layer decay needs exactly one `blocks` module list, found {found}; "
                         "give the model a timm-style group_matcher() instead")
    return found[0]


def vit_layer_ids(model: nn.Module) -> dict[str, int]:
    """Layer id per parameter name for a ViT-like model (see module docstring)."""
    blocks = find_blocks(model)
    owner = blocks.rsplit(".", 1)[0] + "." if "." in blocks else ""
    depth = len(model.get_submodule(blocks))
    stem_prefixes = []  # children of the block owner registered before `blocks`
    owner_module = model.get_submodule(owner[:-1]) if owner else model
    for name, _ in owner_module.named_children():
        if name == "blocks":
            break
        stem_prefixes.append(owner + name + ".")
    ids = {}
    for name, _ in model.named_parameters():
        if name.startswith(blocks + "."):
            ids[name] = int(name[len(blocks) + 1:].split(".")[0]) + 1
        elif name.startswith(owner) and ("." not in name[len(owner):]
                                         or any(name.startswith(p) for p in stem_prefixes)):
            # direct parameters of the owner (pos_embed, cls_token, mask_token) and earlier children
            ids[name] = 0
        else:
            ids[name] = depth + 1
    return ids


class _WithGroupMatcher:
    """Duck-typed view of a model that gives timm's layer-decay helper a ``group_matcher``."""

    def __init__(self, model: nn.Module, layer_ids: dict[str, int]):
        self._model, self._ids = model, layer_ids

    def named_parameters(self, *args, **kwargs):
        return self._model.named_parameters(*args, **kwargs)

    def group_matcher(self, coarse: bool = False):
        return lambda name: self._ids[name]


def layer_decay_param_groups(model: nn.Module, weight_decay: float = 0.05,
                             layer_decay: float = 0.75,
                             no_weight_decay: Iterable[str] = ()) -> list[dict]:
    """Parameter groups with ``lr_scale = layer_decay ** (L - layer_id)`` and the no-decay rule.

    ``L`` is the largest layer id (the head gets scale 1, the stem ``layer_decay ** L``).
    """
    view = model if hasattr(model, "group_matcher") else _WithGroupMatcher(model, vit_layer_ids(model))
    return _timm_layer_decay(view, weight_decay=weight_decay, layer_decay=layer_decay,
                             no_weight_decay_list=_no_decay_names(model, no_weight_decay))


def make_optimizer(groups: list[dict], lr: float, betas=(0.9, 0.95), eps: float = 1e-8) -> torch.optim.AdamW:
    """AdamW over ``groups``; each group's lr is later set to ``lr * lr_scale`` by :func:`set_lr`."""
    for g in groups:
        g.setdefault("lr_scale", 1.0)
        g["lr"] = lr * g["lr_scale"]
    return torch.optim.AdamW(groups, lr=lr, betas=tuple(betas), eps=eps)


def cosine_lr(step: int, base_lr: float, total_steps: int, warmup_steps: int = 0,
              min_lr: float = 0.0) -> float:
    """Learning rate used for (0-based) optimisation step ``step``.

    Warm-up: ``base_lr * (step + 1) / warmup_steps`` for ``step < warmup_steps`` (the first step
    already moves). Then ``min_lr + (base_lr - min_lr) * (1 + cos(pi * p)) / 2`` with
    ``p = (step - warmup_steps) / (total_steps - warmup_steps)``, i.e. ``base_lr`` right after the
    warm-up, decaying towards ``min_lr`` (MAE's per-iteration ``adjust_learning_rate``).
    """
    if step < warmup_steps:
        return base_lr * (step + 1) / warmup_steps
    decay_steps = max(1, total_steps - warmup_steps)
    progress = min(1.0, (step - warmup_steps) / decay_steps)
    return min_lr + (base_lr - min_lr) * 0.5 * (1.0 + math.cos(math.pi * progress))


def set_lr(optimizer: torch.optim.Optimizer, lr: float) -> None:
    """Set every group's lr to ``lr * group['lr_scale']``."""
    for g in optimizer.param_groups:
        g["lr"] = lr * g.get("lr_scale", 1.0)
