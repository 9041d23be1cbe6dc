"""Graph pooling: node representations to one vector per graph."""

from __future__ import annotations

import torch
from torch import nn


class Pool(nn.Module):
    """Mean, sum or max pooling over each graph's nodes, as PyG's ``global_*_pool`` (``size`` keeps empty graphs
    as zero rows). Plain scatter ops: scoring never needs to import PyG (and the torch._dynamo it pulls in)."""

    def __init__(self, kind: str):
        super().__init__()
        if kind not in ("mean", "sum", "max"):
            raise ValueError(f"unknown pooling {kind!r}")
        self.kind = kind

    def forward(self, h: torch.Tensor, batch: torch.Tensor, size: int | None = None) -> torch.Tensor:
        size = int(batch.max()) + 1 if size is None and batch.numel() else (size or 0)
        index = batch.view(-1, 1).expand_as(h)
        if self.kind == "max":
            out = h.new_full((size, h.shape[1]), float("-inf")).scatter_reduce(0, index, h, "amax")
            return out.masked_fill(torch.isinf(out), 0.0)
        total = h.new_zeros((size, h.shape[1])).index_add_(0, batch, h)
        if self.kind == "sum":
            return total
        count = torch.bincount(batch, minlength=size).clamp_(min=1).to(h.dtype)
        return total / count.unsqueeze(1)


class AttentionPool(nn.Module):
    """Attention pooling: a learned gate weights each node (``GlobalAttention`` upstream)."""

    kind = "attention"

    def __init__(self, dim: int):
        super().__init__()
        from torch_geometric.nn import AttentionalAggregation

        self.aggr = AttentionalAggregation(gate_nn=nn.Linear(dim, 1))

    def forward(self, h: torch.Tensor, batch: torch.Tensor, size: int | None = None) -> torch.Tensor:
        return self.aggr(h, batch, dim_size=size)


POOLINGS = ("mean", "sum", "max", "attention")


def make_pooling(kind: str, dim: int) -> nn.Module:
    """The pooling module called ``kind`` (mean, sum, max, attention) for node vectors of width ``dim``."""
    if kind == "attention":
        return AttentionPool(dim)
    if kind in POOLINGS:
        return Pool(kind)
    raise ValueError(f"unknown pooling {kind!r}; choose one of {POOLINGS}")
