"""Dynamic micro-batching with fair shares: requests arriving together are scored as one batch, off the event loop,
and a big request never holds the scorer for long.

Each request is cut into pieces of at most ``piece_atoms`` heavy atoms (counted from the SMILES text, without
parsing). While several requests wait, a batch takes one piece of each in turn (round-robin, within ``max_atoms``
atoms and ``max_molecules`` molecules); a request waiting alone fills the batch. So a one-molecule request that
arrives while a 5,000-molecule request is being scored waits for the batch in flight, then shares the next with one
piece of the big one, instead of waiting for all of it. A request whose caller gave up (timeout, disconnect) has its
remaining pieces dropped. The first request of a batch waits up to ``window_s`` for others to join while requests
come in together (the previous batch held several); a request arriving alone is scored at once. Batches are
featurized and scored in a single worker thread, so they never compete for the CPU, and each request gets back
exactly its own rows, in order.
"""

from __future__ import annotations

import asyncio
import functools
import itertools
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

from gnnpt.featurization.atom_count import heavy_atoms

# a list of SMILES -> rows in the same order, as anything that slices by rows (a list, ScoredMolecules)
Scorer = Callable[[list[str]], Any]
T = TypeVar("T")
BIG_REQUEST = 256  # molecules: past it, a request's own bookkeeping runs in a worker thread (see off_loop)


async def off_loop(molecules: int, fn: Callable[[], T]) -> T:
    """``fn()``, in a worker thread where it handles more than :data:`BIG_REQUEST` molecules (counting atoms,
    estimating, building result rows, JSON), so that the event loop answers small requests meanwhile: a 5,000-molecule
    request's bookkeeping held it about 0.3 s. Small requests skip the thread hop."""
    return await asyncio.to_thread(fn) if molecules > BIG_REQUEST else fn()


def _concat_lists(parts: Sequence[list]) -> list:
    return [row for part in parts for row in part]


@dataclass
class _Piece:
    smiles: list[str]
    atoms: int
    future: asyncio.Future


class MicroBatcher:
    """Collects :meth:`submit` calls into fair batches for ``score`` (a list of SMILES -> one row per SMILES, in
    order, as anything that ``result[start:stop]`` slices by rows); ``concat`` joins a request's pieces back."""

    def __init__(
        self,
        score: Scorer,
        window_s: float = 0.002,
        max_molecules: int = 1024,
        on_batch: Callable[[int], None] | None = None,
        concat: Callable[[Sequence[Any]], Any] = _concat_lists,
        max_atoms: int = 1_024,
        piece_atoms: int = 1_024,
    ):
        self.score, self.window_s, self.max_molecules, self.on_batch = score, window_s, max_molecules, on_batch
        self.concat, self.max_atoms, self.piece_atoms = concat, max_atoms, min(piece_atoms, max_atoms)
        self._requests: deque[deque[_Piece]] = deque()  # waiting requests, each its pieces in order
        self._arrived = asyncio.Event()
        self._stopping = False
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="gnnpt-scorer")
        self._task: asyncio.Task | None = None
        self.batches = 0  # batches scored, for tests and metrics
        self._together = False  # the last batch held several requests: wait the window for the next one to fill

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run())

    def _pieces(self, smiles: list[str], sizes: Sequence[int]) -> list[_Piece]:
        loop = asyncio.get_running_loop()
        pieces: list[_Piece] = []
        start, atoms = 0, 0
        for i, size in enumerate(sizes):
            n = max(size, 1)
            if i > start and (atoms + n > self.piece_atoms or i - start >= self.max_molecules):
                pieces.append(_Piece(smiles[start:i], atoms, loop.create_future()))
                start, atoms = i, 0
            atoms += n
        pieces.append(_Piece(smiles[start:], atoms, loop.create_future()))
        return pieces

    async def submit(self, smiles: list[str], atoms: Sequence[int] | None = None) -> Any:
        """The scores of ``smiles`` (one row each, in order), scored in fair turns with whatever arrives meanwhile.
        ``atoms``: each molecule's heavy atoms, which size the pieces (counted here when not given). Cancelling the
        call (a timeout) drops the pieces not yet scored."""
        if self._task is None or self._stopping:
            raise RuntimeError("the batcher is not running (start() it inside the event loop)")
        smiles = list(smiles)
        pieces = self._pieces(smiles, [heavy_atoms(s) for s in smiles] if atoms is None else atoms)
        self._requests.append(deque(pieces))
        self._arrived.set()
        try:
            parts = [await piece.future for piece in pieces]
        except asyncio.CancelledError:
            for piece in pieces:
                piece.future.cancel()
            raise
        return parts[0] if len(parts) == 1 else self.concat(parts)

    async def call(self, fn: Callable[..., T], *args: object) -> T:
        """Run ``fn(*args)`` in the scoring thread, between batches: for work that must not overlap a forward pass
        of the same model (attributions hook into it)."""
        return await asyncio.get_running_loop().run_in_executor(self._executor, functools.partial(fn, *args))

    async def close(self) -> None:
        """Finish every queued request, then stop (graceful shutdown)."""
        if self._task is not None:
            self._stopping = True
            self._arrived.set()
            await self._task
            self._task = None
        self._executor.shutdown(wait=True)

    async def _fill(self, deadline: float) -> None:
        """Wait until ``deadline`` for more requests, or until those waiting would fill a batch."""
        loop = asyncio.get_running_loop()
        while not self._stopping and (remaining := deadline - loop.time()) > 0:
            waiting = [p for r in self._requests for p in r]
            if (sum(p.atoms for p in waiting) >= self.max_atoms
                    or sum(len(p.smiles) for p in waiting) >= self.max_molecules):  # fmt: skip
                return
            self._arrived.clear()
            try:
                await asyncio.wait_for(self._arrived.wait(), remaining)
            except TimeoutError:
                return

    def _take(self) -> tuple[list[_Piece], bool]:
        """The next batch, and whether it serves several requests: the next piece of each waiting request in turn,
        within the limits; a request waiting alone gives as many pieces as fit."""
        for request in self._requests:
            while request and request[0].future.done():  # its caller gave up: drop what is left of it
                request.popleft()
        self._requests = deque(r for r in self._requests if r)
        waiting = len(self._requests)
        batch: list[_Piece] = []
        atoms = molecules = served = 0
        while self._requests and (served < waiting or waiting == 1):
            piece = self._requests[0][0]
            if batch and (atoms + piece.atoms > self.max_atoms or molecules + len(piece.smiles) > self.max_molecules):
                break
            self._requests[0].popleft()
            batch.append(piece)
            atoms, molecules, served = atoms + piece.atoms, molecules + len(piece.smiles), served + 1
            if not self._requests[0]:
                self._requests.popleft()
            else:
                self._requests.rotate(-1)  # the next request's turn
        return batch, waiting > 1

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            if not self._requests:
                if self._stopping:
                    return
                self._arrived.clear()
                await self._arrived.wait()
                if self._together:  # requests come in together: let this batch fill, for the window at most
                    await self._fill(loop.time() + self.window_s)
            batch, several = self._take()
            if batch:
                self._together = several
                await self._score(loop, batch)

    async def _score(self, loop: asyncio.AbstractEventLoop, batch: list[_Piece]) -> None:
        smiles = list(itertools.chain.from_iterable(p.smiles for p in batch))
        if self.on_batch is not None:
            self.on_batch(len(smiles))
        try:
            rows = await loop.run_in_executor(self._executor, self.score, smiles)
        except Exception as exc:  # every waiting request learns why; the batcher keeps serving
            for p in batch:
                if not p.future.done():
                    p.future.set_exception(exc)
            return
        self.batches += 1
        start = 0
        for p in batch:
            part = rows[start : start + len(p.smiles)]
            start += len(p.smiles)
            if not p.future.done():
                p.future.set_result(part)
