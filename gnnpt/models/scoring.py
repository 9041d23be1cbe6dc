"""The one scoring path: SMILES -> graphs -> batches -> model -> scores, ensemble spread, applicability domain and
per-row errors.

The notebook :class:`~gnnpt.predict.Predictor`, ``gnnpt screen``, the REST service and distillation all score through
:func:`score_molecules`, so every interface returns the same columns and the same numbers for the same molecule
(with the same batching and precision). A model only has to provide ``featurize``, ``member_scores`` and
``output_names`` (see :mod:`gnnpt.models.finetuned`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from gnnpt.models.domain import IN_DOMAIN_THRESHOLD, TrainingDomain
from gnnpt.models.finetuned import FinetunedModel, load_finetuned
from gnnpt.models.scored import ScoredMolecules
from gnnpt.models.store import model_path
from gnnpt.nn.precision import DEFAULT_PRECISION, inference_autocast
from gnnpt.store.packed import PackedGraphs

MAX_ATOMS = 1000  # heavier molecules get a "too many atoms" error (the service sets its own, lower limit)


def load_model(ref: str | Path | None = None, device: str | torch.device = "cpu") -> FinetunedModel:
    """The model ``ref`` names: None for the default, a shipped or stored name (``name``, ``name@v2``) or a saved
    model directory (see :func:`gnnpt.models.store.resolve`)."""
    return load_finetuned(model_path(ref), device)


@torch.no_grad()
def ensemble_scores(
    model: FinetunedModel, store: PackedGraphs, batch_size: int = 1024, precision: str = DEFAULT_PRECISION
) -> tuple[np.ndarray, np.ndarray | None]:
    """Ensemble mean and spread (population std over members; None for one member) [rows, outputs] of the graphs in
    ``store``; NaN rows where a molecule could not be featurized."""
    model.eval()
    device = next(model.parameters()).device
    shape = (len(store), len(model.output_names()))
    mean = np.full(shape, np.nan, np.float32)
    std = np.full(shape, np.nan, np.float32) if len(model.members) > 1 else None
    with inference_autocast(precision, device):
        for ids, graphs in store.valid_batches(batch_size, device):
            scores = model.member_scores(graphs)
            mean[ids] = scores.mean(0).cpu().numpy()
            if std is not None:
                std[ids] = scores.std(0, correction=0).cpu().numpy()
    return mean, std


def score_molecules(
    model: FinetunedModel,
    smiles: Sequence[object],
    *,
    errors: Sequence[str | None] | None = None,
    store: PackedGraphs | None = None,
    domain: TrainingDomain | None = None,
    threshold: float = IN_DOMAIN_THRESHOLD,
    max_atoms: int = MAX_ATOMS,
    batch_size: int = 1024,
    precision: str = DEFAULT_PRECISION,
) -> ScoredMolecules:
    """Score ``smiles``: one row per input, in order, nothing dropped.

    ``errors``: per-row errors found before featurization (an unreadable file record); they win over featurization
    errors. ``store``: the graphs of ``smiles`` when already featurized (e.g. in a worker process, by
    ``model.featurize``). ``domain``: the training molecules, for ``max_similarity`` / ``in_domain`` (NaN / None
    without one). ``precision``: ``auto``, ``bf16`` or ``fp32`` (:mod:`gnnpt.nn.precision`).
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
    return ScoredMolecules(model.output_names(), canonical, mean, std, similarity, row_errors, threshold)
