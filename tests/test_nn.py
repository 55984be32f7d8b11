"""nn blocks: shapes, visible-only encoding, attention maps, fused attention, taps, decoder, heads."""
import copy

import pytest
import torch
from timm.layers import use_fused_attn

from maskedav import losses as L
from maskedav.configs import ViTConfig
from maskedav.counting import count_parameters
from maskedav.masking import mask_from_bool, random_mask, tube_mask
from maskedav.nn import (ClassifierHead, CrossAttentionBlock, LinearHead, MAEDecoder, ProjectorMLP,
                         SpectrogramPatchEmbed, TubeletEmbed, ViTEncoder)

torch.manual_seed(0)


def tiny(modality="video", **kw):
    base = dict(video=dict(input_size=(4, 16, 16), patch_size=8, tubelet=2),
                image=dict(input_size=(16, 24), patch_size=8),
                audio=dict(input_size=(32, 16), patch_size=8))[modality]
    return ViTEncoder(modality=modality, dim=32, depth=3, heads=4, **{**base, **kw}).eval()


def sample(enc, b=2):
    if enc.modality == "audio":
        return torch.randn(b, *enc.patch_embed.input_size)
    size = enc.patch_embed.video_size if enc.modality == "video" else enc.patch_embed.img_size
    return torch.randn(b, 3, *size)


@pytest.mark.parametrize("modality,n", [("video", 8), ("image", 6), ("audio", 8)])
def test_encoder_shapes(modality, n):
    enc = tiny(modality)
    x = sample(enc)
    assert enc.num_patches == n and enc(x).shape == (2, n, 32)
    m = random_mask(2, n, 0.5, seed=0)
    assert enc(x, m).shape == (2, n // 2, 32)
    cls_enc = tiny(modality, cls_token=True, pos_embed="learned")
    assert cls_enc(x, m).shape == (2, 1 + n // 2, 32) and cls_enc.num_prefix_tokens == 1


def test_tubelet_embed_is_a_linear_map_of_patchified_video():
    emb = TubeletEmbed((4, 16, 16), 8, 2, 3, 10)
    v = torch.randn(2, 3, 4, 16, 16)
    flat = L.patchify_video(v, 8, 2, channel_last=False)           # (c, pt, ph, pw) = conv weight order
    ref = flat @ emb.proj.weight.view(10, -1).t() + emb.proj.bias
    assert torch.allclose(emb(v), ref, atol=1e-5)                   # token order (t, h, w)
    # MAE init: xavier-uniform of the flattened weight, bound sqrt(6 / (fan_in + fan_out))
    bound = (6 / (3 * 2 * 8 * 8 + 10)) ** 0.5
    assert emb.proj.weight.abs().max() <= bound


def test_spectrogram_layouts():
    x = torch.randn(2, 64, 16)                                      # (B, T_frames, n_mels)
    tf = SpectrogramPatchEmbed((64, 16), (16, 4), 8, layout="tf")
    ft = SpectrogramPatchEmbed((64, 16), (16, 4), 8, layout="ft")
    assert tf.grid_size == (4, 4) and ft.grid_size == (4, 4)
    ft.load_state_dict({k: v for k, v in ft.state_dict().items()})
    # XKD geometry: 448 frames x 80 mel with 16 (time) x 4 (mel) patches -> 20 x 28 grid, 560 tokens
    xkd = SpectrogramPatchEmbed((448, 80), (16, 4), 8, layout="ft")
    assert xkd.grid_size == (20, 28) and xkd(torch.randn(1, 448, 80)).shape == (1, 560, 8)
    # 'ft' token (f, t) is row-major over (freq, time)
    with torch.no_grad():
        ft.proj.weight.zero_(); ft.proj.bias.zero_(); ft.proj.weight[0, 0].fill_(1.0)
    out = ft(x)[0, :, 0]
    expect = x[0].reshape(4, 16, 4, 4).sum((1, 3)).t().reshape(-1)    # [t, f] block sums, transposed
    assert torch.allclose(out, expect, atol=1e-5)


def test_visible_only_forward_ignores_masked_pixels():
    enc = tiny("video")
    v = torch.randn(1, 3, 4, 16, 16)
    m = tube_mask(1, enc.grid_size, 0.5, seed=0)
    out = enc(v, m)
    v2 = L.unpatchify_video(L.patchify_video(v, 8, 2) + 50 * m.mask[..., None], 8, 2, enc.grid_size)
    assert not torch.allclose(v, v2)
    assert torch.allclose(enc(v2, m), out, atol=1e-5)
    # same as running the full model on a bool mask (mask_from_bool path)
    assert torch.allclose(enc(v, m.mask), out, atol=1e-6)


def test_fused_attention_matches_manual():
    assert use_fused_attn()
    enc = tiny("image")
    assert all(b.attn.fused_attn for b in enc.blocks)                  # timm uses F.scaled_dot_product_attention
    manual = copy.deepcopy(enc)
    for b in manual.blocks:
        b.attn.fused_attn = False
    x = sample(enc)
    assert torch.allclose(enc(x), manual(x), atol=1e-5)


def test_attention_maps():
    enc = tiny("video", cls_token=True)
    x = sample(enc)
    m = random_mask(2, 8, 0.5, seed=1)
    maps = enc.attention_maps(x, layer=-1, mask=m)
    assert maps.shape == (2, 4, 5, 5)
    assert torch.allclose(maps.sum(-1), torch.ones(2, 4, 5), atol=1e-5) and torch.all(maps >= 0)
    assert torch.equal(enc.attention_maps(x, layer=2, head=1, mask=m), maps[:, 1])
    # the maps reproduce the block's attention output: proj(maps @ v) == attn(norm1(tokens))
    tokens = enc.forward_features(x, m, layers=[1])[0]
    blk = enc.blocks[2]
    y = blk.norm1(tokens)
    qkv = blk.attn.qkv(y).reshape(2, 5, 3, 4, 8).permute(2, 0, 3, 1, 4)
    out = blk.attn.proj((maps @ qkv[2]).transpose(1, 2).reshape(2, 5, 32))
    assert torch.allclose(out, blk.attn(y), atol=1e-5)
    with pytest.raises(IndexError):
        enc.attention_maps(x, layer=3)


def test_forward_features_taps_are_pre_norm():
    enc = tiny("audio")
    x = sample(enc)
    last, = enc.forward_features(x)
    assert torch.allclose(enc.norm(last), enc(x), atol=1e-6)
    assert not torch.allclose(last, enc(x))
    t0, t2, t1 = enc.forward_features(x, layers=[0, -1, 1])
    assert torch.equal(t2, last)
    assert torch.allclose(enc.blocks[1](t0), t1, atol=1e-6)


def test_from_profile_config():
    cfg = ViTConfig.from_profile("smoke", "video")
    enc = ViTEncoder.from_config(cfg)
    assert enc.grid_size == cfg.grid_size == (4, 4, 4) and enc.patch_dim == cfg.patch_dim == 2 * 8 * 8 * 3
    assert ViTConfig.from_profile("cpu", "audio").grid_size == (12, 8)
    assert ViTConfig.from_profile("smoke", "image", dim=48).dim == 48


def test_decoder_all_and_masked_and_order_independence():
    cfg = ViTConfig(modality="video", input_size=(4, 16, 16), patch_size=8, tubelet=2, dim=32, depth=1, heads=4,
                    decoder_dim=16, decoder_depth=2, decoder_heads=2)
    dec = MAEDecoder.from_config(cfg).eval()
    assert dec.head.out_features == 2 * 8 * 8 * 3
    m = random_mask(2, 8, 0.75, seed=0)
    z = torch.randn(2, m.num_keep, 32)
    full = dec(z, m)
    assert full.shape == (2, 8, 384)
    dec_m = MAEDecoder.from_config(cfg, predict="masked").eval()
    dec_m.load_state_dict(dec.state_dict())
    only = dec_m(z, m)
    assert only.shape == (2, 6, 384) and torch.allclose(only, full[m.mask].view(2, 6, 384), atol=1e-5)
    # same mask with visible tokens in another order (ascending): same predictions (uses that mask's restore)
    m2 = mask_from_bool(m.mask)
    perm = torch.argsort(torch.argsort(m.ids_keep, 1), 1)              # position of each m2 token in m
    z2 = torch.gather(z, 1, perm[..., None].expand(-1, -1, 32))
    assert torch.allclose(dec(z2, m2), full, atol=1e-5)
    assert abs(dec.mask_token.std().item() - 0.02) < 0.02               # trunc-normal(0.02)
    # prefix (cls) token passes through and is dropped
    dec_cls = MAEDecoder(grid=(2, 2, 2), encoder_dim=32, dim=16, depth=1, heads=2, out_dim=5, num_prefix_tokens=1,
                         final_norm=False)
    assert dec_cls(torch.randn(2, 1 + m.num_keep, 32), m).shape == (2, 8, 5)


def test_heads():
    tokens = torch.randn(3, 1 + 6, 16)
    h = ClassifierHead(16, 10, pool="mean", num_prefix_tokens=1, init_scale=0.001)
    assert h(tokens).shape == (3, 10) and h.fc.weight.abs().max() < 1e-3 * 0.2   # 0.001 x trunc-normal(0.02)
    assert torch.allclose(h(tokens), h.fc(h.fc_norm(tokens[:, 1:].mean(1))))
    hc = ClassifierHead(16, 10, pool="cls", num_prefix_tokens=1)
    assert torch.allclose(hc(tokens), hc.fc(hc.fc_norm(tokens[:, 0])))
    # XKD projector 768 -> 2048 -> 2048 -> 256 -> 8192 with LN on all layers
    p = ProjectorMLP(768)
    n = 768 * 2048 + 2048 + 2 * 2048 + 2048 * 2048 + 2048 + 2 * 2048 + 2048 * 256 + 256 + 8192 * 256
    assert count_parameters(p) == n == 8_401_152
    y = ProjectorMLP(32, out_dim=64, hidden_dim=48, bottleneck_dim=16)(torch.randn(5, 32))
    assert y.shape == (5, 64)
    assert torch.allclose(y.mean(-1), torch.zeros(5), atol=1e-5)      # non-affine output LayerNorm
    assert count_parameters(ProjectorMLP(32, 64, 48, 16, norm="none")) < count_parameters(ProjectorMLP(32, 64, 48, 16))
    assert ProjectorMLP(32, 64, 48, 16, num_layers=1).mlp[0].in_features == 32
    lh = LinearHead(16, 4, norm="bn")
    assert lh(torch.randn(6, 16)).shape == (6, 4) and count_parameters(lh) == 16 * 4 + 4


def test_cross_attention_block():
    blk = CrossAttentionBlock(32, heads=4, context_dim=24).eval()
    q, kv = torch.randn(2, 7, 32), torch.randn(2, 3, 24)
    assert blk(q, kv).shape == (2, 7, 32)
    w = blk.attention_weights(q, kv)
    assert w.shape == (2, 4, 7, 3) and torch.allclose(w.sum(-1), torch.ones(2, 4, 7), atol=1e-5)
    # manual attention reproduces the block's attention output
    a = blk.attn
    qn, kvn = blk.norm_q(q), blk.norm_kv(kv)
    v = a.kv(kvn).reshape(2, 3, 2, 4, 8).permute(2, 0, 3, 1, 4)[1]
    ref = a.proj((w @ v).transpose(1, 2).reshape(2, 7, 32))
    assert torch.allclose(a(qn, kvn), ref, atol=1e-5)
    # one context token: every query attends to it with weight 1
    assert torch.allclose(blk.attention_weights(q, kv[:, :1]), torch.ones(2, 4, 7, 1))
    post = CrossAttentionBlock(32, heads=4, norm="post", act=torch.nn.ReLU, drop=0.1).eval()
    assert post(q, torch.randn(2, 5, 32)).shape == (2, 7, 32)
