"""CrossVideoMAE's figures computed from the trained model (spec §7): Fig. 1's six rows, the gallery of
such panels over clips of both task families (Supp Figs. 1-18), the image branch's reconstructions at
90 % masking (Supp Fig. 19) and Fig. 2 drawn from a traced forward pass of the implemented model.

Fig. 1's recipe (the paper gives none; spec §7, our choices):

1. the clip's frames, one column per frame;
2. the clip under a random mask at ρ_u (masked patches grey in both frames of their tubelet);
3. the reconstruction with the visible patches pasted back (MAE convention);
4. self-attention: the video encoder on the **unmasked** clip, the last block's attention averaged over
   heads, each token scored by the mean attention it receives (``model.self_attention_map``),
   upsampled bilinearly, min-max normalised over the clip, ``jet``;
5. row 4 over the reconstruction (α = 0.5);
6. semantic attention, option A: cosine similarity between the image branch's embedding of the middle
   frame and every video token's projected feature (``model.semantic_attention_map``), shown like row 4.

Every draw uses ``model.generator`` and puts its state back afterwards.
"""
from __future__ import annotations


import numpy as np
import torch
from maskedav import viz
from maskedav.generators import kept_generator

__all__ = ["fig1_panel", "fig1_figure", "gallery_figure", "image_reconstruction_figure", "architecture_trace",
           "fig2_figure", "pick_clips"]


def _up(maps: torch.Tensor, size) -> np.ndarray:
    """``(T', h, w)`` token maps -> ``(T, H, W)`` (bilinear in space, each slice repeated for the frames of
    its tubelet), min-max normalised over the clip."""
    a = torch.nn.functional.interpolate(maps[:, None].float(), size=size[1:], mode="bilinear", align_corners=False)[:, 0]
    a = a.repeat_interleave(size[0] // maps.shape[0], dim=0)
    a = (a - a.min()) / (a.max() - a.min() + 1e-8)
    return a.numpy()


def fig1_panel(model, batch: dict, index: int = 0) -> dict:
    """The six rows of Fig. 1 for clip ``index`` of ``batch`` as arrays ``(T, H, W, 3)`` / ``(T, H, W)``."""
    one = {"video": batch["video"][index:index + 1]}
    with kept_generator(model), torch.no_grad():
        model.eval()
        rec = model.reconstruct(one)
        self_att = model.self_attention_map(one)[0]
        sem = model.semantic_attention_map(one)[0]
    frames = lambda v: v[0].detach().float().clamp(0, 1).permute(1, 2, 3, 0).numpy()  # noqa: E731
    size = tuple(one["video"].shape[2:])
    return dict(frames=frames(rec["input"]), masked=frames(rec["masked_input"]), reconstructed=frames(rec["pasted"]),
                self_attention=_up(self_att, size), semantic=_up(sem, size),
                visible=int((~rec["mask"].mask[0]).sum()), tokens=int(rec["mask"].mask.shape[1]))


ROWS = ("frames", "masked", "reconstructed", "self-attention", "overlay", "semantic attention")


def _draw_panel(axes, p: dict, label_rows: bool = True, frames=None) -> None:
    idx = list(range(p["frames"].shape[0])) if frames is None else list(frames)
    for col, j in enumerate(idx):
        imgs = [p["frames"][j], p["masked"][j], p["reconstructed"][j]]
        for i, img in enumerate(imgs):
            axes[i, col].imshow(img)
        cmap = viz.CMAPS["attention"]
        axes[3, col].imshow(p["self_attention"][j], cmap=cmap, vmin=0, vmax=1)
        axes[4, col].imshow(p["reconstructed"][j])
        axes[4, col].imshow(p["self_attention"][j], cmap=cmap, alpha=0.5, vmin=0, vmax=1)
        axes[5, col].imshow(p["semantic"][j], cmap=cmap, vmin=0, vmax=1)
        for i in range(6):
            axes[i, col].set_xticks([]), axes[i, col].set_yticks([])
    if label_rows:
        for i, name in enumerate(ROWS):
            axes[i, 0].set_ylabel(name, fontsize=viz.MIN_FONT, rotation=0, ha="right", va="center")


def _page_size(width: float, height: float, label_in: float = 1.3) -> tuple[float, float]:
    """``(width + label_in, height)`` scaled down to :data:`maskedav.viz.PAGE_WIDTH` (aspect kept), with
    ``label_in`` inches kept for the horizontal row labels."""
    scale = min(1.0, (viz.PAGE_WIDTH - label_in) / width)
    return width * scale + label_in, height * scale


def fig1_figure(model, batch: dict, index: int = 0, title: str = ""):
    """Fig. 1: the six rows for one clip, one column per frame."""
    import matplotlib.pyplot as plt

    p = fig1_panel(model, batch, index)
    T = p["frames"].shape[0]
    fig, axes = plt.subplots(6, T, figsize=_page_size(1.1 * T, 6.6 + 0.3), squeeze=False)
    _draw_panel(axes, p)
    for j in range(T):
        axes[0, j].set_title(f"t={j}", fontsize=viz.MIN_FONT)
    fig.suptitle(title or f"CrossVideoMAE, video masking {model.config.mask_ratio:.0%} "
                          f"({p['visible']} of {p['tokens']} tokens visible)", fontsize=10)
    fig.tight_layout(pad=0.3)
    return fig


def pick_clips(labels: dict, task: str, count: int, exclude=()) -> list[int]:
    """The first clip of each of ``count`` distinct classes of ``task`` (fewer if there are fewer),
    skipping the clips in ``exclude``."""
    y = labels[task]
    seen, out = set(), []
    for i, c in enumerate(y.tolist()):
        if c not in seen and i not in exclude:
            seen.add(c)
            out.append(i)
        if len(out) == count:
            break
    return out


def gallery_figure(model, batch: dict, indices: list[int], captions: list[str], columns: int = 2):
    """Supp Figs. 1-18: Fig. 1 panels (rows as Fig. 1, the first frame of each tubelet as columns, spec §7
    row 1) of several clips, ``columns`` panels side by side."""
    import math

    import matplotlib.pyplot as plt

    panels = [fig1_panel(model, batch, i) for i in indices]
    tubelet = model.encoder.patch_embed.tubelet
    frames = list(range(0, panels[0]["frames"].shape[0], tubelet))
    F = len(frames)
    rows = math.ceil(len(panels) / columns)
    fig, axes = plt.subplots(6 * rows, F * columns, figsize=_page_size(0.75 * F * columns, 0.75 * 6 * rows + 0.3),
                             squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for k, p in enumerate(panels):
        r, c = divmod(k, columns)
        block = axes[6 * r:6 * (r + 1), F * c:F * (c + 1)]
        for ax in block.flat:
            ax.axis("on")
        _draw_panel(block, p, label_rows=c == 0, frames=frames)
        block[0, 0].set_title(captions[k], fontsize=viz.MIN_FONT, loc="left")
    fig.tight_layout(pad=0.2, w_pad=0.1, h_pad=0.15)
    return fig


def image_reconstruction_figure(model, images: torch.Tensor, count: int = 8):
    """Supp Fig. 19: the image branch on ``count`` images under random masks at ρ_f (original, masked,
    prediction with the visible patches pasted back), through the image encoder and the loaded MAE decoder."""
    import matplotlib.pyplot as plt

    with kept_generator(model), torch.no_grad():
        model.eval()
        rec = model.reconstruct_image({"image": images[:count]})
    rows = (("original", rec["input"]), ("masked", rec["masked_input"]), ("reconstruction", rec["pasted"]))
    n = min(count, len(images))
    fig, axes = plt.subplots(3, n, figsize=_page_size(1.05 * n, 3.4), squeeze=False)
    for i, (name, x) in enumerate(rows):
        for j in range(n):
            axes[i, j].imshow(x[j].float().clamp(0, 1).permute(1, 2, 0).numpy())
            axes[i, j].set_xticks([]), axes[i, j].set_yticks([])
        axes[i, 0].set_ylabel(name, fontsize=viz.MIN_FONT, rotation=0, ha="right", va="center")
    fig.suptitle(f"image branch, masking {model.config.mask_ratio_image:.0%} "
                 f"({int((~rec['mask'].mask[0]).sum())} of {rec['mask'].mask.shape[1]} patches visible)", fontsize=9)
    fig.tight_layout(pad=0.3)
    return fig


# ------------------------------------------------------------------------------------------ Fig. 2
class _Diagram(torch.nn.Module):
    """A view of ``model`` whose direct children are the modules Fig. 2 shows; calling it runs ``model``."""

    def __init__(self, model, parts):
        super().__init__()
        object.__setattr__(self, "_model", model)
        for label, (module, _) in parts.items():
            self.add_module(label, module)

    def forward(self, *inputs):
        return self._model(*inputs)


def _parts(model) -> dict:
    enc, dec, img = model.encoder, model.decoder, model.image_encoder
    parts = {"video patch embed (tubelets; views 1+2)": (enc.patch_embed, "video branch")}
    n = len(enc.blocks)
    for i in sorted({0, n - 1}):
        parts[f"video encoder block {i + 1}/{n} (shared by both views)"] = (enc.blocks[i], "video branch")
    parts["image patch embed (sampled frame)"] = (img.patch_embed, "image branch")
    m = len(img.blocks)
    for i in sorted({0, m - 1}):
        parts[f"image encoder block {i + 1}/{m}"] = (img.blocks[i], "image branch")
    parts["g_f (image projection)"] = (model.g_f, "projections / contrast")
    parts["g_u = decoder embed (video projection)"] = (dec.embed, "projections / contrast")
    k = len(dec.blocks)
    for i in sorted({0, k - 1}):
        parts[f"decoder block {i + 1}/{k}"] = (dec.blocks[i], "decoder")
    parts["e_u (pixel head)"] = (dec.head, "decoder")
    return parts


def architecture_trace(model, batch) -> list[dict]:
    """The modules a real training forward pass calls, in call order, with output shapes and parameter
    counts (:func:`maskedav.viz.trace_modules`) and ``group``."""
    from maskedav import viz

    parts = _parts(model)
    view = _Diagram(model, parts)
    with kept_generator(model):
        was = model.training
        model.train()
        try:
            trace = viz.trace_modules(view, batch, depth=1)
        finally:
            model.train(was)
    for c in trace:
        c["group"] = parts[c["name"]][1]
    return trace


def fig2_figure(model, batch):
    """Fig. 2 drawn from the implemented model: the traced modules (video branch on both views with
    shared weights, image branch on the sampled frame, projections, decoder) and the loss terms with
    their values on ``batch``. Returns ``(fig, trace, losses)``."""
    viz.set_style()
    trace = architecture_trace(model, batch)
    with kept_generator(model), torch.no_grad():
        _, logs = model(batch)
    c = model.config
    losses = {k: float(v) for k, v in logs.items() if k.startswith("loss_")}
    title = (f"CrossVideoMAE as implemented: video branch (masking {c.mask_ratio:.0%}, {c.mask_type}) on the clip and an "
             f"augmented copy, shared weights;\nimage branch (masking {c.mask_ratio_image:.0%}) on n = {c.num_frames} "
             f"{c.frame_selection} frame(s); L = λ_c (L_intra + L_cross) + L_rl + L_mse, λ_c = {c.contrast_weight:g}, "
             f"τ = {c.temperature:g}\n")
    groups = {t["name"]: t["group"] for t in trace}
    fig = viz.module_diagram(trace, title=title, groups=groups, width=viz.PAGE_WIDTH)
    return fig, trace, losses
