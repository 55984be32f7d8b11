"""The CrossVideoMAE chapter's plan, arms, budget, tables and claims (fast: nothing is trained)."""
import math

import pytest
import torch

from maskedav.chapters import crossvideomae as ch
from maskedav.methods.crossvideomae import CrossVideoMAE, CrossVideoMAEConfig
from maskedav.profiles import get_profile


@pytest.fixture(scope="module")
def cpu():
    return get_profile("cpu")


@pytest.fixture(scope="module")
def smoke():
    return get_profile("smoke")


@pytest.fixture(scope="module")
def cpu_plan(cpu):
    return ch.plan(cpu)


def test_every_variant_is_one_config_switch(cpu):
    base = CrossVideoMAEConfig.from_profile(cpu)
    for name, v in ch.VARIANTS.items():
        if v.method == "videomae":
            continue
        cfg = CrossVideoMAEConfig.from_profile(cpu, **v.switches)
        if name.startswith("dec"):
            assert cfg.vit.decoder_depth == v.switches["decoder_depth"]
            assert cfg.image == base.image
            continue
        diff = {f for f in cfg.to_dict() if cfg.to_dict()[f] != base.to_dict()[f]}
        assert diff <= set(v.switches), (name, diff)


def test_cpu_plan_core_on_every_seed_extras_on_one(cpu, cpu_plan):
    for name, a in cpu_plan.items():
        seeds = a.seed_list(cpu.seed_list)
        if name in ch.CORE:
            assert seeds == cpu.seed_list
        else:
            assert len(seeds) == ch.EXTRA_SEEDS
    assert set(cpu_plan) == set(ch.profile_variants(cpu))      # every variant runs at cpu
    assert set(ch.CORE) <= set(cpu_plan)


def test_smoke_plan_runs_everything_on_every_seed(smoke):
    pl = ch.plan(smoke)
    assert set(pl) == set(ch.profile_variants(smoke))
    assert all(a.seeds is None for a in pl.values())


def test_arms_continue_from_the_baselines_checkpoints(cpu, cpu_plan):
    steps = ch.budget_steps(cpu)
    assert steps == round(cpu.train.steps * ch.BUDGET_FRACTION)
    for name, a in cpu_plan.items():
        assert a.factory is not None and a.key_extra, name
        kinds = [r.kind for r in a.factory.keywords["refs"]]
        assert kinds == (["video"] if a.method == "videomae" else ["video", "image"])
        assert a.steps == round(steps * ch.VARIANTS[name].steps_factor)
        assert dict(a.train_overrides)["warmup_steps"] >= 1
    assert cpu_plan["control"].config == ch.start_arms(cpu)["videomae"].config
    assert cpu_plan["control_2x"].steps == 2 * cpu_plan["control"].steps


def test_the_profiles_decoder_depth_is_the_default_arm(cpu, smoke):
    for P in (cpu, smoke):
        assert ch.depth_arm(P, P.model.decoder_depth) == "cvm"
        assert f"dec{P.model.decoder_depth}" not in ch.profile_variants(P)


def test_plan_table_budget(cpu):
    t = ch.plan_table(cpu)
    total = t.iloc[-1]
    body = t.iloc[:-1]
    assert math.isclose(total.pretrain_cpu_s, body.pretrain_cpu_s.sum())
    assert (body.seeds > 0).all()
    wall_min = (total.pretrain_cpu_s + total.eval_cpu_s) / 2 / 60
    assert 20 <= wall_min <= 40, wall_min
    assert f"{wall_min:.0f} min" in ch.budget_prose(cpu)


def test_claims_are_fixed_and_name_known_arms(cpu):
    cs = ch.claims(cpu)
    ids = [c.id for c in cs]
    assert len(ids) == len(set(ids))
    known = set(ch.VARIANTS) | {"start", "mae_start"}
    manifest = {"table1", "table2", "table3", "table4", "table5", "table6", "table7"} | {f"tableS{i}" for i in range(1, 14)}
    for c in cs:
        assert c.a.split("@")[0] in known and c.b.split("@")[0] in known, c
        assert c.table in manifest
    core_claims = {c.id for c in cs if {c.a.split("@")[0], c.b.split("@")[0]} <= set(ch.CORE) | {"start", "mae_start"}}
    assert {"X1", "X2", "X4", "X5", "X6", "X7", "X8", "X9", "X10", "X11", "X13"} <= core_claims


def test_ablation_specs_map_rows_to_arms(cpu):
    for table, (cols, _, rows) in ch.ablation_specs(cpu).items():
        for label, vals, name in rows:
            assert len(vals) == len(cols), (table, label)
            assert name is None or name in ch.VARIANTS or name == "start", (table, name)
    assert all(name is None for _, _, name in ch.ablation_specs(cpu)["table4"][2])


def test_config_tables_flag_deviations():
    s1 = ch.table_s1()
    assert s1.set_index("item").loc["video tokens (T×S)", "library"].endswith("= 1568")
    assert s1.set_index("item").loc["video mask", "library"].endswith("78 visible")
    assert s1.set_index("item").loc["image mask", "library"].endswith("19 visible")
    assert s1.flag.str.startswith("differs").any()
    for t in (ch.table_s2(), ch.table_s3(), ch.table_s4()):
        assert {"item", "paper", "library", "flag"} <= set(t.columns)
        assert t.flag.str.startswith("differs").any()
    assert (ch.table_s2().flag == "").any()


def test_paper_tables_transcribed():
    assert len(ch.PAPER_TABLE1) == 34 and ch.PAPER_TABLE1[-1]["SSv2"] == 73.7
    assert ch.PAPER_TABLE_S5[-1]["SSv2"] == 31.2 and ch.PAPER_TABLE_S8[-1]["HMDB51 R@1"] == 49.7
    assert ch.PAPER_TABLE_S6[-1]["Acc@1"] == 73.7 and ch.PAPER_TABLE_S7[-1]["Acc@1"] == 83.2


def test_token_budget(cpu):
    t = ch.token_budget(cpu).set_index(["branch", "ratio"])
    assert t.loc[("video", 0.95), "visible"] == int(t.loc[("video", 0.95), "tokens"] * 0.05)
    assert 0 < t.loc[("video", 0.95), "p_slice_empty"] < 1


def test_unrelated_arm_reads_the_unrelated_image_set(smoke):
    """Supp Tab. 13's arm: the study layer feeds SynthAV's unrelated images as ``batch["image"]``,
    drawn apart from the clips; the other arms have no unpaired data (their run keys are unchanged)."""
    from maskedav.data.synthav import generate_images
    from maskedav.study import Study

    assert ch.arm(smoke, "cvm").unpaired == ()
    a = ch.arm(smoke, "unrelated")
    assert a.unpaired == (("image", "unrelated"),)
    S = Study(smoke, "crossvideomae-test")
    data = S.pretrain_data(a)
    assert data["image"].shape[0] == min(smoke.data.n_pretrain, S.synthav.n_images)
    assert torch.equal(data["image"][:3], generate_images(S.synthav, "unrelated", range(3))["image"])
    held = S.heldout_data(a, n=8)
    assert set(held) == {"video", "image"} and len(held["image"]) == len(held["video"]) == 8
    assert S.run_key(a, 0) != S.run_key(ch.arm(smoke, "cvm"), 0)
    m = CrossVideoMAE(a.config)
    loss, _ = m({"video": held["video"][:2], "image": held["image"][:2]})
    assert torch.isfinite(loss)


def test_partial_video_load_keeps_encoder_and_shared_decoder(smoke):
    from maskedav.chapters import baselines
    from maskedav.study.runs import method_class

    video = method_class("videomae")(baselines.build_config("videomae", smoke))
    m = CrossVideoMAE(CrossVideoMAEConfig.from_profile(smoke, decoder_depth=smoke.model.decoder_depth + 1))
    ch._load_video(m, video)
    for k, v in video.encoder.state_dict().items():
        assert torch.equal(m.encoder.state_dict()[k], v)
    assert torch.equal(m.decoder.blocks[0].state_dict()[next(iter(m.decoder.blocks[0].state_dict()))],
                       video.decoder.blocks[0].state_dict()[next(iter(video.decoder.blocks[0].state_dict()))])
