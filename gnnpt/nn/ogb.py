"""Encoders for the ``ogb`` feature scheme, built from PyG layers (GINE, GCN, GAT) and OGB's embeddings."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from gnnpt.nn.dropout import dropout
from gnnpt.nn.jk import check_jk, jumping_knowledge


class OgbEncoder(nn.Module):
    """Node encoder over OGB's 9 atom / 3 bond features.

    ``gine`` uses bond embeddings in every message; ``gat`` feeds them to attention via ``edge_dim``;
    ``gcn`` (PyG's ``GCNConv``) has no edge-feature input and ignores bonds beyond connectivity.
    """

    def __init__(self, num_layer: int = 5, emb_dim: int = 300, jk: str = "last", drop_ratio: float = 0.0,
                 gnn_type: str = "gine", heads: int = 2):  # fmt: skip
        super().__init__()
        if gnn_type not in ("gine", "gcn", "gat"):
            raise ValueError(f"unknown gnn_type {gnn_type!r} for the ogb scheme; choose gine, gcn or gat")
        check_jk(jk)
        # imported here: ogb's package pulls in scikit-learn and PyG pulls in torch._dynamo (seconds of start-up
        # that a screening run of the Hu et al. encoders never needs)
        from ogb.graphproppred.mol_encoder import AtomEncoder, BondEncoder

        self.num_layer, self.emb_dim, self.jk, self.drop_ratio, self.gnn_type, self.heads = (
            num_layer, emb_dim, jk, drop_ratio, gnn_type, heads)  # fmt: skip
        self.atom_encoder = AtomEncoder(emb_dim)
        uses_bonds = gnn_type != "gcn"
        self.bond_encoders = nn.ModuleList([BondEncoder(emb_dim) for _ in range(num_layer if uses_bonds else 0)])
        self.convs = nn.ModuleList([self._conv() for _ in range(num_layer)])
        self.batch_norms = nn.ModuleList([nn.BatchNorm1d(emb_dim) for _ in range(num_layer)])

    def _conv(self) -> nn.Module:
        from torch_geometric.nn import GATConv, GCNConv, GINEConv

        d = self.emb_dim
        if self.gnn_type == "gine":
            return GINEConv(nn.Sequential(nn.Linear(d, 2 * d), nn.ReLU(), nn.Linear(2 * d, d)), edge_dim=d)
        if self.gnn_type == "gat":
            return GATConv(d, d, heads=self.heads, concat=False, edge_dim=d)
        return GCNConv(d, d)

    @property
    def out_dim(self) -> int:
        return (self.num_layer + 1) * self.emb_dim if self.jk == "concat" else self.emb_dim

    def config(self) -> dict[str, Any]:
        return {"num_layer": self.num_layer, "emb_dim": self.emb_dim, "jk": self.jk,
                "drop_ratio": self.drop_ratio, "gnn_type": self.gnn_type, "heads": self.heads}  # fmt: skip

    def forward(self, x: torch.Tensor, edge_index: torch.Tensor, edge_attr: torch.Tensor) -> torch.Tensor:
        h = self.atom_encoder(x)
        hs = [h]
        for layer in range(self.num_layer):
            conv = self.convs[layer]
            if self.gnn_type == "gcn":
                out = conv(h, edge_index)
            else:
                out = conv(h, edge_index, self.bond_encoders[layer](edge_attr))
            h = self.batch_norms[layer](out)
            if layer < self.num_layer - 1:
                h = F.relu(h)
            h = dropout(h, self.drop_ratio, self.training)
            hs.append(h)
        return jumping_knowledge(hs, self.jk)
