"""Masks: exact counts, structure, disjointness, restore round-trips, device, determinism."""
import pytest
import torch

from maskedav.masking import (
    Mask, apply_mask, complementary_masks, frame_mask, freq_mask, make_generator, mask_from_bool,
    random_mask, select_masked, time_freq_mask, time_mask, tube_mask, unshuffle,
)


def _check_consistent(m: Mask):
    B, N = m.mask.shape
    assert m.mask.dtype == torch.bool
    # ids_restore is a permutation and ids_keep are exactly the visible tokens
    assert torch.equal(torch.sort(m.ids_restore, 1).values, torch.arange(N).expand(B, N))
    vis = torch.zeros(B, N, dtype=torch.bool).scatter_(1, m.ids_keep, True)
    assert torch.equal(vis, ~m.mask)
    assert torch.equal(m.ids_shuffle[:, : m.num_keep], m.ids_keep)
    assert torch.equal(torch.gather(m.ids_shuffle, 1, m.ids_restore), torch.arange(N).expand(B, N))


def _roundtrip(m: Mask, D=5):
    B, N = m.mask.shape
    x = torch.randn(B, N, D)
    tok = torch.full((D,), 7.0)
    out = unshuffle(apply_mask(x, m), tok, m)
    assert torch.equal(out[~m.mask], x[~m.mask])
    assert torch.all(out[m.mask] == 7.0)


@pytest.mark.parametrize("n,ratio,keep", [(196, 0.75, 49), (196, 0.9, 19), (1568, 0.9, 156),
                                         (512, 0.8, 102), (392, 0.85, 58), (10, 0.0, 10)])
def test_random_mask_counts(n, ratio, keep):
    # len_keep = int(N * (1 - ratio)); note int(196 * (1 - 0.9)) = 19 (1 - 0.9 = 0.0999...)
    m = random_mask(3, n, ratio, seed=0)
    assert m.num_keep == keep
    assert torch.all((~m.mask).sum(1) == keep)
    _check_consistent(m)
    _roundtrip(m)


def test_random_mask_is_per_sample():
    m = random_mask(4, 196, 0.75, seed=1)
    assert not torch.equal(m.mask[0], m.mask[1])


def test_tube_mask_videomae_arithmetic_and_structure():
    m = tube_mask(3, (8, 14, 14), 0.9, seed=0)
    # int(0.9 * 196) = 176 masked per slice -> 20 visible per slice -> 160 visible tokens
    per_slice = (~m.mask).view(3, 8, 196).sum(-1)
    assert torch.all(per_slice == 20) and m.num_keep == 160
    slices = m.mask.view(3, 8, 196)
    assert torch.all(slices == slices[:, :1])                      # identical across time
    assert not torch.equal(slices[0, 0], slices[1, 0])             # per sample
    _check_consistent(m)
    _roundtrip(m)
    # visible tokens in ascending order: apply_mask == VideoMAE's x[~mask].reshape(B, -1, D)
    x = torch.randn(3, 1568, 4)
    assert torch.equal(apply_mask(x, m), x[~m.mask].reshape(3, -1, 4))
    assert tube_mask(1, (8, 14, 14), 0.75, seed=0).num_keep == 8 * 49
    assert tube_mask(1, (8, 14, 14), 0.95, seed=0).num_keep == 8 * 10


def test_frame_mask_masks_whole_slices():
    m = frame_mask(5, (8, 4, 4), 0.75, seed=0)
    slices = m.mask.view(5, 8, 16)
    assert torch.all(slices == slices[..., :1])                    # whole slices
    assert torch.all((~slices[..., 0]).sum(1) == 2)               # round(8 * 0.25) = 2 visible slices
    assert frame_mask(1, (8, 4, 4), 0.95, seed=0).num_keep == 16   # at least one slice stays visible
    _check_consistent(m)


@pytest.mark.parametrize("streams,ratio,n", [(2, 0.75, 196), (3, 0.75, 512), (2, 0.5, 196), (4, 0.75, 8)])
def test_complementary_masks_disjoint_and_coverage(streams, ratio, n):
    masks = complementary_masks(4, n, ratio, streams, seed=0)
    keep = int(n * (1 - ratio))
    vis = torch.stack([~m.mask for m in masks])                   # (S, B, N)
    assert torch.all(vis.sum(-1) == keep)
    assert torch.all(vis.sum(0) <= 1)                              # pairwise disjoint
    assert torch.all(vis.any(0).sum(-1) == streams * keep)         # union = S * keep (50 % / 75 % ...)
    for m in masks:
        _check_consistent(m)
        _roundtrip(m)                                              # each stream restores with its OWN indices
    assert not torch.equal(masks[0].ids_restore, masks[1].ids_restore)


def test_complementary_masks_impossible_ratio_raises():
    with pytest.raises(ValueError):
        complementary_masks(2, 196, 0.4, 2)          # two streams need ratio >= 0.5
    with pytest.raises(ValueError):
        complementary_masks(2, 196, 0.6, 3)          # three need >= 2/3
    with pytest.raises(ValueError):
        random_mask(2, 10, 1.0)


def test_reusing_another_streams_restore_indices_misplaces_tokens():
    # the KDC-MAE bug (spec §3.2): stream 2's tokens restored with stream 1's ids_restore
    m1, m2 = complementary_masks(1, 16, 0.75, 2, seed=3)
    x = torch.arange(16.0).view(1, 16, 1)
    wrong = unshuffle(apply_mask(x, m2), torch.zeros(1), m1)
    right = unshuffle(apply_mask(x, m2), torch.zeros(1), m2)
    assert torch.equal(right[~m2.mask], x[~m2.mask])
    assert not torch.equal(wrong[~m2.mask], x[~m2.mask])


@pytest.mark.parametrize("layout", ["tf", "ft"])
def test_structured_spectrogram_masks(layout):
    T, Fq, B = 64, 8, 3

    def grid(m):  # (B, T, F) view whatever the token layout
        g = m.mask.view(B, T, Fq) if layout == "tf" else m.mask.view(B, Fq, T).transpose(1, 2)
        return g

    m = time_mask(B, T, Fq, 0.75, layout=layout, seed=0)
    g = grid(m)
    assert m.num_keep == 128
    assert torch.all(g == g[:, :, :1])                          # whole time columns
    assert torch.all(g[:, :, 0].sum(1) == 48)                   # int(64 * 0.75) columns masked
    m = freq_mask(B, T, Fq, 0.75, layout=layout, seed=0)
    g = grid(m)
    assert torch.all(g == g[:, :1, :])                          # whole frequency rows
    assert torch.all(g[:, 0, :].sum(1) == 6)                    # int(8 * 0.75) rows masked
    m = time_freq_mask(B, T, Fq, 0.75, layout=layout, seed=0)
    g = grid(m)
    assert m.num_keep == 128
    # 33 time columns and 4 freq rows forced; 388 forced > 384 masked slots, so at most 4 forced tokens
    # stay visible (as in CAV-MAE): >= 29 whole columns and >= 4 rows with >= 60 of 64 tokens masked
    assert torch.all(g.all(dim=2).sum(1) >= 29) and torch.all((g.sum(dim=1) >= 60).sum(1) >= 4)
    _check_consistent(m)


def test_mask_from_bool_and_select_masked():
    b = torch.tensor([[True, False, True, False], [False, False, True, True]])
    m = mask_from_bool(b)
    assert torch.equal(m.ids_keep, torch.tensor([[1, 3], [0, 1]]))
    x = torch.arange(8.0).view(2, 4, 1)
    assert torch.equal(select_masked(x, m).squeeze(-1), torch.tensor([[0.0, 2.0], [6.0, 7.0]]))
    with pytest.raises(ValueError):
        mask_from_bool(torch.tensor([[True, False], [True, True]]))


def test_generator_determinism():
    a = random_mask(2, 100, 0.75, seed=123)
    b = random_mask(2, 100, 0.75, seed=123)
    c = random_mask(2, 100, 0.75, seed=124)
    assert all(torch.equal(u, v) for u, v in zip(a, b))
    assert not torch.equal(a.mask, c.mask)
    g1, g2 = torch.Generator().manual_seed(5), torch.Generator().manual_seed(5)
    assert torch.equal(tube_mask(2, (4, 4, 4), 0.5, generator=g1).mask,
                       tube_mask(2, (4, 4, 4), 0.5, generator=g2).mask)
    # a generator advances: two draws differ
    assert not torch.equal(random_mask(1, 100, 0.5, generator=g1).mask, random_mask(1, 100, 0.5, generator=g1).mask)
    with pytest.raises(ValueError):
        make_generator("cpu", torch.Generator(), 1)


def test_masks_on_the_requested_device():
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    for dev in devices:
        for m in [random_mask(2, 16, 0.5, device=dev, seed=0), tube_mask(2, (2, 2, 4), 0.5, device=dev, seed=0),
                  time_mask(2, 8, 4, 0.5, device=dev, seed=0), *complementary_masks(2, 16, 0.5, 2, device=dev, seed=0)]:
            assert all(t.device.type == dev for t in m)


def test_select_masked_and_gathers_check_their_preconditions():
    x = torch.arange(6.0).view(2, 3, 1)
    uneven = torch.tensor([[True, False, False], [True, True, False]])
    # Issue 11: the count of row 0 was used for every row, dropping row 1's token 0 without a word
    with pytest.raises(ValueError, match="same number of masked tokens"):
        select_masked(x, uneven)
    even = torch.tensor([[True, False, True], [False, True, True]])
    assert select_masked(x, even)[..., 0].tolist() == [[0.0, 2.0], [4.0, 5.0]]
    m = mask_from_bool(even)
    with pytest.raises(ValueError, match="3 tokens"):
        select_masked(torch.zeros(2, 4, 1), m)
    with pytest.raises(ValueError, match="3 tokens"):
        apply_mask(torch.zeros(2, 4, 1), m)
    with pytest.raises(ValueError, match="1 visible"):
        unshuffle(torch.zeros(2, 2, 1), torch.zeros(1), m)           # two visible tokens given, mask keeps one
