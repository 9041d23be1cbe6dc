"""The message-passing layers of Hu et al. (2020) ``chem/model.py``: GIN, GCN, GraphSAGE and GAT.

Parameter names and shapes equal upstream, so published state_dicts load with ``strict=True``.
Semantics follow the PyTorch Geometric 1.0 version the checkpoints were trained with: for an edge
``(a, b) = edge_index[:, e]`` the message ``x[b] + edge_embedding[e]`` is aggregated at ``a``
(upstream's ``x_i = x[edge_index[0]]``, ``x_j = x[edge_index[1]]``, scatter on ``edge_index[0]``),
and GAT's softmax groups edges by that same ``edge_index[0]``. Every layer first adds a self-loop
per node with bond features (4 = self-loop, direction 0). Implemented with plain vectorized
scatter ops: no per-graph Python. Gathers are ``index_select`` (its backward is an ``index_add``; advanced
indexing's ``index_put`` backward costs about 3x more on a CPU).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from gnnpt.featurization.schemes import HU_NUM_BOND_DIRS, HU_NUM_BOND_TYPES, HU_SELF_LOOP_BOND


def add_self_loops(
    edge_index: torch.Tensor, edge_attr: torch.Tensor, num_nodes: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Append one self-loop per node, with hu2020 bond features (self-loop type, direction 0)."""
    loop = torch.arange(num_nodes, device=edge_index.device, dtype=edge_index.dtype)
    loop_attr = torch.zeros(num_nodes, edge_attr.shape[1], device=edge_attr.device, dtype=edge_attr.dtype)
    loop_attr[:, 0] = HU_SELF_LOOP_BOND
    return torch.cat([edge_index, loop.expand(2, -1)], dim=1), torch.cat([edge_attr, loop_attr], dim=0)


class _EdgeEmbedding(nn.Module):
    """Per-layer bond type + bond direction embeddings (``edge_embedding1/2`` upstream).

    Subclasses create their own weights first and then call ``_add_edge_embeddings``, so the
    ``state_dict`` keys come in upstream's order and exported ``.pth`` files list them as the published ones do.
    """

    def _add_edge_embeddings(self, dim: int) -> None:
        self.edge_embedding1 = nn.Embedding(HU_NUM_BOND_TYPES, dim)
        self.edge_embedding2 = nn.Embedding(HU_NUM_BOND_DIRS, dim)
        nn.init.xavier_uniform_(self.edge_embedding1.weight)
        nn.init.xavier_uniform_(self.edge_embedding2.weight)

    def embed_edges(self, edge_attr: torch.Tensor) -> torch.Tensor:
        return self.edge_embedding1(edge_attr[:, 0]) + self.edge_embedding2(edge_attr[:, 1])

    def summed_edge_embeddings(self, counts: torch.Tensor) -> torch.Tensor:
        """``sum`` of the embeddings of the edges aggregated at each node, from :func:`bond_counts`: the same sum as
        embedding every edge and scattering, without an [E, dim] tensor."""
        tables = torch.cat([self.edge_embedding1.weight, self.edge_embedding2.weight])
        return counts.to(tables.dtype) @ tables


def bond_counts(edge_attr: torch.Tensor, at: torch.Tensor, num_nodes: int) -> torch.Tensor:
    """Per node, how many of the edges aggregated there (``at``), a self-loop included, have each bond type and each
    direction: [N, 6 + 3] float32. The same for every layer, so an encoder computes it once per forward."""
    types = F.one_hot(edge_attr[:, 0], HU_NUM_BOND_TYPES)
    dirs = F.one_hot(edge_attr[:, 1], HU_NUM_BOND_DIRS)
    counts = _sum_at(torch.cat([types, dirs], dim=1).float(), at, num_nodes)
    counts[:, HU_SELF_LOOP_BOND] += 1
    counts[:, HU_NUM_BOND_TYPES] += 1  # the self-loop's direction is 0
    return counts


def glorot(weight: torch.Tensor) -> None:
    """PyG's ``glorot`` initialization (bound from the last two dimensions), as upstream used for GAT's ``att``."""
    bound = math.sqrt(6.0 / (weight.size(-2) + weight.size(-1)))
    with torch.no_grad():
        weight.uniform_(-bound, bound)


def segment_softmax(scores: torch.Tensor, index: torch.Tensor, num_segments: int) -> torch.Tensor:
    """Softmax of ``scores`` [E, ...] within the groups of rows sharing ``index`` (PyG's ``utils.softmax``)."""
    shape = (num_segments, *scores.shape[1:])
    expanded = index.view(-1, *([1] * (scores.dim() - 1))).expand_as(scores)
    peak = scores.new_full(shape, float("-inf")).scatter_reduce(0, expanded, scores, "amax", include_self=True)
    exp = (scores - peak.index_select(0, index)).exp()
    total = scores.new_zeros(shape).index_add_(0, index, exp)
    return exp / (total.index_select(0, index) + 1e-16)


def _in_degree(row: torch.Tensor, num_nodes: int, dtype: torch.dtype) -> torch.Tensor:
    """Edges aggregated at each node (self-loop included)."""
    return torch.zeros(num_nodes, dtype=dtype, device=row.device).index_add_(0, row, torch.ones_like(row, dtype=dtype))


def _sum_at(messages: torch.Tensor, index: torch.Tensor, num_nodes: int) -> torch.Tensor:
    out = messages.new_zeros((num_nodes, *messages.shape[1:]))
    return out.index_add_(0, index, messages)


class GINConv(_EdgeEmbedding):
    """GIN with edge features: ``MLP(sum_j (x_j + e_ij))`` over neighbours and the self-loop.

    ``out_dim`` (default ``emb_dim``) widens or narrows the MLP's output, as GraphMAE's decoder layer does."""

    def __init__(self, emb_dim: int, out_dim: int | None = None):
        super().__init__()
        out = out_dim or emb_dim
        self.mlp = nn.Sequential(nn.Linear(emb_dim, 2 * emb_dim), nn.ReLU(), nn.Linear(2 * emb_dim, out))
        self._add_edge_embeddings(emb_dim)

    def forward(
        self, x: torch.Tensor, edge_index: torch.Tensor, edge_attr: torch.Tensor, counts: torch.Tensor | None = None
    ) -> torch.Tensor:
        """``counts``: :func:`bond_counts` of these edges, when the caller already has them (shared by layers)."""
        n, at = x.shape[0], edge_index[0]
        if counts is None:
            counts = bond_counts(edge_attr, at, n)
        total = x.index_add(0, at, x.index_select(0, edge_index[1])) + self.summed_edge_embeddings(counts)
        return self.mlp(total)


class _LinearConv(_EdgeEmbedding):
    """A layer that transforms node features with ``linear`` before messaging (GCN, GraphSAGE upstream)."""

    def __init__(self, emb_dim: int):
        super().__init__()
        self.linear = nn.Linear(emb_dim, emb_dim)
        self._add_edge_embeddings(emb_dim)


class GCNConv(_LinearConv):
    """GCN: ``sum_j deg^-1/2[i] deg^-1/2[j] (W x_j + e_ij)``, degrees counted with self-loops."""

    def forward(self, x: torch.Tensor, edge_index: torch.Tensor, edge_attr: torch.Tensor) -> torch.Tensor:
        n = x.shape[0]
        edge_index, edge_attr = add_self_loops(edge_index, edge_attr, n)
        row, col = edge_index
        inv_sqrt = _in_degree(row, n, x.dtype).pow(-0.5)  # >= 1: every node has its self-loop
        norm = (inv_sqrt[row] * inv_sqrt[col]).unsqueeze(-1)
        x = self.linear(x)
        return _sum_at(norm * (x.index_select(0, col) + self.embed_edges(edge_attr)), row, n)


class GraphSAGEConv(_LinearConv):
    """GraphSAGE: L2-normalized ``mean_j (W x_j + e_ij)``."""

    def forward(self, x: torch.Tensor, edge_index: torch.Tensor, edge_attr: torch.Tensor) -> torch.Tensor:
        n = x.shape[0]
        edge_index, edge_attr = add_self_loops(edge_index, edge_attr, n)
        row, col = edge_index
        x = self.linear(x)
        total = _sum_at(x.index_select(0, col) + self.embed_edges(edge_attr), row, n)
        return F.normalize(total / _in_degree(row, n, x.dtype).unsqueeze(-1), p=2, dim=-1)


class GATConv(_EdgeEmbedding):
    """GAT with ``heads`` heads whose outputs are averaged, then ``bias`` added (upstream layout)."""

    def __init__(self, emb_dim: int, heads: int = 2, negative_slope: float = 0.2):
        super().__init__()
        self.emb_dim, self.heads, self.negative_slope = emb_dim, heads, negative_slope
        self.weight_linear = nn.Linear(emb_dim, heads * emb_dim)
        self.att = nn.Parameter(torch.empty(1, heads, 2 * emb_dim))
        self.bias = nn.Parameter(torch.zeros(emb_dim))
        glorot(self.att)  # PyG's glorot, as upstream (bound from the last two dims, unlike xavier_uniform_)
        self._add_edge_embeddings(heads * emb_dim)

    def forward(self, x: torch.Tensor, edge_index: torch.Tensor, edge_attr: torch.Tensor) -> torch.Tensor:
        n = x.shape[0]
        edge_index, edge_attr = add_self_loops(edge_index, edge_attr, n)
        row, col = edge_index
        h = self.weight_linear(x).view(-1, self.heads, self.emb_dim)
        x_j = h.index_select(0, col) + self.embed_edges(edge_attr).view(-1, self.heads, self.emb_dim)
        alpha = (torch.cat([h.index_select(0, row), x_j], dim=-1) * self.att).sum(dim=-1)
        alpha = segment_softmax(F.leaky_relu(alpha, self.negative_slope), row, n)
        out = _sum_at(x_j * alpha.unsqueeze(-1), row, n)
        return out.mean(dim=1) + self.bias


CONVS: dict[str, type[nn.Module]] = {"gin": GINConv, "gcn": GCNConv, "graphsage": GraphSAGEConv, "gat": GATConv}
