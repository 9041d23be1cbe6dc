"""Inductive conformal prediction, calibrated on the validation part: how sure each score is, with a guarantee.

Classification (per task, class-conditional / Mondrian): the nonconformity of class ``c`` for a molecule is
``1 - P(c)``; its p-value is the share of validation molecules *of class c* at least as nonconforming. The prediction
set at confidence ``1 - e`` holds every class whose p-value exceeds ``e``: ``active``, ``inactive``, ``both`` (the
model cannot tell at this confidence) or ``none`` (unlike anything it was calibrated on). Coverage holds per class.
Regression (split conformal): the interval ``prediction ± q`` where ``q`` is the ``ceil((n + 1)(1 - e)) / n``
quantile of the validation part's absolute errors.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

DEFAULT_CONFIDENCE = 0.9
SET_SUFFIX = "_set"  # a classification task's prediction-set column: text, not a number
SET_LABELS = {(False, False): "none", (True, False): "inactive", (False, True): "active", (True, True): "both"}


class Conformal:
    """Calibration scores per task: sorted nonconformities per class (classification) or absolute errors
    (regression), each a float32 array."""

    def __init__(self, task_type: str, scores: Sequence[Sequence[np.ndarray]]):
        if task_type not in ("classification", "regression"):
            raise ValueError(f"conformal prediction here covers classification and regression, not {task_type!r}")
        self.task_type = task_type
        self.scores = [[np.sort(np.asarray(s, np.float32)) for s in task] for task in scores]

    @classmethod
    def fit(cls, task_type: str, predictions: np.ndarray, labels: np.ndarray) -> Conformal:
        """From the validation part's predictions (probabilities or values) and labels [rows, tasks], NaN ignored."""
        predictions, labels = np.asarray(predictions, np.float64), np.asarray(labels, np.float64)
        scores = []
        for t in range(labels.shape[1]):
            known = ~np.isnan(labels[:, t]) & ~np.isnan(predictions[:, t])
            p, y = predictions[known, t], labels[known, t]
            if task_type == "classification":
                scores.append([p[y < 0.5], 1 - p[y >= 0.5]])  # 1 - P(inactive) = p; 1 - P(active)
            else:
                scores.append([np.abs(y - p)])
        return cls(task_type, scores)

    def columns(self, names: Sequence[str]) -> list[str]:
        """The columns :meth:`predict` adds for outputs ``names``."""
        if self.task_type == "classification":
            return [f"{n}{SET_SUFFIX}" for n in names]
        return [c for n in names for c in (f"{n}_lo", f"{n}_hi")]

    def predict(self, names: Sequence[str], predictions: np.ndarray, confidence: float) -> dict[str, np.ndarray]:
        """Per task the prediction set (classification; object array of labels, None where not scored) or the
        interval bounds (regression; float32, NaN where not scored) at ``confidence`` (e.g. 0.9)."""
        if not 0 < confidence < 1:
            raise ValueError(f"confidence must be between 0 and 1 (e.g. 0.9), not {confidence}")
        predictions = np.asarray(predictions, np.float64)
        out: dict[str, np.ndarray] = {}
        for t, name in enumerate(names):
            p = predictions[:, t]
            if self.task_type == "regression":
                q = self.quantile(t, confidence)
                out[f"{name}_lo"], out[f"{name}_hi"] = (p - q).astype(np.float32), (p + q).astype(np.float32)
                continue
            keep = [self.p_values(t, c, p) > 1 - confidence for c in (0, 1)]
            labels = np.array([SET_LABELS[(bool(a), bool(b))] for a, b in zip(*keep, strict=True)], dtype=object)
            labels[np.isnan(p)] = None
            out[f"{name}{SET_SUFFIX}"] = labels
        return out

    def p_values(self, task: int, cls: int, probabilities: np.ndarray) -> np.ndarray:
        """The p-value of class ``cls`` of task ``task`` for each probability of the active class."""
        calibration = self.scores[task][cls]
        score = np.asarray(probabilities, np.float64) if cls == 0 else 1 - np.asarray(probabilities, np.float64)
        at_least = len(calibration) - np.searchsorted(calibration, score, side="left")
        return (at_least + 1) / (len(calibration) + 1)

    def quantile(self, task: int, confidence: float) -> float:
        """The half-width of task ``task``'s interval at ``confidence`` (infinite when the validation part is too
        small to promise it)."""
        errors = self.scores[task][0]
        rank = math.ceil((len(errors) + 1) * confidence)
        return float(errors[rank - 1]) if rank <= len(errors) else math.inf

    def coverage(self, names: Sequence[str], predictions: np.ndarray, labels: np.ndarray, confidence: float) -> float:
        """The share of labelled (row, task) pairs whose true label is in the set / interval at ``confidence``."""
        columns = self.predict(names, predictions, confidence)
        hits, total = 0, 0
        for t, name in enumerate(names):
            y = np.asarray(labels, np.float64)[:, t]
            known = ~np.isnan(y) & ~np.isnan(np.asarray(predictions, np.float64)[:, t])
            if self.task_type == "regression":
                inside = (columns[f"{name}_lo"] <= y) & (y <= columns[f"{name}_hi"])
            else:
                sets = columns[f"{name}{SET_SUFFIX}"]
                inside = np.array([s in ("both", "active" if v >= 0.5 else "inactive") for s, v in zip(sets, y,
                                   strict=True)])  # fmt: skip
            hits, total = hits + int(inside[known].sum()), total + int(known.sum())
        return hits / total if total else float("nan")

    def tensors(self) -> dict[str, np.ndarray]:
        """The calibration scores as named arrays (``conformal.t<task>.c<class>``), for safetensors."""
        return {f"conformal.t{t}.c{c}": s for t, task in enumerate(self.scores) for c, s in enumerate(task)}

    @classmethod
    def from_tensors(cls, task_type: str, tasks: int, tensors: dict[str, np.ndarray]) -> Conformal:
        classes = 2 if task_type == "classification" else 1
        try:
            return cls(task_type, [[tensors[f"conformal.t{t}.c{c}"] for c in range(classes)] for t in range(tasks)])
        except KeyError as exc:
            raise ValueError(f"the model's conformal calibration lacks {exc.args[0]}") from None
