"""``gnnpt serve`` as a real process: it becomes ready, logs each request as JSON, and a SIGTERM lets the request in
flight finish before the process exits."""

from __future__ import annotations

import json
import signal
import threading
import time

import httpx


def _batches_scored(url: str) -> float:
    for line in httpx.get(f"{url}/metrics", timeout=10).text.splitlines():
        if line.startswith("gnnpt_batch_molecules_count"):
            return float(line.split()[-1])
    return 0.0


def test_sigterm_finishes_the_request_in_flight_and_logs_json(server) -> None:
    proc, url = server
    smiles = [f"C{'C' * (k % 30)}O" for k in range(4000)]
    answer: dict = {}

    def ask() -> None:
        answer["response"] = httpx.post(f"{url}/v1/predict", json={"smiles": smiles}, timeout=60)

    thread = threading.Thread(target=ask)
    thread.start()
    deadline = time.monotonic() + 60
    while not _batches_scored(url):  # its first micro-batch is scored: the request is in flight (4 batches)
        assert time.monotonic() < deadline, "the request was never scored"
        time.sleep(0.02)
    proc.send_signal(signal.SIGTERM)
    thread.join(60)
    response = answer["response"]
    assert response.status_code == 200
    results = response.json()["results"]
    assert len(results) == len(smiles) and all(r["error"] is None for r in results)
    assert proc.wait(30) in (0, -signal.SIGTERM)  # uvicorn re-raises the signal once it has shut down
    lines = [json.loads(line) for line in proc.stdout.read().splitlines() if line.startswith("{")]
    access = [line["access"] for line in lines if line["access"]["route"] == "/v1/predict"]
    assert access and access[-1]["status"] == 200 and access[-1]["molecules"] == len(smiles)
    assert {"request_id", "ms", "method", "path"} <= set(access[-1])
