"""Blend weights: greedy selection, the fast scorer it runs on, and the shrinkage towards an equal blend when a
scaffold bootstrap finds that the selection rows cannot tell the candidates apart."""

from __future__ import annotations

import numpy as np
import pytest

from gnnpt.finetune.blend import Scorer, choose_blend, select_ensemble
from gnnpt.finetune.metrics import evaluate


def test_selection_adds_what_helps_and_stops() -> None:
    y = np.array([0, 0, 0, 1, 1, 1], float)
    good = np.array([0.1, 0.2, 0.7, 0.6, 0.8, 0.9])  # one pair out of order
    other = np.array([0.6, 0.1, 0.1, 0.4, 0.7, 0.8])  # another pair; averaged with good, none
    noise = 1 - good
    picks = select_ensemble({"good": good, "other": other, "noise": noise},
                            lambda p: float(np.mean(p[y == 1][:, None] > p[y == 0][None, :])), rounds=5)  # fmt: skip
    assert picks == {"good": 1, "other": 1}


def test_the_scorer_is_the_benchmark_metric() -> None:
    rng = np.random.default_rng(0)
    y = (rng.random((300, 3)) < 0.3).astype(float)
    y[rng.random((300, 3)) < 0.2] = np.nan  # missing labels
    y[:, 2] = np.where(np.isnan(y[:, 2]), np.nan, 0.0)  # a task with one class counts for nothing
    p = np.round(rng.random((300, 3)), 1)  # ties
    logits = np.log(np.clip(p, 1e-6, 1 - 1e-6)) - np.log1p(-np.clip(p, 1e-6, 1 - 1e-6))
    assert Scorer("classification", y)(p) == pytest.approx(evaluate("classification", y, logits)["roc_auc"])
    rows = rng.integers(0, 300, 300)  # a bootstrap draw: rows repeat
    assert Scorer("classification", y)(p, rows) == pytest.approx(
        evaluate("classification", y[rows], logits[rows])["roc_auc"]
    )
    values = rng.normal(size=(50, 2))
    assert Scorer("regression", values)(values + 0.5) == pytest.approx(-0.5)
    assert np.isnan(Scorer("classification", np.zeros((4, 1)))(np.zeros((4, 1))))


def _candidates(n: int, seed: int) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """``a`` and ``b``: one model twice (the same errors); ``c``: weaker alone, but with errors of its own, so that
    it helps ``a`` more than ``b`` does; ``d``: next to useless."""
    rng = np.random.default_rng(seed)
    y = (rng.random((n, 1)) < 0.5).astype(float)
    shared, own = rng.normal(size=y.shape), rng.normal(size=y.shape)
    z = {"a": 1.5 * (2 * y - 1) + shared, "b": 1.5 * (2 * y - 1) + shared, "c": 1.2 * (2 * y - 1) + own,
         "d": 0.1 * (2 * y - 1) + rng.normal(size=y.shape)}  # fmt: skip
    return {k: 1 / (1 + np.exp(-v)) for k, v in z.items()}, y


def test_few_rows_that_cannot_tell_candidates_apart_keep_the_blend_near_equal() -> None:
    preds, y = _candidates(40, 0)
    choice = choose_blend(preds, y, np.arange(40) // 2, "classification", rounds=10, resamples=100)
    assert set(choice.equal) >= {"a", "b", "c"}  # none of them is clearly worse on 40 molecules
    assert choice.trust < 0.5 and sum(choice.weights.values()) == pytest.approx(1)
    spread = [max(w.values()) - min(w[n] for n in choice.equal) for w in (choice.weights, choice.greedy)]
    assert spread[0] < spread[1]  # the final weights are closer to equal than the greedy ones


def test_many_rows_trust_a_greedy_choice_that_wins_and_drop_what_is_clearly_worse() -> None:
    preds, y = _candidates(3000, 1)
    choice = choose_blend(preds, y, np.arange(3000) // 3, "classification", rounds=10, resamples=100)
    assert choice.equal == ["a", "b"]  # c and d are below a in nearly every draw
    assert choice.greedy["c"] > 0 and choice.greedy["d"] == 0  # c's own errors make it worth a share
    assert choice.p_greedy_wins > 0.9 and choice.trust == 1 and choice.weights == choice.greedy
    scores = choice.record()["scores"]
    assert scores["a"][1] > 0 and scores["blend"][0] > scores["equal"][0]
