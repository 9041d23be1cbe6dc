"""The one scoring path: SMILES -> graphs -> batches -> model -> scores, ensemble spread, applicability domain and
per-row errors.

The notebook :class:`~gnnpt.predict.Predictor`, ``gnnpt screen``, the REST service and distillation all score through
:func:`score_molecules`, so every interface returns the same columns and the same numbers for the same molecule
(with the same batching and precision). A model only has to provide ``featurize``, ``member_scores`` and
``output_names`` (see :mod:`gnnpt.models.finetuned`).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch

from gnnpt.models.artifact import load_model_dir
from gnnpt.models.conformal import DEFAULT_CONFIDENCE
from gnnpt.models.domain import IN_DOMAIN_THRESHOLD, TrainingDomain
from gnnpt.models.scored import ScoredMolecules, table_columns
from gnnpt.models.store import model_path
from gnnpt.nn.precision import DEFAULT_PRECISION, inference_autocast
from gnnpt.store.packed import GraphBatch, PackedGraphs

MAX_ATOMS = 1000  # heavier molecules get a "too many atoms" error (the service sets its own, lower limit)


def load_model(ref: str | Path | None = None, device: str | torch.device = "cpu") -> ScoringModel:
    """The model ``ref`` names: None for the default, a shipped or stored name (``name``, ``name@v2``) or a saved
    model directory (see :func:`gnnpt.models.store.resolve`); any kind that scores (fine-tuned GNN, tabular,
    ensemble)."""
    return load_model_dir(model_path(ref), device)


class ScoringModel(Protocol):
    """What the scoring path asks of a model (fine-tuned GNN, tabular, ensemble). A model may also give
    ``combine(scores) -> (mean, spread)`` (default: the members' mean and population std) and ``conformal``."""

    members: Sequence[object]
    task_type: str
    scheme: str
    inputs: list[str]  # the molecule feature vectors it reads beside the graphs (e.g. minimol)

    def featurize(self, smiles: Sequence[object], max_atoms: int = ..., fingerprints: bool = ...) -> PackedGraphs: ...
    def member_scores(self, graphs: GraphBatch) -> torch.Tensor: ...
    def output_names(self) -> list[str]: ...
    def state(self) -> tuple[dict[str, Any], dict[str, torch.Tensor], dict[str, str]]: ...
    def eval(self) -> ScoringModel: ...
    def parameters(self) -> Iterator[torch.Tensor]: ...
    def buffers(self) -> Iterator[torch.Tensor]: ...


def model_device(model: ScoringModel) -> torch.device:
    """Where a model's tensors live (CPU for a model without any, e.g. trees only)."""
    for tensor in itertools.chain(model.parameters(), model.buffers()):
        return tensor.device
    return torch.device("cpu")


@torch.no_grad()
def ensemble_scores(
    model: ScoringModel, store: PackedGraphs, batch_size: int = 1024, precision: str = DEFAULT_PRECISION
) -> tuple[np.ndarray, np.ndarray | None]:
    """Ensemble mean and spread (population std over members; None for one member) [rows, outputs] of the graphs in
    ``store``; NaN rows where a molecule could not be featurized."""
    model.eval()
    device = model_device(model)
    shape = (len(store), len(model.output_names()))
    mean = np.full(shape, np.nan, np.float32)
    std = np.full(shape, np.nan, np.float32) if len(model.members) > 1 else None
    combine = getattr(model, "combine", None)
    with inference_autocast(precision, device):
        for ids, graphs in store.valid_batches(batch_size, device):
            scores = model.member_scores(graphs).float()
            if combine is not None:
                batch_mean, batch_std = combine(scores)
            else:
                batch_mean, batch_std = scores.mean(0), scores.std(0, correction=0)
            mean[ids] = batch_mean.cpu().numpy()
            if std is not None and batch_std is not None:
                std[ids] = batch_std.cpu().numpy()
    return mean, std


def score_molecules(
    model: ScoringModel,
    smiles: Sequence[object],
    *,
    errors: Sequence[str | None] | None = None,
    store: PackedGraphs | None = None,
    domain: TrainingDomain | None = None,
    threshold: float = IN_DOMAIN_THRESHOLD,
    max_atoms: int = MAX_ATOMS,
    batch_size: int = 1024,
    precision: str = DEFAULT_PRECISION,
    confidence: float = DEFAULT_CONFIDENCE,
) -> ScoredMolecules:
    """Score ``smiles``: one row per input, in order, nothing dropped.

    ``errors``: per-row errors found before featurization (an unreadable file record); they win over featurization
    errors. ``store``: the graphs of ``smiles`` when already featurized (e.g. in a worker process, by
    ``model.featurize``). ``domain``: the training molecules, for ``max_similarity`` / ``in_domain`` (NaN / None
    without one). ``precision``: ``auto``, ``bf16`` or ``fp32`` (:mod:`gnnpt.nn.precision`). ``confidence``: of the
    conformal prediction sets / intervals, for a model calibrated for them (:mod:`gnnpt.models.conformal`).
    """
    if store is None:
        store = model.featurize(smiles, max_atoms, fingerprints=domain is not None)
    if len(store) != len(smiles):
        raise ValueError(f"the store holds {len(store)} molecules for {len(smiles)} SMILES; featurize these SMILES")
    row_errors = list(errors) if errors is not None else [None] * len(smiles)
    for e in store.errors:
        row_errors[e.index] = row_errors[e.index] or f"{e.reason}: {e.message}"
    canonical = list(store.smiles) if store.smiles is not None else [None] * len(store)
    # the domain's Tanimoto maxima run beside the forward pass (both release the GIL), on the fingerprints
    # featurization computed from the parsed molecules when it did, else from the canonical SMILES
    pending = None
    if domain is not None and store.fingerprints is not None:
        pending = domain.max_similarity_async((store.fingerprints.numpy(), store.valid))
    elif domain is not None:
        pending = domain.max_similarity_async(canonical)
    mean, std = ensemble_scores(model, store, batch_size, precision)
    similarity = pending.result() if pending is not None else np.full(len(store), np.nan, np.float32)
    conformal = getattr(model, "conformal", None)
    extra = conformal.predict(model.output_names(), mean, confidence, similarity) if conformal is not None else {}
    return ScoredMolecules(model.output_names(), canonical, mean, std, similarity, row_errors, threshold, extra)


def score_columns(model: ScoringModel) -> list[str]:
    """The columns :meth:`ScoredMolecules.frame` has for ``model``'s scores."""
    conformal = getattr(model, "conformal", None)
    extra = conformal.columns(model.output_names()) if conformal is not None else []
    return table_columns(model.output_names(), len(model.members) > 1, extra)
