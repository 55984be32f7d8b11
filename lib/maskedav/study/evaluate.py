"""One evaluation suite: readouts, protocols and the references every chapter shows.

Every protocol returns per-clip correctness on the test split, so that two arms evaluated on the same
clips can be compared clip by clip (:func:`paired_test_se`).

Readouts (frozen features from a method's :meth:`grid_tokens`, tokens on their patch grid):

* ``"layout"`` — tokens average-pooled to at most 2 x 2 per time step (a 3-D grid ``(t, h, w)`` keeps
  every time step; a 2-D grid is pooled to 2 x 2) and concatenated in order, every modality's
  features side by side. It keeps where and when: mean pooling puts SynthAV's ``motion`` (which
  needs the order of frames) at chance for every encoder (``shared/notes/regime.md``).
* ``"mean"`` — the mean over all tokens (the papers' linear-probe readout), for comparison.

Protocols (accuracy in percent on the test split):

* ``"probe"`` — logistic regression on standardised frozen features (weight decay chosen on the
  validation split), :func:`maskedav.eval.linear_probe`;
* ``"knn"`` — weighted kNN (k = 20, cosine, temperature 0.07) on the same features;
* ``"finetune"`` — end-to-end fine-tuning of the whole encoder with a linear head on the readout,
  from a labelled subset (VideoMAE's data-efficiency setting), :func:`maskedav.eval.finetune`.

References: the **random-init** encoder (the network every run of a seed starts from, evaluated by
the same protocol) and the **supervised ceiling** (the same encoder trained from scratch on all
training labels by the fine-tuning protocol, :func:`supervised_ceiling`).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F

__all__ = ["READOUTS", "PROTOCOLS", "EvalData", "layout_pool", "readout_features", "features",
           "evaluate_encoder", "supervised_ceiling", "paired_test_se", "shift_flip"]

READOUTS = ("layout", "mean")
PROTOCOLS = ("probe", "knn", "finetune")


def layout_pool(grids: Sequence[torch.Tensor], cells: int = 2) -> torch.Tensor:
    """``[(B, D, *grid)]`` -> ``(B, F)``: each grid average-pooled to ``cells`` x ``cells`` per time step
    (3-D grids keep their first axis, time) or to ``cells`` x ``cells`` (2-D), flattened in order and
    concatenated."""
    out = []
    for g in grids:
        if g.dim() == 5:
            t, h, w = g.shape[2:]
            g = F.adaptive_avg_pool3d(g, (t, min(cells, h), min(cells, w)))
        elif g.dim() == 4:
            g = F.adaptive_avg_pool2d(g, (min(cells, g.shape[2]), min(cells, g.shape[3])))
        else:
            raise ValueError(f"expected (B, D, *grid) with a 2-D or 3-D grid, got {tuple(g.shape)}")
        out.append(g.transpose(1, -1).flatten(1) if g.dim() == 4 else g.permute(0, 2, 3, 4, 1).flatten(1))
    return torch.cat(out, dim=1)


def readout_features(grids: Sequence[torch.Tensor], readout: str) -> torch.Tensor:
    if readout == "layout":
        return layout_pool(grids)
    if readout == "mean":
        return torch.cat([g.flatten(2).mean(2) for g in grids], dim=1)
    raise ValueError(f"readout must be one of {READOUTS}, not {readout!r}")


def _grid_fn(rep: str | None) -> Callable:
    return (lambda m, b: m.grid_tokens(b)) if rep is None else (lambda m, b: m.grid_tokens(b, rep))


@torch.no_grad()
def features(method, batches, *, rep: str | None = None, readout: str = "layout", device=None) -> torch.Tensor:
    """Frozen readout features of ``method`` over ``batches`` (eval mode, restored afterwards)."""
    device = torch.device(device) if device is not None else next(method.parameters()).device
    grid = _grid_fn(rep)
    was = method.training
    method.eval()
    out = [readout_features(grid(method, {k: v.to(device) for k, v in b.items()}), readout).float().cpu()
           for b in batches]
    method.train(was)
    return torch.cat(out)


@dataclass
class EvalData:
    """What evaluating an encoder needs: labelled ``train`` / ``val`` / ``test`` tensors under the input
    ``keys`` and ``labels[task]``; ``num_classes[task]``; the probe's and fine-tune's label budgets."""

    train: dict
    val: dict
    test: dict
    keys: tuple
    num_classes: dict
    probe_train: int
    finetune_train: int

    def take(self, split: str, n: int | None = None) -> dict:
        d = getattr(self, split)
        n = len(d[self.keys[0]]) if n is None else min(n, len(d[self.keys[0]]))
        out = {k: d[k][:n] for k in self.keys}
        out["labels"] = {t: y[:n] for t, y in d["labels"].items()}
        return out


def shift_flip(max_shift: int = 3, flip: bool = True) -> Callable:
    """Augmentation for shape tasks: a random shift of up to ``max_shift`` pixels (replicate padding)
    and a random horizontal flip, per clip, of ``batch["video"]`` / ``batch["image"]``."""
    def augment(batch: dict, g: torch.Generator) -> dict:
        batch = dict(batch)
        for key in ("video", "image"):
            if key not in batch:
                continue
            x = batch[key]
            B, s = x.shape[0], max_shift
            H, W = x.shape[-2:]
            pad = F.pad(x.reshape(B, -1, H, W), (s, s, s, s), mode="replicate")
            dy, dx = torch.randint(0, 2 * s + 1, (2, B), generator=g)
            rows = (torch.arange(H)[None] + dy[:, None])[:, :, None]
            cols = (torch.arange(W)[None] + dx[:, None])[:, None, :]
            out = pad[torch.arange(B)[:, None, None, None], torch.arange(pad.shape[1])[None, :, None, None],
                      rows[:, None], cols[:, None]]
            if flip:
                f = torch.rand(B, generator=g) < 0.5
                out[f] = out[f].flip(-1)
            batch[key] = out.reshape(x.shape)
        return batch
    return augment


def _finetune(method, data: EvalData, task: str, *, rep, readout, steps: int, batch_size: int, lr: float,
              n_train: int, seed: int, device, augment=None) -> np.ndarray:
    from ..eval.finetune import FinetuneModel
    from ..train import TrainConfig, train
    from ..train.optim import param_groups
    from .data import batch_fn, chunks

    grid = _grid_fn(rep)
    forward = lambda m, b: readout_features(grid(m, b), readout)  # noqa: E731
    train_d = data.take("train", n_train)
    train_d = {**{k: train_d[k] for k in data.keys}, "label": train_d["labels"][task]}
    torch.manual_seed(seed)
    with torch.no_grad():
        was = method.training
        method.eval()
        dim = forward(method, {k: v[:2].to(device) for k, v in train_d.items() if k != "label"}).shape[1]
        method.train(was)
    model = FinetuneModel(method, dim, data.num_classes[task], pool="none", forward_fn=forward,
                          label_smoothing=0.1).to(device)
    cfg = TrainConfig(steps=steps, lr=lr, weight_decay=0.05, betas=(0.9, 0.999),
                      warmup_steps=max(steps // 20, 1), seed=seed, progress=False)
    fn = batch_fn(train_d, batch_size, list(data.keys) + ["label"], seed, augment=augment)
    train(model, fn, cfg, device=device, param_groups=param_groups(model, cfg.weight_decay), desc="finetune")
    model.eval()
    preds = []
    with torch.no_grad():
        for b in chunks(data.test, data.keys, 256):
            preds.append(model.logits({k: v.to(device) for k, v in b.items()}).argmax(1).cpu())
    return (torch.cat(preds) == data.test["labels"][task]).numpy()


def evaluate_encoder(method, data: EvalData, tasks: Sequence[str], protocols: Sequence[str], *,
                     rep: str | None = None, readout: str = "layout", probe_epochs: int = 50,
                     finetune_steps: int = 300, batch_size: int = 32, lr: float = 1e-3, seed: int = 0,
                     device=None, augment: dict | None = None) -> list[dict]:
    """Rows ``{task, protocol, rep, readout, accuracy, n_test, correct}`` of ``method``'s encoder
    (``correct``: the per-clip boolean vector on the test split). The method is not changed
    (fine-tuning trains a copy)."""
    import copy

    from ..eval import knn_classify, linear_probe
    from .data import chunks

    device = torch.device(device or "cpu")
    method = method.to(device)
    rows = []
    frozen = [p for p in protocols if p in ("probe", "knn")]
    if frozen:
        splits = {"train": data.take("train", data.probe_train), "val": data.take("val"), "test": data.take("test")}
        feats = {s: features(method, chunks(d, data.keys, 256), rep=rep, readout=readout, device=device)
                 for s, d in splits.items()}
    for task in tasks:
        y = {s: data.take(s)["labels"][task] for s in ("val", "test")}
        y["train"] = data.take("train", data.probe_train)["labels"][task]
        for protocol in protocols:
            if protocol == "probe":
                res = linear_probe(feats["train"], y["train"], feats["val"], y["val"], solver="adam",
                                   epochs=probe_epochs, num_classes=data.num_classes[task], seed=seed)
                correct = (res.predict(feats["test"]) == y["test"]).numpy()
            elif protocol == "knn":
                pred, _ = knn_classify(feats["train"], y["train"], feats["test"], k=20, temperature=0.07,
                                       num_classes=data.num_classes[task])
                correct = (pred == y["test"]).numpy()
            elif protocol == "finetune":
                correct = _finetune(copy.deepcopy(method), data, task, rep=rep, readout=readout,
                                    steps=finetune_steps, batch_size=batch_size, lr=lr,
                                    n_train=data.finetune_train, seed=seed, device=device,
                                    augment=(augment or {}).get(task))
            else:
                raise ValueError(f"protocol must be one of {PROTOCOLS}, not {protocol!r}")
            rows.append(dict(task=task, protocol=protocol, rep=rep or "", readout=readout,
                             accuracy=100.0 * float(correct.mean()), n_test=len(correct), correct=correct))
    return rows


def supervised_ceiling(method, data: EvalData, task: str, *, rep=None, readout: str = "layout",
                       steps: int, batch_size: int, lr: float = 1e-3, seed: int = 0, device=None,
                       augment=None) -> dict:
    """The supervised ceiling of a task: ``method``'s encoder at random init trained end to end on
    **all** training labels (the fine-tuning protocol with every label and ``steps`` steps)."""
    device = torch.device(device or "cpu")
    correct = _finetune(method.to(device), data, task, rep=rep, readout=readout, steps=steps,
                        batch_size=batch_size, lr=lr, n_train=len(data.train[data.keys[0]]), seed=seed,
                        device=device, augment=augment)
    return dict(task=task, protocol="supervised", rep=rep or "", readout=readout,
                accuracy=100.0 * float(correct.mean()), n_test=len(correct), correct=correct)


def paired_test_se(correct_a: np.ndarray, correct_b: np.ndarray) -> float:
    """Standard error (percentage points) of an accuracy difference measured on the same test clips:
    ``sd(c_a - c_b) / sqrt(n)`` — what the finite test set alone puts on the difference."""
    d = np.asarray(correct_a, float) - np.asarray(correct_b, float)
    return 100.0 * float(d.std(ddof=1)) / math.sqrt(len(d)) if len(d) > 1 else math.nan
