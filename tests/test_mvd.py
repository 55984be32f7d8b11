"""MVD: the model (maskedav.methods.mvd: frozen teachers, target alignment, masked-only loss, every
switch) and the chapter on the study layer (maskedav.chapters.mvd: plan, arms, claims, E8, Table 6)."""
import math

import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn.functional as F

from maskedav.masking import tube_mask
from maskedav.methods.mvd import (MVD, VARIANTS, FeatureTeacher, MVDConfig, align_image_features,
                                  cache_targets, frame_similarity, image_target_frame, image_teacher_frames,
                                  inflate_image_encoder, normalize_video, offdiag_mean)
from maskedav.nn import ViTEncoder
from maskedav.train import TrainConfig, train
from maskedav.train.optim import param_groups

T, S, P, TUB = 8, 32, 8, 2            # 8 frames of 32², patch 8, tubelet 2 -> grid 4x4x4 = 64 tokens
GRID = (T // TUB, S // P, S // P)
HW = GRID[1] * GRID[2]


def image_teacher(dim=32, seed=1):
    torch.manual_seed(seed)
    return ViTEncoder("image", (S, S), P, dim=dim, depth=1, heads=2, cls_token=True)


def video_teacher(dim=32, seed=2):
    torch.manual_seed(seed)
    return ViTEncoder("video", (T, S, S), P, TUB, dim=dim, depth=1, heads=2, pos_embed="sinusoid")


def cfg(variant="coteach", **changes):
    return MVDConfig.from_profile("smoke", **{**VARIANTS[variant], **changes})


def method(variant="coteach", img=None, vid=None, **changes):
    torch.manual_seed(0)
    return MVD(cfg(variant, **changes), img or image_teacher(), vid or video_teacher())


def clips(n=2, seed=0):
    return torch.rand(n, 3, T, S, S, generator=torch.Generator().manual_seed(seed))


def fixed_mask(n=2, seed=3):
    return tube_mask(n, GRID, 0.75, seed=seed)


# --------------------------------------------------------------------------------- teachers frozen
def test_teachers_are_frozen_no_grad_no_update_eval_mode():
    m = method()
    teacher_params = {n: p.detach().clone() for n, p in m.named_parameters() if "_teacher." in n}
    assert teacher_params and not any(p.requires_grad for n, p in m.named_parameters() if "_teacher." in n)
    # not in the optimiser's groups
    in_opt = {id(p) for g in param_groups(m) for p in g["params"]}
    assert not any(id(p) in in_opt for n, p in m.named_parameters() if "_teacher." in n)
    m.train()
    assert all(not mod.training for n, mod in m.named_modules() if "_teacher" in n)
    assert m.encoder.training and m.decoder_image.training
    targets = m.compute_targets(clips())
    assert all(not t.requires_grad for t in targets.values())
    before_student = m.encoder.blocks[0].attn.qkv.weight.detach().clone()
    res = train(m, lambda step: {"video": clips(2, step)}, TrainConfig(steps=2, lr=1e-2, progress=False))
    assert res.steps == 2
    for n, p in m.named_parameters():
        if n in teacher_params:
            assert torch.equal(p, teacher_params[n]), n
    assert not torch.equal(m.encoder.blocks[0].attn.qkv.weight, before_student)   # the student did learn
    assert all(not mod.training for n, mod in m.named_modules() if "_teacher" in n)


# ------------------------------------------------------------------------------------- alignment
def test_image_target_frame_is_first_frame_of_each_tubelet():
    assert [image_target_frame(n, GRID, TUB) for n in (0, HW - 1, HW, 2 * HW + 5, 4 * HW - 1)] == [0, 0, 2, 4, 6]
    v = torch.arange(T).float().reshape(1, 1, T, 1, 1).expand(2, 3, T, 4, 4)
    frames = image_teacher_frames(v, TUB)
    assert frames.shape == (2 * GRID[0], 3, 4, 4)
    assert frames[:, 0, 0, 0].tolist() == [0, 2, 4, 6, 0, 2, 4, 6]              # (b, t') order
    feats = torch.arange(2 * 4 * HW).float().reshape(2 * 4, HW, 1)
    aligned = align_image_features(feats, 2)
    assert aligned.shape == (2, 4 * HW, 1)
    assert torch.equal(aligned[1, HW + 3, 0], feats[4 + 1, 3, 0])                # clip 1, slice 1, patch 3


def test_image_teacher_target_of_token_n_is_frame_2t_patch_n():
    img = image_teacher()
    teacher = FeatureTeacher(img, "image", TUB)
    v = clips(2)
    targets = teacher(v)
    assert targets.shape == (2, GRID[0] * HW, img.dim)
    for n in (0, 7, HW, 2 * HW + 3, 4 * HW - 1):
        frame = v[:, :, image_target_frame(n, GRID, TUB)]
        expect = img.forward_features(normalize_video(frame))[0][:, 1:][:, n % HW]  # cls dropped, pre-norm
        assert torch.allclose(targets[:, n], expect, atol=1e-5), n
    # last block before the final norm (not the normed output)
    normed = img(normalize_video(v[:, :, 0]))[:, 1:]
    assert not torch.allclose(targets[:, :HW], normed, atol=1e-3)


def test_video_teacher_targets_are_last_block_pre_norm_of_the_full_clip():
    vid = video_teacher()
    v = clips(2)
    targets = FeatureTeacher(vid, "video", TUB)(v)
    assert torch.allclose(targets, vid.forward_features(normalize_video(v))[0], atol=1e-6)


def test_token_order_after_masking_matches_targets():
    m = method("image").eval()
    v, mask = clips(2), fixed_mask(2)
    targets = m.compute_targets(v)["image"]
    latent = m.encoder(m.space.model_input(v), mask)
    pred = m.decoder_image(latent, mask)                                  # masked tokens, ascending
    # the same decoder predicting every token, then the masked ones picked by boolean indexing
    m.decoder_image.predict = "all"
    full = m.decoder_image(latent, mask)
    m.decoder_image.predict = "masked"
    for b in range(2):
        assert torch.allclose(pred[b], full[b][mask.mask[b]], atol=1e-5)
    manual = torch.stack([targets[b][mask.mask[b]] for b in range(2)])
    loss, _ = m({"video": v}, mask=mask)
    assert torch.allclose(loss, F.smooth_l1_loss(pred, manual, beta=1.0), atol=1e-6)


# ----------------------------------------------------------------------------- loss on masked tokens
def test_loss_uses_masked_tokens_only():
    m = method().eval()
    v, mask = clips(2), fixed_mask(2)
    t = m.compute_targets(v)
    batch = {"video": v, "target_image": t["image"].clone(), "target_video": t["video"].clone()}
    base, _ = m(batch, mask=mask)
    vis = ~mask.mask
    for key in ("target_image", "target_video"):
        changed = dict(batch)
        changed[key] = batch[key].clone()
        changed[key][vis] += 100.0                                        # visible tokens: no effect
        assert torch.allclose(m(changed, mask=mask)[0], base, atol=1e-6)
        changed[key][mask.mask] += 1.0                                    # masked tokens: changes it
        assert not torch.allclose(m(changed, mask=mask)[0], base, atol=1e-3)
    # the student encoder sees only the visible tokens
    seen = {}
    h = m.encoder.blocks[0].register_forward_hook(lambda mod, a, out: seen.update(n=out.shape[1]))
    m(batch, mask=mask)
    h.remove()
    assert seen["n"] == mask.num_keep


def test_cached_targets_equal_online_targets():
    m = method()
    v, mask = clips(3), fixed_mask(3)
    cached = cache_targets(m, v, batch_size=2)
    online = m.compute_targets(v)
    assert all(torch.allclose(cached[k], online[k], atol=1e-6) for k in online)
    a = m({"video": v}, mask=mask)[0]
    b = m({"video": v, **{f"target_{k}": x for k, x in cached.items()}}, mask=mask)[0]
    assert torch.allclose(a, b, atol=1e-6)


# ------------------------------------------------------------------------------------------ switches
def test_teacher_choice_switch():
    img_only, vid_only, both = method("image"), method("video"), method("coteach")
    assert img_only.config.branches == ("image",) and img_only.video_teacher is None and img_only.decoder_video is None
    assert vid_only.config.branches == ("video",) and vid_only.image_teacher is None and vid_only.decoder_image is None
    v, mask = clips(), fixed_mask()
    _, li = img_only({"video": v}, mask=mask)
    _, lv = vid_only({"video": v}, mask=mask)
    loss, lb = both({"video": v}, mask=mask)
    assert set(li) == {"loss_img"} and set(lv) == {"loss_vid"} and set(lb) == {"loss_img", "loss_vid"}
    assert torch.allclose(loss, lb["loss_img"] + lb["loss_vid"])          # λ1 = λ2 = 1 (Eq. 3)
    weighted = method("coteach", image_weight=2.0, video_weight=0.5)
    loss_w, lw = weighted({"video": v}, mask=mask)
    assert torch.allclose(loss_w, 2.0 * lw["loss_img"] + 0.5 * lw["loss_vid"])
    with pytest.raises(ValueError):
        MVD(cfg("video"), image_teacher(), None)


def test_loss_function_and_target_norm_switches():
    v, mask = clips(), fixed_mask()
    outs = {}
    for name, changes in (("sl1", {}), ("l2", {"loss": "l2"}), ("ln", {"norm_target": True})):
        m = method("video", **changes).eval()
        p = m.predict({"video": v}, mask=mask)
        loss, _ = m({"video": v}, mask=mask)
        outs[name] = (p, loss)
    p, loss = outs["sl1"]
    assert torch.allclose(loss, F.smooth_l1_loss(p["video"], p["target_video"], beta=1.0), atol=1e-6)
    p, loss = outs["l2"]
    assert torch.allclose(loss, F.mse_loss(p["video"], p["target_video"]), atol=1e-5)
    p, loss = outs["ln"]
    t = p["target_video"]
    assert torch.allclose(t.mean(-1), torch.zeros_like(t.mean(-1)), atol=1e-4)         # normalised targets
    assert torch.allclose(t.std(-1, unbiased=False), torch.ones_like(t.mean(-1)), atol=1e-2)
    assert torch.allclose(loss, F.smooth_l1_loss(p["video"], t, beta=1.0), atol=1e-6)
    assert not torch.allclose(outs["sl1"][0]["target_video"], t, atol=1e-2)


def test_pixel_branch_switch():
    m = method("coteach_pixel")
    assert m.decoder_pixel is not None and m.decoder_pixel.out_dim == TUB * P * P * 3
    v, mask = clips(), fixed_mask()
    loss, logs = m({"video": v}, mask=mask)
    assert set(logs) == {"loss_img", "loss_vid", "loss_pix"}
    assert torch.allclose(loss, logs["loss_img"] + logs["loss_vid"] + logs["loss_pix"])
    assert method("coteach").decoder_pixel is None
    rec = m.reconstruct({"video": v}, mask=mask)
    assert rec["pasted"].shape == v.shape and torch.allclose(rec["loss"], logs["loss_pix"], atol=1e-4)
    plain = method("coteach").reconstruct({"video": v}, mask=mask)           # features only, no pixels
    assert "pasted" not in plain and set(plain["feature_loss"]) == {"image", "video"}


def test_bootstrap_switch_is_an_ema_of_the_student():
    torch.manual_seed(0)
    m = MVD(cfg("bootstrap", ema_momentum=0.9))
    assert m.image_teacher is None and m.config.branches == ("video",)
    t_params = dict(m.video_teacher.encoder.module.named_parameters())
    s_params = dict(m.encoder.named_parameters())
    assert all(torch.equal(t_params[k], s_params[k]) for k in s_params)      # starts as the student
    assert not any(p.requires_grad for p in t_params.values())
    in_opt = {id(p) for g in param_groups(m) for p in g["params"]}
    assert not any(id(p) in in_opt for p in t_params.values())
    with pytest.raises(ValueError):
        cache_targets(m, clips())
    train(m, lambda step: {"video": clips(2, step)}, TrainConfig(steps=1, lr=1e-2, progress=False))
    old_t = {k: v.detach().clone() for k, v in t_params.items()}
    new_s = {k: v.detach().clone() for k, v in m.encoder.named_parameters()}
    m.train()
    m({"video": clips()})                                                     # EMA step at the forward
    for k in old_t:
        assert torch.allclose(t_params[k], 0.9 * old_t[k] + 0.1 * new_s[k], atol=1e-6), k
    steps = int(m.ema_steps)
    assert steps == 2                                                         # one per training forward
    m.eval()
    with torch.no_grad():
        m({"video": clips()})                                                 # no update outside training
    assert int(m.ema_steps) == steps


def test_per_token_switch_distils_every_token_without_mask():
    m = method("per_token").eval()
    assert m.decoder_image is None and isinstance(m.decoder_video, torch.nn.Sequential)
    v = clips()
    seen = {}
    h = m.encoder.blocks[0].register_forward_hook(lambda mod, a, out: seen.update(n=out.shape[1]))
    loss, logs = m({"video": v})
    h.remove()
    assert seen["n"] == T // TUB * HW                                         # all tokens, no mask
    target = m.compute_targets(v)["video"]
    pred = m.decoder_video(m.encoder(m.space.model_input(v)))
    assert torch.allclose(loss, F.smooth_l1_loss(pred, target), atol=1e-6)


def test_teacher_size_sets_decoder_output_width():
    big = method("coteach", img=image_teacher(dim=48), vid=video_teacher(dim=64))
    assert big.decoder_image.out_dim == 48 and big.decoder_video.out_dim == 64
    loss, _ = big({"video": clips()}, mask=fixed_mask())
    assert torch.isfinite(loss)


def test_inflated_image_encoder_embeds_a_static_clip_like_its_frame():
    img = image_teacher()
    torch.manual_seed(5)
    vid = ViTEncoder("video", (T, S, S), P, TUB, dim=32, depth=1, heads=2, pos_embed="sincos")
    inflate_image_encoder(vid, img)
    frame = torch.rand(1, 3, S, S)
    static = frame[:, :, None].expand(1, 3, T, S, S)
    a = vid.patch_embed(static)[:, :HW]
    b = img.patch_embed(frame)
    assert torch.allclose(a, b, atol=1e-5)
    assert torch.equal(vid.blocks[0].mlp.fc1.weight, img.blocks[0].mlp.fc1.weight)


# ------------------------------------------------------------------------------------- helpers
def test_frame_similarity_hand_values():
    f = torch.zeros(1, 2, 3, 2)
    f[0, 0, :, 0] = 1.0
    f[0, 1, :2, 0] = 1.0
    f[0, 1, 2, 1] = 1.0                                                        # one position orthogonal
    s = frame_similarity(f)[0]
    assert torch.allclose(s, torch.tensor([[1.0, 2 / 3], [2 / 3, 1.0]]))


def test_every_variant_runs_under_bf16_autocast():
    # the engine autocasts to bf16 on CUDA; CPU autocast exercises the same dtype paths
    v, mask = clips(1), fixed_mask(1)
    for variant in ("coteach_pixel", "bootstrap", "per_token"):                # every code path
        m = method(variant)
        t = cache_targets(m, v) if not m.config.bootstrap else {}
        with torch.autocast("cpu", dtype=torch.bfloat16):
            loss, logs = m({"video": v, **{f"target_{k}": x for k, x in t.items()}},
                           mask=None if not m.config.masked else mask)
        assert loss.dtype == torch.float32 and torch.isfinite(loss), variant
        loss.backward()


# ------------------------------------------------------------------------- model: study-layer hooks
def test_pixel_target_follows_the_profile():
    from maskedav.profiles import get_profile

    assert MVDConfig.from_profile("smoke").pixel_norm is None                  # raw pixels at small profiles
    assert MVDConfig.from_profile(get_profile("paper")).pixel_norm == "per_channel"
    m = method("coteach_pixel")
    v, mask = clips(), fixed_mask()
    _, logs = m({"video": v}, mask=mask)
    pred = m.predict({"video": v}, mask=mask)["pixel"]
    from maskedav.losses import masked_mse, patchify_video

    raw = masked_mse(pred, patchify_video(v, P, TUB), mask, norm_pix=None)
    assert torch.allclose(logs["loss_pix"], raw, atol=1e-5)


def test_grid_tokens_and_offdiag():
    m = method().eval()
    v = clips(2)
    (g,) = m.grid_tokens({"video": v})
    assert g.shape == (2, m.encoder.dim, *GRID)
    tokens = m.encoder(m.space.model_input(v))
    assert torch.allclose(g[1, :, 2, 1, 3], tokens[1, 2 * HW + 1 * GRID[2] + 3], atol=1e-6)   # (t, h, w) order
    s = torch.tensor([[1.0, 0.5, 0.1], [0.5, 1.0, 0.3], [0.1, 0.3, 1.0]])
    assert float(offdiag_mean(s)) == pytest.approx((0.5 + 0.1 + 0.3) * 2 / 6)


def test_cached_inputs_are_shared_by_teacher_fingerprint():
    img, vid = image_teacher(), video_teacher()
    a, b = method("coteach", img=img, vid=vid), method("video", img=img, vid=vid)
    v = clips(3)
    calls, memo = [], {}

    def store(name, compute):
        if name not in memo:
            calls.append(name)
            memo[name] = compute()
        return memo[name]

    ta = a.cached_inputs({"video": v}, store=store)
    tb = b.cached_inputs({"video": v}, store=store)
    assert set(ta) == {"target_image", "target_video"} and set(tb) == {"target_video"}
    assert len(calls) == 2 and torch.equal(ta["target_video"], tb["target_video"])     # computed once
    assert torch.allclose(ta["target_image"], a.compute_targets(v)["image"], atol=1e-6)
    other = FeatureTeacher(video_teacher(seed=7), "video", TUB)
    assert other.fingerprint() != b.video_teacher.fingerprint()
    assert MVD(cfg("bootstrap")).cached_inputs({"video": v}) == {}


def test_students_of_a_seed_start_from_the_same_encoder():
    encoders = []
    for variant, img, vid in (("image", image_teacher(seed=1), None), ("coteach", image_teacher(dim=48), video_teacher(dim=64)),
                              ("per_token", None, video_teacher(seed=3)), ("bootstrap", None, None)):
        torch.manual_seed(11)
        encoders.append(MVD(cfg(variant), img, vid).encoder.state_dict())
    for other in encoders[1:]:
        assert all(torch.equal(encoders[0][k], other[k]) for k in encoders[0])


# --------------------------------------------------------------------------------- chapter: plan
def test_plan_follows_the_papers_schedule_ratios():
    from maskedav.chapters import mvd as chapter
    from maskedav.profiles import get_profile

    pl = chapter.plan(get_profile("cpu"))
    assert pl.student_steps * 4 == pl.teacher_steps == 2 * pl.short_teacher_steps == 3000
    assert pl.bootstrap_steps == 2 * pl.student_steps
    assert pl.large == dict(dim=128, depth=4, heads=4) and pl.large_seeds == (0,) and len(pl.seeds) >= 3
    assert dict(pl.overrides(750)) == {"warmup_steps": 38}            # the profile's 5 % warm-up
    assert dict(chapter.plan(get_profile("smoke")).overrides(1)) == {"warmup_steps": 1}


def test_time_matched_steps_by_hand():
    from maskedav.chapters import mvd as chapter
    from maskedav.profiles import get_profile

    P = get_profile("cpu").with_(name="live")       # a profile without fixed steps: the live measurement
    steps, t = chapter.time_matched_steps(P, {"videomae": 0.05, "video": 0.03, "target_video": 0.001})
    # (3000 - 1500) * 0.05 s - 8192 * 0.001 s = 66.808 s -> 2226.9 steps of 0.03 s -> down to a multiple of 100
    assert steps == t["measured_steps"] == 2200 and not t["fixed"]
    assert t["videomae_s"] == pytest.approx(150.0) and t["targets_s"] == pytest.approx(8.192)
    assert t["short_teacher_s"] + t["targets_s"] + t["student_s"] <= t["videomae_s"]
    assert chapter.time_matched_steps(P, {"videomae": 0.05, "video": 10.0, "target_video": 0.0})[0] == 1
    # at cpu the arm's steps are fixed whatever this machine measures; the measurement is only reported
    fixed, t = chapter.time_matched_steps(get_profile("cpu"), {"videomae": 0.05, "video": 0.03, "target_video": 0.001})
    assert fixed == chapter.T6_STUDENT_STEPS["cpu"] == 2100 and t["fixed"] and t["measured_steps"] == 2200
    assert t["student_s"] == pytest.approx(2100 * 0.03)


# ------------------------------------------------------------------------------- chapter: claims
def _rows(means: dict, seeds=(0, 1, 2), task="appearance", n=400):
    """A tidy frame: arm -> per-seed accuracies (pretrained) and a random init far below."""
    rng = np.random.default_rng(0)
    out = []
    for arm, accs in means.items():
        for s, acc in zip(seeds, accs):
            for init, a in (("pretrained", acc), ("random init", 5.0)):
                c = np.zeros(n, bool)
                c[rng.permutation(n)[:int(round(a * n / 100))]] = True
                out.append(dict(arm=arm, label=arm, seed=s, init=init, task=task, protocol="probe", rep="",
                                readout="layout", accuracy=100 * c.mean(), n_test=n, correct=c))
    return pd.DataFrame(out)


def test_e1_comparator_is_chosen_by_mean_over_seeds():
    from maskedav.chapters import mvd as chapter
    from maskedav.profiles import get_profile

    # video wins two seeds of three, but image has the higher mean: the comparator is image
    frame = _rows({"image": [60.0, 30.0, 31.0], "video": [40.0, 35.0, 35.0], "coteach": [70.0, 71.0, 72.0]})
    assert chapter.better_single(frame, "appearance") == "image"
    pl = chapter.plan(get_profile("cpu"))
    claims = {c.id: c for c in chapter.claims(frame, pl)}
    assert set(claims) == {"E1.appearance", "E2.appearance"}          # only claims whose arms are present
    assert claims["E1.appearance"].b == "image" and "image-teacher student" in claims["E1.appearance"].statement
    from maskedav.study import decide

    v = decide(frame, [claims["E1.appearance"]])["E1.appearance"]
    assert v.paired and v.effect == pytest.approx(np.mean([70, 71, 72]) - np.mean([60, 30, 31]), abs=0.5)


def test_claim_statements_say_what_is_compared():
    from maskedav.chapters import mvd as chapter
    from maskedav.profiles import get_profile

    arms = ["image", "video", "coteach", "coteach_large", "videomae", "per_token", "image_pixel", "coteach_pixel",
            "bootstrap", "bootstrap_init"]
    frame = pd.concat([_rows({a: [50.0, 51.0, 52.0]}, task=t) for a in arms for t in chapter.TASKS])
    pl = chapter.plan(get_profile("cpu"))
    claims = {c.id: c for c in chapter.claims(frame, pl)}
    assert {c.split(".")[0] for c in claims} == {f"E{i}" for i in range(1, 8)}
    e3 = claims["E3.motion"]
    assert (e3.a, e3.b) == ("coteach", "videomae") and "750 steps (a quarter of the teachers' 3000)" in e3.statement
    assert "half" not in e3.statement
    e4 = claims["E4.appearance"]
    assert (e4.a, e4.b) == ("coteach_large", "coteach") and "capped" in e4.statement and "seed 0" in e4.statement
    assert claims["E7.motion"].b == "bootstrap" and "1500 steps" in claims["E7.motion"].statement
    assert all(c.protocol == "probe" for c in claims.values())
    e9 = chapter.e9_claim(pl, 2200)
    assert (e9.a, e9.b, e9.task) == ("mvd_t6", "videomae", "appearance") and "2200 steps" in e9.statement


def test_e8_verdict_pairs_teacher_seeds_with_a_clip_floor():
    from maskedav.chapters import mvd as chapter

    n = 50
    sims = {s: {"offdiag": {"image": torch.full((n,), 0.9 - 0.01 * s), "video": torch.full((n,), 0.5 + 0.01 * s)}}
            for s in range(3)}
    sims[0]["offdiag"]["video"][::2] += 0.1                      # clip-to-clip spread in one seed
    v = chapter.e8_verdict(sims)
    d0 = (sims[0]["offdiag"]["image"] - sims[0]["offdiag"]["video"]).double()
    assert v.paired and v.n_seeds == 3
    assert v.floor_se == pytest.approx(float(d0.std()) / math.sqrt(n) / 3, rel=1e-6)   # seeds 1, 2: no spread
    assert v.effect == pytest.approx(np.mean([0.9 - 0.01 * s for s in range(3)]) - float(np.mean(
        [float(sims[s]["offdiag"]["video"].mean()) for s in range(3)])), abs=1e-6)
    assert v.verdict == "reproduced"
    gates = pd.DataFrame([dict(arm="mae", protocol="probe", task="motion", passes=False),
                          dict(arm="videomae", protocol="probe", task="motion", passes=True)])
    assert chapter.e8_verdict(sims, gates).verdict == "untestable"


# --------------------------------------------------------------------- chapter on the study layer
def test_students_load_their_teachers_and_share_targets_and_random_init(tmp_path, monkeypatch):
    monkeypatch.setenv("MASKEDAV_CACHE", str(tmp_path))
    monkeypatch.setenv("MASKEDAV_WORKERS", "1")
    from maskedav.chapters import mvd as chapter
    from maskedav.profiles import get_profile
    from maskedav.study import Study
    from maskedav.study import data as D

    D.clear()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)                                          # tiny models: one thread is faster
    P = get_profile("smoke")
    S = Study(P, "mvd")
    base = chapter.baseline_arms(P)
    Study(P, "baselines").pretrain(list(base.values()), [0])       # the base teachers of seed 0
    arms = chapter.student_arms(S, ["image", "coteach"])
    assert arms["image"].init_id == arms["coteach"].init_id and arms["image"].steps == 1
    assert [k[1] for k in arms["coteach"].key_extra] == ["baselines/mae", "baselines/videomae"]
    runs = S.pretrain(list(arms.values()), [0])
    assert len(list((tmp_path / "study" / "smoke" / "inputs").glob("pretrain-*.pt"))) == 2    # image, video: once
    student = runs[1].model()
    teacher = chapter.base_teachers(P)["video"].load("smoke", 0)
    assert torch.equal(student.video_teacher.encoder.module.blocks[0].attn.qkv.weight,
                       teacher.encoder.blocks[0].attn.qkv.weight)
    frame = S.evaluate(runs, chapter.TASKS, ("probe",))
    init = frame[frame.init == "random init"].sort_values(["task", "arm"])
    a, b = init[init.arm == "image"], init[init.arm == "coteach"]
    assert list(a.accuracy) == list(b.accuracy)                       # one shared random-init evaluation
    assert len(list((tmp_path / "study" / "smoke" / "mvd").glob("eval-init-*.pt"))) == 1
    again = S.pretrain(list(arms.values()), [0])
    assert all(r.cached for r in again)
    other = chapter.student_arms(S, ["image"])["image"]
    assert S.run_key(other, 0) == S.run_key(arms["image"], 0)
    assert S.run_key(arms["image"], 0) != S.run_key(
        type(other)(**{**other.__dict__, "train_overrides": (("warmup_steps", 2),)}), 0)
    D.clear()
    torch.set_num_threads(threads)


def test_budget_table_by_hand():
    from maskedav.chapters import mvd as chapter
    from maskedav.profiles import get_profile
    from maskedav.study import Study

    S = Study(get_profile("smoke"), "mvd")                   # 2 seeds; teachers 4 steps, students 1, EMA 2
    arms = list(chapter.teacher_arms(S).values()) + list(chapter.student_arms(S).values())
    costs = {k: 0.01 for k in ("videomae", "mae", "videomae_large", "mae_large", *chapter.STUDENTS)}
    costs.update({f"target_{k}": 0.001 for k in ("image", "video", "image_large", "video_large")})
    t = chapter.budget_table(S, costs, arms, eval_s=1.0).set_index("arm")["core-seconds"]
    assert t["videomae_large"] == pytest.approx(0.04) and t["videomae_short"] == pytest.approx(0.04)
    assert t["bootstrap"] == pytest.approx(0.04) and t["coteach"] == pytest.approx(0.02)
    # targets once per (teacher, seed): base image and video of 2 seeds, the large pair once; 64 clips each
    assert t["targets (image)"] == pytest.approx(2 * 64 * 0.001) and t["targets (video_large)"] == pytest.approx(0.064)
    # evaluations: 20 runs + random inits shared per seed (students: 2, half-schedule VideoMAE: 2)
    assert t.filter(like="evaluations").iloc[0] == pytest.approx(24.0)
    assert t.filter(like="total").iloc[0] == pytest.approx(0.08 + 0.04 + 0.04 + 7 * 0.02 + 6 * 0.064 + 24.0)


def test_budget_prose_states_the_measured_costs_and_the_tables_sums():
    from maskedav.chapters import mvd as chapter
    from maskedav.profiles import get_profile
    from maskedav.study import Study

    S = Study(get_profile("smoke"), "mvd")
    arms = list(chapter.teacher_arms(S).values()) + list(chapter.student_arms(S).values())
    names = ("videomae", "mae", "videomae_large", "mae_large", *chapter.STUDENTS)
    costs = {k: 0.01 * (i + 1) for i, k in enumerate(names)}
    costs.update({f"target_{k}": 0.001 for k in ("image", "video", "image_large", "video_large")}, eval_model=2.0)
    budget = chapter.budget_table(S, costs, arms, eval_s=costs["eval_model"])
    text = chapter.budget_prose(S, costs, budget)
    total = budget["core-seconds"].iloc[-1]
    assert f"**≈ {total:,.0f} → ≈ {total / 2 / 60:.0f} min on 2 workers**" in text
    flat = " ".join(text.split())
    assert f"VideoMAE {1e3 * costs['videomae']:.0f} ms" in flat and f"about {costs['eval_model']:.0f} s" in flat
    rows = [line for line in text.splitlines() if line.startswith("| ") and "**" not in line][1:-1]
    assert sum(float(r.rsplit("|", 2)[1].replace(",", "")) for r in rows) == pytest.approx(total, abs=len(rows))
