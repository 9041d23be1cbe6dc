"""Neural network modules: encoders (Hu et al. 2020 and OGB-scheme), pooling, heads, weights I/O."""

from gnnpt.nn.checkpoints import (
    export_hu2020_state_dict,
    load_encoder,
    load_hu2020_checkpoint,
    published_checkpoint_dir,
    read_card,
    resolve_encoder,
    save_encoder,
)
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
    "export_hu2020_state_dict",
    "load_encoder",
    "load_hu2020_checkpoint",
    "make_pooling",
    "published_checkpoint_dir",
    "read_card",
    "resolve_encoder",
    "save_encoder",
]
