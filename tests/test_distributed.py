"""Data parallelism: a 2-process gloo run under torchrun equals one process on the global batch."""
import json
import os
import subprocess
import sys
import textwrap
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


DDP_CHILD = textwrap.dedent("""
    import os, signal, sys, time, torch
    torch.set_num_threads(1)
    from maskedav.train import TrainConfig, cleanup, init_distributed, is_main, train
    from maskedav.train.toy import ToyMethod, toy_batch
    ckpt, stop_at, out = sys.argv[1:]
    init_distributed("cpu")
    torch.manual_seed(0)
    model = ToyMethod(dropout=0.1, mask_ratio=0.25, seed=3)
    cfg = TrainConfig(steps=12, lr=1e-2, warmup_steps=2, clip_grad=1.0, checkpoint_every=4,
                      checkpoint_path=ckpt, seed=7, progress=False)
    def on_step(step, row):
        if step == int(stop_at) and is_main():
            os.kill(os.getppid(), signal.SIGTERM)  # the job is pre-empted: torchrun gets SIGTERM
            engine_handler = signal.getsignal(signal.SIGTERM).__self__
            while not engine_handler.signum:       # ... and forwards it to every worker
                time.sleep(0.01)
    train(model, lambda s: toy_batch(s, batch_size=8), cfg, on_step=on_step)
    if is_main():
        torch.save(model.state_dict(), out)
    cleanup()
""")


def torchrun(args, timeout=60):
    """``torchrun --standalone --nproc_per_node=2 args`` on CPU (gloo), one thread per worker."""
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK",
                                                            "MASTER_ADDR", "MASTER_PORT")}
    env["OMP_NUM_THREADS"] = "1"
    cmd = [str(Path(sys.executable).with_name("torchrun")), "--standalone", "--nproc_per_node=2",
           *map(str, args)]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)


@pytest.mark.slow  # three torchrun launches, about 30 s on 2 cores
def test_torchrun_sigterm_checkpoints_and_resumes_exactly(tmp_path):
    """SIGTERM to torchrun: every rank stops at the same step boundary after a checkpoint (the
    periodic one is at step 4), and a second torchrun resumes to the uninterrupted run's weights."""
    script = tmp_path / "child.py"
    script.write_text(DDP_CHILD)
    ref = torchrun([script, tmp_path / "ref.pt", -1, tmp_path / "ref_final.pt"])
    if ref.returncode != 0 and "rendezvous" in ref.stderr.lower():
        pytest.skip(f"torchrun cannot start here: {ref.stderr[-500:]}")
    assert ref.returncode == 0, ref.stderr[-3000:]

    ckpt, out = tmp_path / "run.pt", tmp_path / "final.pt"
    stopped = torchrun([script, ckpt, 6, out])
    assert "got signal: 15" in stopped.stderr and not out.exists()  # torchrun itself got SIGTERM
    assert torch.load(ckpt, weights_only=False)["step"] == 6
    assert torch.load(f"{ckpt}.rank1", weights_only=False)["step"] == 6  # rank 1's RNG, same step

    resumed = torchrun([script, ckpt, -1, out])
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    final, ref_state = torch.load(out), torch.load(tmp_path / "ref_final.pt")
    assert final.keys() == ref_state.keys()
    assert all(torch.equal(final[k], ref_state[k]) for k in final), "resume is not bitwise exact"
