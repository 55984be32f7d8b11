"""The XKD chapter's arms, tables, claims and diagnostics (the model itself: tests/test_xkd.py)."""
import math
from types import SimpleNamespace

import pandas as pd
import pytest
import torch

from maskedav.chapters import xkd as ch
from maskedav.chapters import xkd_figures as figs
from maskedav.chapters.xkd_paper import PAPER_TABLES
from maskedav.profiles import get_profile
from maskedav.study import Study


def test_plan_at_cpu_trains_the_core_on_every_seed_and_skips_the_gpu_only_variants():
    P = get_profile("cpu")
    base = ch.base_config(P, Study(P, "baselines"))
    arms = ch.plan(P, base)
    assert set(ch.CORE) <= set(arms) and not set(ch.GPU_ONLY) & set(arms)
    for name, arm in arms.items():
        assert arm.steps == 1000 and arm.init_id == "xkd" and arm.keys == ("fbank", "video")
        assert arm.seed_list(P.seed_list) == (P.seed_list if name in ch.CORE else P.seed_list[:1])
        assert arm.config.ema_total_steps == 1000                  # Eq. 13's cosine over the run
    # the switches change losses and heads only: the encoders of a seed are the same network
    assert arms["xkd"].config.video == arms["recon_v"].config.video
    assert arms["no_kd"].config.kd_weight == 0 and arms["ae"].config.da_weight == 0
    # the plan's arithmetic: seeds x steps x measured step cost
    t = ch.plan_table(P).set_index("arm")
    assert t.loc["xkd", "pretrain_cpu_s"] == pytest.approx(3 * 1000 * ch.STEP_COST_S["xkd"])
    assert t.loc["no_kd", "pretrain_cpu_s"] == pytest.approx(1000 * ch.STEP_COST_S["xkd"])
    assert "Not trained at this profile: da1" in ch.budget_prose(P)


def test_every_table_row_claim_and_diagnostic_names_a_variant_and_a_paper_row():
    for table, rows in ch.TABLE_ARMS.items():
        paper_rows = {r[0] for r in PAPER_TABLES[table].rows}
        for row, entry in rows:
            name, role = ch._arm_of(entry)
            assert name is None or name in ch.VARIANTS, (table, row)
            assert row in paper_rows or "not in the" in row or "later version" in row, (table, row)
            if role == "teacher":
                assert name in ch.TEACHER_ARMS
    for c in ch.claims():
        for arm in (c.a, c.b):
            name, rep = arm.split("@")
            assert name in ch.VARIANTS and rep in ch._reps(name), c.id
        assert c.table in PAPER_TABLES
    assert len({c.id for c in ch.claims()}) == len(ch.claims())
    assert set(ch.COLLAPSE_ARMS) <= set(ch.VARIANTS)


def _runs(kl: dict, steps=100):
    """An ArmRuns-like object whose seed-0 runs log a constant KL and KD per arm."""
    runs, labels = {}, {}
    for name, value in kl.items():
        hist = [dict(step=s + 1, kld_a2v=value, kld_v2a=value, kd_a2v=1.0, kd_v2a=2.0, teacher_entropy_v=3.0,
                     teacher_entropy_a=2.0) for s in range(steps)]
        runs[name] = [SimpleNamespace(seed=0, history=hist, eval_history=[])]
        labels[name] = f"label {name}"
    arms = {n: SimpleNamespace(config=SimpleNamespace(proj_out=64)) for n in kl}
    return SimpleNamespace(runs=runs, arms=arms, label=lambda n: labels[n], P=get_profile("smoke"))


def test_collapse_rule_is_relative_to_the_default_run():
    t = ch.collapse_table(_runs({"xkd": 0.5, "no_da": 0.04, "proj_none": 0.06, "no_center": 0.5})).set_index("arm")
    assert t.loc["xkd", "collapsed"] == "(reference)"
    assert t.loc["no_da", "kl_vs_xkd"] == pytest.approx(0.08) and t.loc["no_da", "collapsed"] == "yes"
    assert t.loc["proj_none", "collapsed"] == "no"             # 0.12 of the default: above the 0.1 rule
    assert t.loc["no_center", "collapsed"] == "no" and t.loc["xkd", "kd_v2a"] == 2.0
    text = ch.describe_collapse(t.reset_index())
    assert "The paper expects all 3 to collapse; 1 did" in text and "label no_da collapsed" in text
    assert t.loc["xkd", "entropy_vs_uniform"] == pytest.approx(2.5 / math.log(64))   # mean of 3.0 and 2.0 nats: 60 %
    assert "No arm's teachers end near the uniform" in text


def test_pointing_game_and_source_cover_by_hand():
    # one clip, a 1 x 2 x 2 token grid over a 2 x 4 x 4 clip; the sounding object fills the top-left quarter
    src = torch.zeros(1, 2, 4, 4, dtype=torch.bool)
    src[:, :, :2, :2] = True
    cover = figs.source_cover(src, (1, 2, 2))
    assert cover.flatten().tolist() == [1.0, 0.0, 0.0, 0.0]
    sal = {"without": torch.tensor([[[[0.0, 1.0], [0.0, 0.0]]]]), "with": torch.tensor([[[[2.0, 1.0], [0.0, 0.0]]]])}
    hit = figs.pointing_game(sal, cover)
    assert hit == {"without": 0.0, "with": 100.0, "chance": 25.0}


def test_teacher_entropies_at_the_common_temperature():
    from maskedav.methods.xkd import XKD, XKDConfig

    torch.manual_seed(0)
    m = XKD(XKDConfig.from_profile(get_profile("smoke")))
    v, a = m.config.video, m.config.audio
    batch = {"video": torch.rand(3, 3, *v.input_size), "fbank": torch.randn(3, *a.input_size)}
    e = figs.teacher_entropies(m, batch)
    assert len(e) == 3 * 2 * 2 and e.entropy.between(0, math.log(m.config.proj_out) + 1e-5).all()
    own = e[(e.temperature == "own")].groupby("modality").tau.first()
    assert own["audio"] == m.config.teacher_temp_a and own["video"] == m.config.teacher_temp_v
    assert (e[e.temperature == "common"].tau == figs.COMMON_TEMP).all()
    s = figs.sharpness_table(e.assign(seed=0))
    assert list(s.columns) == ["seed", "temperature", "modality", "tau", "median_entropy", "median_max_p"]
