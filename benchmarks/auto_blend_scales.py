"""Issue 17 study: on which scale should ``--model auto`` average its candidates?

For each dataset and seed it runs ``train_auto`` once (trees, forest, MiniMol; the shipped selection), captures every
candidate's scores, and replays the greedy selection on the same selection rows (never the test part) with the
candidates on four scales: probabilities (what auto ships), each candidate Platt-calibrated on the selection rows,
logits, and per-task ranks. It prints each choice with its test ROC-AUC, then the means over seeds.

Usage: python benchmarks/auto_blend_scales.py bbbp,bace,clintox 3
It spies on ``auto``'s internals as they were up to commit e671e63 (before issue 29 replaced its selection
and calibration rows): run it in a worktree of that commit (``git worktree add ../e671e63 e671e63``).
"""

from __future__ import annotations

import inspect
import json
import sys

import numpy as np
from scipy.stats import rankdata

import gnnpt.finetune.auto as auto
from gnnpt.datasets import load
from gnnpt.datasets.splits import scaffold_split
from gnnpt.models.calibration import apply_platt, fit_platt

captured: dict = {}
select = auto.select_ensemble


def spy(preds: dict, score, rounds: int) -> dict:  # stands in for auto.select_ensemble
    """Keep the caller's full candidate scores and row parts, then choose as auto does."""
    caller = inspect.currentframe().f_back.f_locals
    captured.update({k: caller[k] for k in ("preds", "parts", "chooser", "targets")})
    return select(preds, score, rounds)


def scales(chooser: np.ndarray, y: np.ndarray) -> dict:
    def platt_each(p: np.ndarray) -> np.ndarray:
        return apply_platt(p, *fit_platt(p[chooser], y[chooser]))

    def logit(p: np.ndarray) -> np.ndarray:
        p = np.clip(p, 1e-4, 1 - 1e-4)
        return np.log(p) - np.log1p(-p)

    def ranks(p: np.ndarray) -> np.ndarray:
        return np.column_stack([rankdata(np.nan_to_num(c, nan=0.5)) / len(c) for c in p.T])

    return {"prob": lambda p: p, "platt_each": platt_each, "logit": logit, "rank": ranks}


def main(names: list[str], seeds: int) -> None:
    auto.select_ensemble = spy
    scores: dict[str, list[float]] = {}
    for name in names:
        ds = load(name)
        smiles = list(ds.smiles)
        split = scaffold_split(smiles)
        for seed in range(seeds):
            auto.train_auto(smiles, ds.targets, split, "classification", list(ds.task_names),
                            auto.AutoConfig(seeds=[seed]))  # fmt: skip
            y, chooser, test = np.asarray(captured["targets"]), captured["chooser"], captured["parts"]["test"]
            score = auto.selection_score("classification", y[chooser])
            for scale, f in scales(chooser, y).items():
                preds = {n: f(p) for n, p in captured["preds"].items()}
                picks = select({n: p[chooser] for n, p in preds.items()}, score, 20)
                blend = sum(k / sum(picks.values()) * preds[n] for n, k in picks.items())
                value = 100 * auto._score("classification", y[test], blend[test])
                scores.setdefault(f"{name}/{scale}", []).append(value)
                print(name, seed, scale, picks, f"{value:.2f}", flush=True)
    print(json.dumps({k: round(float(np.mean(v)), 2) for k, v in scores.items()}, indent=0))


if __name__ == "__main__":
    main(sys.argv[1].split(","), int(sys.argv[2]))
