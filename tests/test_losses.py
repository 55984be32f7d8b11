"""Losses: hand-computed values on tiny inputs (maskedav.losses)."""
import math

import pytest
import torch
import torch.nn.functional as F

from maskedav import losses as L
from maskedav.masking import mask_from_bool, random_mask


# ------------------------------------------------------------------------------ patchify
def test_patchify_image_order_hand():
    img = torch.arange(12.0).view(1, 3, 2, 2)            # c, h, w
    tok = L.patchify_image(img, 2)
    # (p, q, c) channel-last: pixel (0,0) of c0,c1,c2, then pixel (0,1) ...
    assert torch.equal(tok[0, 0], torch.tensor([0., 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11]))
    assert torch.equal(L.patchify_image(img, 2, channel_last=False)[0, 0], torch.arange(12.0))
    img = torch.randn(2, 3, 8, 12)
    tok = L.patchify_image(img, (4, 3))
    assert tok.shape == (2, 2 * 4, 36)
    assert torch.equal(L.unpatchify_image(tok, (4, 3), (2, 4)), img)
    # token (h=1, w=2) is the patch at rows 4:8, cols 6:9
    assert torch.equal(tok[0, 1 * 4 + 2], img[0, :, 4:8, 6:9].permute(1, 2, 0).reshape(-1))


def test_patchify_video_matches_videomae_rearrange():
    v = torch.randn(2, 3, 4, 8, 8)
    tok = L.patchify_video(v, 4, 2)
    # VideoMAE: 'b c (t p0) (h p1) (w p2) -> b (t h w) (p0 p1 p2) c'
    ref = v.reshape(2, 3, 2, 2, 2, 4, 2, 4).permute(0, 2, 4, 6, 3, 5, 7, 1).reshape(2, 8, 32, 3).reshape(2, 8, 96)
    assert torch.equal(tok, ref)
    assert torch.equal(L.unpatchify_video(tok, 4, 2, (2, 2, 2)), v)
    tok_c = L.patchify_video(v, 4, 2, channel_last=False)
    assert torch.equal(L.unpatchify_video(tok_c, 4, 2, (2, 2, 2), channel_last=False), v)
    # token (t=1, h=0, w=1)
    assert torch.equal(tok_c[0, 4 + 1], v[0, :, 2:4, 0:4, 4:8].reshape(-1))


# ------------------------------------------------------------------------------ norm-pix
def test_norm_pix_variants_hand_values():
    x = torch.tensor([[[1.0, 2.0, 3.0, 4.0]]])           # one token, 2 pixels x 2 channels (channel-last)
    # per patch: mean 2.5, unbiased var 5/3
    per_patch = L.norm_pix_per_patch(x)
    assert torch.allclose(per_patch, (x - 2.5) / math.sqrt(5 / 3 + 1e-6))
    # per channel: c0 = [1, 3], c1 = [2, 4]: mean 2 / 3, unbiased std sqrt(2); eps on the std
    per_ch = L.norm_pix_per_channel(x, channels=2)
    s = 1 / (math.sqrt(2) + 1e-6)
    assert torch.allclose(per_ch, torch.tensor([[[-s, -s, s, s]]]))
    assert not torch.allclose(per_patch, per_ch)          # the two recipes differ
    # a constant token: per-patch gives 0 (eps keeps it finite)
    assert torch.all(L.norm_pix_per_patch(torch.ones(1, 1, 6)) == 0)


def test_norm_pix_per_channel_normalises_each_channel():
    x = torch.randn(2, 5, 2 * 16 * 16 * 3) * 3 + 1
    y = L.norm_pix_per_channel(x).view(2, 5, -1, 3)
    assert torch.allclose(y.mean(-2), torch.zeros(2, 5, 3), atol=1e-5)
    assert torch.allclose(y.std(-2), torch.ones(2, 5, 3), atol=1e-4)
    z = L.norm_pix_per_patch(x)
    assert torch.allclose(z.mean(-1), torch.zeros(2, 5), atol=1e-5)


# ------------------------------------------------------------------------------ masked MSE
def test_masked_mse_hand_and_masked_only():
    target = torch.zeros(1, 3, 2)
    pred = torch.tensor([[[1.0, 1.0], [2.0, 2.0], [3.0, 3.0]]])
    mask = torch.tensor([[False, True, True]])
    # per-patch MSE 1, 4, 9 -> mean over masked = 6.5
    assert L.masked_mse(pred, target, mask, norm_pix=None).item() == pytest.approx(6.5)
    # masked-only predictions (ascending order) give the same number (VideoMAE form)
    assert L.masked_mse(pred[:, 1:], target, mask, norm_pix=None).item() == pytest.approx(6.5)


def test_masked_mse_ignores_visible_predictions():
    torch.manual_seed(0)
    target = torch.randn(2, 10, 12)
    m = random_mask(2, 10, 0.6, seed=0)
    pred = torch.randn(2, 10, 12, requires_grad=True)
    for norm in (None, "per_patch", "per_channel"):
        base = L.masked_mse(pred, target, m, norm_pix=norm)
        changed = pred.detach().clone()
        changed[~m.mask] += 100.0
        assert torch.allclose(L.masked_mse(changed, target, m, norm_pix=norm), base)
        (g,) = torch.autograd.grad(base, pred)
        assert torch.all(g[~m.mask] == 0) and torch.any(g[m.mask] != 0)
    # with norm_pix the loss is computed against normalised targets
    expected = ((pred - L.norm_pix_per_patch(target)) ** 2).mean(-1)[m.mask].mean()
    assert torch.allclose(L.masked_mse(pred, target, m), expected)


# ------------------------------------------------------------------------------ regression
def test_feature_regression_hand():
    pred = torch.tensor([[[0.5], [2.0]]])
    target = torch.zeros(1, 2, 1)
    # smooth-L1 beta 1: 0.5*0.5^2 = 0.125 ; |2| - 0.5 = 1.5 ; mean 0.8125
    assert L.feature_regression(pred, target).item() == pytest.approx(0.8125)
    assert L.feature_regression(pred, target, loss="l2").item() == pytest.approx((0.25 + 4) / 2)
    assert L.feature_regression(pred, target, loss="l1").item() == pytest.approx(1.25)
    mask = torch.tensor([[False, True]])
    assert L.feature_regression(pred, target, mask).item() == pytest.approx(1.5)
    assert L.feature_regression(pred[:, 1:], target, mask).item() == pytest.approx(1.5)
    # non-affine LayerNorm of the targets
    t = torch.tensor([[[1.0, 3.0]]])
    ln = (t - 2) / math.sqrt(1 + 1e-6)                    # biased var 1
    assert L.feature_regression(ln, t, norm_target=True, loss="l2").item() == pytest.approx(0, abs=1e-10)
    with pytest.raises(ValueError):
        L.feature_regression(pred, target, loss="huber")


# ------------------------------------------------------------------------------ contrastive
def test_info_nce_hand_and_cav_mae_form():
    e = torch.eye(2)
    # S = I / 1: -log(e / (e + 1))
    assert L.info_nce(e, e, temperature=1.0).item() == pytest.approx(math.log(1 + 1 / math.e))
    # identical embeddings for every item: log B
    same = torch.ones(5, 3)
    assert L.info_nce(same, same, 0.05).item() == pytest.approx(math.log(5), rel=1e-5)
    torch.manual_seed(0)
    a, v = torch.randn(6, 8), torch.randn(6, 8)
    S = F.normalize(a, dim=-1) @ F.normalize(v, dim=-1).t() / 0.05
    cav_mae = -torch.mean(torch.diag(F.log_softmax(S, dim=0)))    # CAV-MAE single direction
    assert torch.allclose(L.info_nce(v, a, 0.05), cav_mae)
    other = -torch.mean(torch.diag(F.log_softmax(S, dim=1)))
    assert torch.allclose(L.info_nce(a, v, 0.05, bidirectional=True), 0.5 * (cav_mae + other))


def _nt_xent_loop(z1, z2, tau, anchors):
    z1, z2 = F.normalize(z1, dim=-1), F.normalize(z2, dim=-1)
    n, losses = z1.shape[0], []
    for a, b in anchors(z1, z2):
        for i in range(n):
            num = torch.exp(a[i] @ b[i] / tau)
            den = sum(torch.exp(a[i] @ a[k] / tau) for k in range(n) if k != i) + \
                sum(torch.exp(a[i] @ b[k] / tau) for k in range(n))
            losses.append(-torch.log(num / den))
    return torch.stack(losses).mean()


def test_nt_xent_hand_and_formula():
    e = torch.eye(2)
    # anchor e1: positive e1 (1), negatives e2 (0), e2 (0) and the positive: -log(e / (e + 2))
    assert L.nt_xent(e, e, 1.0).item() == pytest.approx(math.log((math.e + 2) / math.e))
    torch.manual_seed(1)
    z1, z2 = torch.randn(4, 5), torch.randn(4, 5)
    one = _nt_xent_loop(z1, z2, 0.1, lambda a, b: [(a, b)])
    both = _nt_xent_loop(z1, z2, 0.1, lambda a, b: [(a, b), (b, a)])
    assert torch.allclose(L.nt_xent(z1, z2, 0.1, symmetric=False), one, rtol=1e-5)
    assert torch.allclose(L.nt_xent(z1, z2, 0.1), both, rtol=1e-5)


# ------------------------------------------------------------------------------ KDC-MAE
def test_symmetric_kl_hand_and_properties():
    x1 = torch.tensor([[0.0, 1.0, 3.0]])    # -> p = [0, 1/4, 3/4]
    x2 = torch.tensor([[0.0, 3.0, 1.0]])    # -> q = [0, 3/4, 1/4]
    # KL(p||q) = 1/4 log(1/3) + 3/4 log 3 = 1/2 log 3 = KL(q||p)
    assert L.symmetric_kl(x1, x2).item() == pytest.approx(0.5 * math.log(3), rel=1e-6)
    assert L.symmetric_kl(x2, x1).item() == pytest.approx(L.symmetric_kl(x1, x2).item())
    torch.manual_seed(0)
    a, b = torch.randn(4, 768), torch.randn(4, 768)
    assert L.symmetric_kl(a, a).item() == 0.0
    assert L.symmetric_kl(a + 5.0, b) == pytest.approx(L.symmetric_kl(a, b).item(), rel=1e-4)  # origin shift
    assert torch.isfinite(L.symmetric_kl(a, b)) and L.symmetric_kl(a, b) > 0
    # the minimum entry is exactly 0 before eps: distributions sum to 1 (+ D·eps)
    p = L.shifted_distribution(a)
    assert torch.allclose(p.sum(-1), torch.ones(4), atol=1e-6) and torch.all(p.min(-1).values <= 2e-12)
    # KDC code variants
    js = L.symmetric_kl(x1, x2, divergence="js").item()
    # m = (p + q)/2 = [0, 1/2, 1/2]; JS = ½KL(p‖m) + ½KL(q‖m) = KL(p‖m) by symmetry
    expected = 0.25 * math.log(0.25 / 0.5) + 0.75 * math.log(0.75 / 0.5)
    assert js == pytest.approx(expected, rel=1e-6)
    pb = L.shifted_distribution(torch.tensor([[1.0, 2.0], [3.0, 5.0]]), eps=0.0, shift="batch")
    assert torch.allclose(pb, torch.tensor([[2 / 5, 3 / 5], [4 / 10, 6 / 10]]))  # + |global min| = +1


# ------------------------------------------------------------------------------ XKD
def test_mmd_multi_kernel_hand():
    x, y = torch.tensor([[0.0]]), torch.tensor([[1.0]])
    k = sum(math.exp(-g) for g in L.XKD_GAMMAS)
    assert L.mmd_multi_kernel(x, y).item() == pytest.approx(14 - 2 * k, rel=1e-6)
    torch.manual_seed(0)
    a = torch.randn(16, 8)
    assert L.mmd_multi_kernel(a, a).item() == pytest.approx(0.0, abs=1e-5)
    assert L.mmd_multi_kernel(a, a + 1.0).item() > 0.1
    # single gamma on two points each: Kxx = (2 + 2 e^{-γ d²}) / 4 ...
    x2 = torch.tensor([[0.0], [1.0]])
    y2 = torch.tensor([[0.0], [2.0]])
    g = 1.0
    kxx = (2 + 2 * math.exp(-1)) / 4
    kyy = (2 + 2 * math.exp(-4)) / 4
    kxy = (1 + math.exp(-4) + math.exp(-1) + math.exp(-1)) / 4
    assert L.mmd_multi_kernel(x2, y2, gammas=[g]).item() == pytest.approx(kxx + kyy - 2 * kxy, rel=1e-6)


def test_dino_distillation_and_center():
    J = 8
    zeros = torch.zeros(3, J)
    # uniform teacher and uniform student: log J
    assert L.dino_distillation(zeros, zeros, torch.zeros(1, J)).item() == pytest.approx(math.log(J))
    # hand: J = 2, teacher logits [0, t] with center 0 -> q = softmax([0, t]/tau_t)
    s = torch.tensor([[0.2, -0.1]])
    t = torch.tensor([[0.0, 0.1]])
    q = F.softmax(t / 0.04, dim=-1)
    expected = -(q * F.log_softmax(s / 0.1, dim=-1)).sum()
    assert L.dino_distillation(s, t, torch.zeros(1, 2)).item() == pytest.approx(expected.item(), rel=1e-6)
    # centring: subtracting the teacher itself makes q uniform
    assert L.dino_distillation(zeros[:1, :2], t, t).item() == pytest.approx(math.log(2), rel=1e-6)
    # lists: mean over all (teacher, student) pairs
    s2 = torch.tensor([[1.0, 0.0]])
    both = L.dino_distillation([s, s2], [t], torch.zeros(1, 2))
    assert both.item() == pytest.approx(0.5 * (L.dino_distillation(s, t, torch.zeros(1, 2)) +
                                               L.dino_distillation(s2, t, torch.zeros(1, 2))).item())
    # no gradient reaches the teacher output
    tt = t.clone().requires_grad_(True)
    ss = s.clone().requires_grad_(True)
    L.dino_distillation(ss, tt, torch.zeros(1, 2)).backward()
    assert tt.grad is None and ss.grad is not None
    c = torch.zeros(1, 2)
    L.update_center(c, torch.tensor([[1.0, 2.0], [3.0, 4.0]]), momentum=0.9)
    assert torch.allclose(c, torch.tensor([[0.2, 0.3]]))


def test_cosine_similarity_loss():
    a = torch.tensor([[1.0, 0.0]])
    assert L.cosine_similarity_loss(a, 3 * a).item() == pytest.approx(0.0)
    assert L.cosine_similarity_loss(a, -a).item() == pytest.approx(2.0)
    assert L.cosine_similarity_loss(a, torch.tensor([[0.0, 5.0]])).item() == pytest.approx(1.0)


def test_masked_mse_on_videomae_shapes():
    # 16x32x32 video, 2x8x8 tubelets: per-channel norm-pix target, tube mask, masked-only prediction
    from maskedav.masking import tube_mask
    v = torch.rand(2, 3, 16, 32, 32)
    target = L.patchify_video(v, 8, 2)
    m = tube_mask(2, (8, 4, 4), 0.75, seed=0)
    pred = torch.zeros(2, int(m.mask[0].sum()), target.shape[-1])
    loss = L.masked_mse(pred, target, m, norm_pix="per_channel")
    # predicting 0 for unit-variance targets: loss = mean of squared normalised values = (P/C - 1)/(P/C)
    n = 2 * 8 * 8
    assert loss.item() == pytest.approx((n - 1) / n, rel=1e-4)
    assert mask_from_bool(m.mask).num_keep == m.num_keep


def _symmetric_kl_reference(x1: torch.Tensor, x2: torch.Tensor, shift: str, eps: float = 1e-12) -> torch.Tensor:
    """KDC-MAE Eqs. 4-5 written out directly (for float64 autograd)."""
    def dist(x):
        y = x - x.min(dim=-1, keepdim=True).values if shift == "per_sample" else x + x.min().abs()
        return y / y.sum(dim=-1, keepdim=True) + eps

    p, q = dist(x1), dist(x2)
    kl = lambda a, b: (a * (a.log() - b.log())).sum(-1)  # noqa: E731
    return (0.5 * (kl(p, q) + kl(q, p))).mean()


@pytest.mark.parametrize("shift", ["per_sample", "batch"])
@pytest.mark.parametrize("dim", [64, 768])
def test_symmetric_kl_gradient_at_the_zero_entry_matches_float64(shift, dim):
    # Issue 11: the shifted minimum is exactly 0 (ε-floored); D(q‖p) sends ~q/ε ≈ 1e10 back to that
    # entry, whose true derivative is 0 (it stays 0 as x moves); in float32 the cancellation through
    # the min / row sum destroyed the gradient of the argmin coordinate (0.0 instead of 0.0127 here).
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(4, dim, generator=g, dtype=torch.float64), torch.randn(4, dim, generator=g, dtype=torch.float64)
    a64, b64 = a.clone().requires_grad_(True), b.clone().requires_grad_(True)
    ref = _symmetric_kl_reference(a64, b64, shift)
    ga64, gb64 = torch.autograd.grad(ref, (a64, b64))
    a32, b32 = a.float().requires_grad_(True), b.float().requires_grad_(True)
    val = L.symmetric_kl(a32, b32, shift=shift)
    ga32, gb32 = torch.autograd.grad(val, (a32, b32))
    assert val.item() == pytest.approx(ref.item(), rel=1e-5)
    for g32, g64 in ((ga32, ga64), (gb32, gb64)):
        scale = g64.abs().amax(dim=-1, keepdim=True)                 # the row's largest gradient
        assert torch.all((g32.double() - g64).abs() <= 1e-4 * scale)
    if shift == "per_sample":
        # the loss is invariant to x + c and to min + c·(x - min): Σ_j g_j = 0 and g·(x - min) = 0
        for g32, x in ((ga32, a), (gb32, b)):
            scale = g32.abs().amax(dim=-1).double()
            assert torch.all(g32.double().sum(-1).abs() <= 1e-5 * scale)
            y = x - x.min(-1, keepdim=True).values
            assert torch.all((g32.double() * y).sum(-1).abs() <= 1e-5 * scale * y.sum(-1))
        # the argmin coordinate carries minus the sum of the others (D = 64: 0.0127 for row 0)
        j = a.argmin(-1)
        assert ga32[0, j[0]].item() == pytest.approx(ga64[0, j[0]].item(), rel=1e-4)
        assert abs(ga64[0, j[0]].item()) > 1e-3


def test_symmetric_kl_hand_gradient_with_disjoint_zeros():
    # x1 = [0, 1, 3] -> p = [ε, 1/4, 3/4]; x2 = [1, 0, 3] -> q = [1/4, ε, 3/4]
    # L = ½[(p0-q0)(log p0 - log q0) + (p1-q1)(log p1 - log q1)] (third terms cancel)
    #   = ½·2·(1/4)·log(1/(4ε)) = ¼·log(1/(4ε))
    eps = 1e-12
    x1 = torch.tensor([[0.0, 1.0, 3.0]], requires_grad=True)
    x2 = torch.tensor([[1.0, 0.0, 3.0]])
    val = L.symmetric_kl(x1, x2, eps=eps)
    assert val.item() == pytest.approx(0.25 * math.log(1 / (4 * eps)), rel=1e-6)
    (g,) = torch.autograd.grad(val, x1)
    # Only p1, p2 move with x1 (p0 ≡ ε): S = x1_1 + x1_2 - 2·x1_0 = 4, ∂L/∂p_i = ½(log(p_i/q_i) + 1 - q_i/p_i)
    # ∂L/∂p1 = ½(log(1/(4ε)) + 1), ∂L/∂p2 = 0; ∂p_i/∂y_k = (δ_ik - p_i)/S
    # => ∂L/∂y1 = ∂L/∂p1 · (1 - 1/4)/4, ∂L/∂y2 = ∂L/∂p1 · (-1/4)/4, and ∂L/∂x0 = -(∂L/∂y1 + ∂L/∂y2)
    d1 = 0.5 * (math.log(1 / (4 * eps)) + 1)
    gy1, gy2 = d1 * 0.75 / 4, -d1 * 0.25 / 4
    expected = torch.tensor([[-(gy1 + gy2), gy1, gy2]])
    assert torch.allclose(g, expected, rtol=1e-5, atol=1e-6)


# ------------------------------------------------------------------------------ preconditions
def test_feature_regression_rejects_uneven_boolean_mask():
    # Issue 11: row 0 hides 1 token, row 1 hides 2. select_masked took row 0's count for every row, so
    # row 1's token 0 was silently dropped: smooth-L1 mean over tokens {0}, {1} instead of {0}, {0, 1}.
    pred = torch.tensor([[[3.0], [0.0], [0.0]], [[0.5], [2.0], [0.0]]])
    target = torch.zeros(2, 3, 1)
    mask = torch.tensor([[True, False, False], [True, True, False]])
    with pytest.raises(ValueError, match="same number of masked tokens"):
        L.feature_regression(pred, target, mask)
    with pytest.raises(ValueError, match="same number of masked tokens"):
        L.masked_mse(pred[:, :1], target, mask, norm_pix=None)
    # the all-token MAE form has no such precondition: (9 + 0.25 + 4) / 3 masked tokens
    assert L.masked_mse(pred, target, mask, norm_pix=None).item() == pytest.approx((9 + 0.25 + 4) / 3)
    # an even mask still works: tokens {0, 1} of both rows
    even = torch.tensor([[True, True, False], [True, True, False]])
    # smooth-L1: |3| - .5 = 2.5, 0, .5·.5² = .125, |2| - .5 = 1.5 -> mean 4.125 / 4
    assert L.feature_regression(pred, target, even).item() == pytest.approx(4.125 / 4)


def test_losses_reject_shapes_that_would_broadcast():
    target = torch.zeros(2, 4, 3)
    mask = torch.tensor([[True, True, False, False], [False, True, True, False]])
    with pytest.raises(ValueError, match=r"pred .*\(2, 1, 3\).*\(2, 2, 3\)"):
        L.feature_regression(torch.zeros(2, 1, 3), target, mask)      # would broadcast to 2 tokens
    with pytest.raises(ValueError, match="pred"):
        L.feature_regression(torch.zeros(2, 4, 1), target)             # would broadcast over C
    with pytest.raises(ValueError, match="pred"):
        L.masked_mse(torch.zeros(2, 1, 3), target, mask, norm_pix=None)
    with pytest.raises(ValueError, match="mask"):
        L.masked_mse(torch.zeros(2, 4, 3), target, mask[:, :3], norm_pix=None)
