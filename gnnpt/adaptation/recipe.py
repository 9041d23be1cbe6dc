"""The job's recipe: ``--model auto``'s candidates and selection with the adapted encoder as one more candidate, and
the rules for few labels (fewer report folds; below :data:`BLEND_MIN` labels one candidate and no blend)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from gnnpt.adaptation.spec import AdaptationSpec
from gnnpt.datasets.splits import Split, scaffold_folds
from gnnpt.finetune.auto import AutoConfig
from gnnpt.finetune.train import FinetuneConfig
from gnnpt.pretraining.continued import ADAPTED

BLEND_MIN = 50  # fewer labels: the selection rows would rank candidates by noise, so one candidate, no blend
ALONE = "forest"  # that candidate: ECFP4 + random forest, the steadiest peer on small sets (issue 29)
PER_FOLD = 10  # the report's folds hold at least this many molecules each (fewer folds on a small set)
VALID_SHARE = 8  # the MLP heads stop early on one of this many scaffold folds of the training rows


def job_config(spec: AdaptationSpec, labels: int, adapted: str | None) -> tuple[AutoConfig, list[str]]:
    """auto's configuration for this job (``adapted``: the continued encoder's directory, None without one) and the
    notes that say what the small-data rules changed."""
    candidates, encoders, notes = list(spec.candidates), {}, []
    if adapted is not None:
        candidates.append(ADAPTED)
        encoders[ADAPTED] = adapted
    folds = spec.selection_folds
    if labels < BLEND_MIN:
        notes.append(f"{labels} labeled molecules, fewer than {BLEND_MIN}: no blend is chosen (so few selection rows "
                     f"rank candidates by noise); the model is {ALONE} (ECFP4 + random forest) alone and the adapted "
                     "encoder is not tried")  # fmt: skip
        candidates, encoders, folds = [ALONE], {}, max(folds, 3)
    gnn = FinetuneConfig(encoder=spec.encoder, seeds=list(range(spec.seeds)))
    cfg = AutoConfig(candidates=candidates, encoders=encoders, seeds=list(range(spec.seeds)), gnn=gnn, folds=folds)
    return cfg, notes


def report_folds(spec: AdaptationSpec, labels: int) -> tuple[int, list[str]]:
    """The report's fold count: ``spec.folds``, fewer where folds would hold under :data:`PER_FOLD` molecules."""
    folds = max(2, min(spec.folds, labels // PER_FOLD))
    if folds < spec.folds:
        return folds, [f"{labels} labeled molecules: the report cross-validates over {folds} scaffold folds, not "
                       f"{spec.folds}, so that each holds {PER_FOLD} or more"]  # fmt: skip
    return folds, []


def training_parts(smiles: Sequence[str], rows: np.ndarray, test: np.ndarray, seed: int) -> Split:
    """``rows`` as auto's training and validation parts (a scaffold fold of them validates the MLP heads' early
    stopping; auto weighs the candidates by cross-validation over both), ``test`` held out."""
    valid = scaffold_folds(smiles, rows, min(VALID_SHARE, len(rows)), seed=seed)[0]
    return Split(np.setdiff1d(rows, valid), valid, np.asarray(test, np.int64))
