"""Conversions between the packed store and ``torch_geometric.data.Batch``."""

from __future__ import annotations

import torch
from torch_geometric.data import Batch, Data

from gnnpt.store.packed import GraphBatch, PackedGraphs


def graph_batch_to_pyg(gb: GraphBatch) -> Batch:
    """Wrap a gathered batch as a PyG ``Batch`` with the slice bookkeeping ``to_data_list`` needs."""
    out = Batch(x=gb.x, edge_index=gb.edge_index, edge_attr=gb.edge_attr, batch=gb.batch, ptr=gb.ptr)
    zeros = torch.zeros(gb.num_graphs, dtype=torch.long, device=gb.ptr.device)
    out._slice_dict = {"x": gb.ptr, "edge_index": gb.edge_ptr, "edge_attr": gb.edge_ptr}
    out._inc_dict = {"x": zeros, "edge_index": gb.ptr[:-1], "edge_attr": zeros}
    out._num_graphs = gb.num_graphs
    return out


def _int16_features(values: torch.Tensor, what: str) -> torch.Tensor:
    """``values`` as int16, or a ValueError when that would change them (floats, or integers beyond int16)."""
    values = values.cpu()
    if values.is_floating_point() and not bool((values == values.round()).all()):
        example = values[values != values.round()][0].item()
        raise ValueError(f"{what} holds non-integer values (e.g. {example:g}); the packed store keeps categorical "
                         "features (the hu2020/ogb schemes' integer codes) only")  # fmt: skip
    lo, hi = torch.iinfo(torch.int16).min, torch.iinfo(torch.int16).max
    if values.numel() and (values.min() < lo or values.max() > hi):
        raise ValueError(f"{what} holds values outside the int16 range [{lo}, {hi}] the packed store keeps")
    return values.to(torch.int16)


def pyg_to_packed(batch: Batch | list[Data], scheme: str = "hu2020") -> PackedGraphs:
    """Pack PyG graphs: edge indices become graph-local, features compact integers (a ValueError for features that
    are not integer codes, which the store cannot hold without changing them)."""
    if isinstance(batch, list):
        batch = Batch.from_data_list(batch)
    ptr = batch.ptr.long().cpu()
    num_graphs = ptr.numel() - 1
    edge_index = batch.edge_index.long().cpu()
    edge_graph = batch.batch.cpu()[edge_index[0]] if edge_index.numel() else edge_index.new_empty(0)
    counts = torch.bincount(edge_graph, minlength=num_graphs)
    edge_ptr = torch.zeros(num_graphs + 1, dtype=torch.long)
    torch.cumsum(counts, 0, out=edge_ptr[1:])
    if edge_index.numel() and not bool((edge_graph[1:] >= edge_graph[:-1]).all()):
        raise ValueError("edges must be grouped by graph, as Batch.from_data_list produces them")
    local = edge_index - ptr[edge_graph]
    max_local = int(local.max()) if local.numel() else 0
    ei_dtype = torch.int16 if max_local < torch.iinfo(torch.int16).max else torch.int32
    edge_attr = batch.edge_attr.cpu() if batch.edge_attr is not None else torch.empty(local.shape[1], 0)
    return PackedGraphs(
        _int16_features(batch.x, "x"),
        local.to(ei_dtype),
        _int16_features(edge_attr, "edge_attr"),
        ptr,
        edge_ptr,
        scheme,
    )
