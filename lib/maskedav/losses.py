"""Losses of the MAE family and of the five papers, as pure functions.

Pixel targets (reference-code §1.1, §1.3):

* :func:`patchify_image` / :func:`patchify_video` give ``(B, N, P)`` targets with token order
  ``(h, w)`` / ``(t, h, w)`` and per-token values ordered **pixel-major, channel-last**:
  ``(ph, pw, c)`` for MAE (``'nchpwq->nhwpqc'``) and ``(pt, ph, pw, c)`` for VideoMAE
  (``'b c (t p0) (h p1) (w p2) -> b (t h w) (p0 p1 p2) c'``), ST-MAE (``'nctuhpwq->nthwupqc'``) and XKD
  (``Cuboids``) — the repositories agree, so one function serves all. ``channel_last=False`` gives the
  Conv3d weight order ``(c, pt, ph, pw)`` instead (only for weight conversion).
* :func:`norm_pix_per_patch` (MAE, ST-MAE, AudioMAE, CAV-MAE, XKD): ``(x - mean)/sqrt(var + 1e-6)``,
  mean / unbiased var jointly over all ``P = pt·ph·pw·C`` values of a token.
* :func:`norm_pix_per_channel` (VideoMAE, MVD's teachers, AV-MaskEnhancer): per colour channel over the
  ``pt·ph·pw`` pixels of the token, ``(x - mean)/(std_unbiased + 1e-6)`` — eps on the std, not the var.
* :func:`masked_mse`: MAE's "per-patch mean, then mean over masked patches" (``(loss·mask).sum()/mask.sum()``);
  with masked-only predictions this equals VideoMAE's ``MSELoss`` over ``target[mask]``.

Other objectives: :func:`feature_regression` (MVD Eqs. 2–3, smooth-L1 β=1), :func:`info_nce`
(CAV-MAE contrastive term / KDC-MAE Eq. 1), :func:`nt_xent` (CrossVideoMAE Eqs. 1–2, 5–6), :func:`symmetric_kl`
(KDC-MAE Eqs. 4–5), :func:`mmd_multi_kernel` (XKD Eqs. 7–9, code form), :func:`dino_distillation` +
:func:`update_center` (XKD Eqs. 10–11), :func:`cosine_similarity_loss`.
"""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F

from maskedav.masking import Mask, select_masked

__all__ = [
    "patchify_image", "unpatchify_image", "patchify_video", "unpatchify_video",
    "norm_pix_per_patch", "norm_pix_per_channel", "masked_mse", "feature_regression",
    "info_nce", "nt_xent", "shifted_distribution", "symmetric_kl", "mmd_multi_kernel", "XKD_GAMMAS",
    "dino_distillation", "update_center", "cosine_similarity_loss",
]


def _pair(p) -> tuple[int, int]:
    return (p, p) if isinstance(p, int) else (int(p[0]), int(p[1]))


# ------------------------------------------------------------------------------------ patchify
def patchify_image(imgs: torch.Tensor, patch: int | Sequence[int], channel_last: bool = True) -> torch.Tensor:
    """``(B, C, H, W)`` → ``(B, h·w, ph·pw·C)``, tokens ``(h, w)`` row-major (MAE ``patchify``).

    Also patchifies a spectrogram given as ``(B, 1, T, F)`` (tokens ``(time, freq)``) or CAV-MAE's
    transposed ``(B, 1, F, T)``; ``patch`` may be non-square ``(ph, pw)``.
    """
    ph, pw = _pair(patch)
    B, C, H, W = imgs.shape
    if H % ph or W % pw:
        raise ValueError(f"image {H}x{W} is not divisible by patch {ph}x{pw}")
    h, w = H // ph, W // pw
    x = imgs.reshape(B, C, h, ph, w, pw)
    x = torch.einsum("nchpwq->nhwpqc", x) if channel_last else torch.einsum("nchpwq->nhwcpq", x)
    return x.reshape(B, h * w, ph * pw * C)


def unpatchify_image(x: torch.Tensor, patch: int | Sequence[int], grid: Sequence[int], channels: int = 3,
                     channel_last: bool = True) -> torch.Tensor:
    """Inverse of :func:`patchify_image`: ``(B, h·w, ph·pw·C)`` → ``(B, C, h·ph, w·pw)``."""
    ph, pw = _pair(patch)
    h, w = grid
    B = x.shape[0]
    if channel_last:
        x = torch.einsum("nhwpqc->nchpwq", x.reshape(B, h, w, ph, pw, channels))
    else:
        x = torch.einsum("nhwcpq->nchpwq", x.reshape(B, h, w, channels, ph, pw))
    return x.reshape(B, channels, h * ph, w * pw)


def patchify_video(video: torch.Tensor, patch: int | Sequence[int], tubelet: int,
                   channel_last: bool = True) -> torch.Tensor:
    """``(B, C, T, H, W)`` → ``(B, t·h·w, pt·ph·pw·C)``, tokens ``(t, h, w)`` row-major.

    Per-token order ``(pt, ph, pw, c)`` as in VideoMAE / ST-MAE / XKD (``channel_last=True``), or the
    Conv3d weight order ``(c, pt, ph, pw)``.
    """
    ph, pw = _pair(patch)
    B, C, T, H, W = video.shape
    if T % tubelet or H % ph or W % pw:
        raise ValueError(f"video {T}x{H}x{W} is not divisible by tubelet {tubelet}x{ph}x{pw}")
    t, h, w = T // tubelet, H // ph, W // pw
    x = video.reshape(B, C, t, tubelet, h, ph, w, pw)
    eq = "nctuhpwq->nthwupqc" if channel_last else "nctuhpwq->nthwcupq"
    return torch.einsum(eq, x).reshape(B, t * h * w, tubelet * ph * pw * C)


def unpatchify_video(x: torch.Tensor, patch: int | Sequence[int], tubelet: int, grid: Sequence[int],
                     channels: int = 3, channel_last: bool = True) -> torch.Tensor:
    """Inverse of :func:`patchify_video`: → ``(B, C, t·pt, h·ph, w·pw)``."""
    ph, pw = _pair(patch)
    t, h, w = grid
    B = x.shape[0]
    if channel_last:
        x = torch.einsum("nthwupqc->nctuhpwq", x.reshape(B, t, h, w, tubelet, ph, pw, channels))
    else:
        x = torch.einsum("nthwcupq->nctuhpwq", x.reshape(B, t, h, w, channels, tubelet, ph, pw))
    return x.reshape(B, channels, t * tubelet, h * ph, w * pw)


# ---------------------------------------------------------------------------------- norm-pix
def norm_pix_per_patch(target: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """MAE ``norm_pix_loss``: per token, ``(x - mean)/sqrt(var + eps)`` jointly over all ``P`` values
    (``torch.var`` default: unbiased)."""
    mean = target.mean(dim=-1, keepdim=True)
    var = target.var(dim=-1, keepdim=True)
    return (target - mean) / (var + eps) ** 0.5


def norm_pix_per_channel(target: torch.Tensor, channels: int = 3, eps: float = 1e-6) -> torch.Tensor:
    """VideoMAE ``normlize_target``: per token **and colour channel**, over the ``P/C`` pixel positions,
    ``(x - mean)/(std_unbiased + eps)``. ``target`` must be channel-last (``(..., P/C, C)`` flattened)."""
    *lead, P = target.shape
    if P % channels:
        raise ValueError(f"last dim {P} is not divisible by channels={channels}")
    x = target.reshape(*lead, P // channels, channels)
    x = (x - x.mean(dim=-2, keepdim=True)) / (x.var(dim=-2, keepdim=True).sqrt() + eps)
    return x.reshape(*lead, P)


_NORM_PIX = {None: None, "none": None, "per_patch": norm_pix_per_patch, "per_channel": norm_pix_per_channel}


def _as_bool(mask: Mask | torch.Tensor) -> torch.Tensor:
    return mask.mask if isinstance(mask, Mask) else mask.bool()


def _check_mask(mask: torch.Tensor, target: torch.Tensor) -> None:
    if mask.shape != target.shape[:2]:
        raise ValueError(f"mask {tuple(mask.shape)} does not match the (B, N) = {tuple(target.shape[:2])} "
                         f"of target {tuple(target.shape)}")


def _check_pred(pred: torch.Tensor, target: torch.Tensor) -> None:
    if pred.shape != target.shape:
        raise ValueError(f"pred {tuple(pred.shape)} does not match target {tuple(target.shape)} "
                         "(all N tokens, or the masked ones only); refusing to broadcast")


def masked_mse(pred: torch.Tensor, target: torch.Tensor, mask: Mask | torch.Tensor,
               norm_pix: str | None = "per_patch", channels: int = 3, eps: float = 1e-6) -> torch.Tensor:
    """Reconstruction loss on **masked tokens only** (MAE Eq. "loss on removed patches"; VideoMAE Eq. 2).

    ``target`` is the patchified input ``(B, N, P)``, normalised per ``norm_pix`` (``"per_patch"`` MAE,
    ``"per_channel"`` VideoMAE, ``None`` raw). ``pred`` is either ``(B, N, P)`` (all tokens; MAE:
    per-token mean squared error, then mean over masked tokens) or ``(B, N_mask, P)`` (masked tokens in
    ascending index order, as :func:`maskedav.masking.select_masked`; VideoMAE's ``MSELoss``). Both give
    the same number. Visible-token predictions never affect the loss. The masked-only form needs the
    same number of masked tokens in every row; shapes that would broadcast raise ``ValueError``.
    """
    m = _as_bool(mask)
    _check_mask(m, target)
    fn = _NORM_PIX[norm_pix]
    if fn is norm_pix_per_channel:
        target = fn(target, channels=channels, eps=eps)
    elif fn is not None:
        target = fn(target, eps=eps)
    if pred.shape[1] == target.shape[1]:
        _check_pred(pred, target)
        loss = ((pred - target) ** 2).mean(dim=-1)
        return (loss * m).sum() / m.sum().clamp_min(1)
    target = select_masked(target, mask)
    _check_pred(pred, target)
    return F.mse_loss(pred, target)


def feature_regression(pred: torch.Tensor, target: torch.Tensor, mask: Mask | torch.Tensor | None = None,
                       loss: str = "smooth_l1", beta: float = 1.0, norm_target: bool = False,
                       eps: float = 1e-6) -> torch.Tensor:
    """Regression of teacher features: MVD Eq. 2 (one term of Eq. 3) with ``D`` = smooth-L1, PyTorch's
    β = 1 and mean reduction over all ``B·|M|·C`` elements.

    ``loss`` ∈ ``{"smooth_l1", "l2", "l1"}``. With a ``mask``, only masked tokens count: ``pred`` may hold
    all ``N`` tokens or the masked ones in ascending order; ``target`` holds all ``N``. Every row must mask
    the same number of tokens, and ``pred`` must match the (selected) target's shape: otherwise
    ``ValueError`` (no silent truncation or broadcasting). ``norm_target`` applies MVD's optional
    non-affine ``LayerNorm(D, eps=1e-6)`` to the targets (off in MVD's scripts).
    """
    target = target.detach()
    if norm_target:
        target = F.layer_norm(target, target.shape[-1:], eps=eps)
    if mask is not None:
        _check_mask(_as_bool(mask), target)
        if pred.shape[1] == target.shape[1]:
            pred = select_masked(pred, mask)
        target = select_masked(target, mask)
    _check_pred(pred, target)
    if loss == "smooth_l1":
        return F.smooth_l1_loss(pred, target, beta=beta)
    if loss == "l2":
        return F.mse_loss(pred, target)
    if loss == "l1":
        return F.l1_loss(pred, target)
    raise ValueError(f"unknown loss {loss!r}; choose smooth_l1, l2 or l1")


# ------------------------------------------------------------------------------- contrastive
def info_nce(query: torch.Tensor, key: torch.Tensor, temperature: float = 0.05,
             bidirectional: bool = False, normalize: bool = True) -> torch.Tensor:
    """InfoNCE with in-batch negatives (CAV-MAE's contrastive term; KDC-MAE Eq. 1).

    ``S = q̂·k̂ᵀ/τ`` (rows = queries); one direction is ``cross_entropy(S, arange(B))`` = anchor ``q_i``,
    softmax over all keys. CAV-MAE's single direction ``-mean(diag(log_softmax(a·vᵀ/τ, dim=0)))``
    (anchor = video, softmax over audios; ``bidirect_contrast=False``, τ = 0.05) is therefore
    ``info_nce(video, audio)``. ``bidirectional=True`` averages both directions (CAV-MAE's bidirectional
    option).
    """
    if normalize:
        query, key = F.normalize(query, dim=-1), F.normalize(key, dim=-1)
    logits = query @ key.t() / temperature
    labels = torch.arange(logits.shape[0], device=logits.device)
    loss = F.cross_entropy(logits, labels)
    if bidirectional:
        loss = 0.5 * (loss + F.cross_entropy(logits.t(), labels))
    return loss


def nt_xent(z1: torch.Tensor, z2: torch.Tensor, temperature: float = 0.1, symmetric: bool = True) -> torch.Tensor:
    """NT-Xent (SimCLR; CrossVideoMAE Eqs. 1, 2, 5, 6) with cosine similarity.

    For anchor ``z1_i``: ``-log exp(s(z1_i,z2_i)/τ) / (Σ_{k≠i} exp(s(z1_i,z1_k)/τ) + Σ_k exp(s(z1_i,z2_k)/τ))``.
    ``symmetric=False`` averages over the ``N`` anchors of ``z1`` only (the paper as written);
    ``symmetric=True`` over all ``2N`` anchors (SimCLR).
    """
    n = z1.shape[0]
    z = F.normalize(torch.cat([z1, z2], dim=0), dim=-1)
    sim = z @ z.t() / temperature
    sim = sim.masked_fill(torch.eye(2 * n, dtype=torch.bool, device=z.device), float("-inf"))
    targets = torch.cat([torch.arange(n, 2 * n), torch.arange(0, n)]).to(z.device)
    if not symmetric:
        return F.cross_entropy(sim[:n], targets[:n])
    return F.cross_entropy(sim, targets)


# -------------------------------------------------------------------------- distribution losses
def shifted_distribution(x: torch.Tensor, eps: float = 1e-12, shift: str = "per_sample") -> torch.Tensor:
    """KDC-MAE Eq. 4: make ``x (B, D)`` non-negative by an origin shift and divide by the row sum
    (no softmax), then add ``eps`` (finite logs: the shifted minimum is exactly 0; spec §9 item 17).

    ``shift="per_sample"``: ``x - min_j x_j`` per row (paper). ``shift="batch"``: ``x + |min over the whole
    batch|`` (KDC code; adds ``|min|`` even when the minimum is positive).

    An entry that the shift makes exactly 0 (a row's argmin; the batch's argmin for ``"batch"``) stays 0
    whatever ``x`` does, so its derivative is exactly 0 and it is treated as a constant. Without that,
    a loss with a ``1/p`` gradient (``D(q‖p)``) sends ``~q/eps ≈ 1e10`` into it, which autograd cancels
    through the min / row sum — in float32 that cancellation destroyed the argmin coordinate's gradient.
    """
    x = x.float()
    if shift == "per_sample":
        y = x - x.min(dim=-1, keepdim=True).values
    elif shift == "batch":
        y = x + x.min().abs()
    else:
        raise ValueError("shift must be 'per_sample' or 'batch'")
    y = torch.where(y == 0, torch.zeros_like(y), y)      # structural zeros: value 0, no gradient path (NaN kept)
    return y / y.sum(dim=-1, keepdim=True).clamp_min(1e-30) + eps


def _kl(p: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    """``Σ_i p_i log(p_i / q_i)`` with ``0·log 0 = 0`` (xlogy)."""
    return (torch.xlogy(p, p) - torch.xlogy(p, q)).sum(dim=-1)


def symmetric_kl(x1: torch.Tensor, x2: torch.Tensor, eps: float = 1e-12, shift: str = "per_sample",
                 divergence: str = "sym_kl") -> torch.Tensor:
    """KDC-MAE self-distillation (Eq. 5): ``½(D(p1‖p2) + D(p2‖p1))`` between the shifted distributions
    (:func:`shifted_distribution`) of two streams' mean-pooled latents ``(B, D)``; batch mean, fp32.

    ``divergence="js"`` gives the released code's Jensen–Shannon ``½D(p‖m) + ½D(q‖m)``, ``m = (p+q)/2``.
    No stop-gradient: both inputs receive gradients (mutual distillation).

    Zero entries (spec §9 item 17): each shifted row has an exact 0, so ``D(q‖p)`` is infinite where
    ``p_i = 0 < q_i``. As in the KDC code, ``eps`` (1e-12) is added to both distributions, so such an
    entry contributes ``q_i·log(q_i/eps)`` (≈ 27.6·q_i, usually the largest term). The value is the
    spec's; the gradient is the exact derivative of that value: the ε-floored entry is constant in
    ``x``, so no ``q_i/eps`` gradient reaches it (see :func:`shifted_distribution`). ``eps=0`` gives
    ``inf`` for ``"sym_kl"`` unless the zeros coincide, and a finite JS (``0·log 0 = 0``).
    """
    p, q = shifted_distribution(x1, eps, shift), shifted_distribution(x2, eps, shift)
    if divergence == "sym_kl":
        d = 0.5 * (_kl(p, q) + _kl(q, p))
    elif divergence == "js":
        m = 0.5 * (p + q)
        d = 0.5 * (_kl(p, m) + _kl(q, m))
    else:
        raise ValueError("divergence must be 'sym_kl' or 'js'")
    return d.mean()


XKD_GAMMAS = (1e-3, 1e-2, 1e-1, 1.0, 10.0, 100.0, 1000.0)


def mmd_multi_kernel(x: torch.Tensor, y: torch.Tensor, gammas: Sequence[float] = XKD_GAMMAS) -> torch.Tensor:
    """Biased squared MMD with a sum of Gaussian kernels (XKD ``MMD_Loss``, from DomainBed; spec §4.5).

    ``k(a, b) = Σ_γ exp(-γ‖a-b‖²)``; ``MMD² = mean(Kxx) + mean(Kyy) - 2·mean(Kxy)`` with diagonals included.
    Squared distances are computed as in DomainBed (``‖a‖² + ‖b‖² - 2a·b``, clamped at 1e-30).
    """
    def kernel(a, b):
        d = (a.pow(2).sum(-1, keepdim=True) + b.pow(2).sum(-1, keepdim=True).t() - 2 * a @ b.t()).clamp_min(1e-30)
        return sum(torch.exp(-g * d) for g in gammas)

    return kernel(x, x).mean() + kernel(y, y).mean() - 2 * kernel(x, y).mean()


def dino_distillation(student_out: torch.Tensor | Sequence[torch.Tensor],
                      teacher_out: torch.Tensor | Sequence[torch.Tensor], center: torch.Tensor,
                      student_temp: float = 0.1, teacher_temp: float = 0.04) -> torch.Tensor:
    """DINO cross-entropy with teacher centring (XKD Eqs. 10–11, code ``DINOLossX``).

    ``q = softmax((t - center)/τ_t)`` (no gradient), ``loss = mean_b Σ_k -q_k·log_softmax(s/τ_s)_k``.
    Lists of views are averaged over **all** (teacher view, student view) pairs (cross-modal: no pair is
    skipped). Update the centre afterwards with :func:`update_center`.
    """
    students = [student_out] if torch.is_tensor(student_out) else list(student_out)
    teachers = [teacher_out] if torch.is_tensor(teacher_out) else list(teacher_out)
    total, n = 0.0, 0
    for t in teachers:
        q = F.softmax((t.detach() - center) / teacher_temp, dim=-1)
        for s in students:
            total = total + torch.sum(-q * F.log_softmax(s / student_temp, dim=-1), dim=-1).mean()
            n += 1
    return total / n


@torch.no_grad()
def update_center(center: torch.Tensor, teacher_out: torch.Tensor | Sequence[torch.Tensor],
                  momentum: float = 0.9) -> torch.Tensor:
    """EMA of the teacher's batch mean (DINO / XKD, momentum 0.9): ``c ← m·c + (1-m)·mean_b(t)``, in place.
    The batch mean is all-reduced across processes when ``torch.distributed`` is initialised."""
    t = teacher_out if torch.is_tensor(teacher_out) else torch.cat(list(teacher_out), dim=0)
    batch_center = t.sum(dim=0, keepdim=True)
    count = t.shape[0]
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        torch.distributed.all_reduce(batch_center)
        count *= torch.distributed.get_world_size()
    center.mul_(momentum).add_(batch_center.reshape(center.shape) / count, alpha=1 - momentum)
    return center


def cosine_similarity_loss(a: torch.Tensor, b: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """``mean(1 - cos(a, b))`` along ``dim`` (0 when aligned, 2 when opposite; BYOL's ``2 - 2cos`` is twice this)."""
    return (1 - F.cosine_similarity(a, b, dim=dim)).mean()
