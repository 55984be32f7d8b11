"""KDC-MAE's figures drawn from the implemented model (spec §7): Fig. 1 (the traced forward pass), Fig. 2a
(the complementary masks of a real clip), Fig. 2b's loss flow (which module each loss term reaches) and
the inpainting panel of both streams of a complementary pair.

* :func:`fig1_figure` — a real forward pass of a :class:`~maskedav.methods.kdc_mae.KDCMAE` traced by
  :func:`maskedav.viz.trace_modules` and drawn by :func:`maskedav.viz.module_diagram`; each box says how
  often the module ran (the streams share weights, the joint block runs three passes per stream);
* :func:`mask_figure` — ``model.stream_masks`` on one clip: its middle frame and its fbank with every
  patch coloured by the stream(s) that see it;
* :func:`gradient_routing` / :func:`routing_figure` — each loss term back-propagated alone and the
  gradient norm reaching the audio encoder, video encoder, joint block(s) and decoder (spec §4.8: the
  contrastive and KD terms never reach the decoder);
* :func:`inpainting_figure` — ``model.reconstruct`` under each stream's masks.

The functions draw their masks from ``model.generator`` only when asked to (:func:`mask_figure`,
:func:`gradient_routing` without ``masks``) and put its state back afterwards, so drawing a figure never
changes what a later training step or figure sees.
"""
from __future__ import annotations

import math

import numpy as np
import torch
from maskedav import viz
from maskedav.generators import kept_generator

__all__ = ["MODULE_GROUPS", "STREAM_COLOURS", "architecture_trace", "fig1_figure", "token_labels",
           "mask_figure", "gradient_routing", "routing_figure", "inpainting_figure"]

#: Module groups of the routing table and the colour groups of Fig. 1, in display order.
MODULE_GROUPS = ("audio encoder", "video encoder", "joint encoder", "decoder")
#: Colours of "visible in stream k" (k = 1, 2, 3, ...), of "visible in several streams" and of
#: "masked in every stream" (spec §7, Fig. 2a).
STREAM_COLOURS = tuple(viz.OKABE_ITO[c] for c in ("blue", "orange", "bluish green", "reddish purple", "sky blue"))
OVERLAP_COLOUR = viz.OKABE_ITO["vermillion"]
MASKED_COLOUR = "#202020"


# ------------------------------------------------------------------------------------------ Fig. 1
def _diagram_parts(model) -> dict[str, tuple[torch.nn.Module, str]]:
    """``{label: (module, colour group)}``: the modules Fig. 1 shows (first and last of a stack of blocks)."""
    enc, dec = model.encoder, model.decoder
    parts: dict[str, tuple[torch.nn.Module, str]] = {}

    def stack(prefix, blocks, group):
        n = len(blocks)
        for i in sorted({0, n - 1} if n else set()):
            parts[f"{prefix} block {i + 1}/{n}"] = (blocks[i], group)

    parts["AE patch embed (fbank)"] = (enc.audio.patch_embed, "audio")
    stack("AE", enc.audio.blocks, "audio")
    parts["VE patch embed (frame)"] = (enc.video.patch_embed, "video")
    stack("VE", enc.video.blocks, "video")
    for j, blk in enumerate(enc.joint):
        parts[f"AVE joint block {j + 1}/{len(enc.joint)} (3 passes)"] = (blk, "joint")
    parts["AVE norm (joint pass)"] = (enc.norm, "joint")
    parts["AVE norm_a (audio pass)"] = (enc.norm_a, "joint")
    parts["AVE norm_v (video pass)"] = (enc.norm_v, "joint")
    parts["JD embed"] = (dec.embed, "decoder")
    stack("JD", dec.blocks, "decoder")
    parts["JD norm"] = (dec.norm, "decoder")
    parts["JD head_a (audio patches)"] = (dec.head_a, "decoder")
    parts["JD head_v (frame patches)"] = (dec.head_v, "decoder")
    if getattr(model, "mixer", None) is not None:
        parts["loss mixer (MLP)"] = (model.mixer, "loss mixer")
    return parts


class _Diagram(torch.nn.Module):
    """A view of ``model`` whose direct children are the modules Fig. 1 shows (named by their labels), so
    that :func:`maskedav.viz.trace_modules` at depth 1 records exactly them; calling it runs ``model``."""

    def __init__(self, model, parts):
        super().__init__()
        object.__setattr__(self, "_model", model)           # not a child: its modules are not traced twice
        for label, (module, _) in parts.items():
            self.add_module(label, module)

    def forward(self, *inputs):
        return self._model(*inputs)


def architecture_trace(model, batch) -> list[dict]:
    """The modules a real forward pass of ``model`` (eval mode) calls, in call order, with their output
    shapes and parameter counts (:func:`maskedav.viz.trace_modules`), plus ``group`` (audio / video /
    joint / decoder / loss mixer) and ``calls``: how often the module ran in that pass."""
    parts = _diagram_parts(model)
    view = _Diagram(model, parts)
    counts = dict.fromkeys(parts, 0)
    hooks = [module.register_forward_hook(lambda m, a, o, label=label: counts.__setitem__(label, counts[label] + 1))
             for label, (module, _) in parts.items()]
    try:
        with model._eval_mode(), kept_generator(model):
            trace = viz.trace_modules(view, batch, depth=1)
    finally:
        for h in hooks:
            h.remove()
    for c in trace:
        c["group"] = parts[c["name"]][1]
        c["calls"] = counts[c["name"]]
        if c["calls"] > 1:
            c["class"] = f"{c['class']}, ×{c['calls']} calls"
    return trace


def _mask_kind(c) -> str:
    kind = "complementary" if c.complementary and c.num_streams > 1 else "independent"
    audio = "" if c.audio_mask_type == "random" else f", {c.audio_mask_type}-structured audio"
    return f"{kind} masks (audio {c.mask_ratio_a:.0%}, video {c.mask_ratio_v:.0%}{audio})"


def fig1_figure(model, batch):
    """Fig. 1 drawn from the implemented model: a traced forward pass of ``model`` (its modules in call
    order, the shapes they return, their parameters and how often the weight-shared streams called them),
    coloured audio / video / joint / decoder. Returns ``(fig, trace)``."""
    viz.set_style()
    trace = architecture_trace(model, batch)
    c = model.config
    div = {"sym_kl": "symmetric KL (Eq. 5)", "js": "Jensen-Shannon"}[c.divergence]
    title = (f"KDC-MAE as implemented: {c.num_streams} weight-shared streams, {_mask_kind(c)}\n"
             f"L = Σ_s (λ_r·L_r + λ_c·L_c) + λ_kd·L_kd with λ_r = {c.mae_weight:g}, λ_c = {c.contrast_weight:g}, "
             f"λ_kd = {c.kd_weight:g} ({c.weighting} weights)\n"
             f"KD: {div} between the streams' pooled {c.kd_pairs} features ({c.kd_shift} shift)\n")
    groups = {t["name"]: t["group"] for t in trace}
    fig = viz.module_diagram(trace, title=title, groups=groups, width=9.0)
    return fig, trace


# ----------------------------------------------------------------------------------------- Fig. 2a
def token_labels(masks) -> torch.Tensor:
    """``(B, N)`` long per token: ``k`` (1-based) when visible in stream ``k`` only, ``-1`` when visible in
    several streams, ``0`` when masked in every stream. ``masks``: one :class:`~maskedav.masking.Mask`
    per stream (one modality)."""
    visible = torch.stack([~m.mask.cpu() for m in masks])          # (S, B, N)
    count = visible.sum(0)
    which = visible.long().argmax(0) + 1
    return torch.where(count == 0, torch.zeros_like(which), torch.where(count == 1, which, -torch.ones_like(which)))


def _pixel_labels(space, labels: torch.Tensor, patch_dim: int) -> np.ndarray:
    """Per-token labels ``(B, N)`` spread over each token's pixels with the space's own ``unpatchify``
    (the model's token ↔ pixel map, so the figure's grid is the one the model uses)."""
    tokens = labels.float()[..., None].expand(-1, -1, patch_dim)
    img = space.unpatchify(tokens, affine=False)
    return img.round().long().numpy()


def _label_rgba(lab: np.ndarray, num_streams: int, alpha: float = 0.5) -> np.ndarray:
    import matplotlib.colors as mcolors

    rgba = np.zeros(lab.shape + (4,))
    for k in range(1, num_streams + 1):
        rgba[lab == k] = (*mcolors.to_rgb(STREAM_COLOURS[(k - 1) % len(STREAM_COLOURS)]), alpha)
    rgba[lab == -1] = (*mcolors.to_rgb(OVERLAP_COLOUR), alpha)
    rgba[lab == 0] = (*mcolors.to_rgb(MASKED_COLOUR), 0.72)
    return rgba


def _legend_handles(labels: torch.Tensor, num_streams: int, unit: str):
    from matplotlib.patches import Patch

    out = [Patch(color=STREAM_COLOURS[(k - 1) % len(STREAM_COLOURS)], alpha=0.7,
                 label=f"visible in stream {k}{' only' if num_streams > 1 else ''} ({int((labels == k).sum())} {unit})") for k in range(1, num_streams + 1)]
    if bool((labels == -1).any()):
        out.append(Patch(color=OVERLAP_COLOUR, alpha=0.7, label=f"visible in several streams ({int((labels == -1).sum())})"))
    out.append(Patch(color=MASKED_COLOUR, alpha=0.8, label=f"masked in all ({int((labels == 0).sum())})"))
    return out


def mask_figure(model, batch, index: int = 0):
    """Fig. 2a from the real mask generator on a real clip: ``model.stream_masks`` for the batch; left,
    the clip's middle frame (what the model sees in eval mode) with its patch grid, each patch coloured by
    the stream that sees it; right, the fbank ``(time × mel)`` with the same colouring per audio token.
    The model is left in eval mode and its generator as it was."""
    import matplotlib.pyplot as plt

    viz.set_style()
    model.eval()
    c = model.config
    frame = model.frame(batch).detach().cpu()
    fbank = model.fbank(batch).detach().cpu()
    B = frame.shape[0]
    with kept_generator(model):
        masks = model.stream_masks(B)
    S = len(masks)
    lab_a = token_labels([ma for ma, _ in masks])[index:index + 1]
    lab_v = token_labels([mv for _, mv in masks])[index:index + 1]
    sa, sv = model.audio_space, model.video_space
    pix_v = _pixel_labels(sv, lab_v, c.video.patch_dim)[0, 0]                       # (H, W)
    pix_a = _pixel_labels(sa, lab_a, c.audio.patch_dim)[0]                          # (T, F)

    T, F = fbank.shape[1:]
    H, W = frame.shape[-2:]
    fig, (axv, axa) = plt.subplots(1, 2, figsize=(viz.PAGE_WIDTH, 3.6), gridspec_kw=dict(width_ratios=[1, 1.8]))
    axv.imshow(frame[index].clamp(0, 1).permute(1, 2, 0).numpy(), extent=(0, W, H, 0))
    axv.imshow(_label_rgba(pix_v, S), extent=(0, W, H, 0))
    gh, gw = sv.grid
    ph, pw = H // gh, W // gw
    for y in range(1, gh):
        axv.axhline(y * ph, color="white", lw=0.5)
    for x in range(1, gw):
        axv.axvline(x * pw, color="white", lw=0.5)
    axv.set_xlabel("x (pixels)"), axv.set_ylabel("y (pixels)")
    axv.set_title(f"video: middle frame,\n{gh}×{gw} patches of {ph}×{pw}")
    axv.legend(handles=_legend_handles(lab_v, S, "patches"), loc="upper center", bbox_to_anchor=(0.5, -0.3),
               ncol=1, frameon=False)

    spec = fbank[index].numpy().T                                                  # (F, T), mel 0 at the bottom
    axa.imshow(spec, origin="lower", aspect="auto", cmap="gray", extent=(0, T, 0, F))
    axa.imshow(_label_rgba(pix_a.T, S), origin="lower", aspect="auto", extent=(0, T, 0, F))
    pt, pf = sa.patch_tf
    for t in range(1, T // pt):
        axa.axvline(t * pt, color="white", lw=0.4)
    for f in range(1, F // pf):
        axa.axhline(f * pf, color="white", lw=0.4)
    axa.set_xlabel("time (fbank frames)"), axa.set_ylabel("mel bin")
    axa.set_title(f"audio: fbank, {sa.n_freq}×{sa.n_time} (freq × time)\npatches of {pf}×{pt}, "
                  f"layout \"{sa.layout}\"")
    axa.legend(handles=_legend_handles(lab_a, S, "patches"), loc="upper center", bbox_to_anchor=(0.5, -0.3),
               ncol=2, frameon=False)
    fig.suptitle(f"Fig. 2a from the model's mask generator (sample {index}): {S} streams,\n{_mask_kind(c)}; "
                 "audio and video masks are drawn independently of each other")
    fig.tight_layout()
    return fig


# ----------------------------------------------------------------------------------------- Fig. 2b
def _group_params(model) -> dict[str, list[torch.nn.Parameter]]:
    enc = model.encoder
    return {
        "audio encoder": [*enc.audio.parameters(), enc.modality_a],
        "video encoder": [*enc.video.parameters(), enc.modality_v],
        "joint encoder": [*enc.joint.parameters(), *enc.norm.parameters(), *enc.norm_a.parameters(),
                          *enc.norm_v.parameters()],
        "decoder": list(model.decoder.parameters()),
    }


def gradient_routing(model, batch, masks=None, weighted: bool = True):
    """Which modules each loss term trains (spec §4.8, Fig. 2b's loss flow, from the implemented model).

    The terms are built as ``model.forward`` builds them — per stream :meth:`stream_losses` under
    ``masks`` (drawn from ``model.generator``, whose state is put back, when ``None``), reconstruction
    and contrast summed over the streams, :meth:`kd_loss` between them — in eval mode (middle frame). Each
    term is back-propagated alone (times its static λ when ``weighted``, as the training loss weighs it)
    and the L2 norm of the gradient reaching every group of :data:`MODULE_GROUPS` is reported: a
    ``pandas.DataFrame`` with rows ``reconstruction``, ``contrastive``, ``KD`` and one column per group
    (exact 0 where no gradient arrives). ``table.attrs`` holds the terms' values and weights. Parameter
    gradients are put back as they were."""
    import pandas as pd

    c = model.config
    groups = _group_params(model)
    params = [p for ps in groups.values() for p in ps]
    saved = {p: p.grad for p in params}
    rows, values = {}, {}
    try:
        with model._eval_mode(), torch.enable_grad():
            fbank, frame = model.fbank(batch), model.frame(batch)
            xa, xv = model.audio_space.model_input(fbank), model.video_space.model_input(frame)
            if masks is None:
                with kept_generator(model):
                    masks = model.stream_masks(xa.shape[0], xa.device)
            streams = [model.stream_losses(xa, xv, fbank, frame, ma, mv) for ma, mv in masks]
            terms = {"reconstruction": sum(s["recon_a"] + s["recon_v"] for s in streams),
                     "contrastive": sum(s["contrast"] for s in streams)}
            if len(streams) > 1:
                terms["KD"] = model.kd_loss([s["features"] for s in streams])
            weights = {"reconstruction": c.mae_weight, "contrastive": c.contrast_weight, "KD": c.kd_weight}
            for i, (name, term) in enumerate(terms.items()):
                for p in params:
                    p.grad = None
                scale = weights[name] if weighted else 1.0
                (scale * term).backward(retain_graph=i < len(terms) - 1)
                rows[name] = {g: math.sqrt(sum(float(p.grad.detach().double().pow(2).sum()) for p in ps
                                               if p.grad is not None)) for g, ps in groups.items()}
                values[name] = float(term.detach())
    finally:
        for p, g in saved.items():
            p.grad = g
    table = pd.DataFrame.from_dict(rows, orient="index")[list(MODULE_GROUPS)]
    table.index.name = "loss term"
    table.attrs.update(values=values, weights={k: weights[k] for k in rows}, weighted=weighted)
    return table


def routing_figure(table):
    """Heat-map of ``log10`` gradient norms (loss terms × module groups) from :func:`gradient_routing`;
    a term that sends no gradient to a module is shown as "0" on a grey cell."""
    import matplotlib.pyplot as plt

    viz.set_style()
    vals = table.to_numpy(float)
    logs = np.ma.masked_where(vals <= 0, np.log10(np.where(vals > 0, vals, 1.0)))
    fig, ax = plt.subplots(figsize=(1.5 * vals.shape[1] + 2.2, 0.6 * vals.shape[0] + 1.6))
    cmap = plt.get_cmap(viz.CMAPS["heatmap"]).with_extremes(bad="#dddddd")
    im = ax.imshow(logs, cmap=cmap, aspect="auto")
    for i in range(vals.shape[0]):
        for j in range(vals.shape[1]):
            v = vals[i, j]
            text = "0" if v <= 0 else f"{v:.1e}"
            ax.text(j, i, text, ha="center", va="center", fontsize=viz.MIN_FONT,
                    color="black" if v <= 0 or logs[i, j] > np.ma.median(logs) else "white")
    ax.set_xticks(range(vals.shape[1]), list(table.columns))
    weights = table.attrs.get("weights", {})
    weighted = table.attrs.get("weighted", False)
    ax.set_yticks(range(vals.shape[0]), [f"{t} (×λ={weights[t]:g})" if weighted and t in weights else t
                                         for t in table.index])
    ax.set_xlabel("module group"), ax.set_ylabel("loss term back-propagated alone")
    ax.set_title("gradient L2 norm reaching each module (log10 colour; 0 = no gradient)")
    plt.colorbar(im, ax=ax, label="log10 ‖grad‖")
    fig.tight_layout()
    return fig


# ------------------------------------------------------------------------------------ inpainting
def inpainting_figure(model, batch, masks, index: int = 0):
    """Reconstructions of sample ``index`` under each stream's masks (``masks``: ``model.stream_masks``'s
    list of ``(audio Mask, video Mask)``): two rows per stream, its frame and its spectrogram (one colour
    scale per row), columns original / masked / reconstruction (visible patches pasted over the
    prediction). The title of each reconstruction gives its masked-patch MSE."""
    import matplotlib.pyplot as plt

    viz.set_style()
    S = len(masks)
    fig, axes = plt.subplots(2 * S, 3, figsize=(viz.PAGE_WIDTH, 4.0 * S + 1.0), squeeze=False)
    names = ("original", "masked", "reconstruction")
    for s, (ma, mv) in enumerate(masks):
        rec = model.reconstruct(batch, mask=dict(audio=ma, video=mv))
        for k, (modality, what) in enumerate((("video", "frame"), ("audio", "spectrogram"))):
            r, row = rec[modality], axes[2 * s + k]
            x = torch.stack([r["input"][index], r["masked_input"][index], r["pasted"][index]]).detach().cpu()
            shown = model.display(x, modality)                       # (3, 3, 1, h, w), one scale for the three
            for j, ax in enumerate(row):
                ax.imshow(shown[j, :, 0].clamp(0, 1).permute(1, 2, 0).numpy(),
                          aspect="equal" if modality == "video" else "auto")
                ax.set_xticks([]), ax.set_yticks([])
                title = names[j]
                if j == 1:
                    visible = int((~r["mask"].mask[index]).sum())
                    title += f" ({visible}/{r['mask'].num_tokens} visible)"
                if j == 2:
                    title += f", MSE {float(r['mse'][index]):.3f}"
                ax.set_title(title)
            row[0].set_ylabel(f"stream {s + 1}\n{what}", rotation=0, ha="right", va="center")
    c = model.config
    fig.suptitle(f"inpainting of sample {index} under each stream's masks ({_mask_kind(c)});\n"
                 "each stream reconstructs the complement of what it sees (reconstruction = visible\n"
                 "patches pasted over the prediction, MSE on the masked patches; spectrograms: time →, mel ↑)")
    fig.tight_layout()
    return fig
