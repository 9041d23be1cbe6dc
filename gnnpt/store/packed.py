"""The packed graph store: many molecular graphs in a few contiguous arrays.

Node features, graph-local edge indices and edge features of all graphs are concatenated; node and
edge offsets (``node_ptr``, ``edge_ptr``) say where each graph starts. A batch of graph ids is
gathered with a handful of vectorized tensor ops (no Python object per graph), on whatever device
the store lives on.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from gnnpt.store.errors import FeaturizationError


@dataclass
class GraphBatch:
    """A disjoint union of graphs in PyG layout (``x, edge_index, edge_attr, batch, ptr``)."""

    x: torch.Tensor
    edge_index: torch.Tensor
    edge_attr: torch.Tensor
    batch: torch.Tensor
    ptr: torch.Tensor
    edge_ptr: torch.Tensor
    y: torch.Tensor | None = None  # optional per-graph targets [num_graphs, ...] gathered with the graphs
    features: dict[str, torch.Tensor] = field(default_factory=dict)  # per-graph vectors, e.g. descriptors [B, d]

    @property
    def num_graphs(self) -> int:
        return self.ptr.numel() - 1

    @property
    def num_nodes(self) -> int:
        return self.x.shape[0]

    def to(self, device: torch.device | str, non_blocking: bool = False) -> GraphBatch:
        y = None if self.y is None else self.y.to(device, non_blocking=non_blocking)
        features = {k: v.to(device, non_blocking=non_blocking) for k, v in self.features.items()}
        return GraphBatch(*(t.to(device, non_blocking=non_blocking) for t in self._tensors()), y=y, features=features)

    def _tensors(self) -> tuple[torch.Tensor, ...]:
        return (self.x, self.edge_index, self.edge_attr, self.batch, self.ptr, self.edge_ptr)

    def to_pyg(self):
        """A ``torch_geometric.data.Batch`` that also supports ``to_data_list()``."""
        from gnnpt.store.pyg import graph_batch_to_pyg

        return graph_batch_to_pyg(self)


def _segment_arange(counts: torch.Tensor, starts: torch.Tensor, total: int | None = None):
    """For segments of given ``counts``: (segment id per element, global index ``starts[seg] + offset``)."""
    n_seg = counts.numel()
    seg = torch.repeat_interleave(torch.arange(n_seg, device=counts.device), counts, output_size=total)
    out_ptr = torch.zeros(n_seg + 1, dtype=torch.long, device=counts.device)
    torch.cumsum(counts, 0, out=out_ptr[1:])
    local = torch.arange(seg.numel(), device=counts.device) - out_ptr[seg]
    return seg, starts[seg] + local, out_ptr


@dataclass
class PackedGraphs:
    """Many graphs in contiguous arrays, aligned one-to-one with the inputs they came from.

    A failed input is a graph with zero nodes, listed in ``errors``; ``smiles[i]`` is the SMILES of
    graph ``i`` (canonical when requested) or ``None`` for a failed input.
    """

    x: torch.Tensor  # [N, node_dim] int16
    edge_index: torch.Tensor  # [2, E] graph-local node indices (int16 or int32)
    edge_attr: torch.Tensor  # [E, edge_dim] int16
    node_ptr: torch.Tensor  # [G + 1] int64
    edge_ptr: torch.Tensor  # [G + 1] int64
    scheme: str = "hu2020"
    smiles: list[str | None] | None = None
    errors: list[FeaturizationError] = field(default_factory=list)
    fingerprints: torch.Tensor | None = None  # [G, 256] uint8 packed Morgan-2 bits, when featurized with them
    # per-molecule feature vectors a model reads beside (or instead of) the graph, by name: [G, d] each
    features: dict[str, torch.Tensor] = field(default_factory=dict)

    def __len__(self) -> int:
        return self.node_ptr.numel() - 1

    @property
    def device(self) -> torch.device:
        return self.x.device

    @property
    def num_nodes(self) -> int:
        return self.x.shape[0]

    @property
    def num_edges(self) -> int:
        return self.edge_index.shape[1]

    @property
    def valid(self) -> np.ndarray:
        """Boolean mask over inputs: ``True`` where the input became a graph."""
        mask = np.ones(len(self), dtype=bool)
        mask[[e.index for e in self.errors]] = False
        return mask

    @property
    def valid_ids(self) -> np.ndarray:
        """Graph ids of the inputs that featurized (the ones to gather for training or scoring)."""
        return np.flatnonzero(self.valid)

    def nodes_per_graph(self) -> torch.Tensor:
        return self.node_ptr[1:] - self.node_ptr[:-1]

    def edges_per_graph(self) -> torch.Tensor:
        return self.edge_ptr[1:] - self.edge_ptr[:-1]

    def to(self, device: torch.device | str) -> PackedGraphs:
        """The same store with every array on ``device`` (e.g. ``"cuda"`` for GPU-side batching)."""
        return PackedGraphs(
            self.x.to(device),
            self.edge_index.to(device),
            self.edge_attr.to(device),
            self.node_ptr.to(device),
            self.edge_ptr.to(device),
            self.scheme,
            self.smiles,
            self.errors,
            self.fingerprints,
            {k: v.to(device) for k, v in self.features.items()},
        )

    def valid_batches(
        self, batch_size: int, device: torch.device | str | None = None
    ) -> Iterator[tuple[np.ndarray, GraphBatch]]:
        """The valid graphs in order, ``batch_size`` at a time: (their ids, their batch gathered on ``device``)."""
        device = torch.device(device) if device is not None else self.device
        store = self if self.device == device else self.to(device)
        for ids in torch.from_numpy(self.valid_ids).split(batch_size):
            yield ids.numpy(), store.gather(ids.to(device))

    def _ranges(self, ids: torch.Tensor):
        """Per node and per edge of graphs ``ids``: (graph position, index into the flat arrays), and offsets."""
        starts = self.node_ptr[ids]
        e_starts = self.edge_ptr[ids]
        node = _segment_arange(self.node_ptr[ids + 1] - starts, starts)
        edge = _segment_arange(self.edge_ptr[ids + 1] - e_starts, e_starts)
        return node, edge

    def gather(self, ids: torch.Tensor | np.ndarray | Sequence[int]) -> GraphBatch:
        """Batch the graphs ``ids`` (in that order) into PyG layout with vectorized index ops."""
        ids = torch.as_tensor(ids, dtype=torch.long, device=self.device)
        (batch, node_idx, ptr), (e_graph, edge_idx, eptr) = self._ranges(ids)
        x = self.x[node_idx].long()
        edge_index = self.edge_index[:, edge_idx].long() + ptr[e_graph]
        edge_attr = self.edge_attr[edge_idx].long()
        features = {k: v[ids.to(v.device)] for k, v in self.features.items()}
        return GraphBatch(x, edge_index, edge_attr, batch, ptr, eptr, features=features)

    def select(self, ids: torch.Tensor | np.ndarray | Sequence[int]) -> PackedGraphs:
        """A new store holding only graphs ``ids`` (renumbered 0..len(ids)-1), e.g. a data split."""
        ids_t = torch.as_tensor(ids, dtype=torch.long, device=self.device)
        (_, node_idx, ptr), (_, edge_idx, eptr) = self._ranges(ids_t)
        ids_np = ids_t.cpu().numpy()
        by_index = {e.index: e for e in self.errors}
        hits = np.flatnonzero(np.isin(ids_np, np.fromiter(by_index, np.int64, len(by_index))))
        errors = []
        for new in hits.tolist():
            old = by_index[int(ids_np[new])]
            errors.append(FeaturizationError(new, old.input, old.reason, old.message))
        smiles = [self.smiles[i] for i in ids_np.tolist()] if self.smiles is not None else None
        return PackedGraphs(
            self.x[node_idx],
            self.edge_index[:, edge_idx],
            self.edge_attr[edge_idx],
            ptr,
            eptr,
            self.scheme,
            smiles,
            errors,
            self.fingerprints[ids_t.cpu()] if self.fingerprints is not None else None,
            {k: v[ids_t.to(v.device)] for k, v in self.features.items()},
        )

    @staticmethod
    def concat(parts: Sequence[PackedGraphs]) -> PackedGraphs:
        """Stack stores end to end (graph ids of later parts are shifted; features every part has are kept)."""
        if not parts:
            raise ValueError("concat needs at least one PackedGraphs")
        schemes = {p.scheme for p in parts}
        if len(schemes) > 1:
            raise ValueError(f"cannot concatenate stores of different schemes: {sorted(schemes)}")
        node_ptr, edge_ptr, errors, smiles = [parts[0].node_ptr[:1]], [parts[0].edge_ptr[:1]], [], []
        n_off = e_off = g_off = 0
        for p in parts:
            node_ptr.append(p.node_ptr[1:] + n_off)
            edge_ptr.append(p.edge_ptr[1:] + e_off)
            errors += [FeaturizationError(e.index + g_off, e.input, e.reason, e.message) for e in p.errors]
            smiles += p.smiles if p.smiles is not None else [None] * len(p)
            n_off, e_off, g_off = n_off + p.num_nodes, e_off + p.num_edges, g_off + len(p)
        ei_dtype = max((p.edge_index.dtype for p in parts), key=lambda d: torch.iinfo(d).bits)
        return PackedGraphs(
            torch.cat([p.x for p in parts]),
            torch.cat([p.edge_index.to(ei_dtype) for p in parts], dim=1),
            torch.cat([p.edge_attr for p in parts]),
            torch.cat(node_ptr),
            torch.cat(edge_ptr),
            parts[0].scheme,
            smiles,
            errors,
            torch.cat([p.fingerprints for p in parts]) if all(p.fingerprints is not None for p in parts) else None,
            {
                k: torch.cat([p.features[k] for p in parts])
                for k in parts[0].features
                if all(k in p.features for p in parts)
            },
        )

    def to_pyg(self, ids: torch.Tensor | np.ndarray | Sequence[int] | None = None):
        """These graphs (all, or ``ids``) as a ``torch_geometric.data.Batch``."""
        return self.gather(np.arange(len(self)) if ids is None else ids).to_pyg()

    @staticmethod
    def from_pyg(batch, scheme: str = "hu2020") -> PackedGraphs:
        """Pack a ``torch_geometric.data.Batch`` (or a list of ``Data``) into a store."""
        from gnnpt.store.pyg import pyg_to_packed

        return pyg_to_packed(batch, scheme)
