"""Fine-tuning metrics: OGB-identical ROC-AUC / AP / RMSE, masking, and the per-task-type evaluate()."""

from __future__ import annotations

import math

import numpy as np
import pytest
from ogb.graphproppred import Evaluator
from sklearn.metrics import roc_auc_score

from gnnpt.finetune.metrics import (
    accuracy,
    evaluate,
    mae,
    mean_roc_auc,
    multiclass_roc_auc,
    pr_auc,
    primary_metric,
    r2,
    rmse,
    roc_auc_per_task,
)

NAN = math.nan


def _sparse_binary(n: int, tasks: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Random labels with ~30% missing, task 0 without positives and task 1 without negatives."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, size=(n, tasks)).astype(np.float64)
    y[:, 0], y[:, 1] = 0.0, 1.0
    y[rng.random((n, tasks)) < 0.3] = NAN
    score = rng.normal(size=(n, tasks)) + 0.8 * np.nan_to_num(y)
    return y, score


def test_mean_roc_auc_matches_ogb_evaluator() -> None:
    y, score = _sparse_binary(200, 12)
    ours = mean_roc_auc(y, score)
    assert ours == pytest.approx(Evaluator("ogbg-moltox21").eval({"y_true": y, "y_pred": score})["rocauc"], abs=1e-12)
    per_task = roc_auc_per_task(y, score)
    assert np.isnan(per_task[:2]).all() and not np.isnan(per_task[2:]).any()
    assert ours == pytest.approx(per_task[2:].mean())
    j = 5
    present = ~np.isnan(y[:, j])
    assert per_task[j] == roc_auc_score(y[present, j], score[present, j])


def test_pr_auc_matches_ogb_average_precision() -> None:
    y, score = _sparse_binary(150, 128, seed=1)
    ogb_ap = Evaluator("ogbg-molpcba").eval({"y_true": y, "y_pred": score})["ap"]
    assert pr_auc(y, score) == pytest.approx(ogb_ap, abs=1e-12)


def test_roc_auc_undefined_everywhere_is_a_clear_error() -> None:
    y = np.array([[0.0, NAN], [0.0, 1.0], [NAN, 1.0]])
    assert np.isnan(roc_auc_per_task(y, np.zeros_like(y))).all()
    with pytest.raises(ValueError, match="undefined for every task"):
        mean_roc_auc(y, np.zeros_like(y))


def test_rmse_matches_ogb_and_regression_metrics_are_masked() -> None:
    rng = np.random.default_rng(2)
    y = rng.normal(size=(50, 1))
    y[::7] = NAN
    pred = y + rng.normal(scale=0.3, size=y.shape)
    pred[np.isnan(y)] = 1e9  # whatever is predicted for a missing target must not count
    assert rmse(y, pred) == pytest.approx(Evaluator("ogbg-molesol").eval({"y_true": y, "y_pred": pred})["rmse"])
    t = np.array([[1.0, 10.0], [2.0, NAN], [3.0, 30.0], [NAN, 20.0]])
    p = np.array([[1.5, 12.0], [2.0, 0.0], [2.0, 30.0], [0.0, 23.0]])
    assert rmse(t, p) == pytest.approx((np.sqrt((0.25 + 0 + 1) / 3) + np.sqrt((4 + 0 + 9) / 3)) / 2)
    assert mae(t, p) == pytest.approx(((0.5 + 0 + 1) / 3 + (2 + 0 + 3) / 3) / 2)
    r2_a = 1 - (0.25 + 0 + 1) / 2  # task a: mean 2, total sum of squares 2
    r2_b = 1 - (4 + 0 + 9) / 200  # task b: mean 20, total sum of squares 200
    assert r2(t, p) == pytest.approx((r2_a + r2_b) / 2)
    assert math.isnan(r2(np.array([[1.0], [1.0]]), np.array([[0.0], [2.0]])))  # constant targets: undefined


def test_binary_accuracy_thresholds_logits_or_probabilities() -> None:
    t = np.array([[1.0, 0.0], [0.0, NAN], [1.0, 1.0], [NAN, 1.0]])
    logits = np.array([[0.3, 1.0], [0.1, -5.0], [-2.0, 0.2], [-9.0, 0.4]])
    # task a: right, wrong, wrong -> 1/3; task b: wrong, right, right -> 2/3 (missing rows never count)
    assert accuracy(t, logits) == pytest.approx(0.5)
    probs = 1 / (1 + np.exp(-logits))
    assert accuracy(t, probs, from_logits=False) == pytest.approx(0.5)
    assert accuracy(t, probs) == pytest.approx((2 / 3 + 2 / 3) / 2)  # probabilities misread as logits: all positive


def test_multiclass_accuracy_and_roc_auc() -> None:
    rng = np.random.default_rng(3)
    labels = rng.integers(0, 3, size=60).astype(np.float64)
    logits = rng.normal(size=(60, 3))
    logits[np.arange(60), labels.astype(int)] += 1.0
    probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    expected_auc = roc_auc_score(labels, probs, multi_class="ovr", average="macro")
    expected_acc = float((logits.argmax(1) == labels).mean())
    noisy = np.concatenate([labels, [NAN, -1.0]])[:, None]
    noisy_logits = np.concatenate([logits, rng.normal(size=(2, 3))])
    scores = evaluate("multiclass", noisy, noisy_logits)
    assert scores == pytest.approx({"accuracy": expected_acc, "roc_auc": expected_auc})
    assert math.isnan(multiclass_roc_auc(np.zeros(5), rng.normal(size=(5, 3))))  # one class only: undefined


def test_evaluate_classification_and_regression_keys() -> None:
    y, score = _sparse_binary(80, 4, seed=4)
    out = evaluate("classification", y, score)
    assert set(out) == {"roc_auc", "pr_auc", "accuracy", "roc_auc_per_task"}
    assert out["roc_auc"] == mean_roc_auc(y, score) and len(out["roc_auc_per_task"]) == 4
    assert all(isinstance(v, float) for k, v in out.items() if k != "roc_auc_per_task")
    reg = evaluate("regression", np.arange(5.0), np.arange(5.0) + 1)
    assert reg == pytest.approx({"rmse": 1.0, "mae": 1.0, "r2": 0.5})
    with pytest.raises(ValueError, match="expected one of"):
        evaluate("ranking", y, score)


def test_primary_metric() -> None:
    assert primary_metric("classification") == ("roc_auc", True)
    assert primary_metric("regression") == ("rmse", False)
    assert primary_metric("multiclass") == ("accuracy", True)
    with pytest.raises(ValueError):
        primary_metric("ranking")
