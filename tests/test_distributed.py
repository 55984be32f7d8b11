"""Data parallelism: a 2-process gloo run under torchrun equals one process on the global batch."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from maskedav.train import (TrainConfig, init_distributed, is_main, reduce_dict, shard_batch, train,
                            wrap_ddp)
from maskedav.train.toy import ToyMethod, toy_batch


def test_single_process_fallback(monkeypatch):
    for var in ("RANK", "WORLD_SIZE", "LOCAL_RANK"):
        monkeypatch.delenv(var, raising=False)
    info = init_distributed("cpu")
    assert (info.rank, info.world_size, info.backend) == (0, 1, None) and is_main()
    model = ToyMethod()
    assert wrap_ddp(model) is model
    assert reduce_dict({"a": torch.tensor(2.5), "b": 1}) == {"a": 2.5, "b": 1.0}
    batch = toy_batch(0)
    assert shard_batch(batch) is batch


def test_shard_batch_slices():
    batch = {"x": torch.arange(8), "names": list("abcdefgh"), "scale": 3.0,
             "nested": {"y": torch.arange(16).view(8, 2)}}
    second = shard_batch(batch, rank=1, world_size=2)
    assert second["x"].tolist() == [4, 5, 6, 7] and second["names"] == list("efgh")
    assert second["scale"] == 3.0 and second["nested"]["y"][0].tolist() == [8, 9]
    with pytest.raises(ValueError):
        shard_batch(batch, rank=0, world_size=3)


def test_torchrun_two_processes_match_one(tmp_path):
    torchrun = Path(sys.executable).with_name("torchrun")
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK",
                                                            "MASTER_ADDR", "MASTER_PORT")}
    env["OMP_NUM_THREADS"] = "1"
    proc = subprocess.run([str(torchrun), "--standalone", "--nproc_per_node=2", "-m",
                           "maskedav.train.ddp_check", "--out", str(tmp_path), "--steps", "3"],
                          env=env, capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr[-3000:]
    info = json.loads((tmp_path / "info.json").read_text())
    assert info["world_size"] == 2 and info["backend"] == "gloo"

    # the single-process reference on the same global batches
    torch.manual_seed(0)
    model = ToyMethod()
    loss, _ = model(toy_batch(0, batch_size=8))
    loss.backward()
    ddp_grads = torch.load(tmp_path / "grads.pt")
    for name, p in model.named_parameters():
        torch.testing.assert_close(ddp_grads[name], p.grad, rtol=0, atol=1e-6, msg=name)

    torch.manual_seed(0)
    model = ToyMethod()
    train(model, lambda s: toy_batch(s, batch_size=8),
          TrainConfig(steps=3, lr=1e-2, warmup_steps=1, progress=False))
    ddp_weights = torch.load(tmp_path / "weights.pt")
    for name, w in model.state_dict().items():
        torch.testing.assert_close(ddp_weights[name], w, rtol=0, atol=1e-6, msg=name)
