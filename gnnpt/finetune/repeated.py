"""The repeated-split evaluation: every endpoint split five times by scaffold, every method on the same splits.

Why: one fixed split's test part, read again after every change, stops being a test; its ± is initialization noise.
Here each endpoint (MoleculeNet and TDC ADMET sets, de-duplicated) is split by
:func:`~gnnpt.datasets.splits.repeated_splits` (seeded, balanced scaffold assignment whose groups also keep a
parent's salts and stereoisomers together) and every method, peers and ``auto`` alike, is fitted on each split's
training part, chooses whatever it chooses on the validation part alone, and is scored once on the test part with the
metric the field reports for that endpoint (ROC-AUC, PR-AUC where TDC uses it, RMSE). Hu et al.'s deterministic
split of the raw MoleculeNet file runs as its own split id (``hu``), for comparison with the literature.

A run is a grid of cells (endpoint, split, method); each finished cell is one row appended to ``cells.csv`` with the
commit that produced it, so a stopped run resumes where it stopped and a table can say which code made each number.
Peers get a selection budget like ``auto``'s: small hyper-parameter grids chosen on the validation part, MLP heads
with ``auto``'s own head search and five initializations.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from gnnpt.datasets import load as load_dataset
from gnnpt.datasets.dedup import deduplicate
from gnnpt.datasets.registry import get_spec
from gnnpt.datasets.splits import Split, repeated_splits, scaffold_split
from gnnpt.finetune.grid import commit, plain, run_grid
from gnnpt.finetune.grid import done_cells as done_cells  # the repeated run's cells
from gnnpt.finetune.metrics import mean_roc_auc, pr_auc, rmse

MOLECULENET = ("bbbp", "bace", "clintox", "sider", "tox21", "esol", "lipophilicity")
TDC = ("hia_hou", "pgp_broccatelli", "bioavailability_ma", "bbb_martins", "cyp2c9_veith", "cyp2d6_veith",
       "cyp3a4_veith", "cyp2c9_substrate_carbonmangels", "cyp2d6_substrate_carbonmangels",
       "cyp3a4_substrate_carbonmangels")  # fmt: skip
ENDPOINTS = MOLECULENET + TDC
SPLITS = 5
HU = "hu"  # the split id of Hu et al.'s deterministic scaffold split (MoleculeNet endpoints only)
CELLS = "cells.csv"
KEYS = ("dataset", "split", "method")  # a cell of the grid, a row of cells.csv


@dataclass
class Endpoint:
    """One endpoint's molecules and labels as every method sees them, its featurized graphs and its splits."""

    name: str
    smiles: list[str]
    targets: np.ndarray
    task_names: list[str]
    task_type: str
    metric: str
    store: Any  # PackedGraphs
    splits: dict[str, Split]
    notes: str = ""

    def parts(self, split: str) -> dict[str, np.ndarray]:
        """The train/valid/test rows of ``split`` that featurized (the same rows for every method)."""
        s = self.splits[split]
        ok = self.store.valid
        return {p: np.asarray(getattr(s, p))[ok[np.asarray(getattr(s, p))]] for p in ("train", "valid", "test")}


def endpoint_score(metric: str, y: np.ndarray, pred: np.ndarray) -> float:
    """The endpoint's metric as tables show it: ROC-AUC and PR-AUC in % (mean over tasks with both classes), RMSE in
    target units; NaN predictions are left out, NaN when undefined."""
    y = np.asarray(y, np.float64).reshape(len(pred), -1)
    pred = np.asarray(pred, np.float64).reshape(len(y), -1)
    y = np.where(np.isnan(pred), np.nan, y)
    try:
        if metric == "rmse":
            return rmse(y, np.nan_to_num(pred))
        return 100 * (mean_roc_auc if metric == "roc_auc" else pr_auc)(y, np.nan_to_num(pred, nan=0.5))
    except ValueError:
        return math.nan


def higher_is_better(metric: str) -> bool:
    return metric != "rmse"


def _frame_endpoint(name: str, smiles: list[str], targets: np.ndarray, task_names: list[str], task_type: str,
                    metric: str, splits: dict[str, Split], notes: str) -> Endpoint:  # fmt: skip
    from gnnpt.featurization.cache import cached_featurize

    return Endpoint(name, smiles, targets, task_names, task_type, metric, cached_featurize(smiles), splits, notes)


@lru_cache(maxsize=2)
def load_endpoint(name: str, hu: bool = False, n_splits: int = SPLITS, first_seed: int = 0) -> Endpoint:
    """Endpoint ``name``: de-duplicated, with splits ``str(first_seed)`` .. ``str(first_seed + n_splits - 1)`` (their
    seeds; 100 and above are development splits, finetune/README.md); ``hu=True``: the raw file with Hu et al.'s
    deterministic scaffold split as split ``"hu"`` (what the literature reports)."""
    spec = get_spec(name)
    raw = load_dataset(name)
    if hu:
        return _frame_endpoint(name, raw.smiles, raw.targets, list(raw.task_names), raw.task_type, spec.metric,
                               {HU: scaffold_split(raw.smiles)}, "raw file, Hu et al.'s split")  # fmt: skip
    ds, report = deduplicate(raw)
    splits = repeated_splits(ds.smiles, n_splits, first_seed=first_seed)
    moved = splits[0].moved if splits else 0
    notes = f"{report.describe()} {moved} molecules grouped with another scaffold through a shared parent."
    return _frame_endpoint(name, ds.smiles, ds.targets, list(ds.task_names), ds.task_type, spec.metric,
                           {str(first_seed + i): s for i, s in enumerate(splits)}, notes)  # fmt: skip


@dataclass
class Outcome:
    """What a method produced on one split: test predictions [test rows, tasks], its validation score and what it
    chose (hyper-parameters, blend weights) for the record."""

    test: np.ndarray
    valid: float
    chosen: dict[str, Any] = field(default_factory=dict)


def _choose(metric: str, fits: Iterable[tuple[dict[str, Any], np.ndarray, np.ndarray]], y_valid: np.ndarray
            ) -> Outcome:  # fmt: skip
    """Of (params, valid predictions, test predictions) fits, the one with the best validation score (ties and
    undefined scores: the first)."""
    sign = 1 if higher_is_better(metric) else -1
    best: Outcome | None = None
    for params, valid, test in fits:
        score = endpoint_score(metric, y_valid, valid)
        if best is None or (not math.isnan(score) and (math.isnan(best.valid) or sign * score > sign * best.valid)):
            best = Outcome(test, score, params)
    assert best is not None
    return best


def _scores(model: Any, ep: Endpoint, rows: np.ndarray) -> np.ndarray:
    from gnnpt.models.scoring import ensemble_scores

    return ensemble_scores(model, ep.store.select(rows))[0].astype(np.float64)


FOREST_GRID = tuple({"max_features": f, "min_samples_leaf": leaf} for f in ("sqrt", 0.05) for leaf in (1, 3))


def _forest(ep: Endpoint, parts: dict[str, np.ndarray], seed: int) -> Outcome:
    """ECFP4 bits + scikit-learn random forest (500 trees, balanced classes), its grid chosen on validation."""
    from gnnpt.finetune.baseline import fit_predict_ecfp

    train = [ep.smiles[i] for i in parts["train"]]
    rest = [ep.smiles[i] for i in np.concatenate([parts["valid"], parts["test"]])]
    n_valid = len(parts["valid"])

    def fits():
        for params in FOREST_GRID:
            pred = fit_predict_ecfp(train, ep.targets[parts["train"]], rest, ep.task_type, seed=seed, **params)
            yield params, pred[:n_valid], pred[n_valid:]

    return _choose(ep.metric, fits(), ep.targets[parts["valid"]])


def _lightgbm_grid() -> list[Any]:
    from gnnpt.finetune.tabular import TreeParams

    return [TreeParams(), TreeParams(num_leaves=63, min_child_samples=20),
            TreeParams(n_estimators=1000, learning_rate=0.02), TreeParams(colsample_bytree=0.1)]  # fmt: skip


LIGHTGBM_INPUTS = ["ecfp4_counts", "descriptors:fast"]


def _vectors(ep: Endpoint, kinds: Sequence[str]) -> np.ndarray:
    from gnnpt.featurization.vectors import attach_vectors

    attach_vectors(ep.store, list(kinds), cache=True)
    return np.concatenate([ep.store.features[k].numpy() for k in kinds], axis=1)


def _split_of(parts: dict[str, np.ndarray]) -> Split:
    return Split(parts["train"], parts["valid"], parts["test"])


def _lightgbm(ep: Endpoint, parts: dict[str, np.ndarray], seed: int) -> Outcome:
    """LightGBM on ECFP4 counts + RDKit descriptors, four settings chosen on validation."""
    from gnnpt.finetune.tabular import fit_trees

    x = _vectors(ep, LIGHTGBM_INPUTS)

    def fits():
        for params in _lightgbm_grid():
            model = fit_trees(x, ep.targets, _split_of(parts), ep.task_type, ep.task_names, LIGHTGBM_INPUTS,
                              seeds=[seed], params=params)  # fmt: skip
            chosen = {k: v for k, v in params.__dict__.items() if k != "extra"}
            yield chosen, _scores(model, ep, parts["valid"]), _scores(model, ep, parts["test"])

    return _choose(ep.metric, fits(), ep.targets[parts["valid"]])


def _head(ep: Endpoint, parts: dict[str, np.ndarray], seed: int, kind: str) -> Outcome:
    """An MLP head on frozen vectors with ``auto``'s own search (linear or 256 hidden x three weight decays, chosen
    on validation) and five initializations: MiniMol fingerprints, or the shipped encoder's graph vectors."""
    from gnnpt.finetune.auto import AutoConfig
    from gnnpt.finetune.probe import attach_encoder_vectors
    from gnnpt.finetune.tabular import fit_mlp
    from gnnpt.models.defaults import DEFAULT_ENCODER
    from gnnpt.models.tabular import ENCODER_INPUT

    encoder = None
    if kind == "encoder":
        encoder = attach_encoder_vectors(DEFAULT_ENCODER, ep.store)
        x, inputs = ep.store.features[ENCODER_INPUT].numpy(), [ENCODER_INPUT]
    else:
        x, inputs = _vectors(ep, ["minimol"]), ["minimol"]
    model = fit_mlp(x, ep.targets, _split_of(parts), ep.task_type, ep.task_names, inputs, seeds=[seed],
                    inits=AutoConfig().head_inits, encoder=encoder)  # fmt: skip
    valid = endpoint_score(ep.metric, ep.targets[parts["valid"]], _scores(model, ep, parts["valid"]))
    return Outcome(_scores(model, ep, parts["test"]), valid, dict(model.card["learner_params"]))


GIN_EPOCHS = 30
GIN_PATIENCE = 10


def _gin(ep: Endpoint, parts: dict[str, np.ndarray], seed: int) -> Outcome:
    """GIN 5x300 from scratch (Hu et al.'s fine-tuning recipe), the best-validation epoch of at most 30."""
    from gnnpt.finetune.train import FinetuneConfig, finetune

    cfg = FinetuneConfig(encoder="none", epochs=GIN_EPOCHS, patience=GIN_PATIENCE, seeds=[seed])
    result = finetune(ep.store, ep.targets, _split_of(parts), ep.task_type, ep.task_names, cfg)
    valid = endpoint_score(ep.metric, ep.targets[parts["valid"]], _scores(result.model, ep, parts["valid"]))
    return Outcome(_scores(result.model, ep, parts["test"]), valid, {"best_epoch": result.runs[0].best_epoch})


def _minimol_ft(ep: Endpoint, parts: dict[str, np.ndarray], seed: int, strategy: str) -> Outcome:
    """MiniMol fine-tuned with ``strategy`` on its own graphs (:mod:`gnnpt.finetune.minimol_ft`'s recipe: max readout,
    MLP head, the best-validation epoch of at most 20, patience 5)."""
    from gnnpt.featurization.cache import cached_featurize
    from gnnpt.finetune.minimol_ft import minimol_config
    from gnnpt.finetune.train import finetune
    from gnnpt.models.scoring import ensemble_scores

    store = cached_featurize(ep.smiles, scheme="minimol")
    result = finetune(store, ep.targets, _split_of(parts), ep.task_type, ep.task_names,
                      minimol_config(strategy, seeds=[seed]))  # fmt: skip

    def scores(rows: np.ndarray) -> np.ndarray:
        return ensemble_scores(result.model, store.select(rows))[0].astype(np.float64)

    valid = endpoint_score(ep.metric, ep.targets[parts["valid"]], scores(parts["valid"]))
    return Outcome(scores(parts["test"]), valid, {"strategy": strategy, "best_epoch": result.runs[0].best_epoch})


def _chemprop(ep: Endpoint, parts: dict[str, np.ndarray], seed: int) -> Outcome:
    """Chemprop v2 from scratch, ``chemprop train`` with its defaults on the CPU (it early-stops on validation)."""
    from gnnpt.finetune.peers import chemprop_test_predictions

    pred = chemprop_test_predictions(ep.smiles, ep.targets, _split_of(parts), ep.task_type, seed,
                                     valid=np.asarray(ep.store.valid))  # fmt: skip
    return Outcome(pred, math.nan, {"recipe": "chemprop train defaults"})


AUTO_CANDIDATES = ("trees", "forest", "minimol", "encoder", "minimol_trees")


def fit_auto(ep: Endpoint, parts: dict[str, np.ndarray], seed: int, candidates: Sequence[str] = AUTO_CANDIDATES,
             **config: Any) -> Outcome:  # fmt: skip
    """``gnnpt finetune --model auto`` with ``candidates`` (the reporting run's: trees, forest, minimol, encoder,
    minimol_trees) and any other :class:`~gnnpt.finetune.auto.AutoConfig` fields in ``config``."""
    from gnnpt.finetune.auto import AutoConfig, train_auto

    cfg = AutoConfig(candidates=candidates, seeds=[seed], **config)
    result = train_auto(ep.smiles, ep.targets, _split_of(parts), ep.task_type, ep.task_names, cfg, store=ep.store)
    valid = endpoint_score(ep.metric, ep.targets[parts["valid"]], _scores(result.model, ep, parts["valid"]))
    record = {k: v for k, v in result.record.items() if k != "test"}  # the test score is the row's, once
    return Outcome(_scores(result.model, ep, parts["test"]), valid, record)


@dataclass(frozen=True)
class Method:
    """A row of the table: its key (``--methods``), its label, and how it runs on one split."""

    key: str
    label: str
    run: Callable[[Endpoint, dict[str, np.ndarray], int], Outcome]


METHODS: dict[str, Method] = {m.key: m for m in (
    Method("forest", "ECFP4 + random forest (4 settings chosen on valid)", _forest),
    Method("lightgbm", "LightGBM on ECFP4 counts + RDKit descriptors (4 settings chosen on valid)", _lightgbm),
    Method("minimol", "MiniMol + MLP head (auto's head search, 5 inits)", lambda e, p, s: _head(e, p, s, "minimol")),
    Method("encoder", "gin-desc-v2 frozen + MLP head (auto's head search, 5 inits)",
           lambda e, p, s: _head(e, p, s, "encoder")),
    Method("gin", "GIN 5x300 from scratch (best of 30 epochs on valid)", _gin),
    Method("chemprop", "Chemprop v2 from scratch (chemprop train defaults, CPU)", _chemprop),
    Method("auto", "gnnpt auto (trees, forest, minimol, encoder, minimol_trees)", fit_auto),
    Method("minimol_ft_full", "MiniMol fine-tuned, every weight (best of 20 epochs on valid)",
           lambda e, p, s: _minimol_ft(e, p, s, "full")),
    Method("minimol_ft_lora", "MiniMol fine-tuned with LoRA rank 8 (best of 20 epochs on valid)",
           lambda e, p, s: _minimol_ft(e, p, s, "lora:8")),
)}  # fmt: skip
PEERS = ("forest", "lightgbm", "minimol", "encoder", "gin", "chemprop")


def fit_and_score(ep: Endpoint, parts: dict[str, np.ndarray], method: Method, seed: int) -> dict[str, Any]:
    """Fit ``method`` on ``parts`` of ``ep`` (choosing on its validation part) and score the test part once: the
    result row's fields after the cell's own keys, with the commit and the CPU."""
    from gnnpt.runtime import cpu_name

    began = time.perf_counter()
    outcome = method.run(ep, parts, seed)
    y_test = ep.targets[parts["test"]]
    return {"metric": ep.metric, "test": endpoint_score(ep.metric, y_test, outcome.test), "valid": outcome.valid,
            "wall_s": round(time.perf_counter() - began, 1), "n_train": len(parts["train"]),
            "n_valid": len(parts["valid"]), "n_test": len(parts["test"]),
            "chosen": json.dumps(outcome.chosen, default=plain), "commit": commit(), "cpu": cpu_name()}  # fmt: skip


def run_cell(name: str, split: str, method: str) -> dict[str, Any]:
    """Fit ``method`` on split ``split`` of endpoint ``name`` and score its test part once: one result row."""
    ep = load_endpoint(name, hu=split == HU)
    seed = 0 if split == HU else int(split)
    row = fit_and_score(ep, ep.parts(split), METHODS[method], seed)
    return {"dataset": name, "split": split, "method": method} | row


@dataclass
class RepeatedConfig:
    """What to run: endpoints x split ids x methods (cells run method by method, cheapest first)."""

    datasets: Sequence[str] = ENDPOINTS
    methods: Sequence[str] = ("forest", "lightgbm", "minimol", "encoder", "auto", "gin", "chemprop")
    splits: int = SPLITS
    hu: bool = True  # also Hu et al.'s split of each MoleculeNet endpoint

    def __post_init__(self) -> None:
        unknown = [m for m in self.methods if m not in METHODS]
        if unknown:
            raise ValueError(f"unknown methods {unknown}; choose from {', '.join(METHODS)}")
        for name in self.datasets:
            get_spec(name)  # a KeyError names the registered datasets
        if not 1 <= self.splits <= 20:
            raise ValueError(f"splits={self.splits}: choose 1 to 20")

    def cells(self) -> list[tuple[str, str, str]]:
        """(dataset, split, method) in run order: each method over every endpoint before the next method."""
        ids = [str(i) for i in range(self.splits)]
        return [(d, s, m) for m in self.methods for d in self.datasets
                for s in ids + ([HU] if self.hu and d in MOLECULENET else [])]  # fmt: skip


def run_repeated(cfg: RepeatedConfig, out: str | Path, engine: str = "local",
                 log: Callable[[str], None] | None = print) -> pd.DataFrame:  # fmt: skip
    """Run every cell of ``cfg`` not yet in ``out/cells.csv`` (appending each as it finishes) and return all rows.

    ``engine="ray"``: the cells run as Ray tasks (``ray.init()``: a local cluster of this machine's cores, or the
    cluster that ``RAY_ADDRESS`` names); rows are appended as tasks finish."""
    return run_grid(cfg.cells(), run_cell, Path(out) / CELLS, KEYS, engine, log,
                    lambda row: f"{row['dataset']} split {row['split']} {row['method']}")  # fmt: skip
