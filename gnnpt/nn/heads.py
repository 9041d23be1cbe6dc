"""Prediction heads and the encoder -> pooling -> head composition."""

from __future__ import annotations

import torch
from torch import nn


class LinearHead(nn.Module):
    """One linear layer from the graph vector to the task outputs (the Hu et al. fine-tuning head)."""

    kind = "linear"

    def __init__(self, in_dim: int, num_tasks: int):
        super().__init__()
        self.linear = nn.Linear(in_dim, num_tasks)

    @property
    def num_tasks(self) -> int:
        return self.linear.out_features

    def forward(self, g: torch.Tensor) -> torch.Tensor:
        return self.linear(g)


class MLPHead(nn.Module):
    """``Linear -> ReLU -> Dropout`` blocks, then a linear output layer."""

    kind = "mlp"

    def __init__(self, in_dim: int, num_tasks: int, hidden: int = 300, layers: int = 2, dropout: float = 0.0):
        super().__init__()
        self.in_dim, self.hidden, self.layers = in_dim, hidden, layers
        blocks: list[nn.Module] = []
        dim = in_dim
        for _ in range(layers - 1):
            blocks += [nn.Linear(dim, hidden), nn.ReLU(), nn.Dropout(dropout)]
            dim = hidden
        blocks.append(nn.Linear(dim, num_tasks))
        self.mlp = nn.Sequential(*blocks)

    @property
    def num_tasks(self) -> int:
        return self.mlp[-1].out_features

    def forward(self, g: torch.Tensor) -> torch.Tensor:
        return self.mlp(g)


class GraphModel(nn.Module):
    """encoder (nodes) -> pooling (graphs) -> head (tasks). ``embed`` gives the pooled graph vectors."""

    def __init__(self, encoder: nn.Module, pooling: nn.Module, head: nn.Module):
        super().__init__()
        self.encoder, self.pooling, self.head = encoder, pooling, head

    @property
    def pooling_kind(self) -> str:
        """``mean``, ``sum``, ``max`` or ``attention``: what a saved model's card records to rebuild the pooling."""
        return self.pooling.kind

    @property
    def head_kind(self) -> str:
        """``linear`` or ``mlp``."""
        return self.head.kind

    @property
    def head_outputs(self) -> int:
        return self.head.num_tasks

    def embed(self, batch) -> torch.Tensor:
        """Graph vectors [num_graphs, dim] for a ``GraphBatch`` or PyG ``Batch``."""
        h = self.encoder(batch.x, batch.edge_index, batch.edge_attr)
        return self.pooling(h, batch.batch, batch.num_graphs)

    def forward(self, batch) -> torch.Tensor:
        """Task outputs (logits or values) [num_graphs, num_tasks]."""
        return self.head(self.embed(batch))
