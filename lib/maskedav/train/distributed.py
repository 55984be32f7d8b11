"""Data-parallel training: one entry point with and without ``torchrun``.

``init_distributed()`` reads torchrun's environment (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``) and
starts a process group (``nccl`` on CUDA, ``gloo`` on CPU). Without those variables it returns a
single-process :class:`DistInfo` and every helper here is a no-op, so a notebook and a
``torchrun --nproc_per_node=N`` script share the same code.

Batches are *global*: ``batch_fn(step)`` returns the same global batch on every rank and
:func:`shard_batch` keeps this rank's contiguous slice. With a per-sample mean loss and equal
shards, DDP's gradient average equals the gradient of the global batch on one process.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel


@dataclass(frozen=True)
class DistInfo:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: str = "cpu"
    backend: str | None = None  # None: no process group

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def is_distributed() -> bool:
    return dist.is_available() and dist.is_initialized()


def get_rank() -> int:
    return dist.get_rank() if is_distributed() else 0


def get_world_size() -> int:
    return dist.get_world_size() if is_distributed() else 1


def is_main() -> bool:
    """True on rank 0 and in a single process (the rank that logs and writes files)."""
    return get_rank() == 0


def init_distributed(device: str | None = None, backend: str | None = None) -> DistInfo:
    """Start the process group from torchrun's variables, or describe the single process.

    ``device``: ``"cuda"`` / ``"cpu"`` (default: CUDA when available). On CUDA every process uses
    ``cuda:LOCAL_RANK``.
    """
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size <= 1 or "RANK" not in os.environ:
        return DistInfo(device=device)
    rank, local_rank = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    on_cuda = str(device).startswith("cuda")
    if on_cuda:
        torch.cuda.set_device(local_rank)
        device = f"cuda:{local_rank}"
    backend = backend or ("nccl" if on_cuda else "gloo")
    if not is_distributed():
        dist.init_process_group(backend=backend, rank=rank, world_size=world_size)
    return DistInfo(rank=rank, world_size=world_size, local_rank=local_rank, device=device,
                    backend=backend)


def cleanup() -> None:
    if is_distributed():
        dist.destroy_process_group()


def barrier() -> None:
    if is_distributed():
        dist.barrier()


def wrap_ddp(model: nn.Module, device=None, **ddp_kwargs) -> nn.Module:
    """``DistributedDataParallel(model)`` in a process group; ``model`` itself otherwise.

    ``device``: the model's device (default: where its parameters are). Pass
    ``find_unused_parameters=True`` for methods whose ablation switches leave parameters unused.
    """
    if not is_distributed() or get_world_size() == 1:
        return model
    device = torch.device(device) if device is not None else next(model.parameters()).device
    device_ids = [device.index if device.index is not None else torch.cuda.current_device()] \
        if device.type == "cuda" else None
    return DistributedDataParallel(model, device_ids=device_ids, **ddp_kwargs)


def unwrap(model: nn.Module) -> nn.Module:
    """The module inside a DDP wrapper (``model`` if it is not wrapped)."""
    return model.module if isinstance(model, DistributedDataParallel) else model


def shard_batch(batch, rank: int | None = None, world_size: int | None = None):
    """This rank's contiguous slice (along dim 0) of every tensor / list in a global batch dict.

    The global batch size must be divisible by the world size (equal shards keep DDP's gradient
    average equal to the global-batch gradient). Scalars and 0-d tensors are kept as they are.
    """
    rank = get_rank() if rank is None else rank
    world_size = get_world_size() if world_size is None else world_size
    if world_size == 1:
        return batch

    def _slice(x):
        if isinstance(x, dict):
            return {k: _slice(v) for k, v in x.items()}
        if isinstance(x, (torch.Tensor, list, tuple)) and (not isinstance(x, torch.Tensor) or x.ndim > 0):
            n = len(x)
            if n % world_size:
                raise ValueError(f"global batch of {n} does not split into {world_size} equal shards")
            per = n // world_size
            return x[rank * per:(rank + 1) * per]
        return x

    return _slice(batch)


def all_reduce_sum(tensor: torch.Tensor) -> torch.Tensor:
    """Sum over ranks (a copy; the input is left unchanged)."""
    out = tensor.detach().clone()
    if is_distributed():
        dist.all_reduce(out, op=dist.ReduceOp.SUM)
    return out


def all_reduce_mean(tensor: torch.Tensor) -> torch.Tensor:
    """Mean over ranks (a copy)."""
    return all_reduce_sum(tensor) / get_world_size()


def all_reduce_max(tensor: torch.Tensor) -> torch.Tensor:
    """Element-wise maximum over ranks (a copy)."""
    out = tensor.detach().clone()
    if is_distributed():
        dist.all_reduce(out, op=dist.ReduceOp.MAX)
    return out


def reduce_dict(values: dict) -> dict[str, float]:
    """Mean over ranks of a dict of scalars / 0-d tensors, as floats (one collective call)."""
    keys = list(values)
    if not keys:
        return {}
    vec = torch.stack([torch.as_tensor(values[k]).detach().double().reshape(()).cpu() for k in keys])
    if is_distributed():
        on_nccl = dist.get_backend() == "nccl"
        device = torch.device("cuda", torch.cuda.current_device()) if on_nccl else "cpu"
        vec = all_reduce_mean(vec.to(device)).cpu()
    return {k: float(v) for k, v in zip(keys, vec)}


def all_gather_cat(tensor: torch.Tensor) -> torch.Tensor:
    """Concatenate (dim 0) equally-sized tensors from every rank, in rank order."""
    if not is_distributed():
        return tensor
    parts = [torch.empty_like(tensor) for _ in range(get_world_size())]
    dist.all_gather(parts, tensor.contiguous())
    return torch.cat(parts)
