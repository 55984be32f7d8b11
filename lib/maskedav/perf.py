"""Performance and numerics: training throughput of every method at the papers' sizes, and the error
of bf16 / fused attention against a float64 reference.

Nothing here is a paper's number: every row says the device, precision and attention kernel that
produced it. Three measurements, each a function returning table rows:

* :func:`attention_numerics` — ``scaled_dot_product_attention`` through each kernel PyTorch offers on
  the device (``flash``, ``efficient``, ``cudnn``, ``math``) in float32 and bfloat16, on the attention
  shapes of ViT-B (12 heads × 64 on 196 / 1568 tokens, MAE / VideoMAE), against the float64 math
  kernel: max and mean absolute error, relative Frobenius error. A kernel that cannot run a case is
  reported as unavailable, not skipped.
* :func:`training_numerics` — one method, the same initial weights and batches, trained ``steps`` steps
  in fp32 and under bf16 autocast: the loss of each, their relative gap at every step, and the cosine
  between the first step's fp32 and bf16 gradients.
* :func:`step_times` / :func:`train_losses` — the timed step and a short training run they share, with
  :func:`adamw` (the book's AdamW, ``fused`` or PyTorch's default);
* :func:`throughput` — median wall time of a training step (forward, backward, AdamW) of each method at
  the papers' configuration (``Config.paper()``), in fp32 and bf16 autocast: steps/s, clips/s, peak
  memory. :data:`PAPER_METHODS` lists what is built (input shapes from the configs).

* :func:`cpu_speed` — the CPU path at a small profile: a baseline's training step under eager
  execution on one and two threads, ``torch.compile`` and channels-last inputs (:data:`CPU_SETTINGS`),
  with the speed-up over eager on one thread (what a chapter's budget is measured in).
* :func:`pool_speed` — the study layer's executor on the CPU: wall time of a few equal training runs on
  each number of single-threaded worker processes (e.g. three runs on two or three workers on two cores).

:mod:`maskedav.bench` builds the performance targets (paper-scale training against a reference-style
configuration) on these. ``notebooks/performance/benchmark.py`` runs them at a profile: at ``smoke`` /
``cpu`` on the book's small configurations (the code path, CPU timings), on a GPU at the papers' sizes.
"""
from __future__ import annotations

import contextlib
import math
import signal
import threading
import time
from typing import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F

__all__ = ["attention_numerics", "training_numerics", "train_losses", "throughput", "step_times", "adamw",
           "PAPER_METHODS",
           "build_method", "dummy_batch", "KERNELS", "CPU_SETTINGS", "cpu_speed", "pool_speed"]

#: ``scaled_dot_product_attention`` kernels by name (torch.nn.attention.SDPBackend members).
KERNELS = ("math", "flash", "efficient", "cudnn")


def _backend(name: str):
    from torch.nn.attention import SDPBackend

    return {"math": SDPBackend.MATH, "flash": SDPBackend.FLASH_ATTENTION,
            "efficient": SDPBackend.EFFICIENT_ATTENTION, "cudnn": SDPBackend.CUDNN_ATTENTION}[name]


def _sdpa(q, k, v, kernel: str) -> torch.Tensor:
    from torch.nn.attention import sdpa_kernel

    with sdpa_kernel(_backend(kernel)):
        return F.scaled_dot_product_attention(q, k, v)


@torch.no_grad()
def attention_numerics(device=None, *, shapes: Sequence[tuple] = ((8, 12, 196, 64), (4, 12, 1568, 64)),
                       kernels: Sequence[str] = KERNELS, dtypes=(torch.float32, torch.bfloat16),
                       seed: int = 0) -> list[dict]:
    """Error of each SDPA kernel × dtype against float64 math attention, per ``(B, heads, N, head_dim)``.

    Inputs are N(0, 1) queries / keys / values (logits of std ``sqrt(head_dim)`` before the
    ``1/sqrt(d)`` scale, as in a freshly initialised ViT). Rows: ``shape, kernel, dtype, available,
    max_abs_err, mean_abs_err, rel_err`` (``rel_err = ||out - ref||_F / ||ref||_F``)."""
    device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    g = torch.Generator(device="cpu").manual_seed(seed)
    rows = []
    for shape in shapes:
        q, k, v = (torch.randn(*shape, generator=g, dtype=torch.float64) for _ in range(3))
        ref = F.scaled_dot_product_attention(q, k, v).to(device)    # float64 math kernel (CPU)
        for dtype in dtypes:
            qd, kd, vd = (t.to(device, dtype) for t in (q, k, v))
            for kernel in kernels:
                row = dict(shape="×".join(map(str, shape)), kernel=kernel, dtype=str(dtype).replace("torch.", ""),
                           device=device.type)
                try:
                    out = _sdpa(qd, kd, vd, kernel).double()
                except RuntimeError as err:              # kernel not available for this device / dtype / shape
                    rows.append(dict(row, available=False, max_abs_err=float("nan"), mean_abs_err=float("nan"),
                                     rel_err=float("nan"), note=str(err).splitlines()[0][:80]))
                    continue
                diff = (out - ref).abs()
                rows.append(dict(row, available=True, max_abs_err=float(diff.max()), mean_abs_err=float(diff.mean()),
                                 rel_err=float(torch.linalg.norm(out - ref) / torch.linalg.norm(ref)), note=""))
    return rows


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def adamw(method: torch.nn.Module, lr: float = 1e-4, fused: bool = False) -> torch.optim.Optimizer:
    """The book's AdamW (betas 0.9 / 0.95, weight decay 0.05 off 1-D parameters and biases); ``fused``:
    PyTorch's single-kernel implementation (CUDA and CPU), else its default (``foreach`` on CUDA)."""
    from maskedav.train.optim import make_optimizer, param_groups

    if not fused:
        return make_optimizer(param_groups(method, 0.05), lr, (0.9, 0.95))
    return torch.optim.AdamW(param_groups(method, 0.05), lr=lr, betas=(0.9, 0.95), fused=True)


def step_times(method: torch.nn.Module, batch_fn: Callable[[int], dict], *, precision: str = "fp32",
               steps: int = 10, warmup: int = 3, device=None, fused_adamw: bool = False) -> list[float]:
    """Wall seconds of each timed training step (forward under :func:`maskedav.train.autocast`, backward,
    AdamW — fused with ``fused_adamw``), after ``warmup`` untimed steps. The method's weights change (use a
    fresh one)."""
    from maskedav.train import to_device
    from maskedav.train.engine import autocast

    device = torch.device(device) if device is not None else next(method.parameters()).device
    method.to(device).train()
    opt = adamw(method, fused=fused_adamw)
    times = []
    for i in range(warmup + steps):
        batch = to_device(batch_fn(i), device)
        _synchronize(device)
        t0 = time.perf_counter()
        with autocast(device, precision):
            loss, _ = method(batch)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        _synchronize(device)
        if i >= warmup:
            times.append(time.perf_counter() - t0)
    return times


#: The papers' methods the throughput table builds: label -> (module of maskedav.methods, method class,
#: config class, keyword arguments of ``Config.paper``).
PAPER_METHODS: dict[str, tuple[str, str, str, dict]] = {
    "MAE ViT-B (224², 75 %)": ("mae", "MAE", "MAEConfig", dict(size="b")),
    "VideoMAE ViT-B (16×224², 90 % tube)": ("videomae", "VideoMAE", "VideoMAEConfig", dict(size="b")),
    "AudioMAE ViT-B (1024×128 fbank, 80 %)": ("audiomae", "AudioMAE", "AudioMAEConfig", {}),
    "CAV-MAE ViT-B (fbank + 1 frame)": ("cav_mae", "CAVMAE", "CAVMAEConfig", {}),
    "AV-MaskEnhancer ViT-B (16×224² + 2.56 s audio, 90 %)": ("av_maskenhancer", "AVMaskEnhancer",
                                                             "AVMaskEnhancerConfig", {}),
}


def build_method(module: str, method_cls: str, config_cls: str, kwargs: dict | None = None, *,
                 small_profile=None) -> torch.nn.Module:
    """A method at the paper's size (``Config.paper(**kwargs)``) or, with ``small_profile``, at that
    profile's small size (``Config.from_profile``)."""
    import importlib

    mod = importlib.import_module(f"maskedav.methods.{module}")
    cfg_cls = getattr(mod, config_cls)
    cfg = cfg_cls.from_profile(small_profile) if small_profile is not None else cfg_cls.paper(**(kwargs or {}))
    return getattr(mod, method_cls)(cfg)


def dummy_batch(method: torch.nn.Module, batch_size: int, seed: int = 0) -> dict:
    """Random inputs with the shapes ``method``'s config asks for: ``video`` / ``image`` in [0, 1],
    ``fbank`` (log-mel-like values) and, for AV-MaskEnhancer, ``audio`` (waveform of ``audio_samples``)."""
    from maskedav.configs import ViTConfig

    g = torch.Generator().manual_seed(seed)
    cfg = method.config
    batch = {}
    for vit in (getattr(cfg, n, None) for n in ("vit", "video", "audio")):
        if not isinstance(vit, ViTConfig):
            continue
        if vit.modality == "video":
            batch["video"] = torch.rand(batch_size, vit.in_chans, *vit.input_size, generator=g)
        elif vit.modality == "image":
            batch["image"] = torch.rand(batch_size, vit.in_chans, *vit.input_size, generator=g)
        else:
            batch["fbank"] = torch.randn(batch_size, *vit.input_size, generator=g) * 3 - 5
    if getattr(cfg, "audio", None) is True:
        batch["audio"] = torch.randn(batch_size, cfg.audio_samples, generator=g) * 0.1
    return batch


def throughput(device=None, *, batch_size: int = 32, precisions: Sequence[str] = ("fp32", "bf16"),
               steps: int = 10, warmup: int = 3, small_profile=None,
               methods: dict | None = None) -> list[dict]:
    """Training-step throughput of each of :data:`PAPER_METHODS` (or ``methods``) on ``device``.

    Rows: ``method, precision, batch, params_m, step_ms`` (median), ``step_ms_iqr``, ``clips_per_s``,
    ``peak_mem_gib`` (CUDA), ``sdpa`` (the kernel PyTorch's dispatcher picks is not observable here:
    "auto"). Out-of-memory is reported as such."""
    device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    rows = []
    for name, spec in (methods or PAPER_METHODS).items():
        for precision in precisions:
            if precision == "bf16" and device.type != "cuda":
                continue                                     # autocast bf16 is a CUDA path in this book
            torch.manual_seed(0)
            method = build_method(*spec, small_profile=small_profile)
            batch = dummy_batch(method, batch_size)
            if device.type == "cuda":
                torch.cuda.empty_cache()
                torch.cuda.reset_peak_memory_stats(device)
            label = name if small_profile is None else name.split(" ViT-")[0] + " (the profile's small size)"
            row = dict(method=label, precision=precision, batch=batch_size, device=device.type,
                       params_m=sum(p.numel() for p in method.parameters() if p.requires_grad) / 1e6)
            try:
                t = step_times(method, lambda i: batch, precision=precision, steps=steps, warmup=warmup,
                               device=device)
            except torch.OutOfMemoryError:
                rows.append(dict(row, step_ms=float("nan"), step_ms_iqr=float("nan"), clips_per_s=float("nan"),
                                 peak_mem_gib=float("nan"), note="out of memory"))
                continue
            finally:
                del method
            q1, med, q3 = np.percentile(t, [25, 50, 75])
            peak = torch.cuda.max_memory_allocated(device) / 2 ** 30 if device.type == "cuda" else float("nan")
            rows.append(dict(row, step_ms=1e3 * med, step_ms_iqr=1e3 * (q3 - q1), clips_per_s=batch_size / med,
                             peak_mem_gib=peak, note=""))
    return rows


def train_losses(method: torch.nn.Module, batches: Sequence[dict], *, precision: str = "fp32",
                 compiled: bool = False, lr: float = 1.5e-4, device=None) -> tuple[list[float], torch.Tensor]:
    """Train ``method`` one step per batch (AdamW) and return the loss of every step and the flattened
    gradient of the first. Its mask generator is re-seeded from its config first, so two calls from the
    same weights see the same masks. ``compiled``: through ``torch.compile``."""
    from maskedav.train import to_device
    from maskedav.train.engine import autocast

    if getattr(method, "generator", None) is not None:
        method.generator.manual_seed(int(getattr(method.config, "seed", 0)))
    method.to(device).train()
    opt = adamw(method, lr)
    step = torch.compile(method) if compiled else method
    losses, grad = [], None
    for i, b in enumerate(batches):
        with autocast(device, precision):
            loss, _ = step(to_device(b, device))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if i == 0:
            grad = torch.cat([p.grad.detach().float().flatten() for p in method.parameters() if p.grad is not None])
        opt.step()
        losses.append(float(loss.detach()))
    return losses, grad


def training_numerics(spec: tuple = PAPER_METHODS["VideoMAE ViT-B (16×224², 90 % tube)"], *, small_profile=None,
                      batch_size: int = 8, steps: int = 20, lr: float = 1.5e-4, device=None, seed: int = 0,
                      variants: tuple = (("fp32", False), ("bf16", False))) -> tuple[list[dict], float]:
    """Two training runs of one method from the same weights on the same batches and masks, in the two
    ``variants`` ``(precision, compiled)`` — by default fp32 vs bf16 autocast, eager.

    Returns ``(rows, grad_cosine)``: rows ``step, loss_<a>, loss_<b>, rel_gap`` (``|b - a| / |a|``; the
    variants' names are ``fp32`` / ``bf16``, with ``_compiled`` when compiled) and the cosine similarity
    between the flattened gradients of the first step of the two runs. On a CPU device bf16 autocast is off
    (the book's :func:`~maskedav.train.autocast`), so fp32 and bf16 agree to the last bit there."""
    device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    torch.manual_seed(seed)
    base = build_method(*spec, small_profile=small_profile)
    state = {k: v.clone() for k, v in base.state_dict().items()}
    batches = [dummy_batch(base, batch_size, seed=seed + i) for i in range(steps)]
    names = [p + ("_compiled" if c else "") for p, c in variants]
    losses, grads = {}, {}
    for name, (precision, compiled) in zip(names, variants):
        base.load_state_dict(state)
        losses[name], grads[name] = train_losses(base, batches, precision=precision, compiled=compiled, lr=lr,
                                                 device=device)
    a, b = names
    rows = [dict(step=i, **{f"loss_{a}": x, f"loss_{b}": y}, rel_gap=abs(y - x) / abs(x) if x else float("nan"))
            for i, (x, y) in enumerate(zip(losses[a], losses[b]))]
    cos = float(F.cosine_similarity(grads[a].double(), grads[b].double(), dim=0))  # float64: no rounding above 1
    return rows, (cos if math.isfinite(cos) else float("nan"))


#: The CPU settings :func:`cpu_speed` times: name -> (torch threads, ``torch.compile``, channels-last).
CPU_SETTINGS: dict[str, tuple[int, bool, bool]] = {
    "eager, 1 thread": (1, False, False),
    "eager, 2 threads": (2, False, False),
    "torch.compile, 1 thread": (1, True, False),
    "channels-last, 1 thread": (1, False, True),
}


def _channels_last(t: torch.Tensor) -> torch.Tensor:
    """``t`` in channels-last layout when it is an image (4-D) or video (5-D) tensor, else ``t``."""
    fmt = {4: torch.channels_last, 5: torch.channels_last_3d}.get(t.dim())
    return t.contiguous(memory_format=fmt) if fmt is not None else t


@contextlib.contextmanager
def _deadline(seconds: float | None):
    """Raise :class:`TimeoutError` in the block after ``seconds`` — and at its end, in place of whatever
    the block made of it (torch wraps it, and AOTAutograd suppresses a failed eager backward compile and
    compiles again later). Main thread only; elsewhere no limit."""
    if not seconds or threading.current_thread() is not threading.main_thread():
        yield
        return
    fired = []

    def _raise(*_):
        fired.append(True)
        raise TimeoutError(f"over {seconds:g} s")

    old = signal.signal(signal.SIGALRM, _raise)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    except Exception:
        if not fired:                       # another failure; a timeout is reported as such below
            raise
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
    if fired:
        raise TimeoutError(f"over {seconds:g} s")


def cpu_speed(profile="cpu", methods: Sequence[str] = ("videomae", "cav_mae"), *, batch_size: int = 32,
              steps: int = 30, warmup: int = 3, settings: dict | None = None, compile_timeout_s: float = 60.0):
    """Median milliseconds of one training step (forward, backward, AdamW; :func:`step_times`) of the
    baselines ``methods`` at ``profile``'s sizes (configs of
    :func:`maskedav.chapters.baselines.build_config`, random inputs of :func:`dummy_batch`) on the CPU
    under each of ``settings`` (default :data:`CPU_SETTINGS`).

    A fresh model from ``torch.manual_seed(0)`` per setting. ``torch.compile`` compiles during its
    ``warmup`` steps, which must end within ``compile_timeout_s`` (their seconds are ``warmup_s``); a
    failure or a timeout is a row with ``ms_per_step`` NaN and the reason in ``note``. Returns a tidy
    frame: ``method, setting, threads, ms_per_step, ms_iqr, speedup`` (over ``"eager, 1 thread"`` of the
    same method), ``warmup_s, note``."""
    import pandas as pd

    from maskedav.chapters.baselines import build_config
    from maskedav.methods import BASELINES

    settings = CPU_SETTINGS if settings is None else settings
    rows = []
    threads = torch.get_num_threads()
    try:
        for name in methods:
            for setting, (n, compiled, channels_last) in settings.items():
                torch.set_num_threads(n)
                torch.manual_seed(0)
                method = BASELINES[name][0](build_config(name, profile))
                batch = dummy_batch(method, batch_size)
                if channels_last:
                    for p in method.parameters():
                        p.data = _channels_last(p.data)
                    batch = {k: _channels_last(v) for k, v in batch.items()}
                row = dict(method=name, setting=setting, threads=n, ms_per_step=math.nan, ms_iqr=math.nan,
                           warmup_s=math.nan, note="")
                try:
                    if compiled:
                        torch._dynamo.reset()
                        method = torch.compile(method)
                    t0 = time.perf_counter()
                    with _deadline(compile_timeout_s if compiled else None):
                        step_times(method, lambda i: batch, steps=0, warmup=warmup, device="cpu")
                    row["warmup_s"] = time.perf_counter() - t0
                    t = 1e3 * np.asarray(step_times(method, lambda i: batch, steps=steps, warmup=0, device="cpu"))
                    q1, med, q3 = np.percentile(t, [25, 50, 75])
                    row.update(ms_per_step=med, ms_iqr=q3 - q1)
                except Exception as err:                 # compile unavailable, too slow, or failing
                    row["note"] = f"{type(err).__name__}: {str(err).splitlines()[0][:120] if str(err) else ''}"
                rows.append(row)
    finally:
        torch.set_num_threads(threads)
        torch._dynamo.reset()
    df = pd.DataFrame(rows)
    base = df[df.setting == "eager, 1 thread"].set_index("method").ms_per_step
    df.insert(5, "speedup", base.reindex(df.method).to_numpy() / df.ms_per_step.to_numpy())
    return df


def _pool_run(profile, name: str, steps: int, seed: int, batch_size: int) -> float:
    """Wall seconds of one training run of ``steps`` steps of baseline ``name`` on random inputs."""
    from maskedav.chapters.baselines import build_config
    from maskedav.methods import BASELINES

    torch.manual_seed(seed)
    method = BASELINES[name][0](build_config(name, profile))
    batch = dummy_batch(method, batch_size, seed)
    t0 = time.perf_counter()
    step_times(method, lambda i: batch, steps=steps, warmup=0, device="cpu")
    return time.perf_counter() - t0


def pool_speed(profile="cpu", name: str = "videomae", *, runs: int = 3, steps: int = 300, batch_size: int = 32,
               workers: Sequence[int] = (2, 3)):
    """Wall seconds of ``runs`` equal training runs (``steps`` steps of baseline ``name`` at ``profile``'s
    sizes, random inputs, one thread each) on :func:`maskedav.study.parallel_map` with each number of
    ``workers`` (spawned processes; their start-up counted). Returns a tidy frame: ``method, runs, workers,
    cores, wall_s`` (the pool, start to end), ``run_s`` (median wall seconds of one run inside its worker:
    longer when more workers than cores share them), ``speedup`` (over the first row)."""
    import os

    import pandas as pd

    from maskedav.study.executor import parallel_map

    rows = []
    for w in workers:
        jobs = [dict(profile=profile, name=name, steps=steps, seed=s, batch_size=batch_size) for s in range(runs)]
        t0 = time.perf_counter()
        per_run = parallel_map(_pool_run, jobs, w, preload={})
        rows.append(dict(method=name, runs=runs, workers=w, cores=os.cpu_count(),
                         wall_s=time.perf_counter() - t0, run_s=float(np.median(per_run))))
    df = pd.DataFrame(rows)
    df["speedup"] = df.wall_s.iloc[0] / df.wall_s
    return df
