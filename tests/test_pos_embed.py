"""Positional embeddings: hand-computed values of every layout (maskedav.pos_embed)."""
import math

import numpy as np
import pytest
import torch

from maskedav.pos_embed import PosEmbed, sincos_1d, sincos_2d, sincos_3d, sinusoid_table

S1, C1, S2, C2 = math.sin(1), math.cos(1), math.sin(2), math.cos(2)


def test_sincos_1d_hand_values():
    # dim 2: omega = [1] -> [sin p, cos p]
    assert torch.allclose(sincos_1d(2, 2), torch.tensor([[0.0, 1.0], [S1, C1]]))
    # dim 4: omega = [1, 10000^-0.5 = 0.01] -> [sin p, sin .01p, cos p, cos .01p]
    expected = torch.tensor([[S1, math.sin(0.01), C1, math.cos(0.01)]])
    assert torch.allclose(sincos_1d(4, [1.0]), expected)
    with pytest.raises(ValueError):
        sincos_1d(3, 2)


def test_sinusoid_table_is_interleaved_mae_1d():
    # VideoMAE: sin on even channels, cos on odd ones, same frequencies as MAE's halves.
    t = sinusoid_table(2, 4)
    assert torch.allclose(t[1], torch.tensor([S1, C1, math.sin(0.01), math.cos(0.01)]))
    n, d = 50, 16
    perm = list(range(0, d, 2)) + list(range(1, d, 2))
    assert torch.allclose(sinusoid_table(n, d)[:, perm], sincos_1d(d, n), atol=1e-6)


def _mae_2d_reference(dim, gh, gw):
    """MAE util/pos_embed.py written out with numpy (meshgrid(grid_w, grid_h): w first)."""
    grid = np.stack(np.meshgrid(np.arange(gw, dtype=np.float32), np.arange(gh, dtype=np.float32)), 0)

    def one_d(d, pos):
        omega = 1.0 / 10000 ** (np.arange(d // 2, dtype=np.float64) / (d / 2.0))
        out = np.einsum("m,d->md", pos.reshape(-1), omega)
        return np.concatenate([np.sin(out), np.cos(out)], axis=1)

    return np.concatenate([one_d(dim // 2, grid[0]), one_d(dim // 2, grid[1])], axis=1)


def test_sincos_2d_layout_and_hand_values():
    # 1x2 grid, dim 4: first half encodes the column (w), second half the row (h).
    t = sincos_2d(4, 1, 2)
    assert torch.allclose(t, torch.tensor([[0, 1, 0, 1], [S1, C1, 0, 1]], dtype=torch.float32))
    # non-square 2x3: token (h=1, w=2) has index 5 -> [sin 2, cos 2, sin 1, cos 1]
    t = sincos_2d(4, 2, 3)
    assert t.shape == (6, 4)
    assert torch.allclose(t[5], torch.tensor([S2, C2, S1, C1]))
    # matches MAE's numpy recipe on an audio-like 8x64 grid (CAV-MAE) and 64x8 (AudioMAE)
    for gh, gw in [(8, 64), (64, 8), (14, 14)]:
        ref = torch.from_numpy(_mae_2d_reference(768, gh, gw)).float()
        assert torch.allclose(sincos_2d(768, gh, gw), ref, atol=1e-6)


def test_sincos_2d_cls_row_is_zero():
    t = sincos_2d(8, 3, 3, cls_token=True)
    assert t.shape == (10, 8)
    assert torch.all(t[0] == 0)
    assert torch.equal(t[1:], sincos_2d(8, 3, 3))


def test_sincos_3d_temporal_then_spatial():
    d, T, H, W = 16, 2, 2, 3
    t = sincos_3d(d, T, H, W)
    assert t.shape == (T * H * W, d)
    idx = 1 * H * W + 1 * W + 2      # token (t=1, h=1, w=2), (t, h, w) row-major
    assert torch.allclose(t[idx, :4], sincos_1d(4, [1.0])[0])
    assert torch.allclose(t[idx, 4:], sincos_2d(12, H, W)[5])
    # the temporal part is constant within a time slice, the spatial part repeats over time
    assert torch.allclose(t[: H * W, :4], t[0:1, :4].expand(H * W, 4))
    assert torch.allclose(t[: H * W, 4:], t[H * W:, 4:])
    with pytest.raises(ValueError):
        sincos_3d(24, 2, 2)


def test_posembed_kinds():
    fixed = PosEmbed("sincos", 32, (2, 3, 4))
    assert fixed().shape == (1, 24, 32)
    assert len(list(fixed.parameters())) == 0 and "table" not in fixed.state_dict()
    assert torch.equal(fixed()[0], sincos_3d(32, 2, 3, 4))
    assert torch.equal(PosEmbed("sincos", 32, (5, 6))()[0], sincos_2d(32, 5, 6))
    assert torch.equal(PosEmbed("sinusoid", 32, (2, 3, 4))()[0], sinusoid_table(24, 32))
    assert torch.all(PosEmbed("none", 8, (3,))() == 0)

    torch.manual_seed(0)
    learned = PosEmbed("learned", 64, (16, 16), cls_token=True)
    assert learned().shape == (1, 256, 64) and learned.prefix().shape == (1, 1, 64)
    assert abs(learned().std().item() - 0.02) < 0.002

    sep = PosEmbed("learned_separable", 8, (3, 2, 2))
    table = sep()[0]
    assert table.shape == (12, 8)
    # token (t, s) = spatial[s] + temporal[t] (ST-MAE sep_pos_embed)
    assert torch.allclose(table[2 * 4 + 3], sep.spatial[0, 3] + sep.temporal[0, 2])
    assert sum(p.numel() for p in sep.parameters()) == (4 + 3) * 8
    with pytest.raises(ValueError):
        PosEmbed("learned_separable", 8, (3, 4))
    with pytest.raises(ValueError):
        PosEmbed("rope", 8, (3, 4))


def test_builds_on_meta_device():
    with torch.device("meta"):
        p = PosEmbed("sincos", 96, (4, 4, 4))
    assert p().device.type == "meta" and p().shape == (1, 64, 96)
