"""Per-molecule feature vectors beside the graphs: what fingerprint models and descriptor hybrids read.

A model names the kinds it reads (``ecfp4``, ``ecfp4_counts``, ``descriptors:fast``, ``minimol``); they are computed
from the store's canonical SMILES for the molecules that featurized and attached to the store by name, so batches
gather them with the graphs (``GraphBatch.features``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from gnnpt.featurization.cache import cached_features, molecule_features
from gnnpt.store.packed import PackedGraphs

VECTOR_KINDS = ("ecfp4", "ecfp4_counts", "descriptors:fast", "minimol")


def check_vector_kinds(kinds: Sequence[str]) -> list[str]:
    """``kinds`` as a list, or a ValueError naming the unknown one and the choices."""
    for kind in kinds:
        if kind not in VECTOR_KINDS:
            raise ValueError(f"unknown molecule features {kind!r}; choose from {', '.join(VECTOR_KINDS)}")
    return list(kinds)


def attach_vectors(store: PackedGraphs, kinds: Sequence[str], cache: bool = False) -> PackedGraphs:
    """Add each of ``kinds`` to ``store.features`` as float32 [molecules, d] (NaN rows for molecules that did not
    featurize, or that a kind cannot describe). Needs the store's SMILES (``featurize(..., canonical=True)``).
    ``cache``: keep the vectors on disk by the molecules' hash (a training set featurized again and again)."""
    kinds = check_vector_kinds(kinds)
    if store.smiles is None:
        raise ValueError("the store has no SMILES to compute molecule features from; featurize with canonical=True")
    ids = store.valid_ids
    for kind in kinds:
        if kind in store.features:
            continue
        smiles = [store.smiles[i] for i in ids]
        part = np.asarray(cached_features(smiles, kind) if cache else molecule_features(smiles, kind), np.float32)
        values = np.full((len(store), part.shape[1] if part.ndim == 2 else 0), np.nan, np.float32)
        if len(ids):
            values[ids] = part
        store.features[kind] = torch.from_numpy(values)
    return store
