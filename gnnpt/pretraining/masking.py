"""Attribute masking (Hu et al. 2020): hide some atoms (and their bonds) behind mask tokens, predict them."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from gnnpt.featurization.schemes import HU_MASK_ATOM, HU_MASK_BOND
from gnnpt.pretraining.graph_ops import nodes_per_graph, random_rank
from gnnpt.store.packed import GraphBatch


@dataclass
class MaskedBatch:
    """A batch with masked atoms, where they are, and what they were."""

    batch: GraphBatch
    atom_index: torch.Tensor  # [M] masked node positions
    atom_target: torch.Tensor  # [M] their atom type (atomic number - 1)
    bond_index: torch.Tensor  # [2, B] one directed edge per masked bond (source < target)
    bond_target: torch.Tensor  # [B] their bond type (0 single .. 3 aromatic)


def mask_atoms(
    gb: GraphBatch, mask_rate: float = 0.15, mask_edges: bool = False, generator: torch.Generator | None = None
) -> MaskedBatch:
    """Mask ``int(n * mask_rate + 1)`` random atoms of every n-atom graph, as pretrain-gnns ``MaskAtom`` does.

    A masked atom becomes ``[119, 0]`` (mask token, no chirality). With ``mask_edges`` every bond touching
    a masked atom becomes ``[5, 0]`` and its type is a prediction target. Vectorized over the batch.
    """
    if not 0.0 <= mask_rate < 1.0:
        raise ValueError(f"mask_rate must be in [0, 1), got {mask_rate}")
    per_graph = (nodes_per_graph(gb).to(torch.float64) * mask_rate + 1).floor().long()
    masked = random_rank(gb.batch, gb.ptr, generator) < per_graph[gb.batch]
    atom_index = masked.nonzero().flatten()
    x = gb.x.clone()
    atom_target = x[atom_index, 0].clone()
    x[atom_index, 0] = HU_MASK_ATOM
    x[atom_index, 1] = 0
    edge_attr = gb.edge_attr
    src, dst = gb.edge_index
    if mask_edges:
        touched = masked[src] | masked[dst]
        one_way = touched & (src < dst)
        bond_index = gb.edge_index[:, one_way]
        bond_target = edge_attr[one_way, 0].clone()
        edge_attr = edge_attr.clone()
        edge_attr[touched, 0] = HU_MASK_BOND
        edge_attr[touched, 1] = 0
    else:
        bond_index = gb.edge_index.new_empty((2, 0))
        bond_target = edge_attr.new_empty(0)
    masked_batch = GraphBatch(x, gb.edge_index, edge_attr, gb.batch, gb.ptr, gb.edge_ptr)
    return MaskedBatch(masked_batch, atom_index, atom_target, bond_index, bond_target)
