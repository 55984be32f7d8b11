"""The training loop shared by every method: ``train(method, batches, cfg)``.

A *method* is an ``nn.Module`` whose ``forward(batch) -> (loss, logs)`` (docs/conventions.md).
A *batch source* is a function ``batch_fn(step) -> batch`` that is deterministic in the 0-based
step index (SynthAV draws clip ``i`` from ``(seed, i)``), or a sequence indexed ``step % len``.
This is what makes resuming exact: after a checkpoint at step ``k`` the next batch is ``batch_fn(k)``,
with no iterator to fast-forward.

Per step: lr from :func:`~maskedav.train.optim.cosine_lr`, forward under bf16 autocast (CUDA only,
``precision="bf16"``), backward, optional grad-norm clipping, AdamW step. Every ``log_every`` steps a
row ``{step, lr, loss, <every entry of logs>, grad_norm, step_time_s}`` goes to
``<log_dir>/train.{csv,jsonl}``; every ``eval_every`` steps ``eval_fn(model) -> dict`` goes to
``<log_dir>/eval.{csv,jsonl}`` (run with its own forked RNG, so evaluating does not change training).

A checkpoint (model, optimiser, step, config, RNG states of python / numpy / torch / CUDA and of
any ``torch.Generator`` attribute of the method) is written atomically every ``checkpoint_every``
steps and at the end. When ``checkpoint_path`` exists ``train`` resumes from it; a finished
checkpoint makes ``train`` return at once (so re-running a notebook is cheap). The ``step`` in logs
and checkpoints counts *completed* optimisation steps.

Failing loudly and stopping cleanly:

- A NaN or inf in the loss or any logged term raises :class:`FloatingPointError` naming the step
  and the non-finite terms. Finiteness is tracked on the device (no sync per step) and checked
  before every log row, evaluation and checkpoint, so a broken state is never written: the last good
  checkpoint stays intact.
- With a ``checkpoint_path``, SIGTERM (a pre-empted job) and SIGINT (Ctrl-C, a kernel interrupt)
  do not stop the process mid-step: the loop writes a checkpoint at the next step boundary, then
  raises ``SystemExit(128 + SIGTERM)`` or ``KeyboardInterrupt``; ``train`` with the same config
  resumes exactly. Handlers are installed in the main thread only and restored on return.

Under ``torchrun`` (see :mod:`maskedav.train.distributed`) the method is wrapped in DDP, every rank
keeps its shard of the global batch, seeds are ``seed + rank``, logged values are averaged over
ranks, and rank 0 writes logs and the checkpoint (other ranks write only their RNG states beside it).
"""
from __future__ import annotations

import csv
import json
import math
import os
import random
import signal
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from torch import nn
from tqdm import tqdm  # text bar: tqdm.auto warns in kernels without ipywidgets

from . import distributed as D
from .optim import cosine_lr, make_optimizer, param_groups as default_param_groups, set_lr

BatchFn = Callable[[int], dict]
# Config fields that must agree between a checkpoint and the run that resumes it.
RESUME_KEYS = ("steps", "lr", "weight_decay", "betas", "warmup_steps", "min_lr", "clip_grad",
               "precision", "seed")


@dataclass
class TrainConfig:
    """One optimisation run. ``TrainConfig.from_profile(profile.train, ...)`` fills the sizes."""

    steps: int = 1000
    lr: float = 1e-3
    weight_decay: float = 0.05
    betas: tuple[float, float] = (0.9, 0.95)
    warmup_steps: int = 0
    min_lr: float = 0.0
    clip_grad: float | None = None      # max global grad norm; None: no clipping
    precision: str = "fp32"             # "fp32" or "bf16" (autocast on CUDA only)
    log_every: int = 1
    eval_every: int = 0                 # 0: no periodic evaluation
    checkpoint_every: int = 0           # 0: only the final checkpoint (if checkpoint_path)
    checkpoint_path: str | None = None  # None: no checkpoint, no resume
    seed: int = 0
    deterministic: bool = False         # torch deterministic algorithms (see seed_everything)
    progress: bool = True               # tqdm progress bar

    def __post_init__(self):
        if self.precision not in ("fp32", "bf16"):
            raise ValueError(f"precision must be 'fp32' or 'bf16', not {self.precision!r}")
        self.betas = tuple(self.betas)

    @classmethod
    def from_profile(cls, train_size, **overrides) -> "TrainConfig":
        """Steps, lr, warm-up, eval interval and precision from a ``profiles.TrainSize``."""
        base = dict(steps=train_size.steps, lr=train_size.lr, warmup_steps=train_size.warmup_steps,
                    eval_every=train_size.eval_every, precision=train_size.precision)
        base.update(overrides)
        return cls(**base)


@dataclass
class TrainResult:
    steps: int                                  # completed optimisation steps
    history: list[dict] = field(default_factory=list)       # rows of train.csv
    eval_history: list[dict] = field(default_factory=list)  # rows of eval.csv
    resumed_from: int | None = None             # checkpoint step resumed from, if any
    checkpoint_path: str | None = None
    log_dir: str | None = None
    precision: str = "fp32"                     # the precision really used
    wall_time_s: float = 0.0


# ----------------------------------------------------------------------------------------------
# Seeding and RNG state


def seed_everything(seed: int, deterministic: bool = False) -> None:
    """Seed python, numpy and torch (CPU and every CUDA device).

    ``deterministic=True`` also asks torch for deterministic kernels
    (``use_deterministic_algorithms(True, warn_only=True)``, cuDNN deterministic, no benchmark,
    ``CUBLAS_WORKSPACE_CONFIG=:4096:8``). CPU kernels used here are deterministic already.
    """
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)  # also seeds all CUDA devices
    if deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True, warn_only=True)
        torch.backends.cudnn.deterministic = True
        torch.backends.cudnn.benchmark = False


def _generators(model: nn.Module) -> dict[str, torch.Generator]:
    """``torch.Generator`` attributes of the model's modules (e.g. a method's mask generator)."""
    found = {}
    for mname, module in model.named_modules():
        for attr, value in vars(module).items():
            if isinstance(value, torch.Generator):
                found[f"{mname}.{attr}" if mname else attr] = value
    return found


def rng_state(model: nn.Module | None = None) -> dict:
    state = {"python": random.getstate(), "numpy": np.random.get_state(),
             "torch": torch.get_rng_state(),
             "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None}
    if model is not None:
        state["generators"] = {k: g.get_state() for k, g in _generators(model).items()}
    return state


def set_rng_state(state: dict, model: nn.Module | None = None) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if state.get("cuda") is not None and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    if model is not None:
        gens = _generators(model)
        for k, s in state.get("generators", {}).items():
            gens[k].set_state(s)


# ----------------------------------------------------------------------------------------------
# Checkpoints


def _atomic_save(obj, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    torch.save(obj, tmp)
    os.replace(tmp, path)  # a kill mid-write leaves the previous checkpoint intact


def _rank_rng_path(path: Path, rank: int) -> Path:
    return path.with_name(f"{path.name}.rank{rank}")


def save_checkpoint(path, model: nn.Module, optimizer: torch.optim.Optimizer | None, step: int,
                    config: TrainConfig | dict | None = None, extra: dict | None = None) -> None:
    """Write model / optimiser / step / config / RNG states (rank 0; other ranks their RNG only)."""
    path, model = Path(path), D.unwrap(model)
    if D.is_main():
        _atomic_save({"step": step, "model": model.state_dict(),
                      "optimizer": optimizer.state_dict() if optimizer is not None else None,
                      "config": asdict(config) if isinstance(config, TrainConfig) else config,
                      "rng": rng_state(model), "world_size": D.get_world_size(),
                      "extra": extra or {}}, path)
    else:
        _atomic_save({"step": step, "rng": rng_state(model)}, _rank_rng_path(path, D.get_rank()))
    D.barrier()


def load_checkpoint(path, model: nn.Module, optimizer: torch.optim.Optimizer | None = None,
                    restore_rng: bool = False, map_location="cpu") -> dict:
    """Load weights (and optimiser / RNG states when asked); return the checkpoint dict.

    Tensors are loaded to ``map_location`` (CPU by default, which RNG states need) and copied into
    the model's and optimiser's own devices.

    Uses ``torch.load(weights_only=False)``: checkpoints are this library's own files (they hold
    numpy RNG state), never files from elsewhere.
    """
    path, model = Path(path), D.unwrap(model)
    ckpt = torch.load(path, map_location=map_location, weights_only=False)
    model.load_state_dict(ckpt["model"])
    if optimizer is not None and ckpt.get("optimizer") is not None:
        optimizer.load_state_dict(ckpt["optimizer"])
    if restore_rng:
        rng = ckpt["rng"]
        if D.get_rank() != 0:
            rng = torch.load(_rank_rng_path(path, D.get_rank()), weights_only=False)["rng"]
        set_rng_state(rng, model)
    return ckpt


# ----------------------------------------------------------------------------------------------
# Metric files


class MetricLog:
    """Rows of scalars written to ``<dir>/<name>.jsonl`` and ``<dir>/<name>.csv``.

    Opening with ``keep_until=k`` keeps the rows with ``step <= k`` already on disk and drops later
    ones (written by a run that died after its last checkpoint), so a resumed log has each step once.
    """

    def __init__(self, directory, name: str, keep_until: int = 0):
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.jsonl, self.csv = self.dir / f"{name}.jsonl", self.dir / f"{name}.csv"
        self.rows: list[dict] = []
        if keep_until > 0 and self.jsonl.exists():
            with open(self.jsonl) as f:
                self.rows = [r for r in map(json.loads, filter(str.strip, f)) if r["step"] <= keep_until]
        self.columns: list[str] = []
        self._rewrite()

    def _rewrite(self) -> None:
        self.columns = list(dict.fromkeys(k for r in self.rows for k in r))
        with open(self.jsonl, "w") as f:
            f.writelines(json.dumps(r) + "\n" for r in self.rows)
        with open(self.csv, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=self.columns)
            w.writeheader()
            w.writerows(self.rows)

    def write(self, row: dict) -> None:
        self.rows.append(row)
        if any(k not in self.columns for k in row):  # a new column: rewrite the CSV header
            self._rewrite()
            return
        with open(self.jsonl, "a") as f:
            f.write(json.dumps(row) + "\n")
        with open(self.csv, "a", newline="") as f:
            csv.DictWriter(f, fieldnames=self.columns).writerow(row)


# ----------------------------------------------------------------------------------------------
# Guards: non-finite losses and stop signals


class NonFiniteWatch:
    """The first step at which a loss term was NaN or inf, kept on the device (no sync per step).

    ``update(step, terms)`` after each step; ``check()`` raises :class:`FloatingPointError` naming
    the first bad step and its non-finite terms, on every rank if any rank saw one (one collective).
    """

    def __init__(self):
        self.step: torch.Tensor | None = None     # -1 while every term has been finite
        self.values: dict[str, torch.Tensor] = {}  # the terms at the first bad step

    def update(self, step: int, terms: dict) -> None:
        vals = {k: torch.as_tensor(v).detach().float().reshape(()) for k, v in terms.items()}
        if self.step is None:
            self.step = torch.full((), -1, dtype=torch.float32, device=vals["loss"].device)
        vec = torch.stack([v.to(self.step.device) for v in vals.values()])
        first = (self.step < 0) & ~torch.isfinite(vec).all()
        self.step = torch.where(first, float(step), self.step)
        zero = torch.zeros((), device=self.step.device)
        self.values = {k: torch.where(first, v, self.values.get(k, zero)) for k, v in zip(vals, vec)}

    def check(self, context: str = "") -> None:
        if self.step is None:
            return
        names = sorted(self.values)
        row = torch.stack([self.step, *(self.values[k] for k in names)])[None]
        rows = D.all_gather_cat(row).cpu()  # (world size, 1 + terms)
        bad = [(int(r[0]), rank) for rank, r in enumerate(rows) if r[0] >= 0]
        if not bad:
            return
        step, rank = min(bad)
        values = dict(zip(names, rows[rank, 1:].tolist()))
        broken = ", ".join(f"{k}={v}" for k, v in values.items() if not math.isfinite(v))
        where = f" on rank {rank}" if D.get_world_size() > 1 else ""
        raise FloatingPointError(f"non-finite loss at step {step}{where}: {broken}{context}")


class StopSignals:
    """While active, SIGTERM / SIGINT only set :attr:`signum`; the loop stops at a step boundary.

    Installed only when ``enabled`` and in the main thread (``signal`` allows no other); the
    previous handlers come back on exit.
    """

    SIGNALS = (signal.SIGTERM, signal.SIGINT)

    def __init__(self, enabled: bool):
        self.enabled = enabled and threading.current_thread() is threading.main_thread()
        self.signum = 0
        self._previous: dict = {}

    def __enter__(self) -> "StopSignals":
        if self.enabled:
            for sig in self.SIGNALS:
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler if handler is not None else signal.SIG_DFL)
        self._previous.clear()

    def _handle(self, signum, frame) -> None:
        self.signum = signum

    def requested(self, device) -> int:
        """The signal any rank received (0: none); under torchrun one collective, so that every
        rank stops at the same step."""
        if not self.enabled:
            return 0
        if D.is_distributed():
            return int(D.all_reduce_max(torch.tensor(float(self.signum), device=device)))
        return self.signum

    @staticmethod
    def exit(signum: int):
        """The exception a stopped run raises: ``KeyboardInterrupt`` for SIGINT, else SystemExit."""
        if signum == signal.SIGINT:
            return KeyboardInterrupt("SIGINT: stopped after writing a checkpoint")
        return SystemExit(128 + signum)


# ----------------------------------------------------------------------------------------------
# The loop


def as_batch_fn(batches) -> BatchFn:
    """``batches`` as a function of the step: itself if callable, else ``batches[step % len]``."""
    if callable(batches):
        return batches
    if hasattr(batches, "__getitem__") and hasattr(batches, "__len__"):
        return lambda step: batches[step % len(batches)]
    raise TypeError("batches must be a function step -> batch or an indexable sequence of batches "
                    "(a plain iterator cannot be resumed exactly)")


def to_device(batch, device):
    """Move every tensor of a (nested) batch dict / list to ``device``."""
    if isinstance(batch, torch.Tensor):
        return batch.to(device, non_blocking=True)
    if isinstance(batch, dict):
        return {k: to_device(v, device) for k, v in batch.items()}
    if isinstance(batch, (list, tuple)) and any(isinstance(v, torch.Tensor) for v in batch):
        return type(batch)(to_device(v, device) for v in batch)
    return batch


def autocast(device: torch.device, precision: str):
    """bf16 autocast on CUDA when ``precision == "bf16"``; a no-op context otherwise."""
    enabled = precision == "bf16" and device.type == "cuda"
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=enabled)


def _run_eval(eval_fn, model, device, precision) -> dict:
    """``eval_fn(model)`` in eval mode, without grad, on forked RNG streams (the global ones and
    the model's own generators), so that evaluating leaves training's random draws unchanged."""
    py, npy = random.getstate(), np.random.get_state()
    own = {g: g.get_state() for g in _generators(model).values()}
    devices = [torch.cuda.current_device()] if device.type == "cuda" else []
    was_training = model.training
    model.eval()
    try:
        with torch.random.fork_rng(devices=devices), torch.no_grad(), autocast(device, precision):
            out = eval_fn(model)
    finally:
        random.setstate(py)
        np.random.set_state(npy)
        for g, state in own.items():
            g.set_state(state)
        model.train(was_training)
    return {k: float(v) for k, v in out.items()}


def train(method: nn.Module, batches, cfg: TrainConfig, *, device=None, log_dir=None,
          eval_fn: Callable[[nn.Module], dict] | None = None, param_groups: list[dict] | None = None,
          on_step: Callable[[int, dict | None], None] | None = None, desc: str = "train") -> TrainResult:
    """Optimise ``method`` for ``cfg.steps`` steps on ``batches`` (see the module docstring).

    ``device``: where to train (default: where the method's parameters are). ``param_groups``:
    AdamW groups (default :func:`~maskedav.train.optim.param_groups`; pass
    ``layer_decay_param_groups(...)`` for fine-tuning). ``eval_fn(model) -> {name: value}``: held-out
    metrics, run every ``cfg.eval_every`` steps on rank 0 (at step 0 too when not resuming).
    ``on_step(step, row)``: called after each step with the logged row (``None`` between log steps).
    """
    t_start = time.perf_counter()
    model = D.unwrap(method)
    device = torch.device(device) if device is not None else next(model.parameters()).device
    model.to(device)
    if D.is_distributed() and D.get_world_size() > 1 and method is model:
        method = D.wrap_ddp(model, device)
    groups = param_groups if param_groups is not None else default_param_groups(model, cfg.weight_decay)
    optimizer = make_optimizer(groups, cfg.lr, cfg.betas)
    batch_fn = as_batch_fn(batches)
    rank = D.get_rank()
    seed_everything(cfg.seed + rank, cfg.deterministic)

    start, resumed_from = 0, None
    ckpt_path = Path(cfg.checkpoint_path) if cfg.checkpoint_path else None
    if ckpt_path is not None and ckpt_path.exists():
        ckpt = load_checkpoint(ckpt_path, model, optimizer, restore_rng=True)
        saved = ckpt.get("config") or {}
        diff = {k: (saved.get(k), getattr(cfg, k)) for k in RESUME_KEYS
                if k in saved and _norm(saved[k]) != _norm(getattr(cfg, k))}
        if diff:
            raise ValueError(f"checkpoint {ckpt_path} was written with a different config "
                             f"(saved, now): {diff}; delete it or use another checkpoint_path")
        start = resumed_from = ckpt["step"]

    main = D.is_main()
    train_log = MetricLog(log_dir, "train", keep_until=start) if (log_dir and main) else None
    eval_log = MetricLog(log_dir, "eval", keep_until=start) if (log_dir and main and eval_fn) else None
    history = train_log.rows if train_log else []
    eval_history = eval_log.rows if eval_log else []
    precision_used = "bf16" if (cfg.precision == "bf16" and device.type == "cuda") else "fp32"

    def evaluate(step):
        if eval_fn is not None and main:
            row = {"step": step, **_run_eval(eval_fn, model, device, cfg.precision)}
            (eval_log.write if eval_log else eval_history.append)(row)

    if cfg.eval_every and start == 0 and start < cfg.steps:
        evaluate(0)
    method.train()
    bar = tqdm(total=cfg.steps, initial=start, desc=desc, disable=not (cfg.progress and main),
               leave=False)
    watch, saved_at = NonFiniteWatch(), start if resumed_from is not None else None

    def check_finite():
        last = (f"; the last checkpoint ({ckpt_path}, step {saved_at}) is intact"
                if ckpt_path is not None and saved_at is not None else "")
        watch.check(last)

    def checkpoint(done):
        nonlocal saved_at
        check_finite()  # never overwrite a good checkpoint with a broken state
        save_checkpoint(ckpt_path, model, optimizer, done, cfg)
        saved_at = done

    with StopSignals(enabled=ckpt_path is not None) as stop, bar:
        for step in range(start, cfg.steps):
            t0 = time.perf_counter()
            lr = cosine_lr(step, cfg.lr, cfg.steps, cfg.warmup_steps, cfg.min_lr)
            set_lr(optimizer, lr)
            batch = to_device(D.shard_batch(batch_fn(step)), device)
            with autocast(device, cfg.precision):
                loss, logs = method(batch)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            grad_norm = (torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.clip_grad)
                         if cfg.clip_grad else None)
            optimizer.step()
            done = step + 1
            terms = {"loss": loss, **{k: v for k, v in logs.items() if k != "loss"}}
            watch.update(done, terms)

            row = None
            if done % cfg.log_every == 0 or done == cfg.steps:
                if grad_norm is not None:
                    terms["grad_norm"] = grad_norm
                vec = torch.stack([torch.as_tensor(v, device=device).detach().float().reshape(())
                                   for v in terms.values()]).cpu()  # one device sync per log step
                check_finite()
                scalars = D.reduce_dict(dict(zip(terms, vec)))
                row = {"step": done, "lr": lr, **{k: scalars[k] for k in terms},
                       "step_time_s": time.perf_counter() - t0}
                if main:
                    (train_log.write if train_log else history.append)(row)
                    bar.set_postfix(loss=f"{scalars['loss']:.4g}", refresh=False)
            bar.update(1)
            if cfg.eval_every and (done % cfg.eval_every == 0 or done == cfg.steps):
                check_finite()
                evaluate(done)
            if ckpt_path is not None and ((cfg.checkpoint_every and done % cfg.checkpoint_every == 0)
                                          or done == cfg.steps):
                checkpoint(done)
            if on_step is not None:
                on_step(done, row)
            signum = stop.requested(device)
            if signum:
                if saved_at != done:
                    checkpoint(done)
                raise stop.exit(signum)
    return TrainResult(steps=cfg.steps, history=history, eval_history=eval_history,
                       resumed_from=resumed_from, checkpoint_path=str(ckpt_path) if ckpt_path else None,
                       log_dir=str(log_dir) if log_dir else None, precision=precision_used,
                       wall_time_s=time.perf_counter() - t_start)


def _norm(value: Any) -> Any:
    return list(value) if isinstance(value, (tuple, list)) else value
