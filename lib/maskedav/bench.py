"""Paper-scale training close to the hardware: the performance targets, each against a reference-style
configuration of the same model timed in the same run.

Workloads (:data:`WORKLOADS`), at the papers' sizes on a GPU (at a small profile elsewhere: the code path):
VideoMAE ViT-B pre-training (16 × 224², 90 % tube mask), ViT-B fine-tuning on all 1,568 tokens of a
16 × 224² clip (VideoMAE's encoder, mean pooling, a 400-way linear head) and AudioMAE ViT-B pre-training
(1024 × 128 fbank, 80 %). Targets on one H100 / H200 (clips per second): 1,500 (never below 1,000), 250
and 2,000, each at least :data:`SPEEDUP_TARGET` times its reference.

Two configurations per workload:

* **reference-style** — as the reference repositories run: fp32, eager, explicit attention
  ``softmax(q·kᵀ)·v`` (timm's ``fused_attn`` off), PyTorch's default AdamW, batch 32 (or the largest of
  :data:`REFERENCE_BATCHES` that fits);
* **fast** — bf16 autocast (CUDA), ``scaled_dot_product_attention`` (PyTorch picks flash / cuDNN /
  efficient), fused AdamW, the batch of :data:`FAST_BATCHES` with the most clips per second, and
  ``torch.compile`` when it compiles within ``compile_timeout_s`` and is faster (else eager, noted).

Each row: clips/s (median step), the FLOPs of one training step per clip (forward and backward counted by
``FlopCounterMode``: matmuls, convolutions, attention; 2 per multiply-accumulate), achieved TFLOP/s, model-
FLOPs utilisation against the dense matmul peak measured on the same device in the same run
(:func:`matmul_peak`) and peak memory. :func:`compile_numerics` checks the compiled path against eager
within :data:`COMPILE_TOLERANCE`.
"""
from __future__ import annotations

import math
import time
from typing import Sequence

import numpy as np
import torch

from maskedav.eval.finetune import FinetuneModel
from maskedav.perf import (PAPER_METHODS, _deadline, _synchronize, build_method, dummy_batch, step_times,
                           training_numerics)

__all__ = ["WORKLOADS", "SMALL_LABELS", "SPEEDUP_TARGET", "REFERENCE_BATCHES", "FAST_BATCHES", "COMPILE_TOLERANCE",
           "matmul_peak", "build_workload", "train_flops", "reference_style", "time_config", "targets",
           "compile_numerics"]

_VIDEOMAE = PAPER_METHODS["VideoMAE ViT-B (16×224², 90 % tube)"]
_AUDIOMAE = PAPER_METHODS["AudioMAE ViT-B (1024×128 fbank, 80 %)"]

#: label -> (kind, method spec of :data:`maskedav.perf.PAPER_METHODS`, target clips/s, floor clips/s).
WORKLOADS: dict[str, tuple[str, tuple, float, float | None]] = {
    "VideoMAE ViT-B pre-training (16×224², 90 % tube)": ("pretrain", _VIDEOMAE, 1500.0, 1000.0),
    "ViT-B fine-tuning (16×224², 1,568 tokens)": ("finetune", _VIDEOMAE, 250.0, None),
    "AudioMAE ViT-B pre-training (1024×128 fbank, 80 %)": ("pretrain", _AUDIOMAE, 2000.0, None),
}
#: What a workload is called when it runs at a small profile's sizes (the code path, not the target).
SMALL_LABELS = {label: f"{name} (the profile's small size)" for label, name in zip(
    WORKLOADS, ("VideoMAE pre-training", "ViT fine-tuning on every token", "AudioMAE pre-training"))}
SPEEDUP_TARGET = 3.0
REFERENCE_BATCHES = (32, 16, 8)
FAST_BATCHES = (64, 128, 256)
#: Largest relative loss gap allowed between compiled and eager training over the same steps and batches,
#: per precision (fixed before any run: fp32 differs only by kernel choice and reassociation; bf16 autocast
#: rounds every matmul input to 8 bits of mantissa, and the compiled graph fuses differently).
COMPILE_TOLERANCE = {"fp32": 1e-3, "bf16": 3e-2}


def matmul_peak(device=None, dtype=None, n: int = 8192, reps: int = 20) -> float:
    """Dense matmul FLOP/s measured on ``device``: the median of ``reps`` ``n × n`` products (``2·n³`` FLOPs
    each) in ``dtype`` (bf16 on CUDA, fp32 elsewhere) after a warm-up — the MFU denominator."""
    device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    dtype = dtype or (torch.bfloat16 if device.type == "cuda" else torch.float32)
    a, b = (torch.randn(n, n, device=device, dtype=dtype) for _ in range(2))
    times = []
    for i in range(reps + 3):
        _synchronize(device)
        t0 = time.perf_counter()
        a @ b
        _synchronize(device)
        if i >= 3:
            times.append(time.perf_counter() - t0)
    return 2 * n ** 3 / float(np.median(times))


def build_workload(label: str, small_profile=None) -> torch.nn.Module:
    """The model of workload ``label`` (paper size; ``small_profile``: that profile's size), from
    ``torch.manual_seed(0)``."""
    kind, spec, _, _ = WORKLOADS[label]
    torch.manual_seed(0)
    method = build_method(*spec, small_profile=small_profile)
    if kind == "finetune":
        return FinetuneModel(method.encoder, method.encoder.dim, 400, pool="mean", input_key="video")
    return method


def workload_batch(model: torch.nn.Module, batch_size: int, seed: int = 0) -> dict:
    """Random inputs of ``model``'s shapes (:func:`~maskedav.perf.dummy_batch`), with labels for fine-tuning."""
    if isinstance(model, FinetuneModel):
        g = torch.Generator().manual_seed(seed)
        size = model.encoder.patch_embed.video_size
        return {"video": torch.rand(batch_size, 3, *size, generator=g),
                "label": torch.randint(0, model.head.out_features, (batch_size,), generator=g)}
    return dummy_batch(model, batch_size, seed)


def reference_style(model: torch.nn.Module) -> int:
    """Switch every timm attention of ``model`` to the explicit ``softmax(q·kᵀ)·v`` (the reference
    repositories' attention); returns how many were switched."""
    n = 0
    for m in model.modules():
        if hasattr(m, "fused_attn"):
            m.fused_attn = False
            n += 1
    return n


def train_flops(model: torch.nn.Module, batch: dict, device=None, precision: str = "fp32") -> int:
    """FLOPs of one training step's forward and backward on ``batch`` (``FlopCounterMode``, with the CPU
    attention kernel's formula of :mod:`maskedav.counting`); the optimiser's element-wise update is not
    counted. Gradients are left on the model (zero them before timing)."""
    from torch.utils.flop_counter import FlopCounterMode

    from maskedav.counting import _custom_mapping
    from maskedav.train import to_device
    from maskedav.train.engine import autocast

    device = torch.device(device) if device is not None else next(model.parameters()).device
    model.to(device).train()
    with FlopCounterMode(display=False, custom_mapping=_custom_mapping()) as counter:
        with autocast(device, precision):
            loss, _ = model(to_device(batch, device))
        loss.backward()
    model.zero_grad(set_to_none=True)
    return int(counter.get_total_flops())


def time_config(label: str, *, batch_size: int, precision: str, fused_adamw: bool, compiled: bool,
                reference: bool, device, steps: int, warmup: int, small_profile=None,
                compile_timeout_s: float = 240.0) -> dict:
    """One timed configuration of workload ``label``: a fresh model, ``warmup`` untimed steps (compiling
    when ``compiled``, within ``compile_timeout_s``), then ``steps`` timed ones. Returns ``batch, step_ms,
    clips_per_s, peak_mem_gib, warmup_s, note`` (NaN and the reason on out-of-memory or a failed compile)."""
    row = dict(batch=batch_size, step_ms=math.nan, clips_per_s=math.nan, peak_mem_gib=math.nan,
               warmup_s=math.nan, note="")
    model = build_workload(label, small_profile)
    if reference:
        reference_style(model)
    batch = workload_batch(model, batch_size)
    if device.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)
    try:
        run = model
        if compiled:
            torch._dynamo.reset()
            run = torch.compile(model)
        t0 = time.perf_counter()
        with _deadline(compile_timeout_s if compiled else None):
            step_times(run, lambda i: batch, precision=precision, steps=0, warmup=warmup, device=device,
                       fused_adamw=fused_adamw)
        row["warmup_s"] = time.perf_counter() - t0
        t = step_times(run, lambda i: batch, precision=precision, steps=steps, warmup=0, device=device,
                       fused_adamw=fused_adamw)
        med = float(np.median(t))
        row.update(step_ms=1e3 * med, clips_per_s=batch_size / med)
        if device.type == "cuda":
            row["peak_mem_gib"] = torch.cuda.max_memory_allocated(device) / 2 ** 30
    except torch.OutOfMemoryError:
        row["note"] = "out of memory"
    except Exception as err:                        # a compile that fails or runs over its time
        row["note"] = f"{type(err).__name__}: {str(err).splitlines()[0][:120] if str(err) else ''}"
    finally:
        del model
        if device.type == "cuda":
            torch.cuda.empty_cache()
    return row


def targets(device=None, *, small_profile=None, workloads: Sequence[str] | None = None, steps: int = 10,
            warmup: int = 3, reference_batches: Sequence[int] = REFERENCE_BATCHES,
            fast_batches: Sequence[int] = FAST_BATCHES, compile: bool = True,
            compile_timeout_s: float = 240.0, peak_n: int = 8192):
    """The targets' table: per workload a ``reference-style`` row and the ``fast`` rows tried (each batch of
    ``fast_batches`` eager, then the best of them compiled), the chosen fast row marked ``best``.

    Returns ``(frame, peak_flops)``. Columns: ``workload, config, precision, attention, adamw, compiled,
    batch, step_ms, clips_per_s, gflop_per_clip, tflops, mfu, peak_mem_gib, warmup_s, note, best`` and, on
    the best row, ``speedup`` (over the reference), ``target``, ``floor`` and ``met`` (clips/s at least the
    target and speed-up at least :data:`SPEEDUP_TARGET`; ``None`` off a GPU or at a small profile's sizes)."""
    import pandas as pd

    device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    on_gpu = device.type == "cuda"
    fast_precision = "bf16" if on_gpu else "fp32"
    peak = matmul_peak(device, n=peak_n)
    rows = []
    for label in workloads or WORKLOADS:
        kind, _, target, floor = WORKLOADS[label]
        model = build_workload(label, small_profile)
        flops = train_flops(model, workload_batch(model, 2), device) / 2      # per clip; any precision
        del model
        common = dict(device=device, steps=steps, warmup=warmup, small_profile=small_profile,
                      compile_timeout_s=compile_timeout_s)

        def row(config, precision, fused, compiled, reference, r):
            gf = flops / 1e9
            tf = r["clips_per_s"] * flops / 1e12
            return dict(workload=label if small_profile is None else SMALL_LABELS[label], config=config,
                        precision=precision, attention="explicit softmax(qkᵀ)v" if reference else "SDPA (fused)",
                        adamw="fused" if fused else "default", compiled=compiled, **r, gflop_per_clip=gf,
                        tflops=tf, mfu=tf * 1e12 / peak, best=False)

        ref = None
        for b in reference_batches:
            r = time_config(label, batch_size=b, precision="fp32", fused_adamw=False, compiled=False,
                            reference=True, **common)
            ref = row("reference-style", "fp32", False, False, True, r)
            if r["note"] != "out of memory":
                break
        rows.append(ref)
        fast = []
        for b in fast_batches:
            r = time_config(label, batch_size=b, precision=fast_precision, fused_adamw=True, compiled=False,
                            reference=False, **common)
            fast.append(row("fast", fast_precision, True, False, False, r))
            if r["note"] == "out of memory":
                break
        ok = [f for f in fast if math.isfinite(f["clips_per_s"])]
        best = max(ok, key=lambda f: f["clips_per_s"]) if ok else None
        if best is not None and compile:
            r = time_config(label, batch_size=best["batch"], precision=fast_precision, fused_adamw=True,
                            compiled=True, reference=False, **common)
            compiled = row("fast", fast_precision, True, True, False, r)
            fast.append(compiled)
            if math.isfinite(compiled["clips_per_s"]) and compiled["clips_per_s"] > best["clips_per_s"]:
                best = compiled
        if best is not None:
            speedup = best["clips_per_s"] / ref["clips_per_s"]
            decided = on_gpu and small_profile is None                  # the targets are for a GPU, paper sizes
            best.update(best=True, speedup=speedup, target=target, floor=floor,
                        met=bool(best["clips_per_s"] >= target and speedup >= SPEEDUP_TARGET) if decided else None)
        rows += fast
    torch._dynamo.reset()
    return pd.DataFrame(rows), peak


def compile_numerics(label: str = "VideoMAE ViT-B pre-training (16×224², 90 % tube)", *, precision: str = "fp32",
                     small_profile=None, batch_size: int = 4, steps: int = 5, device=None) -> dict:
    """Compiled against eager training of one workload from the same weights on the same batches and masks
    (:func:`~maskedav.perf.training_numerics` with ``variants`` eager / compiled): the largest relative loss
    gap over ``steps`` steps, the first step's gradient cosine and whether the gap is within
    :data:`COMPILE_TOLERANCE` for ``precision``."""
    kind, spec, _, _ = WORKLOADS[label]
    if kind != "pretrain":
        raise ValueError("compile_numerics runs a pre-training workload")
    rows, cos = training_numerics(spec, small_profile=small_profile, batch_size=batch_size, steps=steps,
                                  device=device, variants=((precision, False), (precision, True)))
    gap = max(r["rel_gap"] for r in rows)
    torch._dynamo.reset()
    return dict(workload=label if small_profile is None else SMALL_LABELS[label], precision=precision,
                steps=steps, max_rel_gap=gap, grad_cosine=cos,
                tolerance=COMPILE_TOLERANCE[precision], within=bool(gap <= COMPILE_TOLERANCE[precision]))
