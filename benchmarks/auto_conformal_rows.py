"""Issue 17 study: on which rows should ``--model auto`` calibrate its conformal sets / intervals?

For each dataset and seed it runs ``train_auto`` (trees, forest, MiniMol; 5 scaffold folds), captures the chosen
ensemble's (Platt-calibrated) scores for every row and each row's similarity to the molecules its score's model trained
on, and fits the conformal calibration on four row sets: out-of-fold + validation rows or the validation part alone,
each within three similarity bins or one. It prints the test coverage (%) at 80% and 90% of each. The test part is
only scored.

Usage: python benchmarks/auto_conformal_rows.py esol,lipophilicity 3
It spies on ``auto``'s internals as they were up to commit e671e63 (before issue 29 replaced its selection
and calibration rows): run it in a worktree of that commit (``git worktree add ../e671e63 e671e63``).
"""

from __future__ import annotations

import inspect
import sys

import numpy as np

import gnnpt.finetune.auto as auto
from gnnpt.datasets import load
from gnnpt.datasets.splits import scaffold_split
from gnnpt.models.conformal import Conformal

captured: dict = {}
similarity_to_training, select = auto._similarity_to_training, auto.select_ensemble


def spy_similarity(smiles, parts, folds):  # stands in for auto._similarity_to_training
    captured["similarity"], captured["parts"] = similarity_to_training(smiles, parts, folds), parts
    return captured["similarity"]


def spy_select(preds: dict, score, rounds: int) -> dict:  # stands in for auto.select_ensemble
    caller = inspect.currentframe().f_back.f_locals
    captured["preds"], captured["with_out_of_fold"] = caller["preds"], caller["with_out_of_fold"]
    return select(preds, score, rounds)


def main(names: list[str], seeds: int) -> None:
    auto._similarity_to_training, auto.select_ensemble = spy_similarity, spy_select
    for name in names:
        ds = load(name)
        smiles = list(ds.smiles)
        split = scaffold_split(smiles)
        y = np.asarray(ds.targets, np.float64).reshape(len(smiles), -1)
        for seed in range(seeds):
            cfg = auto.AutoConfig(seeds=[seed], calibration_min=10**9)  # always compute the out-of-fold rows
            result = auto.train_auto(smiles, ds.targets, split, ds.task_type, list(ds.task_names), cfg)
            parts, sim = captured["parts"], captured["similarity"]
            pred = sum(w * captured["preds"][n] for n, w in result.record["chosen"].items())
            if result.model.platt is not None:
                pred = auto.apply_platt(pred, *result.model.platt)
            test, out = parts["test"], [name, seed]
            for label, rows, bins in (("out-of-fold + valid, 3 bins", captured["with_out_of_fold"], 3),
                                      ("valid, 3 bins", parts["valid"], 3), ("valid, 1 bin", parts["valid"], 1),
                                      ("out-of-fold + valid, 1 bin", captured["with_out_of_fold"], 1)):  # fmt: skip
                conformal = Conformal.fit(ds.task_type, pred[rows], y[rows], sim[rows], bins)
                coverage = [100 * conformal.coverage(list(ds.task_names), pred[test], y[test], level, sim[test])
                            for level in auto.COVERAGE_LEVELS]  # fmt: skip
                out.append(f"{label}: {coverage[0]:.1f} / {coverage[1]:.1f}")
            print(*out, sep=" | ", flush=True)


if __name__ == "__main__":
    main(sys.argv[1].split(","), int(sys.argv[2]))
