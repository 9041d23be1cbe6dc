"""``featurize``: SMILES or RDKit molecules in, one packed store of graphs out, aligned with the inputs."""

from __future__ import annotations

import itertools
import multiprocessing as mp
import os
import sys
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor

import numpy as np
import torch

from gnnpt.featurization.chunk import ChunkResult, FeaturizeOptions, featurize_chunk
from gnnpt.featurization.contained import ContainedFeaturizer, active_featurizer
from gnnpt.featurization.standardize import Standardization
from gnnpt.runtime import start_worker
from gnnpt.store.packed import PackedGraphs


def _chunks(items: Iterable[object], size: int) -> Iterator[list[object]]:
    it = iter(items)
    while chunk := list(itertools.islice(it, size)):
        yield chunk


def start_method() -> str:
    """How featurization worker processes start: fork on Linux (fast starts, and it works from notebooks, stdin and
    unguarded scripts; each worker runs torch on one thread, :func:`gnnpt.runtime.start_worker`), spawn elsewhere."""
    return "fork" if sys.platform.startswith("linux") else "spawn"


def worker_pool(workers: int) -> ProcessPoolExecutor:
    """A pool of ``workers`` featurization processes (:func:`start_method`) that end with this process and run torch
    on one thread each."""
    context = mp.get_context(start_method())
    return ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=start_worker,
                               initargs=(os.getpid(),))  # fmt: skip


def _run_parallel(chunks: Iterator[list[object]], options: FeaturizeOptions, workers: int) -> Iterator[ChunkResult]:
    """Featurize chunks in worker processes, yielding results in input order with bounded memory."""
    with worker_pool(workers) as pool:
        pending: deque[Future[ChunkResult]] = deque()
        start = 0
        for chunk in chunks:
            pending.append(pool.submit(featurize_chunk, chunk, start, options))
            start += len(chunk)
            if len(pending) >= 2 * workers:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


def _run_serial(chunks: Iterator[list[object]], options: FeaturizeOptions) -> Iterator[ChunkResult]:
    start = 0
    for chunk in chunks:
        yield featurize_chunk(chunk, start, options)
        start += len(chunk)


def _run_contained(
    chunks: Iterator[list[object]], options: FeaturizeOptions, featurizer: ContainedFeaturizer
) -> Iterator[ChunkResult]:
    start = 0
    for chunk in chunks:
        yield from featurizer.featurize_items(chunk, start, options)
        start += len(chunk)


def _pack(results: list[ChunkResult], options: FeaturizeOptions) -> PackedGraphs:
    num_nodes = np.concatenate([r.num_nodes for r in results]) if results else np.zeros(0, np.int64)
    num_edges = np.concatenate([r.num_edges for r in results]) if results else np.zeros(0, np.int64)
    node_ptr = np.zeros(num_nodes.size + 1, np.int64)
    np.cumsum(num_nodes, out=node_ptr[1:])
    edge_ptr = np.zeros(num_edges.size + 1, np.int64)
    np.cumsum(num_edges, out=edge_ptr[1:])
    ei_dtype = np.int16 if options.max_atoms <= np.iinfo(np.int16).max else np.int32
    from gnnpt.featurization.schemes import scheme_dims

    node_dim, edge_dim = scheme_dims(options.scheme)
    x = np.concatenate([r.x for r in results]) if results else np.empty((0, node_dim), np.int16)
    edge_index = np.empty((2, int(edge_ptr[-1])), ei_dtype)
    if results:
        np.concatenate([r.src for r in results], out=edge_index[0], casting="unsafe")
        np.concatenate([r.dst for r in results], out=edge_index[1], casting="unsafe")
    edge_attr = np.concatenate([r.edge_attr for r in results]) if results else np.empty((0, edge_dim), np.int16)
    return PackedGraphs(
        torch.from_numpy(x),
        torch.from_numpy(edge_index),
        torch.from_numpy(edge_attr),
        torch.from_numpy(node_ptr),
        torch.from_numpy(edge_ptr),
        options.scheme,
        [s for r in results for s in r.smiles],
        [e for r in results for e in r.errors],
        torch.from_numpy(np.concatenate([r.fingerprints for r in results]))
        if options.fingerprints and results
        else None,
    )


def _progress_iter(results: Iterator[ChunkResult], total: int | None) -> Iterator[ChunkResult]:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    columns = (TextColumn("featurizing"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, transient=True) as bar:
        task = bar.add_task("featurize", total=total)
        for r in results:
            bar.advance(task, len(r.smiles))
            yield r


def featurize(
    molecules: Iterable[object],
    scheme: str = "hu2020",
    *,
    standardize: bool | Standardization = False,
    canonical: bool = False,
    max_atoms: int = 1000,
    fingerprints: bool = False,
    workers: int = 1,
    chunk_size: int = 2048,
    progress: bool = False,
) -> PackedGraphs:
    """Turn SMILES strings or RDKit molecules into one packed store of graphs.

    Never raises for a bad molecule and never drops one: graph ``i`` is input ``i``; a failed input
    is an empty graph listed in ``.errors`` (index, input, reason, message). ``standardize=True``
    applies :class:`Standardization` defaults (cleanup, largest fragment, uncharge); ``canonical``
    stores RDKit canonical SMILES in ``.smiles``; ``fingerprints`` adds each molecule's packed Morgan-2 bits
    (``.fingerprints``, from the molecule already parsed: the applicability domain costs no second parse).
    ``workers > 1`` featurizes chunks in worker
    processes with results identical to the serial path. Inside
    :func:`~gnnpt.featurization.contained.contained_parsing` the chunks are featurized in that featurizer's child
    process instead (``workers`` unused): a molecule that crashes RDKit or passes its limits is that row's error.
    """
    if chunk_size < 1:
        raise ValueError("chunk_size must be >= 1")
    std = Standardization() if standardize is True else (standardize or None)
    options = FeaturizeOptions(scheme=scheme, max_atoms=max_atoms, standardize=std, canonical=canonical,
                               fingerprints=fingerprints)  # fmt: skip
    from gnnpt.featurization.schemes import get_scheme

    get_scheme(scheme)  # fail fast on an unknown scheme, before any worker starts
    total = len(molecules) if hasattr(molecules, "__len__") else None
    if total is not None and workers > 1:
        chunk_size = max(1, min(chunk_size, -(-total // (4 * workers))))
    chunks = _chunks(molecules, chunk_size)
    parallel = workers > 1 and (total is None or total > chunk_size)
    if (featurizer := active_featurizer()) is not None:
        results = _run_contained(chunks, options, featurizer)
    elif parallel:
        results = _run_parallel(chunks, options, workers)
    else:
        results = _run_serial(chunks, options)
    if progress:
        results = _progress_iter(results, total)
    return _pack(list(results), options)
