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


def pyg_to_packed(batch: Batch | list[Data], scheme: str = "hu2020") -> PackedGraphs:
    """Pack PyG graphs: edge indices become graph-local, features compact integers."""
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
        batch.x.cpu().to(torch.int16),
        local.to(ei_dtype),
        edge_attr.to(torch.int16),
        ptr,
        edge_ptr,
        scheme,
    )
