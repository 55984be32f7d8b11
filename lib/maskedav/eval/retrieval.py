"""Cross-modal retrieval: recall@K in both directions from paired embeddings.

Row ``i`` of ``a`` and row ``i`` of ``b`` are the same clip (e.g. its audio and its video embedding).
Similarity is cosine. For query ``i`` the rank of its partner is the number of candidates with a
*strictly* larger similarity (ties count in the query's favour; they do not occur with continuous
embeddings); R@K is the percent of queries whose partner has rank < K.
"""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F


@torch.no_grad()
def retrieval_ranks(query: torch.Tensor, gallery: torch.Tensor) -> torch.Tensor:
    """0-based rank of ``gallery[i]`` among all gallery items for ``query[i]``."""
    q = F.normalize(torch.as_tensor(query, dtype=torch.float32), dim=1)
    g = F.normalize(torch.as_tensor(gallery, dtype=torch.float32), dim=1)
    sim = q @ g.T
    positive = sim.diagonal()[:, None]
    return (sim > positive).sum(1)


def retrieval_recall_at_k(a, b, ks: Sequence[int] = (1, 5, 10),
                          names: tuple[str, str] = ("a", "b")) -> dict[str, float]:
    """``{"a->b R@1": ..., "b->a R@1": ..., ...}`` in percent (``names`` label the two sides)."""
    if len(a) != len(b):
        raise ValueError(f"paired embeddings needed, got {len(a)} and {len(b)} rows")
    out = {}
    for qn, gn, q, g in ((names[0], names[1], a, b), (names[1], names[0], b, a)):
        ranks = retrieval_ranks(q, g)
        for k in ks:
            out[f"{qn}->{gn} R@{k}"] = 100.0 * (ranks < k).double().mean().item()
    return out
