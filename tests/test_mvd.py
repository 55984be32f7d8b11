"""MVD (maskedav.methods.mvd): frozen teachers, target alignment, masked-only loss, every switch."""
import pytest
import torch
import torch.nn.functional as F

from maskedav.masking import tube_mask
from maskedav.methods.mvd import (CLAIMS, MVD, VARIANTS, FeatureTeacher, align_image_features,
                                  cache_targets, decide_claim, frame_similarity, image_target_frame,
                                  image_teacher_frames, inflate_image_encoder, normalize_video, run_plan,
                                  student_config)
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
    return student_config("smoke", variant, **changes)


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


def test_claim_rules_and_plan():
    rows = [dict(arm=a, seed=s, appearance=x, motion=y) for a, base in (("image", 50), ("video", 40), ("coteach", 60))
            for s, (x, y) in enumerate([(base, base), (base + 1, base + 1), (base + 2, base + 2)])]
    v, arm_b = decide_claim("E1.appearance", rows)
    assert arm_b == "image" and v.verdict == "reproduced" and v.effect == pytest.approx(10.0)
    v, _ = decide_claim("E2.motion", rows)                                     # video < image here
    assert v.verdict == "contradicted"
    few = [r for r in rows if r["seed"] < 2]
    assert decide_claim("E1.motion", few)[0].verdict == "inconclusive"         # < 3 seeds
    assert {c.id.split(".")[0] for c in CLAIMS} == {f"E{i}" for i in range(1, 10)}
    plan = run_plan("cpu")
    assert plan.student_steps * 4 == plan.teacher_steps == 2 * plan.bootstrap_steps == 2 * plan.short_teacher_steps
    assert plan.large["dim"] % plan.large["heads"] == 0 and plan.large["dim"] % 4 == 0
    assert plan.large["dim"] > 96 and len(plan.seeds) >= 3
    assert set(VARIANTS) >= {"image", "video", "coteach", "image_pixel", "coteach_pixel", "bootstrap", "per_token"}


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
