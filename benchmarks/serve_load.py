"""Bounded load test of the REST service on loopback: throughput and latency percentiles, zero-error check.

Starts ``gnnpt serve`` (one worker, each ``--models`` model in turn as its default) as a child process, then drives
it with an asyncio load generator in this process (uvloop, a minimal keep-alive HTTP/1.1 client per connection):
single-molecule requests at 1, 16 and 64 concurrent
clients, 1000-molecule requests, and a mixed load: one client sending single-molecule requests while another sends
5,000-molecule requests (the small client's p99 is what fair batching must keep low).
Each client sends its next request as soon as the previous answer arrives (closed loop), for ``--seconds`` per level.
Molecules are drawn from MOSES so that requests differ. The server and the load generator share the machine's cores.
Where ``wrk`` is installed (``apt-get install wrk``), the same server is then also driven by it (a C load generator
that takes less CPU from the server) with single-molecule requests (``wrk_predict.lua``) at the same client counts.

    python benchmarks/serve_load.py --seconds 20
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import numpy as np
import orjson
import uvloop

from gnnpt.datasets.corpora import load_corpus


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start(port: int, window_ms: float, model: str) -> subprocess.Popen:
    env = {**os.environ, "GNNPT_API_BATCH_WINDOW_MS": str(window_ms), "GNNPT_API_ADAPTATION_WORKERS": "0"}
    cmd = [str(Path(sys.executable).parent / "gnnpt"), "serve", "--port", str(port), "--model", model]
    proc = subprocess.Popen(cmd,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)  # fmt: skip
    for _ in range(300):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                return proc
        except httpx.TransportError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("the service did not become ready")


class _Connection:
    """One keep-alive HTTP/1.1 connection that POSTs JSON and reads the answer: a minimal client, so that the load
    generator takes as little of the shared cores as it can (httpx spent more CPU per request than the server, and
    its tail latency was its own)."""

    def __init__(self, port: int):
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def post(self, path: str, body: bytes) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        head = (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\n\r\n")  # fmt: skip
        self.writer.write(head.encode() + body)
        status = int((await self.reader.readline()).split()[1])
        length = 0
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        return status, await self.reader.readexactly(length)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


async def _level(port: int, pool: list[str], clients: int, per_request: int, seconds: float) -> dict[str, float]:
    """Closed-loop load: ``clients`` connections each sending ``per_request`` molecules at a time for ``seconds``."""
    latencies: list[float] = []
    errors = 0
    molecules = 0
    stop = time.perf_counter() + seconds

    async def worker(k: int) -> None:
        nonlocal errors, molecules
        connection = _Connection(port)
        i = k * 7919
        while time.perf_counter() < stop:
            body = orjson.dumps({"smiles": [pool[(i + j) % len(pool)] for j in range(per_request)]})
            i += per_request * clients
            start = time.perf_counter()
            try:
                status, answer = await asyncio.wait_for(connection.post("/v1/predict", body), 60)
            except (OSError, ValueError, IndexError, asyncio.IncompleteReadError, TimeoutError):
                errors += 1  # a dropped or broken connection counts as an error; the test goes on on a new one
                connection.close()
                continue
            latencies.append(time.perf_counter() - start)
            if status != 200:
                errors += 1
            elif per_request > 1:
                molecules += sum(r["error"] is None for r in orjson.loads(answer)["results"])
            else:
                molecules += b'"error":null' in answer
        connection.close()

    start = time.perf_counter()
    await asyncio.gather(*(worker(k) for k in range(clients)))
    wall = time.perf_counter() - start
    ms = np.asarray(latencies) * 1000
    return {"requests": len(ms), "req_s": len(ms) / wall, "mol_s": molecules / wall,
            "p50": float(np.percentile(ms, 50)),
            "p99": float(np.percentile(ms, 99)), "errors": errors}  # fmt: skip


_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0}


def _wrk(url: str, connections: int, seconds: float) -> dict[str, float]:
    """One ``wrk`` level: requests, requests/s, p50/p99 (ms), errors (non-2xx answers and socket errors)."""
    script = Path(__file__).with_name("wrk_predict.lua")
    cmd = ["wrk", "-t", str(min(2, connections)), "-c", str(connections), "-d", f"{seconds:g}s", "--latency",
           "-s", str(script), url]  # fmt: skip
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout

    def latency(pct: str) -> float:
        value, unit = re.search(rf"^\s+{pct}%\s+([\d.]+)(us|ms|s)$", out, re.M).groups()
        return float(value) * _UNITS[unit]

    sockets = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = (sum(map(int, sockets.groups())) if sockets else 0) + (int(non_2xx.group(1)) if non_2xx else 0)
    return {"requests": int(re.search(r"(\d+) requests in", out).group(1)),
            "req_s": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
            "p50": latency("50"), "p99": latency("99"), "errors": errors}  # fmt: skip


async def _mixed(port: int, pool: list[str], seconds: float, big: int) -> tuple[dict, dict]:
    """One client of single-molecule requests beside one client of ``big``-molecule requests, at the same time."""
    small, large = await asyncio.gather(_level(port, pool, 1, 1, seconds), _level(port, pool, 1, big, seconds))
    return small, large


run = uvloop.run  # the load generator's event loop: libuv's, as the server's


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=20.0, help="duration of each load level")
    ap.add_argument("--clients", type=int, nargs="+", default=[1, 16, 64])
    ap.add_argument("--batch-window-ms", type=float, default=2.0)
    ap.add_argument("--models", nargs="+", default=["tox21", "tox21-fast"], help="served as the default model")
    ap.add_argument("--mixed-big", type=int, default=5000, help="molecules per big request of the mixed load")
    args = ap.parse_args()
    pool = load_corpus("moses", limit=50_000)["smiles"].tolist()
    print(f"CPU, {os.cpu_count()} cores; gnnpt serve (1 worker, batch window {args.batch_window_ms:g} ms) and the "
          "load generator on the same machine")  # fmt: skip
    print(
        "| model | molecules/request | clients | requests | requests/s | molecules/s | p50 (ms) | p99 (ms) | errors |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    wrk_rows = []
    for model in args.models:
        port = _free_port()
        proc = _start(port, args.batch_window_ms, model)
        url = f"http://127.0.0.1:{port}"
        try:
            run(_level(port, pool, 4, 1, 3.0))  # warm-up
            for per_request, clients in [*((1, c) for c in args.clients), (1000, 1), (1000, 4)]:
                r = run(_level(port, pool, clients, per_request, args.seconds))
                print(f"| {model} | {per_request} | {clients} | {r['requests']:,} | {r['req_s']:,.1f} | "
                      f"{r['mol_s']:,.0f} | {r['p50']:.1f} | {r['p99']:.1f} | {r['errors']} |", flush=True)  # fmt: skip
            small, large = run(_mixed(port, pool, args.seconds, args.mixed_big))
            for label, r in ((f"1, beside {args.mixed_big:,}-molecule requests", small),
                             (f"{args.mixed_big:,}, beside 1-molecule requests", large)):  # fmt: skip
                print(f"| {model} | {label} | 1 | {r['requests']:,} | {r['req_s']:,.1f} | {r['mol_s']:,.0f} | "
                      f"{r['p50']:.1f} | {r['p99']:.1f} | {r['errors']} |", flush=True)  # fmt: skip
            if shutil.which("wrk"):
                for clients in args.clients:
                    r = _wrk(url, clients, args.seconds)
                    wrk_rows.append(f"| {model} | {clients} | {r['requests']:,} | {r['req_s']:,.1f} | "
                                    f"{r['p50']:.1f} | {r['p99']:.1f} | {r['errors']} |")  # fmt: skip
        finally:
            proc.terminate()
            proc.wait(30)
    if wrk_rows:
        print("\nwrk, single-molecule requests (wrk_predict.lua)")
        print("| model | connections | requests | requests/s | p50 (ms) | p99 (ms) | errors |")
        print("|---|---:|---:|---:|---:|---:|---:|")
        print("\n".join(wrk_rows))


if __name__ == "__main__":
    main()
