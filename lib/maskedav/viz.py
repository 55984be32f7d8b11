"""One plotting style and the figure helpers shared by every chapter.

- :func:`video_strip` / :func:`reconstruction_grid` — frames, masked frames and reconstructions;
- :func:`similarity_matrix` — a T'×T' cosine-similarity heat-map (MVD Fig. 3);
- :func:`attention_overlay` — an attention map upsampled over its frame (CrossVideoMAE Fig. 1);
- :func:`loss_curves` — mean ± std over seeds of logged curves (AV-MaskEnhancer Fig. 3);
- :func:`module_diagram` — an architecture diagram drawn from a real forward pass of a model: the
  modules it calls, in call order, with the shapes they return (the papers' diagram figures).
"""
from __future__ import annotations

import math
from collections import OrderedDict

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import torch

PALETTE = ["#4C72B0", "#DD8452", "#55A868", "#C44E52", "#8172B3", "#937860", "#DA8BC3", "#8C8C8C"]


def set_style() -> None:
    """The book's plotting style (call once per notebook)."""
    matplotlib.rcParams.update({
        "figure.dpi": 100, "savefig.dpi": 110, "font.size": 9, "axes.titlesize": 9,
        "axes.labelsize": 9, "legend.fontsize": 8, "axes.spines.top": False,
        "axes.spines.right": False, "axes.prop_cycle": matplotlib.cycler(color=PALETTE),
        "image.interpolation": "nearest",
    })


def _frames(video: torch.Tensor) -> np.ndarray:
    """(3, T, H, W) in [0, 1] -> (T, H, W, 3) numpy, clipped."""
    v = video.detach().float().cpu().clamp(0, 1)
    return v.permute(1, 2, 3, 0).numpy()


def video_strip(ax_row, video: torch.Tensor, *, frames=None, label: str | None = None,
                subtitle=None) -> None:
    """Draw chosen frames of one clip (3, T, H, W) along a row of axes."""
    f = _frames(video)
    idx = list(frames) if frames is not None else list(range(f.shape[0]))
    for j, ax in enumerate(ax_row):
        ax.imshow(f[idx[j]])
        ax.set_xticks([]), ax.set_yticks([])
        if j == 0 and label:
            ax.set_ylabel(label)
        if subtitle is not None and j == 0:
            ax.set_title(subtitle, loc="left")


def reconstruction_grid(rows: "OrderedDict[str, torch.Tensor]", *, frames=None,
                        notes: dict[str, str] | None = None, scale: float = 1.1):
    """One row per entry (e.g. 'ground truth', 'masked', 'VideoMAE', ...), one column per frame."""
    first = next(iter(rows.values()))
    idx = list(frames) if frames is not None else list(range(first.shape[1]))
    fig, axes = plt.subplots(len(rows), len(idx), figsize=(scale * len(idx), scale * len(rows)),
                             squeeze=False)
    for i, (name, video) in enumerate(rows.items()):
        label = name + (f"\n{notes[name]}" if notes and name in notes else "")
        video_strip(axes[i], video, frames=idx, label=label)
    for j, t in enumerate(idx):
        axes[0, j].set_title(f"t={t}")
    fig.tight_layout(pad=0.3)
    return fig


def similarity_matrix(ax, sim: torch.Tensor | np.ndarray, *, title: str = "", vmin=None, vmax=None):
    """A T'×T' similarity heat-map with a colour bar."""
    sim = sim.detach().cpu().numpy() if torch.is_tensor(sim) else np.asarray(sim)
    im = ax.imshow(sim, cmap="viridis", vmin=vmin, vmax=vmax)
    ax.set_title(title)
    ax.set_xlabel("time index"), ax.set_ylabel("time index")
    plt.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    return im


def attention_overlay(ax, frame: torch.Tensor, attn: torch.Tensor, *, alpha: float = 0.55,
                      title: str = ""):
    """Overlay an (h, w) attention map, upsampled bilinearly, on a (3, H, W) frame."""
    img = frame.detach().float().cpu().clamp(0, 1).permute(1, 2, 0).numpy()
    a = attn.detach().float().cpu()[None, None]
    a = torch.nn.functional.interpolate(a, size=img.shape[:2], mode="bilinear", align_corners=False)
    a = a[0, 0].numpy()
    a = (a - a.min()) / (a.max() - a.min() + 1e-8)
    ax.imshow(img)
    ax.imshow(a, cmap="jet", alpha=alpha)
    ax.set_xticks([]), ax.set_yticks([])
    ax.set_title(title)


def loss_curves(ax, curves: dict[str, list[tuple[np.ndarray, np.ndarray]]], *,
                ylabel: str = "loss", logy: bool = False):
    """Mean ± std band over seeds; ``curves[name] = [(steps, values) per seed]``."""
    for name, runs in curves.items():
        steps = runs[0][0]
        vals = np.stack([np.interp(steps, s, v) for s, v in runs])
        mean, std = vals.mean(0), vals.std(0)
        line, = ax.plot(steps, mean, label=f"{name} (n={len(runs)})")
        ax.fill_between(steps, mean - std, mean + std, color=line.get_color(), alpha=0.2)
    ax.set_xlabel("step"), ax.set_ylabel(ylabel)
    if logy:
        ax.set_yscale("log")
    ax.legend()


def _shape(x) -> str:
    if torch.is_tensor(x):
        return "×".join(str(d) for d in x.shape)
    if isinstance(x, (tuple, list)):
        return ", ".join(_shape(y) for y in x if torch.is_tensor(y) or isinstance(y, (tuple, list)))
    if isinstance(x, dict):
        return ", ".join(f"{k}: {_shape(v)}" for k, v in x.items() if torch.is_tensor(v))
    return type(x).__name__


def trace_modules(model: torch.nn.Module, *inputs, depth: int = 1) -> list[dict]:
    """Run ``model(*inputs)`` once and record, in call order, each module at ``depth`` below the
    root (e.g. ``patch_embed``, ``blocks``, ``decoder``): its name, class, parameter count and
    output shape. The architecture diagrams are drawn from this trace."""
    calls: list[dict] = []
    hooks = []
    for name, mod in model.named_modules():
        if not name or name.count(".") != depth - 1:
            continue

        def hook(m, args, out, name=name):
            if any(c["name"] == name for c in calls):
                return
            calls.append({"name": name, "class": type(m).__name__, "out": _shape(out),
                          "params": sum(p.numel() for p in m.parameters())})
        hooks.append(mod.register_forward_hook(hook))
    try:
        with torch.no_grad():
            model(*inputs)
    finally:
        for h in hooks:
            h.remove()
    return calls


def module_diagram(trace: list[dict], *, title: str = "", groups: dict[str, str] | None = None,
                   width: float = 7.0):
    """Draw a traced forward pass as a column of boxes joined by arrows.

    ``groups`` maps a module name to a colour group label (e.g. "video", "audio", "fusion").
    """
    n = len(trace)
    fig, ax = plt.subplots(figsize=(width, 0.55 * n + 0.6))
    labels = sorted(set((groups or {}).values()))
    colours = {g: PALETTE[i % len(PALETTE)] for i, g in enumerate(labels)}
    for i, c in enumerate(trace):
        y = n - 1 - i
        g = (groups or {}).get(c["name"])
        ax.add_patch(matplotlib.patches.FancyBboxPatch(
            (0.02, y + 0.12), 0.96, 0.76, boxstyle="round,pad=0.01",
            fc=matplotlib.colors.to_rgba(colours.get(g, "#cccccc"), 0.25),
            ec=colours.get(g, "#777777")))
        params = c["params"]
        p = f"{params / 1e6:.2f} M" if params >= 1e5 else f"{params / 1e3:.1f} k"
        ax.text(0.04, y + 0.5, f"{c['name']}  ({c['class']})", va="center", fontsize=8,
                fontweight="bold")
        ax.text(0.96, y + 0.5, f"→ {c['out']}   [{p}]", va="center", ha="right", fontsize=7)
        if i:
            ax.annotate("", xy=(0.5, y + 0.88), xytext=(0.5, y + 1.12),
                        arrowprops=dict(arrowstyle="->", lw=0.8))
    for g, col in colours.items():
        ax.plot([], [], "s", color=col, label=g)
    if colours:
        ax.legend(loc="upper right", bbox_to_anchor=(1.0, 1.0 + 0.4 / max(n, 1)), ncol=len(colours))
    ax.set_xlim(0, 1), ax.set_ylim(0, n)
    ax.axis("off")
    ax.set_title(title)
    return fig


def grid_shape(n: int) -> tuple[int, int]:
    cols = math.ceil(math.sqrt(n))
    return math.ceil(n / cols), cols
