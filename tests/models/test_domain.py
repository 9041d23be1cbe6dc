"""Applicability domain: max Tanimoto to the training set, as RDKit computes it, saved as safetensors."""

from __future__ import annotations

import random

import numpy as np
import pytest
from rdkit import Chem, DataStructs
from rdkit.Chem import rdFingerprintGenerator
from safetensors.numpy import load_file

from gnnpt.models import domain as domain_module
from gnnpt.models.domain import DOMAIN_FILE, IN_DOMAIN_THRESHOLD, TrainingDomain, write_domain_for_model

PIECES = ["C", "CC", "N", "O", "C(=O)", "c1ccccc1", "C1CCCC1", "S", "C(C)", "C=C", "c1ccncc1", "C(F)(F)"]


def random_molecules(n: int, seed: int) -> list[str]:
    """Valid SMILES made by chaining random fragments (each piece bonds to the last atom of the previous one)."""
    rng = random.Random(seed)
    return [_canonical("".join(rng.choices(PIECES, k=rng.randint(2, 7)))) for _ in range(n)]


def _canonical(smiles: str) -> str:
    return Chem.MolToSmiles(Chem.MolFromSmiles(smiles))


def rdkit_max_similarity(train: list[str], queries: list[str]) -> np.ndarray:
    gen = rdFingerprintGenerator.GetMorganGenerator(radius=2, fpSize=2048)
    fps = [gen.GetFingerprint(Chem.MolFromSmiles(s)) for s in train]
    return np.array([max(DataStructs.BulkTanimotoSimilarity(gen.GetFingerprint(Chem.MolFromSmiles(q)), fps))
                     for q in queries])  # fmt: skip


def test_max_similarity_equals_rdkit_bulk_tanimoto() -> None:
    train, queries = random_molecules(80, seed=0), random_molecules(40, seed=1)
    sims = TrainingDomain.from_smiles(train).max_similarity(queries)
    assert sims.dtype == np.float32
    np.testing.assert_allclose(sims, rdkit_max_similarity(train, queries), rtol=1e-6)
    assert 0 < sims.min() < 1 and sims.max() <= 1


def test_blocks_give_the_same_answer(monkeypatch: pytest.MonkeyPatch) -> None:
    train, queries = random_molecules(50, seed=2), random_molecules(30, seed=3)
    whole = TrainingDomain.from_smiles(train).max_similarity(queries)
    monkeypatch.setattr(domain_module, "_TRAIN_BLOCK", 7)  # 8 training blocks, 7 x 256 B per query row
    monkeypatch.setattr(domain_module, "_BLOCK_BYTES", 7 * 256 * 4)  # 4 queries per block
    np.testing.assert_array_equal(TrainingDomain.from_smiles(train).max_similarity(queries), whole)


def test_training_molecules_are_at_similarity_one_and_invalid_queries_are_nan() -> None:
    domain = TrainingDomain.from_smiles(["CCO", "c1ccccc1O", "not a smiles"])
    sims = domain.max_similarity(["OCC", "Oc1ccccc1", "C1CC", None, "", "CCCCCCCCCCCCCCCCCC(=O)O"])
    assert sims[0] == 1.0 and sims[1] == 1.0 and np.isnan(sims[2:5]).all()
    assert sims[5] < IN_DOMAIN_THRESHOLD
    assert len(TrainingDomain.from_smiles(["CCO", "OCC", "C(C)O"])) == 1  # one fingerprint per distinct molecule


def test_save_load_round_trip_is_a_uint8_safetensors_file(tmp_path) -> None:
    domain = TrainingDomain.from_smiles(random_molecules(30, seed=4))
    path = domain.save(tmp_path)
    assert path == tmp_path / DOMAIN_FILE
    tensors = load_file(str(path))
    assert list(tensors) == ["fingerprints"] and tensors["fingerprints"].dtype == np.uint8
    loaded = TrainingDomain.load(tmp_path)
    np.testing.assert_array_equal(loaded.fingerprints, domain.fingerprints)
    queries = random_molecules(10, seed=5)
    np.testing.assert_array_equal(loaded.max_similarity(queries), domain.max_similarity(queries))
    assert TrainingDomain.load(tmp_path / "elsewhere") is None


def test_bad_inputs_say_what_to_do(tmp_path) -> None:
    with pytest.raises(ValueError, match="training SMILES"):
        TrainingDomain.from_smiles(["not a smiles", None])
    with pytest.raises(ValueError, match="from_smiles"):
        TrainingDomain(np.zeros((3, 8), np.uint8))
    with pytest.raises(FileNotFoundError, match="not a saved gnnpt model"):
        write_domain_for_model(tmp_path, ["CCO"])


def test_row_sum_path_equals_rdkit_across_query_blocks(monkeypatch) -> None:
    train, queries = random_molecules(120, seed=4), random_molecules(9, seed=5)
    monkeypatch.setattr(domain_module, "_MATMUL_QUERY_BLOCK", 4)  # blocks of 4, 4 and 1 queries
    sims = TrainingDomain.from_smiles(train).max_similarity(queries)
    np.testing.assert_allclose(sims, rdkit_max_similarity(train, queries), rtol=1e-6)


def test_row_sum_and_popcount_paths_agree(monkeypatch) -> None:
    train = ["CCO", "c1ccccc1O", "CC(=O)Oc1ccccc1C(=O)O", "CCN(CC)CC", "c1ccc2ccccc2c1", "OCC(O)CO"]
    queries = ["CCCO", "bad(", "c1ccccc1N", "", "CC(=O)Oc1ccccc1C(=O)OC", "CCO"]
    domain = TrainingDomain.from_smiles(train)
    fast = domain.max_similarity(queries)
    monkeypatch.setattr(domain_module, "_MATMUL_MAX_TRAIN", 0)
    slow = domain.max_similarity(queries)
    np.testing.assert_array_equal(np.isnan(fast), np.isnan(slow))
    np.testing.assert_allclose(fast[~np.isnan(fast)], slow[~np.isnan(slow)], rtol=0, atol=1e-6)
    assert fast[5] == 1.0 and np.isnan(fast[1]) and np.isnan(fast[3])
