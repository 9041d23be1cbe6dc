"""Self-supervised pretraining: attribute masking, GraphCL contrastive learning, and their combinations."""

from gnnpt.pretraining.augment import AUGMENTATIONS, drop_edges, drop_nodes, mask_nodes, subgraph
from gnnpt.pretraining.losses import nt_xent
from gnnpt.pretraining.masking import MaskedBatch, mask_atoms
from gnnpt.pretraining.objectives import AttributeMasking, Combined, GraphContrastive

__all__ = [
    "AUGMENTATIONS",
    "AttributeMasking",
    "Combined",
    "GraphContrastive",
    "MaskedBatch",
    "drop_edges",
    "drop_nodes",
    "mask_atoms",
    "mask_nodes",
    "nt_xent",
    "subgraph",
]
