"""CrossVideoMAE, the model (issue 13): masking ratios per branch, the two differently augmented video
views, the contrastive losses (Eqs. 1–7) against a direct float64 evaluation of the formulas, frame-level
pooling of an empty time slice, the frame the image branch sees, gradient routing, the term switches,
loading the baselines' checkpoints, the representations / inspection calls, finite losses at the
``smoke`` and ``cpu`` sizes, and a step time at the ``cpu`` profile's sizes (printed)."""
import dataclasses
import math
import time

import pytest
import torch

from maskedav.masking import mask_from_bool, random_mask
from maskedav.methods import method_classes
from maskedav.methods.crossvideomae import (ClipAugment, CrossVideoMAE, CrossVideoMAEConfig, cross_modal_loss,
                                            frame_level_pool, intra_modal_loss, sample_frame_indices)
from maskedav.methods.mae import MAE, MAEConfig
from maskedav.methods.videomae import VideoMAE, VideoMAEConfig
from maskedav.profiles import get_profile

B = 6


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _config(profile="smoke", **changes):
    return CrossVideoMAEConfig.from_profile(profile, **changes)


def _model(profile="smoke", **changes):
    torch.manual_seed(0)
    return CrossVideoMAE(_config(profile, **changes))


def _batch(cfg, b=B, seed=0, static=False):
    g = torch.Generator().manual_seed(seed)
    T, H, W = cfg.vit.input_size
    if static:
        frame = torch.rand(b, 3, 1, H, W, generator=g)
        return dict(video=frame.expand(-1, -1, T, -1, -1).contiguous())
    return dict(video=torch.rand(b, 3, T, H, W, generator=g))


# --------------------------------------------------------------------------------- config & registry
def test_registered_and_config_checks():
    assert method_classes()["crossvideomae"] == (CrossVideoMAE, CrossVideoMAEConfig)
    c = _config()
    assert (c.mask_ratio, c.mask_ratio_image, c.mask_type) == (0.95, 0.9, "random")
    assert (c.num_frames, c.frame_selection, c.image_source) == (1, "random", "frames")
    assert c.symmetric is False and c.temperature == 0.1 and c.contrast_weight == 1.0
    # decoder fields reach the video decoder only; geometry fields both branches
    d = c.replace(decoder_depth=4)
    assert d.vit.decoder_depth == 4 and d.image.decoder_depth == c.image.decoder_depth
    assert c.replace(dim=48, heads=3).image.dim == 48
    for bad in (dict(mask_type="cube"), dict(frame_selection="last"), dict(image_source="imagenet"),
                dict(num_frames=0), dict(num_frames=9), dict(mse_weight=-1.0), dict(mask_ratio=1.0),
                dict(mask_ratio_image=0.0), dict(temperature=0.0), dict(crop_scale=(0.5, 0.2)),
                dict(flip_prob=1.5), dict(share_blocks=True, freeze_image_encoder=True)):
        with pytest.raises(ValueError):
            _config(**bad)
    p = CrossVideoMAEConfig.paper()
    assert p.vit.grid_size == (8, 14, 14) and p.image.grid_size == (14, 14) and p.vit.decoder_depth == 4


# ------------------------------------------------------------------------------------------ masking
def test_paper_scale_visible_counts():
    # spec §3.1 / §9 item 31: int() truncation, 78 of 1568 video tokens, 19 of 196 image tokens
    assert random_mask(2, 1568, 0.95, seed=0).num_keep == 78
    assert random_mask(2, 196, 0.9, seed=0).num_keep == 19


@pytest.mark.parametrize("mask_type", ["random", "tube", "frame"])
def test_masking_ratios_per_branch(mask_type):
    # 8 x 64² clips, patch 8: 4 x 8 x 8 = 256 video tokens, 64 image tokens
    P = get_profile("smoke")
    P = dataclasses.replace(P, data=dataclasses.replace(P.data, image_size=64))
    m = CrossVideoMAE(CrossVideoMAEConfig.from_profile(P, mask_type=mask_type))
    parts = m.forward_parts(_batch(m.config, b=4))
    N, t, hw = 256, 4, 64
    expect = {"random": int(N * (1 - 0.95)),                       # 12
              "tube": t * (hw - int(0.95 * hw)),                   # 4 x 4
              "frame": hw * max(1, round(t * 0.05))}[mask_type]    # one whole slice
    for k in ("video1", "video2"):
        mk = parts["masks"][k]
        assert torch.equal((~mk.mask).sum(1), torch.full((4,), expect))
        if mask_type == "tube":
            per_slice = (~mk.mask).reshape(4, t, hw)
            assert torch.equal(per_slice, per_slice[:, :1].expand_as(per_slice))
        if mask_type == "frame":
            vis_slices = (~mk.mask).reshape(4, t, hw).any(2).sum(1)
            assert torch.equal(vis_slices, torch.ones(4, dtype=torch.long))
    assert not torch.equal(parts["masks"]["video1"].mask, parts["masks"]["video2"].mask)   # independent draws
    assert parts["tokens"].shape[1] == expect                        # the encoder ran the visible tokens only
    mi = parts["masks"]["image"]
    assert torch.equal((~mi.mask).sum(1), torch.full((4,), int(64 * (1 - 0.9))))          # 6 of 64
    assert parts["image_tokens"].shape[1] == 1 + 6                   # cls + visible patches


# ------------------------------------------------------------------------------------- augmentation
def test_clip_augment_identity_flip_and_frame_consistency():
    x = torch.rand(3, 3, 4, 16, 16)
    ident = ClipAugment(scale=(1.0, 1.0), ratio=(1.0, 1.0), flip_prob=0.0, jitter=0.0)
    y, _ = ident(x, torch.Generator().manual_seed(0))
    assert torch.allclose(y, x, atol=1e-5)
    flip = ClipAugment(scale=(1.0, 1.0), ratio=(1.0, 1.0), flip_prob=1.0, jitter=0.0)
    y, p = flip(x, torch.Generator().manual_seed(0))
    assert bool(p["flip"].all()) and torch.allclose(y, x.flip(-1), atol=1e-5)
    # one draw per clip, applied to every frame alike: a static clip stays static
    static = x[:, :, :1].expand(-1, -1, 4, -1, -1)
    y, _ = ClipAugment(jitter=0.4, flip_prob=0.5)(static, torch.Generator().manual_seed(1))
    assert torch.allclose(y, y[:, :, :1].expand_as(y), atol=1e-6)
    assert y.min() >= 0 and y.max() <= 1


def test_two_views_get_different_augmentations():
    m = _model()
    batch = _batch(m.config, static=True)
    v = m.make_views(batch)
    assert v["aug1"] is None and torch.equal(v["view1"], batch["video"])       # view 1: the clip as given
    assert (v["view2"] - batch["video"]).abs().amax(dim=(1, 2, 3, 4)).min() > 1e-3  # every clip's view 2 differs
    # frame correspondence: the same spatial transform on every frame of a clip
    assert torch.allclose(v["view2"], v["view2"][:, :, :1].expand_as(v["view2"]), atol=1e-6)
    # augment_both: two independent draws per clip
    m2 = _model(augment_both=True)
    v2 = m2.make_views(batch)
    assert not torch.allclose(v2["aug1"]["box"], v2["aug2"]["box"])
    assert not torch.allclose(v2["aug1"]["jitter"], v2["aug2"]["jitter"])
    assert (v2["view1"] - v2["view2"]).abs().amax(dim=(1, 2, 3, 4)).min() > 1e-3
    # deterministic per step: the generator's state fixes the views; the next step draws new ones
    m.reseed(7)
    a = m.make_views(batch)["view2"]
    b = m.make_views(batch)["view2"]
    m.reseed(7)
    assert torch.equal(m.make_views(batch)["view2"], a) and not torch.allclose(a, b)


# ------------------------------------------------------------------------------------------- losses
def _nt_xent_ref(a, b, tau):
    """-1/N Σ_i log exp(s(a_i,b_i)/τ) / (Σ_{k≠i} exp(s(a_i,a_k)/τ) + Σ_k exp(s(a_i,b_k)/τ)), loops."""
    n = a.shape[0]
    s = lambda x, y: float(torch.dot(x, y) / (x.norm() * y.norm()))  # noqa: E731
    total = 0.0
    for i in range(n):
        num = math.exp(s(a[i], b[i]) / tau)
        den = sum(math.exp(s(a[i], a[k]) / tau) for k in range(n) if k != i)
        den += sum(math.exp(s(a[i], b[k]) / tau) for k in range(n))
        total += -math.log(num / den)
    return total / n


def _vectors(seed, n=5, d=7):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(n, d, generator=g, dtype=torch.float64) for _ in range(5)]


@pytest.mark.parametrize("tau", [0.1, 0.5])
def test_intra_modal_loss_matches_eqs_1_to_3(tau):
    zu1, zu2, zf1, zf2, _ = _vectors(0)
    loss, terms = intra_modal_loss(zu1, zu2, zf1, zf2, tau)
    lu, lf = _nt_xent_ref(zu1, zu2, tau), _nt_xent_ref(zf1, zf2, tau)
    assert float(terms["video"]) == pytest.approx(lu, rel=1e-5)
    assert float(terms["frame"]) == pytest.approx(lf, rel=1e-5)
    assert float(loss) == pytest.approx(0.5 * (lu + lf), rel=1e-5)            # Eq. 3: 1/(2N) Σ (L_u + L_f)
    # the symmetric option averages both anchors
    sym, _ = intra_modal_loss(zu1, zu2, zf1, zf2, tau, symmetric=True)
    ref = 0.25 * (lu + _nt_xent_ref(zu2, zu1, tau) + lf + _nt_xent_ref(zf2, zf1, tau))
    assert float(sym) == pytest.approx(ref, rel=1e-5)
    # switching a term off keeps the other's coefficient (½)
    only_video, _ = intra_modal_loss(zu1, zu2, zf1, zf2, tau, frame_weight=0.0)
    assert float(only_video) == pytest.approx(0.5 * lu, rel=1e-5)


def test_cross_modal_loss_matches_eqs_4_to_7():
    zu1, zu2, zf1, zf2, h = _vectors(1)
    tau = 0.1
    loss, terms = cross_modal_loss(zu1, zu2, zf1, zf2, h, h, tau)
    zu, zf = (zu1 + zu2) / 2, (zf1 + zf2) / 2                                  # Eq. 4
    cu, cf = _nt_xent_ref(zu, h, tau), _nt_xent_ref(zf, h, tau)                # Eqs. 5, 6
    assert float(terms["video"]) == pytest.approx(cu, rel=1e-5)
    assert float(terms["frame"]) == pytest.approx(cf, rel=1e-5)
    assert float(loss) == pytest.approx(0.5 * (cu + cf), rel=1e-5)             # Eq. 7


def test_positives_are_on_the_diagonal():
    # hand-made inputs: orthogonal one-hot rows; view 2 = view 1 (positives (i, i) perfectly aligned)
    e = torch.eye(4, dtype=torch.float64)
    tau = 0.5                                                   # (the losses run in float32)
    aligned, _ = intra_modal_loss(e, e, e, e, tau)
    # by hand: numerator e^{1/τ}; denominator 3 e^0 (same view, k≠i) + e^{1/τ} + 3 e^0 (other view)
    by_hand = -math.log(math.exp(2) / (math.exp(2) + 6))
    assert float(aligned) == pytest.approx(by_hand, rel=1e-6)
    # a row permutation of view 2 moves the positives off the diagonal: the loss rises to
    # -log(1 / (e^{1/τ} + 6)) for every anchor
    perm = e[[1, 2, 3, 0]]
    shuffled, _ = intra_modal_loss(e, perm, e, perm, tau)
    assert float(shuffled) == pytest.approx(-math.log(1 / (math.exp(2) + 6)), rel=1e-6)
    cross, _ = cross_modal_loss(e, e, e, e, e, e, tau)                          # z = h: aligned again
    assert float(cross) == pytest.approx(by_hand, rel=1e-6)


# ----------------------------------------------------------------------------------- frame pooling
def test_frame_level_pool_handles_empty_slices():
    hw = 4                                                      # 4 tokens per time slice, 4 slices
    ids = torch.tensor([[0, 1, 13]])                            # visible: slice 0 (two tokens), slice 3 (one)
    tok = torch.tensor([[[1.0, 0.0], [3.0, 0.0], [0.0, 5.0]]])
    z, empty = frame_level_pool(tok, ids, torch.tensor([0]), hw)
    assert torch.allclose(z, torch.tensor([[2.0, 0.0]])) and not bool(empty.any())
    z, empty = frame_level_pool(tok, ids, torch.tensor([1]), hw)         # empty: nearest is slice 0
    assert torch.allclose(z, torch.tensor([[2.0, 0.0]])) and bool(empty.all())
    z, empty = frame_level_pool(tok, ids, torch.tensor([2]), hw)         # empty: nearest is slice 3
    assert torch.allclose(z, torch.tensor([[0.0, 5.0]])) and bool(empty.all())
    ids_tie = torch.tensor([[0, 1, 9]])                                  # slices 0 and 2 around slice 1
    z, _ = frame_level_pool(tok, ids_tie, torch.tensor([1]), hw)
    assert torch.allclose(z, tok.mean(1))                                # a tie pools both sides
    z, empty = frame_level_pool(tok, ids, torch.tensor([[0, 2]]), hw)    # n = 2 frames: mean over them
    assert torch.allclose(z, torch.tensor([[1.0, 2.5]])) and empty.tolist() == [[False, True]]


def test_forward_with_an_empty_frame_slice_is_finite():
    m = _model(frame_selection="first", frame_augment=False)              # frame 0 -> slice 0
    c = m.config
    N, hw = m.num_patches, 16
    vis = torch.zeros(B, N, dtype=torch.bool)
    vis[:, [hw + 1, 2 * hw + 5, 3 * hw + 2]] = True                      # nothing visible in slice 0
    mv = mask_from_bool(~vis)
    mi = random_mask(B, m.image_encoder.num_patches, c.mask_ratio_image, seed=0)
    parts = m.forward_parts(_batch(c), masks=dict(video1=mv, video2=mv, image=mi))
    assert bool(parts["slice_empty"].all())
    # the fallback is the nearest slice: slice 1's single token
    p1 = parts["projected"][:B]
    assert torch.allclose(parts["z_f"][0], p1[:, 0], atol=1e-6)
    loss, logs = m(_batch(c), masks=dict(video1=mv, video2=mv, image=mi))
    assert torch.isfinite(loss) and all(torch.isfinite(v) for v in logs.values())
    assert float(logs["frame_slice_empty"]) == 1.0


# --------------------------------------------------------------------------------- sampled frames
@pytest.mark.parametrize("selection,n", [("first", 1), ("middle", 1), ("random", 1), ("random", 2), ("middle", 3)])
def test_image_branch_sees_the_sampled_frame(selection, n):
    m = _model(frame_selection=selection, num_frames=n, frame_augment=False)
    batch = _batch(m.config)
    seen = []
    hook = m.image_encoder.register_forward_hook(lambda mod, args, out: seen.append(args[0].detach()))
    parts = m.forward_parts(batch)
    hook.remove()
    idx = parts["views"]["frame_index"]
    T = m.config.vit.input_size[0]
    if selection == "first":
        assert idx.tolist() == [list(range(n))] * B
    elif selection == "middle":
        start = T // 2 - n // 2
        assert idx.tolist() == [list(range(start, start + n))] * B
    else:
        assert idx.shape == (B, n) and bool((idx.diff(dim=1) > 0).all() if n > 1 else True)
    frames = batch["video"].transpose(1, 2)[torch.arange(B)[:, None], idx].reshape(B * n, 3, *batch["video"].shape[-2:])
    assert torch.allclose(seen[0], m.image_space.model_input(frames))
    # the frame-level video vector pools the sampled frames' time slices
    slices = torch.cat([idx, idx]) // m.config.vit.tubelet
    ref, _ = frame_level_pool(parts["projected"], torch.cat([parts["masks"]["video1"].ids_keep,
                                                             parts["masks"]["video2"].ids_keep]), slices, 16)
    assert torch.allclose(torch.cat(parts["z_f"]), ref)


def test_random_selection_varies_and_sampler_rules():
    idx = sample_frame_indices(200, 8, 1, "random", torch.Generator().manual_seed(0))
    assert set(idx.flatten().tolist()) == set(range(8))
    assert sample_frame_indices(2, 8, 1, "middle").tolist() == [[4], [4]]
    assert sample_frame_indices(2, 8, 8, "middle").tolist() == [list(range(8))] * 2


def test_unrelated_images_replace_the_frames():
    m = _model(image_source="unrelated", frame_augment=False)
    batch = _batch(m.config)
    batch["image"] = torch.rand(B, 3, 32, 32)
    seen = []
    hook = m.image_encoder.register_forward_hook(lambda mod, args, out: seen.append(args[0].detach()))
    loss, _ = m(batch)
    hook.remove()
    assert torch.isfinite(loss) and torch.allclose(seen[0], m.image_space.model_input(batch["image"]))
    with pytest.raises(KeyError):
        m({"video": batch["video"]})


# -------------------------------------------------------------------------------------- gradients
def _grad_norm(module):
    return sum(float(p.grad.abs().sum()) for p in module.parameters() if p.grad is not None)


def test_gradients_reach_both_encoders():
    m = _model()
    loss, _ = m(_batch(m.config))
    loss.backward()
    assert _grad_norm(m.encoder.blocks) > 0 and _grad_norm(m.encoder.patch_embed) > 0
    assert _grad_norm(m.image_encoder.blocks) > 0 and _grad_norm(m.image_encoder.patch_embed) > 0
    assert _grad_norm(m.g_f) > 0 and _grad_norm(m.decoder) > 0
    assert _grad_norm(m.image_decoder) == 0                              # no image reconstruction loss
    # contrast only: the video encoder still learns, through g_u
    m = _model(recon_weight=0.0, mse_weight=0.0)
    m(_batch(m.config))[0].backward()
    assert _grad_norm(m.encoder.blocks) > 0 and _grad_norm(m.image_encoder.blocks) > 0
    # stop-gradient on h / a frozen image encoder: nothing reaches the image encoder
    for kw in (dict(stop_grad_image=True), dict(freeze_image_encoder=True)):
        m = _model(**kw)
        m(_batch(m.config))[0].backward()
        assert _grad_norm(m.image_encoder) == 0 and _grad_norm(m.encoder.blocks) > 0


def test_term_switches_follow_eq_11():
    batch = _batch(_config())
    ref = _model()
    parts = ref.forward_parts(batch)
    for kw, expect in [
        (dict(), lambda p: p["intra"] + p["cross"] + p["recon"] + p["mse"]),
        (dict(contrast_weight=0.5), lambda p: 0.5 * (p["intra"] + p["cross"]) + p["recon"] + p["mse"]),
        (dict(intra_weight=0.0), lambda p: p["cross"] + p["recon"] + p["mse"]),
        (dict(cross_weight=0.0, mse_weight=0.0), lambda p: p["intra"] + p["recon"]),
        (dict(frame_level_weight=0.0), lambda p: 0.5 * (p["intra_terms"]["video"] + p["cross_terms"]["video"])
         + p["recon"] + p["mse"]),
        (dict(video_level_weight=0.0), lambda p: 0.5 * (p["intra_terms"]["frame"] + p["cross_terms"]["frame"])
         + p["recon"] + p["mse"]),
    ]:
        m = _model(**kw)
        m.load_state_dict(ref.state_dict())
        loss, _ = m(batch)                                                # same seed: same draws
        assert float(loss.detach()) == pytest.approx(float(expect(parts).detach()), rel=1e-5), kw


def test_deterministic_given_the_generator_state():
    m = _model()
    batch = _batch(m.config)
    with torch.no_grad():
        m.reseed(3)
        a, _ = m(batch)
        b, _ = m(batch)
        m.reseed(3)
        c, _ = m(batch)
    assert float(a) == float(c) and float(a) != float(b)


# ---------------------------------------------------------------------------------- initialisation
def test_loads_the_baselines_checkpoints():
    P = get_profile("smoke")
    torch.manual_seed(1)
    mae = MAE(MAEConfig.from_profile(P))
    vmae = VideoMAE(VideoMAEConfig.from_profile(P))
    torch.manual_seed(0)
    m = CrossVideoMAE(_config(), image_mae={"state_dict": mae.state_dict()}, video_mae=vmae)
    for a, b in ((m.image_encoder, mae.encoder), (m.image_decoder, mae.decoder), (m.encoder, vmae.encoder),
                 (m.decoder, vmae.decoder)):
        for (ka, va), (kb, vb) in zip(sorted(a.state_dict().items()), sorted(b.state_dict().items())):
            assert ka == kb and torch.equal(va, vb)
    # shared blocks keep the video branch's blocks
    s = CrossVideoMAE(_config(share_blocks=True)).load_video_mae(vmae).load_image_mae(mae)
    assert s.image_encoder.blocks is s.encoder.blocks
    assert torch.equal(s.encoder.blocks[0].attn.qkv.weight, vmae.encoder.blocks[0].attn.qkv.weight)
    assert torch.equal(s.image_encoder.patch_embed.proj.weight, mae.encoder.patch_embed.proj.weight)


# ------------------------------------------------------------------------- representations, figures
def test_representations_and_inspection_api():
    from maskedav.study.evaluate import features

    m = _model()
    c = m.config
    batch = _batch(c, b=3)
    D, (t, h, w) = c.vit.dim, c.vit.grid_size
    assert m.grid_tokens(batch)[0].shape == (3, D, t, h, w)
    assert m.grid_tokens(batch, "image")[0].shape == (3, c.image.dim, 8, 4, 4)
    assert m.embed(batch).shape == (3, D) and m.embed(batch, rep="image").shape == (3, c.image.dim)
    assert features(m, [batch]).shape[0] == 3 and features(m, [batch], rep="image").shape[0] == 3
    r = m.reconstruct(batch)
    assert r["prediction"].shape == batch["video"].shape and (~r["mask"].mask).sum(1).tolist() == [3] * 3
    ri = m.reconstruct_image(batch)
    assert ri["prediction"].shape == (3, 3, 32, 32) and (~ri["mask"].mask).sum(1).tolist() == [1] * 3
    assert m.attention_maps(batch).shape == (3, c.vit.heads, t * h * w, t * h * w)
    assert m.attention_maps(batch, branch="image", query=0).shape == (3, c.image.heads, 1 + h * w)
    a = m.self_attention_map(batch)
    assert a.shape == (3, t, h, w) and torch.allclose(a.sum((1, 2, 3)), torch.ones(3))
    s = m.semantic_attention_map(batch, frame=2)
    assert s.shape == (3, t, h, w) and bool((s.abs() <= 1 + 1e-5).all())
    assert m.training                                                     # inspection leaves the mode


# ------------------------------------------------------------------------------- profiles and time
@pytest.mark.parametrize("profile", ["smoke", "cpu"])
def test_loss_finite_at_profile_sizes(profile):
    P = get_profile(profile)
    for kw in (dict(), dict(mask_type="tube", num_frames=2), dict(mask_type="frame", projector="mlp")):
        m = _model(profile, **kw)
        loss, logs = m(_batch(m.config, b=min(P.train.batch_size, 8)))
        loss.backward()
        assert torch.isfinite(loss) and all(torch.isfinite(v) for v in logs.values()), (profile, kw)


def test_step_time_at_cpu_profile(capsys):
    P = get_profile("cpu")
    m = _model("cpu")
    opt = torch.optim.AdamW([p for p in m.parameters() if p.requires_grad], lr=1e-3)
    batch = _batch(m.config, b=P.train.batch_size)

    def step():
        opt.zero_grad(set_to_none=True)
        loss, _ = m(batch)
        loss.backward()
        opt.step()

    for _ in range(2):
        step()
    t = time.perf_counter()
    for _ in range(5):
        step()
    dt = (time.perf_counter() - t) / 5
    with capsys.disabled():
        print(f"\nCrossVideoMAE cpu-profile step (batch {P.train.batch_size}, {torch.get_num_threads()} thread, "
              f"fwd+bwd+AdamW): {1000 * dt:.1f} ms")
    assert dt < 10.0
