"""Graph pooling: node representations to one vector per graph."""

from __future__ import annotations

import torch
from torch import nn
from torch_geometric.nn import AttentionalAggregation, global_add_pool, global_max_pool, global_mean_pool


class Pool(nn.Module):
    """Mean, sum or max pooling over each graph's nodes (``size`` keeps empty graphs as zero rows)."""

    def __init__(self, kind: str):
        super().__init__()
        self.kind = kind
        self._fn = {"mean": global_mean_pool, "sum": global_add_pool, "max": global_max_pool}[kind]

    def forward(self, h: torch.Tensor, batch: torch.Tensor, size: int | None = None) -> torch.Tensor:
        return self._fn(h, batch, size)


class AttentionPool(nn.Module):
    """Attention pooling: a learned gate weights each node (``GlobalAttention`` upstream)."""

    def __init__(self, dim: int):
        super().__init__()
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
