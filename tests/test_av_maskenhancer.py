"""AV-MaskEnhancer: the model (fusion shapes and masking, audio reaching the decoder, the shuffled-audio
control, the audio-free downstream encoder, every switch) and the chapter on the study layer (budgets and
arms, the reused VideoMAE, the shared random init, the held-out evaluation, the claims' rules, tables)."""
import dataclasses
import inspect
import math

import pytest
import torch

from maskedav.chapters import av_maskenhancer as ch
from maskedav.losses import masked_mse, patchify_video
from maskedav.masking import tube_mask
from maskedav.methods.av_maskenhancer import MFCC, AVMaskEnhancer, AVMaskEnhancerConfig, SlotConcat, derangement
from maskedav.methods.videomae import VideoMAE

B = 4


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _cfg(**changes) -> AVMaskEnhancerConfig:
    # the smoke profile's sizes: 8 frames of 32x32, tubelet 2x8x8 -> 4x4x4 tokens, dim 32, 1 s of audio
    return AVMaskEnhancerConfig.from_profile("smoke", **changes)


def _batch(seed: int = 0, audio_seed: int | None = None) -> dict:
    g = torch.Generator().manual_seed(seed)
    video = torch.rand(B, 3, 8, 32, 32, generator=g)
    ga = torch.Generator().manual_seed(seed if audio_seed is None else audio_seed)
    t = torch.arange(16000) / 16000
    f0 = 200 + 600 * torch.rand(B, 1, generator=ga)
    audio = 0.5 * torch.sin(2 * math.pi * f0 * t) + 0.05 * torch.randn(B, 16000, generator=ga)
    return dict(video=video, audio=audio)


def _model(**changes) -> AVMaskEnhancer:
    torch.manual_seed(0)
    return AVMaskEnhancer(_cfg(**changes)).eval()


def _mask(cfg, seed=1):
    return tube_mask(B, cfg.grid, cfg.mask_ratio, seed=seed)


# ------------------------------------------------------------------------------------ shapes, masking
@pytest.mark.parametrize("ratio", [0.75, 0.9, 0.95])
def test_fusion_shapes_and_tube_masking(ratio):
    m = _model(mask_ratio=ratio)
    cfg = m.config
    mask = m.draw_mask(B)
    t, h, w = cfg.grid
    assert mask.mask.shape == (B, t * h * w)
    # tube masking: one spatial map per clip, the same in every time slot, VideoMAE's int() floor
    spatial = mask.mask.view(B, t, h * w)
    assert torch.equal(spatial, spatial[:, :1].expand_as(spatial))
    assert mask.num_keep == cfg.num_visible == t * (h * w - int(ratio * h * w))
    b = _batch()
    x = m.space.model_input(b["video"])
    t_v = m.encoder(x, mask)
    assert t_v.shape == (B, cfg.num_visible, cfg.vit.dim)
    t_a = m.encode_audio(m.audio_features(b["audio"]))
    assert t_a.shape == (B, m.num_audio_tokens, cfg.vit.dim)
    fused = m.latent(b, x, mask)
    assert fused.shape == (B, cfg.num_visible, 2 * cfg.vit.dim)          # N_fuse = N_vis, D_fuse = 2 D_v
    pred = m.decoder(fused, mask)
    assert pred.shape == (B, t * h * w - cfg.num_visible, cfg.patch_dim)  # masked tokens only
    assert m.decoder.embed.in_features == 2 * cfg.vit.dim


def test_slot_alignment_gathers_each_tokens_time_slot():
    grid = (4, 2, 2)
    fusion = SlotConcat(grid, "slot")
    n_a = 8                                                   # two audio steps per tubelet slot
    t_a2v = torch.arange(n_a, dtype=torch.float32).view(1, n_a, 1).expand(1, n_a, 3)
    ids_keep = torch.tensor([[0, 5, 10, 15]])                 # one visible token in each slot t = id // 4
    out = fusion.align(t_a2v, ids_keep)
    expected = torch.tensor([0.5, 2.5, 4.5, 6.5])             # mean of the slot's two audio steps
    assert torch.allclose(out[0, :, 0], expected)
    glob = SlotConcat(grid, "global").align(t_a2v, ids_keep)
    assert torch.allclose(glob[0, :, 0], torch.full((4,), 3.5))
    cat = fusion(torch.zeros(1, 4, 2), t_a2v, ids_keep)
    assert cat.shape == (1, 4, 5)


def test_mfcc_front_end():
    front = MFCC()
    t = torch.arange(16000) / 16000
    low, high = torch.sin(2 * math.pi * 250 * t), torch.sin(2 * math.pi * 750 * t)
    feats = front(torch.stack([low, high]))
    assert feats.shape == (2, front.num_frames(16000), 13) == (2, 98, 13)
    assert torch.isfinite(feats).all()
    assert not torch.allclose(feats[0], feats[1], atol=1e-2)          # pitch is visible to the encoder


# ------------------------------------------------------------------------------------ audio matters
@pytest.mark.parametrize("changes", [dict(), dict(cross_attention=False),
                                     dict(cross_attention=False, audio_alignment="global")],
                         ids=["xattn", "wo_xattn", "wo_xattn_global"])
def test_audio_reaches_the_decoder(changes):
    m = _model(**changes)
    b1, b2 = _batch(0), _batch(0, audio_seed=99)              # same video, other audio
    mask = _mask(m.config)
    l1, _ = m(b1, mask=mask)
    l2, _ = m(b2, mask=mask)
    assert not torch.isclose(l1, l2)
    # ... and gradients reach the audio encoder through the reconstruction loss
    m.train()
    loss, _ = m(b1, mask=mask)
    loss.backward()
    g = m.audio_encoder.proj.weight.grad
    assert g is not None and g.abs().sum() > 0


def test_precomputed_mfcc_equals_waveform_path():
    m = _model()
    b = _batch()
    mask = _mask(m.config)
    l_wave, _ = m(b, mask=mask)
    l_mfcc, _ = m(dict(video=b["video"], mfcc=m.audio_features(b["audio"])), mask=mask)
    assert torch.allclose(l_wave, l_mfcc, atol=1e-6)


# ------------------------------------------------------------------------------------ the control
def test_derangement_has_no_fixed_point():
    g = torch.Generator().manual_seed(0)
    for n in (2, 3, 5, 32):
        for _ in range(50):
            p = derangement(n, generator=g)
            assert sorted(p.tolist()) == list(range(n))
            assert (p != torch.arange(n)).all()
    with pytest.raises(ValueError):
        derangement(1)


def test_shuffled_audio_control_really_shuffles():
    m = _model(shuffle_audio=True)
    b = _batch()
    mfcc = m.audio_features(b["audio"])
    mask = _mask(m.config)
    state = m.audio_generator.get_state()
    perm = derangement(B, generator=m.audio_generator)                 # what the next forward will draw
    m.audio_generator.set_state(state)
    assert (perm != torch.arange(B)).all()
    l_ctrl, _ = m(dict(video=b["video"], mfcc=mfcc), mask=mask)
    l_manual, _ = m(dict(video=b["video"], mfcc=mfcc, audio_perm=perm), mask=mask)
    l_own, _ = m(dict(video=b["video"], mfcc=mfcc, audio_perm=torch.arange(B)), mask=mask)
    assert torch.allclose(l_ctrl, l_manual, atol=1e-6)                  # the control used that derangement
    assert not torch.isclose(l_ctrl, l_own)                             # ... which is not the clips' own audio
    # the draws come from their own generator: masks are the same as in the matched-audio variant
    assert torch.equal(_model(shuffle_audio=True).draw_mask(B).mask, _model().draw_mask(B).mask)


# ------------------------------------------------------------------------------------ downstream encoder
def test_downstream_encoder_takes_no_audio():
    m = _model()
    params = inspect.signature(m.encoder.forward).parameters
    assert list(params) == ["x", "mask"] and not any("audio" in p or "mfcc" in p for p in params)
    b1, b2 = _batch(0), _batch(0, audio_seed=99)
    e1, e2 = m.embed(b1), m.embed(b2)
    assert e1.shape == (B, m.config.vit.dim)
    assert torch.equal(e1, e2)
    assert torch.equal(m.embed({"video": b1["video"]}), e1)           # no audio needed at all
    f1, f2 = m.features(b1), m.features(b2)
    assert all(torch.equal(f1[k], f2[k]) for k in f1)
    # the study layer's readout: the video encoder's tokens on the (t, h, w) grid, audio ignored
    (g1,), (g2,) = m.grid_tokens(b1), m.grid_tokens({"video": b1["video"]})
    assert g1.shape == (B, m.config.vit.dim, *m.config.grid) and torch.equal(g1, g2)
    assert torch.allclose(g1.flatten(2).mean(2), e1, atol=1e-6)


def test_video_only_variant_is_videomae():
    cfg = _cfg(audio=False)
    torch.manual_seed(0)
    av = AVMaskEnhancer(cfg)
    vm = VideoMAE(cfg.videomae_config())
    vm.load_state_dict(av.state_dict())                     # identical module tree and parameter shapes
    assert av.audio_encoder is None and av.xattn_v2a is None and av.fusion is None
    b = _batch()
    mask = _mask(cfg)
    assert torch.allclose(av(b, mask=mask)[0], vm(b, mask=mask)[0])
    # and with the same seed they draw the same masks
    assert torch.equal(AVMaskEnhancer(cfg).draw_mask(B).mask, VideoMAE(cfg.videomae_config()).draw_mask(B).mask)


# ------------------------------------------------------------------------------------ switches
def test_every_switch_changes_what_it_says():
    full, wo, glob, video = _model(), _model(cross_attention=False), \
        _model(cross_attention=False, audio_alignment="global"), _model(audio=False)
    n = lambda mod: sum(p.numel() for p in mod.parameters())  # noqa: E731
    # cross_attention: the two blocks exist only when on; the rest of the model is the same
    assert full.xattn_v2a is not None and full.xattn_a2v is not None
    assert wo.xattn_v2a is None and wo.xattn_a2v is None
    assert n(full) - n(wo) == n(full.xattn_v2a) + n(full.xattn_a2v)
    # audio: no audio modules, the decoder reads D_v instead of 2 D_v
    assert video.audio_encoder is None and video.decoder.embed.in_features == video.config.vit.dim
    # alignment: "global" gives every visible token the same audio half, "slot" does not
    b = _batch()
    mask = _mask(full.config)
    x = full.space.model_input(b["video"])
    D = full.config.vit.dim
    slot_half = wo.latent(b, x, mask)[..., D:]
    glob_half = glob.latent(b, x, mask)[..., D:]
    assert torch.allclose(glob_half, glob_half[:, :1].expand_as(glob_half))
    assert not torch.allclose(slot_half, slot_half[:, :1].expand_as(slot_half))
    # without cross-attention the visual half is the encoder output itself (identity)
    assert torch.allclose(wo.latent(b, x, mask)[..., :D], wo.encoder(x, mask))
    # mask ratio: visible-token counts
    assert [_model(mask_ratio=r).draw_mask(B).num_keep for r in (0.75, 0.9, 0.95)] == [16, 8, 4]
    # norm_pix: the loss is the masked MSE of the chosen target normalisation
    for norm in (None, "per_channel"):
        m = _model(norm_pix=norm)
        pred = m.decoder(m.latent(b, x, mask), mask)
        ref = masked_mse(pred, patchify_video(b["video"], 8, 2), mask, norm_pix=norm)
        assert torch.allclose(m(b, mask=mask)[0], ref)
    # shuffle_audio: the same weights give another loss than with the clips' own audio
    ctrl = _model(shuffle_audio=True)
    assert not torch.isclose(ctrl(b, mask=mask)[0], full(b, mask=mask)[0])
    assert set(ch.VARIANTS) == {"videomae", "av_wo_xattn", "av_wo_xattn_global", "av_xattn", "av_xattn_shuffled"}


def test_masks_are_reproducible_and_fixed_masks_are_used():
    m1, m2 = _model(seed=3), _model(seed=3)
    assert torch.equal(m1.draw_mask(B).mask, m2.draw_mask(B).mask)
    b = _batch()
    mask = _mask(m1.config)
    b_fixed = dict(b, mask=mask.mask)
    assert torch.allclose(m1(b_fixed)[0], m1(b, mask=mask)[0])


def test_reconstruct_pastes_visible_ground_truth():
    for norm in (None, "per_channel"):
        m = _model(norm_pix=norm)
        b = _batch()
        mask = _mask(m.config)
        r = m.reconstruct(b, mask=mask)
        vis = ~r["mask_pixels"]
        assert torch.allclose(r["pasted"][vis], b["video"][vis], atol=1e-5)
        assert r["mse"].shape == r["mse_pixels"].shape == (B,)
        assert ("prediction_normalized" in r) == (norm is not None)
        maps = m.cross_attention_maps(b, "v2a", mask=mask)
        assert maps.shape == (B, m.config.vit.heads, m.config.num_visible, m.num_audio_tokens)
        assert torch.allclose(maps.sum(-1), torch.ones(()), atol=1e-5)




# ==================================================================================== the chapter
def test_budgets_and_arms_by_hand():
    from maskedav.profiles import get_profile

    B = ch.budgets(get_profile("cpu"))
    assert (B["main"].steps, B["main"].seeds, B["main"].overrides) == (3000, (0, 1, 2), ())
    assert B["ablation"].steps == 1000                                    # a third of 3000
    assert dict(B["ablation"].overrides) == {"eval_every": 100, "warmup_steps": 50}   # 150 · 1000/3000
    smoke = ch.budgets(get_profile("smoke"))
    assert smoke["ablation"].steps == 2 and dict(smoke["ablation"].overrides) == {"eval_every": 1, "warmup_steps": 1}
    P = get_profile("cpu")
    a = ch.arm(P, "av_xattn", B["ablation"], mask_ratio=0.75, seeds=[0])
    assert a.name == "av_xattn_m75_abl" and a.method == "av_maskenhancer" and a.steps == 1000
    assert a.keys == ("video", "mfcc") and a.input_keys == ("video",) and a.seeds == (0,)
    assert a.config.mask_ratio == 0.75 and a.config.cross_attention and a.config.norm_pix is None   # raw pixels
    v = ch.arm(P, "videomae", B["main"])
    assert v.name == "videomae" and v.keys == ("video",) and v.steps is None and not v.config.audio
    plan = ch.plan(P)
    assert plan["av_xattn"][0] == "main" and set(ch.VARIANTS) <= {n.removesuffix("_abl") for n in plan} | {"av_xattn"}
    assert [len(a.seed_list([0, 1, 2])) for _, a in plan.values()].count(1) == 2        # 75 % and 95 %: one seed


def test_the_main_videomae_is_the_baselines_arm_when_configs_agree():
    from maskedav.chapters import baselines
    from maskedav.profiles import get_profile

    P = get_profile("smoke")
    study, arm = ch.videomae_arm(P)
    assert study.chapter == "baselines"                                 # reuse: its cached runs and evaluations
    theirs = baselines.arms(study, "videomae")[0]
    assert arm.name == theirs.name and study.run_key(arm, 1) == study.run_key(theirs, 1)
    assert theirs.config == ch.config(P, "videomae").videomae_config()
    # ... and the same network: the baselines' VideoMAE loads into the chapter's video-only model
    torch.manual_seed(0)
    vm = VideoMAE(theirs.config)
    av = AVMaskEnhancer(ch.config(P, "videomae"))
    av.load_state_dict(vm.state_dict())


def test_plan_table_is_the_arithmetic_of_the_budget():
    from maskedav.profiles import get_profile

    P = get_profile("cpu")
    t = ch.plan_table(P).set_index("arm")
    assert t.loc["av_xattn", "pretrain_cpu_s"] == pytest.approx(3 * 3000 * 0.082)
    assert t.loc["av_xattn", "eval_cpu_s"] == pytest.approx(3 * (21 + 2 * 30))
    assert t.loc["av_xattn_m95_abl", "pretrain_cpu_s"] == pytest.approx(1 * 1000 * 0.078)
    assert t.loc["av_xattn_shuffled_abl", "evaluations"] == 0          # a reconstruction control only
    assert t.loc["videomae", "pretrain_cpu_s"] == 0                    # the baselines' runs
    body = t.drop(index="total")
    assert t.loc["total", "pretrain_cpu_s"] == pytest.approx(body.pretrain_cpu_s.sum())
    assert body.pretrain_cpu_s.sum() + body.eval_cpu_s.sum() < 30 * 60 * 2 * 0.85   # 30 min, 2 workers, margin


def test_budget_prose_is_computed_from_the_costs_and_the_plan(monkeypatch):
    from maskedav.profiles import get_profile

    P = get_profile("cpu")
    t = ch.plan_table(P).set_index("arm")
    text = " ".join(ch.budget_prose(P).split())
    total = t.loc["total", "pretrain_cpu_s"] + t.loc["total", "eval_cpu_s"]
    assert f"In all ≈ {total:,.0f} CPU s ≈ {total / 2 / 60:.0f} minutes on 2 workers" in text
    assert f"AV w/: 3 × 3,000 × 0.082 s ≈ {t.loc['av_xattn', 'pretrain_cpu_s']:,.0f} CPU s" in text
    assert "C5's claims are inconclusive (fewer than 3 seeds)" in text
    monkeypatch.setitem(ch.STEP_COST_S, "videomae", 0.5)             # a new measurement moves the prose
    assert "costs 0.500 s for VideoMAE" in " ".join(ch.budget_prose(P).split())


def test_study_data_overrides_name_their_checkpoints_and_degraded_splits_are_derived():
    from maskedav.data.synthav import generate
    from maskedav.profiles import get_profile
    from maskedav.study import Study
    from maskedav.study import data as D

    P = get_profile("smoke")
    clean, worse = Study(P, "avme-test"), Study(P, "avme-test", data={"downsample": 4})
    a = ch.arm(P, "av_xattn", ch.budgets(P)["ablation"])
    assert clean.checkpoint_name(a) == "avme-test/av_xattn_abl"
    assert worse.checkpoint_name(a) == "avme-test/av_xattn_abl-downsample4"
    assert clean.run_key(a, 0) != worse.run_key(a, 0)
    d = worse.split("val", ("video", "mfcc", "source_mask"))
    c = clean.split("val", ("video", "mfcc", "source_mask"))
    direct = generate(worse.synthav, "val", range(4))                     # what the generator makes
    assert torch.allclose(d["video"][:4], direct["video"], atol=1e-6)
    assert not torch.allclose(d["video"], c["video"])
    assert d["mfcc"] is c["mfcc"] and torch.equal(d["source_mask"], c["source_mask"])   # audio untouched
    assert D.clean_config(worse.synthav) == clean.synthav


def test_random_init_is_shared_by_every_arm_of_a_seed():
    import pandas as pd

    from maskedav.profiles import get_profile
    from maskedav.study import RANDOM_INIT, Study
    from maskedav.study.evaluate import EvalData, evaluate_encoder

    P = get_profile("smoke")
    B = ch.budgets(P)
    runs = ch.ChapterRuns(P, Study(P, "avme-test"))
    for name, a in [("videomae", ch.arm(P, "videomae", B["main"])), ("av_xattn", ch.arm(P, "av_xattn", B["main"]))]:
        runs.arms[name], runs.budget[name] = a, "main"
    # the downstream evaluation of the random-init AV model is VideoMAE's, row for row
    g = torch.Generator().manual_seed(0)

    def split(n):
        return dict(video=torch.rand(n, 3, 8, 32, 32, generator=g), labels={"appearance": torch.randint(0, 3, (n,), generator=g)})
    data = EvalData(train=split(12), val=split(6), test=split(8), keys=("video",), num_classes={"appearance": 3},
                    probe_train=12, finetune_train=8)
    rows = {n: evaluate_encoder(runs.arms[n].build(1), data, ("appearance",), ("probe", "finetune"), probe_epochs=2,
                                finetune_steps=2, batch_size=4, seed=1) for n in runs.arms}
    for ra, rb in zip(rows["videomae"], rows["av_xattn"]):
        assert ra["accuracy"] == rb["accuracy"] and (ra["correct"] == rb["correct"]).all()
    frame = pd.DataFrame([dict(arm="videomae", label="V", seed=1, init=RANDOM_INIT, task="appearance",
                               protocol="probe", accuracy=40.0, budget="main"),
                          dict(arm="videomae", label="V", seed=1, init=RANDOM_INIT, task="motion",
                               protocol="probe", accuracy=10.0, budget="main"),
                          dict(arm="av_xattn", label="AV", seed=1, init="pretrained", task="appearance",
                               protocol="probe", accuracy=55.0, budget="main")])
    out = ch.with_shared_random_init(frame, runs)
    new = out[(out.arm == "av_xattn") & (out.init == RANDOM_INIT)]
    assert len(new) == 1 and new.accuracy.iloc[0] == 40.0 and new.task.iloc[0] == "appearance"
    assert new.label.iloc[0] == runs.arms["av_xattn"].label
    # an arm that does not start from VideoMAE's encoder is refused
    runs.arms["av_xattn"] = dataclasses.replace(runs.arms["av_xattn"], config=ch.config(P, "av_xattn", dim=48, heads=2))
    with pytest.raises(ValueError):
        ch.with_shared_random_init(frame, runs)


def test_heldout_evaluation_fixed_masks_source_split_and_mismatched_audio():
    m = _model()
    b = _batch()
    mask = _mask(m.config)
    src = torch.zeros(B, 8, 32, 32, dtype=torch.bool)
    src[:, :, 8:16, 8:16] = True
    held = dict(video=b["video"], mfcc=m.audio_features(b["audio"]), source_mask=src, mask=mask.mask,
                audio_perm=derangement(B, generator=torch.Generator().manual_seed(0)))
    r1, r2 = ch.evaluate_heldout(m, held, batch_size=3), ch.evaluate_heldout(m, held)
    assert {k: v for k, v in r1.items() if k != "per_clip"} == pytest.approx({k: v for k, v in r2.items() if k != "per_clip"})
    assert r1["mse"] == pytest.approx(r1["loss"], rel=1e-5)            # raw-pixel model: loss units = pixels
    with torch.no_grad():
        assert r1["mse"] == pytest.approx(float(m(dict(b, mask=mask.mask))[0]), rel=1e-5)
    # tube masks hide as many pixels in every clip: the overall MSE is the mean of the clips'
    assert r1["per_clip"].shape == (B,) and r1["mse"] == pytest.approx(float(r1["per_clip"].mean()), rel=1e-5)
    lo, hi = sorted([r1["mse_source"], r1["mse_rest"]])
    assert lo <= r1["mse"] <= hi
    mism = ch.evaluate_heldout(m, held, mismatched=True)
    assert mism["mse"] != pytest.approx(r1["mse"], rel=1e-9)           # another clip's audio changes it
    ctrl = _model(shuffle_audio=True)                                   # the control: mismatched by default
    assert ch.evaluate_heldout(ctrl, held)["mse"] == pytest.approx(ch.evaluate_heldout(ctrl, held, mismatched=True)["mse"])


def test_heldout_set_is_fixed_and_deranged():
    from maskedav.profiles import get_profile
    from maskedav.study import Study

    S = Study(get_profile("smoke"), "avme-test")
    h1, h2 = ch.heldout_set(S, n=16), ch.heldout_set(S, n=16)
    assert torch.equal(h1["mask"], h2["mask"]) and torch.equal(h1["audio_perm"], h2["audio_perm"])
    assert (h1["audio_perm"] != torch.arange(16)).all()
    assert h1["video"].shape[0] == h1["mfcc"].shape[0] == h1["source_mask"].shape[0] == 16
    t = ch.config(S.P, "av_xattn").grid[0]
    spatial = h1["mask"].view(16, t, -1)
    assert torch.equal(spatial, spatial[:, :1].expand_as(spatial))       # tube masks
    # the study's cached MFCC is the model's own front-end (TalkNet's settings)
    val = S.split("val", ("audio", "mfcc"))
    model = AVMaskEnhancer(ch.config(S.P, "av_xattn"))
    assert torch.allclose(model.audio_features(val["audio"][:4]), val["mfcc"][:4], atol=1e-5)


def test_c2_comparator_is_chosen_by_its_mean_not_per_seed():
    # per seed the lower of the two would be [1, 4, 4] (mean 3.0): lower than either arm, a biased comparator
    values = {"videomae": {0: 1.0, 1: 5.0, 2: 5.0}, "wo": {0: 4.0, 1: 4.0, 2: 4.0}}
    assert ch.lower_by_mean(values, ["videomae", "wo"]) == "videomae"    # mean 3.67 < 4.0
    values["videomae"] = {0: 1.0, 1: 6.0, 2: 6.0}
    assert ch.lower_by_mean(values, ["videomae", "wo"]) == "wo"          # mean 4.33 > 4.0


def test_relative_gain_clip_floor_and_curve_value_by_hand():
    import numpy as np
    import pandas as pd

    assert ch.relative_gain({0: 0.02, 1: 0.04}, {0: 0.019, 2: 1.0}) == {0: pytest.approx(5.0)}
    hf = pd.DataFrame([dict(arm="a", seed=0, per_clip=np.array([1.0, 2.0, 3.0, 4.0])),
                       dict(arm="b", seed=0, per_clip=np.array([1.0, 1.0, 1.0, 1.0]))])
    d = np.array([0.0, 1.0, 2.0, 3.0])
    assert ch._clip_floor(hf, "a", "b") == pytest.approx(d.std(ddof=1) / 2)
    from maskedav.study import Run

    arm = ch.arm(get_smoke(), "av_xattn", ch.Budget("ablation", 1000, (0,)))
    run = Run(arm, 0, "", eval_history=[dict(step=s, loss_recon=1.0 / (s + 1)) for s in range(0, 1001, 100)])
    assert ch.curve_value(run, 0.3) == (300, pytest.approx(1 / 301))
    assert ch.curve_value(run, 0.0)[0] == 100                            # never the initialisation


def get_smoke():
    from maskedav.profiles import get_profile

    return get_profile("smoke")


def _accuracy_frame(spec: dict, n_test: int = 400):
    """A tidy frame: ``spec[arm] = (pretrained %, random init %, seeds)``, per-clip correctness included."""
    import numpy as np
    import pandas as pd

    from maskedav.study import RANDOM_INIT

    rng = np.random.default_rng(0)
    rows = []
    for arm, (pre, rand, seeds) in spec.items():
        for seed in seeds:
            for init, acc in (("pretrained", pre + seed), (RANDOM_INIT, rand)):
                correct = np.zeros(n_test, bool)
                correct[rng.permutation(n_test)[:int(acc * n_test / 100)]] = True
                rows.append(dict(arm=arm, label=arm, seed=seed, init=init, task="appearance", protocol="finetune",
                                 accuracy=100 * correct.mean(), n_test=n_test, correct=correct))
    return pd.DataFrame(rows)


def test_downstream_claims_gate_and_few_seeds():
    from maskedav.study import decide

    P = get_smoke()
    claims = {c.id: c for c in ch.downstream_claims(P)}
    assert set(claims) == {"C3", "C3-global", "C4", "C5a", "C5b", "C5c"}
    assert all((c.task, c.protocol) == ("appearance", "finetune") for c in claims.values())
    assert (claims["C4"].a, claims["C4"].b) == ("av_xattn", "videomae")
    names = set(ch.plan(P)) | {"videomae"}
    assert all(c.a in names and c.b in names for c in claims.values())
    frame = _accuracy_frame({"av_xattn_abl": (60, 30, (0, 1, 2)), "av_wo_xattn_abl": (50, 30, (0, 1, 2)),
                             "av_wo_xattn_global_abl": (31, 30, (0, 1, 2)),     # fails the gate
                             "av_xattn_m75_abl": (40, 30, (0,))})
    v = decide(frame, [claims["C3"], claims["C3-global"], claims["C5a"]])
    assert v["C3"].verdict == "reproduced" and v["C3"].paired
    assert v["C3-global"].verdict == "untestable" and "av_wo_xattn_global_abl" in v["C3-global"].note
    # one seed: the gate cannot decide the arm, so the seed rule does (not "fails the gate")
    assert v["C5a"].verdict == "inconclusive" and v["C5a"].note == "fewer than 3 seeds"
    assert v["C5a"].n_seeds == 1 and v["C5a"].effect == pytest.approx(60 - 40, abs=0.5)


def test_reconstruction_claims_from_heldout_rows():
    import numpy as np
    import pandas as pd

    rows = []
    for seed in (0, 1, 2):
        for arm, src, rest in (("videomae", 0.10, 0.020), ("av_xattn", 0.08 + 0.001 * seed, 0.0195)):
            rows.append(dict(arm=arm, seed=seed, mse_source=src, mse_rest=rest, mse=rest,
                             per_clip=np.full(4, rest)))
    c7 = ch.c7_claim(pd.DataFrame(rows))
    gain_src = [100 * (0.10 - (0.08 + 0.001 * s)) / 0.10 for s in (0, 1, 2)]
    assert c7.verdict.mean_a == pytest.approx(np.mean(gain_src)) and c7.verdict.mean_b == pytest.approx(2.5)
    assert c7.verdict.verdict == "reproduced" and c7.verdict.paired
    c6 = ch.c6_claim({1: {0: 2.0}, 4: {0: 5.0}})
    assert c6.verdict.verdict == "inconclusive" and c6.verdict.effect == pytest.approx(3.0)


def test_tables_from_a_frame():
    import numpy as np
    import pandas as pd

    from maskedav.study import RANDOM_INIT, Study

    P = get_smoke()
    runs = ch.ChapterRuns(P, Study(P, "avme-test"))
    B = ch.budgets(P)
    runs.arms["videomae"], runs.budget["videomae"] = ch.arm(P, "videomae", B["main"]), "main"
    for name, (budget, a) in ch.plan(P).items():
        runs.arms[name], runs.budget[name] = a, budget
    rows = []
    for arm in ("videomae", "av_xattn", "av_wo_xattn_abl", "av_xattn_abl", "av_xattn_m95_abl"):
        for seed in ((0,) if arm.endswith("m95_abl") else (0, 1)):
            rows.append(dict(arm=arm, label=runs.arms[arm].label, budget=runs.budget[arm], seed=seed, init="pretrained",
                             task="appearance", protocol="finetune", accuracy=50.0 + seed, correct=np.ones(2, bool)))
            rows.append(dict(rows[-1], init=RANDOM_INIT, accuracy=30.0))
    frame = pd.DataFrame(rows)
    t2 = ch.table2(runs, frame)
    assert list(t2.top1_mean[:2]) == [96.3, 98.8]
    measured = t2[t2.source.str.startswith("measured")]
    assert (measured.method == "random init (no pre-training)").sum() == 1   # shared: VideoMAE's rows only
    wo = measured[measured.cross_attention == "w/o (identity, slot-aligned)"]
    assert wo.top1_mean.iloc[0] == 50.5 and wo.seeds.iloc[0] == 2 and wo.budget.iloc[0] == "ablation"
    t1 = ch.table1(runs, frame)
    assert len(t1[t1.source.str.startswith("paper")]) == 13
    m95 = t1[t1.method.str.contains("95% masked") & t1.source.str.startswith("measured")]
    assert m95.seeds.iloc[0] == 1 and m95.top1_mean.iloc[0] == 50.0
    assert "CAV-MAE" in set(t1[t1.source.str.startswith("measured")].method)
