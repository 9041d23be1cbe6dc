"""The packed graph store: contiguous node/edge arrays + offsets, batched by index gather, and its files."""

from gnnpt.store.files import load_packed, save_packed
from gnnpt.store.packed import GraphBatch, PackedGraphs

__all__ = ["GraphBatch", "PackedGraphs", "load_packed", "save_packed"]
