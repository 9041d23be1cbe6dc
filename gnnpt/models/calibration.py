"""Calibrated probabilities: Platt scaling per task, fitted on held-out scores (``auto``: cross-fitted out-of-fold
scores, :mod:`gnnpt.finetune.auto`), and the measures that show it helps (Brier score, expected calibration error) and
the reliability diagram.

Platt scaling maps a probability ``p`` to ``sigmoid(a * logit(p) + b)``: two numbers per task, monotone (ROC-AUC is
unchanged, and so are class-conditional conformal sets, which rank scores within a class), and stable on a few
hundred molecules, where isotonic regression overfits.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

EPS = 1e-6
ECE_BINS = 10


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, EPS, 1 - EPS)
    return np.log(p) - np.log1p(-p)


def fit_platt(scores: np.ndarray, labels: np.ndarray, steps: int = 200) -> tuple[np.ndarray, np.ndarray]:
    """Per task (column) the ``a``, ``b`` minimizing the log loss of ``sigmoid(a * logit(score) + b)`` on the labelled
    rows (NaN labels ignored; identity for a task with fewer than two classes); LBFGS, float64, deterministic."""
    scores, labels = np.asarray(scores, np.float64), np.asarray(labels, np.float64)
    a, b = np.ones(scores.shape[1]), np.zeros(scores.shape[1])
    for t in range(scores.shape[1]):
        known = ~np.isnan(labels[:, t]) & ~np.isnan(scores[:, t])
        y = labels[known, t]
        if np.unique(y).size < 2:
            continue
        a[t], b[t] = _platt_task(torch.from_numpy(_logit(scores[known, t])), torch.from_numpy(y), steps)
    return a, b


def _platt_task(x: torch.Tensor, target: torch.Tensor, steps: int) -> tuple[float, float]:
    params = torch.tensor([1.0, 0.0], dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([params], max_iter=steps, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = torch.nn.functional.binary_cross_entropy_with_logits(params[0] * x + params[1], target)
        loss = loss + 1e-4 * (params[0] - 1) ** 2  # keeps a separable validation part from running off
        loss.backward()
        return loss

    opt.step(closure)
    a, b = params.detach().tolist()
    return a, b


def apply_platt(scores: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Calibrated probabilities of ``scores`` [rows, tasks] (NaN stays NaN)."""
    z = np.asarray(a) * _logit(np.asarray(scores, np.float64)) + np.asarray(b)
    return (1 / (1 + np.exp(-z))).astype(np.float32)


def _pairs(scores: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    scores, labels = np.asarray(scores, np.float64).ravel(), np.asarray(labels, np.float64).ravel()
    known = ~np.isnan(labels) & ~np.isnan(scores)
    return scores[known], labels[known]


def brier(scores: np.ndarray, labels: np.ndarray) -> float:
    """Mean squared error of the probabilities over every labelled (row, task)."""
    p, y = _pairs(scores, labels)
    return float(np.mean((p - y) ** 2)) if len(y) else float("nan")


def expected_calibration_error(scores: np.ndarray, labels: np.ndarray, bins: int = ECE_BINS) -> float:
    """ECE over every labelled (row, task): the count-weighted mean |mean probability - positive rate| of ``bins``
    equal-width probability bins."""
    p, y = _pairs(scores, labels)
    if not len(y):
        return float("nan")
    which = np.minimum((p * bins).astype(int), bins - 1)
    total = 0.0
    for k in range(bins):
        inside = which == k
        if inside.any():
            total += inside.sum() * abs(p[inside].mean() - y[inside].mean())
    return float(total / len(y))


def reliability_diagram(curves: dict[str, tuple[np.ndarray, np.ndarray]], path: str | Path, title: str) -> Path:
    """A PNG of observed positive rate against mean predicted probability per bin, one line per named
    (scores, labels) pair (e.g. before and after calibration); needs matplotlib."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    ax.plot([0, 1], [0, 1], color="grey", linestyle=":", label="perfect")
    for name, (scores, labels) in curves.items():
        p, y = _pairs(scores, labels)
        which = np.minimum((p * ECE_BINS).astype(int), ECE_BINS - 1)
        used = [k for k in range(ECE_BINS) if (which == k).any()]
        ece = expected_calibration_error(scores, labels)
        ax.plot([p[which == k].mean() for k in used], [y[which == k].mean() for k in used], marker="o",
                label=f"{name} (ECE {ece:.3f})")  # fmt: skip
    ax.set(xlabel="mean predicted probability", ylabel="observed positive rate", xlim=(0, 1), ylim=(0, 1), title=title)
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
