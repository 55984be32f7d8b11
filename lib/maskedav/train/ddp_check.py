"""Check data-parallel training end to end on CPU (gloo) or GPUs (nccl).

    torchrun --standalone --nproc_per_node=2 -m maskedav.train.ddp_check --out DIR
    python -m maskedav.train.ddp_check --out DIR          # the single-process reference

Rank 0 writes ``DIR/grads.pt`` (the DDP-averaged gradient of the toy method on global batch 0),
``DIR/weights.pt`` (the weights after ``--steps`` engine steps on global batches 0, 1, ...) and
``DIR/info.json`` (world size, backend, device). With a mean loss and equal shards both must equal
the single-process results on the same global batches.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from . import distributed as D
from .engine import TrainConfig, train
from .toy import ToyMethod, toy_batch


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args(argv)
    out = Path(args.out)

    info = D.init_distributed(args.device)
    batch_fn = lambda step: toy_batch(step, batch_size=args.batch_size)  # noqa: E731

    torch.manual_seed(0)
    model = ToyMethod().to(info.device)
    ddp = D.wrap_ddp(model, info.device)
    loss, _ = ddp({k: v.to(info.device) for k, v in D.shard_batch(batch_fn(0)).items()})
    loss.backward()
    grads = {n: p.grad.detach().cpu() for n, p in model.named_parameters()}

    torch.manual_seed(0)
    model = ToyMethod().to(info.device)
    cfg = TrainConfig(steps=args.steps, lr=1e-2, warmup_steps=1, progress=False)
    train(model, batch_fn, cfg, device=info.device)

    if D.is_main():
        out.mkdir(parents=True, exist_ok=True)
        torch.save(grads, out / "grads.pt")
        torch.save({k: v.cpu() for k, v in model.state_dict().items()}, out / "weights.pt")
        (out / "info.json").write_text(json.dumps({"world_size": info.world_size,
                                                   "backend": info.backend,
                                                   "device": str(info.device)}))
    D.barrier()
    D.cleanup()


if __name__ == "__main__":
    main()
