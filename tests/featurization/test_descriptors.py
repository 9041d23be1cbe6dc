"""RDKit descriptors as pretraining targets: the values RDKit gives, aligned rows, NaN for bad input, a cache."""

from __future__ import annotations

import numpy as np
import pytest
from rdkit import Chem
from rdkit.Chem import Descriptors, Fragments

from gnnpt.featurization import cache as cache_module
from gnnpt.featurization.cache import cached_features
from gnnpt.featurization.descriptors import compute_descriptors, descriptor_names, smiles_descriptors
from gnnpt.pretraining.descriptor_targets import DescriptorScaler

SMILES = ["CC(=O)Nc1ccc(O)cc1", "CCO", "not a smiles", "c1ccccc1C(=O)O", "", "CN1CCC[C@H]1c1cccnc1", "[Na+].[Cl-]"]


def test_columns_are_named_and_match_rdkit() -> None:
    names = descriptor_names()
    values = smiles_descriptors(SMILES)
    assert values.shape == (len(SMILES), len(names)) and values.dtype == np.float32
    assert len(set(names)) == len(names)
    col = {n: i for i, n in enumerate(names)}
    for row, smi in enumerate(SMILES):
        mol = Chem.MolFromSmiles(smi) if smi else None
        if mol is None:
            assert np.isnan(values[row]).all()
            continue
        assert values[row, col["TPSA"]] == pytest.approx(Descriptors.TPSA(mol), rel=1e-5)
        assert values[row, col["Crippen1"]] == pytest.approx(Descriptors.MolLogP(mol), rel=1e-5, abs=1e-5)
        assert values[row, col["HeavyAtomCount"]] == mol.GetNumHeavyAtoms()
        assert values[row, col["fr_phenol"]] == Fragments.fr_phenol(mol)
        assert values[row, col["fr_COO"]] == Fragments.fr_COO(mol)
    assert values[0, col["fr_amide"]] == 1 and values[3, col["fr_COO"]] == 1


def test_unknown_set_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="unknown descriptor set"):
        descriptor_names("all")


def test_worker_processes_give_the_serial_result() -> None:
    many = SMILES * 40
    np.testing.assert_array_equal(compute_descriptors(many, workers=2, chunk_size=50), smiles_descriptors(many))


def test_cache_returns_stored_values_without_recomputing(tmp_path, monkeypatch) -> None:
    first = cached_features(SMILES, "descriptors", cache_dir=tmp_path)
    monkeypatch.setattr("gnnpt.featurization.descriptors.compute_descriptors",
                        lambda *a, **k: pytest.fail("recomputed a cached set"))  # fmt: skip
    np.testing.assert_array_equal(cached_features(SMILES, "descriptors:fast", cache_dir=tmp_path), first)
    assert len(list(tmp_path.glob("*.npy"))) == 1
    assert cache_module.input_hash(SMILES, "x") != cache_module.input_hash(SMILES[:-1], "x")
    with pytest.raises(ValueError, match="unknown molecule features"):
        cached_features(SMILES, "ecfp", cache_dir=tmp_path)


def test_scaler_clips_outliers_and_keeps_missing_values_missing() -> None:
    rng = np.random.default_rng(0)
    values = np.column_stack([rng.normal(5, 2, 1000), np.full(1000, 3.0), rng.normal(0, 1, 1000)])
    values[0, 0] = 1e6  # one absurd molecule
    values[1, 2] = np.nan
    scaler = DescriptorScaler.fit(values)
    out = scaler.transform(values).numpy()
    assert abs(out[1:, 0].mean()) < 0.05 and abs(out[1:, 0].std() - 1) < 0.05  # the outlier did not set the scale
    assert out[0, 0] < 4  # clipped to the 99.5th percentile
    assert (out[:, 1] == 0).all()  # a constant column: zero targets, no division by zero
    assert np.isnan(out[1, 2]) and np.isfinite(np.delete(out[:, 2], 1)).all()
    with pytest.raises(ValueError, match="no finite value"):
        DescriptorScaler.fit(np.full((3, 2), np.nan))
