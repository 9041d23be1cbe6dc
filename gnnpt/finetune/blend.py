"""How ``--model auto`` weighs its candidates, and how sure it may be of the weights.

Greedy ensemble selection with replacement (Caruana et al. 2004) on the selection rows picks weights; a bootstrap over
the rows' scaffold groups then asks whether those rows can tell: it redraws the groups, chooses greedily on each
draw and scores that choice against the equal blend on the groups the draw left out. The share of draws where the
greedy choice wins decides how far the weights move from the equal blend (of the candidates whose bootstrap scores
are not clearly below the best one's) to the greedy ones: on a few dozen molecules, where one scaffold decides the
ranking, the blend stays near equal instead of dropping a candidate on noise.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

RESAMPLES = 200
CLEARLY_WORSE = 0.95  # a candidate below the best one in this share of the draws is left out of the equal blend
TRUST_FROM, TRUST_FULL = 0.5, 0.9  # greedy wins this share of the draws: no trust (equal blend) ... full trust


class Scorer:
    """The primary metric of ``y`` [rows, tasks], signed so that higher is better: ROC-AUC (per task over its
    labelled rows with both classes, ties counted half, averaged) or minus RMSE (per task, averaged), as
    :func:`gnnpt.finetune.metrics.evaluate` computes them, vectorized over tasks: the bootstrap calls it thousands of
    times. Rows without a prediction are left out; NaN where undefined."""

    def __init__(self, task_type: str, y: np.ndarray):
        self.classification = task_type == "classification"
        self.y = np.asarray(y, np.float64).reshape(len(y), -1)

    def __call__(self, pred: np.ndarray, rows: np.ndarray | None = None) -> float:
        y = self.y if rows is None else self.y[rows]
        p = np.asarray(pred, np.float64).reshape(len(pred), -1)
        p = p if rows is None else p[rows]
        known = ~np.isnan(y) & ~np.isnan(p)
        if not self.classification:
            counts = known.sum(0)
            squared = np.where(known, y - np.where(known, p, 0), 0) ** 2
            used = counts > 0
            return -float(np.sqrt(squared.sum(0)[used] / counts[used]).mean()) if used.any() else math.nan
        return _mean_roc_auc(y, p, known)


def _mean_roc_auc(y: np.ndarray, p: np.ndarray, known: np.ndarray) -> float:
    """Mann-Whitney ROC-AUC of every task with both classes, averaged: one sort of all tasks' scores, each task's
    shifted into its own interval (unlabelled ones to the end), gives every score its average rank within its task."""
    positive = known & (y > 0.5)
    n1 = positive.sum(0)
    n0 = known.sum(0) - n1
    tasks = np.flatnonzero((n1 > 0) & (n0 > 0))
    if not len(tasks):
        return math.nan
    values = p[:, tasks]
    low = values[known[:, tasks]].min()
    span = values[known[:, tasks]].max() - low + 1
    keys = np.where(known[:, tasks], values - low + np.arange(len(tasks)) * span, np.inf).T.ravel()
    order = np.argsort(keys)
    ordered = keys[order]
    first = np.r_[True, ordered[1:] != ordered[:-1]]  # each run of tied keys: its start
    starts = np.flatnonzero(first)
    ends = np.r_[starts[1:], len(ordered)]
    rank = np.empty(len(keys))
    rank[order] = ((starts + ends + 1) / 2)[np.cumsum(first) - 1]  # ties share their average rank
    rank = rank.reshape(len(tasks), -1) - np.searchsorted(ordered, np.arange(len(tasks)) * span)[:, None]
    rank_sum = np.where(positive[:, tasks].T, rank, 0).sum(1)  # ranks within each task, of its actives
    n1, n0 = n1[tasks], n0[tasks]
    return float(np.mean((rank_sum - n1 * (n1 + 1) / 2) / (n1 * n0)))


def select_ensemble(preds: dict[str, np.ndarray], score: Callable[[np.ndarray], float], rounds: int) -> dict[str, int]:
    """Greedy ensemble selection with replacement: start from the best single candidate, add the one that most
    improves ``score`` of the mean, stop when nothing improves it; returns how often each was picked."""
    names = [n for n in preds if not math.isnan(score(preds[n]))]
    if not names:
        raise ValueError("no candidate has a defined score on the selection rows; they need both classes of a task")
    best = max(names, key=lambda n: score(preds[n]))
    picks, total, current = {best: 1}, preds[best].astype(np.float64), score(preds[best])
    for _ in range(rounds):
        n_picked = sum(picks.values())
        trials = {n: score((total + preds[n]) / (n_picked + 1)) for n in names}
        name = max(trials, key=lambda n: trials[n])
        if not trials[name] > current + 1e-9:
            break
        picks[name] = picks.get(name, 0) + 1
        total, current = total + preds[name], trials[name]
    return picks


def blend(preds: dict[str, np.ndarray], weights: dict[str, float]) -> np.ndarray:
    """The weighted mean of the candidates' predictions (weights sum to 1)."""
    return sum(w * preds[n].astype(np.float64) for n, w in weights.items() if w > 0)


@dataclass
class Blend:
    """The chosen weights and the evidence behind them (:func:`choose_blend`)."""

    weights: dict[str, float]  # final: greedy and equal mixed by trust
    greedy: dict[str, float]
    equal: list[str]  # the candidates of the equal blend
    p_greedy_wins: float  # share of bootstrap draws where greedy, chosen on the draw, beat equal on the rest
    trust: float
    scores: dict[str, tuple[float, float]]  # score and bootstrap std: each candidate, "greedy", "equal", "blend"

    def record(self) -> dict[str, Any]:
        """The card's account of the choice (rounded)."""
        return {"weights": _rounded(self.weights), "greedy": _rounded(self.greedy), "equal": self.equal,
                "p_greedy_beats_equal": round(self.p_greedy_wins, 3), "trust": round(self.trust, 3),
                "scores": {k: [round(s, 4), round(d, 4)] for k, (s, d) in self.scores.items()}}  # fmt: skip


def _rounded(weights: dict[str, float]) -> dict[str, float]:
    return {n: round(w, 4) for n, w in weights.items() if w > 0}


def _draws(groups: np.ndarray, resamples: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """``resamples`` pairs (drawn rows, left-out rows): groups drawn with replacement, and the groups never drawn."""
    _, inverse = np.unique(groups, return_inverse=True)
    order = np.argsort(inverse, kind="stable")
    members = np.split(order, np.cumsum(np.bincount(inverse))[:-1])
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(resamples):
        drawn = rng.integers(0, len(members), len(members))
        left = np.setdiff1d(np.arange(len(members)), drawn)
        out.append((np.concatenate([members[g] for g in drawn]),
                    np.concatenate([members[g] for g in left]) if len(left) else np.zeros(0, np.int64)))  # fmt: skip
    return out


def choose_blend(preds: dict[str, np.ndarray], y: np.ndarray, groups: np.ndarray, task_type: str, rounds: int,
                 resamples: int = RESAMPLES, seed: int = 0) -> Blend:  # fmt: skip
    """Weights for ``preds`` (candidate -> predictions of the selection rows) chosen on labels ``y``: the greedy
    choice moved towards the equal blend of the candidates not clearly worse than the best, the less often a greedy
    choice beats that equal blend over a bootstrap of the rows' ``groups`` (scaffolds)."""
    scorer = Scorer(task_type, y)
    greedy_picks = select_ensemble(preds, scorer, rounds)
    greedy = {n: greedy_picks.get(n, 0) / sum(greedy_picks.values()) for n in preds}
    names = [n for n in preds if not math.isnan(scorer(preds[n]))]
    draws = _draws(groups, resamples, seed)
    drawn_scores = np.array([[scorer(preds[n], rows) for n in names] for rows, _ in draws])
    best = names[int(np.argmax([scorer(preds[n]) for n in names]))]
    below = np.mean(drawn_scores < drawn_scores[:, [names.index(best)]], axis=0)
    equal_names = [n for n, share in zip(names, below, strict=True) if share < CLEARLY_WORSE]
    equal = {n: (1 / len(equal_names) if n in equal_names else 0.0) for n in preds}
    wins = []
    for rows, left in draws:
        if len(left) == 0:
            continue
        drawn = {n: p[rows] for n, p in preds.items()}
        try:
            picks = select_ensemble(drawn, Scorer(task_type, scorer.y[rows]), rounds)
        except ValueError:  # a draw without both classes
            continue
        chosen = {n: k / sum(picks.values()) for n, k in picks.items()}
        margin = scorer(blend(preds, chosen), left) - scorer(blend(preds, equal), left)
        if not math.isnan(margin):
            wins.append(1.0 if margin > 1e-12 else 0.5 if margin > -1e-12 else 0.0)
    p_wins = float(np.mean(wins)) if wins else 0.5
    trust = float(np.clip((p_wins - TRUST_FROM) / (TRUST_FULL - TRUST_FROM), 0, 1))
    weights = {n: trust * greedy[n] + (1 - trust) * equal[n] for n in preds}
    scores = {n: (scorer(preds[n]), float(np.nanstd(drawn_scores[:, i]))) for i, n in enumerate(names)}
    for label, w in (("greedy", greedy), ("equal", equal), ("blend", weights)):
        mixed = blend(preds, w)
        scores[label] = (scorer(mixed), float(np.nanstd([scorer(mixed, rows) for rows, _ in draws])))
    return Blend(weights, greedy, equal_names, p_wins, trust, scores)
