"""The micro-batcher on its own: batching, splitting results back, failures, timeouts, draining on close."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from gnnpt.api.batching import BIG_REQUEST, MicroBatcher, off_loop


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


def test_a_small_request_is_not_starved_by_a_big_one_and_a_timed_out_request_stops_scoring() -> None:
    """Issue 16, item 2: the big request is cut into pieces; the small one shares the next batch with one piece of
    it, and a big request whose caller gave up has its remaining pieces dropped."""
    calls: list[list[str]] = []

    async def main():
        batcher = MicroBatcher(echo(calls), window_s=0.0, max_atoms=40, piece_atoms=20)
        batcher.start()
        big = asyncio.create_task(batcher.submit(["CCCCC"] * 100))  # 500 atoms: 25 pieces of 20
        while not calls:  # the first batch of the big request is being scored
            await asyncio.sleep(0.001)
        small = await asyncio.wait_for(batcher.submit(["O"]), 5)
        batches_before_small_returned = len(calls)
        rows = await big
        done_big = len(calls)
        doomed = asyncio.create_task(batcher.submit(["N" * 10] * 100))  # 1,000 atoms: 50 batches
        while len(calls) == done_big:  # wait until its first batch is being scored
            await asyncio.sleep(0.001)
        doomed.cancel()
        scored_when_cancelled = len(calls)
        await batcher.close()
        return small, batches_before_small_returned, rows, scored_when_cancelled

    small, before_small, rows, when_cancelled = run(main())
    assert small == [("O", 1)] and before_small <= 3  # not after the big request's 13 batches
    assert rows == [("CCCCC", 5)] * 100 and any(sorted(call) == ["CCCCC"] * 4 + ["O"] for call in calls)
    assert all(sum(len(s) for s in call) <= 45 for call in calls)  # no batch over the atom budget (+1 small)
    assert len(calls) <= when_cancelled + 1  # at most the batch in flight ran after the cancel


def test_a_big_requests_bookkeeping_runs_off_the_event_loop_and_a_small_ones_on_it() -> None:
    """A 5,000-molecule request's atom counts, estimate and result rows held the event loop ~0.3 s, during which no
    one-molecule request was answered."""

    async def threads() -> tuple[int, int, int]:
        return (
            threading.get_ident(),
            await off_loop(1, threading.get_ident),
            await off_loop(BIG_REQUEST + 1, threading.get_ident),
        )

    loop_thread, small, big = asyncio.run(threads())
    assert small == loop_thread and big != loop_thread
