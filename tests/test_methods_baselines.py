"""The four ancestors as methods: MAE, VideoMAE, AudioMAE, CAV-MAE (lib/maskedav/methods/).

Tiny models (the `smoke` profile's sizes, a few samples): forward / backward, the loss counts only masked
tokens, reconstruct() is input-shaped, uses the mask it is given and de-normalises exactly, CAV-MAE's
contrastive term, every config switch, the paper-scale configs (built and run on the meta device).
"""
import math

import pytest
import torch
import torch.nn.functional as F

from maskedav.counting import count_parameters
from maskedav.losses import masked_mse, norm_pix_per_channel, norm_pix_per_patch
from maskedav.methods import (BASELINES, CAVMAE, MAE, AudioMAE, AudioMAEConfig, CAVMAEConfig, MAEConfig,
                              VideoMAE, VideoMAEConfig, norm_pix_stats)
from maskedav.methods.base import SpectrogramSpace

B = 3
NAMES = list(BASELINES)


def make_batch(b: int = B, seed: int = 0) -> dict:
    g = torch.Generator().manual_seed(seed)
    return dict(video=torch.rand(b, 3, 8, 32, 32, generator=g), image=torch.rand(b, 3, 32, 32, generator=g),
                fbank=-5 + 3 * torch.randn(b, 98, 32, generator=g))


def build(name: str, **changes):
    method_cls, config_cls = BASELINES[name]
    torch.manual_seed(0)
    return method_cls(config_cls.from_profile("smoke", **changes))


def test_registry_names():
    assert NAMES == ["mae", "videomae", "audiomae", "cav_mae"]


# ------------------------------------------------------------------------------------ forward
@pytest.mark.parametrize("name", NAMES)
def test_forward_backward(name):
    m = build(name)
    loss, logs = m(make_batch())
    assert loss.ndim == 0 and torch.isfinite(loss)
    assert logs and all(torch.is_tensor(v) and v.numel() == 1 for v in logs.values())
    loss.backward()
    grads = [p.grad for p in m.encoder.parameters() if p.requires_grad]
    assert any(g is not None and g.abs().sum() > 0 for g in grads)
    assert hasattr(m, "encoder") and hasattr(m, "config")


@pytest.mark.parametrize("name", NAMES)
def test_same_seed_same_masks_and_loss(name):
    a, b = build(name), build(name)
    batch = make_batch()
    assert torch.equal(a(batch)[0], b(batch)[0])
    c = build(name, seed=1)
    c.load_state_dict(a.state_dict())
    assert not torch.equal(a(batch)[0], c(batch)[0])   # only the masks differ


def _visible_noise_hook(method):
    """Forward hook on the decoder: add large noise to every prediction at a *visible* token."""
    captured = {}

    def hook(module, args, out):
        if isinstance(out, tuple):   # CAV-MAE: (audio, video), masks are args 1 and 2
            masks = args[1:]
            return tuple(o + 1e3 * torch.randn_like(o) * (~m.mask)[..., None] for o, m in zip(out, masks))
        mask = args[1]
        captured["shape"] = out.shape
        if out.shape[1] != mask.mask.shape[1]:   # masked-only predictions: there is nothing visible
            return out
        return out + 1e3 * torch.randn_like(out) * (~mask.mask)[..., None]

    return method.decoder.register_forward_hook(hook), captured


@pytest.mark.parametrize("name", NAMES)
def test_visible_predictions_do_not_affect_the_loss(name):
    changes = {"predict": "all"} if name == "videomae" else {}
    m = build(name, **changes)
    batch = make_batch()
    clean, _ = m(batch)
    handle, captured = _visible_noise_hook(m)
    m.reseed(0)
    noisy, _ = m(batch)
    handle.remove()
    torch.testing.assert_close(clean, noisy)
    if name != "cav_mae":
        assert captured["shape"][1] == m.num_patches       # predictions at every token were made


def test_forward_loss_only_counts_masked_tokens():
    m = build("mae")
    target = torch.rand(2, m.num_patches, m.encoder.patch_dim)
    mask = m.draw_mask(2)
    pred = torch.randn_like(target, requires_grad=True)
    m.forward_loss(pred, target, mask).backward()
    assert (pred.grad[~mask.mask] == 0).all() and (pred.grad[mask.mask] != 0).any()


# ------------------------------------------------------------------------------- reconstruct
def _raw_input(name, m, batch):
    if name == "cav_mae":
        return {"audio": batch["fbank"][:, :m.audio_space.input_size[0]], "video": batch["image"]}
    return m.space.raw(batch)


@pytest.mark.parametrize("name", NAMES)
def test_reconstruct_shapes_and_given_mask(name):
    m = build(name)
    batch = make_batch()
    if name == "cav_mae":
        ma, mv = m.draw_mask("audio", B), m.draw_mask("video", B)
        out = m.reconstruct(batch, mask={"audio": ma.mask, "video": mv})     # bool tensor or Mask
        raw = _raw_input(name, m, batch)
        for mod, given in (("audio", ma), ("video", mv)):
            r = out[mod]
            assert torch.equal(r["mask"].mask, given.mask)
            for key in ("input", "masked_input", "prediction", "pasted", "mask_pixels"):
                assert r[key].shape == raw[mod].shape, (mod, key)
            assert r["mse"].shape == (B,)
            frac = r["mask_pixels"].float().mean()
            assert math.isclose(frac, given.mask.float().mean(), rel_tol=1e-6)
            vis = ~r["mask_pixels"]
            torch.testing.assert_close(r["pasted"][vis], raw[mod][vis], atol=1e-4, rtol=1e-4)
        m.eval()
        loss, logs = m(batch, mask={"audio": ma, "video": mv})
        torch.testing.assert_close(out["audio"]["loss"], logs["loss_recon_a"])
        torch.testing.assert_close(out["video"]["loss"], logs["loss_recon_v"])
        return
    given = m.draw_mask(B)
    out = m.reconstruct(batch, mask=given.mask)
    raw = _raw_input(name, m, batch)
    assert torch.equal(out["mask"].mask, given.mask)
    for key in ("input", "masked_input", "prediction", "pasted", "mask_pixels"):
        assert out[key].shape == raw.shape, key
    assert out["mse"].shape == (B,)
    assert math.isclose(out["mask_pixels"].float().mean(), given.mask.float().mean(), rel_tol=1e-6)
    vis = ~out["mask_pixels"]
    torch.testing.assert_close(out["pasted"][vis], raw[vis], atol=1e-4, rtol=1e-4)
    assert (out["masked_input"][out["mask_pixels"]] == m.space.fill_value(raw)).all()
    m.eval()
    loss, _ = m(batch, mask=given)                     # same mask -> the training loss
    torch.testing.assert_close(out["loss"], loss)
    # a different mask gives a different reconstruction
    other = m.reconstruct(batch)
    assert not torch.equal(other["mask"].mask, given.mask)


@pytest.mark.parametrize("name,norm_pix", [("mae", "per_patch"), ("mae", None), ("videomae", "per_channel"),
                                           ("videomae", "per_patch"), ("audiomae", "per_patch"),
                                           ("cav_mae", "per_patch")])
def test_reconstruct_denormalises_a_perfect_prediction(name, norm_pix):
    """If the decoder predicted the normalised target exactly, the reconstruction is the input."""
    m = build(name, norm_pix=norm_pix)
    batch = make_batch()
    raw = _raw_input(name, m, batch)

    def perfect(module, args, out):
        if name == "cav_mae":
            ta = m.audio_space.patchify(raw["audio"])
            tv = m.video_space.patchify(raw["video"])
            return tuple((t - s) / c for t, (s, c) in ((ta, norm_pix_stats(ta, norm_pix, 1)),
                                                       (tv, norm_pix_stats(tv, norm_pix, 3))))
        t = m.space.patchify(raw)
        shift, scale = norm_pix_stats(t, norm_pix, m.space.channels)
        return (t - shift) / scale

    h = m.decoder.register_forward_hook(perfect)
    out = m.reconstruct(batch)
    h.remove()
    parts = [(out[k], raw[k]) for k in ("audio", "video")] if name == "cav_mae" else [(out, raw)]
    for r, x in parts:
        torch.testing.assert_close(r["prediction"], x, atol=1e-4, rtol=1e-4)
        assert r["mse"].abs().max() < 1e-8


def test_norm_pix_stats_match_the_losses():
    t = torch.rand(2, 5, 48)
    s, c = norm_pix_stats(t, "per_patch")
    torch.testing.assert_close((t - s) / c, norm_pix_per_patch(t))
    s, c = norm_pix_stats(t, "per_channel", channels=3)
    torch.testing.assert_close((t - s) / c, norm_pix_per_channel(t, channels=3))


def test_spectrogram_space_round_trip_both_layouts():
    x = torch.randn(2, 96, 32)
    for layout in ("tf", "ft"):
        s = SpectrogramSpace((96, 32), (8, 8), layout=layout, mean=-4.0, std=3.0, std_scale=2.0)
        tokens = s.patchify(x)
        assert tokens.shape == (2, 48, 64)
        torch.testing.assert_close(s.unpatchify(tokens), x, atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(tokens.mean(), ((x + 4.0) / 6.0).mean(), atol=1e-5, rtol=1e-5)
    # token order: "tf" = time-major, "ft" = frequency-major
    tf = SpectrogramSpace((96, 32), (8, 8), layout="tf")
    ft = SpectrogramSpace((96, 32), (8, 8), layout="ft")
    y = torch.zeros(1, 96, 32)
    y[0, 8:16, 0:8] = 1.0                     # time patch 1, frequency patch 0
    assert tf.patchify(y)[0].sum(-1).argmax() == 1 * 4 + 0
    assert ft.patchify(y)[0].sum(-1).argmax() == 0 * 12 + 1


@pytest.mark.parametrize("name", NAMES)
def test_attention_maps_and_features(name):
    m = build(name)
    batch = make_batch()
    kw = {"modality": "audio"} if name == "cav_mae" else {}
    maps = m.attention_maps(batch, layer=-1, **kw)
    assert maps.dim() == 4 and maps.shape[0] == B
    torch.testing.assert_close(maps.sum(-1), torch.ones(maps.shape[:-1]))
    row = m.attention_maps(batch, layer=0, head=1, query=0, **kw)
    assert row.shape == (B, maps.shape[-1])
    feats = m.features(batch, **kw)
    depth = m.encoder.depth
    assert list(feats) == list(range(depth))
    assert all(f.shape[0] == B for f in feats.values())
    emb = m.embed(batch)
    assert emb.shape == (B, m.encoder.dim if hasattr(m.encoder, "dim") else emb.shape[1])


def test_vit_attention_matches_encoder_api():
    m = build("videomae")
    batch = make_batch()
    x = m.space.model_input(batch["video"])
    torch.testing.assert_close(m.attention_maps(batch, layer=0), m.encoder.attention_maps(x, 0))


def test_mae_embeds_clips_frame_by_frame():
    m = build("mae").eval()
    batch = make_batch()
    clip = m.embed({"video": batch["video"]})
    frames = torch.stack([m.embed({"image": batch["video"][:, :, t]}) for t in range(8)], 1).mean(1)
    torch.testing.assert_close(clip, frames, atol=1e-5, rtol=1e-5)


# ---------------------------------------------------------------------------------- CAV-MAE
def test_cavmae_contrastive_rewards_aligned_pairs():
    m = build("cav_mae")
    g = torch.Generator().manual_seed(0)
    a = torch.randn(8, 32, generator=g)
    aligned, acc = m.contrastive_loss(a, a + 0.01 * torch.randn(8, 32, generator=g))
    shuffled, acc_s = m.contrastive_loss(a, a.roll(1, 0))
    assert aligned < shuffled and acc == 1.0 and acc_s < 1.0
    # the single direction of the code: -mean(diag(log_softmax(a v^T / tau, dim=0)))
    v = torch.randn(8, 32, generator=g)
    ref = -torch.diag(F.log_softmax(F.normalize(a, dim=-1) @ F.normalize(v, dim=-1).t() / 0.05, dim=0)).mean()
    torch.testing.assert_close(m.contrastive_loss(a, v)[0], ref)


def test_cavmae_total_loss_and_weights():
    batch = make_batch()
    m = build("cav_mae")
    loss, logs = m(batch)
    expect = logs["loss_recon_a"] + logs["loss_recon_v"] + 0.01 * logs["loss_contrast"]
    torch.testing.assert_close(loss.detach(), expect)
    m2 = build("cav_mae", contrast_weight=0.0, mae_weight=2.0)
    loss2, logs2 = m2(batch)
    assert "loss_contrast" not in logs2
    torch.testing.assert_close(loss2.detach(), 2.0 * (logs2["loss_recon_a"] + logs2["loss_recon_v"]))
    m3 = build("cav_mae", mae_weight=0.0)
    loss3, logs3 = m3(batch)
    assert "loss_recon_a" not in logs3
    torch.testing.assert_close(loss3.detach(), 0.01 * logs3["loss_contrast"])


def test_cavmae_bidirectional_and_temperature():
    g = torch.Generator().manual_seed(1)
    a, v = torch.randn(6, 32, generator=g), torch.randn(6, 32, generator=g)
    one = build("cav_mae").contrastive_loss(a, v)[0]
    other = build("cav_mae").contrastive_loss(v, a)[0]
    both = build("cav_mae", bidirectional=True).contrastive_loss(a, v)[0]
    torch.testing.assert_close(both, 0.5 * (one + other))
    hot = build("cav_mae", temperature=1.0).contrastive_loss(a, v)[0]
    assert not torch.isclose(hot, one)


def test_cavmae_joint_block_has_three_norm_sets():
    m = build("cav_mae")
    jb = m.encoder.joint[0]
    with torch.no_grad():
        jb.norm1_a.weight.mul_(2.0)
    x = torch.randn(2, 5, 32)
    assert not torch.allclose(jb(x, "audio"), jb(x, None))
    torch.testing.assert_close(jb(x, "video"), jb(x, None))      # fresh copies of the joint norms
    assert m.encoder.specific_depth == 0 and m.encoder.joint_depth == 1   # smoke: depth 1 = 0 + 1
    cpu = CAVMAE(CAVMAEConfig.from_profile("cpu"))
    assert cpu.encoder.specific_depth == 2 and len(cpu.encoder.audio.blocks) == 2


def test_cavmae_frame_choice():
    batch = make_batch(b=8)
    m = build("cav_mae")
    m.eval()
    torch.testing.assert_close(m.frame({"video": batch["video"]}), batch["video"][:, :, 4])
    m.train()
    picked = m.frame({"video": batch["video"]})
    assert not torch.equal(picked, batch["video"][:, :, 4])
    assert torch.equal(build("cav_mae", train_frame="middle").frame({"video": batch["video"]}),
                       batch["video"][:, :, 4])


def test_cavmae_encode_representations():
    m = build("cav_mae").eval()
    batch = make_batch()
    assert m.encode_audio(batch).shape == (B, 32)
    assert m.encode_video(batch).shape == (B, 32)
    na, nv = m.encoder.audio.num_patches, m.encoder.video.num_patches
    assert m.encode_joint(batch, pool=False).shape == (B, na + nv, 32)
    torch.testing.assert_close(m.embed(batch, rep="audio"), m.encode_audio(batch))


# ------------------------------------------------------------------------------ config switches
def test_mask_ratio_switch():
    for name, n in (("mae", 16), ("videomae", 64), ("audiomae", 48)):
        for ratio in (0.5, 0.75):
            m = build(name, mask_ratio=ratio)
            mask = m.draw_mask(2)
            if name == "videomae":          # tube: int(ratio * HW) masked per slice
                assert mask.num_keep == 4 * (16 - int(ratio * 16))
            else:
                assert mask.num_keep == int(n * (1 - ratio))
    m = build("cav_mae", mask_ratio_a=0.5, mask_ratio_v=0.25)
    assert m.draw_mask("audio", 2).num_keep == 24 and m.draw_mask("video", 2).num_keep == 12


def test_videomae_mask_types():
    tube = build("videomae", mask_type="tube").draw_mask(4).mask.reshape(4, 4, 16)
    assert (tube == tube[:, :1]).all()                       # the same spatial mask in every slice
    rand = build("videomae", mask_type="random", mask_ratio=0.75).draw_mask(4).mask.reshape(4, 4, 16)
    assert not (rand == rand[:, :1]).all()
    frame = build("videomae", mask_type="frame", mask_ratio=0.5).draw_mask(4).mask.reshape(4, 4, 16)
    assert ((frame.all(-1)) | (~frame).all(-1)).all()         # whole slices
    assert (frame.all(-1).sum(1) == 2).all()


def test_audio_mask_types():
    m = build("audiomae", mask_type="time", mask_ratio=0.5)
    mask = m.draw_mask(3).mask.reshape(3, 12, 4)               # "tf" layout: (time, freq)
    assert (mask.all(-1).sum(1) >= int(12 * 0.5)).all()      # whole time columns forced
    m = build("audiomae", mask_type="freq", mask_ratio=0.5)
    mask = m.draw_mask(3).mask.reshape(3, 12, 4)
    assert (mask.all(1).sum(1) >= int(4 * 0.5)).all()
    c = build("cav_mae", audio_mask_type="time", mask_ratio_a=0.5)
    mask = c.draw_mask("audio", 3).mask.reshape(3, 4, 12)     # "ft" layout: (freq, time)
    assert (mask.all(1).sum(1) >= 6).all()


def test_norm_pix_switch_changes_the_target():
    batch = make_batch()
    losses = {}
    for norm in ("per_channel", "per_patch", None):
        m = build("videomae", norm_pix=norm)
        mask = m.draw_mask(B)
        m.eval()
        loss, _ = m(batch, mask=mask)
        pred = m.decoder(m.encoder(m.space.model_input(batch["video"]), mask), mask)
        ref = masked_mse(pred, m.space.patchify(batch["video"]), mask, norm_pix=norm, channels=3)
        torch.testing.assert_close(loss, ref)
        losses[norm] = loss.item()
    assert len(set(losses.values())) == 3


def test_predict_switch_same_loss_different_output():
    batch = make_batch()
    a = build("videomae", predict="masked")
    b = build("videomae", predict="all")
    b.load_state_dict(a.state_dict())
    mask = a.draw_mask(B)
    a.eval(), b.eval()
    torch.testing.assert_close(a(batch, mask=mask)[0], b(batch, mask=mask)[0])
    z = a.encoder(a.space.model_input(batch["video"]), mask)
    assert a.decoder(z, mask).shape[1] == 64 - mask.num_keep and b.decoder(z, mask).shape[1] == 64


@pytest.mark.parametrize("name", NAMES)
def test_decoder_size_switches(name):
    m = build(name, decoder_depth=3, decoder_dim=48, decoder_heads=3)
    assert len(m.decoder.blocks) == 3 and m.decoder.dim == 48


def test_encoder_size_switches():
    m = build("videomae", dim=48, depth=2, heads=3)
    assert m.encoder.dim == 48 and len(m.encoder.blocks) == 2
    c = build("cav_mae", dim=48, heads=3)
    assert c.encoder.dim == 48 and c.config.audio.dim == c.config.video.dim == 48


def test_normalize_input_switch():
    x = torch.rand(2, 3, 32, 32)
    on, off = build("mae", normalize_input=True), build("mae", normalize_input=False)
    assert torch.equal(off.space.model_input(x), x)
    torch.testing.assert_close(on.space.model_input(x)[:, 0], (x[:, 0] - 0.485) / 0.229)
    assert torch.equal(on.space.patchify(x), off.space.patchify(x))     # MAE: targets stay raw pixels


def test_fbank_normalisation_switches():
    x = -5 + 3 * torch.randn(2, 96, 32)
    a = build("audiomae", fbank_mean=-5.0, fbank_std=3.0, std_scale=2.0)
    torch.testing.assert_close(a.space.model_input(x), (x + 5.0) / 6.0)
    c = build("cav_mae", fbank_mean=-5.0, fbank_std=3.0)
    torch.testing.assert_close(c.audio_space.model_input(x), (x + 5.0) / 3.0)   # CAV-MAE: no x2


def test_invalid_configs_raise():
    with pytest.raises(NotImplementedError):
        AudioMAEConfig.from_profile("smoke", decoder_mode=1)
    with pytest.raises(ValueError):
        VideoMAEConfig.from_profile("smoke", mask_type="diagonal")
    with pytest.raises(TypeError):
        MAEConfig.from_profile("smoke", not_a_field=1)
    with pytest.raises(ValueError):
        CAVMAEConfig.from_profile("smoke").replace(video=MAEConfig.from_profile("smoke").vit.replace(dim=64))


# ----------------------------------------------------------------------------- paper scale
def _block_params(d: int) -> int:
    return 12 * d * d + 13 * d          # qkv, proj, fc1, fc2 weights + biases, two LayerNorms


PAPER = [
    ("mae-b", lambda: MAE(MAEConfig.paper("b")), (1, 3, 224, 224), "image"),
    ("videomae-b", lambda: VideoMAE(VideoMAEConfig.paper("b")), (1, 3, 16, 224, 224), "video"),
    ("videomae-s", lambda: VideoMAE(VideoMAEConfig.paper("s")), (1, 3, 16, 224, 224), "video"),
    ("audiomae-b", lambda: AudioMAE(AudioMAEConfig.paper()), (1, 1024, 128), "fbank"),
]


@pytest.mark.parametrize("label,make,shape,key", PAPER, ids=[p[0] for p in PAPER])
def test_paper_scale_builds_and_runs_on_meta(label, make, shape, key):
    with torch.device("meta"):
        m = make()
        loss, _ = m({key: torch.empty(shape)})
    assert loss.shape == ()
    cfg = m.config.vit
    enc = count_parameters(m.encoder)
    expect = cfg.depth * _block_params(cfg.dim) + 2 * cfg.dim                     # blocks + final norm
    expect += cfg.patch_dim * cfg.dim + cfg.dim + (cfg.dim if cfg.cls_token else 0)  # patch embed (+ cls)
    assert enc == expect
    if label == "mae-b":
        assert enc == 85_647_360 and m.decoder.dim == 512 and len(m.decoder.blocks) == 8
    if label == "videomae-b":
        assert m.encoder.grid_size == (8, 14, 14) and m.decoder.predict == "masked"
        assert m.decoder.dim == 384 and len(m.decoder.blocks) == 4
        assert m.config.mask_ratio == 0.9 and m.config.norm_pix == "per_channel"
    if label == "audiomae-b":
        assert m.encoder.grid_size == (64, 8) and len(m.decoder.blocks) == 8 and m.config.mask_ratio == 0.8


def test_cavmae_paper_scale_builds_and_runs_on_meta():
    with torch.device("meta"):
        m = CAVMAE(CAVMAEConfig.paper())
        loss, logs = m({"fbank": torch.empty(2, 1024, 128), "image": torch.empty(2, 3, 224, 224)})
    assert loss.shape == () and set(logs) >= {"loss_recon_a", "loss_recon_v", "loss_contrast"}
    e = m.encoder
    assert e.specific_depth == 11 and e.joint_depth == 1 and e.audio.grid_size == (8, 64)
    assert e.video.grid_size == (14, 14) and m.decoder.dim == 512 and len(m.decoder.blocks) == 8
    assert m.decoder.head_a.out_features == 256 and m.decoder.head_v.out_features == 768
    d = 768
    # two streams of 11 blocks, one joint block with 2 extra LayerNorm pairs, 3 final norms, 2 modality
    # embeddings, 2 patch embeddings (audio 1 channel, video 3)
    expect = 22 * _block_params(d) + _block_params(d) + 4 * 2 * d + 3 * 2 * d + 2 * d
    expect += (256 * d + d) + (768 * d + d)
    assert count_parameters(e) == expect
    c = m.config
    assert (c.mask_ratio_a, c.mask_ratio_v, c.contrast_weight, c.temperature, c.bidirectional) == \
        (0.75, 0.75, 0.01, 0.05, False)


# --------------------------------------------------------------------------- training / study layer
def test_trains_with_the_engine_under_fixed_eval_masks():
    from maskedav.study.data import batch_fn, chunks
    from maskedav.study.runs import _heldout_eval_fn
    from maskedav.train import TrainConfig, train
    from maskedav.train.engine import _generators

    data = {"video": torch.rand(8, 3, 8, 32, 32)}
    fn = batch_fn(data, 4, ("video",), seed=0)
    assert torch.equal(fn(3)["video"], fn(3)["video"])
    assert not torch.equal(fn(0)["video"], fn(1)["video"])
    m = build("videomae")
    assert list(_generators(m)) == ["generator"]     # the engine checkpoints the mask generator
    ev = _heldout_eval_fn(chunks(data, ("video",), 4), ("video",))
    assert ev(m) == ev(m)                            # fixed masks: evaluation is repeatable
    res = train(m, fn, TrainConfig(steps=2, lr=1e-3, eval_every=1, progress=False), eval_fn=ev)
    assert len(res.history) == 2 and len(res.eval_history) == 3
    assert res.eval_history[-1]["heldout_loss"] < res.eval_history[0]["heldout_loss"] + 1.0


def test_checkpoint_round_trip(tmp_path, monkeypatch):
    from maskedav.checkpoints import save_checkpoint
    from maskedav.chapters.baselines import load_baseline

    monkeypatch.setenv("MASKEDAV_CACHE", str(tmp_path))
    m = build("audiomae", fbank_mean=-3.0, fbank_std=2.0)
    save_checkpoint("baselines/audiomae", m, profile="smoke", seed=0, config=m.config)
    back = load_baseline("audiomae", profile="smoke", seed=0)
    batch = make_batch()
    m.eval()
    torch.testing.assert_close(back.embed(batch), m.embed(batch))
    assert back.config == m.config
