"""XKD's figures computed from the trained teachers: Fig. 2 (how sharp the audio and video teachers' output
distributions are) and Fig. 3 (which visual tokens refine weighs, against SynthAV's sounding object).
Fig. 1 is :func:`maskedav.chapters.xkd_configs.fig1_figure`; Figs. S1–S2 are in :mod:`maskedav.chapters.xkd`.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from maskedav.methods.xkd import cross_modal_attention, encode_view

#: The common temperature at which Fig. 2 also compares the two teachers (the students' and the video
#: teacher's): the paper's audio teacher runs colder (0.07) by design, which alone sharpens its softmax.
COMMON_TEMP = 0.1


def _inputs(model, batch: dict) -> dict:
    _, _, x_v, x_a = model._inputs(batch)
    return {"video": x_v, "audio": x_a}


@torch.no_grad()
def teacher_entropies(model, batch: dict) -> pd.DataFrame:
    """Per clip and modality: the entropy (nats) of the centred teacher softmax (Eq. 10) at the modality's
    own temperature and at :data:`COMMON_TEMP`, and the largest probability — Fig. 2's quantity (spec §7:
    "not stated"; this book's reading)."""
    model.eval()
    out = model._teacher_outputs(_inputs(model, batch), {})
    temps = dict(zip(("video", "audio"), model.teacher_temps(int(model.ema_steps))))
    centers = {"video": model.center_v, "audio": model.center_a}
    rows = []
    for m, logits in out.items():
        z = logits.float() - centers[m]
        for label, t in (("own", temps[m]), ("common", COMMON_TEMP)):
            logp = F.log_softmax(z / t, dim=-1)
            ent = -(logp.exp() * logp).sum(-1)
            rows += [dict(clip=i, modality=m, temperature=label, tau=t, entropy=float(e),
                          max_p=float(p)) for i, (e, p) in enumerate(zip(ent, logp.exp().max(-1).values))]
    return pd.DataFrame(rows)


def sharpness_table(entropies: pd.DataFrame) -> pd.DataFrame:
    """Median entropy (and the uniform's, log K) per seed, modality and temperature: the numbers of Fig. 2."""
    return (entropies.groupby(["seed", "temperature", "modality"]).agg(tau=("tau", "first"),
                                                                        median_entropy=("entropy", "median"),
                                                                        median_max_p=("max_p", "median"))
            .reset_index())


def fig2_figure(entropies: pd.DataFrame, log_k: float):
    """Fig. 2: histograms of the teachers' per-clip output entropy, audio vs video, at each modality's own
    temperature and at a common one (all seeds pooled); ``log_k`` marks the uniform distribution."""
    from maskedav import viz

    viz.set_style()
    fig, axes = viz.panel_grid(2)
    for ax, (label, title) in zip(axes, (("own", "each teacher's own temperature"),
                                         ("common", f"a common temperature τ = {COMMON_TEMP:g}"))):
        d = entropies[entropies.temperature == label]
        bins = np.linspace(0, log_k * 1.02, 40)
        for m, color in (("audio", "C0"), ("video", "C1")):
            g = d[d.modality == m]
            ax.hist(g.entropy, bins=bins, alpha=0.55, color=color,
                    label=f"{m} teacher (τ = {g.tau.iloc[0]:g})" if len(g) else m)
        ax.axvline(log_k, color="0.4", ls="--", lw=1, label="uniform (log K)")
        ax.set_xlabel("entropy of the teacher's softmax (nats)")
        ax.set_ylabel("clips")
        ax.set_title(title)
        ax.legend(fontsize=viz.MIN_FONT)
    fig.tight_layout()
    return fig


# ============================================================================ Fig. 3: refine's saliency
@torch.no_grad()
def refine_saliency(model, batch: dict) -> dict:
    """The video teacher's token weights on the global clip (spec §7, Fig. 3, this book's reading): without
    refine, mean pooling weighs each token by its norm ‖F_n‖; with refine (Eqs. 4–6) by ``Ω · a_n · ‖F_n‖``,
    ``a`` the head-mean cross-modal attention. Returns ``{"without", "with"}`` ``(B, T', H', W')`` and the
    grid."""
    model.eval()
    x = _inputs(model, batch)
    enc_v, _ = model.encoders("video", teacher=True)
    enc_a, _ = model.encoders("audio", teacher=True)
    use_cls = model.config.cls_attention
    t_v, a_v = encode_view(enc_v, x["video"], last_attention=True, use_cls=use_cls)
    _, a_a = encode_view(enc_a, x["audio"], last_attention=True, use_cls=use_cls)
    ax_v, _ = cross_modal_attention(a_v, a_a, model.config.cm_attention)
    tokens = t_v[:, 1:].float()
    norm = tokens.norm(dim=-1)                                                   # (B, N)
    a = ax_v.mean(1).float()                                                     # (B, N)
    omega = tokens.mean(1).norm(dim=-1) / (tokens * a[..., None]).mean(1).norm(dim=-1)
    grid = enc_v.grid_size
    shape = (tokens.shape[0], *grid)
    return {"without": norm.reshape(shape), "with": (omega[:, None] * a * norm).reshape(shape), "grid": grid}


def source_cover(source_mask: torch.Tensor, grid) -> torch.Tensor:
    """SynthAV's sounding-object pixels ``(B, T, H, W)`` pooled to the token grid ``(B, T', H', W')``: the
    share of each tubelet's pixels that belong to the sounding object."""
    return F.adaptive_avg_pool3d(source_mask.float()[:, None], grid)[:, 0]


def pointing_game(saliency: dict, cover: torch.Tensor) -> dict:
    """Share of clips whose most-weighted token touches the sounding object, without and with refine, and
    chance (the share of tokens that touch it)."""
    hit = {}
    flat_cover = cover.flatten(1) > 0
    for k in ("without", "with"):
        idx = saliency[k].flatten(1).argmax(1, keepdim=True)
        hit[k] = float(flat_cover.gather(1, idx).float().mean()) * 100
    hit["chance"] = float(flat_cover.float().mean()) * 100
    return hit


def fig3_figure(batch: dict, saliency: dict, clips=(0, 1, 2, 3), slots=(0, 2)):
    """Fig. 3: for ``clips`` and temporal ``slots``, the middle frame of the slot with the token weights
    without and with refine overlaid (upsampled), the sounding object outlined."""
    import matplotlib.pyplot as plt

    from maskedav import viz

    viz.set_style()
    video = batch["video"]                                                       # (B, 3, T, H, W)
    T, H, W = video.shape[2:]
    tub = T // saliency["grid"][0]
    src = batch.get("source_mask")
    cols = len(slots) * 2
    fig, axes = plt.subplots(len(clips), cols, figsize=(min(viz.PAGE_WIDTH, 1.9 * cols), 1.9 * len(clips)),
                             squeeze=False)
    for r, c in enumerate(clips):
        for j, slot in enumerate(slots):
            frame = video[c, :, slot * tub + tub // 2].permute(1, 2, 0).clamp(0, 1).numpy()
            for k, key in enumerate(("without", "with")):
                ax = axes[r, 2 * j + k]
                heat = saliency[key][c, slot][None, None]
                heat = F.interpolate(heat, size=(H, W), mode="bilinear", align_corners=False)[0, 0].numpy()
                ax.imshow(frame)
                ax.imshow(heat, cmap="inferno", alpha=0.55)
                if src is not None:
                    ax.contour(src[c, slot * tub + tub // 2].float().numpy(), levels=[0.5], colors="cyan",
                               linewidths=0.8)
                ax.set_xticks([])
                ax.set_yticks([])
                if r == 0:
                    ax.set_title(f"slot {slot}: {'with' if key == 'with' else 'without'} refine",
                                 fontsize=viz.MIN_FONT)
    fig.tight_layout()
    return fig


def saliency_table(models: list, batch: dict, seeds: list[int]) -> pd.DataFrame:
    """Fig. 3's pointing game per seed (every trained XKD model on the same clips)."""
    cover = source_cover(batch["source_mask"], models[0].encoders("video", teacher=True)[0].grid_size)
    rows = []
    for seed, model in zip(seeds, models):
        hit = pointing_game(refine_saliency(model, batch), cover)
        rows.append(dict(seed=seed, without_refine=hit["without"], with_refine=hit["with"], chance=hit["chance"]))
    return pd.DataFrame(rows)
