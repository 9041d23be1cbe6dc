"""A real ``gnnpt serve`` process on a free loopback port, for the server and browser tests."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

SERVER_ENV = {"GNNPT_API_MAX_MOLECULES": "5000", "GNNPT_API_ADAPTATION_WORKERS": "0"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(port: int, *extra: str) -> subprocess.Popen:
    gnnpt = Path(sys.executable).parent / "gnnpt"
    proc = subprocess.Popen([str(gnnpt), "serve", "--port", str(port), *extra], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True,
                            env={**os.environ, **SERVER_ENV})  # fmt: skip
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                return proc
        except httpx.TransportError:
            pass
        if proc.poll() is not None:
            raise RuntimeError(f"gnnpt serve exited: {proc.stderr.read()}")
        time.sleep(0.2)
    proc.kill()
    raise RuntimeError("gnnpt serve did not become ready in 60 s")


@pytest.fixture()
def server():
    port = free_port()
    proc = start_server(port)
    yield proc, f"http://127.0.0.1:{port}"
    if proc.poll() is None:
        proc.kill()
        proc.wait()
