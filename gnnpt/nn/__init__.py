"""Neural network layers: encoders (Hu et al. 2020 and OGB-scheme), convolutions, pooling, heads, adapters.

Layers only: saving, loading and naming encoders is :mod:`gnnpt.models`.
"""

from gnnpt.nn.conv import GATConv, GCNConv, GINConv, GraphSAGEConv
from gnnpt.nn.heads import GraphModel, LinearHead, MLPHead
from gnnpt.nn.hu2020 import HuEncoder
from gnnpt.nn.ogb import OgbEncoder
from gnnpt.nn.pooling import AttentionPool, Pool, make_pooling

__all__ = [
    "AttentionPool",
    "GATConv",
    "GCNConv",
    "GINConv",
    "GraphModel",
    "GraphSAGEConv",
    "HuEncoder",
    "LinearHead",
    "MLPHead",
    "OgbEncoder",
    "Pool",
    "make_pooling",
]
