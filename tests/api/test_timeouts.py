"""``gnnpt serve`` closes slow and idle connections (issue 16, item 12): a late head or body gets 408, an idle
connection is closed, an oversized head gets 431. Each test waits for the server's answer or close with a deadline."""

from __future__ import annotations

import select
import socket
import time

import pytest

from tests.api.conftest import free_port, start_server

HEADER_S, BODY_S, KEEP_ALIVE_S = 1.0, 2.0, 2
DEADLINE_S = 15.0  # far above every timeout: a server that does not close the connection fails, a slow one passes
PREDICT = b"POST /v1/predict HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"


@pytest.fixture(scope="module")
def address():
    port = free_port()
    with pytest.MonkeyPatch.context() as env:
        env.setenv("GNNPT_API_HEADER_TIMEOUT_S", str(HEADER_S))
        env.setenv("GNNPT_API_BODY_TIMEOUT_S", str(BODY_S))
        env.setenv("GNNPT_API_KEEP_ALIVE_TIMEOUT_S", str(KEEP_ALIVE_S))
        proc = start_server(port)
    yield ("127.0.0.1", port)
    proc.kill()
    proc.wait()


def until_closed(sock: socket.socket, trickle: bytes = b"") -> tuple[bytes, float]:
    """Everything the server sends until it closes the connection, and the seconds that took; ``trickle`` is sent
    a byte at a time meanwhile (every 0.2 s). Fails if the connection is still open after :data:`DEADLINE_S`."""
    start, received = time.monotonic(), b""
    while time.monotonic() - start < DEADLINE_S:
        if select.select([sock], [], [], 0.2)[0]:
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:
                chunk = b""
            if not chunk:
                return received, time.monotonic() - start
            received += chunk
        elif trickle:
            sock.sendall(trickle[:1])
            trickle = trickle[1:]
    pytest.fail(f"the connection was still open after {DEADLINE_S} s; received {received[:200]!r}")


def test_a_head_that_stalls_gets_408_and_the_connection_closed(address) -> None:
    with socket.create_connection(address) as sock:
        sock.sendall(PREDICT)  # the headers never end
        received, _ = until_closed(sock)
    assert received.startswith(b"HTTP/1.1 408 ") and b"headers did not arrive within 1 s" in received


def test_a_connection_that_sends_nothing_is_closed(address) -> None:
    with socket.create_connection(address) as sock:
        received, seconds = until_closed(sock)
    assert received == b"" and seconds >= HEADER_S * 0.9


def test_a_body_that_stalls_gets_408_and_the_connection_closed(address) -> None:
    with socket.create_connection(address) as sock:
        sock.sendall(PREDICT + b'Content-Length: 100\r\n\r\n{"smiles": ')  # 11 of 100 bytes, then nothing
        received, _ = until_closed(sock)
    assert received.startswith(b"HTTP/1.1 408 ") and b"did not arrive within 2 s of its headers" in received


def test_a_trickled_body_gets_408_at_its_deadline(address) -> None:
    """A byte every 0.2 s never lets the connection idle, yet the whole body must arrive within its deadline."""
    with socket.create_connection(address) as sock:
        sock.sendall(PREDICT + b"Content-Length: 200\r\n\r\n")
        received, _ = until_closed(sock, trickle=b"x" * 200)
    assert received.startswith(b"HTTP/1.1 408 ")


def test_the_rest_of_a_refused_body_cannot_trickle_forever(address) -> None:
    """413 on the declared length, before the body is read; then the client keeps sending it a byte at a time."""
    with socket.create_connection(address) as sock:
        sock.sendall(PREDICT + b"Content-Length: 3000000\r\n\r\n")
        received, _ = until_closed(sock, trickle=b"x" * 200)
    assert received.startswith(b"HTTP/1.1 413 ")


def test_an_idle_kept_alive_connection_is_closed_after_the_keep_alive_timeout(address) -> None:
    with socket.create_connection(address) as sock:
        for _ in range(2):  # the connection is kept alive between requests
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
            answer = b""
            while not answer.endswith(b'{"status":"ok"}'):
                assert select.select([sock], [], [], DEADLINE_S)[0], "no answer"
                answer += sock.recv(65536)
            assert answer.startswith(b"HTTP/1.1 200 ")
        received, seconds = until_closed(sock)
    assert received == b"" and seconds >= KEEP_ALIVE_S * 0.9


def test_a_head_over_64_kib_gets_431(address) -> None:
    with socket.create_connection(address) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: t\r\nX-Padding: " + b"a" * 100_000 + b"\r\n\r\n")
        received, _ = until_closed(sock)
    assert received.startswith(b"HTTP/1.1 431 ")
