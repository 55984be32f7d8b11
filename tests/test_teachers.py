"""Teachers: EMA arithmetic, cosine momentum, frozen teachers stay frozen (maskedav.teachers)."""
import copy
import math

import pytest
import torch
from torch import nn

from maskedav.teachers import FrozenTeacher, cosine_momentum, ema_update, freeze, make_ema_teacher


class Tiny(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 4)
        self.drop = nn.Dropout(0.5)
        self.bn = nn.BatchNorm1d(4)

    def forward(self, x):
        return self.drop(self.fc(x))

    def features(self, x):
        return self.fc(x) * 2


def _fill(m, v):
    with torch.no_grad():
        for p in m.parameters():
            p.fill_(v)


def test_ema_update_hand():
    t, s = Tiny(), Tiny()
    _fill(t, 0.0)
    _fill(s, 1.0)
    s.bn.running_mean.fill_(3.0)
    ema_update(t, s, 0.9)
    assert all(torch.allclose(p, torch.full_like(p, 0.1)) for p in t.parameters())
    assert torch.all(t.bn.running_mean == 3.0)                   # buffers copied
    ema_update(t, s, 0.9)
    assert all(torch.allclose(p, torch.full_like(p, 0.19)) for p in t.parameters())
    ema_update(t, s, 1.0)                                        # momentum 1 = frozen
    assert all(torch.allclose(p, torch.full_like(p, 0.19)) for p in t.parameters())
    # student untouched, works through the FrozenTeacher wrapper
    ft = freeze(t)
    ema_update(ft, s, 0.0)
    assert all(torch.equal(a, b) for a, b in zip(ft.module.parameters(), s.parameters()))
    assert all(torch.allclose(p, torch.ones_like(p)) for p in s.parameters())
    with pytest.raises(ValueError):
        ema_update(nn.Linear(2, 2), Tiny(), 0.9)


def test_cosine_momentum():
    assert cosine_momentum(0, 100, 0.997) == pytest.approx(0.997)
    assert cosine_momentum(50, 100, 0.997) == pytest.approx(0.9985)
    assert cosine_momentum(100, 100, 0.997) == 1.0 and cosine_momentum(500, 100, 0.997) == 1.0
    vals = [cosine_momentum(i, 100, 0.99) for i in range(101)]
    assert all(b >= a for a, b in zip(vals, vals[1:]))
    # XKD code: 1 + 0.5 (m0 - 1)(1 + cos(pi i / I))
    assert cosine_momentum(25, 100, 0.99) == pytest.approx(1 + 0.5 * (0.99 - 1) * (1 + math.cos(math.pi / 4)))


class Parent(nn.Module):
    def __init__(self):
        super().__init__()
        self.student = Tiny()
        self.teacher = freeze(Tiny())


def test_frozen_teacher_stays_frozen():
    p = Parent()
    assert all(not q.requires_grad for q in p.teacher.parameters())
    p.train()
    assert p.student.training and not p.teacher.training and not p.teacher.module.training
    assert not p.teacher.module.drop.training
    x = torch.randn(8, 4, requires_grad=True)
    y1, y2 = p.teacher(x), p.teacher(x)
    assert torch.equal(y1, y2)                                   # dropout off despite parent.train()
    assert not y1.requires_grad                                  # no graph through the teacher
    f = p.teacher.features(x)                                    # forwarded methods also run under no_grad
    assert not f.requires_grad and torch.allclose(f, p.teacher.module.fc(x).detach() * 2)
    loss = (p.student(x) - y1).pow(2).mean()
    loss.backward()
    assert all(q.grad is None for q in p.teacher.parameters())
    assert freeze(p.teacher) is p.teacher
    q = copy.deepcopy(p)                                         # wrapper survives deepcopy / pickling paths
    assert isinstance(q.teacher, FrozenTeacher) and not q.teacher.training
    assert torch.equal(q.teacher(x), y1)
    assert isinstance(p.teacher.fc, nn.Linear)                   # attribute access forwards


def test_make_ema_teacher_copies():
    s = Tiny()
    t = make_ema_teacher(s)
    assert isinstance(t, FrozenTeacher)
    assert all(torch.equal(a, b) for a, b in zip(t.module.parameters(), s.parameters()))
    with torch.no_grad():
        s.fc.weight.add_(1.0)
    assert not torch.equal(t.module.fc.weight, s.fc.weight)      # separate storage
