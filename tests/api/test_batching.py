"""The micro-batcher on its own: batching, splitting results back, failures, timeouts, draining on close."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from gnnpt.api.batching import MicroBatcher


def echo(calls: list[list[str]]):
    def score(smiles: list[str]) -> list[tuple[str, int]]:
        calls.append(list(smiles))
        time.sleep(0.01)
        return [(s, len(s)) for s in smiles]

    return score


def run(coro):
    return asyncio.run(coro)


def test_requests_arriving_together_share_a_batch_and_get_their_own_rows() -> None:
    calls: list[list[str]] = []

    async def main():
        batcher = MicroBatcher(echo(calls), window_s=0.05, max_molecules=100)
        batcher.start()
        requests = [[f"{'C' * k}", f"{'O' * (k + 1)}"] for k in range(1, 11)]
        frames = await asyncio.gather(*(batcher.submit(r) for r in requests))
        await batcher.close()
        return requests, frames

    requests, frames = run(main())
    for request, rows in zip(requests, frames, strict=True):
        assert rows == [(s, len(s)) for s in request]
    assert len(calls) == 1 and len(calls[0]) == 20


def test_a_lone_request_does_not_wait_for_the_window_but_requests_under_load_do() -> None:
    calls: list[list[str]] = []

    async def main():
        batcher = MicroBatcher(echo(calls), window_s=30.0, max_molecules=2)  # a full batch stops waiting
        batcher.start()
        alone = await asyncio.wait_for(batcher.submit(["C"]), 5)  # would take 30 s if it waited
        together = await asyncio.gather(batcher.submit(["N"]), batcher.submit(["O"]))  # a batch of two
        follower = asyncio.create_task(batcher.submit(["S"]))  # after a batch of two: the window is open...
        await asyncio.sleep(0.2)
        late = asyncio.create_task(batcher.submit(["P"]))  # ...so a request 0.2 s later joins the same batch
        rows = await asyncio.wait_for(asyncio.gather(follower, late), 60)
        await batcher.close()
        return alone, together, rows

    alone, together, rows = run(main())
    assert alone == [("C", 1)] and together == [[("N", 1)], [("O", 1)]] and rows == [[("S", 1)], [("P", 1)]]
    assert calls == [["C"], ["N", "O"], ["S", "P"]]


def test_a_batch_stops_growing_at_max_molecules() -> None:
    calls: list[list[str]] = []

    async def main():
        batcher = MicroBatcher(echo(calls), window_s=0.05, max_molecules=4)
        batcher.start()
        await asyncio.gather(*(batcher.submit(["C", "CC"]) for _ in range(4)))
        await batcher.close()

    run(main())
    assert [len(c) for c in calls] == [4, 4]


def test_a_failing_batch_fails_its_requests_and_the_batcher_keeps_serving() -> None:
    def score(smiles: list[str]) -> list[str]:
        if "boom" in smiles:
            raise RuntimeError("model exploded")
        return list(smiles)

    async def main():
        batcher = MicroBatcher(score, window_s=0.0)
        batcher.start()
        with pytest.raises(RuntimeError, match="exploded"):
            await batcher.submit(["boom"])
        frame = await batcher.submit(["CCO"])
        await batcher.close()
        return frame

    assert run(main()) == ["CCO"]


def test_close_finishes_queued_requests_and_a_timed_out_request_is_skipped() -> None:
    calls: list[list[str]] = []
    gate = threading.Event()

    def slow(smiles: list[str]) -> list[str]:
        calls.append(list(smiles))
        gate.wait(2)
        return list(smiles)

    async def main():
        batcher = MicroBatcher(slow, window_s=0.0)
        batcher.start()
        first = asyncio.create_task(batcher.submit(["first"]))
        await asyncio.sleep(0.05)  # "first" is being scored
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(batcher.submit(["gave up"]), 0.01)
        queued = asyncio.create_task(batcher.submit(["queued"]))
        await asyncio.sleep(0.01)
        closing = asyncio.create_task(batcher.close())
        gate.set()
        await closing
        return await first, await queued

    first, queued = run(main())
    assert first == ["first"] and queued == ["queued"]
    assert ["gave up"] not in calls


def test_submit_before_start_is_an_error() -> None:
    async def main():
        await MicroBatcher(echo([])).submit(["C"])

    with pytest.raises(RuntimeError, match="not running"):
        run(main())
