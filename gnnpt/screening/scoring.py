"""Score numbered chunks through the one scoring path (:func:`gnnpt.models.scoring.score_molecules`, via the
:class:`~gnnpt.predict.Predictor`): featurize (in worker processes when asked) and run the model, one output row per
input row.

Featurization runs in worker processes (one at least) and overlaps with scoring of the current chunk; results come
back in input order. The model then gets the cores the featurization workers leave (at least one thread; see
:mod:`gnnpt.runtime`). Scores depend (in the last float32 bit) on how molecules are batched, so the same
``chunk_size`` and ``batch_size`` give bit-identical output.

A worker that dies (RDKit crashed on a molecule) breaks the whole process pool: the chunk is then featurized again in
a supervised child process (:mod:`gnnpt.featurization.contained`), where the molecule that kills its process becomes
that row's error, and a new pool takes the chunks behind it. The run goes on; a normal run pays nothing for this.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

import pandas as pd
import torch

from gnnpt.featurization.contained import ContainedFeaturizer, contained_parsing
from gnnpt.featurization.pipeline import featurize, start_method, worker_pool
from gnnpt.featurization.vectors import attach_vectors
from gnnpt.models.scoring import score_columns
from gnnpt.predict.predictor import Predictor
from gnnpt.runtime import model_threads, release_free_memory, torch_threads
from gnnpt.screening.inputs import READ_ERROR
from gnnpt.store.errors import ErrorReason
from gnnpt.store.packed import PackedGraphs

log = logging.getLogger(__name__)


def output_columns(predictor: Predictor, carried: list[str]) -> list[str]:
    """The columns of a screening output, in order: ``row``, the carried input columns, then the scoring path's."""
    return ["row", *carried, *score_columns(predictor.model)]


def _featurize_arrays(smiles: list[object], scheme: str, max_atoms: int, fingerprints: bool,
                      inputs: tuple[str, ...] = ()) -> tuple:  # fmt: skip
    """Featurize in a worker process (as the model's ``featurize`` does: graphs, and the molecule feature vectors
    ``inputs`` it reads); numpy arrays travel between processes more cheaply than tensors."""
    store = featurize(smiles, scheme, canonical=True, max_atoms=max_atoms, fingerprints=fingerprints)
    if inputs:
        attach_vectors(store, inputs)
    tensors = (store.x, store.edge_index, store.edge_attr, store.node_ptr, store.edge_ptr)
    fps = store.fingerprints.numpy() if store.fingerprints is not None else None
    vectors = {k: v.numpy() for k, v in store.features.items()}
    return tuple(t.numpy() for t in tensors), store.smiles, store.errors, fps, vectors


def _store_from_arrays(arrays: tuple, scheme: str) -> PackedGraphs:
    tensors, smiles, errors, fps, vectors = arrays
    return PackedGraphs(*(torch.from_numpy(a) for a in tensors), scheme, smiles, errors,
                        torch.from_numpy(fps) if fps is not None else None,
                        {k: torch.from_numpy(v) for k, v in vectors.items()})  # fmt: skip


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


class _FeaturizedAhead:
    """Chunks featurized ahead in ``workers`` processes, taken back in input order as graph stores.

    A worker that dies breaks its pool: every chunk in that pool fails, and new chunks go to a new pool. A failed
    chunk (or one whose worker ran out of memory) is featurized again by itself in a supervised child process, where
    the row that kills its process becomes that row's error.
    """

    def __init__(self, workers: int, predictor: Predictor):
        self.workers = workers
        self.args = (predictor.model.scheme, predictor.max_atoms, predictor.domain is not None,
                     tuple(getattr(predictor.model, "inputs", ())))  # fmt: skip
        self.pool = worker_pool(workers)
        self.pending: deque[tuple[pd.DataFrame, ProcessPoolExecutor, Future]] = deque()
        self.isolation = ContainedFeaturizer(start_method=start_method())  # its process starts on first use

    def __len__(self) -> int:
        return len(self.pending)

    def push(self, chunk: pd.DataFrame) -> None:
        """Start featurizing ``chunk``."""
        smiles = chunk["smiles"].tolist()
        try:
            future = self.pool.submit(_featurize_arrays, smiles, *self.args)
        except BrokenProcessPool:  # a worker died since the last chunk; the chunks it held fail when taken back
            self._replace_pool()
            future = self.pool.submit(_featurize_arrays, smiles, *self.args)
        self.pending.append((chunk, self.pool, future))

    def pop(self) -> tuple[pd.DataFrame, PackedGraphs]:
        """The oldest chunk and its graphs."""
        chunk, pool, future = self.pending.popleft()
        try:
            arrays = future.result()
        except (BrokenProcessPool, MemoryError) as exc:
            if isinstance(exc, BrokenProcessPool) and pool is self.pool:
                self._replace_pool()
            rows = chunk["row"]
            log.warning("featurizing rows %d-%d failed (%s); featurizing them again in a supervised process, where a "
                        "row that kills it becomes that row's error", rows.iloc[0], rows.iloc[-1],
                        "a worker process died" if isinstance(exc, BrokenProcessPool) else "out of memory")  # fmt: skip
            with contained_parsing(self.isolation):
                arrays = _featurize_arrays(chunk["smiles"].tolist(), *self.args)
        return chunk, _store_from_arrays(arrays, self.args[0])

    def _replace_pool(self) -> None:
        self.pool.shutdown()
        self.pool = worker_pool(self.workers)

    def close(self) -> None:
        """Stop the workers (after the chunks they are featurizing) and the supervised process."""
        self.pool.shutdown()
        self.isolation.close()


def local_scored_chunks(
    chunks: Iterator[pd.DataFrame], predictor: Predictor, batch_size: int, workers: int = 1
) -> Iterator[pd.DataFrame]:
    """Score ``chunks`` in this process, featurizing up to ``workers + 1`` chunks ahead in ``workers`` processes (at
    least one: a molecule that crashes RDKit must not end the run)."""
    workers = max(workers, 1)
    ahead = _FeaturizedAhead(workers, predictor)

    def next_scored() -> pd.DataFrame:
        chunk, store = ahead.pop()
        scored = score_chunk(predictor, chunk, batch_size, store)
        release_free_memory()  # the chunk's activations: memory stays flat over any number of chunks
        return scored

    try:
        with torch_threads(model_threads(workers)):
            for chunk in chunks:
                ahead.push(chunk)
                if len(ahead) > workers:
                    yield next_scored()
            while ahead:
                yield next_scored()
    finally:
        ahead.close()
