"""Distil a model of any kind (a GNN, or an ensemble reading MiniMol fingerprints) into a small, fast GIN student
for screening large libraries.

The student (a fresh, narrower GIN) learns the teacher's scores (probabilities, or values for regression) on the
teacher's training molecules and on an unlabeled corpus; it is selected on the validation part and tested on the
test part of the teacher's own split, with the true labels, so its card compares like with like. Corpus molecules
that are also validation or test molecules are left out of its training.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from gnnpt.datasets.splits import Split
from gnnpt.featurization.pipeline import featurize
from gnnpt.featurization.vectors import attach_vectors
from gnnpt.finetune.run import LabeledData, load_labeled, make_split, save_finetuned
from gnnpt.finetune.train import FinetuneConfig, FinetuneResult, finetune
from gnnpt.models.scoring import ScoringModel, ensemble_scores, load_model
from gnnpt.store.packed import PackedGraphs

log = logging.getLogger(__name__)


@dataclass
class DistillData:
    """The student's training set: labeled molecules then corpus molecules, with targets and the split."""

    store: PackedGraphs
    targets: np.ndarray
    split: Split
    corpus_used: int
    corpus_overlap: int


def teacher_scores(teacher: ScoringModel, graphs: PackedGraphs, batch_size: int = 1024) -> np.ndarray:
    """The teacher's scores [molecules, outputs] for ``graphs`` (featurized with the teacher's scheme and canonical
    SMILES) in target units (calibrated probabilities for a calibrated ensemble; NaN for molecules it cannot read),
    from the scoring path every interface uses, at the default precision. Any model kind teaches (GNN, tabular,
    ensemble). The feature vectors it reads (e.g. MiniMol fingerprints, about 12 ms a molecule on 2 cores) are
    cached on disk by the molecules' hash, so distilling the same corpus again (another student) skips them."""
    graphs = graphs.select(np.arange(len(graphs)))  # a copy: the student's graphs stay without the teacher's vectors
    if teacher.inputs:
        log.info("computing the teacher's inputs %s for %d molecules (cached)", teacher.inputs, len(graphs))
    return ensemble_scores(teacher, attach_vectors(graphs, teacher.inputs, cache=True), batch_size)[0]


def distillation_set(
    teacher: ScoringModel, data: LabeledData, split: Split, corpus: list[str], batch_size: int = 1024
) -> DistillData:
    """Targets: the teacher's scores for training and corpus molecules, the true labels for validation and test.
    The student's graphs use the default scheme (the teacher's when it is a GNN)."""
    labeled = featurize(data.smiles, teacher.scheme, canonical=True)
    held_out = {labeled.smiles[i] for i in (*split.valid, *split.test) if labeled.smiles[i]}
    pool = featurize(corpus, teacher.scheme, canonical=True)
    keep = np.array([bool(s) and s not in held_out for s in pool.smiles], dtype=bool)
    overlap = int(sum(1 for s in pool.smiles if s and s in held_out))
    pool = pool.select(np.flatnonzero(keep))
    targets = np.asarray(data.targets, dtype=np.float32).copy()
    train = np.asarray(split.train, dtype=np.int64)
    targets[train] = teacher_scores(teacher, labeled.select(train), batch_size)
    corpus_targets = teacher_scores(teacher, pool, batch_size)
    store = PackedGraphs.concat([labeled, pool])
    corpus_rows = np.arange(len(labeled), len(store), dtype=np.int64)
    parts = Split(np.concatenate([train, corpus_rows]), np.asarray(split.valid), np.asarray(split.test))
    return DistillData(store, np.concatenate([targets, corpus_targets]), parts, len(pool), overlap)


def distill(
    teacher: ScoringModel, data: LabeledData, split: Split, corpus: list[str], cfg: FinetuneConfig
) -> tuple[FinetuneResult, DistillData]:
    """Train ``cfg``'s student on the teacher's scores; returns it with the data it was trained on."""
    if teacher.task_type == "multiclass":
        raise ValueError("distillation supports classification and regression models, not multiclass ones")
    if [*data.task_names] != teacher.task_names:
        raise ValueError(f"the labeled data's tasks {data.task_names} are not the teacher's {teacher.task_names}")
    prepared = distillation_set(teacher, data, split, corpus)
    result = finetune(prepared.store, prepared.targets, prepared.split, teacher.task_type, data.task_names, cfg)
    return result, prepared


def run_distill(
    teacher: str | Path,
    corpus: str | Path,
    out: str | Path,
    cfg: FinetuneConfig,
    data: str | Path | None = None,
    corpus_limit: int | None = None,
    half: bool = False,
    extra_card: dict[str, Any] | None = None,
) -> tuple[Path, FinetuneResult]:
    """``gnnpt distill``: load the teacher (a name or directory), its labeled data (the dataset named on its card
    unless ``data`` is given) and split, the corpus (a corpus name or a SMILES file), distil, and save the student."""
    from gnnpt.datasets.corpora import load_corpus
    from gnnpt.datasets.readers import read_molecules

    net = load_model(teacher)
    card = net.card
    labeled = load_labeled(data or card.get("data", {}).get("name", ""), targets=net.task_names)
    split_card = card.get("split", {})
    split = make_split(labeled, split_card.get("kind", "scaffold"), split_card.get("seed", 0))
    path = Path(corpus)
    frame = read_molecules(path) if path.exists() else load_corpus(str(corpus), limit=corpus_limit)
    smiles = frame["smiles"].fillna("").astype(str).tolist()[:corpus_limit]
    result, prepared = distill(net, labeled, split, smiles, cfg)
    fields = ("name", "kind", "architecture", "encoder_config", "members", "notes")  # those the teacher's card has
    teacher_card: dict[str, Any] = {k: card[k] for k in fields if card.get(k) is not None}
    teacher_card["test"] = card.get("metrics", {}).get("summary")
    distillation = {
        "teacher": teacher_card,
        "corpus": {
            "name": str(corpus),
            "molecules": prepared.corpus_used,
            "left_out_held_out": prepared.corpus_overlap,
        },
        "labeled_train_molecules": len(split.train),
    }
    source = card.get("name") or teacher
    notes = [f"learned from teacher {source}, whose card says: {n}" for n in card.get("notes") or []]
    extra = {"split": {**split_card, "sizes": list(split.sizes())}, "distillation": distillation, "notes": notes,
             **(extra_card or {})}  # fmt: skip
    train_smiles = [labeled.smiles[i] for i in split.train]
    invalid = int((~prepared.store.valid[: len(labeled.smiles)]).sum())
    return save_finetuned(result, labeled, invalid, cfg, out, train_smiles, half, extra), result
