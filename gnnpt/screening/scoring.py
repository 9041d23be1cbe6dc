"""Score numbered chunks through the one scoring path (:func:`gnnpt.models.scoring.score_molecules`, via the
:class:`~gnnpt.predict.Predictor`): featurize (in worker processes when asked) and run the model, one output row per
input row.

Featurization of later chunks overlaps with scoring of the current one when ``workers > 1``; results come back in
input order. The model then gets the cores the featurization workers leave (at least one thread; see
:mod:`gnnpt.runtime`). Scores depend (in the last float32 bit) on how molecules are batched, so the same
``chunk_size`` and ``batch_size`` give bit-identical output.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future

import pandas as pd
import torch

from gnnpt.featurization.pipeline import featurize, worker_pool
from gnnpt.models.scored import table_columns
from gnnpt.predict.predictor import Predictor
from gnnpt.runtime import model_threads, release_free_memory, torch_threads
from gnnpt.screening.inputs import READ_ERROR
from gnnpt.store.errors import ErrorReason
from gnnpt.store.packed import PackedGraphs


def output_columns(predictor: Predictor, carried: list[str]) -> list[str]:
    """The columns of a screening output, in order: ``row``, the carried input columns, then the scoring path's."""
    return ["row", *carried, *table_columns(predictor.model.output_names(), len(predictor.model.members) > 1)]


def _featurize_arrays(smiles: list[object], scheme: str, max_atoms: int, fingerprints: bool) -> tuple:
    """Featurize in a worker process (as ``FinetunedModel.featurize`` does); numpy arrays travel between processes
    more cheaply than tensors."""
    store = featurize(smiles, scheme, canonical=True, max_atoms=max_atoms, fingerprints=fingerprints)
    tensors = (store.x, store.edge_index, store.edge_attr, store.node_ptr, store.edge_ptr)
    fps = store.fingerprints.numpy() if store.fingerprints is not None else None
    return tuple(t.numpy() for t in tensors), store.smiles, store.errors, fps


def _store_from_arrays(arrays: tuple, scheme: str) -> PackedGraphs:
    tensors, smiles, errors, fps = arrays
    return PackedGraphs(*(torch.from_numpy(a) for a in tensors), scheme, smiles, errors,
                        torch.from_numpy(fps) if fps is not None else None)  # fmt: skip


def score_chunk(
    predictor: Predictor, chunk: pd.DataFrame, batch_size: int, store: PackedGraphs | None = None
) -> pd.DataFrame:
    """The output rows of a numbered chunk (``row``, carried columns, ``smiles``): the scoring path's columns."""
    smiles = chunk["smiles"].tolist()
    errors = None
    if READ_ERROR in chunk:
        errors = [f"{ErrorReason.UNPARSABLE}: {note}" if isinstance(note, str) else None for note in chunk[READ_ERROR]]
    out = predictor.score(smiles, errors, batch_size, store=store).frame(smiles)
    carried = [c for c in chunk.columns if c not in ("row", "smiles", READ_ERROR)]
    return pd.concat([chunk[["row", *carried]].reset_index(drop=True), out.reset_index(drop=True)], axis=1)


def local_scored_chunks(
    chunks: Iterator[pd.DataFrame], predictor: Predictor, batch_size: int, workers: int = 1
) -> Iterator[pd.DataFrame]:
    """Score ``chunks`` in this process; ``workers > 1`` featurizes up to ``workers + 1`` chunks ahead in processes."""
    if workers <= 1:
        for chunk in chunks:
            yield score_chunk(predictor, chunk, batch_size)
            release_free_memory()
        return
    scheme = predictor.model.scheme
    with (
        torch_threads(model_threads(workers)),
        worker_pool(workers) as pool,
    ):
        pending: deque[tuple[pd.DataFrame, Future]] = deque()

        def next_scored() -> pd.DataFrame:
            chunk, future = pending.popleft()
            scored = score_chunk(predictor, chunk, batch_size, _store_from_arrays(future.result(), scheme))
            release_free_memory()  # the chunk's activations: memory stays flat over any number of chunks
            return scored

        for chunk in chunks:
            smiles = chunk["smiles"].tolist()
            args = (smiles, scheme, predictor.max_atoms, predictor.domain is not None)
            pending.append((chunk, pool.submit(_featurize_arrays, *args)))
            if len(pending) > workers:
                yield next_scored()
        while pending:
            yield next_scored()
