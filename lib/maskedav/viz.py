"""One plotting style and the figure helpers shared by every chapter.

- :func:`set_style` — the Okabe-Ito colour cycle (:data:`PALETTE`), named colours for what a line means
  (:data:`COLORS`), perceptually uniform maps (:data:`CMAPS`), text no smaller than :data:`MIN_FONT`;
- :func:`label_points` — labels beside scattered points that avoid each other, the legend and the lines;
- :func:`panel_grid` / :func:`legend_below` — panels wrapped at most three to a row at the book's width
  (:data:`PAGE_WIDTH`), one legend under the panels;
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

#: Okabe & Ito's colour-blind-safe palette ("Color Universal Design", 2008), by name.
OKABE_ITO = {"blue": "#0072B2", "orange": "#E69F00", "bluish green": "#009E73", "vermillion": "#D55E00",
             "reddish purple": "#CC79A7", "sky blue": "#56B4E9", "yellow": "#F0E442", "black": "#000000"}
#: The colour cycle of every figure: Okabe-Ito, in this order.
PALETTE = list(OKABE_ITO.values())
#: Colours that carry a meaning, the same on every page: ``reference`` (zero lines, a summary series),
#: ``chance`` (a trivial or chance-level baseline), ``annotation`` (markers and points that are context).
COLORS = {"reference": OKABE_ITO["black"], "chance": "#7A7A7A", "annotation": "#777777"}
#: Perceptually uniform sequential maps: similarity / accuracy heat-maps, attention over a frame,
#: spectrograms (never jet or rainbow).
CMAPS = {"heatmap": "viridis", "attention": "inferno", "spectrogram": "magma"}
#: Width (inches) of a figure spanning the book's content column (~800 px; figures are saved at 110 dpi,
#: so a 9 pt label stays ~9 pt on the page). No figure is drawn wider: wrap panels instead
#: (:func:`panel_grid`).
PAGE_WIDTH = 8.0
#: The smallest font size (pt) of any text in a figure.
MIN_FONT = 9


def set_style() -> None:
    """The book's plotting style (call once per notebook): the Okabe-Ito colour cycle, viridis images,
    text no smaller than :data:`MIN_FONT` at :data:`PAGE_WIDTH`."""
    matplotlib.rcParams.update({
        "figure.dpi": 100, "savefig.dpi": 110, "figure.figsize": (PAGE_WIDTH / 2, 3.0), "font.size": 10,
        "axes.titlesize": 10, "axes.labelsize": 10, "xtick.labelsize": MIN_FONT, "ytick.labelsize": MIN_FONT,
        "legend.fontsize": MIN_FONT, "figure.titlesize": 10, "axes.spines.top": False,
        "axes.spines.right": False, "axes.prop_cycle": matplotlib.cycler(color=PALETTE),
        "image.cmap": CMAPS["heatmap"], "image.interpolation": "nearest",
    })


def panel_grid(n: int, *, ncols: int = 3, panel: tuple[float, float] = (4.0, 3.0), **subplots):
    """``n`` plot panels wrapped into rows of at most ``ncols``: each panel at most ``panel[0]`` inches
    wide, the figure at most :data:`PAGE_WIDTH`, each row ``panel[1]`` tall. Returns ``(fig, axes)``,
    ``axes`` a flat array of the ``n`` panels (the spare cells of the last row removed)."""
    cols = max(1, min(n, ncols))
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(min(PAGE_WIDTH, panel[0] * cols), panel[1] * rows),
                             squeeze=False, **subplots)
    for ax in axes.flat[n:]:
        ax.remove()
    return fig, axes.flat[:n]


def legend_below(fig, handles=None, labels=None, *, ncol: int = 2, **kw):
    """One legend for the whole figure, below its panels (call after ``tight_layout``): for entries too
    many or too long to sit on the data. Defaults to the first panel's entries."""
    if handles is None:
        handles, labels = fig.axes[0].get_legend_handles_labels()
    return fig.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=ncol,
                      frameon=False, **kw)


#: Where :func:`label_points` tries a label, in order: (offset in points, horizontal, vertical alignment).
LABEL_SPOTS = (((4, 0), "left", "center"), ((-4, 0), "right", "center"), ((0, 5), "center", "bottom"),
               ((0, -5), "center", "top"), ((4, 5), "left", "bottom"), ((4, -5), "left", "top"),
               ((-4, 5), "right", "bottom"), ((-4, -5), "right", "top"))


def label_points(ax, xy, labels, *, color=None, fontsize=None):
    """Label the points ``xy`` (data coordinates) of ``ax`` so that the labels stay inside the axes and,
    where the axes leave room, overlap neither each other, the legend, any point nor any line drawn so far:
    each label takes the first spot of :data:`LABEL_SPOTS` that is clear, else the least crowded one.
    Call it once the axes' scales, limits and legend are set. Returns the text artists."""
    fig = ax.figure
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    inside = ax.get_window_extent(renderer)
    samples = [ax.transData.transform(np.asarray(xy, dtype=float).reshape(-1, 2))]
    for line in ax.get_lines():
        d = ax.transData.transform(np.column_stack(line.get_data()).astype(float))
        t = np.linspace(0, 1, 30)[:, None, None]
        samples.append((d[:-1] + t * (d[1:] - d[:-1])).reshape(-1, 2) if len(d) > 1 else d)
    obstacles = np.concatenate(samples)
    taken = [ax.get_legend().get_window_extent(renderer)] if ax.get_legend() else []
    texts = []
    for (x, y), label in zip(xy, labels):
        best = None
        for offset, ha, va in LABEL_SPOTS:
            t = ax.annotate(label, (x, y), xytext=offset, textcoords="offset points", ha=ha, va=va,
                            fontsize=fontsize or MIN_FONT, color=color or COLORS["annotation"])
            box = t.get_window_extent(renderer)
            hits = ((obstacles[:, 0] >= box.x0) & (obstacles[:, 0] <= box.x1)
                    & (obstacles[:, 1] >= box.y0) & (obstacles[:, 1] <= box.y1)).sum()
            outside = not (inside.x0 <= box.x0 and box.x1 <= inside.x1 and inside.y0 <= box.y0 and box.y1 <= inside.y1)
            score = 1000 * outside + 10 * sum(box.overlaps(b) for b in taken) + hits
            if best is None or score < best[0]:
                if best is not None:
                    best[1].remove()
                best = (score, t, box)
            else:
                t.remove()
            if score == 0:
                break
        taken.append(best[2])
        texts.append(best[1])
    return texts


def _frames(video: torch.Tensor) -> np.ndarray:
    """(3, T, H, W) in [0, 1] -> (T, H, W, 3) numpy, clipped."""
    v = video.detach().float().cpu().clamp(0, 1)
    return v.permute(1, 2, 3, 0).numpy()


def video_strip(ax_row, video: torch.Tensor, *, frames=None, label: str | None = None,
                subtitle=None) -> None:
    """Draw chosen frames of one clip (3, T, H, W) along a row of axes; ``label`` written horizontally
    left of the row."""
    f = _frames(video)
    idx = list(frames) if frames is not None else list(range(f.shape[0]))
    for j, ax in enumerate(ax_row):
        ax.imshow(f[idx[j]])
        ax.set_xticks([]), ax.set_yticks([])
        if j == 0 and label:
            ax.set_ylabel(label, fontsize=MIN_FONT, rotation=0, ha="right", va="center")
        if subtitle is not None and j == 0:
            ax.set_title(subtitle, loc="left")


#: Width (inches) left of an image grid for its horizontal row labels.
LABEL_WIDTH = 1.1


def reconstruction_grid(rows: "OrderedDict[str, torch.Tensor]", *, frames=None,
                        notes: dict[str, str] | None = None, scale: float = 1.1, title: str | None = None):
    """One row per entry (e.g. 'ground truth', 'masked', 'VideoMAE', ...), one column per frame, each
    row named on its left (and its ``notes`` entry under the name). Cells of at most ``scale`` inches,
    the figure at most :data:`PAGE_WIDTH` wide; wide panels (spectrograms: height / width < 0.8) fill
    their row's height. ``title``: the figure's title."""
    first = next(iter(rows.values()))
    idx = list(frames) if frames is not None else list(range(first.shape[1]))
    cell = min(scale, (PAGE_WIDTH - LABEL_WIDTH) / len(idx))
    aspect = first.shape[-2] / first.shape[-1]                 # panel height / width
    top = 0.4 if title else 0.0
    fig, axes = plt.subplots(len(rows), len(idx), squeeze=False, figsize=(
        cell * len(idx) + LABEL_WIDTH, len(rows) * max(cell * min(aspect, 1.0) * 1.1, 1.0) + 0.3 + top))
    for i, (name, video) in enumerate(rows.items()):
        label = name + (f"\n{notes[name]}" if notes and name in notes else "")
        video_strip(axes[i], video, frames=idx, label=label)
    for j, t in enumerate(idx):
        axes[0, j].set_title(f"t={t}")
    if aspect < 0.8:
        for ax in axes.flat:
            ax.set_aspect("auto")
    if title:
        fig.suptitle(title)
    fig.tight_layout(pad=0.3, rect=(0, 0, 1, 1 - top / fig.get_size_inches()[1]))
    return fig


def similarity_matrix(ax, sim: torch.Tensor | np.ndarray, *, title: str = "", vmin=None, vmax=None):
    """A T'×T' similarity heat-map with a colour bar."""
    sim = sim.detach().cpu().numpy() if torch.is_tensor(sim) else np.asarray(sim)
    im = ax.imshow(sim, cmap=CMAPS["heatmap"], vmin=vmin, vmax=vmax)
    ax.set_title(title)
    ax.set_xlabel("time index"), ax.set_ylabel("time index")
    for axis in (ax.xaxis, ax.yaxis):
        axis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
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
    ax.imshow(a, cmap=CMAPS["attention"], alpha=alpha)
    ax.set_xticks([]), ax.set_yticks([])
    ax.set_title(title)


def loss_curves(ax, curves: dict[str, list[tuple[np.ndarray, np.ndarray]]], *,
                ylabel: str = "loss", logy: bool = False, legend: bool = True):
    """Mean ± std band over seeds; ``curves[name] = [(steps, values) per seed]``. ``legend=False``: no
    legend on the panel (e.g. one :func:`legend_below` for the figure)."""
    for name, runs in curves.items():
        steps = runs[0][0]
        vals = np.stack([np.interp(steps, s, v) for s, v in runs])
        mean, std = vals.mean(0), vals.std(0)
        line, = ax.plot(steps, mean, label=f"{name} (n={len(runs)})")
        ax.fill_between(steps, mean - std, mean + std, color=line.get_color(), alpha=0.2)
    ax.set_xlabel("step"), ax.set_ylabel(ylabel)
    if logy:
        ax.set_yscale("log")
    if legend:
        ax.legend()


def _shape(x) -> str:
    if torch.is_tensor(x):
        return "×".join(str(d) for d in x.shape) if x.dim() else "scalar"
    if isinstance(x, (tuple, list)):
        return ", ".join(_shape(y) for y in x if torch.is_tensor(y) or isinstance(y, (tuple, list)))
    if isinstance(x, dict):
        return ", ".join(f"{k}: {_shape(v)}" for k, v in x.items() if torch.is_tensor(v))
    return type(x).__name__


def trace_modules(model: torch.nn.Module, *inputs, depth: int = 1, order: str = "first") -> list[dict]:
    """Run ``model(*inputs)`` once and record, in call order, each module at ``depth`` below the
    root (e.g. ``patch_embed``, ``blocks``, ``decoder``): its name, class, parameter count and
    output shape. A module called several times sits at its ``"first"`` call (with that call's output)
    or at its ``"last"`` (e.g. a loss applied after each of two decoders goes after both). The
    architecture diagrams are drawn from this trace."""
    if order not in ("first", "last"):
        raise ValueError(f"order must be 'first' or 'last', not {order!r}")
    calls: list[dict] = []
    hooks = []
    for name, mod in model.named_modules():
        if not name or name.count(".") != depth - 1:
            continue

        def hook(m, args, out, name=name):
            if any(c["name"] == name for c in calls):
                if order == "first":
                    return
                calls[:] = [c for c in calls if c["name"] != name]
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
                   width: float = 7.0, colours: dict[str, str] | None = None, ax=None):
    """Draw a traced forward pass as a column of boxes joined by arrows.

    ``groups`` maps a module name to a colour group label (e.g. "video", "audio", "fusion");
    ``colours`` a group label to its colour (default: the palette in the labels' sorted order, so pass
    it when several diagrams must agree). ``ax``: draw into that axes instead of a new figure of
    ``width`` inches (at most :data:`PAGE_WIDTH`). Returns the figure.
    """
    n = len(trace)
    if ax is None:
        _, ax = plt.subplots(figsize=(min(width, PAGE_WIDTH), 0.55 * n + 0.6), gridspec_kw=dict(left=0.01, right=0.99))
    labels = sorted(set((groups or {}).values()))
    colours = {g: (colours or {}).get(g, PALETTE[i % len(PALETTE)]) for i, g in enumerate(labels)}
    for i, c in enumerate(trace):
        y = n - 1 - i
        g = (groups or {}).get(c["name"])
        ax.add_patch(matplotlib.patches.FancyBboxPatch(
            (0.02, y + 0.12), 0.96, 0.76, boxstyle="round,pad=0.01",
            fc=matplotlib.colors.to_rgba(colours.get(g, "#cccccc"), 0.25),
            ec=colours.get(g, "#777777")))
        params = c["params"]
        p = f"{params / 1e6:.2f} M" if params >= 1e5 else f"{params / 1e3:.1f} k"
        ax.text(0.04, y + 0.5, f"{c['name']}  ({c['class']})", va="center", fontsize=MIN_FONT,
                fontweight="bold")
        ax.text(0.96, y + 0.5, f"→ {c['out']}   [{p}]", va="center", ha="right", fontsize=MIN_FONT)
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
    return ax.figure


def grid_shape(n: int) -> tuple[int, int]:
    cols = math.ceil(math.sqrt(n))
    return math.ceil(n / cols), cols
