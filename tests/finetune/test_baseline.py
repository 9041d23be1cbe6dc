"""The ECFP4 + random-forest baseline: fingerprint alignment, invalid SMILES, and a separable toy problem."""

from __future__ import annotations

import math

import numpy as np
import pytest
from rdkit import Chem
from rdkit.Chem import AllChem, DataStructs

from gnnpt.finetune.baseline import ecfp4, fit_predict_ecfp
from gnnpt.finetune.metrics import mean_roc_auc, rmse

# Each backbone once as an alcohol and once as a primary amine: the only signal is the nitrogen.
BACKBONES = [
    "C", "CC", "CCC", "CC(C)", "CCCC", "CC(C)C", "CC(C)(C)C", "CCCCC", "c1ccccc1C", "C1CCCCC1C",
    "COCC", "CCOCC", "c1ccc(cc1)CC", "CC=CC", "C#CC", "FCC", "ClCC", "CSCC", "C1CC1C", "CC(=O)CC",
]  # fmt: skip


def test_ecfp4_matches_rdkit_morgan_bits_and_flags_invalid_rows() -> None:
    smiles = ["CCO", "not a smiles", "c1ccccc1O", "", None, "C1CC"]
    fps, valid = ecfp4(smiles)  # type: ignore[arg-type]
    assert fps.shape == (6, 2048) and fps.dtype == np.uint8 and valid.tolist() == [True, False, True] + [False] * 3
    assert not fps[~valid].any()
    for i in (0, 2):
        ref = AllChem.GetMorganFingerprintAsBitVect(Chem.MolFromSmiles(smiles[i]), 2, nBits=2048)
        bits = np.zeros(2048, dtype=np.uint8)
        DataStructs.ConvertToNumpyArray(ref, bits)
        assert np.array_equal(fps[i], bits)
    assert ecfp4(["CCO"], radius=1, n_bits=64)[0].shape == (1, 64)


def _toy(seed: int) -> tuple[list[str], np.ndarray]:
    """40 shuffled SMILES and their has-nitrogen labels."""
    smiles = [backbone + group for backbone in BACKBONES for group in ("O", "N")]
    has_n = np.array([group == "N" for _ in BACKBONES for group in ("O", "N")], dtype=np.float64)
    order = np.random.default_rng(seed).permutation(len(smiles))
    return [smiles[i] for i in order], has_n[order]


def test_random_forest_separates_nitrogen_on_held_out_rows() -> None:
    smiles, has_n = _toy(seed=0)
    train, test = slice(0, 28), slice(28, None)
    scores = fit_predict_ecfp(smiles[train], has_n[train], smiles[test], "classification", n_estimators=100, n_jobs=1)
    assert scores.shape == (12, 1) and ((scores >= 0) & (scores <= 1)).all()
    assert mean_roc_auc(has_n[test][:, None], scores) > 0.9


def test_regression_forest_and_invalid_predict_rows() -> None:
    smiles, has_n = _toy(seed=1)
    y = 3.0 * has_n
    pred = fit_predict_ecfp(smiles[:30], y[:30], [*smiles[30:], "C1CC("], "regression", n_estimators=100, n_jobs=1)
    assert pred.shape == (11, 1) and np.isnan(pred[-1]).all() and np.isfinite(pred[:-1]).all()
    assert rmse(y[30:, None], pred[:-1]) < 0.5 * np.std(y[30:])


def test_sparse_multitask_labels_single_class_tasks_and_invalid_smiles() -> None:
    smiles, has_n = _toy(seed=2)
    n = len(smiles)
    targets = np.stack([has_n, np.zeros(n), np.full(n, np.nan)], axis=1)
    targets[::3, 0] = np.nan  # missing labels are skipped, not read as negatives
    train_smiles = [*smiles[:30], "xx", "C1CC("]  # unparsable training rows are skipped too
    train_targets = np.concatenate([targets[:30], [[1.0, 1.0, 1.0], [0.0, 1.0, 0.0]]])
    predict = [*smiles[30:], "xx"]
    out = fit_predict_ecfp(train_smiles, train_targets, predict, "classification", n_estimators=50, n_jobs=1)
    assert out.shape == (11, 3)
    assert np.isnan(out[-1]).all()  # invalid predict SMILES: NaN row
    assert (out[:-1, 1] == 0.0).all()  # one class in training: that constant
    assert np.isnan(out[:, 2]).all()  # no training label at all
    assert mean_roc_auc(has_n[30:, None], out[:-1, :1]) > 0.9
    again = fit_predict_ecfp(train_smiles, train_targets, predict, "classification", n_estimators=50, n_jobs=1)
    assert np.array_equal(again, out, equal_nan=True)  # seeded


def test_multiclass_is_refused() -> None:
    with pytest.raises(ValueError, match="multiclass"):
        fit_predict_ecfp(["CCO"], np.array([1.0]), ["CCO"], "multiclass")
    assert math.isnan(fit_predict_ecfp(["CCO"], np.array([np.nan]), ["CCN"], "regression")[0, 0])
