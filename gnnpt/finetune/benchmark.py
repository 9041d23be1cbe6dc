"""The MoleculeNet transfer benchmark of Hu et al. (2020): every encoder fine-tuned on the same scaffold splits.

Rows per (dataset, encoder): test ROC-AUC (classification sets; RMSE for regression sets such as ESOL) mean ± std
over seeds, at the best-validation epoch (what Hu et al.'s result parser reads) and at the last epoch (what GraphCL
and GraphMAE report), kept in separate tables. The ECFP4 random forest runs on the same splits; published numbers
go beside ours as labelled reference rows.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from gnnpt.datasets import load as load_dataset
from gnnpt.datasets.splits import scaffold_split
from gnnpt.featurization.cache import cached_features, cached_featurize
from gnnpt.finetune.auto import COVERAGE_LEVELS, AutoConfig, train_auto
from gnnpt.finetune.baseline import fit_predict_ecfp
from gnnpt.finetune.metrics import primary_metric, table_score, table_value, worse_beyond_spread
from gnnpt.finetune.peers import chemprop_test_predictions
from gnnpt.finetune.probe import encoder_features, probe
from gnnpt.finetune.train import FinetuneConfig, finetune
from gnnpt.models.calibration import expected_calibration_error
from gnnpt.models.card import read_card
from gnnpt.models.defaults import DEFAULT_ENCODER
from gnnpt.models.hu2020 import PREFIX
from gnnpt.models.store import resolve, resolve_encoder, scratch_gnn_type

HU_DATASETS = ("bbbp", "tox21", "toxcast", "sider", "clintox", "muv", "hiv", "bace")
QUICK_DATASETS = ("bbbp", "bace")
CPU_DATASETS = ("bbbp", "bace", "clintox", "sider", "tox21")
CPU_EPOCHS = 5
CPU_ENCODERS = ("none", "hu2020:gcn_supervised_contextpred")
ECFP = "ECFP4 + random forest"
MINIMOL = "MiniMol fingerprints + head (linear or MLP, chosen on valid)"
CHEMPROP = "Chemprop v2 from scratch (chemprop train, defaults, CPU)"
AUTO = "gnnpt auto (ensemble chosen and calibrated without the test part)"


@dataclass
class BenchmarkConfig:
    """What to run. The defaults are the full protocol: 8 datasets, 10 seeds, 100 epochs."""

    datasets: list[str] = field(default_factory=lambda: list(HU_DATASETS))
    encoders: list[str] = field(default_factory=lambda: ["none"])
    seeds: int = 10
    epochs: int = 100
    baseline: bool = True
    minimol: bool = False  # the MiniMol + head peer row (needs the minimol extra)
    chemprop: bool = False  # the Chemprop v2 peer row (needs chemprop)
    auto: bool = False  # gnnpt's --model auto row, and a row per candidate it tried
    auto_candidates: tuple[str, ...] = ("trees", "forest", "minimol")
    finetuned: bool = True  # each encoder fine-tuned (the protocol's rows)
    frozen: bool = False  # also each encoder frozen: its mean-pooled features + a head, as the MiniMol row
    finetune: FinetuneConfig = field(default_factory=FinetuneConfig)
    limit: int | None = None  # a fixed random sample of this many rows per dataset (quick checks)

    @classmethod
    def quick(cls, **overrides: object) -> BenchmarkConfig:
        """Two small datasets, 2 seeds, 3 epochs, 300 rows each: a smoke run that still fills every column."""
        return replace(cls(datasets=list(QUICK_DATASETS), seeds=2, epochs=3, limit=300), **overrides)

    @classmethod
    def cpu(cls, **overrides: object) -> BenchmarkConfig:
        """The CPU protocol: BBBP, BACE, ClinTox, SIDER, Tox21 on Hu et al.'s scaffold split, 3 seeds, 5 epochs,
        both score kinds; rows GIN from scratch, every shipped encoder, Hu et al.'s GCN checkpoint, ECFP4 + random
        forest and MiniMol + head; each encoder both fine-tuned and frozen (its features + a head, the way the MiniMol
        row uses MiniMol). About 25 minutes per GIN 5x300 row on 2 CPU cores (finetune/RESULTS.md)."""
        from gnnpt.models.packaged import packaged_encoders

        encoders = [CPU_ENCODERS[0], *packaged_encoders(), *CPU_ENCODERS[1:]]
        return replace(cls(datasets=list(CPU_DATASETS), encoders=encoders, seeds=3, epochs=CPU_EPOCHS, minimol=True,
                           frozen=True), **overrides)  # fmt: skip


def sample_rows(n: int, limit: int | None) -> np.ndarray:
    """All rows, or a seeded random sample of ``limit`` of them in file order (files such as BACE are sorted by
    label, so their first rows would hold one class only)."""
    if limit is None or limit >= n:
        return np.arange(n)
    return np.sort(np.random.default_rng(0).choice(n, limit, replace=False))


def encoder_label(spec: str) -> tuple[str, str]:
    """A readable row name and the gnn type of encoder ``spec`` (for the negative-transfer comparison)."""
    encoder = resolve_encoder(spec)
    gnn = getattr(encoder, "gnn_type", "gin")
    if scratch_gnn_type(spec) is not None:
        return f"{gnn.upper()}, no pretraining", gnn
    if spec.startswith(PREFIX) or spec.endswith(".pth"):
        return f"{gnn.upper()} {Path(spec.removeprefix(PREFIX)).stem} (Hu et al. 2020 checkpoint)", gnn
    spec = str(resolve(spec))  # a directory, or a shipped or stored name
    card = read_card(spec)
    return f"{gnn.upper()} {card.get('name', Path(spec).name)} (gnnpt)", gnn


def _ece(task_type: str, pred: np.ndarray, y: np.ndarray) -> list[float]:
    """The test part's calibration error (a list of one), or none for regression."""
    return [expected_calibration_error(pred, y)] if task_type == "classification" else []


def _ecfp_scores(smiles: list[str], targets: np.ndarray, split, seeds: int,
                 task_type: str) -> tuple[list[float], list[float]]:  # fmt: skip
    train, test = np.asarray(split.train), np.asarray(split.test)
    scores, eces = [], []
    for seed in range(seeds):
        pred = fit_predict_ecfp([smiles[i] for i in train], targets[train], [smiles[i] for i in test], task_type,
                                seed=seed)  # fmt: skip
        scores.append(table_score(task_type, targets[test], pred))
        eces += _ece(task_type, pred, targets[test])
    return scores, eces


def _minimol_scores(smiles: list[str], targets: np.ndarray, split, seeds: int, task_type: str) -> list[float]:
    features = np.asarray(cached_features(smiles, "minimol"))
    rows = np.isfinite(features).all(axis=1)
    return probe(np.nan_to_num(features), targets, split, seeds=range(seeds), rows=rows, task_type=task_type).test


def _frozen_scores(spec: str, store, targets: np.ndarray, split, seeds: int, task_type: str) -> list[float]:
    """Encoder ``spec`` frozen: its mean-pooled features (a fresh encoder's with a fixed seed) + a head chosen on
    the validation part, exactly as the MiniMol row treats MiniMol's fingerprints."""
    torch.manual_seed(0)
    features = encoder_features(resolve_encoder(spec), store)
    return probe(features, targets, split, seeds=range(seeds), rows=store.valid, task_type=task_type).test


def _chemprop_scores(smiles: list[str], targets: np.ndarray, split, seeds: int, valid: np.ndarray,
                     task_type: str) -> tuple[list[float], list[float]]:  # fmt: skip
    test = np.asarray(split.test)
    scores, eces = [], []
    for seed in range(seeds):
        pred = chemprop_test_predictions(smiles, targets, split, task_type, seed, valid=valid)
        scores.append(table_score(task_type, targets[test], pred))
        eces += _ece(task_type, pred, targets[test])
    return scores, eces


def _auto_rows(name: str, smiles: list[str], targets: np.ndarray, split, seeds: int, task_names: list[str],
               gnn: FinetuneConfig, candidates: Sequence[str], task_type: str) -> list[dict]:  # fmt: skip
    """One row for the chosen ensemble and one per candidate, each over ``seeds`` runs of ``train_auto``."""
    runs = []
    for seed in range(seeds):
        began = time.perf_counter()
        cfg = AutoConfig(candidates=candidates, seeds=[seed], gnn=replace(gnn, seeds=[seed]))
        result = train_auto(smiles, targets, split, task_type, task_names, cfg)
        runs.append((result, time.perf_counter() - began))
    sign = 1 if primary_metric(task_type)[1] else -1  # auto's scores are signed so that higher is better
    eces = [r.record["calibration"]["ece_after_test"] for r, _ in runs if "calibration" in r.record]
    chosen = _row(name, AUTO, "-", "baseline", [table_value(task_type, sign * r.record["test"]) for r, _ in runs],
                  sum(t for _, t in runs), eces, task_type)  # fmt: skip
    rows = [{**chosen, **_auto_trust(task_type, [r.record for r, _ in runs])}]
    for candidate in runs[0][0].candidates:
        rows.append(_row(name, f"gnnpt candidate: {candidate}", "-", "baseline",
                         [table_value(task_type, sign * r.candidates[candidate]["test"]) for r, _ in runs],
                         sum(r.candidates[candidate]["wall_s"] for r, _ in runs), task_type=task_type))  # fmt: skip
    return rows


def _auto_trust(task_type: str, records: list[dict]) -> dict[str, float]:
    """The chosen ensemble's test ECE before calibration and conformal coverage (%) at each level, means over seeds."""
    trust = {f"coverage_{round(level * 100)}": 100 * float(np.mean([r["conformal"][f"test_coverage_{level:.2f}"]
                                                                       for r in records]))
             for level in COVERAGE_LEVELS}  # fmt: skip
    if task_type == "classification":
        trust["ece_before"] = float(np.mean([r["calibration"]["ece_before_test"] for r in records]))
    return trust


def _row(dataset: str, method: str, gnn: str, protocol: str, scores: list[float], seconds: float,
         eces: list[float] | None = None, task_type: str = "classification") -> dict:  # fmt: skip
    arr = np.asarray(scores, dtype=float)
    return {"dataset": dataset, "method": method, "gnn_type": gnn, "protocol": protocol,
            "mean": float(np.nanmean(arr)), "std": float(np.nanstd(arr)), "seeds": int(np.isfinite(arr).sum()),
            "wall_s": round(seconds, 1), "ece": float(np.nanmean(eces)) if eces else math.nan,
            "metric": primary_metric(task_type)[0]}  # fmt: skip


def run_benchmark(cfg: BenchmarkConfig, progress: bool = False, partial: Path | None = None) -> pd.DataFrame:
    """Fine-tune every encoder on every dataset (scaffold split, ``cfg.seeds`` seeds); one row per score kind.

    ``partial``: a CSV rewritten after every finished (dataset, method), so a long run that is stopped keeps what it
    measured."""
    rows = []
    labels = {spec: encoder_label(spec) for spec in cfg.encoders}
    for name in cfg.datasets:
        ds = load_dataset(name)
        rows_used = sample_rows(len(ds), cfg.limit)
        smiles, targets = [ds.smiles[i] for i in rows_used], ds.targets[rows_used]
        store = cached_featurize(smiles)
        split = scaffold_split(smiles)
        task = ds.task_type
        if cfg.baseline:
            start = time.perf_counter()
            scores, eces = _ecfp_scores(smiles, targets, split, cfg.seeds, task)
            rows.append(_row(name, ECFP, "-", "baseline", scores, time.perf_counter() - start, eces, task))
            _keep(rows, partial)
        if cfg.minimol:
            start = time.perf_counter()
            rows.append(_row(name, MINIMOL, "-", "baseline", _minimol_scores(smiles, targets, split, cfg.seeds, task),
                             time.perf_counter() - start, task_type=task))  # fmt: skip
            _keep(rows, partial)
        if cfg.chemprop:
            start = time.perf_counter()
            scores, eces = _chemprop_scores(smiles, targets, split, cfg.seeds, store.valid, task)
            rows.append(_row(name, CHEMPROP, "-", "baseline", scores, time.perf_counter() - start, eces, task))
            _keep(rows, partial)
        if cfg.auto:
            gnn = replace(cfg.finetune, encoder=DEFAULT_ENCODER, epochs=cfg.epochs)
            rows += _auto_rows(name, smiles, targets, split, cfg.seeds, list(ds.task_names), gnn, cfg.auto_candidates,
                               task)  # fmt: skip
            _keep(rows, partial)
        metric, _ = primary_metric(task)
        for spec in cfg.encoders:
            label, gnn = labels[spec]
            if cfg.finetuned:
                ft = replace(cfg.finetune, encoder=spec, epochs=cfg.epochs, seeds=list(range(cfg.seeds)))
                result = finetune(store, targets, split, task, ds.task_names, ft)
                for protocol, pick in (("best_valid", "test"), ("last_epoch", "test_last")):
                    scores = [table_value(task, getattr(r, pick).get(metric, math.nan)) for r in result.runs]
                    rows.append(_row(name, label, gnn, protocol, scores, result.wall_time_s, task_type=task))
                if progress:
                    print(f"{name:8s} {label:55s} {rows[-2]['mean']:.1f} ± {rows[-2]['std']:.1f} "
                          f"(last epoch {rows[-1]['mean']:.1f}) in {result.wall_time_s:.0f} s", flush=True)  # fmt: skip
            if cfg.frozen:
                start = time.perf_counter()
                scores = _frozen_scores(spec, store, targets, split, cfg.seeds, task)
                rows.append(_row(name, label, gnn, "frozen", scores, time.perf_counter() - start, task_type=task))
                if progress:
                    print(f"{name:8s} {label:55s} frozen + head {rows[-1]['mean']:.1f} ± {rows[-1]['std']:.1f}",
                          flush=True)  # fmt: skip
            _keep(rows, partial)
    return pd.DataFrame(rows)


def _keep(rows: list[dict], partial: Path | None) -> None:
    if partial is not None and rows:
        pd.DataFrame(rows).to_csv(partial, index=False)


def negative_transfer(results: pd.DataFrame) -> pd.DataFrame:
    """Rows where a pretrained encoder is worse than no pretraining of its gnn type by more than that row's std."""
    flags = []
    for (dataset, protocol, _gnn), group in results[results.protocol != "baseline"].groupby(
        ["dataset", "protocol", "gnn_type"]
    ):
        base = group[group.method.str.endswith("no pretraining")]
        if base.empty:
            continue
        ref = base.iloc[0]
        higher = ref.get("metric", "roc_auc") != "rmse"  # tables before regression rows have no metric column
        for _, row in group.drop(base.index).iterrows():
            if worse_beyond_spread(row["mean"], ref["mean"], ref["std"], higher):
                flags.append({"dataset": dataset, "protocol": protocol, "method": row["method"],
                              "mean": row["mean"], "no_pretraining": ref["mean"], "std": ref["std"]})  # fmt: skip
    return pd.DataFrame(flags, columns=["dataset", "protocol", "method", "mean", "no_pretraining", "std"])
