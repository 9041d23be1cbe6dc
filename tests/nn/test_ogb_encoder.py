"""Encoders for the ogb scheme (PyG GINE / GCN / GAT layers over OGB atom and bond embeddings)."""

from __future__ import annotations

import pytest
import torch
from ogb.utils import smiles2graph

import gnnpt
from gnnpt.models.encoders import load_encoder, save_encoder
from gnnpt.nn import GraphModel, MLPHead, OgbEncoder, make_pooling


@pytest.mark.parametrize("gnn_type", ["gine", "gcn", "gat"])
def test_runs_on_ogb_features_and_roundtrips(gnn_type: str, tmp_path) -> None:
    smiles = ["CC(=O)Oc1ccccc1C(=O)O", "*CC", "[Na+].[Cl-]"]
    store = gnnpt.featurize(smiles, scheme="ogb")
    b = store.gather(range(3))
    assert torch.equal(
        b.x[: len(smiles2graph(smiles[0])["node_feat"])], torch.as_tensor(smiles2graph(smiles[0])["node_feat"])
    )
    enc = OgbEncoder(num_layer=3, emb_dim=32, gnn_type=gnn_type, jk="concat").eval()
    model = GraphModel(enc, make_pooling("mean", enc.out_dim), MLPHead(enc.out_dim, 2)).eval()
    with torch.no_grad():
        out = model(b)
    assert out.shape == (3, 2) and torch.isfinite(out).all()
    back = load_encoder(save_encoder(enc, tmp_path / gnn_type)).eval()
    with torch.no_grad():
        assert torch.equal(back(b.x, b.edge_index, b.edge_attr), enc(b.x, b.edge_index, b.edge_attr))
