"""Fine-tuning end to end on small real data: best-checkpoint restore, ensembles, save/load, task types."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import torch

from gnnpt.datasets import load
from gnnpt.datasets.splits import random_split, scaffold_split
from gnnpt.featurization.cache import cached_featurize
from gnnpt.finetune.metrics import mean_roc_auc
from gnnpt.finetune.run import LabeledData, run_finetune
from gnnpt.finetune.strategies import count_trainable
from gnnpt.finetune.train import FinetuneConfig, finetune
from gnnpt.models.encoders import save_encoder
from gnnpt.models.finetuned import load_finetuned
from gnnpt.nn import HuEncoder
from gnnpt.predict import Predictor

SMALL = {"encoder": "none", "accelerator": "cpu"}


def _tiny(**kw) -> FinetuneConfig:
    """Few epochs keep each test to seconds (tests pass ``encoder=`` a 2-layer, 32-wide GIN where they can)."""
    return FinetuneConfig(**{**SMALL, "epochs": 4, "batch_size": 32, **kw})


@pytest.fixture(scope="module")
def tiny_encoder(tmp_path_factory) -> str:
    return str(save_encoder(HuEncoder(num_layer=2, emb_dim=32), tmp_path_factory.mktemp("enc") / "tiny"))


@pytest.fixture(scope="module")
def bbbp(moleculenet_dir, tiny_encoder):
    ds = load("bbbp")
    smiles, targets = ds.smiles[:300], ds.targets[:300]
    return SimpleNamespace(smiles=smiles, targets=targets, store=cached_featurize(smiles),
                           split=scaffold_split(smiles), encoder=tiny_encoder)  # fmt: skip


def _valid_score(result, store, split, targets) -> float:
    part = np.asarray(split.valid)
    member = result.model.members[0].eval()
    with torch.no_grad():
        logits = member(store.gather(torch.from_numpy(part[store.valid[part]])))
    return mean_roc_auc(targets[part][store.valid[part]], logits.numpy())


def test_best_validation_weights_are_restored(bbbp) -> None:
    _smiles, targets, store, split, encoder = bbbp.smiles, bbbp.targets, bbbp.store, bbbp.split, bbbp.encoder
    # fp32: the recomputed score below is fp32 (with bf16 autocast, on a CPU that has it, scores move in the 4th digit)
    cfg = _tiny(encoder=encoder, epochs=8, precision="32-true")
    result = finetune(store, targets, split, "classification", ["p_np"], cfg)
    run = result.runs[0]
    scores = [h["valid"]["roc_auc"] for h in run.history]
    assert len(run.history) == 8 and run.best_epoch == int(np.nanargmax(scores))
    assert run.valid["roc_auc"] == pytest.approx(max(scores))
    # the returned weights are the best epoch's, not the last one's
    assert _valid_score(result, store, split, targets) == pytest.approx(max(scores), abs=1e-6)
    assert run.test_last == run.history[-1]["test"]


def test_early_stopping_stops_after_patience(bbbp) -> None:
    _smiles, targets, store, split, encoder = bbbp.smiles, bbbp.targets, bbbp.store, bbbp.split, bbbp.encoder
    result = finetune(store, targets, split, "classification", ["p_np"], _tiny(encoder=encoder, epochs=60, patience=2))
    run = result.runs[0]
    assert len(run.history) < 60
    assert len(run.history) - 1 - run.best_epoch >= 2  # stopped only after `patience` epochs without gain


def test_seeds_form_an_ensemble_and_differ(bbbp) -> None:
    _smiles, targets, store, split, _encoder = bbbp.smiles, bbbp.targets, bbbp.store, bbbp.split, bbbp.encoder
    result = finetune(store, targets, split, "classification", ["p_np"], _tiny(encoder="none:gin", seeds=[0, 1]))
    assert len(result.model.members) == 2 and [r.seed for r in result.runs] == [0, 1]
    w0, w1 = (m.head.linear.weight for m in result.model.members)
    assert not torch.equal(w0, w1)
    summary = result.summary()
    assert 0 <= summary["test_roc_auc_mean"] <= 1 and summary["test_roc_auc_std"] >= 0


@pytest.mark.parametrize("strategy", ["full", "lora:4", "adapter:8", "linear_probe"])
def test_saved_model_predicts_identically(bbbp, tmp_path, strategy) -> None:
    smiles, targets, _store, _split, encoder = bbbp.smiles, bbbp.targets, bbbp.store, bbbp.split, bbbp.encoder
    data = LabeledData("bbbp300", smiles, targets, ["p_np"], "classification")
    path, result = run_finetune(data, _tiny(encoder=encoder, strategy=strategy, seeds=[0, 1], epochs=2), tmp_path / "m")
    reloaded = load_finetuned(path)
    batch = ["CCO", "not a smiles", *smiles[:20]]
    before, after = Predictor(result.model).predict(batch), Predictor(reloaded).predict(batch)
    np.testing.assert_allclose(before["p_np"].to_numpy(), after["p_np"].to_numpy(), rtol=1e-6, atol=1e-7)
    assert (
        after["error"].iloc[1].startswith("unparsable")
        and after["p_np"].isna().tolist() == [False, True] + [False] * 20
    )
    card = reloaded.card
    assert card["members"] == 2 and card["split"]["kind"] == "scaffold" and card["data"]["rows"] == 300
    assert card["lineage"]["encoder"] == encoder and card["hyperparameters"]["strategy"] == strategy
    assert {"test_roc_auc_mean", "test_last_roc_auc_mean"} <= set(card["metrics"]["summary"])


def test_a_model_inherits_its_encoders_notes(bbbp, tmp_path) -> None:
    """An encoder's caveat (e.g. it learned MiniMol's fingerprints) follows every model fine-tuned from it."""
    note = "learned from a third-party model"
    encoder = save_encoder(HuEncoder(num_layer=2, emb_dim=32), tmp_path / "enc", card={"notes": [note]})
    data = LabeledData("bbbp300", bbbp.smiles, bbbp.targets, ["p_np"], "classification")
    path, _ = run_finetune(data, _tiny(encoder=str(encoder), epochs=1), tmp_path / "m", extra_card={"notes": ["own"]})
    card = load_finetuned(path).card
    assert card["notes"] == [f"starts from encoder {encoder}, whose card says: {note}", "own"]
    assert card["lineage"]["encoder_card"]["notes"] == [note]
    plain, _ = run_finetune(data, _tiny(encoder=bbbp.encoder, epochs=1), tmp_path / "plain")
    assert "notes" not in load_finetuned(plain).card


def test_half_precision_model_is_smaller_and_close(bbbp, tmp_path) -> None:
    smiles, targets, _store, _split, encoder = bbbp.smiles, bbbp.targets, bbbp.store, bbbp.split, bbbp.encoder
    data = LabeledData("bbbp300", smiles, targets, ["p_np"], "classification")
    full, _result = run_finetune(data, _tiny(encoder=encoder, epochs=1), tmp_path / "f32")
    half, _ = run_finetune(data, _tiny(encoder=encoder, epochs=1), tmp_path / "f16", half=True)
    assert (half / "model.safetensors").stat().st_size < 0.6 * (full / "model.safetensors").stat().st_size
    p32, p16 = (
        Predictor(load_finetuned(full)).predict(smiles[:50]),
        Predictor(load_finetuned(half)).predict(smiles[:50]),
    )
    np.testing.assert_allclose(p32["p_np"], p16["p_np"], atol=1e-2)


def test_linear_probe_trains_only_the_head(bbbp) -> None:
    _smiles, targets, store, split, encoder = bbbp.smiles, bbbp.targets, bbbp.store, bbbp.split, bbbp.encoder
    result = finetune(
        store, targets, split, "classification", ["p_np"], _tiny(encoder=encoder, strategy="linear_probe")
    )
    assert count_trainable(result.model.members[0]) == 32 + 1


def test_regression_predicts_in_target_units(moleculenet_dir, tmp_path) -> None:
    ds = load("esol")
    smiles, targets = ds.smiles[:300], ds.targets[:300]
    data = LabeledData("esol300", smiles, targets, ds.task_names, "regression")
    path, result = run_finetune(data, _tiny(epochs=6, dropout=0.0), tmp_path / "esol", split="random")
    assert result.metric == "rmse" and np.isfinite(result.runs[0].test["rmse"])
    pred = Predictor(load_finetuned(path)).predict(smiles)[ds.task_names[0]].to_numpy()
    assert abs(pred.mean() - np.nanmean(targets)) < 1.0  # de-standardized: log-solubility units, not z-scores
    train = random_split(300, seed=0, smiles=smiles).train
    assert load_finetuned(path).card["standardizer"]["mean"][0] == pytest.approx(float(np.nanmean(targets[train])))


def test_multiclass_learns_a_separable_rule(tmp_path, tiny_encoder) -> None:
    rng = np.random.default_rng(0)
    pools = {
        0: ["CCCC", "CCCCC", "CCCCCC", "CC(C)CC"],
        1: ["CCO", "CCCO", "OCCO", "CC(O)C"],
        2: ["CCN", "NCCN", "CCCN", "CC(N)C"],
    }
    labels = rng.integers(0, 3, 240)
    smiles = [pools[int(k)][int(rng.integers(0, 4))] for k in labels]
    data = LabeledData("toy", smiles, labels.astype(np.float32)[:, None], ["kind"], "multiclass")
    path, result = run_finetune(
        data, _tiny(encoder=tiny_encoder, epochs=20, dropout=0.0, lr=3e-3), tmp_path / "mc", split="random"
    )
    assert result.runs[0].test["accuracy"] > 0.9
    frame = Predictor(load_finetuned(path)).predict(["CCCCC", "OCCO", "NCCN"])
    classes = ["kind=0", "kind=1", "kind=2"]
    assert list(frame.columns) == ["smiles", "canonical_smiles", *classes, "max_similarity", "in_domain", "error"]
    assert frame[["kind=0", "kind=1", "kind=2"]].to_numpy().argmax(1).tolist() == [0, 1, 2]


def test_invalid_rows_are_left_out_and_counted(tmp_path) -> None:
    smiles = ["CCO", "c1ccccc1", "bad(", "CCN", "CCC"] * 20
    targets = np.tile(np.array([[1], [0], [1], [0], [1]], np.float32), (20, 1))
    data = LabeledData("toy", smiles, targets, ["y"], "classification")
    path, _ = run_finetune(data, _tiny(epochs=1), tmp_path / "m", split="random")
    card = pd.read_json(path / "card.json", typ="series")
    assert card["data"]["invalid_rows"] == 20


def test_the_progress_bar_counts_epochs_from_one(bbbp, capfd) -> None:
    """Issue 32, item 11: after 2 epochs Lightning's bar ended on "Epoch 1/1"."""
    finetune(bbbp.store, bbbp.targets, bbbp.split, "classification", ["p_np"], _tiny(epochs=2, progress=True))
    out = capfd.readouterr().out
    assert "Epoch 2/2" in out and "Epoch 1/1" not in out, out[-500:]
