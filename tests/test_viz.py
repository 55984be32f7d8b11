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
