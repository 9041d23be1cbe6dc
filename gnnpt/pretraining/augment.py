"""GraphCL (You et al. 2020) graph augmentations, vectorized over a batch.

Each takes a ``GraphBatch`` and returns a new one with the same graphs in the same order (so two views
of a batch line up row for row). Ratios are per graph.

- ``drop_nodes``: remove ``floor(n * ratio)`` random atoms and their bonds.
- ``drop_edges`` ("edge perturbation" in GraphCL's chemistry code, which only removes edges): remove
  ``floor(b * ratio)`` random bonds, both directions together.
- ``mask_nodes``: replace ``floor(n * ratio)`` random atoms with the mask token.
- ``subgraph``: keep ``ceil(n * (1 - ratio))`` atoms grown by breadth-first search from a random seed
  atom (ties inside a BFS layer broken at random), and the bonds among them.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from gnnpt.featurization.schemes import HU_MASK_ATOM
from gnnpt.pretraining.graph_ops import bond_ids, keep_edges, keep_nodes, nodes_per_graph, random_rank
from gnnpt.store.packed import GraphBatch

Augmentation = Callable[[GraphBatch, float, "torch.Generator | None"], GraphBatch]


def _per_graph(gb: GraphBatch, ratio: float) -> torch.Tensor:
    if not 0.0 <= ratio < 1.0:
        raise ValueError(f"augmentation ratio must be in [0, 1), got {ratio}")
    return (nodes_per_graph(gb).to(torch.float64) * ratio).floor().long()


def drop_nodes(gb: GraphBatch, ratio: float = 0.2, generator: torch.Generator | None = None) -> GraphBatch:
    drop = random_rank(gb.batch, gb.ptr, generator) < _per_graph(gb, ratio)[gb.batch]
    return keep_nodes(gb, ~drop)


def mask_nodes(gb: GraphBatch, ratio: float = 0.2, generator: torch.Generator | None = None) -> GraphBatch:
    masked = random_rank(gb.batch, gb.ptr, generator) < _per_graph(gb, ratio)[gb.batch]
    x = gb.x.clone()
    x[masked, 0] = HU_MASK_ATOM
    x[masked, 1:] = 0
    return GraphBatch(x, gb.edge_index, gb.edge_attr, gb.batch, gb.ptr, gb.edge_ptr)


def drop_edges(gb: GraphBatch, ratio: float = 0.2, generator: torch.Generator | None = None) -> GraphBatch:
    if not 0.0 <= ratio < 1.0:
        raise ValueError(f"augmentation ratio must be in [0, 1), got {ratio}")
    src = gb.edge_index[0]
    if src.numel() == 0:
        return gb
    bond = bond_ids(gb.edge_index)
    unique, inverse = torch.unique(bond, return_inverse=True)
    graph_of_bond = torch.zeros_like(unique).scatter_(0, inverse, gb.batch[src])
    bonds_per_graph = torch.bincount(graph_of_bond, minlength=gb.num_graphs)
    bond_ptr = torch.zeros(gb.num_graphs + 1, dtype=torch.long, device=src.device)
    torch.cumsum(bonds_per_graph, 0, out=bond_ptr[1:])
    order = torch.argsort(graph_of_bond, stable=True)  # bonds grouped by graph for ranking
    rank = torch.empty_like(order)
    rank[order] = random_rank(graph_of_bond[order], bond_ptr, generator)
    n_drop = (bonds_per_graph.to(torch.float64) * ratio).floor().long()
    dropped_bond = rank < n_drop[graph_of_bond]
    return keep_edges(gb, ~dropped_bond[inverse])


def subgraph(
    gb: GraphBatch, ratio: float = 0.2, generator: torch.Generator | None = None, max_hops: int = 64
) -> GraphBatch:
    n = nodes_per_graph(gb)
    keep_count = n - _per_graph(gb, ratio)
    seed_rank = random_rank(gb.batch, gb.ptr, generator)
    inf = torch.iinfo(torch.long).max
    hops = torch.where(seed_rank == 0, 0, inf)
    src, dst = gb.edge_index
    for hop in range(1, max_hops + 1):
        reached = hops[src] < hop
        frontier = torch.zeros_like(hops, dtype=torch.bool).index_fill_(0, dst[reached], True) & (hops == inf)
        if not bool(frontier.any()):
            break
        hops = torch.where(frontier, hop, hops)
    # rank nodes by (hop distance, random) inside each graph; unreachable atoms come last
    tie = random_rank(gb.batch, gb.ptr, generator).to(torch.float64) / (n[gb.batch].clamp(min=1) + 1)
    key = hops.clamp(max=max_hops + 1).to(torch.float64) + tie
    perm = torch.argsort(key)
    perm = perm[torch.argsort(gb.batch[perm], stable=True)]
    rank = torch.empty_like(gb.batch)
    rank[perm] = torch.arange(gb.batch.numel(), device=gb.batch.device) - gb.ptr[gb.batch[perm]]
    return keep_nodes(gb, rank < keep_count[gb.batch])


AUGMENTATIONS: dict[str, Augmentation] = {
    "drop_nodes": drop_nodes,
    "drop_edges": drop_edges,
    "mask_nodes": mask_nodes,
    "subgraph": subgraph,
}
