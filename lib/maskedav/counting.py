"""Parameter and FLOP counting, in the papers' units.

* :func:`count_parameters` — trainable parameters by default. Fixed sin-cos tables are buffers in this
  library (and in VideoMAE / MVD), so they are not counted; that is the counting MVD Table 3 uses
  (ViT-S: 22.0 M without the 0.6 M fixed table vs 22.6 M with it; see ``tests/test_model_zoo.py``).
* :func:`count_flops` — :class:`torch.utils.flop_counter.FlopCounterMode` counts matmul / conv /
  attention FLOPs (2 per multiply-accumulate; element-wise ops, LayerNorm, softmax, GELU are not
  counted). :class:`FlopCount` reports both ``flops`` and ``macs = flops / 2``. The papers' "GFLOPs"
  (fvcore convention) are **GMACs**: MVD's 180 "GFLOPs" for ViT-B on 16×224² is 180 G MACs.

CPU note: PyTorch's CPU flash-attention op (``_scaled_dot_product_flash_attention_for_cpu``) has no
formula in ``FlopCounterMode``, so it would count 0; :func:`count_flops` adds one (the same
``4·B·H·N_q·N_k·d`` as for the CUDA kernels). Counting on the ``meta`` device needs no memory or time:
build the model under ``with torch.device("meta"):`` and pass meta inputs.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode, sdpa_flop_count

__all__ = ["count_parameters", "count_flops", "FlopCount"]


def count_parameters(model: nn.Module, trainable_only: bool = True) -> int:
    """Number of parameters (only those with ``requires_grad`` unless ``trainable_only=False``);
    shared parameters are counted once."""
    seen, total = set(), 0
    for p in model.parameters():
        if id(p) in seen or (trainable_only and not p.requires_grad):
            continue
        seen.add(id(p))
        total += p.numel()
    return total


@dataclass(frozen=True)
class FlopCount:
    """FLOPs of one call: ``flops`` (2 per MAC) and ``macs`` (= flops / 2, the papers' "FLOPs")."""

    flops: int
    by_op: dict[str, int] = field(default_factory=dict)

    @property
    def macs(self) -> int:
        return self.flops // 2

    @property
    def gflops(self) -> float:
        return self.flops / 1e9

    @property
    def gmacs(self) -> float:
        return self.macs / 1e9

    def __str__(self) -> str:
        return f"{self.gmacs:.2f} GMACs (= {self.gflops:.2f} GFLOPs)"


def _cpu_sdpa_flop(query_shape, key_shape, value_shape, *args, out_shape=None, **kwargs) -> int:
    return sdpa_flop_count(query_shape, key_shape, value_shape)


def _custom_mapping() -> dict:
    aten = torch.ops.aten
    mapping = {}
    if hasattr(aten, "_scaled_dot_product_flash_attention_for_cpu"):
        mapping[aten._scaled_dot_product_flash_attention_for_cpu] = _cpu_sdpa_flop
    return mapping


def count_flops(model: nn.Module | Callable, *inputs, **kwargs) -> FlopCount:
    """FLOPs of ``model(*inputs, **kwargs)`` (forward only, run under ``torch.no_grad()``)."""
    with torch.no_grad(), FlopCounterMode(display=False, custom_mapping=_custom_mapping()) as counter:
        model(*inputs, **kwargs)
    by_op = {str(op): int(n) for op, n in counter.get_flop_counts()["Global"].items()}
    return FlopCount(int(counter.get_total_flops()), by_op)
