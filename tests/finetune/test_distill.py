"""Distillation: what the student learns from (teacher scores vs true labels), the held-out guard, the saved card."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from rdkit import Chem

from gnnpt.datasets import load
from gnnpt.datasets.splits import scaffold_split
from gnnpt.finetune.distill import distillation_set, run_distill
from gnnpt.finetune.run import LabeledData, run_finetune
from gnnpt.finetune.train import FinetuneConfig
from gnnpt.models.finetuned import load_finetuned
from gnnpt.predict import Predictor


def _cfg(**kw) -> FinetuneConfig:
    return FinetuneConfig(**{"encoder": "none", "emb_dim": 16, "num_layer": 2, "epochs": 2, "batch_size": 64,
                             "accelerator": "cpu", **kw})  # fmt: skip


@pytest.fixture(scope="module")
def teacher(moleculenet_dir, tmp_path_factory):
    ds = load("bbbp")
    data = LabeledData("bbbp300", ds.smiles[:300], ds.targets[:300], ds.task_names, "classification")
    path, _ = run_finetune(data, _cfg(emb_dim=32), tmp_path_factory.mktemp("teacher") / "teacher")
    return path, data, ds.smiles[300:360]


def _canonical(smiles: str) -> str | None:
    mol = Chem.MolFromSmiles(smiles)
    return Chem.MolToSmiles(mol) if mol is not None else None


def test_students_learn_teacher_scores_and_are_judged_on_true_labels(teacher) -> None:
    path, data, corpus = teacher
    net = load_finetuned(path)
    split = scaffold_split(data.smiles)
    leak = data.smiles[int(split.test[0])]
    prepared = distillation_set(net, data, split, [*corpus, leak, "not a smiles("])
    held_out = {_canonical(data.smiles[i]) for i in (*split.valid, *split.test)} - {None}
    kept = [s for s in corpus if _canonical(s) and _canonical(s) not in held_out]
    assert prepared.corpus_overlap == len(corpus) - len(kept) + 1  # the test molecule is left out, as any other
    assert prepared.corpus_used == len(kept) and len(prepared.store) == len(data.smiles) + len(kept)
    train = np.asarray(split.train)
    expected = Predictor(net).predict([data.smiles[i] for i in train])[net.task_names].to_numpy()
    np.testing.assert_allclose(prepared.targets[train], expected, atol=1e-6, equal_nan=True)
    held = np.concatenate([split.valid, split.test]).astype(int)
    np.testing.assert_array_equal(prepared.targets[held], data.targets[held])
    soft = prepared.targets[len(data.smiles) :]
    assert np.isfinite(soft).all() and ((soft > 0) & (soft < 1)).all() and not np.isin(soft, (0, 1)).all()
    assert set(prepared.split.train) == {*train.tolist(), *range(len(data.smiles), len(prepared.store))}


def test_run_distill_saves_a_smaller_student_with_its_lineage(teacher, tmp_path) -> None:
    path, data, corpus = teacher
    labels = pd.DataFrame({"smiles": data.smiles, data.task_names[0]: data.targets[:, 0]})
    labels.to_csv(tmp_path / "labels.csv", index=False)
    pd.DataFrame({"smiles": corpus}).to_csv(tmp_path / "corpus.csv", index=False)
    out, result = run_distill(path, tmp_path / "corpus.csv", tmp_path / "student", _cfg(), data=tmp_path / "labels.csv")
    student = load_finetuned(out)
    assert student.members[0].encoder.emb_dim == 16 and student.task_names == data.task_names
    card = student.card
    assert card["distillation"]["teacher"]["encoder_config"]["emb_dim"] == 32
    assert 0 < card["distillation"]["corpus"]["molecules"] <= len(corpus)
    assert card["split"]["kind"] == "scaffold" and np.isfinite(result.runs[0].test["roc_auc"])
    scores = Predictor(student).predict([*corpus[:5], "bad("])
    assert scores[data.task_names[0]].notna().sum() == 5 and scores["error"].iloc[-1].startswith("unparsable")


def test_a_student_can_start_from_a_pretrained_encoder(teacher, tmp_path) -> None:
    """``gnnpt distill --encoder``: the student keeps the encoder's size and starts from its weights."""
    from gnnpt.models.encoders import load_encoder, save_encoder
    from gnnpt.nn.hu2020 import HuEncoder

    path, data, corpus = teacher
    start = save_encoder(HuEncoder(num_layer=2, emb_dim=24), tmp_path / "enc")
    labels = pd.DataFrame({"smiles": data.smiles, data.task_names[0]: data.targets[:, 0]})
    labels.to_csv(tmp_path / "labels.csv", index=False)
    pd.DataFrame({"smiles": corpus}).to_csv(tmp_path / "corpus.csv", index=False)
    cfg = _cfg(encoder=str(start), emb_dim=None, num_layer=None, lr=1e-9)
    out, _ = run_distill(path, tmp_path / "corpus.csv", tmp_path / "student", cfg, data=tmp_path / "labels.csv")
    student = load_finetuned(out)
    encoder = student.members[0].encoder
    assert encoder.emb_dim == 24 and student.card["lineage"]["encoder"] == str(start)
    first = dict(load_encoder(start).named_parameters())
    assert all(torch.allclose(v.float(), first[k].float(), atol=1e-6) for k, v in encoder.named_parameters())


def test_students_are_fresh_encoders_only() -> None:
    from gnnpt.finetune.train import finetune

    with pytest.raises(ValueError, match="fresh encoder"):
        finetune(None, np.zeros((1, 1)), None, "classification", ["t"], _cfg(encoder="hu2020:gin_supervised"))


def test_any_model_kind_teaches_and_its_notes_follow_the_student(teacher, tmp_path) -> None:
    from gnnpt.finetune.auto import AutoConfig, run_auto
    from gnnpt.models.scoring import load_model

    _, data, corpus = teacher
    note = "uses third-party fingerprints"
    path, _ = run_auto(data, AutoConfig(candidates=["forest"], folds=0), tmp_path / "forest",
                       extra_card={"notes": [note]})  # fmt: skip
    forest = load_model(path)
    split = scaffold_split(data.smiles)
    prepared = distillation_set(forest, data, split, corpus)
    train = np.asarray(split.train)
    expected = Predictor(forest).predict([data.smiles[i] for i in train])[forest.task_names].to_numpy()
    np.testing.assert_allclose(prepared.targets[train], expected, atol=1e-6)
    labels = pd.DataFrame({"smiles": data.smiles, data.task_names[0]: data.targets[:, 0]})
    labels.to_csv(tmp_path / "labels.csv", index=False)
    pd.DataFrame({"smiles": corpus}).to_csv(tmp_path / "corpus.csv", index=False)
    out, _ = run_distill(path, tmp_path / "corpus.csv", tmp_path / "student", _cfg(), data=tmp_path / "labels.csv")
    card = load_finetuned(out).card
    assert card["distillation"]["teacher"]["kind"] == "ensemble"
    assert any(note in n and "forest" in n for n in card["notes"])
