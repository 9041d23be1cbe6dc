"""The Ray engine: the same screening, with featurization and scoring spread over the actors of a Ray cluster.

Ray is optional: ``pip install 'gnnpt[ray]'`` (or ``pip install ray``). ``screen(..., engine="ray")`` (``gnnpt screen
--engine ray``) uses the Ray instance already started in this process, else calls ``ray.init()``, which joins the
cluster named by the ``RAY_ADDRESS`` environment variable (else the last one ``ray start`` started on this machine)
or starts a local one, which takes a while: to screen many files, start a cluster once (``ray start --head``). Every
node needs gnnpt (and its dependencies) installed, the same version as the driver.

Each command also pays for its actors' processes starting (Python, Ray, torch and gnnpt imported afresh): about 11 s
more than the local engine on 2 cores, so the Ray engine pays off on large inputs and several machines; see
``benchmarks/RESULTS.md``.

The driver reads the input (any format gnnpt reads) chunk by chunk and hands the chunks round in turn to ``workers``
scoring actors (0: one per CPU of the cluster, or one per GPU when it has GPUs), each holding the predictor (shipped
once, through the object store) and featurizing and scoring a whole chunk in its own process, like the local engine.
At most ``WINDOW`` chunks per actor are in flight: the driver reads the next chunk only when the oldest has come
back, so the driver's memory and the object store hold a few chunks whatever the input size. Results come back in
input order into the same writers as the local engine, so the output files, ``--resume``, ``--top-k`` and
``--filter`` behave identically, and with the same chunk and batch sizes the scores are the same. An actor that dies
on a chunk (a molecule crashed RDKit in it) costs one row: the driver scores that chunk with parsing contained
(:mod:`gnnpt.featurization.contained`), the molecule becomes its row's error, and a fresh actor takes the dead one's
place.

Each CPU actor takes one CPU of the cluster and runs the model on one torch thread (Ray sets its ``OMP_NUM_THREADS``
to 1), with the oneDNN kernel caches ``gnnpt screen`` gives the local engine (:func:`gnnpt.runtime.runtime_defaults`):
one process per core, no threads competing for it. ``benchmarks/ray_throughput.py`` measures it against the local
engine.
"""

from __future__ import annotations

import copy
import os
from collections import deque
from collections.abc import Iterator
from types import ModuleType

import pandas as pd
import torch

from gnnpt.featurization.contained import ContainedFeaturizer, contained_parsing
from gnnpt.predict.predictor import Predictor
from gnnpt.runtime import KERNEL_CACHES, release_free_memory
from gnnpt.screening.scoring import score_chunk

WINDOW = 2  # chunks in flight per actor: one being scored, one queued behind it


def import_ray() -> ModuleType:
    """The ``ray`` module; a clear error telling how to install it otherwise."""
    try:
        import ray
    except ImportError:
        raise ImportError("the ray engine needs Ray, which is not installed: pip install 'gnnpt[ray]'") from None
    return ray


class ChunkScorer:
    """A Ray actor holding the predictor (its model on the actor's GPU when it has one) that scores whole chunks.

    ``threads``: its torch threads (its CPUs; Ray sets the actor's ``OMP_NUM_THREADS`` to them too). ``env``: the
    oneDNN kernel cache sizes of the local engine (:func:`actor_env`), set before the actor's first torch operation,
    when oneDNN reads them."""

    def __init__(self, predictor: Predictor, batch_size: int, threads: int, env: dict[str, str]):
        for name, value in env.items():
            os.environ.setdefault(name, value)
        torch.set_num_threads(threads)
        predictor.model.to("cuda" if torch.cuda.is_available() else "cpu").eval()
        self.predictor, self.batch_size = predictor, batch_size

    def settings(self) -> dict[str, object]:
        """The thread settings this actor runs with (for tests and benchmarks)."""
        names = ("OMP_NUM_THREADS", *KERNEL_CACHES)
        return {"torch_threads": torch.get_num_threads(), **{name: os.environ.get(name) for name in names}}

    def score(self, chunk: pd.DataFrame) -> pd.DataFrame:
        scored = score_chunk(self.predictor, chunk, self.batch_size)
        release_free_memory()  # as the local engine: the actor's memory stays flat over any number of chunks
        return scored


def actor_env() -> dict[str, str]:
    """The oneDNN kernel cache sizes :func:`gnnpt.runtime.runtime_defaults` gives the local engine (a value set in the
    driver's environment stands). The other settings it makes are moot in an actor of one thread, which never waits
    on another (``OMP_WAIT_POLICY``)."""
    return {cache: os.environ.get(cache, "16") for cache in KERNEL_CACHES}


def ray_scored_chunks(
    chunks: Iterator[pd.DataFrame], predictor: Predictor, batch_size: int, workers: int = 0
) -> Iterator[pd.DataFrame]:
    """Score ``chunks`` on ``workers`` Ray actors (0: one per CPU of the cluster, or per GPU); scored frames come back
    in input order, at most ``WINDOW`` chunks per actor in flight."""
    ray = import_ray()
    started = not ray.is_initialized()
    if started:
        ray.init()
    actors = []
    try:
        resources = ray.cluster_resources()
        cpus, gpus = resources.get("CPU", 1), int(resources.get("GPU", 0))
        count = workers or gpus or max(1, int(cpus))
        # one CPU (and GPU) each, or an equal share when asked for more actors than the cluster has: all of them start
        scorer = ray.remote(ChunkScorer).options(num_cpus=min(1, cpus / count), num_gpus=min(1, gpus / count))
        shipped = ray.put(_cpu_copy(predictor))  # once, not once per actor or chunk
        actors = [scorer.remote(shipped, batch_size, 1, actor_env()) for _ in range(count)]
        in_flight: deque = deque()

        def take() -> pd.DataFrame:
            """The oldest chunk's scores; when its actor died on it (RDKit crashed in the actor), the chunk is
            scored here with parsing contained, so the molecule that crashes is that row's error, and a fresh
            actor takes the dead one's place."""
            slot, actor, chunk, ref = in_flight.popleft()
            try:
                return ray.get(ref)
            except ray.exceptions.RayActorError:
                if actors[slot] is actor:
                    actors[slot] = scorer.remote(shipped, batch_size, 1, actor_env())
                with ContainedFeaturizer() as parser, contained_parsing(parser):
                    return score_chunk(predictor, chunk, batch_size)

        for i, chunk in enumerate(chunks):
            if len(in_flight) >= WINDOW * count:
                yield take()
            slot = i % count
            in_flight.append((slot, actors[slot], chunk, actors[slot].score.remote(chunk)))
        while in_flight:
            yield take()
    finally:
        for actor in actors:
            ray.kill(actor)
        if started:
            ray.shutdown()


def _cpu_copy(predictor: Predictor) -> Predictor:
    """A copy of ``predictor`` with its model on the CPU, to ship to the actors (the precision stays as resolved)."""
    clone = copy.copy(predictor)
    clone.model = copy.deepcopy(predictor.model).cpu()
    return clone
