"""Prediction heads and the encoder -> pooling -> head composition."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn


def node_vectors(encoder: nn.Module, batch) -> torch.Tensor:
    """``encoder``'s node vectors of a batch; an encoder that pools inside (MiniMol's virtual node, its
    ``reads_graph_ids``) also gets each node's graph and the number of graphs."""
    if getattr(encoder, "reads_graph_ids", False):
        return encoder(batch.x, batch.edge_index, batch.edge_attr, batch.batch, batch.num_graphs)
    return encoder(batch.x, batch.edge_index, batch.edge_attr)


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
    """encoder (nodes) -> pooling (graphs) -> head (tasks). ``embed`` gives the pooled graph vectors.

    ``extras``: names of per-molecule vectors (``batch.features``, e.g. RDKit descriptors) fed into the head beside
    the graph vector, standardized with ``extra_center`` / ``extra_scale`` (fitted on the training part; an unknown
    value becomes the mean): a descriptor hybrid, whose head's input width is the encoder's plus theirs.
    """

    def __init__(self, encoder: nn.Module, pooling: nn.Module, head: nn.Module, extras: Sequence[str] = (),
                 extra_dim: int = 0):  # fmt: skip
        super().__init__()
        self.encoder, self.pooling, self.head = encoder, pooling, head
        self.extras = list(extras)
        if self.extras:
            self.register_buffer("extra_center", torch.zeros(extra_dim))
            self.register_buffer("extra_scale", torch.ones(extra_dim))

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

    @property
    def extra_dim(self) -> int:
        return self.extra_center.numel() if self.extras else 0

    def embed(self, batch) -> torch.Tensor:
        """Graph vectors [num_graphs, dim] for a ``GraphBatch`` or PyG ``Batch``."""
        return self.pooling(node_vectors(self.encoder, batch), batch.batch, batch.num_graphs)

    def head_input(self, batch) -> torch.Tensor:
        """The graph vector, followed by the standardized extra vectors of a hybrid."""
        z = self.embed(batch)
        if not self.extras:
            return z
        missing = [k for k in self.extras if k not in getattr(batch, "features", {})]
        if missing:
            raise ValueError(f"this hybrid model reads the molecule features {missing}; featurize with its featurize")
        e = torch.cat([batch.features[k].float() for k in self.extras], dim=1)
        e = torch.nan_to_num((e - self.extra_center) / self.extra_scale)
        return torch.cat([z, e.to(z.dtype)], dim=1)

    def forward(self, batch) -> torch.Tensor:
        """Task outputs (logits or values) [num_graphs, num_tasks]."""
        return self.head(self.head_input(batch))
