"""The performance targets' measurements (maskedav.bench): counted FLOPs by hand, the reference-style
attention equal to the fused one, and the targets' table's structure on the CPU."""
import math

import pytest
import torch

from maskedav import bench


class _Linear(torch.nn.Module):
    def __init__(self, d_in, d_out):
        super().__init__()
        self.lin = torch.nn.Linear(d_in, d_out)

    def forward(self, batch):
        return self.lin(batch["x"]).square().mean(), {}


def test_train_flops_count_forward_and_backward_by_hand():
    B, d_in, d_out = 5, 7, 3
    flops = bench.train_flops(_Linear(d_in, d_out), {"x": torch.randn(B, d_in)}, device="cpu")
    # forward 2·B·in·out; backward: the weight gradient 2·B·in·out (the input needs no gradient, so
    # autograd skips the input-gradient matmul)
    assert flops == 4 * B * d_in * d_out


def test_reference_style_attention_is_the_same_function():
    model = bench.build_workload("VideoMAE ViT-B pre-training (16×224², 90 % tube)", small_profile="smoke")
    batch = bench.workload_batch(model, 2)
    model.eval()
    mask = model.draw_mask(2)
    with torch.no_grad():
        fused, _ = model(batch, mask=mask)
        n = bench.reference_style(model)
        explicit, _ = model(batch, mask=mask)
    assert n == model.config.vit.depth + model.config.vit.decoder_depth
    torch.testing.assert_close(explicit, fused, rtol=1e-5, atol=1e-6)


def test_targets_table_on_the_cpu():
    label = "AudioMAE ViT-B pre-training (1024×128 fbank, 80 %)"
    table, peak = bench.targets("cpu", small_profile="smoke", workloads=[label], steps=1, warmup=1,
                                reference_batches=(2,), fast_batches=(2, 4), compile=False, peak_n=64)
    assert peak > 0 and list(table.config) == ["reference-style", "fast", "fast"]
    assert set(table.workload) == {bench.SMALL_LABELS[label]}
    best = table[table.best]
    assert len(best) == 1 and best.clips_per_s.iloc[0] == table[table.config == "fast"].clips_per_s.max()
    ref = table[table.config == "reference-style"].iloc[0]
    assert best.speedup.iloc[0] == pytest.approx(best.clips_per_s.iloc[0] / ref.clips_per_s)
    assert best.met.isna().all()                                       # not decided off a GPU
    assert ref.attention.startswith("explicit") and ref.adamw == "default" and ref.precision == "fp32"
    # MFU = achieved FLOP/s over the measured peak
    r = table.iloc[1]
    assert r.mfu == pytest.approx(r.clips_per_s * r.gflop_per_clip * 1e9 / peak)
    assert math.isfinite(r.gflop_per_clip) and r.gflop_per_clip > 0
