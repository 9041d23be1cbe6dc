"""``--model auto`` on real data: every candidate scored on valid and test, the ensemble chosen on valid only,
calibrated, conformal sets, and the saved model scoring exactly as trained."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from gnnpt.datasets import load
from gnnpt.datasets.splits import scaffold_split
from gnnpt.finetune.auto import AutoConfig, run_auto, select_ensemble, selection_score, train_auto
from gnnpt.finetune.run import LabeledData
from gnnpt.finetune.train import FinetuneConfig
from gnnpt.models.encoders import save_encoder
from gnnpt.models.scoring import score_molecules
from gnnpt.nn import HuEncoder
from gnnpt.predict import Predictor

GNN = FinetuneConfig(encoder="none", emb_dim=16, num_layer=2, epochs=2, accelerator="cpu")


@pytest.fixture(scope="module")
def bbbp(moleculenet_dir) -> LabeledData:
    ds = load("bbbp")
    rows = np.sort(np.random.default_rng(0).choice(len(ds), 400, replace=False))
    return LabeledData("bbbp400", [ds.smiles[i] for i in rows], ds.targets[rows], ds.task_names, "classification")


def test_selection_adds_what_helps_and_stops() -> None:
    y = np.array([0, 0, 0, 1, 1, 1], float)
    good = np.array([0.1, 0.2, 0.7, 0.6, 0.8, 0.9])  # one pair out of order
    other = np.array([0.6, 0.1, 0.1, 0.4, 0.7, 0.8])  # another pair; averaged with good, none
    noise = 1 - good
    picks = select_ensemble({"good": good, "other": other, "noise": noise},
                            lambda p: float(np.mean(p[y == 1][:, None] > p[y == 0][None, :])), rounds=5)  # fmt: skip
    assert picks == {"good": 1, "other": 1}


def test_balanced_selection_weighs_the_few_validation_rows_as_much_as_the_many_out_of_fold_rows() -> None:
    rng = np.random.default_rng(0)
    y = np.r_[np.tile([0.0, 1.0], 100), np.tile([0.0, 1.0], 10)][:, None]  # 200 out-of-fold rows, then 20 valid
    fits_folds = np.r_[y[:200, 0], 1 - y[200:, 0]][:, None]  # perfect out of fold, inverted on valid
    steady = 0.2 + 0.2 * y + rng.uniform(0, 0.5, y.shape)  # about 0.82 on both parts
    preds = {"fits_folds": fits_folds, "steady": steady}
    assert select_ensemble(preds, selection_score("classification", y), rounds=0) == {"fits_folds": 1}
    assert select_ensemble(preds, selection_score("classification", y, 200), rounds=0) == {"steady": 1}
    with pytest.raises(ValueError, match="selection="):
        AutoConfig(selection="test")


def test_auto_chooses_on_valid_only_and_saves_what_it_measured(tmp_path, bbbp) -> None:
    cfg = AutoConfig(candidates=["trees", "forest", "gnn"], gnn=GNN, rounds=5)
    path, result = run_auto(bbbp, cfg, tmp_path / "auto")
    card = result.model.card
    assert set(card["auto"]["candidates"]) == {"trees", "forest", "gnn"}
    assert sum(card["auto"]["chosen"].values()) == pytest.approx(1)
    calibration = card["auto"]["calibration"]
    assert {"ece_before_valid", "ece_after_test", "brier_after_test"} <= set(calibration)
    assert set(card["auto"]["conformal"]) == {"test_coverage_0.80", "test_coverage_0.90"}
    # the test labels play no part in the choice: scrambled, the same ensemble comes out
    split = scaffold_split(bbbp.smiles)
    scrambled = bbbp.targets.copy()
    scrambled[split.test] = np.random.default_rng(1).permutation(scrambled[split.test])
    again = train_auto(bbbp.smiles, scrambled, split, "classification", bbbp.task_names, cfg)
    assert again.record["chosen"] == result.record["chosen"]
    assert again.record["valid"] == pytest.approx(result.record["valid"])
    # the saved model scores as the trained one, with its domain and conformal columns
    predictor = Predictor.from_path(path)
    frame = predictor.predict(bbbp.smiles[:20])
    np.testing.assert_allclose(frame["p_np"].to_numpy(), score_molecules(result.model, bbbp.smiles[:20]).mean[:, 0],
                               rtol=1e-5)  # fmt: skip
    assert frame["max_similarity"].notna().all() and frame["p_np_set"].notna().all()
    # Platt's intercept is fitted by maximum likelihood on the calibration rows (here the validation part, a GNN being
    # a candidate): there the mean calibrated probability is the rate of actives
    p = score_molecules(result.model, [bbbp.smiles[i] for i in split.valid]).mean[:, 0]
    y = bbbp.targets[split.valid, 0]
    known = ~np.isnan(p) & ~np.isnan(y)
    assert result.record["calibrated_on"] == "the validation part"
    assert p[known].mean() == pytest.approx(y[known].mean(), abs=2e-3)
    png = result.reliability_diagram(tmp_path / "r.png", "bbbp")
    assert png.read_bytes()[:4] == b"\x89PNG"


def test_cheap_candidates_are_chosen_on_out_of_fold_scores_too(bbbp, monkeypatch) -> None:
    import gnnpt.finetune.auto as auto

    split = scaffold_split(bbbp.smiles)
    smiles = list(bbbp.smiles)
    for i in split.train[:3]:  # molecules that cannot be featurized have no out-of-fold score, and spoil nothing
        smiles[i] = "not a smiles"
    trained_on = []
    real = auto.fit_trees
    monkeypatch.setattr(auto, "fit_trees", lambda x, targets, part, *a, **k: trained_on.append(part.train) or real(
        x, targets, part, *a, **k))  # fmt: skip
    cfg = AutoConfig(candidates=["trees", "forest"], folds=3, rounds=3)
    result = train_auto(smiles, bbbp.targets, split, "classification", bbbp.task_names, cfg)
    assert len(trained_on) == 2 * (1 + 3)  # each candidate, then its refit on each fold
    assert not set(np.concatenate(trained_on)) & set(split.train[:3])  # no lesson from rows without features
    assert {"out_of_fold", "valid", "test"} <= set(result.candidates["trees"])
    assert "out-of-fold" in result.model.card["auto"]["selection"]
    assert "out-of-fold" in result.record["calibrated_on"] and "out-of-fold" in result.record["calibration"]["method"]
    assert 0 < result.record["conformal"]["test_coverage_0.80"] < result.record["conformal"]["test_coverage_0.90"]
    assert 0.5 < result.candidates["forest"]["out_of_fold"] <= 1
    # a validation part large enough to choose on alone spares the refits
    trained_on.clear()
    cfg = AutoConfig(candidates=["trees", "forest"], folds=3, rounds=3, valid_enough=len(split.valid))
    alone = train_auto(smiles, bbbp.targets, split, "classification", bbbp.task_names, cfg)
    assert len(trained_on) == 2 and "out_of_fold" not in alone.candidates["trees"]
    assert alone.record["calibrated_on"] == "the validation part"


def test_calibration_rows_are_not_the_selection_rows_where_that_covers_better(bbbp, monkeypatch) -> None:
    import gnnpt.finetune.auto as auto

    fits = []
    real = auto.fit_trees
    monkeypatch.setattr(auto, "fit_trees", lambda *a, **k: fits.append(1) or real(*a, **k))

    def run(data: LabeledData, **kwargs) -> auto.AutoResult:
        fits.clear()
        cfg = AutoConfig(candidates=["trees", "forest"], folds=3, rounds=3, **kwargs)
        split = scaffold_split(data.smiles)
        return train_auto(data.smiles, data.targets, split, data.task_type, data.task_names, cfg)

    # classification: chosen on the validation part, still calibrated with the out-of-fold rows (refits for that)
    valid_chooses = run(bbbp, selection="valid")
    assert len(fits) == 2 * (1 + 3) and "out_of_fold" in valid_chooses.candidates["trees"]
    assert valid_chooses.model.card["auto"]["selection"].endswith("on the validation part")
    assert "out-of-fold" in valid_chooses.record["calibrated_on"]
    # regression: the validation part alone calibrates once every task has calibration_min values there
    ds = load("esol")
    rows = np.sort(np.random.default_rng(0).choice(len(ds), 300, replace=False))
    esol = LabeledData("esol300", [ds.smiles[i] for i in rows], ds.targets[rows], ds.task_names, "regression")
    values = len(scaffold_split(esol.smiles).valid)
    few = run(esol, calibration_min=values + 1)
    assert len(fits) == 2 * (1 + 3) and "out-of-fold" in few.record["calibrated_on"]
    enough = run(esol, calibration_min=values)  # refits to choose, the validation part alone to calibrate
    assert len(fits) == 2 * (1 + 3) and "out-of-fold" in enough.model.card["auto"]["selection"]
    assert enough.record["calibrated_on"] == "the validation part"
    assert enough.record["chosen"] == few.record["chosen"]  # the calibration rows change nothing of the choice
    assert run(esol, calibration_min=values, selection="valid").record["calibrated_on"] == "the validation part"
    assert len(fits) == 2  # nothing needed the out-of-fold rows: no refits


def test_a_pretrained_encoder_frozen_is_a_cheap_candidate_whose_caveats_follow_it(tmp_path, bbbp) -> None:
    torch.manual_seed(0)
    encoder = save_encoder(HuEncoder(num_layer=2, emb_dim=16), tmp_path / "enc",
                           card={"name": "tiny", "notes": ["saw the test assays"]})  # fmt: skip
    cfg = AutoConfig(candidates=["encoder"], gnn=FinetuneConfig(encoder=str(encoder)), folds=3, rounds=3, head_inits=2)
    path, result = run_auto(bbbp, cfg, tmp_path / "auto")
    assert {"out_of_fold", "valid", "test"} <= set(result.candidates["encoder"])  # refit per fold, like the heads
    assert len(result.model.components[0].members) == 2  # one seed, two initializations
    card = result.model.card
    assert card["lineage"]["encoder"] == str(encoder) and card["lineage"]["encoder_card"]["name"] == "tiny"
    assert card["notes"] == [f"starts from encoder {encoder}, whose card says: saw the test assays"]
    (component,) = result.model.components
    assert component.reads == ["encoder"] and component.encoder.emb_dim == 16
    frame = Predictor.from_path(path).predict([*bbbp.smiles[:20], "not a smiles"])
    np.testing.assert_allclose(frame["p_np"].to_numpy()[:20],
                               score_molecules(result.model, bbbp.smiles[:20]).mean[:, 0], rtol=1e-5)  # fmt: skip
    assert frame["error"].notna().tolist() == [False] * 20 + [True]
    # beside another MLP candidate, only the encoder's head holds the encoder
    cfg = AutoConfig(candidates=["minimol", "encoder"], gnn=FinetuneConfig(encoder=str(encoder)), folds=0, head_inits=1)
    split = scaffold_split(bbbp.smiles)
    both = train_auto(bbbp.smiles, bbbp.targets, split, "classification", bbbp.task_names, cfg)
    assert set(both.candidates) == {"minimol", "encoder"}


def test_auto_refuses_what_it_cannot_do(bbbp) -> None:
    with pytest.raises(ValueError, match="unknown candidates"):
        AutoConfig(candidates=["trees", "xgboost"])
    with pytest.raises(ValueError, match="folds=1"):
        AutoConfig(folds=1)
    split = scaffold_split(bbbp.smiles)
    with pytest.raises(ValueError, match="multiclass"):
        train_auto(bbbp.smiles, bbbp.targets, split, "multiclass", bbbp.task_names, AutoConfig(candidates=["trees"]))
