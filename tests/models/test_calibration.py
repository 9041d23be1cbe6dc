"""Platt scaling makes over-confident probabilities honest without changing their order; ECE and Brier measure it."""

from __future__ import annotations

import numpy as np
import pytest

from gnnpt.models.calibration import (
    apply_platt,
    brier,
    expected_calibration_error,
    fit_platt,
    reliability_diagram,
)


def _overconfident(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Labels drawn with P = sigmoid(z), scores sigmoid(3 z): right order, far too sure."""
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(n, 2))
    labels = (rng.random((n, 2)) < 1 / (1 + np.exp(-z))).astype(np.float64)
    return 1 / (1 + np.exp(-3 * z)), labels


def test_ece_and_brier_of_a_hand_computed_case() -> None:
    scores, labels = np.array([0.9, 0.9, 0.1, 0.1]), np.array([1.0, 0.0, 0.0, 0.0])
    assert expected_calibration_error(scores, labels) == pytest.approx((2 * 0.4 + 2 * 0.1) / 4)
    assert brier(scores, labels) == pytest.approx((0.01 + 0.81 + 0.01 + 0.01) / 4)
    assert np.isnan(expected_calibration_error(scores, np.full(4, np.nan)))


def test_platt_fitted_on_one_part_lowers_the_error_on_another_and_keeps_the_order() -> None:
    fit_scores, fit_labels = _overconfident(3000, 0)
    scores, labels = _overconfident(3000, 1)
    labels[:100, 1] = np.nan  # missing labels are ignored
    a, b = fit_platt(fit_scores, fit_labels)
    assert a == pytest.approx([1 / 3, 1 / 3], abs=0.05)
    calibrated = apply_platt(scores, a, b)
    assert expected_calibration_error(calibrated, labels) < expected_calibration_error(scores, labels) / 2
    assert brier(calibrated, labels) < brier(scores, labels)
    for t in range(2):
        assert (np.argsort(calibrated[:, t], kind="stable") == np.argsort(scores[:, t], kind="stable")).all()


def test_a_task_with_one_class_is_left_as_it_is() -> None:
    a, b = fit_platt(np.array([[0.2], [0.7]]), np.array([[1.0], [1.0]]))
    assert (a, b) == ([1.0], [0.0])
    np.testing.assert_allclose(apply_platt(np.array([[0.3]]), a, b), [[0.3]], rtol=1e-6)


def test_the_reliability_diagram_is_a_png(tmp_path) -> None:
    pytest.importorskip("matplotlib")
    scores, labels = _overconfident(500, 2)
    path = reliability_diagram({"before": (scores, labels)}, tmp_path / "r.png", "test")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
