"""k-nearest-neighbour classification on frozen features (cosine similarity).

Each query takes its ``k`` most similar training features; neighbour ``j`` votes for its label with
weight ``exp(s_j / temperature)`` (the weighted kNN of Wu et al. 2018, used by DINO), or weight 1 when
``temperature`` is None (majority vote). The predicted class is the one with the largest summed
weight (lowest class index on exact ties). Accuracies are in percent.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F


@torch.no_grad()
def knn_classify(train_x, train_y, query_x, k: int = 20, temperature: float | None = 0.07,
                 num_classes: int | None = None, chunk: int = 1024):
    """``(predictions (Q,), class scores (Q, C))`` of weighted kNN voting."""
    train_x = F.normalize(torch.as_tensor(train_x, dtype=torch.float32), dim=1)
    query_x = F.normalize(torch.as_tensor(query_x, dtype=torch.float32), dim=1)
    train_y = torch.as_tensor(train_y).long()
    num_classes = num_classes or int(train_y.max()) + 1
    k = min(k, len(train_x))
    scores = []
    for q in query_x.split(chunk):
        sim, idx = (q @ train_x.T).topk(k, dim=1)
        weight = torch.ones_like(sim) if temperature is None else (sim / temperature).exp()
        votes = torch.zeros(len(q), num_classes).scatter_add_(1, train_y[idx], weight)
        scores.append(votes)
    scores = torch.cat(scores)
    return scores.argmax(1), scores


def knn_accuracy(train_x, train_y, test_x, test_y, k: int = 20, temperature: float | None = 0.07,
                 num_classes: int | None = None) -> float:
    """Percent of test samples whose kNN prediction equals the label."""
    pred, _ = knn_classify(train_x, train_y, test_x, k, temperature, num_classes)
    return 100.0 * (pred == torch.as_tensor(test_y).long()).double().mean().item()
