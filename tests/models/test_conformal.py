"""Conformal prediction sets and intervals cover the truth as often as promised on exchangeable data."""

from __future__ import annotations

import math

import numpy as np
import pytest

from gnnpt.models.conformal import Conformal


def _classification(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    p = rng.random((n, 2))
    return p, (rng.random((n, 2)) < p).astype(np.float64)


@pytest.mark.parametrize("confidence", [0.8, 0.9])
def test_class_conditional_sets_cover_each_class_at_the_nominal_rate(confidence: float) -> None:
    scores, labels = _classification(4000, 0)
    conformal = Conformal.fit("classification", scores, labels)
    new_scores, new_labels = _classification(4000, 1)
    assert conformal.coverage(["a", "b"], new_scores, new_labels, confidence) == pytest.approx(confidence, abs=0.02)
    sets = conformal.predict(["a", "b"], new_scores, confidence)["a_set"]
    for label in (0.0, 1.0):  # Mondrian: the guarantee holds within each class
        rows = new_labels[:, 0] == label
        wanted = "active" if label else "inactive"
        inside = np.isin(sets[rows], [wanted, "both"]).mean()
        assert inside == pytest.approx(confidence, abs=0.03)


def test_p_values_count_the_calibration_scores_at_least_as_strange() -> None:
    conformal = Conformal("classification", [[np.array([0.1, 0.2, 0.3, 0.4]), np.array([0.5, 0.6, 0.7, 0.8])]])
    # inactive: nonconformity = p(active); 0.25 -> two of four calibration scores are >= 0.25
    assert conformal.p_values(0, 0, np.array([0.25]))[0] == pytest.approx(3 / 5)
    # active: nonconformity = 1 - p; p = 0.45 -> 0.55, met by 0.6, 0.7, 0.8
    assert conformal.p_values(0, 1, np.array([0.45]))[0] == pytest.approx(4 / 5)
    sets = conformal.predict(["t"], np.array([[0.05], [0.99], [np.nan]]), 0.5)["t_set"]
    assert sets.tolist() == ["inactive", "active", None]


def test_regression_intervals_use_the_finite_sample_quantile() -> None:
    errors_from = np.arange(1, 10, dtype=np.float64)[:, None]  # |y - pred| = 1..9
    conformal = Conformal.fit("regression", np.zeros((9, 1)), errors_from)
    assert conformal.quantile(0, 0.8) == 8.0  # rank ceil(10 * 0.8) = 8
    assert conformal.quantile(0, 0.9) == 9.0
    assert math.isinf(conformal.quantile(0, 0.95))  # nine errors cannot promise 95%
    columns = conformal.predict(["y"], np.array([[1.0]]), 0.8)
    assert (columns["y_lo"][0], columns["y_hi"][0]) == (-7.0, 9.0)
    assert conformal.columns(["y"]) == ["y_lo", "y_hi"]


def test_calibration_scores_survive_tensors() -> None:
    scores, labels = _classification(50, 3)
    conformal = Conformal.fit("classification", scores, labels)
    again = Conformal.from_tensors("classification", 2, conformal.tensors())
    np.testing.assert_array_equal(again.p_values(1, 1, scores[:, 1]), conformal.p_values(1, 1, scores[:, 1]))
    with pytest.raises(ValueError, match=r"conformal\.t1\.c0"):
        Conformal.from_tensors("classification", 2, {"conformal.t0.c0": np.zeros(1), "conformal.t0.c1": np.zeros(1)})
    with pytest.raises(ValueError, match="between 0 and 1"):
        conformal.predict(["a", "b"], scores, 90)


def _shifted(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Values whose errors grow as the similarity to the training set falls (new scaffolds are harder)."""
    rng = np.random.default_rng(seed)
    similarity = rng.random(n)
    labels = rng.normal(size=(n, 1)) * (0.2 + 2 * (1 - similarity))[:, None]
    return np.zeros((n, 1)), labels, similarity


def test_similarity_bins_keep_the_promise_for_molecules_unlike_the_training_set() -> None:
    pred, labels, similarity = _shifted(6000, 0)
    pooled = Conformal.fit("regression", pred, labels)
    binned = Conformal.fit("regression", pred, labels, similarity, bins=3)
    assert len(binned.edges) == 2
    new_pred, new_labels, new_similarity = _shifted(6000, 1)
    far = new_similarity < binned.edges[0]  # a test part of new scaffolds: the least similar bin
    assert pooled.coverage(["y"], new_pred[far], new_labels[far], 0.8) < 0.72  # the pooled interval is too narrow
    assert binned.coverage(["y"], new_pred[far], new_labels[far], 0.8, new_similarity[far]) == pytest.approx(
        0.8, abs=0.03
    )
    assert binned.coverage(["y"], new_pred, new_labels, 0.8, new_similarity) == pytest.approx(0.8, abs=0.02)
    near = binned.predict(["y"], np.zeros((2, 1)), 0.8, np.array([0.95, np.nan]))  # unknown similarity: pooled
    assert near["y_hi"][0] < near["y_hi"][1] == pytest.approx(binned.quantile(0, 0.8, -1))
    again = Conformal.from_tensors("regression", 1, binned.tensors())
    np.testing.assert_array_equal(again.edges, binned.edges)
    assert again.coverage(["y"], new_pred, new_labels, 0.8, new_similarity) == binned.coverage(
        ["y"], new_pred, new_labels, 0.8, new_similarity
    )


def test_similarity_bins_are_class_conditional_too() -> None:
    scores, labels = _classification(3000, 4)
    similarity = np.random.default_rng(5).random(3000)
    binned = Conformal.fit("classification", scores, labels, similarity, bins=2)
    assert len(binned.scores[0]) == 2 and len(binned.scores[0][1]) == 2  # classes x bins
    new_scores, new_labels = _classification(3000, 6)
    new_similarity = np.random.default_rng(7).random(3000)
    coverage = binned.coverage(["a", "b"], new_scores, new_labels, 0.9, new_similarity)
    assert coverage == pytest.approx(0.9, abs=0.02)
    again = Conformal.from_tensors("classification", 2, binned.tensors())
    np.testing.assert_array_equal(
        again.p_values(0, 1, new_scores[:, 0], new_similarity), binned.p_values(0, 1, new_scores[:, 0], new_similarity)
    )


def test_the_report_counts_coverage_per_class_set_sizes_and_widths() -> None:
    conformal = Conformal("classification", [[np.array([0.125, 0.25, 0.375, 0.5]),
                                              np.array([0.5, 0.625, 0.75, 0.875])]])  # fmt: skip
    # at 50% a class stays when its p-value exceeds 0.5 (see the p-value test): 0.05 -> inactive, 0.99 -> active,
    # 0.3125 -> both (p-values 3/5, 3/5), 0.45 -> active
    p = np.array([[0.05], [0.99], [0.3125], [0.45], [np.nan]])
    y = np.array([[0.0], [0.0], [1.0], [0.0], [1.0]])
    assert conformal.predict(["t"], p, 0.5)["t_set"].tolist() == ["inactive", "active", "both", "active", None]
    report = conformal.report(["t"], p, y, 0.5)
    assert report == pytest.approx({"coverage": 2 / 4, "coverage_inactive": 1 / 3, "coverage_active": 1.0,
                                    "set_size": 5 / 4, "both": 1 / 4, "empty": 0.0})  # fmt: skip
    assert report["coverage"] == conformal.coverage(["t"], p, y, 0.5)
    errors = Conformal.fit("regression", np.zeros((9, 1)), np.arange(1, 10, dtype=np.float64)[:, None])
    wide = errors.report(["y"], np.zeros((2, 1)), np.array([[7.5], [8.5]]), 0.8)
    assert wide == {"coverage": 0.5, "width": 16.0}  # intervals of +-8
    assert np.isnan(errors.report(["y"], np.zeros((1, 1)), np.full((1, 1), np.nan), 0.8)["coverage"])
