"""The Ray Data engine: the same screening, with featurization and scoring spread over a Ray cluster.

Ray is optional: ``pip install 'ray[data]'``. ``screen(..., engine="ray")`` (``gnnpt screen --engine ray``) uses
the Ray instance already started in this process, else calls ``ray.init()``, which joins the cluster named by the
``RAY_ADDRESS`` environment variable or starts a local one. To use a running cluster, either export
``RAY_ADDRESS=auto`` (or ``ray://head:10001``) before ``gnnpt screen``, or call ``ray.init(address="auto")`` before
``screen()``. Every node needs gnnpt (and its dependencies) installed, the same version as the driver.

The driver reads the input (any format gnnpt reads) chunk by chunk and puts each chunk into Ray's object store,
keeping only references (Ray spills the store to disk when it fills). ``map_batches`` runs a pool of model actors
(``workers`` of them on CPUs, one per GPU when the cluster has GPUs) that featurize and score each chunk; results
stream back in input order (``preserve_order``) into the same writers as the local engine, so the output files,
``--resume``, ``--top-k`` and ``--filter`` behave identically.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from types import ModuleType

import pandas as pd
import torch

from gnnpt.predict.predictor import Predictor
from gnnpt.screening.scoring import score_chunk


def import_ray() -> ModuleType:
    """The ``ray`` module, with Ray Data; a clear error telling how to install it otherwise."""
    try:
        import ray
        import ray.data
    except ImportError:
        raise ImportError("the ray engine needs Ray Data, which is not installed: pip install 'ray[data]'") from None
    return ray


class ChunkScorer:
    """A Ray actor holding the predictor (its model on the actor's GPU when it has one) that scores chunks."""

    def __init__(self, predictor: Predictor, batch_size: int):
        predictor.model.to("cuda" if torch.cuda.is_available() else "cpu").eval()
        self.predictor, self.batch_size = predictor, batch_size

    def __call__(self, chunk: pd.DataFrame) -> pd.DataFrame:
        return score_chunk(self.predictor, chunk, self.batch_size)


def ray_scored_chunks(
    chunks: Iterator[pd.DataFrame],
    predictor: Predictor,
    batch_size: int,
    chunk_size: int,
    workers: int = 1,
) -> Iterator[pd.DataFrame]:
    """Score ``chunks`` on Ray; scored frames come back in input order."""
    ray = import_ray()
    started = not ray.is_initialized()
    if started:
        ray.init()
    context = ray.data.DataContext.get_current()
    saved = context.execution_options.preserve_order, context.enable_progress_bars
    context.execution_options.preserve_order, context.enable_progress_bars = True, False
    try:
        refs = [ray.put(chunk) for chunk in chunks]
        if not refs:
            return
        gpus = int(ray.cluster_resources().get("GPU", 0))
        scored = ray.data.from_pandas_refs(refs).map_batches(
            ChunkScorer,
            fn_constructor_args=(_cpu_copy(predictor), batch_size),
            batch_size=chunk_size,
            batch_format="pandas",
            compute=ray.data.ActorPoolStrategy(size=gpus or max(1, workers)),
            num_gpus=1 if gpus else 0,
            num_cpus=1,
        )
        yield from scored.iter_batches(batch_size=None, batch_format="pandas")
    finally:
        context.execution_options.preserve_order, context.enable_progress_bars = saved
        if started:
            ray.shutdown()


def _cpu_copy(predictor: Predictor) -> Predictor:
    """A copy of ``predictor`` with its model on the CPU, to ship to the actors (the precision stays as resolved)."""
    clone = copy.copy(predictor)
    clone.model = copy.deepcopy(predictor.model).cpu()
    return clone
