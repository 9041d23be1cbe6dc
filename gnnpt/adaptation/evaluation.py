"""Did adaptation pay? The job's recipe cross-validated by scaffold on the chemist's labels, beside the same recipe
without the adapted encoder and two peers on the same folds (ECFP4 + forest, MiniMol + head: auto's own candidates of
each fold, trained on the same rows), the paired difference over folds with its uncertainty, calibration and
per-class conformal coverage on the held-out folds, and the share of the unlabeled library in the model's domain."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from scipy import stats

from gnnpt.adaptation.recipe import ADAPTED, training_parts
from gnnpt.datasets.splits import scaffold_folds
from gnnpt.finetune.auto import COVERAGE_LEVELS, AutoConfig, train_auto
from gnnpt.finetune.blend import Scorer
from gnnpt.finetune.metrics import primary_metric
from gnnpt.finetune.run import LabeledData
from gnnpt.models.domain import IN_DOMAIN_THRESHOLD, TrainingDomain
from gnnpt.store.packed import PackedGraphs

METHODS = {"recipe": "the job's recipe (auto with the adapted encoder)",
           "without_adaptation": "the same recipe without the adapted encoder",
           "forest": "ECFP4 + random forest", "minimol": "MiniMol + MLP head"}  # fmt: skip
DIGITS = 4  # every number of the report, as JSON gives it and the page shows it
CONFIDENCE = 0.95  # of the paired difference's interval


def rounded(value: float | None) -> float | None:
    """``value`` as the report gives it (None for NaN)."""
    return None if value is None or not math.isfinite(value) else round(float(value), DIGITS) + 0.0  # no -0.0


def cross_validate(data: LabeledData, cfg: AutoConfig, folds: int, repeats: int, store: PackedGraphs,
                   done: Callable[[float], None] | None = None,
                   log: Callable[[str], None] | None = None) -> dict[str, Any]:  # fmt: skip
    """``repeats`` x ``folds`` scaffold cross-validation of the recipe ``cfg``; each fold's auto is the recipe trained
    on the other folds, its candidates the peers and its selection rows the recipe without the adapted encoder.
    ``done``: told the share of the work done after every fit (and may raise to stop); ``log``: a line per fold."""
    metric, higher = primary_metric(data.task_type)
    sign = 1 if higher else -1
    scorer = Scorer(data.task_type, data.targets)
    everything = np.arange(len(data.smiles))
    scores: dict[str, list[float | None]] = {m: [] for m in METHODS}
    calibration: list[dict[str, float]] = []
    notes: list[str] = []
    total = folds * repeats
    for repeat in range(repeats):
        for k, test in enumerate(scaffold_folds(data.smiles, everything, folds, seed=repeat)):
            where = f"repeat {repeat + 1}, fold {k + 1}" if repeats > 1 else f"fold {k + 1}"
            parts = training_parts(data.smiles, np.setdiff1d(everything, test), test, seed=repeat)
            index = repeat * folds + k
            fits = None if done is None else (lambda fit, fits, i=index: done((i + fit / fits) / total))
            try:
                result = train_auto(data.smiles, data.targets, parts, data.task_type, data.task_names, cfg,
                                    store=store, steps=fits)  # fmt: skip
            except ValueError as exc:  # a fold whose training part cannot train the recipe (one class, too few)
                notes.append(f"{where}: not scored ({exc})")
                for m in METHODS:
                    scores[m].append(None)
                continue
            fold = _fold_scores(result, scorer, test, sign)
            for m in METHODS:
                scores[m].append(fold.get(m))
            if fold["recipe"] is None:
                notes.append(f"{where} ({len(test)} molecules) holds one class of every task: no {metric} there")
            calibration.append(_fold_calibration(result.record, data.targets[test], data.task_type))
            if log is not None:
                log(f"{where} of {total}: {metric} " + ", ".join(f"{m} {v}" for m, v in fold.items()))
    return {"metric": metric, "higher_is_better": higher, "folds": folds, "repeats": repeats,
            "methods": {m: _summary(METHODS[m], v) for m, v in scores.items() if any(s is not None for s in v)},
            "comparison": paired(scores["recipe"], scores["without_adaptation"], sign),
            "calibration": _pooled(calibration, data.task_type), "notes": notes}  # fmt: skip


def _fold_scores(result: Any, scorer: Scorer, test: np.ndarray, sign: int) -> dict[str, float | None]:
    """The held-out fold's metric (as it reads) of the recipe, the recipe without the adapted encoder and the peers."""
    chosen = result.record["test"]
    out = {"recipe": chosen}
    names = list(result.candidates)
    if ADAPTED in names:
        out["without_adaptation"] = scorer(result.selection.blend([n for n in names if n != ADAPTED]), test)
    for peer in ("forest", "minimol"):
        if peer in names:
            out[peer] = result.candidates[peer]["test"]
    return {m: (rounded(sign * v) if v is not None and math.isfinite(v) else None) for m, v in out.items()}


def _summary(label: str, values: Sequence[float | None]) -> dict[str, Any]:
    known = np.array([v for v in values if v is not None], np.float64)
    return {"label": label, "mean": rounded(known.mean()) if len(known) else None,
            "std": rounded(known.std(ddof=1)) if len(known) > 1 else None, "folds": list(values)}  # fmt: skip


def paired(recipe: Sequence[float | None], without: Sequence[float | None], sign: int) -> dict[str, Any]:
    """The recipe's gain over the recipe without the adapted encoder, fold by fold (positive: adapting helped), its
    mean with a t interval, and a verdict that says "no evidence" where the interval crosses 0. Folds of one data
    set are not independent, so the interval is, if anything, too narrow."""
    pairs = [(a, b) for a, b in zip(recipe, without, strict=True) if a is not None and b is not None]
    gains = np.array([sign * (a - b) for a, b in pairs], np.float64)
    out: dict[str, Any] = {"gains": [rounded(g) for g in gains], "mean": None, "ci": None}
    if len(gains) < 2:
        out["verdict"] = ("no evidence: the adapted encoder was not a candidate" if not len(without) or
                          all(b is None for b in without) else "no evidence: fewer than 2 folds compare")  # fmt: skip
        return out
    mean, sd = gains.mean(), gains.std(ddof=1)
    half = stats.t.ppf(0.5 + CONFIDENCE / 2, len(gains) - 1) * sd / math.sqrt(len(gains))
    lo, hi = mean - half, mean + half
    out.update(mean=rounded(mean), ci=[rounded(lo), rounded(hi)])
    shown = f"{mean:+.4f} (95% interval {lo:+.4f} to {hi:+.4f}, {len(gains)} folds)"
    if sd == 0 and mean == 0:
        out["verdict"] = "no difference: the recipe chose the same blend with and without the adapted encoder"
    elif lo > 0:
        out["verdict"] = f"adaptation paid: {shown}"
    elif hi < 0:
        out["verdict"] = f"adaptation cost: {shown}"
    else:
        out["verdict"] = f"no evidence either way: the folds disagree, {shown}"
    return out


def _fold_calibration(record: dict[str, Any], labels: np.ndarray, task_type: str) -> dict[str, float]:
    """A held-out fold's calibration error and conformal coverage (auto's own record of its test part), with the
    counts that weigh it when folds are pooled."""
    out = {k: v for k, v in record["conformal"].items() if math.isfinite(v)}
    if task_type == "classification":
        out.update({k: record["calibration"][f"{k}_test"] for k in ("ece_before", "ece_after")})
    known = labels[~np.isnan(labels)]
    out.update(n_overall=len(known), n_inactive=int((known < 0.5).sum()), n_active=int((known >= 0.5).sum()))
    return out


def _pooled(folds: list[dict[str, float]], task_type: str) -> dict[str, Any]:
    """Over the held-out folds: each measure weighted by the labels it counts (a class's coverage by that class)."""
    if not folds:
        return {}

    def mean(key: str, weight: str) -> float | None:
        pairs = [(f[key], f[weight]) for f in folds if key in f and math.isfinite(f[key]) and f[weight] > 0]
        return rounded(sum(v * w for v, w in pairs) / sum(w for _, w in pairs)) if pairs else None

    out: dict[str, Any] = {}
    if task_type == "classification":
        out.update(ece_before=mean("ece_before", "n_overall"), ece_after=mean("ece_after", "n_overall"))
    kinds = ("coverage", "set_size", "both") if task_type == "classification" else ("coverage", "width")
    for level in COVERAGE_LEVELS:
        key = f"{level:.2f}"
        out[key] = {k: mean(f"test_{k}_{key}", "n_overall") for k in kinds}
        if task_type == "classification":
            out[key].update(inactive=mean(f"test_coverage_inactive_{key}", "n_inactive"),
                            active=mean(f"test_coverage_active_{key}", "n_active"))  # fmt: skip
    return out


def library_domain(model_dir: Path, library: Sequence[str]) -> dict[str, Any] | None:
    """How much of the unlabeled library the model covers: the share whose nearest training molecule is at least
    the scoring path's ``in_domain`` threshold similar (Morgan-2 Tanimoto), and the median similarity."""
    domain = TrainingDomain.load(model_dir)
    if domain is None or not library:
        return None
    similarity = domain.max_similarity(library)
    known = similarity[~np.isnan(similarity)]
    return {"molecules": len(known), "threshold": IN_DOMAIN_THRESHOLD,
            "in_domain": int((known >= IN_DOMAIN_THRESHOLD).sum()),
            "share": rounded((known >= IN_DOMAIN_THRESHOLD).mean()) if len(known) else None,
            "median_similarity": rounded(float(np.median(known))) if len(known) else None}  # fmt: skip
