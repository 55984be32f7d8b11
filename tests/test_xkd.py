"""XKD (spec §4, §12): the domain-alignment identities, the views, the teachers and the ablation switches."""
import math

import pytest
import torch

from maskedav.methods.xkd import XKD, XKDConfig, cls_attention, cross_modal_attention, encode_view, refine
from maskedav.profiles import get_profile


def _model(**changes):
    torch.manual_seed(0)
    return XKD(XKDConfig.from_profile(get_profile("smoke"), **changes))


def _batch(m, B=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    v, a = m.config.video, m.config.audio
    return {"video": torch.rand(B, 3, *v.input_size, generator=g),
            "fbank": torch.randn(B, *a.input_size, generator=g)}


def test_cross_modal_attention_equals_the_outer_product_of_eq4():
    g = torch.Generator().manual_seed(1)
    a_v, a_a = torch.rand(2, 3, 7, generator=g), torch.rand(2, 3, 5, generator=g)
    cm = a_v[:, :, None, :] * a_a[:, :, :, None]                      # (B, H, N_a, N_v), the code's form
    ax_v, ax_a = cross_modal_attention(a_v, a_a)
    torch.testing.assert_close(ax_v, cm.mean(-2) / a_v.mean(-1, keepdim=True))
    torch.testing.assert_close(ax_a, cm.mean(-1) / a_a.mean(-1, keepdim=True))
    # the separable identity: the modality's own map rescaled per head by the ratio of mean masses
    torch.testing.assert_close(ax_v, a_v * (a_a.mean(-1) / a_v.mean(-1))[..., None])
    sv, sa = cross_modal_attention(a_v, a_a, "softmax")               # Eq. S1: a distribution over tokens
    torch.testing.assert_close(sv, cm.mean(-2).softmax(-1))
    torch.testing.assert_close(sa.sum(-1), torch.ones(2, 3))


def test_refine_keeps_the_norm_of_the_mean_and_weights_by_attention():
    g = torch.Generator().manual_seed(2)
    tokens, ax = torch.randn(3, 6, 8, generator=g), torch.rand(3, 4, 6, generator=g)
    out = refine(tokens, ax)
    torch.testing.assert_close(out.mean(1).norm(dim=-1), tokens.mean(1).norm(dim=-1))
    ratio = out / tokens                                             # Ω · a_n, the same for every channel
    torch.testing.assert_close(ratio, ratio[..., :1].expand_as(ratio))
    a = ax.mean(1)
    torch.testing.assert_close(ratio[..., 0] / ratio[:, :1, 0], a / a[:, :1])
    flat = refine(tokens, torch.ones(3, 4, 6))                        # uniform attention: unchanged
    torch.testing.assert_close(flat, tokens)


def test_cls_attention_and_global_view_match_the_encoder():
    m = _model()
    x = m.video_space.model_input(_batch(m)["video"])
    enc = m.video_encoder
    tokens, a = encode_view(enc, x, last_attention=True)
    torch.testing.assert_close(tokens, enc(x))                          # no interpolation at the global size
    maps = enc.attention_maps(x, layer=-1)                              # (B, H, L, L)
    torch.testing.assert_close(a, maps[:, :, 0, 1:])
    assert (a.sum(-1) < 1).all()                                        # the cls key took its share
    pre = enc.prepare_tokens(x)
    for blk in enc.blocks[:-1]:
        pre = blk(pre)
    torch.testing.assert_close(cls_attention(enc.blocks[-1], pre, use_cls=False), maps.mean(-2)[..., 1:])


def test_local_views_and_token_counts_at_the_papers_sizes():
    c = XKDConfig.paper()
    assert c.video.grid_size == (8, 7, 7) and math.prod(c.video.grid_size) == 392
    assert c.audio.grid_size == (20, 28) and math.prod(c.audio.grid_size) == 560
    (t, h, w), ta = c.local_sizes
    assert (t, h, w) == (8, 96, 96) and ta == 112
    assert (t // 4) * (h // 16) * (w // 16) == 72 and (80 // 4) * (ta // 16) == 140
    # visible tokens of the masked global views: int(N·(1 - r)) as MAE's code (XKD's mask.py copies it), so
    # 58 of 392 and, in floating point (560·0.2 = 111.99…), 111 of 560 — not the spec's rounded 59 / 112
    from maskedav.masking import random_mask
    assert random_mask(2, 392, c.mask_ratio_v).num_keep == 58
    assert random_mask(2, 560, c.mask_ratio_a).num_keep == 111


def test_local_views_are_crops_of_the_clip_and_encode_with_interpolated_positions():
    m = _model()
    b = _batch(m)
    x_v, x_a = m.video_space.model_input(b["video"]), m.audio_space.model_input(b["fbank"])
    views_v, views_a = m.local_views(x_v, x_a)
    (t, h, w), ta = m.config.local_sizes
    assert views_v[0].shape == (4, 3, t, h, w) and views_a[0].shape == (4, ta, x_a.shape[2])
    v = views_v[0][0]
    T, H, W = x_v.shape[2:]
    found = [(t0, y0, x0) for t0 in range(T - t + 1) for y0 in range(H - h + 1) for x0 in range(W - w + 1)
             if torch.equal(x_v[0, :, t0:t0 + t, y0:y0 + h, x0:x0 + w], v)]
    assert found                                                     # a contiguous crop of clip 0
    tokens = encode_view(m.video_encoder, views_v[0])
    assert tokens.shape == (4, 1 + (t // 2) * (h // 8) * (w // 8), m.config.video.dim)
    assert encode_view(m.audio_encoder, views_a[0]).shape[1] == 1 + m.audio_encoder.grid_size[0] * (ta // 8)


def test_forward_trains_students_only_and_the_teachers_follow_by_ema():
    m = _model()
    b = _batch(m)
    m.train()
    loss, logs = m(b)
    assert torch.isfinite(loss)
    assert {"recon_video", "recon_audio", "kd_v2a", "kd_a2v", "mmd_students", "mmd_teachers", "kld_v2a",
            "kld_a2v", "ema_momentum"} <= set(logs)
    loss.backward()
    assert all(p.grad is None for t in (m.video_teacher, m.audio_teacher) for p in t.parameters())
    # DINO's per-tensor clipping of the students' gradients at 0.3; the decoders are not clipped
    assert max(p.grad.norm().item() for p in m._student_parameters() if p.grad is not None) <= 0.3 + 1e-4
    te, se = m.encoders("video", teacher=True)[0], m.video_encoder
    torch.testing.assert_close(te.cls_token, se.cls_token)              # teacher = student at step 0
    with torch.no_grad():
        for p in m._student_parameters():
            p.add_(1.0)                                                 # an "optimiser step"
    before = te.cls_token.clone()
    m(b)                                                                # the next forward: Eq. 13
    torch.testing.assert_close(te.cls_token, 0.997 * before + 0.003 * se.cls_token)
    assert int(m.ema_steps) == 2 and m.center_v.abs().sum() > 0          # the centre moved (momentum 0.9)


def test_ablation_switches():
    # Table 1's AE-only rows: no teacher step, no KD terms, only the asked reconstruction
    m = _model(kd_weight=0.0, da_weight=0.0, reconstruct=("video",))
    m.train()
    loss, logs = m(_batch(m))
    assert set(logs) == {"recon_video"} and int(m.ema_steps) == 0
    torch.testing.assert_close(loss, logs["recon_video"])
    # sharing (Table 3): MAS the students' blocks, MATS both, MAT the teachers' only
    mas, mats, mat = _model(sharing="mas"), _model(sharing="mats"), _model(sharing="mat")
    tblocks = lambda x, mod: x.encoders(mod, teacher=True)[0].blocks  # noqa: E731
    assert mas.audio_encoder.blocks is mas.video_encoder.blocks and tblocks(mas, "audio") is not tblocks(mas, "video")
    assert mats.audio_encoder.blocks is mats.video_encoder.blocks and tblocks(mats, "audio") is tblocks(mats, "video")
    assert mat.audio_encoder.blocks is not mat.video_encoder.blocks and tblocks(mat, "audio") is tblocks(mat, "video")
    assert mas.num_parameters < _model().num_parameters
    # teacher temperature warm-up (the text's 0.04 -> 0.06) and the EMA cosine to 1
    w = _model(teacher_temp_v=0.06, teacher_temp_a=0.06, teacher_temp_warmup=(0.04, 0.04),
               teacher_temp_warmup_steps=10, ema_total_steps=100)
    assert w.teacher_temps(0) == (0.04, 0.04) and w.teacher_temps(5) == pytest.approx((0.05, 0.05))
    assert w.teacher_temps(10) == (0.06, 0.06)
    assert w.ema_momentum(0) == pytest.approx(0.997) and w.ema_momentum(100) == 1.0
    # every switch runs: no refine, w/o CLS, Eq. S1, the DA variants, no centring, the code's teacher view
    for changes in (dict(refine=False), dict(cls_attention=False), dict(cm_attention="softmax"), dict(da="da1"),
                    dict(da="da2"), dict(da="da3"), dict(da="none"), dict(centering=False), dict(proj_norm="none"),
                    dict(teacher_view="local"), dict(num_local_views=2), dict(sharing="mats")):
        x = _model(**changes)
        x.train()
        loss, logs = x(_batch(x))
        assert torch.isfinite(loss), changes
    with pytest.raises(ValueError, match="pairs the teachers' heads"):
        XKDConfig.from_profile(get_profile("smoke"), audio=XKDConfig.from_profile("smoke").audio.replace(heads=1))


def test_inspection_api():
    m = _model()
    b = _batch(m)
    gv, ga = m.grid_tokens(b, "joint")
    assert gv.shape == (4, m.config.video.dim, *m.config.video.grid_size)
    assert ga.shape == (4, m.config.audio.dim, *m.config.audio.grid_size)
    assert m.embed(b, "audio_teacher").shape == (4, m.config.audio.dim)
    r = m.reconstruct(b)
    assert r["video"]["prediction"].shape == b["video"].shape and r["audio"]["prediction"].shape == b["fbank"].shape
    with pytest.raises(ValueError):
        m.grid_tokens(b, "frames")


def test_teacher_only_alignment_gives_the_students_no_gradient():
    """Table 2's L_da^3 (the teachers' MMD only) trains exactly as no alignment at all (spec §10.2 C5: a
    code-level identity — the teachers have no gradient), while the default alignment changes the gradients."""
    grads = {}
    for da in ("da3", "none", "default"):
        m = _model(da=da)
        m.train()
        loss, _ = m(_batch(m))
        loss.backward()
        grads[da] = torch.cat([p.grad.flatten() for p in m._student_parameters() if p.grad is not None])
    torch.testing.assert_close(grads["da3"], grads["none"], rtol=0, atol=0)
    assert not torch.allclose(grads["default"], grads["none"])
