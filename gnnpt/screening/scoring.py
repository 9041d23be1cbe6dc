"""Score numbered chunks: featurize (in worker processes when asked) and run the model, one output row per input row.

Featurization of later chunks overlaps with scoring of the current one when ``workers > 1``; results come back in
input order. The model then gets the cores the featurization workers leave (at least one thread; see
:mod:`gnnpt.runtime`). Scores depend (in the last float32 bit) on how molecules are batched, so the same
``chunk_size`` and ``batch_size`` give bit-identical output.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future

import numpy as np
import pandas as pd
import torch

from gnnpt.featurization.errors import ErrorReason
from gnnpt.featurization.pipeline import featurize, worker_pool
from gnnpt.finetune.model import FinetunedModel
from gnnpt.nn.precision import DEFAULT_PRECISION
from gnnpt.runtime import model_threads, release_free_memory, torch_threads
from gnnpt.screening.inputs import READ_ERROR
from gnnpt.store.packed import PackedGraphs


def output_columns(model: FinetunedModel) -> list[str]:
    """The columns of a screening output, in order."""
    return ["row", "smiles", "canonical_smiles", *model.output_names(), "error"]


def _featurize_arrays(smiles: list[object], scheme: str) -> tuple:
    """Featurize in a worker process; numpy arrays travel between processes more cheaply than tensors."""
    store = featurize(smiles, scheme, canonical=True)
    tensors = (store.x, store.edge_index, store.edge_attr, store.node_ptr, store.edge_ptr)
    return tuple(t.numpy() for t in tensors), store.smiles, store.errors


def _store_from_arrays(arrays: tuple, scheme: str) -> PackedGraphs:
    tensors, smiles, errors = arrays
    return PackedGraphs(*(torch.from_numpy(a) for a in tensors), scheme, smiles, errors)


def score_chunk(
    model: FinetunedModel,
    chunk: pd.DataFrame,
    batch_size: int,
    store: PackedGraphs | None = None,
    precision: str = DEFAULT_PRECISION,
) -> pd.DataFrame:
    """The output rows of a numbered chunk (``row``, ``smiles``): canonical SMILES, one column per output, error."""
    if store is None:
        store = featurize(chunk["smiles"].tolist(), model.scheme, canonical=True)
    scores = model.predict_store(store, batch_size, precision)
    errors = scores["error"].to_numpy(object, copy=True)  # pandas may hand out a read-only view
    if READ_ERROR in chunk:
        unread = chunk[READ_ERROR].notna().to_numpy()
        errors[unread] = [f"{ErrorReason.UNPARSABLE}: {note}" for note in chunk[READ_ERROR][unread]]
    out = pd.DataFrame(
        {
            "row": chunk["row"].to_numpy(np.int64),
            "smiles": chunk["smiles"].to_numpy(object),
            "canonical_smiles": scores["smiles"].to_numpy(object),
        }
    )
    for name in model.output_names():
        out[name] = scores[name].to_numpy(np.float32)
    out["error"] = errors
    return out


def local_scored_chunks(
    chunks: Iterator[pd.DataFrame],
    model: FinetunedModel,
    batch_size: int,
    workers: int = 1,
    precision: str = DEFAULT_PRECISION,
) -> Iterator[pd.DataFrame]:
    """Score ``chunks`` in this process; ``workers > 1`` featurizes up to ``workers + 1`` chunks ahead in processes."""
    if workers <= 1:
        for chunk in chunks:
            yield score_chunk(model, chunk, batch_size, precision=precision)
            release_free_memory()
        return
    with (
        torch_threads(model_threads(workers)),
        worker_pool(workers) as pool,
    ):
        pending: deque[tuple[pd.DataFrame, Future]] = deque()

        def next_scored() -> pd.DataFrame:
            chunk, future = pending.popleft()
            store = _store_from_arrays(future.result(), model.scheme)
            scored = score_chunk(model, chunk, batch_size, store, precision)
            release_free_memory()  # the chunk's activations: memory stays flat over any number of chunks
            return scored

        for chunk in chunks:
            pending.append((chunk, pool.submit(_featurize_arrays, chunk["smiles"].tolist(), model.scheme)))
            if len(pending) > workers:
                yield next_scored()
        while pending:
            yield next_scored()
