"""A descriptor hybrid: the GNN's graph vector and standardized RDKit descriptors feed its head; it trains with any
strategy, saves as safetensors + card, and scores through the one path like any GNN."""

from __future__ import annotations

import json

import numpy as np
import pytest

from gnnpt.datasets import load
from gnnpt.datasets.splits import scaffold_split
from gnnpt.featurization.cache import cached_featurize
from gnnpt.finetune.train import FinetuneConfig, finetune
from gnnpt.models.artifact import load_model_dir, save_model
from gnnpt.models.scoring import score_molecules
from gnnpt.models.store import RegistryError, verify
from gnnpt.predict import Predictor


@pytest.mark.parametrize("strategy", ["full", "linear_probe"])
def test_a_hybrid_trains_saves_and_scores_like_a_gnn(tmp_path, moleculenet_dir, strategy: str) -> None:
    ds = load("bbbp")
    rows = np.sort(np.random.default_rng(0).choice(len(ds), 300, replace=False))
    smiles, targets = [ds.smiles[i] for i in rows], ds.targets[rows]
    cfg = FinetuneConfig(encoder="none", emb_dim=16, num_layer=2, epochs=2, descriptors=["descriptors:fast"],
                         strategy=strategy, accelerator="cpu")  # fmt: skip
    result = finetune(cached_featurize(smiles), targets, scaffold_split(smiles), "classification", ds.task_names, cfg)
    member = result.model.members[0]
    assert member.extras == ["descriptors:fast"] and member.head.linear.in_features == 16 + member.extra_dim
    assert float(member.extra_scale.min()) > 0 and float(member.extra_center.abs().max()) > 1  # fitted, not identity
    path = save_model(result.model, tmp_path / "hybrid")
    card = json.loads((path / "card.json").read_text())
    assert card["extras"] == ["descriptors:fast"] and card["extra_dim"] == member.extra_dim
    frame = Predictor.from_path(path).predict([*smiles[:5], "C1CC"])
    np.testing.assert_allclose(frame["p_np"].to_numpy()[:5], score_molecules(result.model, smiles[:5]).mean[:, 0],
                               rtol=1e-5)  # fmt: skip
    assert frame["error"].notna().tolist() == [False] * 5 + [True]
    # descriptors matter: the same graphs with other descriptor values score differently
    store = load_model_dir(path).featurize(smiles[:5])
    before = score_molecules(result.model, smiles[:5], store=store).mean
    store.features["descriptors:fast"] += 3.0
    assert not np.allclose(score_molecules(result.model, smiles[:5], store=store).mean, before)
    (path / "card.json").write_text(json.dumps({**card, "extras": []}))
    with pytest.raises(RegistryError, match="extras"):
        verify(path)


def test_unknown_molecule_vectors_are_refused_up_front() -> None:
    with pytest.raises(ValueError, match="unknown molecule features"):
        FinetuneConfig(descriptors=["rdkit200"])
