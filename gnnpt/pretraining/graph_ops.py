"""Vectorized per-graph operations on a batched ``GraphBatch``: random ranks, node/edge subsets.

Everything here is a handful of tensor ops over the whole batch (on its device); nothing loops over
graphs in Python, so augmentations and masks run inside the training step on the GPU.
"""

from __future__ import annotations

import torch

from gnnpt.store.packed import GraphBatch


def random_rank(batch: torch.Tensor, ptr: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """A uniformly random rank (0 .. n_g - 1) of every node within its graph (``ptr``: graph offsets)."""
    scores = torch.rand(batch.numel(), generator=generator, device=batch.device)
    perm = torch.argsort(scores)
    perm = perm[torch.argsort(batch[perm], stable=True)]  # graph-major, random order inside each graph
    rank = torch.empty_like(batch)
    rank[perm] = torch.arange(batch.numel(), device=batch.device) - ptr[batch[perm]]
    return rank


def nodes_per_graph(gb: GraphBatch) -> torch.Tensor:
    return gb.ptr[1:] - gb.ptr[:-1]


def keep_nodes(gb: GraphBatch, keep: torch.Tensor) -> GraphBatch:
    """The sub-batch of nodes where ``keep`` is true and the edges between them (graphs keep their ids)."""
    num_graphs = gb.num_graphs
    new_index = torch.cumsum(keep.long(), 0) - 1
    counts = torch.bincount(gb.batch[keep], minlength=num_graphs)
    ptr = torch.zeros(num_graphs + 1, dtype=torch.long, device=keep.device)
    torch.cumsum(counts, 0, out=ptr[1:])
    src, dst = gb.edge_index
    edge_keep = keep[src] & keep[dst]
    return keep_edges(
        GraphBatch(gb.x[keep], new_index[gb.edge_index], gb.edge_attr, gb.batch[keep], ptr, gb.edge_ptr),
        edge_keep,
        edge_graph=gb.batch[src],
    )


def keep_edges(gb: GraphBatch, keep: torch.Tensor, edge_graph: torch.Tensor | None = None) -> GraphBatch:
    """The batch with only the edges where ``keep`` is true."""
    if edge_graph is None:
        edge_graph = gb.batch[gb.edge_index[0]]
    counts = torch.bincount(edge_graph[keep], minlength=gb.num_graphs)
    edge_ptr = torch.zeros(gb.num_graphs + 1, dtype=torch.long, device=keep.device)
    torch.cumsum(counts, 0, out=edge_ptr[1:])
    return GraphBatch(gb.x, gb.edge_index[:, keep], gb.edge_attr[keep], gb.batch, gb.ptr, edge_ptr)


def bond_ids(edge_index: torch.Tensor) -> torch.Tensor:
    """An id per undirected bond, shared by its two directed edges (min*N + max of the endpoints)."""
    lo = torch.minimum(edge_index[0], edge_index[1])
    hi = torch.maximum(edge_index[0], edge_index[1])
    span = int(hi.max()) + 1 if hi.numel() else 1
    return lo * span + hi
