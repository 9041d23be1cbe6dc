"""Dynamic micro-batching: requests arriving together are scored as one batch, off the event loop.

The first request of a batch waits up to ``window_s`` for others to join (until ``max_molecules`` are queued) while
requests come in together (the previous batch held several); a request arriving alone is scored at once, so a lone
client pays no window. The batch is featurized and scored in a single worker thread (so batches never compete for
the CPU), and each request gets back exactly its own rows. Under load the service then runs near the model's batch
rate instead of paying a forward pass per request.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

# a list of SMILES -> rows in the same order, as anything that slices by rows (a list, ScoredMolecules)
Scorer = Callable[[list[str]], Any]
T = TypeVar("T")


@dataclass
class _Job:
    smiles: list[str]
    future: asyncio.Future


class MicroBatcher:
    """Collects :meth:`submit` calls into batches for ``score`` (a list of SMILES -> one row per SMILES, in order, as
    anything that ``result[start:stop]`` slices by rows)."""

    def __init__(
        self,
        score: Scorer,
        window_s: float = 0.002,
        max_molecules: int = 1024,
        on_batch: Callable[[int], None] | None = None,
    ):
        self.score, self.window_s, self.max_molecules, self.on_batch = score, window_s, max_molecules, on_batch
        self._queue: asyncio.Queue[_Job | None] = asyncio.Queue()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="gnnpt-scorer")
        self._task: asyncio.Task | None = None
        self.batches = 0  # batches scored, for tests and metrics
        self._together = False  # the last batch held several requests: wait the window for the next one to fill

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def submit(self, smiles: list[str]) -> Any:
        """The scores of ``smiles`` (one row each, in order), scored together with whatever arrives meanwhile."""
        if self._task is None:
            raise RuntimeError("the batcher is not running (start() it inside the event loop)")
        job = _Job(list(smiles), asyncio.get_running_loop().create_future())
        await self._queue.put(job)
        return await job.future

    async def call(self, fn: Callable[..., T], *args: object) -> T:
        """Run ``fn(*args)`` in the scoring thread, between batches: for work that must not overlap a forward pass
        of the same model (attributions hook into it)."""
        return await asyncio.get_running_loop().run_in_executor(self._executor, functools.partial(fn, *args))

    async def close(self) -> None:
        """Finish every queued request, then stop (graceful shutdown)."""
        if self._task is not None:
            await self._queue.put(None)
            await self._task
            self._task = None
        self._executor.shutdown(wait=True)

    async def _collect(self, first: _Job) -> tuple[list[_Job], bool]:
        """``first`` and the jobs that join it within the window; True when the stop marker was met."""
        jobs, size = [first], len(first.smiles)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + (self.window_s if self._together else 0.0)
        while size < self.max_molecules:
            try:
                job = self._queue.get_nowait()
            except asyncio.QueueEmpty:
                remaining = deadline - loop.time()
                if remaining <= 0:
                    break
                try:
                    job = await asyncio.wait_for(self._queue.get(), remaining)
                except TimeoutError:
                    break
            if job is None:
                return jobs, True
            jobs.append(job)
            size += len(job.smiles)
        return jobs, False

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        stopping = False
        while not (stopping and self._queue.empty()):  # after the stop marker, requests queued behind it still run
            first = await self._queue.get()
            if first is None:
                stopping = True
                continue
            jobs, stop_seen = await self._collect(first)
            stopping = stopping or stop_seen
            self._together = len(jobs) > 1
            jobs = [j for j in jobs if not j.future.done()]  # a request that timed out meanwhile
            if jobs:
                await self._score(loop, jobs)

    async def _score(self, loop: asyncio.AbstractEventLoop, jobs: list[_Job]) -> None:
        smiles = [s for j in jobs for s in j.smiles]
        if self.on_batch is not None:
            self.on_batch(len(smiles))
        try:
            rows = await loop.run_in_executor(self._executor, self.score, smiles)
        except Exception as exc:  # every waiting request learns why; the batcher keeps serving
            for j in jobs:
                if not j.future.done():
                    j.future.set_exception(exc)
            return
        self.batches += 1
        start = 0
        for j in jobs:
            part = rows[start : start + len(j.smiles)]
            start += len(j.smiles)
            if not j.future.done():
                j.future.set_result(part)
