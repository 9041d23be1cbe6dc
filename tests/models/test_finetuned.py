"""A model composed by hand, as the README shows, saves and loads: the pooling and head describe themselves."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from gnnpt.models.finetuned import FinetunedModel, load_finetuned
from gnnpt.nn import GraphModel, HuEncoder, LinearHead, make_pooling
from gnnpt.nn.heads import MLPHead
from gnnpt.predict import Predictor

SMILES = ["CCO", "c1ccccc1O", "not a smiles", "CC(=O)Nc1ccc(O)cc1"]


@pytest.mark.parametrize("pooling", ["mean", "max", "attention"])
def test_a_hand_built_model_round_trips(tmp_path, pooling: str) -> None:
    torch.manual_seed(0)
    encoder = HuEncoder(num_layer=2, emb_dim=16)
    graph_model = GraphModel(encoder, make_pooling(pooling, encoder.out_dim), LinearHead(encoder.out_dim, 2)).eval()
    assert (graph_model.pooling_kind, graph_model.head_kind, graph_model.head_outputs) == (pooling, "linear", 2)
    model = FinetunedModel([graph_model], "classification", ["a", "b"])
    loaded = load_finetuned(model.save(tmp_path / "m"))
    before = Predictor(model, precision="fp32").predict(SMILES)
    after = Predictor(loaded, precision="fp32").predict(SMILES)
    np.testing.assert_allclose(after[["a", "b"]].to_numpy(), before[["a", "b"]].to_numpy(), rtol=1e-6)
    assert after["error"].notna().tolist() == [False, False, True, False]


def test_an_mlp_head_the_card_cannot_describe_is_refused_with_the_fix(tmp_path) -> None:
    encoder = HuEncoder(num_layer=1, emb_dim=8)
    odd = GraphModel(encoder, make_pooling("mean", 8), MLPHead(8, 1, hidden=5, layers=3))
    with pytest.raises(ValueError, match="build_graph_model"):
        FinetunedModel([odd], "regression", ["y"]).save(tmp_path / "m")
