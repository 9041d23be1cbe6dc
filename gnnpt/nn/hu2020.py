"""The Hu et al. (2020) node encoder: atom + chirality embeddings, K message-passing layers, JK."""

from __future__ import annotations

from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import nn

from gnnpt.featurization.schemes import HU_NUM_ATOM_TYPES, HU_NUM_CHIRALITY
from gnnpt.nn.conv import CONVS, bond_counts
from gnnpt.nn.dropout import dropout
from gnnpt.nn.jk import check_jk, jumping_knowledge

JK = Literal["last", "concat", "max", "sum"]


class HuEncoder(nn.Module):
    """``GNN`` of pretrain-gnns ``chem/model.py``, with its exact parameter names (strict loading).

    Each layer: ``h = BatchNorm(conv(h))``, ReLU except after the last layer, dropout. ``jk`` picks
    the node representation: the last layer, or the concatenation / max / sum over the input
    embedding and every layer (as upstream, the input embedding is included).
    """

    def __init__(
        self,
        num_layer: int = 5,
        emb_dim: int = 300,
        jk: JK = "last",
        drop_ratio: float = 0.0,
        gnn_type: str = "gin",
    ):
        super().__init__()
        if num_layer < 1:
            raise ValueError("num_layer must be at least 1")
        if gnn_type not in CONVS:
            raise ValueError(f"unknown gnn_type {gnn_type!r}; choose one of {sorted(CONVS)}")
        check_jk(jk)
        self.num_layer, self.emb_dim, self.jk = num_layer, emb_dim, jk
        self.drop_ratio, self.gnn_type = drop_ratio, gnn_type
        self.x_embedding1 = nn.Embedding(HU_NUM_ATOM_TYPES, emb_dim)
        self.x_embedding2 = nn.Embedding(HU_NUM_CHIRALITY, emb_dim)
        nn.init.xavier_uniform_(self.x_embedding1.weight)
        nn.init.xavier_uniform_(self.x_embedding2.weight)
        self.gnns = nn.ModuleList([CONVS[gnn_type](emb_dim) for _ in range(num_layer)])
        self.batch_norms = nn.ModuleList([nn.BatchNorm1d(emb_dim) for _ in range(num_layer)])

    @property
    def out_dim(self) -> int:
        """Width of the node representation (``(num_layer + 1) * emb_dim`` for ``jk="concat"``)."""
        return (self.num_layer + 1) * self.emb_dim if self.jk == "concat" else self.emb_dim

    def config(self) -> dict[str, Any]:
        """Constructor arguments (stored in model cards, so loading needs no pickle)."""
        return {"num_layer": self.num_layer, "emb_dim": self.emb_dim, "jk": self.jk,
                "drop_ratio": self.drop_ratio, "gnn_type": self.gnn_type}  # fmt: skip

    def depth_groups(self) -> tuple[list[nn.Module], list[list[nn.Module]]]:
        """(the input embeddings; each layer's conv and batch norm): what the strategies freeze or decay by depth."""
        layers = [[conv, norm] for conv, norm in zip(self.gnns, self.batch_norms, strict=True)]
        return [self.x_embedding1, self.x_embedding2], layers

    def adaptable_layers(self) -> list[tuple[nn.Module, int]]:
        """The convs (LoRA on their linear maps, an adapter on their outputs, before the batch norm) and widths."""
        return [(conv, self.emb_dim) for conv in self.gnns]

    def forward(self, x: torch.Tensor, edge_index: torch.Tensor, edge_attr: torch.Tensor) -> torch.Tensor:
        """Node representations [N, out_dim] from hu2020 features (edges without self-loops)."""
        h = self.x_embedding1(x[:, 0]) + self.x_embedding2(x[:, 1])
        hs = [h]
        # GIN layers share their per-node bond counts: computed once here instead of once per layer
        extra = {"counts": bond_counts(edge_attr, edge_index[0], h.shape[0])} if self.gnn_type == "gin" else {}
        for layer, (conv, norm) in enumerate(zip(self.gnns, self.batch_norms, strict=True)):
            h = norm(conv(h, edge_index, edge_attr, **extra))
            if layer < self.num_layer - 1:
                h = F.relu(h)
            h = dropout(h, self.drop_ratio, self.training)
            hs.append(h)
        return jumping_knowledge(hs, self.jk)
