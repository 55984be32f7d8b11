"""The study layer: readouts, the test-set floor, the learning gate, claims on a tidy frame, caching."""
import math

import numpy as np
import pandas as pd
import pytest
import torch

from maskedav.study import RANDOM_INIT, Claim, decide, gate, gate_table, layout_pool, paired_test_se
from maskedav.study.data import batch_fn
from maskedav.study.evaluate import readout_features, shift_flip


def test_layout_pool_keeps_time_and_quadrants():
    g = torch.zeros(1, 1, 2, 4, 4)
    g[0, 0, 0, :2, :2] = 4.0            # time 0, top-left quadrant
    g[0, 0, 1, 2:, 2:] = 8.0            # time 1, bottom-right quadrant
    f = layout_pool([g])
    assert f.shape == (1, 2 * 2 * 2)
    assert f[0].tolist() == [4.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 8.0]
    # time reversal changes the layout features but not the mean readout
    rev = g.flip(2)
    assert not torch.equal(layout_pool([rev]), f)
    assert torch.equal(readout_features([rev], "mean"), readout_features([g], "mean"))
    # two modalities side by side; a 2-D grid pools to 2 x 2; D is the fastest axis
    a = torch.arange(2 * 4 * 6, dtype=torch.float32).reshape(1, 2, 4, 6)
    both = layout_pool([g, a])
    assert both.shape == (1, 8 + 2 * 4)
    with pytest.raises(ValueError):
        layout_pool([torch.zeros(1, 2, 3)])


def test_paired_test_se_by_hand():
    a = np.array([1, 1, 0, 0], bool)
    b = np.array([1, 0, 0, 1], bool)
    d = np.array([0, 1, 0, -1], float)
    assert paired_test_se(a, b) == pytest.approx(100 * d.std(ddof=1) / 2)
    assert paired_test_se(a, a) == 0.0


def test_batch_fn_is_deterministic_in_the_step():
    data = {"video": torch.arange(10.0)[:, None], "label": torch.arange(10)}
    f1, f2 = batch_fn(data, 4, ["video", "label"], seed=3), batch_fn(data, 4, ["video", "label"], seed=3)
    assert torch.equal(f1(5)["label"], f2(5)["label"]) and torch.equal(f1(0)["label"], f2(0)["label"])
    epoch0 = torch.cat([f1(0)["label"], f1(1)["label"]])
    assert len(set(epoch0.tolist())) == 8                  # a permutation within the epoch


def test_batch_fn_draws_unpaired_keys_apart_from_the_clips():
    data = {"video": torch.arange(12.0)[:, None], "label": torch.arange(12), "image": torch.arange(100, 105)}
    plain = batch_fn(data, 4, ["video", "label"], seed=3)
    f1 = batch_fn(data, 4, ["video", "label", "image"], seed=3, unpaired=["image"])
    f2 = batch_fn(data, 4, ["video", "label", "image"], seed=3, unpaired=["image"])
    for step in range(6):
        b = f1(step)
        assert torch.equal(b["label"], plain(step)["label"])      # the clips' order is unchanged
        assert torch.equal(b["image"], f2(step)["image"])         # deterministic in the step (exact resume)
        assert len(b["image"]) == 4 and set(b["image"].tolist()) <= set(range(100, 105))
    # the images a clip meets change from epoch to epoch: no fixed clip-image pairing to memorise
    per_clip = {}
    for step in range(60):
        b = f1(step)
        for c, i in zip(b["label"].tolist(), b["image"].tolist()):
            per_clip.setdefault(c, set()).add(i)
    assert all(len(v) > 1 for v in per_clip.values())


def test_shift_flip_identity_and_shapes():
    x = torch.rand(3, 3, 4, 8, 8)
    g = torch.Generator().manual_seed(0)
    assert torch.equal(shift_flip(0, flip=False)({"video": x}, g)["video"], x)
    y = shift_flip(2, flip=True)({"video": x}, torch.Generator().manual_seed(1))["video"]
    assert y.shape == x.shape and not torch.equal(y, x)


def _frame(gains: dict, n_test: int = 2000, seeds=(0, 1, 2)) -> pd.DataFrame:
    """Rows of arms whose pre-trained encoder gets ``gain`` more clips right than its random init."""
    rng = np.random.default_rng(0)
    rows = []
    for arm, gain in gains.items():
        for s in seeds:
            base = rng.random(n_test) < 0.3
            pre = base.copy()
            flip = np.flatnonzero(~base)[: int(gain * n_test / 100)]
            pre[flip] = True
            for init, c in (("pretrained", pre), (RANDOM_INIT, base)):
                rows.append(dict(arm=arm, label=arm, seed=s, init=init, task="motion", protocol="probe",
                                 rep="", readout="layout", accuracy=100 * c.mean(), n_test=n_test, correct=c))
    return pd.DataFrame(rows)


def test_gate_passes_only_a_measurable_gain():
    fr = _frame({"strong": 10.0, "none": 0.0})
    g = gate(fr).set_index("arm")
    assert bool(g.loc["strong", "passes"]) and not bool(g.loc["none", "passes"])
    # the floor is the paired test-set SE (identical random inits across arms here)
    assert g.loc["strong", "floor_se"] > 0
    assert g.loc["strong", "gain"] == pytest.approx(10.0, abs=0.1)
    t = gate_table(fr, chance={"motion": 7.7})
    assert list(t.gate) == ["passes", "fails"] and (t.chance == 7.7).all()


def test_claims_are_untestable_when_an_arm_fails_the_gate():
    fr = _frame({"strong": 10.0, "weak": 0.0, "other": 12.0})
    claims = [Claim("c1", "t", "strong beats weak", 1.0, "strong", "weak", "motion"),
              Claim("c2", "t", "other beats strong", 1.0, "other", "strong", "motion"),
              Claim("c3", "t", "strong beats its random init", 1.0, "strong", ("strong", RANDOM_INIT), "motion")]
    v = decide(fr, claims)
    assert v["c1"].verdict == "untestable" and "weak" in v["c1"].note
    assert v["c2"].verdict in ("reproduced", "inconclusive") and v["c2"].paired
    assert v["c3"].verdict == "reproduced"
    assert v["c2"].floor_se > 0 and not math.isnan(v["c2"].mde)


def test_an_arm_with_too_few_seeds_leaves_its_claims_inconclusive_not_untestable():
    fr = pd.concat([_frame({"strong": 10.0}), _frame({"single": 15.0}, seeds=(0,))], ignore_index=True)
    g = gate(fr).set_index("arm")
    assert g.loc["single", "status"] == "too few seeds" and not bool(g.loc["single", "passes"])
    assert g.loc["strong", "status"] == "passes"
    assert list(gate_table(fr).set_index("arm").gate[["strong", "single"]]) == ["passes", "too few seeds"]
    v = decide(fr, [Claim("c", "t", "single beats strong", 1.0, "single", "strong", "motion")])
    assert v["c"].verdict == "inconclusive" and v["c"].n_seeds == 1


def test_a_claims_unit_reaches_its_table_and_the_ledger(tmp_path):
    from maskedav.study import claims_table, record

    fr = _frame({"strong": 10.0, "other": 12.0})
    claims = [Claim("c1", "t", "other beats strong", 1.0, "other", "strong", "motion"),
              Claim("c2", "t", "other has the higher score", 1.0, "other", "strong", "motion", unit="MSE")]
    v = decide(fr, claims)
    assert list(claims_table(claims, v).unit) == ["accuracy points", "MSE"]       # the default: accuracy
    ledger = record("pa", claims, v, results_dir=tmp_path, profile="cpu")
    assert dict(zip(ledger.claim_id, ledger.unit)) == {"c1": "accuracy points", "c2": "MSE"}


def test_study_pretrain_is_cached_by_content_key(tmp_path, monkeypatch):
    monkeypatch.setenv("MASKEDAV_CACHE", str(tmp_path))
    monkeypatch.setenv("MASKEDAV_WORKERS", "1")
    from maskedav.methods.videomae import VideoMAEConfig
    from maskedav.profiles import get_profile
    from maskedav.study import Arm, Study
    from maskedav.study import data as D

    D.clear()
    P = get_profile("smoke")
    S = Study(P, "test")
    arm = Arm("v", "videomae", VideoMAEConfig.from_profile(P))
    first = S.pretrain([arm], [0])[0]
    again = S.pretrain([arm], [0])[0]
    assert not first.cached and again.cached and again.eval_history == first.eval_history
    # a CPU run records its worker's process time, read back from the cache; cost_s reports it
    assert first.cpu_s > 0 and again.cpu_s == first.cpu_s and again.cost_s == first.cpu_s
    other = S.pretrain([Arm("v", "videomae", VideoMAEConfig.from_profile(P, mask_ratio=0.75))], [0])[0]
    assert not other.cached                              # another config: another key, trained again
    assert other.model().config.mask_ratio == 0.75
    with pytest.raises(RuntimeError, match="now holds another run"):
        again.model()                                    # its checkpoint was replaced by `other`
    assert VideoMAEConfig.from_profile(P).norm_pix is None          # small profiles: raw-pixel target
    assert VideoMAEConfig.from_profile(get_profile("paper")).norm_pix == "per_channel"
    D.clear()


def test_fbank_stats_do_not_depend_on_the_thread_count():
    from maskedav.study.data import fbank_stats

    x = torch.randn(512, 98, 64, generator=torch.Generator().manual_seed(0)) * 3 - 4
    before = torch.get_num_threads()
    try:
        out = []
        for t in (1, 2):
            torch.set_num_threads(t)
            out.append(fbank_stats(x))
    finally:
        torch.set_num_threads(before)
    assert out[0] == out[1]
    m = x.double().mean().item()
    assert out[0][0] == float(torch.tensor(m, dtype=torch.float32))


def test_headline_counts_verdicts_and_lists_decided_claims_in_natural_order():
    from maskedav.study import headline

    ledger = pd.DataFrame([
        dict(claim_id="X10", table="t", statement="ten", measured_effect=-2.0, unit="accuracy points",
             verdict="contradicted", raw_verdict="contradicted"),
        dict(claim_id="X2", table="t", statement="two", measured_effect=1.5, unit="MSE",
             verdict="reproduced", raw_verdict="reproduced"),
        dict(claim_id="X3", table="t", statement="three", measured_effect=0.4, unit="accuracy points",
             verdict="inconclusive", raw_verdict="reproduced"),
        dict(claim_id="X4", table="t", statement="four", measured_effect=0.1, unit="accuracy points",
             verdict="inconclusive", raw_verdict="inconclusive"),
    ])
    text = headline(ledger)
    assert text.startswith("Of the chapter's 4 claims at this profile, 1 is *reproduced*, 1 is *contradicted*, "
                           "2 are *inconclusive*")
    decided, raw_only = text.split("Decided before the adjustment only")
    assert decided.index("**X2**") < decided.index("**X10**")          # natural order, not "X10" < "X2"
    assert "+1.5 MSE" in decided and "X3" not in decided and "X4" not in text
    assert "**X3** (t) reproduced: _three_" in raw_only
    none = headline(ledger.assign(verdict="inconclusive", raw_verdict="inconclusive"))
    assert "None is decided" in none


def test_av_event_ceiling_is_set_against_the_actor_shape_rule():
    from maskedav.data.sanity import task_structure
    from maskedav.profiles import get_profile
    from maskedav.study import describe_av_event_ceiling
    from maskedav.study.data import synthav_config

    cfg = synthav_config(get_profile("smoke"))
    rule = task_structure(cfg).set_index("objects").loc["all", "actor_shape_rule"]
    low = describe_av_event_ceiling(pd.DataFrame({"task": ["av_event"], "accuracy": [rule - 1]}), cfg)
    high = describe_av_event_ceiling(pd.DataFrame({"task": ["av_event"], "accuracy": [rule + 1]}), cfg)
    assert "is below" in low and "no claim rests on them" in low and f"({rule:.1f} %" in low
    assert "is above" in high and "measure binding" in high


def test_run_cost_is_process_time_when_recorded_else_wall_time():
    from maskedav.study import Run

    assert Run(None, 0, "", train_s=90.0, cpu_s=60.0).cost_s == 60.0     # 3 workers on 2 cores: 1.5x wall
    assert Run(None, 0, "", train_s=90.0).cost_s == 90.0                # cached before cpu_s: wall time


def test_cpu_workers_let_equal_jobs_finish_together():
    from maskedav.study.executor import cpu_workers, default_workers, pool_wall

    # wall time of n equal jobs on w >= cores workers: ceil(n / w) * w / cores job lengths
    assert [pool_wall(3, w, 2) for w in (1, 2, 3, 4)] == [3.0, 2.0, 1.5, 1.5]
    assert pool_wall(9, 3, 2) == 4.5 and pool_wall(4, 4, 2) == 2.0 and pool_wall(2, 2, 4) == 1.0
    assert [cpu_workers(n, 2) for n in (1, 2, 3, 4, 5, 6, 9)] == [1, 2, 3, 2, 5, 2, 3]
    assert cpu_workers(7, 2) == 2                      # 7 on 7 would beat it, but the cap is 6: 4 lengths either way
    assert cpu_workers(27, 2) == 3 and cpu_workers(25, 2, cap=6) == 5
    assert cpu_workers(3, 4) == 3                      # never more workers than jobs
    assert default_workers("cpu", 3, work=5) == 1      # short jobs stay in the process
