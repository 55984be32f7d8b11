"""Linear evaluation on frozen features: logistic regression (torch) or a linear SVM (scikit-learn).

Protocol (the papers' linear evaluation, shrunk): features are standardised with the train split's
mean / std (MAE's parameter-free BatchNorm before the linear head), one classifier is fitted on the
train split per regularisation strength, the strength with the best validation accuracy is kept
(first in the given order on ties), and the test accuracy of that classifier is reported.

* ``linear_probe``: multinomial logistic regression, loss ``CE + wd / 2 * ||W||^2`` (no penalty on
  the bias), full-batch L-BFGS (``solver="lbfgs"``, deterministic) or mini-batch Adam with a cosine lr
  (``solver="adam"``, ``epochs`` passes).
* ``svm_probe``: ``sklearn.svm.LinearSVC`` (one-vs-rest, squared hinge) sweeping ``C``, for papers
  that evaluate with an SVM.

Accuracies are in percent.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from ..train.optim import cosine_lr


@dataclass
class ProbeResult:
    val_accuracy: float                   # percent, at the chosen strength
    test_accuracy: float | None           # percent (None without a test split)
    best_param: float                     # chosen weight decay (logistic) or C (SVM)
    param_name: str                       # "weight_decay" or "C"
    sweep: dict = field(default_factory=dict)  # strength -> validation accuracy (percent)
    classifier: Any = None                # the fitted classifier of the chosen strength
    mean: torch.Tensor | None = None      # standardisation statistics (train split)
    std: torch.Tensor | None = None

    def predict(self, x: torch.Tensor) -> torch.Tensor:
        z = (torch.as_tensor(x, dtype=torch.float32) - self.mean) / self.std
        if isinstance(self.classifier, torch.nn.Module):
            with torch.no_grad():
                return self.classifier(z.to(self.classifier.weight.device)).argmax(1).cpu()
        return torch.as_tensor(self.classifier.predict(z.numpy()))


def accuracy(pred: torch.Tensor, target: torch.Tensor) -> float:
    """Percent of ``pred == target``."""
    return 100.0 * (torch.as_tensor(pred).cpu() == torch.as_tensor(target).cpu()).double().mean().item()


def _standardize(train_x, *others, standardize=True):
    train_x = torch.as_tensor(train_x, dtype=torch.float32)
    if standardize:
        mean, std = train_x.mean(0), train_x.std(0, unbiased=False).clamp_min(1e-6)
    else:
        mean, std = torch.zeros(train_x.shape[1]), torch.ones(train_x.shape[1])
    out = [(train_x - mean) / std]
    out += [None if x is None else (torch.as_tensor(x, dtype=torch.float32) - mean) / std for x in others]
    return out, mean, std


def fit_logistic(x: torch.Tensor, y: torch.Tensor, num_classes: int, weight_decay: float,
                 solver: str = "lbfgs", epochs: int = 100, lr: float = 0.1, batch_size: int = 256,
                 max_iter: int = 500, seed: int = 0) -> torch.nn.Linear:
    """Multinomial logistic regression ``CE + weight_decay / 2 * ||W||^2`` on ``(x, y)``."""
    torch.manual_seed(seed)
    head = torch.nn.Linear(x.shape[1], num_classes).to(x.device)
    torch.nn.init.zeros_(head.weight)
    torch.nn.init.zeros_(head.bias)

    def objective(xb, yb):
        return F.cross_entropy(head(xb), yb) + 0.5 * weight_decay * head.weight.pow(2).sum()

    if solver == "lbfgs":
        opt = torch.optim.LBFGS(head.parameters(), lr=1.0, max_iter=max_iter, history_size=20,
                                tolerance_grad=1e-9, tolerance_change=1e-12, line_search_fn="strong_wolfe")

        def closure():
            opt.zero_grad()
            loss = objective(x, y)
            loss.backward()
            return loss

        opt.step(closure)
    elif solver == "adam":
        opt = torch.optim.Adam(head.parameters(), lr=lr)
        g = torch.Generator().manual_seed(seed)
        steps_per_epoch = -(-len(x) // batch_size)
        total = epochs * steps_per_epoch
        for step in range(total):
            if step % steps_per_epoch == 0:
                order = torch.randperm(len(x), generator=g).to(x.device)
            idx = order[(step % steps_per_epoch) * batch_size:][:batch_size]
            for group in opt.param_groups:
                group["lr"] = cosine_lr(step, lr, total)
            opt.zero_grad()
            objective(x[idx], y[idx]).backward()
            opt.step()
    else:
        raise ValueError(f"solver must be 'lbfgs' or 'adam', not {solver!r}")
    return head.eval()


def linear_probe(train_x, train_y, val_x, val_y, test_x=None, test_y=None, *,
                 weight_decays: Sequence[float] = (1e-4, 1e-3, 1e-2, 1e-1), solver: str = "lbfgs",
                 epochs: int = 100, lr: float = 0.1, batch_size: int = 256, standardize: bool = True,
                 num_classes: int | None = None, device=None, seed: int = 0) -> ProbeResult:
    """Logistic-regression probe with a weight-decay sweep chosen on validation accuracy."""
    (tr, va, te), mean, std = _standardize(train_x, val_x, test_x, standardize=standardize)
    ytr, yva = torch.as_tensor(train_y).long(), torch.as_tensor(val_y).long()
    num_classes = num_classes or int(max(ytr.max(), yva.max())) + 1
    device = torch.device(device or "cpu")
    tr_d, ytr_d = tr.to(device), ytr.to(device)
    sweep, heads = {}, {}
    for wd in weight_decays:
        head = fit_logistic(tr_d, ytr_d, num_classes, wd, solver, epochs, lr, batch_size, seed=seed)
        with torch.no_grad():
            sweep[wd] = accuracy(head(va.to(device)).argmax(1), yva)
        heads[wd] = head
    best = max(sweep, key=lambda wd: (sweep[wd], -list(sweep).index(wd)))
    test_acc = None
    if te is not None:
        with torch.no_grad():
            test_acc = accuracy(heads[best](te.to(device)).argmax(1), test_y)
    return ProbeResult(sweep[best], test_acc, best, "weight_decay", sweep, heads[best], mean, std)


def svm_probe(train_x, train_y, val_x, val_y, test_x=None, test_y=None, *,
              Cs: Sequence[float] = (0.01, 0.1, 1.0, 10.0), standardize: bool = True,
              max_iter: int = 5000, seed: int = 0) -> ProbeResult:
    """Linear SVM (``sklearn.svm.LinearSVC``) probe with a ``C`` sweep chosen on validation accuracy."""
    from sklearn.svm import LinearSVC

    (tr, va, te), mean, std = _standardize(train_x, val_x, test_x, standardize=standardize)
    ytr, yva = np.asarray(train_y), np.asarray(val_y)
    sweep, models = {}, {}
    for C in Cs:
        svm = LinearSVC(C=C, max_iter=max_iter, random_state=seed).fit(tr.numpy(), ytr)
        sweep[C] = accuracy(torch.as_tensor(svm.predict(va.numpy())), torch.as_tensor(yva))
        models[C] = svm
    best = max(sweep, key=lambda c: (sweep[c], -list(sweep).index(c)))
    test_acc = None
    if te is not None:
        test_acc = accuracy(torch.as_tensor(models[best].predict(te.numpy())), torch.as_tensor(test_y))
    return ProbeResult(sweep[best], test_acc, best, "C", sweep, models[best], mean, std)
