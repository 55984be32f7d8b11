"""AV-MaskEnhancer: fusion shapes and masking, audio reaching the decoder, the shuffled-audio control,
the audio-free downstream encoder, and that every switch does what it says."""
import inspect
import math

import pytest
import torch

from maskedav.losses import masked_mse, patchify_video
from maskedav.masking import mask_from_bool, tube_mask
from maskedav.methods.av_maskenhancer import (CLAIMS, MFCC, PAPER_TABLE1, PAPER_TABLE2, VARIANTS,
                                              AVMaskEnhancer, AVMaskEnhancerConfig, SlotConcat,
                                              claim_verdicts, derangement)
from maskedav.methods.videomae import VideoMAE

B = 4


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    # tiny models: a second OpenMP thread only spins on a busy 2-core machine
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


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
    assert set(VARIANTS) == {"videomae", "av_wo_xattn", "av_wo_xattn_global", "av_xattn", "av_xattn_shuffled"}


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


# ------------------------------------------------------------------------------------ claims, paper rows
def test_paper_tables_and_claim_rules():
    acc = {r["method"]: r["top1"] for r in PAPER_TABLE1}
    assert acc["AV-MaskEnhancer (90% masked)"] == 98.8 and acc["VideoMAE"] == 96.1
    assert [r["top1"] for r in PAPER_TABLE2] == [96.3, 98.8]
    assert all(r["source"] for r in PAPER_TABLE1 + PAPER_TABLE2)
    assert {"C1", "C2", "C3", "C4", "C5a", "C5b", "C5c", "C6", "C7"} <= set(CLAIMS)
    # the rule: one value per seed per arm; fewer than 3 seeds -> inconclusive
    arms = {"C1": ([0.010, 0.011, 0.0105], [0.014, 0.0141, 0.0139])}
    v = claim_verdicts(arms)["C1"]
    assert v.verdict == "reproduced"
    assert claim_verdicts({"C1": ([0.01, 0.011], [0.014, 0.0141])})["C1"].verdict == "inconclusive"


def test_heldout_evaluation_uses_fixed_masks_and_splits_the_sounding_object():
    from maskedav.methods.av_maskenhancer import evaluate_heldout

    m = _model()
    b = _batch()
    mask = _mask(m.config)
    src = torch.zeros(B, 8, 32, 32, dtype=torch.bool)
    src[:, :, 8:16, 8:16] = True
    held = dict(video=b["video"], mfcc=m.audio_features(b["audio"]), source_mask=src, mask=mask.mask,
                audio_perm=derangement(B, generator=torch.Generator().manual_seed(0)))
    r1, r2 = evaluate_heldout(m, held, batch_size=3), evaluate_heldout(m, held)
    assert r1 == pytest.approx(r2)                                     # deterministic, batching-independent
    assert r1["mse"] == pytest.approx(r1["loss"], rel=1e-5)            # raw-pixel model: loss units = pixels
    # the overall MSE is the pixel-weighted mean of its two parts
    lo, hi = sorted([r1["mse_source"], r1["mse_rest"]])
    assert lo <= r1["mse"] <= hi
    with torch.no_grad():
        assert r1["mse"] == pytest.approx(float(m(dict(b, mask=mask.mask))[0]), rel=1e-5)
    mism = evaluate_heldout(m, held, mismatched=True)
    assert mism["mse"] != pytest.approx(r1["mse"], rel=1e-9)           # another clip's audio changes it


def test_tables_and_claims_from_per_seed_rows(tmp_path):
    import pandas as pd

    from maskedav.claims import read_claims
    from maskedav.methods.av_maskenhancer import accuracy_by_seed, record_claims, table1, table2

    rows = [dict(variant=v, mask_ratio=r, seed=s, protocol=p, task="appearance", test_acc=a + s, val_acc=0.0)
            for v, r, a in [("videomae", 0.9, 50), ("av_wo_xattn", 0.9, 52), ("av_xattn", 0.9, 55),
                            ("av_xattn", 0.75, 53), ("cav_mae", 0.75, 40)]
            for s in range(3) for p in ("linear probe", "fine-tune")]
    df = pd.DataFrame(rows)
    t2 = table2(df, "smoke")
    assert list(t2.source[:2].str.startswith("paper")) == [True, True]
    assert set(t2[t2.source.str.startswith("measured")].method) == {
        "VideoMAE (video only)", "AV w/o cross-attention (identity, slot-aligned)",
        "AV-MaskEnhancer (w/ cross-attention)"}                          # CAV-MAE belongs to Table I
    t1 = table1(df, "smoke", "smoke")
    measured = t1[t1.source.str.startswith("measured")]
    assert len(t1[t1.source.str.startswith("paper")]) == 13
    assert "CAV-MAE (95% masked)" in set(measured.method)               # 0 visible patches: a noted row
    ft = accuracy_by_seed(df, "av_xattn", protocol="fine-tune")
    assert ft == {0: 55.0, 1: 56.0, 2: 57.0}
    verdicts = claim_verdicts({"C4": ([55, 56, 57.5], [50, 51, 52]), "C3": ([55, 56], [52, 53])})
    table = record_claims(verdicts, results_dir=tmp_path, profile="smoke")
    assert dict(zip(table.claim, table.verdict)) == {"C4": "reproduced", "C3": "inconclusive"}
    saved = read_claims(tmp_path)
    assert set(saved.claim_id) == {"C3", "C4"} and set(saved.paper) == {"av-maskenhancer"}


def test_random_init_reference_is_the_starting_encoder_of_every_variant_of_its_seed():
    from maskedav.methods.av_maskenhancer import random_init_runs

    (run,) = random_init_runs("smoke", [3])[("random_init", 0.9)]
    assert run.variant == "random_init" and run.seed == 3 and run.steps == 0
    ref = run.model().encoder.state_dict()
    for variant in ("videomae", "av_xattn", "av_wo_xattn_global"):
        torch.manual_seed(3)
        model = AVMaskEnhancer(AVMaskEnhancerConfig.from_profile("smoke", **VARIANTS[variant], seed=3))
        for k, v in model.encoder.state_dict().items():
            assert torch.equal(v, ref[k]), (variant, k)
