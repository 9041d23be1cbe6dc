"""Learning curves: each method's test score as the training labels grow, 32 labels to all (issue 31, item 3).

The test part is a repeated split's (:func:`~gnnpt.finetune.repeated.load_endpoint`, split seed ``r``: held out by
scaffold, the same molecules for every budget and method). A budget of ``N`` labels is drawn from that split's
training and validation parts, keeping them apart: ``round(0.2 N)`` validation labels (at least 2; all of the
validation part when it holds fewer) from the validation part, the rest from the training part, so the rows a method
chooses on stay scaffold-separated from the rows it fits, as in the repeated evaluation. ``all`` (or a budget as
large as both parts) is the split unchanged, the repeated evaluation's own cell.

The draw is seeded by (endpoint, split) alone and takes a prefix of one stratified order of each part: budgets are
nested (the 64 labels hold the 32), every prefix of two or more holds both classes, and the classes keep about their
proportions in the part. The methods, their selection budgets, the endpoints, the metric (ROC-AUC or PR-AUC as TDC
reports each set) and the resumable, commit-stamped ``cells.csv`` are the repeated evaluation's.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from gnnpt.datasets.registry import get_spec
from gnnpt.finetune.grid import run_grid
from gnnpt.finetune.repeated import (
    AUTO_CANDIDATES,
    CELLS,
    SPLITS,
    TDC,
    Endpoint,
    Method,
    Outcome,
    fit_and_score,
    fit_auto,
    load_endpoint,
)
from gnnpt.finetune.repeated import METHODS as REPEATED_METHODS

SIZES = ("32", "64", "128", "256", "512", "all")
ALL = "all"
REPEATS = 5
VALID_SHARE = 0.2  # of a budget's labels, drawn from the validation part
MIN_VALID = 2
KEYS = ("dataset", "split", "labels", "method")  # a cell of the grid, a row of cells.csv


def _auto_adapted(ep: Endpoint, parts: dict[str, np.ndarray], seed: int) -> Outcome:
    """auto's candidates plus the domain-adaptive one, the shipped encoder continued on the set's own molecules (all
    of them, without labels: the unlabeled library a job would bring) as an adaptation job continues it."""
    from gnnpt.pretraining.continued import adapted_encoders

    encoders = adapted_encoders(ep.smiles, seed)
    return fit_auto(ep, parts, seed, AUTO_CANDIDATES + tuple(encoders), encoders=encoders)


METHODS: dict[str, Method] = {k: REPEATED_METHODS[k] for k in ("forest", "minimol", "encoder", "auto")} | {
    "auto_adapted": Method("auto_adapted", "gnnpt auto + domain-adaptive candidates", _auto_adapted)
}


def stratified_order(rows: np.ndarray, y: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``rows`` in a seeded order whose prefixes are stratified samples: one row of each class first, then each class
    spread evenly (a random start, then every ``1 / share``-th place), its rows in random order."""
    keys = np.empty(len(rows))
    for c in np.unique(y):
        where = np.flatnonzero(y == c)
        picked = where[rng.permutation(len(where))]
        keys[picked] = (np.arange(len(picked)) + rng.random()) / len(picked)
        keys[picked[0]] = -1.0  # the first of each class leads
    return np.asarray(rows)[np.argsort(keys, kind="stable")]


def draw_seed(name: str, split: str) -> list[int]:
    """The seed of the draws of endpoint ``name``'s split ``split`` (one for every budget: they are nested)."""
    return [int(split), zlib.crc32(name.encode())]


def subsample(parts: dict[str, np.ndarray], y: np.ndarray, labels: str, seed: Sequence[int]) -> dict[str, np.ndarray]:
    """The parts for a budget of ``labels`` training labels (the module's docstring says how they are drawn);
    ``y``: the labels of every row. The test part is kept whole."""
    pool = len(parts["train"]) + len(parts["valid"])
    if labels == ALL or int(labels) >= pool:
        return parts
    n = int(labels)
    n_valid = min(len(parts["valid"]), max(MIN_VALID, round(VALID_SHARE * n)))
    rng = np.random.default_rng(list(seed))
    train = stratified_order(parts["train"], y[parts["train"]], rng)
    valid = stratified_order(parts["valid"], y[parts["valid"]], rng)
    return {"train": train[: n - n_valid], "valid": valid[:n_valid], "test": parts["test"]}


def run_cell(name: str, split: str, labels: str, method: str) -> dict[str, Any]:
    """Fit ``method`` on a budget of ``labels`` labels of split ``split`` of endpoint ``name`` and score the split's
    test part once: one row of ``cells.csv``."""
    seed = int(split)
    ep = load_endpoint(name, first_seed=seed - seed % SPLITS)  # splits load five at a time: 0-4, 100-104, ...
    parts = subsample(ep.parts(split), ep.targets[:, 0], labels, draw_seed(name, split))
    return {"dataset": name, "split": split, "labels": labels, "method": method} | fit_and_score(
        ep, parts, METHODS[method], seed
    )


@dataclass
class CurvesConfig:
    """What to run: endpoints x split seeds (``first_split`` ..) x label budgets x methods; cells run method by
    method, cheapest first."""

    datasets: Sequence[str] = TDC
    methods: Sequence[str] = ("forest", "minimol", "encoder", "auto", "auto_adapted")
    sizes: Sequence[str] = SIZES
    repeats: int = REPEATS
    first_split: int = 0  # 100 and above: development splits (finetune/README.md)

    def __post_init__(self) -> None:
        unknown = [m for m in self.methods if m not in METHODS]
        if unknown:
            raise ValueError(f"unknown methods {unknown}; choose from {', '.join(METHODS)}")
        for name in self.datasets:
            spec = get_spec(name)  # a KeyError names the registered datasets
            if spec.task_type != "classification" or spec.n_tasks != 1:
                raise ValueError(f"{name}: learning curves take one-task classification sets (the TDC ten)")
        bad = [s for s in self.sizes if s != ALL and not (s.isdigit() and int(s) >= 2 * MIN_VALID)]
        if bad or not self.sizes:
            raise ValueError(f"sizes {bad}: give label budgets of at least {2 * MIN_VALID}, or {ALL}")
        if not 1 <= self.repeats <= 20:
            raise ValueError(f"repeats={self.repeats}: choose 1 to 20")
        if self.first_split < 0:
            raise ValueError(f"first_split={self.first_split}: split seeds start at 0 (100 and above: development)")

    def cells(self) -> list[tuple[str, str, str, str]]:
        """(dataset, split, labels, method) in run order: each method over every endpoint before the next method."""
        splits = [str(self.first_split + i) for i in range(self.repeats)]
        return [(d, s, n, m) for m in self.methods for d in self.datasets for s in splits for n in self.sizes]


def run_curves(cfg: CurvesConfig, out: str | Path, engine: str = "local",
               log: Callable[[str], None] | None = print) -> pd.DataFrame:  # fmt: skip
    """Run every cell of ``cfg`` not yet in ``out/cells.csv`` (appending each as it finishes) and return all rows."""
    return run_grid(cfg.cells(), run_cell, Path(out) / CELLS, KEYS, engine, log, _describe)


def _describe(row: dict[str, Any]) -> str:
    return f"{row['dataset']} split {row['split']} {row['labels']} labels {row['method']}"
