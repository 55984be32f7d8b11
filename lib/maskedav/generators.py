"""Drawing from a method's mask generator without disturbing it."""
from __future__ import annotations

import contextlib

__all__ = ["kept_generator"]


@contextlib.contextmanager
def kept_generator(model):
    """Run a block that draws from ``model.generator`` (masks, frames) and put the generator's state
    back, so that a figure or an inspection does not change the draws of later training steps."""
    state = model.generator.get_state()
    try:
        yield
    finally:
        model.generator.set_state(state)
