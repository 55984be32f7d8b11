"""maskedav.perf: attention numerics against float64, input shapes of the papers' methods, timing rows."""
import math

import pytest
import torch

from maskedav import perf


def test_attention_numerics_fp32_matches_float64_and_reports_unavailable_kernels():
    rows = perf.attention_numerics("cpu", shapes=((1, 2, 32, 8),), dtypes=(torch.float32,))
    by_kernel = {r["kernel"]: r for r in rows}
    assert set(by_kernel) == set(perf.KERNELS)
    math_row = by_kernel["math"]
    assert math_row["available"] and math_row["rel_err"] < 1e-5 and math_row["max_abs_err"] < 1e-5
    for r in rows:   # a kernel that cannot run is a row with NaN errors, not an exception
        assert r["available"] or (math.isnan(r["rel_err"]) and r["note"])


@pytest.mark.parametrize("name", list(perf.PAPER_METHODS))
def test_dummy_batch_has_the_shapes_each_paper_config_asks_for(name):
    module, method_cls, config_cls, kwargs = perf.PAPER_METHODS[name]
    import importlib

    cfg = getattr(importlib.import_module(f"maskedav.methods.{module}"), config_cls).paper(**kwargs)
    method = type("M", (), {"config": cfg})()          # the config is all dummy_batch reads
    batch = perf.dummy_batch(method, 2)
    if "video" in batch:
        assert batch["video"].shape[2:] == (16, 224, 224) and 0 <= batch["video"].min() <= batch["video"].max() <= 1
    if "image" in batch:
        assert batch["image"].shape[2:] == (224, 224)
    if "fbank" in batch:
        assert batch["fbank"].shape[1:] == (1024, 128)
    if module == "av_maskenhancer":
        assert batch["audio"].shape == (2, cfg.audio_samples) == (2, 40960)
    assert batch


def test_training_numerics_on_cpu_are_one_computation_and_throughput_rows_are_complete():
    rows, cos = perf.training_numerics(small_profile="smoke", batch_size=2, steps=2, device="cpu")
    assert [r["rel_gap"] for r in rows] == [0.0, 0.0]          # autocast is off on CPU: identical runs
    assert cos == pytest.approx(1.0, abs=1e-6)
    spec = {"VideoMAE": perf.PAPER_METHODS["VideoMAE ViT-B (16×224², 90 % tube)"]}
    (row,) = perf.throughput("cpu", batch_size=2, steps=2, warmup=1, small_profile="smoke", methods=spec)
    assert row["precision"] == "fp32" and row["step_ms"] > 0
    assert row["clips_per_s"] == pytest.approx(2 / (row["step_ms"] / 1e3))


def test_cpu_speed_is_a_tidy_table_relative_to_eager_one_thread():
    settings = {k: v for k, v in perf.CPU_SETTINGS.items() if not v[1]}     # compiling takes minutes
    before = torch.get_num_threads()
    df = perf.cpu_speed("smoke", batch_size=2, steps=2, warmup=1, settings=settings)
    assert torch.get_num_threads() == before
    assert list(df.columns) == ["method", "setting", "threads", "ms_per_step", "ms_iqr", "speedup", "warmup_s", "note"]
    assert set(zip(df.method, df.setting)) == {(m, s) for m in ("videomae", "cav_mae") for s in settings}
    assert len(df) == 2 * len(settings) and (df.ms_per_step > 0).all() and (df.note == "").all()
    assert (df.threads == [settings[s][0] for s in df.setting]).all()
    for _, g in df.groupby("method"):
        base = g[g.setting == "eager, 1 thread"].ms_per_step.iloc[0]
        assert g.speedup.to_numpy() == pytest.approx(base / g.ms_per_step.to_numpy())


def test_deadline_raises_even_when_the_block_swallows_the_timeout():
    import time

    with pytest.raises(TimeoutError):
        with perf._deadline(0.05):
            while True:
                pass
    with pytest.raises(TimeoutError):                 # as AOTAutograd does with a failed backward compile
        with perf._deadline(0.05):
            try:
                time.sleep(1)
            except TimeoutError:
                pass
    with perf._deadline(5):                           # no timeout: nothing raised, the alarm is cleared
        pass


def test_pool_speed_times_the_same_runs_on_each_number_of_workers():
    from maskedav.perf import pool_speed

    df = pool_speed("smoke", runs=2, steps=2, batch_size=4, workers=(1, 2))
    assert list(df.columns) == ["method", "runs", "workers", "cores", "wall_s", "run_s", "speedup"]
    assert list(df.workers) == [1, 2] and (df.runs == 2).all()
    assert (df.wall_s > 0).all() and (df.run_s > 0).all()
    assert df.speedup.iloc[0] == 1.0 and df.speedup.iloc[1] == df.wall_s.iloc[0] / df.wall_s.iloc[1]
