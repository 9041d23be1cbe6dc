"""Self-supervised pretraining: attribute masking, GraphCL, GraphMAE, descriptor prediction, and combinations."""

from gnnpt.pretraining.augment import AUGMENTATIONS, drop_edges, drop_nodes, mask_nodes, subgraph
from gnnpt.pretraining.losses import nt_xent
from gnnpt.pretraining.masking import MaskedBatch, mask_atoms
from gnnpt.pretraining.objectives import (
    AttributeMasking,
    Combined,
    DescriptorPrediction,
    GraphContrastive,
    GraphMAE,
    scaled_cosine_error,
)

__all__ = [
    "AUGMENTATIONS",
    "AttributeMasking",
    "Combined",
    "DescriptorPrediction",
    "GraphContrastive",
    "GraphMAE",
    "MaskedBatch",
    "drop_edges",
    "drop_nodes",
    "mask_atoms",
    "mask_nodes",
    "nt_xent",
    "scaled_cosine_error",
    "subgraph",
]
