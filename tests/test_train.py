"""The training engine: schedule, parameter groups, logging, loud NaNs, exact kill-and-resume."""
import json
import math
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import torch

from maskedav.reliability import TRAIN_CHILD as CHILD  # the child training script, shared with the book
from maskedav.train import (TrainConfig, cosine_lr, layer_decay_param_groups, make_optimizer,
                            param_groups, set_lr, train, vit_layer_ids)
from maskedav.train.toy import ToyMethod, toy_batch


@pytest.fixture
def one_thread():
    """Same thread count here and in the child processes, so kernels reduce in the same order."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def names_in(groups, model, **match):
    by_id = {id(p): n for n, p in model.named_parameters()}
    return {by_id[id(p)] for g in groups if all(g[k] == v for k, v in match.items())
            for p in g["params"]}


# ---------------------------------------------------------------------------------------------
# schedule and parameter groups


def test_cosine_schedule_hand_values():
    # warm-up 2 of 10 steps: (step + 1) / 2, then a half cosine over the 8 remaining steps
    assert cosine_lr(0, 1.0, 10, 2) == pytest.approx(0.5)
    assert cosine_lr(1, 1.0, 10, 2) == pytest.approx(1.0)
    assert cosine_lr(2, 1.0, 10, 2) == pytest.approx(1.0)                 # progress 0
    assert cosine_lr(4, 1.0, 10, 2) == pytest.approx((1 + math.cos(math.pi / 4)) / 2)
    assert cosine_lr(6, 1.0, 10, 2) == pytest.approx(0.5)                 # progress 1/2
    assert cosine_lr(6, 1.0, 10, 2, min_lr=0.1) == pytest.approx(0.55)
    assert cosine_lr(10, 1.0, 10, 2, min_lr=0.1) == pytest.approx(0.1)    # progress 1
    assert cosine_lr(3, 2e-3, 4, 0) == pytest.approx(2e-3 * (1 + math.cos(3 * math.pi / 4)) / 2)


def test_no_weight_decay_groups():
    model = ToyMethod()
    groups = param_groups(model, weight_decay=0.05)
    no_decay = names_in(groups, model, weight_decay=0.0)
    decay = names_in(groups, model, weight_decay=0.05)
    assert {"encoder.pos_embed", "encoder.cls_token", "mask_token", "encoder.patch_embed.bias",
            "encoder.norm.weight", "encoder.blocks.0.norm.bias", "head.bias"} <= no_decay
    assert decay == {"encoder.patch_embed.weight", "head.weight"} | {
        f"encoder.blocks.{i}.mlp.{j}.weight" for i in range(2) for j in (0, 3)}
    assert len(no_decay) + len(decay) == len(list(model.parameters()))


def test_layer_decay_ratios():
    model = ToyMethod(depth=2)
    ids = vit_layer_ids(model)
    assert ids["encoder.pos_embed"] == ids["encoder.cls_token"] == ids["encoder.patch_embed.weight"] == 0
    assert ids["encoder.blocks.0.mlp.0.weight"] == 1 and ids["encoder.blocks.1.norm.bias"] == 2
    assert ids["encoder.norm.weight"] == ids["head.weight"] == 3
    groups = layer_decay_param_groups(model, weight_decay=0.05, layer_decay=0.5)
    scale = {n: g["lr_scale"] for g in groups for n in names_in([g], model)}
    assert scale["head.weight"] == 1.0
    assert scale["encoder.blocks.1.mlp.0.weight"] == 0.5
    assert scale["encoder.blocks.0.mlp.0.weight"] == 0.25
    assert scale["encoder.pos_embed"] == scale["encoder.patch_embed.weight"] == 0.125
    assert "encoder.pos_embed" in names_in(groups, model, weight_decay=0.0)
    opt = make_optimizer(groups, lr=1e-3)
    set_lr(opt, 2e-3)
    assert sorted({g["lr"] for g in opt.param_groups}) == pytest.approx([2.5e-4, 5e-4, 1e-3, 2e-3])


# ---------------------------------------------------------------------------------------------
# the loop


def test_train_logs_every_term(tmp_path):
    torch.manual_seed(0)
    model = ToyMethod(mask_ratio=0.25)
    cfg = TrainConfig(steps=6, lr=1e-2, warmup_steps=2, log_every=2, eval_every=3, clip_grad=1.0,
                      precision="bf16", progress=False)
    res = train(model, lambda s: toy_batch(s), cfg, log_dir=tmp_path,
                eval_fn=lambda m: {"heldout_loss": m(toy_batch(10_000))[0]})
    assert res.precision == "fp32"  # bf16 autocast only on CUDA
    assert [r["step"] for r in res.history] == [2, 4, 6]
    assert set(res.history[0]) == {"step", "lr", "loss", "loss_recon", "mask_fraction", "grad_norm",
                                   "step_time_s"}
    assert res.history[0]["lr"] == pytest.approx(1e-2)  # step index 1 = end of warm-up
    assert [r["step"] for r in res.eval_history] == [0, 3, 6]
    lines = (tmp_path / "train.jsonl").read_text().splitlines()
    assert [json.loads(x)["step"] for x in lines] == [2, 4, 6]
    assert (tmp_path / "eval.csv").read_text().startswith("step,heldout_loss")
    assert res.history[-1]["loss"] < 5


def test_eval_does_not_change_training():
    def run(eval_fn):
        torch.manual_seed(0)
        model = ToyMethod(dropout=0.2, mask_ratio=0.3)
        train(model, toy_batch, TrainConfig(steps=5, eval_every=1, progress=False), eval_fn=eval_fn)
        return model.state_dict()

    noisy_eval = lambda m: {"r": torch.rand(()) + m(toy_batch(99))[0]}  # consumes every RNG  # noqa: E731
    a, b = run(None), run(noisy_eval)
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_sequence_batches_and_finished_checkpoint(tmp_path):
    batches = [toy_batch(i) for i in range(3)]
    cfg = TrainConfig(steps=4, progress=False, checkpoint_path=str(tmp_path / "c.pt"))
    first = train(ToyMethod(), batches, cfg)
    assert first.resumed_from is None and first.steps == 4
    again = train(ToyMethod(), batches, cfg)  # finished: nothing to do
    assert again.resumed_from == 4 and again.history == []
    with pytest.raises(ValueError, match="different config"):
        train(ToyMethod(), batches, TrainConfig(steps=4, lr=0.5, checkpoint_path=cfg.checkpoint_path))


class BlowsUp(ToyMethod):
    """ToyMethod plus an extra loss term ``loss_aux``: 0, or ``value`` on batches marked ``poison``."""

    def __init__(self, value: float):
        super().__init__(mask_ratio=0.25)
        self.value = value

    def forward(self, batch):
        loss, logs = super().forward(batch)
        aux = torch.tensor(self.value if batch["poison"] else 0.0)
        return loss + aux, {**logs, "loss_aux": aux}


def poisoned_at(index):
    """Batches whose step ``index`` (0-based; completed step ``index + 1``) is poisoned."""
    return lambda s: {**toy_batch(s), "poison": s == index}


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_non_finite_loss_stops_and_keeps_the_last_checkpoint(tmp_path, value):
    ckpt = tmp_path / "run.pt"
    cfg = TrainConfig(steps=12, lr=1e-2, log_every=4, checkpoint_every=2, checkpoint_path=str(ckpt),
                      progress=False)
    torch.manual_seed(0)
    with pytest.raises(FloatingPointError) as err:
        train(BlowsUp(value), poisoned_at(4), cfg, log_dir=tmp_path / "logs")
    msg = str(err.value)
    # completed step 5 went wrong; the check at the checkpoint of step 6 names it, not step 6
    assert "at step 5:" in msg and f"loss_aux={value}" in msg and f"loss={value}" in msg
    assert "loss_recon" not in msg and "mask_fraction" not in msg  # finite terms are not named
    assert f"({ckpt}, step 4) is intact" in msg
    saved = torch.load(ckpt, weights_only=False)
    assert saved["step"] == 4
    assert all(torch.isfinite(v).all() for v in saved["model"].values())

    # the kept checkpoint is the clean run's step-4 state, bit for bit
    torch.manual_seed(0)
    clean = BlowsUp(value)
    train(clean, poisoned_at(-1), TrainConfig(steps=12, lr=1e-2, progress=False, checkpoint_every=2,
                                               checkpoint_path=str(tmp_path / "clean.pt")),
          on_step=lambda step, row: step == 4 and torch.save(clean.state_dict(), tmp_path / "s4.pt"))
    ref = torch.load(tmp_path / "s4.pt")
    assert all(torch.equal(saved["model"][k], ref[k]) for k in ref)
    rows = [json.loads(x) for x in (tmp_path / "logs" / "train.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [4]  # no row with a non-finite loss


def test_non_finite_loss_without_checkpoint():
    cfg = TrainConfig(steps=3, progress=False)  # log_every=1: stops at the bad step itself
    with pytest.raises(FloatingPointError, match=r"at step 2: loss=nan, loss_aux=nan$"):
        train(BlowsUp(math.nan), poisoned_at(1), cfg)


def test_signal_handlers_installed_only_while_training(tmp_path):
    before = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}
    seen = []
    cfg = TrainConfig(steps=2, progress=False, checkpoint_path=str(tmp_path / "c.pt"))
    train(ToyMethod(), toy_batch, cfg, on_step=lambda step, row: seen.append(signal.getsignal(signal.SIGTERM)))
    assert all(h is not before[signal.SIGTERM] for h in seen)  # the engine's handler while training
    assert {s: signal.getsignal(s) for s in before} == before  # restored afterwards

    # outside the main thread no handler can be installed: train runs without one
    errors = []
    def in_thread():
        try:
            train(ToyMethod(), toy_batch, TrainConfig(steps=2, progress=False,
                                                      checkpoint_path=str(tmp_path / "t.pt")))
        except Exception as e:  # noqa: BLE001
            errors.append(e)
    t = threading.Thread(target=in_thread)
    t.start()
    t.join()
    assert errors == [] and torch.load(tmp_path / "t.pt", weights_only=False)["step"] == 2


def test_sigint_in_process_writes_checkpoint_and_raises(tmp_path):
    """Ctrl-C in a kernel: KeyboardInterrupt after a checkpoint at the step boundary."""
    ckpt = tmp_path / "c.pt"
    cfg = TrainConfig(steps=10, checkpoint_every=4, checkpoint_path=str(ckpt), progress=False)
    before = signal.getsignal(signal.SIGINT)
    with pytest.raises(KeyboardInterrupt, match="SIGINT"):
        train(ToyMethod(), toy_batch, cfg,
              on_step=lambda step, row: step == 3 and os.kill(os.getpid(), signal.SIGINT))
    assert torch.load(ckpt, weights_only=False)["step"] == 3
    assert signal.getsignal(signal.SIGINT) is before


# SIGKILL loses steps 5, 6 (last checkpoint: step 4); SIGTERM / SIGINT checkpoint step 6, then
# raise SystemExit(128 + 15) / KeyboardInterrupt (which the child turns into exit code 130).
@pytest.mark.parametrize("sig, returncode, saved_step", [
    ("SIGKILL", -signal.SIGKILL, 4), ("SIGTERM", 128 + signal.SIGTERM, 6), ("SIGINT", 130, 6)])
def test_kill_and_resume_is_exact(tmp_path, one_thread, sig, returncode, saved_step):
    steps, every, kill_at = 12, 4, 6
    # the uninterrupted reference, in this process
    torch.manual_seed(0)
    ref = ToyMethod(dropout=0.1, mask_ratio=0.25, seed=3)
    cfg = TrainConfig(steps=steps, lr=1e-2, warmup_steps=2, clip_grad=1.0, seed=7, progress=False)
    ref_hist = train(ref, toy_batch, cfg).history

    script = tmp_path / "child.py"
    script.write_text(CHILD)
    ckpt, logs, out = tmp_path / "run.pt", tmp_path / "logs", tmp_path / "final.pt"
    args = [sys.executable, str(script), str(steps), str(every), str(ckpt), str(logs)]

    killed = subprocess.run(args + [str(kill_at), sig, str(out)], capture_output=True, text=True,
                            timeout=120)
    assert killed.returncode == returncode, killed.stderr
    assert not out.exists()
    assert torch.load(ckpt, weights_only=False)["step"] == saved_step
    logged = [json.loads(x)["step"] for x in (logs / "train.jsonl").read_text().splitlines()]
    assert logged == list(range(1, kill_at + 1))

    resumed = subprocess.run(args + ["-1", sig, str(out)], capture_output=True, text=True, timeout=120)
    assert resumed.returncode == 0, resumed.stderr
    final = torch.load(out)
    ref_state = ref.state_dict()
    assert final.keys() == ref_state.keys()
    assert all(torch.equal(final[k], ref_state[k]) for k in final), "resume is not bitwise exact"

    rows = [json.loads(x) for x in (logs / "train.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == list(range(1, steps + 1))  # each step exactly once
    assert [r["loss"] for r in rows] == [r["loss"] for r in ref_hist]
