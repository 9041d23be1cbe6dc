"""The packed graph store: contiguous node/edge arrays + offsets, batched by index gather."""

from gnnpt.store.cache import cached_featurize, load_packed, save_packed
from gnnpt.store.packed import GraphBatch, PackedGraphs

__all__ = ["GraphBatch", "PackedGraphs", "cached_featurize", "load_packed", "save_packed"]
