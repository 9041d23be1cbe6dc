"""Fingerprint models and ensembles are models like the GNNs: saved without pickles, loaded strictly, scored through
the one scoring path with the same columns everywhere, refused when their card lies."""

from __future__ import annotations

import gzip
import json

import numpy as np
import pytest
import torch

from gnnpt.datasets.splits import Split
from gnnpt.featurization.pipeline import featurize
from gnnpt.finetune.probe import encoder_features
from gnnpt.finetune.tabular import TreeParams, dataset_vectors, fit_mlp, fit_trees
from gnnpt.models.artifact import TREES_FILE, load_model_dir, save_model
from gnnpt.models.card import CardError
from gnnpt.models.conformal import Conformal
from gnnpt.models.ensemble import EnsembleModel
from gnnpt.models.finetuned import FinetunedModel, build_graph_model
from gnnpt.models.scoring import score_columns, score_molecules
from gnnpt.models.store import RegistryError, describe, import_model, verify
from gnnpt.models.tabular import ENCODER_INPUT, TabularModel
from gnnpt.nn import HuEncoder
from gnnpt.predict import Predictor

RINGS = ["c1ccccc1", "c1ccncc1", "c1ccc2ccccc2c1", "C1CCCCC1", "c1ccoc1", "c1ccsc1"]
TAILS = ["C", "CC", "O", "N", "CCO", "C(=O)O", "Cl", "CN", "OC", "C#N"]
SMILES = [f"{t}{r}" for r in RINGS for t in TAILS]
LABELS = np.array([[float("N" in s or "n" in s), float("O" in s or "o" in s)] for s in SMILES])
NEW = ["Nc1ccccc1", "OCc1ccncc1", "not a smiles", "CCCCCCCC"]


@pytest.fixture(scope="module")
def split() -> Split:
    rows = np.random.default_rng(0).permutation(len(SMILES))
    return Split(rows[:40], rows[40:50], rows[50:])


@pytest.fixture(scope="module")
def trees(split: Split):
    x = dataset_vectors(SMILES, ["ecfp4_counts", "descriptors:fast"])
    params = TreeParams(n_estimators=30, min_child_samples=2)
    return fit_trees(x, LABELS, split, "classification", ["has_n", "has_o"], ["ecfp4_counts", "descriptors:fast"],
                     seeds=[0, 1], params=params)  # fmt: skip


@pytest.fixture(scope="module")
def mlp(split: Split):
    x = dataset_vectors(SMILES, ["ecfp4"])
    return fit_mlp(x, LABELS, split, "classification", ["has_n", "has_o"], ["ecfp4"], hiddens=(None,),
                   weight_decays=(1e-3,))  # fmt: skip


def _gnn() -> FinetunedModel:
    torch.manual_seed(0)
    member = build_graph_model(HuEncoder(num_layer=2, emb_dim=16), 2).eval()
    return FinetunedModel([member], "classification", ["has_n", "has_o"])


def test_a_tree_model_learns_and_round_trips_without_pickles(tmp_path, trees) -> None:
    scored = score_molecules(trees, SMILES)
    assert scored.std is not None  # two seeds, two members
    n, no_n = scored.mean[LABELS[:, 0] == 1, 0], scored.mean[LABELS[:, 0] == 0, 0]
    assert np.nanmean(n) - np.nanmean(no_n) > 0.3  # (C#N before a ring is no molecule: NaN)
    path = save_model(trees, tmp_path / "trees")
    text = json.loads(gzip.decompress((path / TREES_FILE).read_bytes()))
    assert text["format"] == "lightgbm-text" and text["models"]["m0.t0"].startswith("tree")
    loaded = load_model_dir(path)
    np.testing.assert_allclose(score_molecules(loaded, NEW).mean, score_molecules(trees, NEW).mean, rtol=1e-6)
    assert verify(path)["kind"] == "tabular"


def test_an_mlp_model_saved_in_half_precision_scores_the_same(tmp_path, mlp) -> None:
    loaded = load_model_dir(save_model(mlp, tmp_path / "mlp", half=True))
    np.testing.assert_allclose(score_molecules(loaded, NEW).mean, score_molecules(mlp, NEW).mean, atol=2e-3)
    assert loaded.card["dtype"] == "float16"


def test_mlp_heads_from_several_initializations_are_members_of_one_model(split: Split) -> None:
    x = dataset_vectors(SMILES, ["ecfp4"])
    bag = fit_mlp(x, LABELS, split, "classification", ["has_n", "has_o"], ["ecfp4"], seeds=[0, 1], hiddens=(8,),
                  weight_decays=(1e-3,), inits=3)  # fmt: skip
    assert len(bag.members) == 6 and bag.card["learner_params"]["inits"] == 3
    first = fit_mlp(x, LABELS, split, "classification", ["has_n", "has_o"], ["ecfp4"], seeds=[0], hiddens=(8,),
                    weight_decays=(1e-3,))  # fmt: skip
    weights = [m[0].weight for m in bag.mlps]
    torch.testing.assert_close(weights[0], first.mlps[0][0].weight)  # seed 0's first head is the one-head model's
    assert not torch.allclose(weights[0], weights[1])  # the others start elsewhere
    scored = score_molecules(bag, SMILES)
    assert scored.std is not None and np.nanmax(scored.std) > 0
    with pytest.raises(ValueError, match="inits=0"):
        fit_mlp(x, LABELS, split, "classification", ["has_n", "has_o"], ["ecfp4"], inits=0)


def test_an_mlp_on_a_frozen_encoder_holds_it_and_scores_from_the_graphs(tmp_path, split: Split) -> None:
    torch.manual_seed(0)
    encoder = HuEncoder(num_layer=2, emb_dim=16).eval()
    store = featurize(SMILES, "hu2020", canonical=True)
    x = encoder_features(encoder, store)
    model = fit_mlp(np.c_[x, dataset_vectors(SMILES, ["ecfp4"])], LABELS, split, "classification",
                    ["has_n", "has_o"], [ENCODER_INPUT, "ecfp4"], hiddens=(None,), weight_decays=(1e-3,),
                    encoder=encoder)  # fmt: skip
    assert model.inputs == ["ecfp4"]  # what featurization attaches; the encoder's part is computed at scoring
    head = model.mlps[0]
    with torch.no_grad():  # the training features through the head == the one scoring path from the SMILES
        z = torch.nan_to_num((torch.from_numpy(np.c_[x, dataset_vectors(SMILES, ["ecfp4"])]) - model.center)
                             / model.scale)  # fmt: skip
        expected = torch.sigmoid(head(z)).numpy()
    valid = ~np.isnan(score_molecules(model, SMILES, precision="fp32").mean[:, 0])
    np.testing.assert_allclose(score_molecules(model, SMILES, precision="fp32").mean[valid], expected[valid],
                               rtol=1e-4, atol=1e-5)  # fmt: skip
    path = save_model(model, tmp_path / "frozen", half=True)
    card = json.loads((path / "card.json").read_text())
    assert card["inputs"] == [ENCODER_INPUT, "ecfp4"] and card["encoder"]["config"]["emb_dim"] == 16
    assert describe(card) == "mlp on frozen hu2020 gin 2x16+ecfp4"
    loaded = load_model_dir(path)
    assert isinstance(loaded.encoder, HuEncoder) and not any(p.requires_grad for p in loaded.encoder.parameters())
    np.testing.assert_allclose(score_molecules(loaded, NEW, precision="fp32").mean,
                               score_molecules(model, NEW, precision="fp32").mean, atol=2e-3)  # fmt: skip
    (path / "card.json").write_text(json.dumps({k: v for k, v in card.items() if k != "encoder"}))
    with pytest.raises(CardError, match="exactly when"):
        load_model_dir(path)
    with pytest.raises(ValueError, match="exactly when"):
        TabularModel([ENCODER_INPUT], "classification", ["t"], mlps=[torch.nn.Linear(16, 1)])


def test_an_ensemble_scores_calibrates_and_gives_conformal_sets_everywhere_alike(tmp_path, trees, mlp) -> None:
    components = [trees, mlp, _gnn()]
    raw = np.stack([score_molecules(c, SMILES).mean for c in components])
    weights = np.array([[0.5, 0.25], [0.25, 0.5], [0.25, 0.25]])
    expected = (weights[:, None, :] * raw).sum(0)
    platt = (np.array([2.0, 0.5]), np.array([0.1, -0.2]))
    conformal = Conformal.fit("classification", expected, LABELS)
    model = EnsembleModel(components, weights, platt=platt, conformal=conformal, card={"name": "mix"})
    scored = score_molecules(model, SMILES)
    z = platt[0] * np.log(expected / (1 - expected)) + platt[1]
    np.testing.assert_allclose(scored.mean, 1 / (1 + np.exp(-z)), rtol=1e-4)
    path = save_model(model, tmp_path / "mix")
    assert verify(path)["kind"] == "ensemble"
    predictor = Predictor.from_path(path, confidence=0.8)
    frame = predictor.predict(NEW)
    assert list(frame.columns) == score_columns(model)
    assert {"has_n_set", "has_o_set", "has_n_std"} <= set(frame.columns)
    assert frame["has_n_set"].tolist()[2] is None and frame["error"].notna().tolist() == [False, False, True, False]
    assert set(frame["has_n_set"].dropna()) <= {"active", "inactive", "both", "none"}
    direct = score_molecules(model, NEW, confidence=0.8)
    np.testing.assert_allclose(frame[["has_n", "has_o"]].to_numpy(), direct.mean, rtol=1e-5)
    record = next(direct.records())
    assert set(record["conformal"]) == {"has_n_set", "has_o_set"}
    assert predictor.gnn() is predictor.model.components[2]


def test_a_stored_ensemble_keeps_its_trees(tmp_path, trees, monkeypatch) -> None:
    monkeypatch.setenv("GNNPT_MODEL_DIR", str(tmp_path / "store"))
    source = save_model(EnsembleModel([trees], np.ones((1, 2))), tmp_path / "one")
    entry = import_model(source, name="one")
    assert (entry.path / TREES_FILE).is_file()
    assert entry.architecture == "ensemble of lightgbm on ecfp4_counts+descriptors:fast"
    np.testing.assert_allclose(score_molecules(load_model_dir(entry.path), NEW).mean,
                               score_molecules(trees, NEW).mean, rtol=1e-6)  # fmt: skip


def test_cards_and_files_that_lie_are_refused(tmp_path, trees, mlp) -> None:
    path = save_model(trees, tmp_path / "t")
    card = json.loads((path / "card.json").read_text())
    (path / "card.json").write_text(json.dumps({**card, "task_names": ["only_one"]}))
    with pytest.raises(CardError, match="1 task_names for 2 outputs"):
        load_model_dir(path)
    (path / "card.json").write_text(json.dumps(card))
    texts = json.loads(gzip.decompress((path / TREES_FILE).read_bytes()))
    del texts["models"]["m1.t1"]
    (path / TREES_FILE).write_bytes(gzip.compress(json.dumps(texts).encode()))
    with pytest.raises(RegistryError, match=r"m1\.t1"):
        verify(path)
    path = save_model(mlp, tmp_path / "m")
    card = json.loads((path / "card.json").read_text())
    (path / "card.json").write_text(json.dumps({**card, "in_dim": 100}))
    with pytest.raises(RegistryError, match="does not match"):
        verify(path)
    with pytest.raises(ValueError, match="sum to 1"):
        EnsembleModel([trees, mlp], np.ones((2, 2)))
