"""Token masks of the MAE family, with their own gather / restore indices.

Every generator returns a :class:`Mask` (``mask`` bool ``(B, N)``, **True = masked**; ``ids_keep``
``(B, N_keep)``; ``ids_restore`` ``(B, N)``) built on the requested device from an explicit
``torch.Generator`` or ``seed`` (conventions: "Tensors"). Counts follow the original code, floors included:

==================  ===========================================  ==========================================
generator            visible tokens per sample                   source
==================  ===========================================  ==========================================
random_mask          ``int(N·(1-ratio))``                        MAE ``random_masking`` (argsort of noise)
tube_mask            ``T'·(HW - int(ratio·HW))``                 VideoMAE ``TubeMaskingGenerator``
frame_mask           ``HW·max(1, round(T'·(1-ratio)))``          CrossVideoMAE spec §3.3 (inferred rule)
complementary_masks  ``int(N·(1-ratio))`` each, disjoint         KDC-MAE §2.2 (per-stream restore indices)
time/freq/tf_mask    ``int(N·(1-ratio))``, whole rows forced     CAV-MAE ``random_masking_structured``
==================  ===========================================  ==========================================

Note the two different floors: at ratio 0.9 on a 14×14 slice, ``tube_mask`` masks ``int(0.9·196) =
176`` → **20 visible per slice** (160 of 1568, effective ratio 0.898), whereas ``random_mask`` keeps
``int(1568·0.1) = 156`` (``1 - 0.9`` is 0.0999… in floating point, so ``int(196·(1-0.9)) = 19``).

:func:`apply_mask` gathers visible tokens; :func:`unshuffle` puts visible tokens and mask tokens back
into the original order using **that** mask's ``ids_restore`` (never another stream's — the KDC-MAE
code bug, spec §3.2).
"""
from __future__ import annotations

from typing import NamedTuple, Sequence

import torch

from .configs import check_complementary

__all__ = [
    "Mask", "make_generator", "mask_from_noise", "mask_from_bool",
    "random_mask", "tube_mask", "frame_mask", "complementary_masks",
    "time_mask", "freq_mask", "time_freq_mask", "apply_mask", "unshuffle", "select_masked",
]


class Mask(NamedTuple):
    """A token mask with its gather / restore indices.

    ``mask[b, i]`` is True when token ``i`` is hidden from the encoder. ``ids_keep[b]`` lists the visible
    tokens in the order the encoder sees them; ``ids_restore[b]`` maps ``[visible..., masked...]`` back to
    the original token order (``ids_restore = argsort(ids_shuffle)``, MAE).
    """

    mask: torch.Tensor
    ids_keep: torch.Tensor
    ids_restore: torch.Tensor

    @property
    def num_keep(self) -> int:
        return self.ids_keep.shape[1]

    @property
    def num_tokens(self) -> int:
        return self.mask.shape[1]

    @property
    def ids_shuffle(self) -> torch.Tensor:
        """``[visible ids..., masked ids...]`` per sample (inverse permutation of ``ids_restore``)."""
        return torch.argsort(self.ids_restore, dim=1)

    @property
    def ids_masked(self) -> torch.Tensor:
        """Masked token ids in the order the decoder appends mask tokens."""
        return self.ids_shuffle[:, self.num_keep:]

    def to(self, device) -> "Mask":
        return Mask(*(t.to(device) for t in self))


# ----------------------------------------------------------------------------------------- helpers
def make_generator(device=None, generator: torch.Generator | None = None, seed: int | None = None):
    """The generator to draw from: ``generator`` if given, else a new one seeded with ``seed`` on ``device``,
    else ``None`` (torch's global RNG)."""
    if generator is not None:
        if seed is not None:
            raise ValueError("pass either a generator or a seed, not both")
        return generator
    if seed is None:
        return None
    g = torch.Generator(device=torch.device(device) if device is not None else "cpu")
    g.manual_seed(int(seed))
    return g


def _rand(shape, device, generator, seed) -> torch.Tensor:
    g = make_generator(device, generator, seed)
    return torch.rand(shape, device=device, generator=g)


def _check_ratio(ratio: float) -> None:
    if not 0.0 <= ratio < 1.0:
        raise ValueError(f"mask ratio must be in [0, 1), got {ratio}")


def mask_from_noise(noise: torch.Tensor, len_keep: int) -> Mask:
    """MAE recipe: keep the ``len_keep`` lowest-noise tokens of each row (small noise = keep)."""
    B, N = noise.shape
    ids_shuffle = torch.argsort(noise, dim=1)
    ids_restore = torch.argsort(ids_shuffle, dim=1)
    mask = torch.ones(B, N, dtype=torch.bool, device=noise.device)
    mask[:, :len_keep] = False
    mask = torch.gather(mask, 1, ids_restore)
    return Mask(mask, ids_shuffle[:, :len_keep], ids_restore)


def mask_from_bool(mask: torch.Tensor) -> Mask:
    """Indices for a given boolean mask with the same number of visible tokens in every row.

    Visible tokens are kept in ascending index order, so ``apply_mask(x, m)`` equals VideoMAE's
    ``x[~mask].reshape(B, -1, D)``; masked tokens follow, also ascending.
    """
    mask = mask.bool()
    B, N = mask.shape
    counts = (~mask).sum(1)
    if B and not bool((counts == counts[0]).all()):
        raise ValueError("every row must have the same number of visible tokens")
    key = mask.long() * N + torch.arange(N, device=mask.device)
    ids_shuffle = torch.argsort(key, dim=1)
    ids_restore = torch.argsort(ids_shuffle, dim=1)
    len_keep = int(counts[0]) if B else 0
    return Mask(mask, ids_shuffle[:, :len_keep], ids_restore)


# --------------------------------------------------------------------------------------- generators
def random_mask(batch: int, num_tokens: int, ratio: float, *, device=None,
                generator: torch.Generator | None = None, seed: int | None = None) -> Mask:
    """MAE / ST-MAE / AudioMAE / CAV-MAE random masking: per-sample argsort of uniform noise,
    ``len_keep = int(N·(1-ratio))`` (MAE ``models_mae.py::random_masking``)."""
    _check_ratio(ratio)
    len_keep = int(num_tokens * (1 - ratio))
    return mask_from_noise(_rand((batch, num_tokens), device, generator, seed), len_keep)


def tube_mask(batch: int, grid: Sequence[int], ratio: float, *, device=None,
              generator: torch.Generator | None = None, seed: int | None = None) -> Mask:
    """VideoMAE tube masking: one spatial mask per sample, tiled over the ``T'`` time slices.

    ``grid = (T', H', W')``; ``int(ratio·H'W')`` positions are masked in every slice (VideoMAE
    ``TubeMaskingGenerator``: 0.9 on 14×14 → 176 masked, 20 visible per slice, 160 in all).
    """
    _check_ratio(ratio)
    t, h, w = grid
    hw = h * w
    num_masked = int(ratio * hw)
    noise = _rand((batch, hw), device, generator, seed)
    ranks = torch.argsort(torch.argsort(noise, dim=1), dim=1)          # rank of each position
    spatial = ranks >= hw - num_masked                                 # highest-noise positions masked
    return mask_from_bool(spatial.repeat(1, t))


def frame_mask(batch: int, grid: Sequence[int], ratio: float, *, device=None,
               generator: torch.Generator | None = None, seed: int | None = None) -> Mask:
    """Frame masking (CrossVideoMAE ablation): whole time slices are masked.

    ``grid = (T', H', W')``; ``max(1, round(T'·(1-ratio)))`` slices stay visible (spec §3.3, inferred:
    the paper gives no count rule), the rest are masked entirely.
    """
    _check_ratio(ratio)
    t, h, w = grid
    keep_t = max(1, round(t * (1 - ratio)))
    noise = _rand((batch, t), device, generator, seed)
    ranks = torch.argsort(torch.argsort(noise, dim=1), dim=1)
    masked_t = ranks >= keep_t                                          # (B, T')
    return mask_from_bool(masked_t.repeat_interleave(h * w, dim=1))


def complementary_masks(batch: int, num_tokens: int, ratio: float, num_streams: int = 2, *,
                        device=None, generator: torch.Generator | None = None,
                        seed: int | None = None) -> list[Mask]:
    """KDC-MAE complementary masks: ``num_streams`` masks with pairwise **disjoint** visible sets.

    One shuffle per sample; stream ``k`` keeps ``ids_shuffle[:, k·L:(k+1)·L]`` with
    ``L = int(N·(1-ratio))``, and gets its **own** ``ids_restore`` (spec §3.2; the released code reused
    stream 1's). Raises ``ValueError`` when ``num_streams·L > N`` (roughly ``ratio < 1 - 1/num_streams``:
    two streams need ratio >= 0.5, three >= 2/3).
    """
    _check_ratio(ratio)
    check_complementary("ratio", ratio, num_streams, num_tokens)
    len_keep = int(num_tokens * (1 - ratio))
    noise = _rand((batch, num_tokens), device, generator, seed)
    ids_shuffle = torch.argsort(noise, dim=1)
    masks = []
    for k in range(num_streams):
        keep = ids_shuffle[:, k * len_keep:(k + 1) * len_keep]
        order = torch.cat([keep, ids_shuffle[:, :k * len_keep], ids_shuffle[:, (k + 1) * len_keep:]], dim=1)
        ids_restore = torch.argsort(order, dim=1)
        mask = torch.ones(batch, num_tokens, dtype=torch.bool, device=noise.device)
        mask.scatter_(1, keep, False)
        masks.append(Mask(mask, keep, ids_restore))
    return masks


def _structured(batch, n_time, n_freq, ratio, n_mask_time, n_mask_freq, layout, device, generator, seed):
    if layout not in ("tf", "ft"):
        raise ValueError("layout must be 'tf' (token = t·F + f, the book's default) or 'ft' (CAV-MAE: f·T + t)")
    _check_ratio(ratio)
    num_tokens = n_time * n_freq
    len_keep = int(num_tokens * (1 - ratio))
    g = make_generator(device, generator, seed)
    noise = torch.rand(batch, n_time, n_freq, device=device, generator=g)
    forced = torch.zeros(batch, n_time, n_freq, dtype=torch.bool, device=noise.device)
    if n_mask_time:
        cols = torch.argsort(torch.rand(batch, n_time, device=device, generator=g), dim=1)[:, :n_mask_time]
        sel = torch.zeros(batch, n_time, dtype=torch.bool, device=noise.device).scatter_(1, cols, True)
        forced |= sel[:, :, None]
    if n_mask_freq:
        rows = torch.argsort(torch.rand(batch, n_freq, device=device, generator=g), dim=1)[:, :n_mask_freq]
        sel = torch.zeros(batch, n_freq, dtype=torch.bool, device=noise.device).scatter_(1, rows, True)
        forced |= sel[:, None, :]
    noise = torch.where(forced, noise + 1.0, noise)     # CAV-MAE sets forced noise to 1.1 (> any U[0,1))
    if layout == "ft":
        noise = noise.transpose(1, 2)
    return mask_from_noise(noise.reshape(batch, num_tokens), len_keep)


def time_mask(batch: int, n_time: int, n_freq: int, ratio: float, *, layout: str = "tf", device=None,
              generator: torch.Generator | None = None, seed: int | None = None) -> Mask:
    """CAV-MAE ``mode='time'``: ``int(n_time·ratio)`` whole time columns are forced masked; the
    ``int(N·(1-ratio))`` lowest-noise unforced tokens stay visible (remaining masks are random).

    ``layout`` is the token order of the spectrogram grid: ``"tf"`` (time-major, the book's convention)
    or ``"ft"`` (CAV-MAE's transposed ``[f, t]`` grid, 8×64 for 128 mel × 1024 frames).
    """
    return _structured(batch, n_time, n_freq, ratio, int(n_time * ratio), 0, layout, device, generator, seed)


def freq_mask(batch: int, n_time: int, n_freq: int, ratio: float, *, layout: str = "tf", device=None,
              generator: torch.Generator | None = None, seed: int | None = None) -> Mask:
    """CAV-MAE ``mode='freq'``: ``int(n_freq·ratio)`` whole frequency rows forced masked."""
    return _structured(batch, n_time, n_freq, ratio, 0, int(n_freq * ratio), layout, device, generator, seed)


def time_freq_mask(batch: int, n_time: int, n_freq: int, ratio: float, *, layout: str = "tf", device=None,
                   generator: torch.Generator | None = None, seed: int | None = None) -> Mask:
    """CAV-MAE ``mode='tf'``: ``int(n_time·ratio·0.7)`` time columns and ``int(n_freq·ratio·0.7)``
    frequency rows forced masked. If the forced set exceeds ``N - len_keep`` (e.g. 388 > 384 at 0.75
    on 64×8) a few forced tokens stay visible, exactly as in CAV-MAE (ties broken at random here)."""
    return _structured(batch, n_time, n_freq, ratio, int(n_time * ratio * 0.7), int(n_freq * ratio * 0.7),
                       layout, device, generator, seed)


# --------------------------------------------------------------------------------- gather / restore
def _check_tokens(x: torch.Tensor, mask: Mask | torch.Tensor, what: str) -> None:
    n = mask.num_tokens if isinstance(mask, Mask) else mask.shape[1]
    if x.dim() < 2 or x.shape[1] != n:
        raise ValueError(f"{what}: x {tuple(x.shape)} must have the mask's {n} tokens in dim 1")


def apply_mask(x: torch.Tensor, mask: Mask) -> torch.Tensor:
    """Visible tokens ``(B, N_keep, D)`` of ``x (B, N, D)`` in ``mask.ids_keep`` order."""
    _check_tokens(x, mask, "apply_mask")
    idx = mask.ids_keep.unsqueeze(-1).expand(-1, -1, x.shape[-1])
    return torch.gather(x, 1, idx)


def unshuffle(x_visible: torch.Tensor, mask_tokens: torch.Tensor, mask: Mask) -> torch.Tensor:
    """Restore the original token order: ``(B, N, D)`` with ``x_visible`` at the visible positions and
    mask tokens elsewhere, using **this** mask's ``ids_restore`` (MAE ``forward_decoder``).

    ``mask_tokens`` is one token ``(D,)`` / ``(1, 1, D)`` broadcast to every masked position, or
    ``(B, N - N_keep, D)`` tokens given in ``mask.ids_masked`` order.
    """
    B, n_keep, D = x_visible.shape
    if n_keep != mask.num_keep:
        raise ValueError(f"unshuffle: {n_keep} visible tokens given, the mask has {mask.num_keep} visible")
    n_mask = mask.num_tokens - n_keep
    if mask_tokens.dim() < 3 or mask_tokens.shape[:2] != (B, n_mask):
        mask_tokens = mask_tokens.reshape(1, 1, D).expand(B, n_mask, D)
    x = torch.cat([x_visible, mask_tokens.to(x_visible.dtype)], dim=1)
    return torch.gather(x, 1, mask.ids_restore.unsqueeze(-1).expand(-1, -1, D))


def select_masked(x: torch.Tensor, mask: Mask | torch.Tensor) -> torch.Tensor:
    """Tokens at masked positions, ``(B, N_mask, ...)``, in ascending index order
    (VideoMAE's ``x[mask].reshape(B, -1, D)``); every row must mask the same number of tokens
    (``ValueError`` otherwise, checked for a boolean mask). A :class:`Mask` needs no host sync (works on
    ``meta`` tensors and under CUDA graphs)."""
    _check_tokens(x, mask, "select_masked")
    if isinstance(mask, Mask):
        m, n_keep = mask.mask, mask.num_keep
    else:
        m = mask.bool()
        counts = (~m).sum(1).tolist()
        if len(set(counts)) > 1:
            masked = sorted({m.shape[1] - c for c in counts})
            raise ValueError("select_masked needs the same number of masked tokens in every row; this mask "
                             f"hides {masked} tokens in different rows (the result cannot be (B, N_mask, ...))")
        n_keep = counts[0] if counts else 0
    N = m.shape[1]
    key = m.long() * N + torch.arange(N, device=m.device)      # visible (ascending), then masked (ascending)
    idx = torch.argsort(key, dim=1)[:, n_keep:]
    idx = idx.reshape(*idx.shape, *([1] * (x.dim() - 2))).expand(-1, -1, *x.shape[2:])
    return torch.gather(x, 1, idx)
