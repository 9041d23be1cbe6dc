"""Heads on frozen features: they learn what the features hold, choose on validation only, skip missing rows."""

from __future__ import annotations

import numpy as np
import pytest

import gnnpt
from gnnpt.datasets.splits import Split
from gnnpt.finetune.probe import encoder_features, probe
from gnnpt.nn import HuEncoder


def _data(n: int = 300, informative: bool = True):
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, (n, 2)).astype(np.float32)
    x = rng.normal(size=(n, 8)).astype(np.float32)
    if informative:
        x[:, :2] += 2.5 * y  # task j is readable from feature j
    y[::7, 1] = np.nan  # missing labels are skipped
    idx = rng.permutation(n)
    return x, y, Split(idx[:200], idx[200:250], idx[250:])


def test_a_head_reads_what_the_features_hold() -> None:
    x, y, split = _data()
    result = probe(x, y, split, seeds=[0, 1])
    assert len(result.test) == 2 and min(result.test) > 90
    assert set(result.head) <= {"linear", "mlp"}
    noise = probe(*_data(informative=False), seeds=[0], heads=("linear",))
    assert 25 < noise.test[0] < 75


def test_a_regression_head_reports_rmse_in_target_units() -> None:
    x, _, split = _data()
    y = (10 + 3 * x[:, :1] + np.random.default_rng(1).normal(0, 0.1, (len(x), 1))).astype(np.float32)
    fitted = probe(x, y, split, seeds=[0], task_type="regression")
    spread = float(y[split.test].std())  # the RMSE of predicting the mean
    assert fitted.test[0] < 0.2 * spread and fitted.valid[0] < 0.2 * spread
    shuffled = probe(x, np.random.default_rng(2).permutation(y), split, seeds=[0], task_type="regression")
    assert shuffled.test[0] > 0.8 * spread
    with pytest.raises(ValueError, match="multiclass"):
        probe(x, y, split, task_type="multiclass")


def test_the_choice_never_looks_at_the_test_part() -> None:
    x, y, split = _data()
    shuffled = y.copy()
    shuffled[split.test] = y[split.test][::-1]
    a, b = probe(x, y, split, seeds=[0]), probe(x, shuffled, split, seeds=[0])
    assert (a.head, a.weight_decay, a.valid) == (b.head, b.weight_decay, b.valid)
    assert a.test != b.test


def test_rows_without_features_are_left_out() -> None:
    x, y, split = _data()
    rows = np.ones(len(x), bool)
    rows[split.test[:10]] = False
    x[split.test[:10]] = 1e6  # garbage that would wreck the score if used
    assert probe(x, y, split, seeds=[0], rows=rows).test[0] > 90


def test_encoder_features_are_pooled_per_molecule_with_zero_rows_for_invalid_ones() -> None:
    store = gnnpt.featurize(["CCO", "not a smiles", "c1ccccc1O"])
    features = encoder_features(HuEncoder(num_layer=2, emb_dim=16), store)
    assert features.shape == (3, 16) and (features[1] == 0).all() and np.abs(features[[0, 2]]).sum() > 0
    alone = encoder_features(HuEncoder(num_layer=2, emb_dim=16), gnnpt.featurize(["CCO"]))
    assert alone.shape == (1, 16)
    with pytest.raises(ValueError):
        probe(features, np.zeros((2, 1)), Split(np.array([0]), np.array([1]), np.array([2])))
