"""KDC-MAE: the model's mechanistic checks (spec §10.4) — complementary / independent masks, the refused
ratios, the per-stream restore (and the released code's bug as an ablation), the KD loss against a float64
reference, gradient routing (§4.8), the CAV-MAE initialisation, the weightings, MAKD, structured audio
masks — and the chapter's figures (Fig. 1, Fig. 2a, the routing table / Fig. 2b, inpainting)."""
import dataclasses
import itertools
import math

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from maskedav.chapters import kdc_mae_figures as kf  # noqa: E402
from maskedav.chapters.baselines import build_config  # noqa: E402
from maskedav.losses import info_nce, symmetric_kl  # noqa: E402
from maskedav.masking import apply_mask, complementary_masks, unshuffle  # noqa: E402
from maskedav.methods.cav_mae import CAVMAE  # noqa: E402
from maskedav.methods.kdc_mae import KDCMAE, KDCMAEConfig, coverage, expected_coverage  # noqa: E402
from maskedav.profiles import get_profile  # noqa: E402

B = 4


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def cc():
    # smoke sizes with one modality-specific block per stream (smoke's depth 1 leaves none): fbank 96×32
    # → 4×12 (freq × time) tokens, frame 32² → 4×4 tokens, dim 32, 1 joint block, 1 decoder block
    P = get_profile("smoke")
    return build_config("cav_mae", dataclasses.replace(P, model=dataclasses.replace(P.model, depth=2)))


def _model(cc, **changes) -> KDCMAE:
    torch.manual_seed(0)
    return KDCMAE(KDCMAEConfig.from_cavmae(cc, **changes))


def _batch(cc, seed=0, b=B):
    g = torch.Generator().manual_seed(seed)
    h, w = cc.video.input_size
    return dict(fbank=torch.randn(b, *cc.audio.input_size, generator=g),
                video=torch.rand(b, 3, 8, h, w, generator=g))


def _visible_counts(m):
    return (~m.mask).sum(1)


def _assert_disjoint_exact(masks, n_tokens, ratio):
    keep = int(n_tokens * (1 - ratio))
    for m in masks:
        assert torch.equal(_visible_counts(m), torch.full((m.mask.shape[0],), keep))
        # ids_keep lists exactly the visible tokens
        vis = torch.zeros_like(m.mask).scatter_(1, m.ids_keep, True)
        assert torch.equal(vis, ~m.mask)
    for a, b in itertools.combinations(masks, 2):
        assert not bool((~a.mask & ~b.mask).any())
    assert coverage(masks) == pytest.approx(len(masks) * keep / n_tokens)


# ------------------------------------------------------------------------------------------- masks
@pytest.mark.parametrize("streams", [2, 3])
def test_complementary_masks_disjoint_with_exact_counts(streams):
    masks = complementary_masks(64, 196, 0.75, streams, seed=0)
    _assert_disjoint_exact(masks, 196, 0.75)
    assert coverage(masks) == pytest.approx(streams * 0.25) == pytest.approx(expected_coverage(0.75, streams, True))


@pytest.mark.parametrize("streams", [2, 3])
def test_model_stream_masks_complementary_per_modality(cc, streams):
    model = _model(cc, num_streams=streams)
    masks = model.stream_masks(32)
    assert len(masks) == streams
    audio, video = [a for a, _ in masks], [v for _, v in masks]
    _assert_disjoint_exact(audio, cc.audio.num_patches, cc.mask_ratio_a)
    _assert_disjoint_exact(video, cc.video.num_patches, cc.mask_ratio_v)
    assert coverage(video) == pytest.approx(streams * (1 - cc.mask_ratio_v))


def test_independent_masks_overlap_like_independent_draws(cc):
    model = _model(cc, complementary=False)
    masks = model.stream_masks(3000)
    r = cc.mask_ratio_v
    for mods in ([a for a, _ in masks], [v for _, v in masks]):
        overlap = (~mods[0].mask & ~mods[1].mask).float().mean()
        assert float(overlap) == pytest.approx((1 - r) ** 2, abs=0.006)          # 6.25 % of the tokens
        assert coverage(mods) == pytest.approx(expected_coverage(r, 2, False), abs=0.006)   # 43.75 %
        assert bool((~mods[0].mask & ~mods[1].mask).any(1).float().mean() > 0.5)  # not disjoint


def test_audio_and_video_masks_independent(cc):
    model = _model(cc)
    masks = model.stream_masks(4000)
    na, nv = cc.audio.num_patches, cc.video.num_patches
    # the stream that sees each token (complementary: 0 = none, k = stream k): audio token i vs video token i
    stream_a = sum((k + 1) * (~a.mask).long() for k, (a, _) in enumerate(masks))
    stream_v = sum((k + 1) * (~v.mask).long() for k, (_, v) in enumerate(masks))
    n = min(na, nv)
    both_s1 = ((stream_a[:, :n] == 1) & (stream_v[:, :n] == 1)).float().mean()
    assert float(both_s1) == pytest.approx(0.25 * 0.25, abs=0.01)
    same = (stream_a[:, :n] == stream_v[:, :n]).float().mean()      # independent: Σ_k P(k)² = 0.5²+2·0.25²
    assert float(same) == pytest.approx(0.375, abs=0.015)
    # and the per-sample order of the drawn tokens is unrelated
    assert not torch.equal(masks[0][0].ids_keep[:, :4] % nv, masks[0][1].ids_keep)


# -------------------------------------------------------------------------------- refused ratios
def test_impossible_ratio_is_refused(cc):
    with pytest.raises(ValueError, match="mask_ratio_v"):
        KDCMAEConfig.from_cavmae(cc, num_streams=3, mask_ratio_v=0.5)
    with pytest.raises(ValueError, match="mask_ratio_a"):
        KDCMAEConfig.from_cavmae(cc, num_streams=3, mask_ratio_a=0.5)
    with pytest.raises(ValueError):
        complementary_masks(2, 16, 0.5, num_streams=3)
    with pytest.raises(ValueError):
        complementary_masks(2, 196, 0.6, num_streams=3)                  # 3·78 = 234 > 196
    # feasible: two streams at 0.5 (8 + 8 of 16), three at 0.75; independent masks at any ratio
    KDCMAEConfig.from_cavmae(cc, num_streams=2, mask_ratio_v=0.5)
    KDCMAEConfig.from_cavmae(cc, num_streams=3, mask_ratio_v=0.5, complementary=False)
    _assert_disjoint_exact(complementary_masks(3, 16, 0.5, 2, seed=1), 16, 0.5)
    # only the final config is validated: independent masks at a ratio complementary ones cannot use
    cfg = KDCMAEConfig.from_cavmae(cc.replace(mask_ratio_v=0.4), complementary=False)
    assert cfg.mask_ratio_v == 0.4 and not cfg.complementary
    # dynamic weights need a KD term to weigh (one stream: its weight would drift without bound)
    with pytest.raises(ValueError, match="num_streams"):
        KDCMAEConfig.from_cavmae(cc, num_streams=1, weighting="uncertainty")


# ----------------------------------------------------------------------------------------- restore
@pytest.mark.parametrize("modality", ["audio", "video"])
def test_per_stream_restore_puts_every_token_back(cc, modality):
    model = _model(cc)
    i = 0 if modality == "audio" else 1
    masks = [pair[i] for pair in model.stream_masks(B)]
    n = masks[0].num_tokens
    x = torch.randn(B, n, 5)
    mask_token = torch.full((5,), 99.0)
    assert not torch.equal(masks[0].ids_restore, masks[1].ids_restore)   # each stream its own restore
    for m in masks:
        gathered = torch.stack([x[b, m.ids_keep[b]] for b in range(B)])   # by hand
        assert torch.equal(apply_mask(x, m), gathered)
        out = unshuffle(gathered, mask_token, m)
        assert torch.equal(out[~m.mask], x[~m.mask])
        assert bool((out[m.mask] == 99.0).all())


def test_shared_restore_reproduces_the_released_bug(cc):
    model = _model(cc, shared_restore=True)
    masks = [v for _, v in model.stream_masks(B)]
    m1, m2 = masks
    assert torch.equal(m1.ids_restore, m2.ids_restore)
    x = torch.randn(B, m1.num_tokens, 5)
    out1 = unshuffle(apply_mask(x, m1), torch.full((5,), 99.0), m1)
    assert torch.equal(out1[~m1.mask], x[~m1.mask])                      # stream 1 is unaffected
    out2 = unshuffle(apply_mask(x, m2), torch.full((5,), 99.0), m2)
    for b in range(B):
        # stream 2's tokens land at stream 1's visible positions; its own positions get mask tokens
        assert torch.equal(out2[b, m1.ids_keep[b]], x[b, m2.ids_keep[b]])
        assert bool((out2[b, m2.ids_keep[b]] == 99.0).all())
    assert not torch.equal(out2[~m2.mask], x[~m2.mask])


# ------------------------------------------------------------------------------------------ KD loss
def _direct_sym_kl(x1, x2, eps=1e-12):
    """float64 reference: per-row min shift, divide by the row sum, then + eps; ½(KL(p‖q) + KL(q‖p))."""
    def dist(x):
        y = x - x.min(dim=-1, keepdim=True).values
        return y / y.sum(dim=-1, keepdim=True) + eps

    p, q = dist(x1), dist(x2)
    kl = lambda a, b: (a * (a.log() - b.log())).sum(-1)  # noqa: E731
    return (0.5 * (kl(p, q) + kl(q, p))).mean()


def test_kd_loss_zero_symmetric_finite(cc):
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(6, 32, generator=g), torch.randn(6, 32, generator=g)
    for div in ("sym_kl", "js"):
        for shift in ("per_sample", "batch"):
            assert float(symmetric_kl(x, x, shift=shift, divergence=div)) == 0.0
            assert float(symmetric_kl(x, y, shift=shift, divergence=div)) == pytest.approx(
                float(symmetric_kl(y, x, shift=shift, divergence=div)), rel=1e-6)
            assert float(symmetric_kl(x, y, shift=shift, divergence=div)) > 0
    # many zeros after the shift (ties at the minimum), in both arguments, at different places
    xz, yz = x.clone().requires_grad_(), y.clone()
    with torch.no_grad():
        xz[:, :8] = -5.0
        yz[:, 8:16] = -5.0
    d = symmetric_kl(xz, yz)
    d.backward()
    assert math.isfinite(d.item()) and bool(torch.isfinite(xz.grad).all())
    # the model's kd_loss on features dicts
    model = _model(cc)
    f = dict(joint=x)
    assert float(model.kd_loss([f, f])) == 0.0
    assert float(model.kd_loss([dict(joint=x), dict(joint=y)])) == pytest.approx(float(symmetric_kl(x, y)))
    assert float(model.kd_loss([dict(joint=x), dict(joint=y)])) == pytest.approx(
        float(model.kd_loss([dict(joint=y), dict(joint=x)])))


def test_kd_loss_value_and_gradient_match_float64_reference():
    g = torch.Generator().manual_seed(1)
    x1 = torch.randn(5, 24, dtype=torch.float64, generator=g)
    x2 = torch.randn(5, 24, dtype=torch.float64, generator=g)
    a, b = x1.float().requires_grad_(), x2.float().requires_grad_()
    d = symmetric_kl(a, b)
    d.backward()
    r1, r2 = x1.clone().requires_grad_(), x2.clone().requires_grad_()
    ref = _direct_sym_kl(r1, r2)
    ref.backward()
    assert d.item() == pytest.approx(ref.item(), rel=1e-5)
    assert torch.allclose(a.grad.double(), r1.grad, rtol=1e-4, atol=1e-6)
    assert torch.allclose(b.grad.double(), r2.grad, rtol=1e-4, atol=1e-6)


def test_kd_loss_averages_stream_pairs_and_sums_aavv(cc):
    g = torch.Generator().manual_seed(2)
    feats = [{k: torch.randn(4, 32, generator=g) for k in ("joint", "audio", "video")} for _ in range(3)]
    model = _model(cc, num_streams=3)
    pairs = [(0, 1), (0, 2), (1, 2)]
    expected = sum(float(symmetric_kl(feats[i]["joint"], feats[j]["joint"])) for i, j in pairs) / 3
    assert float(model.kd_loss(feats)) == pytest.approx(expected, rel=1e-6)
    aavv = _model(cc, kd_pairs="aavv")
    expected = sum(float(symmetric_kl(feats[0][k], feats[1][k])) for k in ("joint", "audio", "video"))
    assert float(aavv.kd_loss(feats[:2])) == pytest.approx(expected, rel=1e-6)


# ---------------------------------------------------------------------------------- gradient routing
def _terms(model, batch, masks):
    fbank, frame = model.fbank(batch), model.frame(batch)
    xa, xv = model.audio_space.model_input(fbank), model.video_space.model_input(frame)
    streams = [model.stream_losses(xa, xv, fbank, frame, ma, mv) for ma, mv in masks]
    return (sum(s["recon_a"] + s["recon_v"] for s in streams), sum(s["contrast"] for s in streams),
            model.kd_loss([s["features"] for s in streams]))


def _grad_norm(module):
    return sum(float(p.grad.pow(2).sum()) for p in module.parameters() if p.grad is not None) ** 0.5


def _decoder_untouched(model):
    return all(p.grad is None or not bool(p.grad.any()) for p in model.decoder.parameters())


def test_gradient_routing_kd_and_contrast_skip_the_decoder(cc):
    model = _model(cc).eval()
    batch = _batch(cc)
    masks = model.stream_masks(B)
    enc = model.encoder
    for which in (1, 2):              # contrast, KD
        model.zero_grad(set_to_none=True)
        term = _terms(model, batch, masks)[which]
        weight = (model.config.contrast_weight, model.config.kd_weight)[which - 1]
        (weight * term).backward()
        assert _decoder_untouched(model), which
        for part in (enc.audio.blocks[0], enc.video.blocks[0], enc.audio.patch_embed, enc.video.patch_embed,
                     enc.joint[0].block.attn, enc.joint[0].block.mlp):
            assert _grad_norm(part) > 0, (which, type(part).__name__)
    model.zero_grad(set_to_none=True)
    _terms(model, batch, masks)[0].backward()
    dec = model.decoder
    for part in (dec.embed, dec.blocks[0], dec.head_a, dec.head_v):
        assert _grad_norm(part) > 0
    assert bool(dec.mask_token.grad.any())
    assert _grad_norm(enc.audio.blocks[0]) > 0 and _grad_norm(enc.video.blocks[0]) > 0


def test_forward_without_reconstruction_leaves_decoder_without_gradient(cc):
    model = _model(cc, mae_weight=0.0).eval()
    loss, logs = model(_batch(cc))
    loss.backward()
    assert _decoder_untouched(model)
    assert _grad_norm(model.encoder.joint[0]) > 0 and _grad_norm(model.encoder.audio.blocks[0]) > 0


# --------------------------------------------------------------------------- model, weights, MAKD
def test_same_initial_weights_as_cavmae(cc):
    torch.manual_seed(0)
    ref = CAVMAE(cc).state_dict()
    for changes in (dict(), dict(num_streams=3), dict(weighting="mlp"), dict(weighting="uncertainty"),
                    dict(makd=True, complementary=False, kd_weight=0.0)):
        sd = _model(cc, **changes).state_dict()
        shared = set(ref) & set(sd)
        assert shared == set(ref)
        for k in shared:
            assert torch.equal(ref[k], sd[k]), (changes, k)


def test_forward_finite_loss_and_logged_terms(cc):
    model = _model(cc).eval()
    batch = _batch(cc)
    masks = model.stream_masks(B)
    loss, logs = model(batch, masks=masks)
    assert math.isfinite(loss.item())
    for k in ("loss_recon", "loss_contrast", "loss_kd", "loss_kd_weighted", "contrast_acc", "loss_recon_s1",
              "loss_recon_s2"):
        assert k in logs and math.isfinite(float(logs[k])), k
    c = model.config
    hand = c.mae_weight * logs["loss_recon"] + c.contrast_weight * logs["loss_contrast"] + c.kd_weight * logs["loss_kd"]
    assert loss.item() == pytest.approx(float(hand), rel=1e-5)
    assert float(logs["loss_recon_s1"] + logs["loss_recon_s2"]) == pytest.approx(float(logs["loss_recon"]), rel=1e-6)
    assert float(logs["loss_kd_weighted"]) == pytest.approx(10 * float(logs["loss_kd"]), rel=1e-6)
    with pytest.raises(ValueError):
        model(batch, masks=masks[:1])


def test_kd_weight_zero_logs_kd_without_gradient(cc):
    model = _model(cc, kd_weight=0.0).eval()
    batch = _batch(cc)
    masks = model.stream_masks(B)
    loss, logs = model(batch, masks=masks)
    assert float(logs["loss_kd"]) > 0 and float(logs["loss_kd_weighted"]) == 0
    loss.backward()
    full = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
    model.zero_grad(set_to_none=True)
    recon, contrast, _ = _terms(model, batch, masks)
    c = model.config
    (c.mae_weight * recon + c.contrast_weight * contrast).backward()
    without_kd = {n: p.grad for n, p in model.named_parameters() if p.grad is not None}
    assert full.keys() == without_kd.keys()
    for n in full:
        assert torch.allclose(full[n], without_kd[n], rtol=1e-5, atol=1e-7), n


def test_uncertainty_weights_start_at_static_lambdas(cc):
    model = _model(cc, weighting="uncertainty").eval()
    loss, logs = model(_batch(cc))
    c = model.config
    assert float(logs["weight_recon"]) == pytest.approx(c.mae_weight, rel=1e-6)
    assert float(logs["weight_contrast"]) == pytest.approx(c.contrast_weight, rel=1e-6)
    assert float(logs["weight_kd"]) == pytest.approx(c.kd_weight, rel=1e-6)
    s = -torch.tensor([c.mae_weight, c.contrast_weight, c.kd_weight]).log()
    hand = (c.mae_weight * logs["loss_recon"] + c.contrast_weight * logs["loss_contrast"]
            + c.kd_weight * logs["loss_kd"] + s.sum())
    assert loss.item() == pytest.approx(float(hand), rel=1e-5)
    loss.backward()
    assert model.log_vars.grad is not None and bool(model.log_vars.grad.any())


def test_mlp_weights_in_range(cc):
    model = _model(cc, weighting="mlp").eval()
    loss, logs = model(_batch(cc))
    w = torch.stack([logs["weight_recon"], logs["weight_contrast"], logs["weight_kd"]])
    assert bool((w >= 1).all()) and bool((w <= math.e ** 3 + 1e-4).all())
    c = model.config
    hand = (w[0] * c.mae_weight * logs["loss_recon"] + w[1] * c.contrast_weight * logs["loss_contrast"]
            + w[2] * c.kd_weight * logs["loss_kd"])
    assert loss.item() == pytest.approx(float(hand), rel=1e-5)
    loss.backward()
    assert any(p.grad is not None and bool(p.grad.any()) for p in model.mixer.parameters())


def test_makd_moves_the_student_towards_the_teacher(cc):
    m = 0.9
    model = _model(cc, makd=True, complementary=False, kd_weight=0.0, makd_interval=2, makd_momentum=m)
    assert not torch.equal(model.encoder.video.patch_embed.proj.weight, model.peer_encoder.video.patch_embed.proj.weight)
    model.train()
    batch = _batch(cc)
    with torch.no_grad():
        for _ in range(2):                       # two training steps: no sync yet
            before = model.encoder.joint[0].block.attn.qkv.weight.clone()
            loss, logs = model(batch)
            assert torch.equal(model.encoder.joint[0].block.attn.qkv.weight, before)
        assert math.isfinite(loss.item()) and "loss_net1" in logs and "loss_net2" in logs
        first = model.encoder.joint[0].block.attn.qkv.weight.clone()
        peer = model.peer_encoder.joint[0].block.attn.qkv.weight.clone()
        first_head = model.decoder.head_v.weight.clone()
        peer_head = model.peer_decoder.head_v.weight.clone()
        l1, l2 = model.makd_loss.tolist()
        model(batch)                             # step 3 (after makd_interval steps): sync, then compute
    if l1 <= l2:                                 # network 1 is the teacher: network 2 moves
        t, s, new_s, new_t = first, peer, model.peer_encoder.joint[0].block.attn.qkv.weight, model.encoder.joint[0].block.attn.qkv.weight
        th, sh, new_sh = first_head, peer_head, model.peer_decoder.head_v.weight
    else:
        t, s, new_s, new_t = peer, first, model.encoder.joint[0].block.attn.qkv.weight, model.peer_encoder.joint[0].block.attn.qkv.weight
        th, sh, new_sh = peer_head, first_head, model.decoder.head_v.weight
    assert torch.allclose(new_s, m * s + (1 - m) * t, atol=1e-7)
    assert torch.equal(new_t, t)
    assert torch.allclose(new_sh, m * sh + (1 - m) * th, atol=1e-7)
    with pytest.raises(ValueError):
        KDCMAEConfig.from_cavmae(cc, makd=True)                  # needs independent masks and no KD


def test_info_nce_identical_embeddings_is_log_n(cc):
    for n in (2, 5, 16):
        e = torch.randn(1, 8).expand(n, 8)
        assert float(info_nce(e, e, temperature=0.05)) == pytest.approx(math.log(n), rel=1e-5)
    model = _model(cc)
    e = torch.randn(1, 32).expand(7, 32)
    assert float(model.contrastive_loss(e, e)[0]) == pytest.approx(math.log(7), rel=1e-5)


def test_structured_audio_masks_with_complementary_video(cc):
    model = _model(cc, audio_mask_type="time", num_streams=2)
    masks = model.stream_masks(64)
    video = [v for _, v in masks]
    _assert_disjoint_exact(video, cc.video.num_patches, cc.mask_ratio_v)
    sa = model.audio_space                                   # "ft" layout: token = f·n_time + t
    n_forced = int(sa.n_time * cc.mask_ratio_a)
    audio = [a for a, _ in masks]
    for a in audio:
        assert torch.equal(_visible_counts(a), torch.full((64,), int(cc.audio.num_patches * (1 - cc.mask_ratio_a))))
        columns_masked = a.mask.reshape(64, sa.n_freq, sa.n_time).all(1).sum(1)
        assert bool((columns_masked >= n_forced).all())
    # drawn per stream: different masks, not forced disjoint (time masks of 3 visible columns overlap)
    assert not torch.equal(audio[0].mask, audio[1].mask)
    assert bool((~audio[0].mask & ~audio[1].mask).any())
    loss, _ = model(_batch(cc))
    assert math.isfinite(loss.item())


# ----------------------------------------------------------------------------------------- figures
def test_fig1_figure_traces_the_streams(cc):
    model = _model(cc)
    state = model.generator.get_state()
    fig, trace = kf.fig1_figure(model, _batch(cc))
    assert torch.equal(model.generator.get_state(), state) and model.training
    names = [t["name"] for t in trace]
    assert names[0].startswith("AE patch embed") and any(n.startswith("JD head_v") for n in names)
    calls = {t["name"]: t["calls"] for t in trace}
    assert calls["AE patch embed (fbank)"] == 2                        # one call per stream
    assert calls["AVE joint block 1/1 (3 passes)"] == 6                # joint, audio, video pass per stream
    assert {t["group"] for t in trace} == {"audio", "video", "joint", "decoder"}
    title = fig.axes[0].get_title()
    assert "2 weight-shared streams" in title and "complementary" in title and "λ_kd = 10" in title
    plt.close(fig)


@pytest.mark.parametrize("changes", [dict(), dict(num_streams=3), dict(complementary=False)])
def test_mask_figure_builds(cc, changes):
    model = _model(cc, **changes)
    fig = kf.mask_figure(model, _batch(cc), index=1)
    assert len(fig.axes) == 2 and not model.training
    plt.close(fig)


def test_token_labels_match_the_model_token_layout(cc):
    model = _model(cc)
    masks = model.stream_masks(B)
    lab = kf.token_labels([a for a, _ in masks])
    assert bool(((lab == 1) == ~masks[0][0].mask).all()) and bool(((lab == 2) == ~masks[1][0].mask).all())
    # the per-pixel labels agree with the reconstruction's own mask_pixels (same token ↔ pixel map)
    rec = model.reconstruct(_batch(cc), mask=dict(audio=masks[0][0], video=masks[0][1]))
    pix_a = kf._pixel_labels(model.audio_space, lab, cc.audio.patch_dim)
    assert torch.equal(torch.from_numpy(pix_a != 1), rec["audio"]["mask_pixels"])
    lab_v = kf.token_labels([v for _, v in masks])
    pix_v = kf._pixel_labels(model.video_space, lab_v, cc.video.patch_dim)
    assert torch.equal(torch.from_numpy(pix_v != 1), rec["video"]["mask_pixels"])


def test_gradient_routing_table_and_figure(cc):
    model = _model(cc)
    state = model.generator.get_state()
    table = kf.gradient_routing(model, _batch(cc))
    assert torch.equal(model.generator.get_state(), state)
    assert list(table.index) == ["reconstruction", "contrastive", "KD"]
    assert list(table.columns) == list(kf.MODULE_GROUPS)
    assert table.loc["KD", "decoder"] == 0 and table.loc["contrastive", "decoder"] == 0
    assert table.loc["reconstruction", "decoder"] > 0
    for term in table.index:
        for group in ("audio encoder", "video encoder", "joint encoder"):
            assert table.loc[term, group] > 0, (term, group)
    assert all(p.grad is None for p in model.parameters())             # gradients put back
    fig = kf.routing_figure(table)
    assert "0" in [t.get_text() for t in fig.axes[0].texts]
    plt.close(fig)


def test_inpainting_figure_builds(cc):
    model = _model(cc)
    masks = model.stream_masks(B)
    fig = kf.inpainting_figure(model, _batch(cc), masks, index=2)
    assert len(fig.axes) == 2 * 6
    plt.close(fig)


def test_eps_floor_share_by_hand():
    from maskedav.chapters.kdc_mae import eps_floor_share
    from maskedav.losses import shifted_distribution

    # p = [0, .25, .25, .5], q = [.25, 0, .25, .5] (+ε): the streams differ only where one is floored
    p = shifted_distribution(torch.tensor([[0.0, 1.0, 1.0, 2.0]]))
    q = shifted_distribution(torch.tensor([[1.0, 0.0, 1.0, 2.0]]))
    assert eps_floor_share(p, q) == pytest.approx(1.0)
    # same floors, other entries different: nothing comes from the floor (p(argmin) = q(argmin) = ε)
    r = shifted_distribution(torch.tensor([[0.0, 2.0, 1.0, 1.0]]))
    assert eps_floor_share(p, r) == pytest.approx(0.0, abs=1e-12)
