"""Inductive conformal prediction: how sure each score is, with a guarantee.

Classification (per task, class-conditional / Mondrian): the nonconformity of class ``c`` for a molecule is
``1 - P(c)``; its p-value is the share of calibration molecules *of class c* at least as nonconforming. The prediction
set at confidence ``1 - e`` holds every class whose p-value exceeds ``e``: ``active``, ``inactive``, ``both`` (the
model cannot tell at this confidence) or ``none`` (unlike anything it was calibrated on). Coverage holds per class.
Regression (split conformal): the interval ``prediction ± q`` where ``q`` is the ``ceil((n + 1)(1 - e)) / n``
quantile of the calibration molecules' absolute errors. Optionally Mondrian on the applicability domain too: the
calibration molecules are binned by their max Tanimoto similarity to the training set, and each new molecule is
judged against its own bin, so molecules unlike the training set get the wider sets / intervals their errors need.
:meth:`Conformal.report` says what the sets do on labelled molecules: coverage overall and per class, set sizes."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

DEFAULT_CONFIDENCE = 0.9
SET_SUFFIX = "_set"  # a classification task's prediction-set column: text, not a number
SET_LABELS = {(False, False): "none", (True, False): "inactive", (False, True): "active", (True, True): "both"}


class Conformal:
    """Calibration scores per task, per class (classification: sorted nonconformities; regression: one "class" of
    absolute errors) and per similarity bin, each a sorted float32 array.

    ``edges``: the max-Tanimoto-similarity bin edges (Mondrian on the applicability domain); empty for one bin. With
    bins, a molecule's set / interval is calibrated on molecules as far from the training set as it is, so the
    guarantee holds for new scaffolds too instead of averaging over near and far ones. A molecule whose similarity is
    unknown (a model without a domain file) uses every bin pooled.
    """

    def __init__(self, task_type: str, scores: Sequence[Sequence[object]], edges: Sequence[float] = ()):
        if task_type not in ("classification", "regression"):
            raise ValueError(f"conformal prediction here covers classification and regression, not {task_type!r}")
        self.task_type = task_type
        self.edges = np.asarray(edges, np.float32)
        binned = len(self.edges) > 0
        self.scores = [[[np.sort(np.asarray(b, np.float32)) for b in (s if binned else [s])] for s in task]
                       for task in scores]  # fmt: skip
        self.pooled = [[np.sort(np.concatenate(bins)) for bins in task] for task in self.scores]

    @classmethod
    def fit(cls, task_type: str, predictions: np.ndarray, labels: np.ndarray, similarity: np.ndarray | None = None,
            bins: int = 3) -> Conformal:  # fmt: skip
        """From calibration predictions (probabilities or values) and labels [rows, tasks], NaN ignored;
        ``similarity``: each row's max Tanimoto similarity to the molecules its model trained on, to calibrate
        within ``bins`` similarity bins of equal size (None: one bin)."""
        predictions, labels = np.asarray(predictions, np.float64), np.asarray(labels, np.float64)
        edges: np.ndarray = np.array([], np.float32)
        if similarity is not None and bins > 1:
            known = np.asarray(similarity, np.float64)[np.isfinite(similarity)]
            edges = np.unique(np.quantile(known, np.arange(1, bins) / bins)) if len(known) else edges
        group = _bins(edges, similarity, len(labels))
        scores = []
        for t in range(labels.shape[1]):
            known = ~np.isnan(labels[:, t]) & ~np.isnan(predictions[:, t])
            per_class: list[list[np.ndarray]] = [[], []] if task_type == "classification" else [[]]
            for b in range(len(edges) + 1):
                rows = known & (group == b) if len(edges) else known
                p, y = predictions[rows, t], labels[rows, t]
                if task_type == "classification":
                    per_class[0].append(p[y < 0.5])  # 1 - P(inactive) = p
                    per_class[1].append(1 - p[y >= 0.5])  # 1 - P(active)
                else:
                    per_class[0].append(np.abs(y - p))
            scores.append(per_class if len(edges) else [c[0] for c in per_class])
        return cls(task_type, scores, edges)

    def columns(self, names: Sequence[str]) -> list[str]:
        """The columns :meth:`predict` adds for outputs ``names``."""
        if self.task_type == "classification":
            return [f"{n}{SET_SUFFIX}" for n in names]
        return [c for n in names for c in (f"{n}_lo", f"{n}_hi")]

    def predict(self, names: Sequence[str], predictions: np.ndarray, confidence: float,
                similarity: np.ndarray | None = None) -> dict[str, np.ndarray]:  # fmt: skip
        """Per task the prediction set (classification; object array of labels, None where not scored) or the
        interval bounds (regression; float32, NaN where not scored) at ``confidence`` (e.g. 0.9); ``similarity``:
        each row's max Tanimoto similarity to the training set (None or NaN: unknown)."""
        if not 0 < confidence < 1:
            raise ValueError(f"confidence must be between 0 and 1 (e.g. 0.9), not {confidence}")
        predictions = np.asarray(predictions, np.float64)
        group = _bins(self.edges, similarity, len(predictions))
        out: dict[str, np.ndarray] = {}
        for t, name in enumerate(names):
            p = predictions[:, t]
            if self.task_type == "regression":
                q = np.array([self.quantile(t, confidence, b) for b in range(-1, len(self.edges) + 1)])[group + 1]
                out[f"{name}_lo"], out[f"{name}_hi"] = (p - q).astype(np.float32), (p + q).astype(np.float32)
                continue
            keep = [self.p_values(t, c, p, similarity) > 1 - confidence for c in (0, 1)]
            labels = np.array([SET_LABELS[(bool(a), bool(b))] for a, b in zip(*keep, strict=True)], dtype=object)
            labels[np.isnan(p)] = None
            out[f"{name}{SET_SUFFIX}"] = labels
        return out

    def _calibration(self, task: int, cls: int, group: int) -> np.ndarray:
        return self.pooled[task][cls] if group < 0 else self.scores[task][cls][group]

    def p_values(self, task: int, cls: int, probabilities: np.ndarray, similarity: np.ndarray | None = None
                 ) -> np.ndarray:  # fmt: skip
        """The p-value of class ``cls`` of task ``task`` for each probability of the active class, each against the
        calibration scores of its similarity bin."""
        probabilities = np.asarray(probabilities, np.float64)
        score = probabilities if cls == 0 else 1 - probabilities
        group = _bins(self.edges, similarity, len(score))
        out = np.empty(len(score))
        for g in np.unique(group):
            calibration, rows = self._calibration(task, cls, int(g)), group == g
            at_least = len(calibration) - np.searchsorted(calibration, score[rows], side="left")
            out[rows] = (at_least + 1) / (len(calibration) + 1)
        return out

    def quantile(self, task: int, confidence: float, group: int = -1) -> float:
        """The half-width of task ``task``'s interval at ``confidence`` in similarity bin ``group`` (-1: pooled);
        infinite when too few calibration molecules can promise it."""
        errors = self._calibration(task, 0, group)
        rank = math.ceil((len(errors) + 1) * confidence)
        return float(errors[rank - 1]) if rank <= len(errors) else math.inf

    def coverage(self, names: Sequence[str], predictions: np.ndarray, labels: np.ndarray, confidence: float,
                 similarity: np.ndarray | None = None) -> float:  # fmt: skip
        """The share of labelled (row, task) pairs whose true label is in the set / interval at ``confidence``."""
        return self.report(names, predictions, labels, confidence, similarity)["coverage"]

    def report(self, names: Sequence[str], predictions: np.ndarray, labels: np.ndarray, confidence: float,
               similarity: np.ndarray | None = None) -> dict[str, float]:  # fmt: skip
        """What the sets / intervals at ``confidence`` do on labelled rows, over every labelled (row, task) pair:
        ``coverage``; classification also the coverage within each class (``coverage_inactive``,
        ``coverage_active``: the promise of class-conditional sets), the mean set size (``set_size``, classes in the
        set) and the shares of ``both`` and of empty (``none``) sets; regression the mean interval width (``width``).
        NaN where no pair counts."""
        columns = self.predict(names, predictions, confidence, similarity)
        predictions, labels = np.asarray(predictions, np.float64), np.asarray(labels, np.float64)
        y, inside, extra = [], [], []
        for t, name in enumerate(names):
            known = ~np.isnan(labels[:, t]) & ~np.isnan(predictions[:, t])
            yt = labels[known, t]
            if self.task_type == "regression":
                lo, hi = columns[f"{name}_lo"][known], columns[f"{name}_hi"][known]
                inside.append((lo <= yt) & (yt <= hi))
                extra.append(hi - lo)
            else:
                sets = columns[f"{name}{SET_SUFFIX}"][known]
                inside.append(np.isin(sets, ["both"]) | (sets == np.where(yt >= 0.5, "active", "inactive")))
                extra.append(sets)
            y.append(yt)
        y_all, hits = np.concatenate(y), np.concatenate(inside).astype(bool)
        out = {"coverage": _share(hits)}
        if self.task_type == "regression":
            out["width"] = float(np.mean(np.concatenate(extra))) if len(y_all) else math.nan
            return out
        sets = np.concatenate(extra)
        out["coverage_inactive"], out["coverage_active"] = _share(hits[y_all < 0.5]), _share(hits[y_all >= 0.5])
        sizes = np.select([sets == "both", sets == "none"], [2, 0], 1)
        out["set_size"] = float(sizes.mean()) if len(sets) else math.nan
        out["both"], out["empty"] = _share(sets == "both"), _share(sets == "none")
        return out

    def tensors(self) -> dict[str, np.ndarray]:
        """The calibration scores as named arrays (``conformal.t<task>.c<class>``, ``.b<bin>`` and
        ``conformal.edges`` with similarity bins), for safetensors."""
        if not len(self.edges):
            return {f"conformal.t{t}.c{c}": s[0] for t, task in enumerate(self.scores) for c, s in enumerate(task)}
        out = {f"conformal.t{t}.c{c}.b{b}": a for t, task in enumerate(self.scores) for c, s in enumerate(task)
               for b, a in enumerate(s)}  # fmt: skip
        return {**out, "conformal.edges": self.edges}

    @classmethod
    def from_tensors(cls, task_type: str, tasks: int, tensors: dict[str, np.ndarray]) -> Conformal:
        classes = 2 if task_type == "classification" else 1
        edges = np.asarray(tensors.get("conformal.edges", np.array([], np.float32)))
        suffixes = [f".b{b}" for b in range(len(edges) + 1)] if len(edges) else [""]
        try:
            scores = [[[tensors[f"conformal.t{t}.c{c}{b}"] for b in suffixes] for c in range(classes)]
                      for t in range(tasks)]  # fmt: skip
        except KeyError as exc:
            raise ValueError(f"the model's conformal calibration lacks {exc.args[0]}") from None
        return cls(task_type, scores if len(edges) else [[c[0] for c in t] for t in scores], edges)


def _share(flags: np.ndarray) -> float:
    return float(np.mean(flags)) if len(flags) else math.nan


def _bins(edges: np.ndarray, similarity: np.ndarray | None, rows: int) -> np.ndarray:
    """Each row's similarity bin; -1 (pooled) where the similarity is unknown or there are no bins."""
    if similarity is None or not len(edges):
        return np.full(rows, -1)
    similarity = np.asarray(similarity, np.float64)
    return np.where(np.isfinite(similarity), np.searchsorted(edges, np.nan_to_num(similarity), side="right"), -1)
