"""Teachers: frozen (MVD's image / video teachers) and EMA (XKD Eq. 13, DINO / BYOL).

* :func:`freeze` wraps a module in :class:`FrozenTeacher`: ``requires_grad=False`` everywhere, ``eval()``
  mode that **survives** a parent's ``.train()`` call, and every call runs under ``torch.no_grad()``
  (MVD: "teachers run in eval() under torch.no_grad()", reference-code §1.2).
* :func:`ema_update`: ``θ_t ← m·θ_t + (1-m)·θ_s`` over all parameters (XKD ``update_teacher``); buffers
  are copied.
* :func:`cosine_momentum`: ``m(i) = 1 + ½(m_0 - 1)(1 + cos(π·i/I))`` — from ``m_0`` (0.997 in XKD
  Table S11) at step 0 to 1 at the last step (XKD / DINO ``cosine_scheduler``).
* :func:`make_ema_teacher`: a frozen deep copy of the student (XKD ``init_teacher_student_same_weights``).
"""
from __future__ import annotations

import copy
import math

import torch
from torch import nn

__all__ = ["FrozenTeacher", "freeze", "make_ema_teacher", "ema_update", "cosine_momentum"]


class FrozenTeacher(nn.Module):
    """A module that never trains: no gradients, always in eval mode, calls under ``no_grad``.

    ``teacher(x)`` calls the wrapped module's ``forward``; other attributes are looked up on the wrapped
    module, and its methods (``forward_features``, ``attention_maps`` …) also run under ``no_grad``.
    The wrapped module is ``teacher.module`` (state-dict keys get a ``module.`` prefix).
    """

    def __init__(self, module: nn.Module):
        super().__init__()
        self.module = module
        for p in self.module.parameters():
            p.requires_grad_(False)
        self.module.eval()

    def train(self, mode: bool = True) -> "FrozenTeacher":
        # Keep the teacher in eval mode whatever the parent asks for (dropout / drop-path stay off).
        super().train(False)
        return self

    def forward(self, *args, **kwargs):
        with torch.no_grad():
            return self.module(*args, **kwargs)

    def __getattr__(self, name: str):
        try:
            return super().__getattr__(name)
        except AttributeError:
            inner = self.__dict__.get("_modules", {}).get("module")
            if inner is None or name.startswith("__"):
                raise
            attr = getattr(inner, name)
            if callable(attr) and not isinstance(attr, nn.Module):
                def no_grad_call(*args, **kwargs):
                    with torch.no_grad():
                        return attr(*args, **kwargs)
                return no_grad_call
            return attr


def freeze(module: nn.Module) -> FrozenTeacher:
    """Wrap ``module`` as a :class:`FrozenTeacher` (idempotent)."""
    return module if isinstance(module, FrozenTeacher) else FrozenTeacher(module)


def make_ema_teacher(student: nn.Module) -> FrozenTeacher:
    """A frozen deep copy of ``student``: the EMA teacher at step 0 (teacher = student)."""
    return FrozenTeacher(copy.deepcopy(student))


def _unwrap(m: nn.Module) -> nn.Module:
    return m.module if isinstance(m, FrozenTeacher) else m


@torch.no_grad()
def ema_update(teacher: nn.Module, student: nn.Module, momentum: float, copy_buffers: bool = True) -> None:
    """``θ_t ← m·θ_t + (1-m)·θ_s`` for every parameter (matched by name), in place (XKD Eq. 13).

    ``teacher`` may be a :class:`FrozenTeacher`; a student wrapped the same way is unwrapped too.
    Floating-point buffers are copied from the student when ``copy_buffers``.
    """
    t_mod, s_mod = _unwrap(teacher), _unwrap(student)
    t_params, s_params = dict(t_mod.named_parameters()), dict(s_mod.named_parameters())
    if t_params.keys() != s_params.keys():
        missing = sorted(set(t_params) ^ set(s_params))[:5]
        raise ValueError(f"teacher and student parameters differ (e.g. {missing})")
    names = list(t_params)
    t_list = [t_params[n] for n in names]
    s_list = [s_params[n].detach() for n in names]
    if t_list:
        torch._foreach_mul_(t_list, momentum)
        torch._foreach_add_(t_list, s_list, alpha=1.0 - momentum)
    if copy_buffers:
        s_bufs = dict(s_mod.named_buffers())
        for name, buf in t_mod.named_buffers():
            if name in s_bufs and buf.is_floating_point():
                buf.copy_(s_bufs[name])


def cosine_momentum(step: int, total: int, base: float = 0.996) -> float:
    """EMA momentum on a cosine from ``base`` (step 0) to 1 (step ``total``); 1 after ``total``."""
    if total <= 0 or step >= total:
        return 1.0
    return 1.0 + 0.5 * (base - 1.0) * (1.0 + math.cos(math.pi * step / total))
