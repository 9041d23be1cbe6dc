"""Evaluation metrics over numpy arrays with NaN for missing labels; each returns a plain float.

Multi-task scores are per-task metrics over each task's present labels, averaged over the tasks where the
metric is defined. ROC-AUC and average precision follow ``ogb.graphproppred.Evaluator`` exactly: a task
counts only if its labels hold at least one positive and one negative, the convention of the Hu et al.
(2020) and OGB leaderboards.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from sklearn.metrics import average_precision_score, r2_score, roc_auc_score

from gnnpt.finetune.tasks import check_task_type


def _as_2d(values: np.ndarray) -> np.ndarray:
    arr = np.asarray(values, dtype=np.float64)
    return arr.reshape(len(arr), -1)


def _pair(y_true: np.ndarray, y_pred: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    t, p = _as_2d(y_true), _as_2d(y_pred)
    if t.shape != p.shape:
        raise ValueError(f"y_true {t.shape} and y_pred {p.shape} differ in shape")
    return t, p


def _both_classes(labels: np.ndarray) -> bool:
    return bool((labels == 1).any() and (labels == 0).any())


def _per_task_binary(
    score: Callable[[np.ndarray, np.ndarray], float], y_true: np.ndarray, y_score: np.ndarray
) -> np.ndarray:
    t, p = _pair(y_true, y_score)
    out = np.full(t.shape[1], np.nan)
    for j in range(t.shape[1]):
        present = ~np.isnan(t[:, j])
        if _both_classes(t[present, j]):
            out[j] = score(t[present, j], p[present, j])
    return out


def _task_mean(per_task: np.ndarray, what: str) -> float:
    defined = per_task[~np.isnan(per_task)]
    if defined.size == 0:
        raise ValueError(f"{what} is undefined for every task (no task has the labels it needs)")
    return float(defined.mean())


def roc_auc_per_task(y_true: np.ndarray, y_score: np.ndarray) -> np.ndarray:
    """ROC-AUC of each task over its present labels; NaN where those lack a positive or a negative."""
    return _per_task_binary(roc_auc_score, y_true, y_score)


def mean_roc_auc(y_true: np.ndarray, y_score: np.ndarray) -> float:
    """Mean ROC-AUC over the tasks with both classes present (OGB's 'rocauc'); ValueError if there are none."""
    return _task_mean(roc_auc_per_task(y_true, y_score), "ROC-AUC")


def pr_auc(y_true: np.ndarray, y_score: np.ndarray) -> float:
    """Mean average precision over the tasks with both classes present (OGB's 'ap'); ValueError if none."""
    return _task_mean(_per_task_binary(average_precision_score, y_true, y_score), "average precision")


def accuracy(y_true: np.ndarray, y_pred: np.ndarray, from_logits: bool = True, multiclass: bool = False) -> float:
    """Fraction of present labels predicted right.

    Binary (multi-task): ``y_pred`` [n, tasks] is thresholded at 0 (logits) or 0.5 (probabilities,
    ``from_logits=False``); the per-task accuracies are averaged over tasks with any label. Multiclass:
    ``y_pred`` [n, classes] (logits or probabilities alike) is argmaxed against labels [n] or [n, 1],
    where NaN or negative means missing.
    """
    if multiclass:
        labels = _as_2d(y_true)[:, 0]
        scores = np.asarray(y_pred, dtype=np.float64)
        if scores.ndim != 2 or len(scores) != len(labels) or _as_2d(y_true).shape[1] != 1:
            raise ValueError(f"expected labels [n] and scores [n, classes]; got {np.shape(y_true)}, {scores.shape}")
        present = ~np.isnan(labels) & (labels >= 0)
        if not present.any():
            raise ValueError("accuracy is undefined: no label present")
        return float((scores[present].argmax(1) == labels[present]).mean())
    t, p = _pair(y_true, y_pred)
    predicted = p > (0.0 if from_logits else 0.5)
    per_task = np.full(t.shape[1], np.nan)
    for j in range(t.shape[1]):
        present = ~np.isnan(t[:, j])
        if present.any():
            per_task[j] = ((t[present, j] > 0.5) == predicted[present, j]).mean()
    return _task_mean(per_task, "accuracy")


def _per_task_regression(
    score: Callable[[np.ndarray, np.ndarray], float], y_true: np.ndarray, y_pred: np.ndarray, min_labels: int = 1
) -> np.ndarray:
    t, p = _pair(y_true, y_pred)
    out = np.full(t.shape[1], np.nan)
    for j in range(t.shape[1]):
        present = ~np.isnan(t[:, j])
        if present.sum() >= min_labels:
            out[j] = score(t[present, j], p[present, j])
    return out


def rmse(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Root mean squared error per task over present targets, averaged over tasks (OGB's 'rmse')."""
    per_task = _per_task_regression(lambda t, p: float(np.sqrt(np.mean((t - p) ** 2))), y_true, y_pred)
    return _task_mean(per_task, "RMSE")


def mae(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Mean absolute error per task over present targets, averaged over tasks."""
    return _task_mean(_per_task_regression(lambda t, p: float(np.mean(np.abs(t - p))), y_true, y_pred), "MAE")


def r2(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Coefficient of determination per task, averaged over tasks with two or more non-constant targets.

    Unlike the error metrics this is NaN, not an error, when no task qualifies (a tiny or constant split):
    it is descriptive, never the selection metric.
    """

    def score(t: np.ndarray, p: np.ndarray) -> float:
        return float(r2_score(t, p)) if np.ptp(t) > 0 else np.nan

    per_task = _per_task_regression(score, y_true, y_pred, min_labels=2)
    return float(np.nanmean(per_task)) if not np.isnan(per_task).all() else float("nan")


def _softmax(logits: np.ndarray) -> np.ndarray:
    z = np.exp(logits - logits.max(axis=1, keepdims=True))
    return z / z.sum(axis=1, keepdims=True)


def multiclass_roc_auc(labels: np.ndarray, logits: np.ndarray) -> float:
    """One-vs-rest macro ROC-AUC on softmax probabilities, over the classes both present and absent
    among the present labels (sklearn's ``multi_class="ovr"`` when every class occurs); NaN if none."""
    y = _as_2d(labels)[:, 0]
    probs = _softmax(np.asarray(logits, dtype=np.float64))
    present = ~np.isnan(y) & (y >= 0)
    y, probs = y[present], probs[present]
    scores = [roc_auc_score(y == c, probs[:, c]) for c in range(probs.shape[1]) if 0 < (y == c).sum() < len(y)]
    return float(np.mean(scores)) if scores else float("nan")


def evaluate(task_type: str, y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    """All metrics for ``task_type`` from raw model outputs.

    ``y_pred`` is logits for classification, values in target units for regression (``inverse`` a
    standardized model first) and logits [n, classes] for multiclass. Classification raises ValueError if
    no task has both classes; its ``roc_auc_per_task`` entry is a list with NaN for undefined tasks.
    """
    check_task_type(task_type)
    if task_type == "classification":
        return {
            "roc_auc": mean_roc_auc(y_true, y_pred),
            "pr_auc": pr_auc(y_true, y_pred),
            "accuracy": accuracy(y_true, y_pred, from_logits=True),
            "roc_auc_per_task": roc_auc_per_task(y_true, y_pred).tolist(),
        }
    if task_type == "regression":
        return {"rmse": rmse(y_true, y_pred), "mae": mae(y_true, y_pred), "r2": r2(y_true, y_pred)}
    return {"accuracy": accuracy(y_true, y_pred, multiclass=True), "roc_auc": multiclass_roc_auc(y_true, y_pred)}


def primary_metric(task_type: str) -> tuple[str, bool]:
    """(metric name in :func:`evaluate`'s result, higher is better) used for model selection."""
    return {"classification": ("roc_auc", True), "regression": ("rmse", False), "multiclass": ("accuracy", True)}[
        check_task_type(task_type)
    ]


def table_value(task_type: str, value: float) -> float:
    """A primary-metric value as result tables show it: ROC-AUC in %, RMSE in target units (``value`` unsigned)."""
    return 100 * value if task_type == "classification" else value


def table_score(task_type: str, y: np.ndarray, pred: np.ndarray) -> float:
    """The primary metric of ``pred`` (probabilities, logits or values; NaN: no prediction, the row is skipped) as
    result tables show it, NaN when undefined (no task with both classes, or no label)."""
    try:
        if task_type == "classification":
            return 100 * mean_roc_auc(y, pred)
        return rmse(np.where(np.isnan(pred), np.nan, y), np.nan_to_num(pred))
    except ValueError:
        return float("nan")


def worse_beyond_spread(score: float, baseline_mean: float, baseline_std: float, higher_is_better: bool = True) -> bool:
    """Negative transfer as the benchmark flags it: ``score`` is worse than the baseline's mean by more than the
    baseline's standard deviation over seeds (a difference inside the seeds' spread is not called)."""
    if higher_is_better:
        return score < baseline_mean - baseline_std
    return score > baseline_mean + baseline_std
