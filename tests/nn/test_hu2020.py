"""Hu et al. encoders: strict loading of every published checkpoint, exact layer maths, GIN layout, weights I/O."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

import gnnpt
from gnnpt.models.encoders import load_encoder, save_encoder
from gnnpt.models.hu2020 import export_hu2020_state_dict, load_hu2020_checkpoint
from gnnpt.nn import GraphModel, HuEncoder, LinearHead, make_pooling

SMILES = ["CC(=O)Nc1ccc(O)cc1", "F/C=C/F", "C[C@H](N)C(=O)O", "[Na+].[Cl-]", "c1ccncc1"]
CHECKPOINTS = [
    f"{arch}_{kind}.pth"
    for arch in ("gcn", "graphsage", "gat")
    for kind in ("contextpred", "supervised", "supervised_contextpred")
]


@pytest.fixture(scope="module")
def batch():
    return gnnpt.featurize(SMILES).gather(range(len(SMILES)))


@pytest.mark.parametrize("name", CHECKPOINTS)
def test_published_checkpoint_loads_strictly(name: str, checkpoint_dir: Path, batch) -> None:
    encoder = load_hu2020_checkpoint(checkpoint_dir / name).eval()
    assert encoder.gnn_type == name.split("_")[0]
    state = torch.load(checkpoint_dir / name, map_location="cpu", weights_only=True)
    assert set(encoder.state_dict()) == set(state)
    with torch.no_grad():
        h = encoder(batch.x, batch.edge_index, batch.edge_attr)
        again = encoder(batch.x, batch.edge_index, batch.edge_attr)
    assert h.shape == (batch.num_nodes, 300) and torch.isfinite(h).all()
    assert torch.equal(h, again)  # eval mode is deterministic


def test_gcn_and_graphsage_need_a_name(checkpoint_dir: Path, tmp_path: Path) -> None:
    anonymous = tmp_path / "weights.pth"
    anonymous.write_bytes((checkpoint_dir / "gcn_contextpred.pth").read_bytes())
    with pytest.raises(ValueError, match="gnn_type"):
        load_hu2020_checkpoint(anonymous)
    assert load_hu2020_checkpoint(anonymous, gnn_type="graphsage").gnn_type == "graphsage"


@pytest.mark.parametrize(("protocol", "reason"), [(2, "it asks to call posix.system"), (4, "not a pickle of tensors")])
def test_pickled_code_is_refused_and_never_run(tmp_path: Path, capfd, protocol: int, reason: str) -> None:
    """torch.save writes protocol 2, where the weights-only unpickler names the global asked for; a protocol-4 pickle
    fails on its first frame, before any global."""

    class Evil:
        def __reduce__(self):
            return (os.system, ("echo pwned",))

    path = tmp_path / "evil.pth"
    path.write_bytes(pickle.dumps({"x_embedding1.weight": Evil()}, protocol=protocol))
    with pytest.raises(ValueError, match=f"{reason}.*never runs a file's code"):
        load_hu2020_checkpoint(path, gnn_type="gin")
    assert "pwned" not in capfd.readouterr().out


def test_gin_state_dict_is_the_published_57_key_layout() -> None:
    state = HuEncoder(gnn_type="gin").state_dict()
    assert len(state) == 57
    shapes = {k: tuple(v.shape) for k, v in state.items()}
    assert shapes["x_embedding1.weight"] == (120, 300) and shapes["x_embedding2.weight"] == (3, 300)
    for i in range(5):
        assert shapes[f"gnns.{i}.mlp.0.weight"] == (600, 300) and shapes[f"gnns.{i}.mlp.2.weight"] == (300, 600)
        assert shapes[f"gnns.{i}.edge_embedding1.weight"] == (6, 300)
        assert shapes[f"gnns.{i}.edge_embedding2.weight"] == (3, 300)
        assert shapes[f"batch_norms.{i}.num_batches_tracked"] == ()
    floats = sum(v.numel() for v in state.values() if v.is_floating_point())
    assert floats == 1_860_900


def _trained_like(encoder: HuEncoder, batch) -> HuEncoder:
    encoder.train()
    with torch.no_grad():
        encoder(batch.x, batch.edge_index, batch.edge_attr)  # moves BatchNorm running statistics
    return encoder.eval()


def test_gin_roundtrips_through_the_published_format_and_safetensors(tmp_path: Path, batch) -> None:
    torch.manual_seed(0)
    gin = _trained_like(HuEncoder(gnn_type="gin", jk="last"), batch)
    with torch.no_grad():
        ref = gin(batch.x, batch.edge_index, batch.edge_attr)
    pth = export_hu2020_state_dict(gin, tmp_path / "gin_masking.pth")
    back = load_hu2020_checkpoint(pth).eval()
    assert back.gnn_type == "gin"
    saved = save_encoder(gin, tmp_path / "enc", card={"name": "test-gin", "objective": "none"})
    again = load_encoder(saved).eval()
    with torch.no_grad():
        assert torch.equal(back(batch.x, batch.edge_index, batch.edge_attr), ref)
        assert torch.equal(again(batch.x, batch.edge_index, batch.edge_attr), ref)
    assert not list(saved.glob("*.pt*"))  # weights are safetensors only


def _reference_layer(conv, gnn_type: str, h: torch.Tensor, edge_index, edge_attr) -> torch.Tensor:
    """Node-by-node loop implementation of the README's layer definitions (independent of gnnpt.nn.conv)."""
    n = h.shape[0]
    nbrs: list[list[tuple[int, int, int]]] = [[(i, 4, 0)] for i in range(n)]  # self-loop: type 4, dir 0
    for e in range(edge_index.shape[1]):
        a, b = edge_index[:, e].tolist()
        nbrs[a].append((b, int(edge_attr[e, 0]), int(edge_attr[e, 1])))

    def emb(t, d):
        return conv.edge_embedding1.weight[t] + conv.edge_embedding2.weight[d]

    rows = []
    for i in range(n):
        if gnn_type == "gin":
            rows.append(conv.mlp(sum(h[j] + emb(t, d) for j, t, d in nbrs[i])))
        elif gnn_type == "gcn":
            wx = conv.linear(h)
            deg = [len(nb) for nb in nbrs]
            rows.append(sum((wx[j] + emb(t, d)) / (deg[i] * deg[j]) ** 0.5 for j, t, d in nbrs[i]))
        elif gnn_type == "graphsage":
            wx = conv.linear(h)
            rows.append(F.normalize(sum(wx[j] + emb(t, d) for j, t, d in nbrs[i]) / len(nbrs[i]), dim=0))
        else:
            z = conv.weight_linear(h).view(n, conv.heads, -1)
            heads = []
            for k in range(conv.heads):
                msgs = [z[j, k] + emb(t, d).view(conv.heads, -1)[k] for j, t, d in nbrs[i]]
                scores = torch.stack(
                    [F.leaky_relu((torch.cat([z[i, k], m]) * conv.att[0, k]).sum(), 0.2) for m in msgs]
                )
                weights = torch.softmax(scores, dim=0)
                heads.append(sum(w * m for w, m in zip(weights, msgs, strict=True)))
            rows.append(torch.stack(heads).mean(0) + conv.bias)
    return torch.stack(rows)


@pytest.mark.parametrize("gnn_type", ["gin", "gcn", "graphsage", "gat"])
def test_layers_match_a_loop_reference(gnn_type: str, batch) -> None:
    torch.manual_seed(1)
    conv = HuEncoder(num_layer=1, emb_dim=16, gnn_type=gnn_type).gnns[0]
    h = torch.randn(batch.num_nodes, 16)
    with torch.no_grad():
        got = conv(h, batch.edge_index, batch.edge_attr)
        ref = _reference_layer(conv, gnn_type, h, batch.edge_index, batch.edge_attr)
    torch.testing.assert_close(got, ref, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("jk", ["last", "concat", "max", "sum"])
def test_jk_modes(jk: str, batch) -> None:
    enc = HuEncoder(num_layer=3, emb_dim=32, jk=jk).eval()
    h = enc(batch.x, batch.edge_index, batch.edge_attr)
    assert h.shape == (batch.num_nodes, 4 * 32 if jk == "concat" else 32) and enc.out_dim == h.shape[1]


@pytest.mark.parametrize("pooling", ["mean", "sum", "max", "attention"])
def test_graph_embeddings_are_permutation_invariant(pooling: str) -> None:
    torch.manual_seed(0)
    store = gnnpt.featurize(["CC(=O)Nc1ccc(O)cc1"])
    b = store.gather([0])
    perm = torch.randperm(b.num_nodes)
    inv = torch.empty_like(perm)
    inv[perm] = torch.arange(b.num_nodes)
    shuffled = type(b)(b.x[perm], inv[b.edge_index], b.edge_attr, b.batch, b.ptr, b.edge_ptr)
    model = GraphModel(HuEncoder(num_layer=2, emb_dim=32), make_pooling(pooling, 32), LinearHead(32, 3)).eval()
    with torch.no_grad():
        torch.testing.assert_close(model.embed(b), model.embed(shuffled), rtol=1e-5, atol=1e-5)
        assert model(b).shape == (1, 3)


def test_empty_graphs_pool_to_zero_rows() -> None:
    store = gnnpt.featurize(["CCO", "C1CC", "CCN"])
    model = GraphModel(HuEncoder(num_layer=2, emb_dim=8), make_pooling("mean", 8), LinearHead(8, 1)).eval()
    with torch.no_grad():
        g = model.embed(store.gather([0, 1, 2]))
    assert g.shape == (3, 8) and torch.count_nonzero(g[1]) == 0
