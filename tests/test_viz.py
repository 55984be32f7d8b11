"""The book's plotting style (maskedav.viz): a colour-blind-safe colour cycle, perceptually uniform
colour maps only."""
import re
from pathlib import Path

import matplotlib
import matplotlib.pyplot as plt
import pytest

from maskedav import viz

RAINBOW = re.compile(r"""["'](jet|rainbow|gist_rainbow|nipy_spectral|hsv|turbo)["']""")


def test_cycle_is_okabe_ito_and_images_viridis():
    viz.set_style()
    assert matplotlib.rcParams["axes.prop_cycle"].by_key()["color"] == list(viz.OKABE_ITO.values())
    assert viz.PALETTE == list(viz.OKABE_ITO.values())
    assert matplotlib.rcParams["image.cmap"] == "viridis"
    assert set(viz.CMAPS.values()) <= {"viridis", "magma", "inferno", "plasma", "cividis"}


def test_no_rainbow_colour_maps_in_the_library():
    lib = Path(viz.__file__).parent
    found = {p.relative_to(lib).as_posix() for p in lib.rglob("*.py") if RAINBOW.search(p.read_text())}
    assert not found, found


@pytest.mark.parametrize("n, ncols, rows, cols", [(1, 3, 1, 1), (3, 3, 1, 3), (4, 2, 2, 2), (5, 3, 2, 3)])
def test_panel_grid_wraps_panels_at_the_page_width(n, ncols, rows, cols):
    fig, axes = viz.panel_grid(n, ncols=ncols)
    assert len(axes) == len(fig.axes) == n                                 # spare cells removed
    assert fig.get_size_inches()[0] <= viz.PAGE_WIDTH
    assert axes[-1].get_subplotspec().get_gridspec().get_geometry() == (rows, cols)
    axes[0].plot([0, 1], label="a")
    fig.tight_layout()
    assert [t.get_text() for t in viz.legend_below(fig).get_texts()] == ["a"]
    plt.close(fig)


def test_label_points_keeps_labels_apart_inside_the_axes_and_off_the_lines():
    viz.set_style()
    fig, ax = plt.subplots(figsize=(4, 3))
    ax.plot([0, 10], [5, 5])                                  # a line through the middle
    ax.set_xlim(0, 10), ax.set_ylim(0, 10)
    pts = [(2, 5), (2.3, 5.2), (9.9, 1), (5, 8)]              # two crowded points, one at the right edge
    texts = viz.label_points(ax, pts, ["first label", "second label", "edge", "free"])
    fig.canvas.draw()
    r = fig.canvas.get_renderer()
    boxes = [t.get_window_extent(r) for t in texts]
    inside = ax.get_window_extent(r)
    assert all(inside.x0 <= b.x0 and b.x1 <= inside.x1 and inside.y0 <= b.y0 and b.y1 <= inside.y1 for b in boxes)
    assert not any(boxes[i].overlaps(boxes[j]) for i in range(4) for j in range(i + 1, 4))
    assert texts[2].get_horizontalalignment() == "right"      # the edge point's label goes left
    assert texts[3].get_horizontalalignment() == "left"       # the free point keeps the first spot
    plt.close(fig)


def test_trace_modules_places_a_repeated_module_at_its_first_or_last_call():
    import torch

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.loss, self.b = torch.nn.Linear(2, 2), torch.nn.MSELoss(), torch.nn.Linear(2, 3)

        def forward(self, x):
            la = self.loss(self.a(x), x)
            return la + self.loss(self.b(x)[:, :2], x)

    x = torch.zeros(4, 2)
    first = viz.trace_modules(Net(), x)
    last = viz.trace_modules(Net(), x, order="last")
    assert [c["name"] for c in first] == ["a", "loss", "b"]
    assert [c["name"] for c in last] == ["a", "b", "loss"]
    assert first[1]["out"] == "scalar" and last[2]["params"] == 0 and last[2]["out"] == "scalar"
    assert [c["out"] for c in last[:2]] == ["4×2", "4×3"]
    with pytest.raises(ValueError, match="order"):
        viz.trace_modules(Net(), x, order="middle")
