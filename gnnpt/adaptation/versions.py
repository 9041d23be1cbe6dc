"""Versions as labels arrive: an update trains ``name@v(N+1)`` from the labels ``name@vN`` was trained on plus the new
ones, and scores ``name@vN`` on the new molecules it never saw first (the prospective check a chemist trusts)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from rdkit import Chem, rdBase

from gnnpt.adaptation.evaluation import rounded
from gnnpt.adaptation.jobs import JobStore
from gnnpt.adaptation.spec import AdaptationSpec
from gnnpt.finetune.auto import COVERAGE_LEVELS
from gnnpt.finetune.blend import Scorer
from gnnpt.finetune.metrics import primary_metric
from gnnpt.models.card import read_card
from gnnpt.models.domain import IN_DOMAIN_THRESHOLD, TrainingDomain
from gnnpt.models.scoring import load_model, score_molecules
from gnnpt.models.store import model_path

TRAINING_LABELS = "training_labels.csv"  # in a job's folder: every label its model was trained on
CARD_KEY = "adaptation"  # the card section an adaptation job writes: its job id, targets, task type, report summary


def previous(spec: AdaptationSpec, store: JobStore) -> tuple[str, dict[str, Any], pd.DataFrame]:
    """The model ``spec.update`` names (``name@vN``, the version resolved now), its card and the labels it was
    trained on; ValueError with the remedy when it is not an adaptation job's model of these targets, or its
    labels are not in this job store."""
    path = model_path(spec.update)
    card = read_card(path)
    record = card.get(CARD_KEY)
    registry = card.get("registry") or {}
    if record is None or "version" not in registry:
        raise ValueError(f"{spec.update!r} was not made by an adaptation job; an update continues an adaptation "
                         "job's model (submit a new job with another name instead)")  # fmt: skip
    if list(record["targets"]) != list(spec.targets):
        raise ValueError(f"{spec.update!r} predicts {record['targets']}, not {spec.targets}; an update keeps the "
                         "targets (and the label columns' names) of the model it updates")  # fmt: skip
    labels = store.folder(record["job"]) / TRAINING_LABELS
    if not labels.exists():
        raise ValueError(f"the labels {spec.update!r} was trained on (job {record['job']}) are not in the job store "
                         f"{store.root}; submit every label (old and new) as a new job instead")  # fmt: skip
    return f"{registry['name']}@{registry['version']}", card, pd.read_csv(labels)


def canonical(smiles: list[str]) -> list[str]:
    """RDKit's canonical SMILES (the text as given where RDKit cannot parse it)."""
    with rdBase.BlockLogs():
        mols = [Chem.MolFromSmiles(s) for s in smiles]
    return [Chem.MolToSmiles(m) if m is not None else s for m, s in zip(mols, smiles, strict=True)]


def merge(old: pd.DataFrame, new: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Every label (a molecule labeled again keeps its new label) and the rows of molecules the old model never saw."""
    seen = set(canonical(old["smiles"].astype(str).tolist()))
    keys = canonical(new["smiles"].astype(str).tolist())
    unseen = new[[k not in seen for k in keys]].reset_index(drop=True)
    relabeled = set(keys)
    kept = old[[k not in relabeled for k in canonical(old["smiles"].astype(str).tolist())]]
    return pd.concat([kept, new], ignore_index=True), unseen


def prospective(ref: str, rows: pd.DataFrame, targets: list[str], task_type: str) -> dict[str, Any]:
    """``ref`` scored on ``rows`` it never saw: the metric, the share in its domain and its conformal coverage."""
    metric, higher = primary_metric(task_type)
    path = model_path(ref)
    model = load_model(path)
    smiles = rows["smiles"].astype(str).tolist()
    labels = rows[targets].to_numpy(np.float64)
    out: dict[str, Any] = {"model": ref, "rows": len(rows), "metric": metric, "score": None}
    if not len(rows):
        out["note"] = "no new molecules: every uploaded molecule was among the earlier labels"
        return out
    scored = score_molecules(model, smiles, domain=TrainingDomain.load(path))
    sign = 1 if higher else -1
    out["score"] = rounded(sign * Scorer(task_type, labels)(scored.mean))
    if out["score"] is None:
        out["note"] = f"the new rows hold one class of every task: no {metric}"
    known = scored.similarity[~np.isnan(scored.similarity)]
    out["in_domain_share"] = rounded(float((known >= IN_DOMAIN_THRESHOLD).mean())) if len(known) else None
    conformal = getattr(model, "conformal", None)
    if conformal is not None:
        out["coverage"] = {f"{level:.2f}": {k: rounded(v) for k, v in conformal.report(
            model.output_names(), scored.mean, labels, level, scored.similarity).items()}
            for level in COVERAGE_LEVELS}  # fmt: skip
    return out


def change(card: dict[str, Any], cv: dict[str, Any], old_ref: str, check: dict[str, Any]) -> dict[str, Any]:
    """The report's versions section: the old model's cross-validated score (from its card), its prospective score
    on the new rows, the new model's cross-validated score and the change between the two cross-validations."""
    before = (card.get(CARD_KEY) or {}).get("cv")
    after = (cv.get("methods", {}).get("recipe") or {}).get("mean")
    sign = 1 if cv.get("higher_is_better", True) else -1
    delta = rounded(sign * (after - before)) if before is not None and after is not None else None
    return {"previous": old_ref, "previous_cv": before, "prospective": check, "cv": after, "change": delta}
